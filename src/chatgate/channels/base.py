"""The adapter contract every channel implements.

An adapter translates; it never touches the database. ``build_request`` is pure, ``send``
does the one network call through the injected ``httpx.AsyncClient``, and failures come back
as :class:`ProviderError` already classified as retryable or permanent.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

import httpx

from chatgate.domain.records import Message
from chatgate.domain.status import Status


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """What an adapter needs to know of a message to send it."""

    id: str
    channel: str
    sender: str | None
    recipient: str
    content: Mapping[str, Any]
    reply_to: str | None
    metadata: Mapping[str, Any] | None

    @classmethod
    def of(cls, message: Message) -> OutboundMessage:
        """The adapter's view of a stored message."""
        return cls(
            id=message.id,
            channel=message.channel,
            sender=message.sender,
            recipient=message.recipient,
            content=message.content,
            reply_to=message.reply_to,
            metadata=message.metadata,
        )


@dataclass(frozen=True, slots=True)
class ProviderRequest:
    """A platform call, fully built: what ``send`` will put on the wire."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
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


class UnsupportedContent(Exception):
    """The content cannot be expressed faithfully on this channel."""

    def __init__(self, channel: str, feature: str) -> None:
        super().__init__(f"{channel} cannot carry {feature}")
        self.channel = channel
        self.feature = feature


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
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after
        self.status_code = status_code


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
    """A network failure (refused, reset, timed out): always worth another try."""
    code = "timeout" if isinstance(error, httpx.TimeoutException) else "network_error"
    return ProviderError(code, type(error).__name__, retryable=True)


class ChannelAdapter(ABC):
    """One platform's translation both ways."""

    name: ClassVar[str]
    # Platform status names and error codes mapped to ours; anything unmapped is unknown.
    status_map: ClassVar[Mapping[str, Status]] = {}

    @abstractmethod
    def build_request(self, message: OutboundMessage) -> ProviderRequest:
        """Translate ``message`` to the platform's call; pure, no I/O."""

    @abstractmethod
    async def send(self, request: ProviderRequest, http: httpx.AsyncClient) -> SendResult:
        """Make the call; raise :class:`ProviderError` on failure."""

    def map_status(self, platform_status: str) -> Status:
        """Our status for a platform's status name (``unknown`` when unmapped)."""
        return self.status_map.get(platform_status, Status.UNKNOWN)
