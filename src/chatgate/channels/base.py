"""The adapter contract every channel implements.

An adapter translates; it never touches the database. One instance serves one channel
connection: it is built with that connection's decrypted credentials and settings.
``build_request`` is pure, ``send`` does the one network call through the injected
``httpx.AsyncClient``, and failures come back as :class:`ProviderError` already classified
as retryable or permanent. Inbound, ``verify`` checks the platform's signature over the raw
bytes, ``handshake`` answers a platform's subscription check, and ``parse`` turns a webhook
into :class:`InboundMessage`, :class:`StatusUpdate` and :class:`UnknownEvent` values.
"""

from __future__ import annotations

import json
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Annotated, Any, ClassVar, Generic, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, Strict

from chatgate.domain.capabilities import commerce_feature
from chatgate.domain.records import Message
from chatgate.domain.schema_rules import with_rules
from chatgate.domain.status import Status
from chatgate.guarded_http import AddressRefused
from chatgate.net_guard import NetworkPolicy, require_callable, split_url


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """What an adapter needs to know of a message to send it.

    ``reply_to`` is the platform's id of the message being answered (already resolved from
    our ``msg_`` id by the caller), or ``None``. ``options`` are the request's per-platform
    options (for example ``{"tag": "HUMAN_AGENT"}`` on Messenger outside the 24-hour window).
    """

    id: str
    channel: str
    sender: str | None
    recipient: str
    content: Mapping[str, Any]
    reply_to: str | None
    metadata: Mapping[str, Any] | None
    options: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, message: Message, *, reply_to: str | None = None) -> OutboundMessage:
        """The adapter's view of a stored message."""
        return cls(
            id=message.id,
            channel=message.channel,
            sender=message.sender,
            recipient=message.recipient,
            content=message.content,
            reply_to=reply_to if reply_to is not None else message.reply_to,
            metadata=message.metadata,
            options=message.platform_options,
        )


# The namespace of retry keys; changing it would give the tries of a message in flight
# across an upgrade two different keys.
_RETRY_KEYS = uuid.UUID("6f1d3c52-8a0e-4b7f-9c1e-2d5a7b8e9f01")


def retry_key(message_id: str) -> str:
    """The key every try of message ``message_id`` carries where a platform drops repeats.

    A UUID (36 characters of ``0-9a-f-``) derived from our message id, so that every try,
    from any worker and after any restart, names the message alike.
    """
    return str(uuid.uuid5(_RETRY_KEYS, message_id))


