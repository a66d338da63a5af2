"""SMS over SMPP 3.4: the ``sms`` channel's ``smpp`` provider.

The shape differs from the HTTP platforms', within the same contract:

- ``build_request`` is pure, as everywhere: it encodes the text (GSM-7 or UCS-2, split into
  parts with a concatenation header, see :mod:`chatgate.channels.sms_smpp_text`) and makes
  one set of ``submit_sm`` fields per part. The :class:`ProviderRequest` carries them as
  JSON (``short_message`` in hex) under ``url = "smpp://host:port"`` and method
  ``submit_sm``; nothing goes over HTTP.
- ``send`` ignores the injected HTTP client: it hands the parts to the connection's session
  (:mod:`chatgate.channels.sms_smpp_pool`, one bound session per connection in the process)
  and waits for every ``submit_sm_resp``. The message's platform id is its parts' message
  ids, joined by commas, so that each part's receipt finds it.
- Receipts and users' messages are not webhooks: they arrive as ``deliver_sm`` on the
  session and go to the pool's event sink. ``verify`` refuses every HTTP webhook (an SMSC
  sends none), and ``parse`` is never reached.

Errors: ``ESME_RTHROTTLED`` (0x58) and ``ESME_RMSGQFUL`` (0x14) are retried by the session
itself a few times, then raised as retryable; an invalid destination (0x0B) and the other
refusals of the message itself are permanent; system errors and a lost or unbound session
are retryable; a bind refused for its credentials fails the send for good (code
``bind_failed``) until the connection's credentials change, and so does a send that
reaches the session after its connection was removed (``channel_not_configured``).

SMPP 3.4 has no deduplication (``user_message_reference`` is a reference the SMSC hands
back, not a key it drops repeats by): a submit whose ``submit_sm_resp`` was lost with the
connection is submitted again, and can reach the user twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from smpplib import consts

from chatgate.channels.base import (
    ChannelAdapter,
    Destination,
    OutboundMessage,
    ProviderError,
    ProviderRequest,
    SendResult,
    UnsupportedContent,
)
from chatgate.channels.sms_smpp_inbound import STATUS_MAP
from chatgate.channels.sms_smpp_pool import ConnectionRemoved, SessionPool, session_pool
from chatgate.channels.sms_smpp_session import (
    BindRefused,
    HostRefused,
    SessionConfig,
    SessionError,
    SubmitRefused,
)
from chatgate.channels.sms_smpp_text import TooLong, encode_text
from chatgate.domain import capabilities as cap
from chatgate.domain.channels import ChannelType
from chatgate.domain.pacing import DEFAULT_PACE
from chatgate.domain.status import Status

CHANNEL = "sms"
_DEFAULT_PACE = DEFAULT_PACE[ChannelType.SMS].sender
_DEFAULT_TPS = _DEFAULT_PACE.amount / _DEFAULT_PACE.seconds if _DEFAULT_PACE else None
REGISTERED_DELIVERY = 1  # a receipt on success and on failure

# Refusals worth another try later: the SMSC is busy or failing, not refusing the message.
RETRYABLE_STATUSES = frozenset(
    {
        consts.SMPP_ESME_RTHROTTLED,
        consts.SMPP_ESME_RMSGQFUL,
        consts.SMPP_ESME_RSYSERR,
        consts.SMPP_ESME_RINVBNDSTS,
        0x64,  # ESME_RX_T_APPN: temporary application error
    }
)
STATUS_NAMES: Mapping[int, str] = {
    consts.SMPP_ESME_RINVMSGLEN: "invalid_message_length",
    consts.SMPP_ESME_RSYSERR: "system_error",
    consts.SMPP_ESME_RINVSRCADR: "invalid_source_address",
    consts.SMPP_ESME_RINVDSTADR: "invalid_recipient",
    consts.SMPP_ESME_RMSGQFUL: "queue_full",
    consts.SMPP_ESME_RSUBMITFAIL: "submit_failed",
    consts.SMPP_ESME_RTHROTTLED: "throttled",
}


class SmppCredentials(BaseModel):
    """An SMSC account: where the SMSC listens, the bind's identity, our sender address."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    provider: Literal["smpp"] = "smpp"
    host: str = Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.\-:\[\]]+$")
    port: int = Field(default=2775, ge=1, le=65535)
    system_id: str = Field(min_length=1, max_length=15, description="the bind's system_id")
    password: SecretStr = Field(description="the bind's password (at most 8 characters)")
    source_addr: str = Field(
        min_length=1,
        max_length=20,
        pattern=r"^\+?[A-Za-z0-9 ]+$",
        description="the sender: an E.164 number, a short code or an alphanumeric name",
    )


def source_address(source: str) -> tuple[int, int, str]:
    """``(ton, npi, addr)`` of a sender: international number, short code, or a name."""
    digits = source.removeprefix("+")
    if digits.isdigit() and (source.startswith("+") or len(digits) > 6):
        return 1, 1, digits  # international, E.164
    if digits.isdigit():
        return 3, 0, digits  # network-specific: a short code
    return 5, 0, source[:11]  # alphanumeric (at most 11 characters on the air)


def _reference(message_id: str) -> int:
    # Stable per message, so that a retried send carries the same concatenation reference.
    return hashlib.sha256(message_id.encode("utf-8")).digest()[0]


