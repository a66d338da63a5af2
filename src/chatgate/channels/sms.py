"""The ``sms`` channel: one channel type, two providers, chosen by the connection.

A connection's credentials name the ``provider``: ``twilio`` (Twilio's Messages API, in
:mod:`chatgate.channels.sms_twilio`) or ``smpp`` (an SMSC over SMPP 3.4, in
:mod:`chatgate.channels.sms_smpp`). Each provider
has its own credential fields, and a field of the other provider is refused, so a
connection never holds a half of each.

:class:`SmsAdapter` is what the registry names: it builds the provider's adapter and
hands every call to it, so that the rest of the gateway sees one ``sms`` channel.

A provider is added with an entry in :data:`PROVIDERS` and :data:`PROVIDER_FIELDS` and its
fields on :class:`SmsCredentials` (optional, ``validate_default=True``, so that the
provider's required ones are named when missing). Its adapter may keep credentials of its
own shape: it gets the fields that are set, validated by its own model.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

import httpx
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
)

from chatgate.channels.base import (
    ChannelAdapter,
    ChannelSettings,
    Destination,
    InboundEvent,
    MediaInfo,
    MediaSink,
    OutboundMessage,
    ProviderRequest,
    RawRequest,
    SendResult,
)
from chatgate.domain import capabilities as cap
from chatgate.domain.schema_rules import NO_NUL
from chatgate.domain.status import Status
from chatgate.net_guard import NetworkPolicy

# The module and class of each provider's adapter; imported on first use.
PROVIDERS: Mapping[str, str] = {
    "twilio": "chatgate.channels.sms_twilio:TwilioSmsAdapter",
    "smpp": "chatgate.channels.sms_smpp:SmppAdapter",
}
# The fields each provider needs (besides ``provider``).
PROVIDER_FIELDS: Mapping[str, tuple[str, ...]] = {
    "twilio": ("account_sid", "auth_token", "from_number"),
    "smpp": ("host", "port", "system_id", "password", "source_addr"),
}

_ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
# E.164, or a short code (5-6 digits), or an alphanumeric sender id (1-11 characters).
_SENDER = re.compile(r"\+[1-9][0-9]{6,14}|[0-9]{5,6}|[A-Za-z0-9 ]{1,11}")


def _provider_branches(schema: dict[str, Any]) -> None:
    """The schema's ``oneOf``, one branch a provider: its fields required and checked as
    ``_checked`` checks them, the other provider's absent or null (as ``_provider_field``)."""
    from chatgate.channels.sms_smpp import SmppCredentials

    smpp = SmppCredentials.model_json_schema()["properties"]
    shapes: dict[str, dict[str, Any]] = {
        "account_sid": {"type": "string", "pattern": f"^{_ACCOUNT_SID.pattern}$"},
        "auth_token": {"type": "string", "minLength": 1, "pattern": NO_NUL},
        "from_number": {"type": "string", "pattern": f"^(?:{_SENDER.pattern})$"},
        **{
            name: {k: v for k, v in smpp[name].items() if k != "default"}
            for name in PROVIDER_FIELDS["smpp"]
        },
    }
    every = [name for fields in PROVIDER_FIELDS.values() for name in fields]
    schema["oneOf"] = [
        {
            "properties": {
                "provider": {"const": provider},
                **{name: shapes[name] if name in fields else {"type": "null"} for name in every},
            },
            "required": ["provider", *fields],
        }
        for provider, fields in PROVIDER_FIELDS.items()
    ]


class SmsCredentials(BaseModel):
    """The provider of an ``sms`` connection, and that provider's secrets.

    Twilio: ``account_sid`` (``AC…``), ``auth_token`` and ``from_number`` (the sending
    number in E.164, a short code, or an alphanumeric sender id). SMPP: ``host`` and
    ``port`` of the SMSC, ``system_id`` and ``password`` of the bind, ``source_addr``.
    """

    # A refused value would otherwise be printed back in the validation error.
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        hide_input_in_errors=True,
        json_schema_extra=lambda schema: _provider_branches(schema),
    )

    provider: Literal["twilio", "smpp"] = Field(description="twilio or smpp")
    account_sid: str | None = Field(
        default=None, validate_default=True, description="Twilio: the account's SID, AC…"
    )
    auth_token: SecretStr | None = Field(
        default=None, validate_default=True, description="Twilio: the account's auth token"
    )
    from_number: str | None = Field(
        default=None,
        validate_default=True,
        description="Twilio: the sending number (E.164), short code or sender id",
    )
    # SMPP: where the SMSC listens, the bind's identity, and the sender (checked in full by
    # the provider's own model, chatgate.channels.sms_smpp.SmppCredentials).
    host: str | None = Field(default=None, validate_default=True, description="SMPP: the SMSC")
    port: int | None = Field(default=None, validate_default=True, description="SMPP: its port")
    system_id: str | None = Field(
        default=None, validate_default=True, description="SMPP: the bind's system_id"
    )
    password: SecretStr | None = Field(
        default=None, validate_default=True, description="SMPP: the bind's password"
    )
    source_addr: str | None = Field(
        default=None,
        validate_default=True,
        description="SMPP: the sender (E.164 number, short code or alphanumeric name)",
    )

    @field_validator("provider")
    @classmethod
    def _available(cls, value: str) -> str:
        if value not in PROVIDERS:
            raise ValueError(f"SMS over {value.upper()} is not available yet; use twilio")
        return value

    @field_validator(
        "account_sid",
        "auth_token",
        "from_number",
        "host",
        "port",
        "system_id",
        "password",
        "source_addr",
    )
    @classmethod
    def _provider_field(cls, value: Any, info: ValidationInfo) -> Any:
        provider = info.data.get("provider")
        if provider is None:  # already refused: one error is enough
            return value
        name = str(info.field_name)
        wanted = name in PROVIDER_FIELDS.get(provider, ())
        if value is None:
            if wanted:
                raise ValueError(f"required with provider {provider}")
            return value
        if not wanted:
            raise ValueError(f"not a credential of provider {provider}")
        return _checked(name, value)

    def plain(self) -> dict[str, Any]:
        """The fields that are set, secrets unwrapped: what a provider's own model takes."""
        return {
            name: value.get_secret_value() if isinstance(value, SecretStr) else value
            for name in type(self).model_fields
            if (value := getattr(self, name)) is not None
        }

    def secret(self, name: str) -> str:
        """A credential that the provider's validation made sure is set."""
        value = getattr(self, name)
        if value is None:
            raise ValueError(f"{name} is not set")
        return value.get_secret_value() if isinstance(value, SecretStr) else str(value)