@dataclass(frozen=True, slots=True)
class ProviderRequest:
    """A platform call, fully built: what ``send`` will put on the wire."""

    method: str
    # Some platforms put the secret in the URL (Telegram's bot token) or a header: never in reprs.
    url: str = field(repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    json: Any = None
    data: Mapping[str, str] | None = None
    # Facts the adapter keeps for itself between build and send (never sent).
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ExpectedReceipt:
    """A status the platform will report later, ``after`` seconds from the send."""

    after: float
    status: Status
    detail: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class SendResult:
    """A platform accepted the message."""

    provider_message_id: str
    receipts: tuple[ExpectedReceipt, ...] = ()
    # Seconds after which to ask the platform for a result its webhooks have not brought
    # (see ``ChannelAdapter.poll_status``); ``None``: the platform cannot be asked.
    poll_after: float | None = None


class UnsupportedContent(Exception):
    """The content cannot be expressed faithfully on this channel."""

    def __init__(self, channel: str, feature: str) -> None:
        super().__init__(f"{channel} cannot carry {feature}")
        self.channel = channel
        self.feature = feature


def refuse_commerce(channel: str, interactive: Mapping[str, Any]) -> None:
    """Refuse WhatsApp's commerce messages (a product, a product list, an address form),
    naming their feature: a platform without them has no faithful form of them."""
    feature = commerce_feature(interactive)
    if feature is not None:
        raise UnsupportedContent(channel, feature)


class ProviderError(Exception):
    """A platform refused or could not be reached; ``retryable`` says whether to try again."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        status_code: int | None = None,
        wait: bool = False,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after
        self.status_code = status_code
        # The sender cannot send now, through no fault of the message (a linked device that
        # is not connected): wait ``retry_after`` and try again without spending an attempt,
        # until the message reaches its give-up age.
        self.wait = wait


class SignatureError(Exception):
    """A webhook's signature or token is missing or wrong."""


@dataclass(frozen=True, slots=True)
class RawRequest:
    """A webhook as it arrived: nothing decoded, so signatures can be checked on the bytes.

    Header names are lower case.
    """

    method: str
    url: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A message a user sent to the business.

    ``content`` uses the shapes of our content union where one fits (text, location,
    reaction, contact) and two inbound-only ones: ``{"type": "media", "media": {"kind",
    "reference", "mime_type"?, "caption"?, "filename"?, "voice"?}}`` where ``reference`` is
    what :meth:`ChannelAdapter.download_media` takes, and ``{"type": "reply", "reply": {"id",
    "title"?}}`` for a pressed button or chosen list row.
    """

    provider_message_id: str
    sender: str
    recipient: str
    content: Mapping[str, Any]
    at: datetime
    raw: Any
    sender_name: str | None = None
    reply_to: str | None = None
    # A token the platform wants answered soon after the event (Telegram's callback query
    # id: its app shows a progress bar on the pressed button until then); see
    # :meth:`ChannelAdapter.acknowledge`.
    ack_token: str | None = None
    # Where the platform names its users by more than one address (WhatsApp's phone and
    # business-scoped user id): the user id, the parent id of linked portfolios, the
    # username; ``sender`` is then the phone when the event has one, else the user id.
    sender_user_id: str | None = None
    sender_parent_user_id: str | None = None
    sender_username: str | None = None
    kind: str = "message"

    def sender_profile(self) -> dict[str, str]:
        """The sender's platform facts beyond ``sender``: user ids and username, if any."""
        facts = {
            "user_id": self.sender_user_id,
            "parent_user_id": self.sender_parent_user_id,
            "username": self.sender_username,
        }
        return {key: value for key, value in facts.items() if value}


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """The platform reports a status of a message we sent.

    Either ``provider_message_id`` names one message, or ``up_to`` (with ``recipient``)
    covers every message sent to that recipient up to that time (Messenger's watermarks).
    """

    status: Status
    platform_status: str
    at: datetime
    raw: Any
    provider_message_id: str | None = None
    recipient: str | None = None
    up_to: datetime | None = None
    error_code: str | None = None
    error_message: str | None = None
    # The recipient's platform-scoped user id, where the platform reports one.
    recipient_user_id: str | None = None
    kind: str = "status"


@dataclass(frozen=True, slots=True)
class UnknownEvent:
    """Something the platform sent that we do not understand; kept, never an error."""

    kind: str
    raw: Any


InboundEvent = InboundMessage | StatusUpdate | UnknownEvent


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """What the platform says of an attachment whose bytes went to a :data:`MediaSink`."""

    mime_type: str | None = None
    filename: str | None = None


@dataclass(frozen=True, slots=True)
class MediaFile:
    """A downloaded inbound attachment, whole in memory."""

    content: bytes
    mime_type: str | None = None
    filename: str | None = None


# Takes a download's bytes as they arrive, so that a large file never sits whole in memory.
MediaSink = Callable[[bytes], Awaitable[None]]
# Keeps the credentials an adapter rotated itself (Zalo's refreshed OAuth tokens).
CredentialsListener = Callable[[BaseModel], Awaitable[None]]


def media_too_large(limit: int) -> ProviderError:
    """The permanent refusal of an attachment larger than ``limit`` bytes."""
    mib = 1024 * 1024
    size = f"{limit // mib} MB" if limit % mib == 0 else f"{limit} bytes"
    return ProviderError("media_too_large", f"the file is larger than {size}", retryable=False)


def media_limit(platform_limit: int, max_bytes: int | None) -> int:
    """The size an attachment may have: the platform's limit, or the caller's if smaller."""
    return platform_limit if max_bytes is None else min(platform_limit, max_bytes)


async def stream_capped(
    response: httpx.Response,
    sink: MediaSink,
    limit: int,
    too_large: Callable[[], ProviderError],
) -> None:
    """Pass a streamed response's body to ``sink``, refusing it past ``limit`` bytes.

    A declared ``Content-Length`` over the limit is refused before a byte is read; an
    undeclared (or understated) size is refused as soon as the count passes the limit, so
    that a file is never read further than the limit.
    """
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large()
    received = 0
    async for chunk in response.aiter_bytes():
        received += len(chunk)
        if received > limit:
            raise too_large()
        await sink(chunk)


def _json_or_text(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")


# HTTP statuses worth another try: timeouts, throttling and server-side failures.
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def error_from_status(
    status: int,
    code: str,
    message: str,
    *,
    retry_after: float | None = None,
    headers: Mapping[str, str] | None = None,
) -> ProviderError:
    """A :class:`ProviderError` for an HTTP failure: 429, 408 and 5xx are retryable."""
    hint = retry_after
    if hint is None and headers is not None:
        hint = parse_retry_after(headers.get("retry-after"))
    retryable = status in RETRYABLE_STATUSES or status >= 500
    return ProviderError(code, message, retryable=retryable, retry_after=hint, status_code=status)


def error_from_transport(error: httpx.TransportError) -> ProviderError:
    """A network failure (refused, reset, timed out): worth another try, unless the
    network policy refused the address (it will refuse it again)."""
    if isinstance(error, AddressRefused):
        return ProviderError("address_refused", str(error), retryable=False)
    code = "timeout" if isinstance(error, httpx.TimeoutException) else "network_error"
    return ProviderError(code, type(error).__name__, retryable=True)


# A JSON number: an integer or a fraction, never ``false`` or ``"5"`` read as one.
Number = Annotated[float, Strict()]


class ChannelSettings(BaseModel):
    """Settings of one channel connection, common to every platform.

    ``api_base`` replaces the platform's scheme and host (and may add a path prefix, as the
    emulator's do); the adapter keeps the platform's own paths after it.
    """

    # Its strings are request text: the schema states they hold no NUL, as the API checks.
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=with_rules)

    api_base: str | None = Field(
        default=None, pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$", max_length=500
    )
    api_version: str | None = Field(default=None, pattern=r"^v\d+(\.\d+)?$")
    rate_per_second: Number | None = Field(
        default=None, gt=0, le=10_000, description="sends per second from this connection"
    )
    per_recipient_seconds: Number | None = Field(
        default=None, ge=0, le=3600, description="least time between two sends to one user"
    )
    result_poll_seconds: Number | None = Field(
        default=None,
        gt=0,
        le=86_400,
        description="where the platform can be asked for a message's result (kakao): how "
        "long after a send to ask when no webhook has reported it",
    )
    # Viber shows a sender on every message; other platforms ignore these two.
    sender_name: str | None = Field(
        default=None, min_length=1, max_length=28, description="Viber: the sender's name shown"
    )
    sender_avatar: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s\x00]+$",
        max_length=500,
        description="Viber: the URL of the sender's avatar (at most 100 KB)",
    )


