"""The Viber REST Bot API channel.

- Send: ``POST {api_base}/pa/send_message`` with the bot's token in ``X-Viber-Auth-Token``
  and a JSON body (built by :mod:`chatgate.channels.viber_build`). Viber answers HTTP 200
  even when it refuses: ``{"status": 0, "status_message": "ok", "message_token"}`` names
  the sent message, a non-zero ``status`` is an error classified by :data:`ERRORS` (its
  number is kept as the error's code, ``status_message`` as its message).
- Statuses come later as ``delivered``, ``seen`` (read) and ``failed`` callbacks naming the
  ``message_token``; a message Viber accepted and its client then refused (a keyboard it
  cannot show...) is reported by ``failed``.
- Callbacks are signed: ``X-Viber-Content-Signature`` is the hex HMAC-SHA256 of the raw
  body keyed with the auth token. They are read by :mod:`chatgate.channels.viber_parse`.
- ``set_webhook`` is an API call, so :meth:`ViberAdapter.register_webhook` points the bot's
  one webhook at the connection (Viber checks it first with a signed ``webhook`` callback).
- Inbound media come as a ``media`` URL on Viber's hosts, downloaded without a token.
- ``send_message`` takes no deduplication key (``tracking_data`` is only echoed back in the
  user's answers): a try repeated after a lost answer can reach the user twice.

Viber lets a bot write only to users who subscribed (a user's first message subscribes
them): the gateway refuses a first message with 409 (``CHANNEL_RULES``), and Viber's own
refusal (status 6, ``receiverNotSubscribed``, once a user unsubscribed) fails the message.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from chatgate.channels.base import (
    ChannelAdapter,
    InboundEvent,
    MediaInfo,
    MediaSink,
    OutboundMessage,
    ProviderError,
    ProviderRequest,
    RawRequest,
    SendResult,
    SignatureError,
    error_from_status,
    error_from_transport,
    media_limit,
)
from chatgate.channels.media_stream import refused_with, stream_download
from chatgate.channels.viber_build import DEFAULT_SENDER_NAME, build_body
from chatgate.channels.viber_parse import parse_callback
from chatgate.domain import capabilities as cap
from chatgate.domain.json_body import load_json
from chatgate.domain.status import Status

AUTH_HEADER = "X-Viber-Auth-Token"
SIGNATURE_HEADER = "x-viber-content-signature"
# Files users send are at most 50 MB.
MAX_MEDIA_BYTES = 50 * 1024 * 1024
# Callbacks the gateway asks for (``message`` and the ``webhook`` check always come).
EVENT_TYPES = (
    "delivered",
    "seen",
    "failed",
    "subscribed",
    "unsubscribed",
    "conversation_started",
)
# Viber's hosts for the files users send (``dl-media.viber.com``...).
MEDIA_DOMAIN = "viber.com"
_TOKEN = re.compile(r"[!-~]{1,200}")

# Viber's ``status`` numbers: (name, worth another try). Refusals of the request, the
# token, the account or the user stay refused; throttling and a missing webhook (an
# operator's step away) are tried again. Numbers not listed are tried again too: a
# non-zero status means nothing was sent, so another try cannot duplicate a message.
ERRORS: Mapping[int, tuple[str, bool]] = {
    1: ("invalidUrl", False),
    2: ("invalidAuthToken", False),
    3: ("badData", False),
    4: ("missingData", False),
    5: ("receiverNotRegistered", False),
    6: ("receiverNotSubscribed", False),
    7: ("publicAccountBlocked", False),
    8: ("publicAccountNotFound", False),
    9: ("publicAccountSuspended", False),
    10: ("webhookNotSet", True),
    11: ("receiverNoSuitableDevice", False),
    12: ("tooManyRequests", True),
    13: ("apiVersionNotSupported", False),
    14: ("incompatibleWithVersion", False),
    15: ("publicAccountNotAuthorized", False),
    16: ("inchatReplyMessageNotAllowed", False),
    17: ("publicAccountIsNotInline", False),
    18: ("noPublicChat", False),
    19: ("cannotSendBroadcast", False),
}


class ViberCredentials(BaseModel):
    """A bot's authentication token (its "app key")."""

    # A refused value would otherwise be printed back in the validation error.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    auth_token: SecretStr = Field(
        min_length=1,
        max_length=200,
        description="the bot's token: Viber app, More > Settings > Bots > Edit Info > Your app key",
        json_schema_extra={"pattern": f"^{_TOKEN.pattern}$"},
    )

    @field_validator("auth_token")
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        # It travels in a header: printable ASCII without spaces.
        if not _TOKEN.fullmatch(value.get_secret_value()):
            raise ValueError("a Viber token is printable ASCII without spaces")
        return value