def _checked(name: str, value: Any) -> Any:
    text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
    if name == "account_sid" and not _ACCOUNT_SID.fullmatch(text):
        raise ValueError("a Twilio account SID is AC followed by 32 hexadecimal digits")
    if name == "auth_token" and not text:
        raise ValueError("must not be empty")
    if name == "from_number" and not _SENDER.fullmatch(text):
        raise ValueError("an E.164 number (+14155550100), a short code or a sender id")
    if name in PROVIDER_FIELDS["smpp"]:
        _check_smpp(name, value)
    return value


def _check_smpp(name: str, value: Any) -> None:
    """An SMPP credential checked as the SMPP provider's own model checks it."""
    from pydantic import TypeAdapter, ValidationError

    from chatgate.channels.sms_smpp import SmppCredentials

    field = SmppCredentials.model_fields[name]
    try:
        annotated: Any = Annotated[field.annotation, field]
        TypeAdapter(annotated).validate_python(value)
    except ValidationError as exc:
        raise ValueError(exc.errors(include_input=False)[0]["msg"]) from None


def provider_class(provider: str) -> type[ChannelAdapter[Any]]:
    """The adapter class of an SMS provider."""
    module_name, _, class_name = PROVIDERS[provider].partition(":")
    found: type[ChannelAdapter[Any]] = getattr(importlib.import_module(module_name), class_name)
    return found


class SmsAdapter(ChannelAdapter[SmsCredentials]):
    """An ``sms`` connection: every call goes to its provider's adapter."""

    name = "sms"
    credentials_model = SmsCredentials
    # What the channel type publishes (``GET /v1/channels/capabilities``): Twilio's, the
    # larger set (SMPP carries text only). Each connection carries what its own provider
    # can (see __init__).
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {
            cap.TEXT,
            cap.MEDIA_IMAGE,
            cap.MEDIA_VIDEO,
            cap.MEDIA_AUDIO,
            cap.MEDIA_DOCUMENT,
            cap.MEDIA_CAPTION,
        }
    )

    def __init__(
        self,
        credentials: SmsCredentials,
        settings: ChannelSettings | None = None,
        *,
        connection_id: str | None = None,
        inbound_url: str | None = None,
        network: NetworkPolicy | None = None,
    ) -> None:
        super().__init__(
            credentials,
            settings,
            connection_id=connection_id,
            inbound_url=inbound_url,
            network=network,
        )
        provider = provider_class(credentials.provider)
        # A provider with credentials of its own shape gets them in that shape.
        own = provider.credentials_model
        given = (
            credentials if isinstance(credentials, own) else own.model_validate(credentials.plain())
        )
        self.provider = provider(
            given, settings, connection_id=connection_id, inbound_url=inbound_url, network=network
        )
        # Instance attributes: the checks at accept and degrade read the provider's.
        self.capabilities = self.provider.capabilities  # type: ignore[misc]
        self.status_map = self.provider.status_map  # type: ignore[misc]

    @property
    def api_base(self) -> str:
        """Where the provider's calls go."""
        return self.provider.api_base

    def destinations(self) -> list[Destination]:
        """The hosts the provider connects to."""
        return self.provider.destinations()

    def build_request(self, message: OutboundMessage) -> ProviderRequest:
        """The provider's call for ``message``."""
        return self.provider.build_request(message)

    async def send(self, request: ProviderRequest, http: httpx.AsyncClient) -> SendResult:
        """Make the provider's call."""
        return await self.provider.send(request, http)

    def map_status(self, platform_status: str) -> Status:
        """Our status for a provider's status name."""
        return self.provider.map_status(platform_status)

    def verify(self, request: RawRequest) -> None:
        """Check the provider's webhook signature."""
        self.provider.verify(request)

    def handshake(self, request: RawRequest) -> str | None:
        """The provider's subscription check, if it has one."""
        return self.provider.handshake(request)

    def parse(self, request: RawRequest) -> list[InboundEvent]:
        """The events in the provider's webhook."""
        return self.provider.parse(request)

    def webhook_answer(self) -> tuple[bytes, str] | None:
        """What the provider wants an accepted webhook answered with."""
        return self.provider.webhook_answer()

    async def acknowledge(self, token: str, http: httpx.AsyncClient) -> None:
        """Answer an event's token, where the provider has such a thing."""
        await self.provider.acknowledge(token, http)

    async def download_media(
        self,
        reference: str,
        http: httpx.AsyncClient,
        sink: MediaSink,
        *,
        max_bytes: int | None = None,
    ) -> MediaInfo:
        """Stream an inbound attachment (MMS) from the provider."""
        return await self.provider.download_media(reference, http, sink, max_bytes=max_bytes)

    async def register_webhook(self, url: str, http: httpx.AsyncClient) -> bool:
        """Point the provider's webhooks at ``url`` where its API allows it."""
        return await self.provider.register_webhook(url, http)