@dataclass(frozen=True, slots=True)
class Destination:
    """A host a connection's settings or credentials name, and the field that names it."""

    field: str
    host: str
    port: int


C = TypeVar("C", bound=BaseModel)


class ChannelAdapter(ABC, Generic[C]):
    """One platform's translation both ways, for one connection."""

    name: ClassVar[str]
    # The write-only secrets a connection of this type needs (stored encrypted).
    credentials_model: ClassVar[type[BaseModel]]
    # Scheme and host of the platform's API; ``ChannelSettings.api_base`` replaces it.
    default_api_base: ClassVar[str] = ""
    # What the platform can carry: see ``chatgate.domain.capabilities``.
    capabilities: ClassVar[frozenset[str]] = frozenset()
    # Platform status names mapped to ours; anything unmapped is unknown.
    status_map: ClassVar[Mapping[str, Status]] = {}
    # One worker holds each connection open and is the only one that can send through it
    # (a linked-device session): the connection's send jobs are claimed by its holder only.
    held_exclusively: ClassVar[bool] = False
    # Set by whoever built the adapter to store credentials the adapter rotates itself.
    credentials_listener: CredentialsListener | None = None

    def __init__(
        self,
        credentials: C,
        settings: ChannelSettings | None = None,
        *,
        connection_id: str | None = None,
        inbound_url: str | None = None,
        network: NetworkPolicy | None = None,
    ) -> None:
        self.credentials = credentials
        self.settings = settings or ChannelSettings()
        # Where connections of the adapter's own may go (SMPP's TCP; HTTP calls are
        # guarded by the client they are given): public addresses only by default.
        self.network = network or NetworkPolicy()
        # The stored connection this adapter serves (what its sends are paced as), if any.
        self.connection_id = connection_id
        # The connection's public webhook URL, where a platform that takes a callback URL
        # per message (Twilio's ``StatusCallback``) reports, and over which it signs.
        self.inbound_url = inbound_url

    @property
    def api_base(self) -> str:
        """Where this connection's API calls go, without a trailing slash."""
        return (self.settings.api_base or self.default_api_base).rstrip("/")

    def destinations(self) -> list[Destination]:
        """The hosts of this connection's own choosing that the gateway will connect to,
        each with the field that names it (checked when the connection is made or changed).
        """
        if self.settings.api_base is None:
            return []
        _, host, port = split_url(self.settings.api_base)
        require_callable(self.settings.api_base)
        return [Destination("settings.api_base", host, port)]

    @abstractmethod
    def build_request(self, message: OutboundMessage) -> ProviderRequest:
        """Translate ``message`` to the platform's call; pure, no I/O.

        Raises :class:`UnsupportedContent` when the platform cannot carry the content.
        """

    @abstractmethod
    async def send(self, request: ProviderRequest, http: httpx.AsyncClient) -> SendResult:
        """Make the call; raise :class:`ProviderError` on failure."""

    async def replace_credentials(self, credentials: C) -> None:
        """Use ``credentials`` from now on (a refreshed token) and have them stored.

        The platform spent the old ones: ``credentials_listener`` keeps the new ones in the
        connection, so that the next adapter built for it starts from them.
        """
        self.credentials = credentials
        if self.credentials_listener is not None:
            await self.credentials_listener(credentials)

    async def poll_status(
        self, provider_message_id: str, http: httpx.AsyncClient
    ) -> StatusUpdate | None:
        """Ask the platform for the status of a sent message (only those whose
        ``SendResult.poll_after`` is set are asked); ``None`` while it has nothing to say.

        Raise :class:`ProviderError` when the platform cannot be asked now.
        """
        return None

    def map_status(self, platform_status: str) -> Status:
        """Our status for a platform's status name (``unknown`` when unmapped)."""
        return self.status_map.get(platform_status, Status.UNKNOWN)

    def verify(self, request: RawRequest) -> None:
        """Check the platform's signature over the raw bytes; raise :class:`SignatureError`.

        The default refuses everything: a channel that receives webhooks must say how it
        authenticates them.
        """
        raise SignatureError("this channel does not receive webhooks")

    def handshake(self, request: RawRequest) -> str | None:
        """The answer to the platform's subscription check (a ``GET``), or ``None``.

        Raise :class:`SignatureError` when the check names the wrong token.
        """
        return None

    def parse(self, request: RawRequest) -> list[InboundEvent]:
        """The events in a verified webhook; what is not understood is an :class:`UnknownEvent`."""
        return [UnknownEvent(kind="unknown", raw=_json_or_text(request.body))]

    def webhook_answer(self) -> tuple[bytes, str] | None:
        """The body and media type an accepted webhook is answered with (``None``: empty).

        Most platforms want an empty 200; Twilio wants TwiML.
        """
        return None

    async def acknowledge(self, token: str, http: httpx.AsyncClient) -> None:
        """Answer an event's ``ack_token`` (the default: nothing to answer).

        Raise :class:`ProviderError` (retryable or not) when the platform refuses.
        """
        return

    async def download_media(
        self,
        reference: str,
        http: httpx.AsyncClient,
        sink: MediaSink,
        *,
        max_bytes: int | None = None,
    ) -> MediaInfo:
        """Stream the inbound attachment named by the platform's ``reference`` into ``sink``.

        A file larger than ``max_bytes`` (or the platform's own limit) is refused with a
        permanent :class:`ProviderError`: before the download when its size is declared,
        otherwise as soon as the bytes read pass the limit.
        """
        raise ProviderError("media_unsupported", "this channel has no media", retryable=False)

    async def fetch_media(
        self, reference: str, http: httpx.AsyncClient, *, max_bytes: int | None = None
    ) -> MediaFile:
        """Download an inbound attachment whole, in memory (see :meth:`download_media`)."""
        chunks: list[bytes] = []

        async def keep(chunk: bytes) -> None:
            chunks.append(chunk)

        info = await self.download_media(reference, http, keep, max_bytes=max_bytes)
        return MediaFile(b"".join(chunks), info.mime_type, info.filename)

    async def register_webhook(self, url: str, http: httpx.AsyncClient) -> bool:
        """Point the platform's webhooks at ``url`` where the platform lets an API do it.

        Returns whether it did; platforms configured in a console (Meta) answer ``False``.
        """
        return False