class ViberAdapter(ChannelAdapter[ViberCredentials]):
    """One bot on the Viber REST Bot API."""

    name = "viber"
    credentials_model = ViberCredentials
    default_api_base = "https://chatapi.viber.com"
    capabilities = frozenset(
        {
            cap.TEXT,
            cap.MEDIA_IMAGE,
            cap.MEDIA_DOCUMENT,
            cap.MEDIA_VIDEO,
            cap.MEDIA_AUDIO,
            cap.MEDIA_CAPTION,
            cap.BUTTONS_REPLY,
            cap.BUTTONS_URL,
            cap.QUICK_REPLIES,
            cap.LIST,
            cap.LOCATION,
            cap.CONTACT,
        }
    )
    status_map: ClassVar[Mapping[str, Status]] = {
        "delivered": Status.DELIVERED,
        "seen": Status.READ,
        "failed": Status.FAILED,
    }

    def _url(self, endpoint: str) -> str:
        return f"{self.api_base}/pa/{endpoint}"

    def _auth(self) -> dict[str, str]:
        return {AUTH_HEADER: self.credentials.auth_token.get_secret_value()}

    @property
    def sender(self) -> dict[str, str]:
        """The ``sender`` of every message: the channel's name and avatar settings."""
        sender = {"name": self.settings.sender_name or DEFAULT_SENDER_NAME}
        if self.settings.sender_avatar:
            sender["avatar"] = self.settings.sender_avatar
        return sender

    def build_request(self, message: OutboundMessage) -> ProviderRequest:
        """The ``send_message`` call; the token is added by :meth:`send`, never kept here."""
        return ProviderRequest(
            method="POST",
            url=self._url("send_message"),
            headers={"Content-Type": "application/json"},
            json=build_body(message, self.sender),
        )

    async def send(self, request: ProviderRequest, http: httpx.AsyncClient) -> SendResult:
        """Make the call; the answer's ``message_token`` names the message."""
        signed = dataclasses.replace(request, headers={**request.headers, **self._auth()})
        answer = await _call(http, signed.url, signed.json, signed.headers)
        token = answer.get("message_token")
        if token is None or isinstance(token, bool) or str(token) == "":
            # Accepted but unnamed: trying again could send the message twice.
            raise ProviderError(
                "bad_response", "Viber answered ok without a message_token", retryable=False
            )
        return SendResult(provider_message_id=str(token))

    def verify(self, request: RawRequest) -> None:
        """Check ``X-Viber-Content-Signature`` (hex HMAC-SHA256 of the body), constant-time."""
        given = request.headers.get(SIGNATURE_HEADER)
        if not given:
            raise SignatureError(f"missing {SIGNATURE_HEADER}")
        expected = sign(self.credentials.auth_token.get_secret_value(), request.body)
        if not hmac.compare_digest(given.strip().lower().encode("ascii", "replace"), expected):
            raise SignatureError(f"{SIGNATURE_HEADER} does not match")

    def parse(self, request: RawRequest) -> list[InboundEvent]:
        """The event of one callback; raises ``ValueError`` on a body that is not JSON."""
        return parse_callback(load_json(request.body), self.sender["name"], self.status_map)

    async def register_webhook(self, url: str, http: httpx.AsyncClient) -> bool:
        """``set_webhook`` to ``url`` for the callbacks we read, with the users' names."""
        body = {"url": url, "event_types": list(EVENT_TYPES), "send_name": True}
        await _call(http, self._url("set_webhook"), body, self._auth())
        return True

    async def download_media(
        self,
        reference: str,
        http: httpx.AsyncClient,
        sink: MediaSink,
        *,
        max_bytes: int | None = None,
    ) -> MediaInfo:
        """Stream a file from the ``media`` URL its callback gave (no token; it expires)."""
        limit = media_limit(MAX_MEDIA_BYTES, max_bytes)
        content_type = await stream_download(
            reference,
            http,
            sink,
            limit=limit,
            check=lambda hop, _own: _check_media_url(hop, self.api_base),
            refusal=refused_with("Viber refused the file download (its links expire)"),
        )
        return MediaInfo(mime_type=content_type)


def sign(auth_token: str, body: bytes) -> bytes:
    """The signature Viber puts on a callback: lowercase hex HMAC-SHA256 of the body."""
    digest = hmac.new(auth_token.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return digest.encode("ascii")


def _check_media_url(url: str, api_base: str) -> None:
    """Refuse (permanently) a URL off Viber's hosts and the connection's own host."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    on_viber = parts.scheme == "https" and (
        host == MEDIA_DOMAIN or host.endswith("." + MEDIA_DOMAIN)
    )
    own = urlsplit(api_base)
    on_own_host = parts.scheme == own.scheme and parts.netloc.lower() == own.netloc.lower()
    if not (on_viber or on_own_host):
        raise ProviderError(
            "media_host_refused",
            f"files are downloaded from Viber's hosts only, not from {host or url!r}",
            retryable=False,
        )


async def _call(
    http: httpx.AsyncClient, url: str, body: Any, headers: Mapping[str, str]
) -> dict[str, Any]:
    """POST one API call; the answer when its ``status`` is 0, else a classified error."""
    try:
        response = await http.post(url, json=body, headers=dict(headers))
    except httpx.TransportError as exc:
        raise error_from_transport(exc) from exc
    if response.status_code >= 300:
        raise error_from_status(
            response.status_code,
            f"http_{response.status_code}",
            response.text[:200] or response.reason_phrase,
            headers=response.headers,
        )
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or not isinstance(answer.get("status"), int):
        raise ProviderError("bad_response", "Viber answered without a status", retryable=True)
    if answer["status"] != 0:
        raise viber_error(answer)
    return answer


def viber_error(answer: Mapping[str, Any]) -> ProviderError:
    """Classify a non-zero ``status``: its number is the code, ``status_message`` the text."""
    status = int(answer["status"])
    name, retryable = ERRORS.get(status, ("unknown", True))
    message = str(answer.get("status_message") or name)
    return ProviderError(str(status), message, retryable=retryable)