def build_parts(message: OutboundMessage, source: str) -> list[dict[str, Any]]:
    """The ``submit_sm`` fields of each part of ``message`` (``short_message`` as bytes)."""
    missing = cap.missing_features(
        message.content, SmppAdapter.capabilities, reply_to=message.reply_to is not None
    )
    if missing:
        raise UnsupportedContent(CHANNEL, missing[0])
    try:
        encoded = encode_text(str(message.content["text"]), _reference(message.id))
    except TooLong:
        raise UnsupportedContent(CHANNEL, "text longer than 255 parts") from None
    ton, npi, addr = source_address(source)
    return [
        {
            "service_type": "",
            "source_addr_ton": ton,
            "source_addr_npi": npi,
            "source_addr": addr,
            "dest_addr_ton": 1,
            "dest_addr_npi": 1,
            "destination_addr": message.recipient.removeprefix("+"),
            "esm_class": encoded.esm_class,
            "protocol_id": 0,
            "priority_flag": 0,
            "schedule_delivery_time": "",
            "validity_period": "",
            "registered_delivery": REGISTERED_DELIVERY,
            "replace_if_present_flag": 0,
            "data_coding": encoded.data_coding,
            "sm_default_msg_id": 0,
            "short_message": part,
        }
        for part in encoded.parts
    ]


def _as_json(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v.hex() if isinstance(v, bytes) else v for k, v in fields.items()}


def _from_json(fields: Mapping[str, Any]) -> dict[str, Any]:
    found = dict(fields)
    found["short_message"] = bytes.fromhex(found["short_message"])
    return found


def submit_error(refused: SubmitRefused) -> ProviderError:
    """A refused ``submit_sm`` as a classified :class:`ProviderError`."""
    status = refused.status
    code = STATUS_NAMES.get(status, f"smpp_0x{status:02x}")
    return ProviderError(
        code,
        f"the SMSC refused the message: {consts.DESCRIPTIONS.get(status, 'unknown error')} "
        f"(0x{status:02x})",
        retryable=status in RETRYABLE_STATUSES,
    )


class SmppAdapter(ChannelAdapter[SmppCredentials]):
    """One SMSC account, bound as a transceiver."""

    name = CHANNEL
    credentials_model = SmppCredentials
    capabilities = frozenset({cap.TEXT})
    # Receipts' stat words (see chatgate.channels.sms_smpp_inbound).
    status_map: ClassVar[Mapping[str, Status]] = STATUS_MAP
    # How the sessions behave apart from the connection's own facts (tests shorten them).
    session_defaults: ClassVar[SessionConfig] = SessionConfig(
        host="", port=0, system_id="", password=""
    )
    # Where sessions live: the process's pool (tests give an adapter a pool of its own).
    pool: SessionPool | None = None

    @property
    def session_config(self) -> SessionConfig:
        """This connection's session: its SMSC and bind, its TPS, the defaults' rest."""
        credentials = self.credentials
        defaults = type(self).session_defaults
        return SessionConfig(
            host=credentials.host,
            port=credentials.port,
            system_id=credentials.system_id,
            password=credentials.password.get_secret_value(),
            system_type=defaults.system_type,
            enquire_link_seconds=defaults.enquire_link_seconds,
            response_seconds=defaults.response_seconds,
            connect_seconds=defaults.connect_seconds,
            window=defaults.window,
            # submit_sm per second: the connection's rate, else the SMS channel's default.
            tps=self.settings.rate_per_second or defaults.tps or _DEFAULT_TPS,
            reconnect_base=defaults.reconnect_base,
            reconnect_cap=defaults.reconnect_cap,
            throttle_base=defaults.throttle_base,
            throttle_cap=defaults.throttle_cap,
            throttle_tries=defaults.throttle_tries,
            bind_wait_seconds=defaults.bind_wait_seconds,
            network=self.network,
        )

    def destinations(self) -> list[Destination]:
        """The SMSC (and ``api_base``, though SMPP makes no HTTP call)."""
        smsc = Destination("credentials.host", self.credentials.host, self.credentials.port)
        return [*super().destinations(), smsc]

    def build_request(self, message: OutboundMessage) -> ProviderRequest:
        """The message's ``submit_sm`` parts (pure: nothing is sent)."""
        parts = build_parts(message, self.credentials.source_addr)
        credentials = self.credentials
        return ProviderRequest(
            method="submit_sm",
            url=f"smpp://{credentials.host}:{credentials.port}",
            json={"parts": [_as_json(part) for part in parts]},
        )

    async def send(self, request: ProviderRequest, http: httpx.AsyncClient) -> SendResult:
        """Submit every part on the connection's session; the parts' ids, joined."""
        pool = self.pool or session_pool()
        parts = [_from_json(part) for part in request.json["parts"]]
        connection = self.connection_id or f"{self.credentials.host}:{self.credentials.system_id}"
        try:
            provider_id = await pool.submit_message(connection, self.session_config, parts)
        except SubmitRefused as refused:
            raise submit_error(refused) from None
        except BindRefused as refused:
            raise ProviderError(
                "bind_failed",
                f"the SMSC refused the bind (0x{refused.status:02x}): check system_id and password",
                retryable=False,
            ) from None
        except HostRefused as refused:
            raise ProviderError("address_refused", str(refused), retryable=False) from None
        except ConnectionRemoved:
            raise ProviderError(
                "channel_not_configured", "the sms channel was removed", retryable=False
            ) from None
        except (SessionError, OSError) as exc:
            raise ProviderError(
                "network_error", str(exc) or type(exc).__name__, retryable=True
            ) from None
        return SendResult(provider_message_id=provider_id)
