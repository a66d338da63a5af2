"""Records the services pass around: accounts, keys and messages as stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Any

from chatgate.domain.dialects import Dialect
from chatgate.domain.fallback import FallbackStep
from chatgate.domain.ids import new_id
from chatgate.domain.keys import KeyMode, Scope, grants
from chatgate.domain.status import Status

# The key of ``Message.options`` that records what accept rendered down.
DEGRADED = "degraded"
# The keys of ``Message.options`` that record what accept did: the stored template the
# content was rendered from, and why "channel": "auto" chose the channel.
TEMPLATE = "template"
ROUTE = "route"
# An inbound message's sender as the platform named them beyond ``sender``: user ids and
# username (WhatsApp's business-scoped user id and username).
SENDER_PROFILE = "sender_profile"
_ACCEPT_RECORDS = frozenset({DEGRADED, TEMPLATE, ROUTE, SENDER_PROFILE})


@dataclass(frozen=True, slots=True)
class Account:
    """A tenant: every other record belongs to exactly one."""

    id: str
    name: str
    created_at: datetime
    # The plan by name (None: the configured default), the currency (None: the configured
    # one), credit in micro-units (``held``: reserved by messages not yet sent) and the
    # account's own prices over the configured ones.
    plan: str | None = None
    currency: str | None = None
    balance: int = 0
    held: int = 0
    prices: dict[str, int] | None = None


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key as the gateway knows it (never the secret, only its hash)."""

    id: str
    account_id: str
    name: str
    mode: KeyMode
    display_prefix: str
    scopes: frozenset[str]
    ip_allowlist: tuple[IPv4Network | IPv6Network, ...]
    allowed_channels: frozenset[str] | None
    rate_limit: int | None
    created_at: datetime
    revoked_at: datetime | None
    # The account's plan, whose rate limit applies when the key has none of its own (read
    # with the key for authentication; None elsewhere, or for the default plan).
    plan: str | None = None
    # The vendor API whose routes accept this key; None: the native API's.
    dialect: Dialect | None = None
    # Whether links in the key's dialect messages are tracked (Bik); False: sent untouched.
    track_links: bool = True

    def grants(self, scope: Scope) -> bool:
        """Whether this key may act under ``scope``."""
        return grants(self.scopes, scope)

    def allows_ip(self, host: str | None) -> bool:
        """Whether a request from ``host`` may use this key (an empty allowlist allows all)."""
        if not self.ip_allowlist:
            return True
        if host is None:
            return False
        try:
            address = ip_address(host)
        except ValueError:
            return False
        if address.version == 6 and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.ip_allowlist)

    def allows_channel(self, channel: str) -> bool:
        """Whether this key may send on ``channel``."""
        return self.allowed_channels is None or channel in self.allowed_channels


@dataclass(frozen=True, slots=True)
class MessageEvent:
    """One entry of a message's history."""

    id: str
    seq: int
    type: str
    status: Status | None
    detail: dict[str, Any] | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Message:
    """A message, outbound or inbound, as stored."""

    id: str
    account_id: str
    mode: KeyMode
    direction: str
    channel: str
    sender: str | None
    recipient: str
    content: dict[str, Any]
    metadata: dict[str, Any] | None
    reply_to: str | None
    status: Status
    error_code: str | None
    error_message: str | None
    provider_message_id: str | None
    created_at: datetime
    updated_at: datetime
    schedule_at: datetime | None = None
    chain_id: str | None = None
    chain_step: int | None = None
    fallback: tuple[FallbackStep, ...] = ()
    fallback_message_id: str | None = None
    # The channel connection that carries (or received) the message; None for the sandbox.
    connection_id: str | None = None
    # Per-platform send options from the request (Messenger's message tag, say), and under
    # ``degraded`` what accept rendered down to fit the channel (``"degrade": true``).
    options: dict[str, Any] | None = None
    # Credit: the price reserved at accept (None: free), and whether it is held, settled
    # or refunded.
    price: int | None = None
    billing: str | None = None
    # The contact the message was sent to or came from, when known.
    contact_id: str | None = None
    # The distribution that sent it (POST /v1/messages/distribute).
    distribution_id: str | None = None

    @property
    def platform_options(self) -> dict[str, Any]:
        """The options an adapter reads: the request's, without accept's own records."""
        return {k: v for k, v in (self.options or {}).items() if k not in _ACCEPT_RECORDS}

    @property
    def degraded(self) -> dict[str, Any] | None:
        """What was rendered down at accept (features, original content), if anything."""
        value = (self.options or {}).get(DEGRADED)
        return value if isinstance(value, dict) else None

    @property
    def due_at(self) -> datetime:
        """When sending starts: the scheduled time, or the moment it was accepted."""
        return self.schedule_at or self.created_at

    @classmethod
    def new(
        cls,
        *,
        account_id: str,
        mode: KeyMode,
        direction: str,
        channel: str,
        sender: str | None,
        recipient: str,
        content: dict[str, Any],
        status: Status,
        at: datetime,
        metadata: dict[str, Any] | None = None,
        reply_to: str | None = None,
        provider_message_id: str | None = None,
        schedule_at: datetime | None = None,
        chain_id: str | None = None,
        chain_step: int | None = None,
        fallback: tuple[FallbackStep, ...] = (),
        message_id: str | None = None,
        connection_id: str | None = None,
        options: dict[str, Any] | None = None,
        contact_id: str | None = None,
        distribution_id: str | None = None,
    ) -> Message:
        """A message created at ``at``, with an id that sorts by that time."""
        return cls(
            id=message_id or new_id("msg", now_ms=int(at.timestamp() * 1000)),
            account_id=account_id,
            mode=mode,
            direction=direction,
            channel=channel,
            sender=sender,
            recipient=recipient,
            content=content,
            metadata=metadata,
            reply_to=reply_to,
            status=status,
            error_code=None,
            error_message=None,
            provider_message_id=provider_message_id,
            created_at=at,
            updated_at=at,
            schedule_at=schedule_at,
            chain_id=chain_id,
            chain_step=chain_step,
            fallback=fallback,
            connection_id=connection_id,
            options=options,
            contact_id=contact_id,
            distribution_id=distribution_id,
        )
