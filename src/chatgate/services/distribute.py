"""Distributions: one content to many recipients, each accepted or refused on its own.

Recipients are addresses on a channel, contacts (on a named channel or ``auto``), or every
contact a filter selects. Each accepted recipient becomes a message of its own that goes
through the same engine, pacing, rules and credit as any other; the distribution keeps the
outcome of every recipient, in order, and is written in the same transaction as them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.channels.sandbox import SandboxAdapter
from chatgate.domain.channels import ChannelType
from chatgate.domain.ids import new_id
from chatgate.domain.records import ApiKey, Message
from chatgate.errors import ChatgateError, InvalidRequest, NotFound
from chatgate.services.billing import Billing
from chatgate.services.channels import ChannelService
from chatgate.services.send import accept_messages
from chatgate.services.send_command import SendCommand
from chatgate.storage import contacts as contact_store
from chatgate.storage import distributions as distribution_store
from chatgate.storage.contacts import ContactFilter
from chatgate.storage.database import Database
from chatgate.storage.distributions import Distribution

MAX_RECIPIENTS = 1000


@dataclass(frozen=True, slots=True)
class Recipient:
    """One recipient: an address on ``channel``, or a contact (``channel`` None: auto)."""

    channel: ChannelType | None
    to: str | None = None
    contact_id: str | None = None


@dataclass(frozen=True, slots=True)
class ContactSelection:
    """Every contact a filter selects, each on ``channel`` (None: auto)."""

    channel: ChannelType | None
    filter: ContactFilter


@dataclass(frozen=True, slots=True)
class DistributionRequest:
    """What to send, to whom, and how; ``recipients`` holds a refusal where one was invalid."""

    content: dict[str, Any]
    recipients: Sequence[Recipient | ChatgateError] = ()
    contacts: ContactSelection | None = None
    metadata: dict[str, Any] | None = None
    schedule_at: datetime | None = None
    options: dict[str, Any] | None = None
    degrade: bool = False
    track_links: bool = False


async def _selected(
    conn: AsyncConnection, key: ApiKey, selection: ContactSelection
) -> list[Recipient]:
    found = await contact_store.list_contacts(
        conn, key.account_id, key.mode, selection.filter, before=None, limit=MAX_RECIPIENTS + 1
    )
    if len(found) > MAX_RECIPIENTS:
        raise InvalidRequest(
            f"the filter selects more than {MAX_RECIPIENTS} contacts; narrow it",
            field="contacts",
        )
    # Oldest contact first, so that the results read in the order contacts were made.
    return [Recipient(selection.channel, contact_id=c.id) for c in reversed(found)]


def _result(
    index: int, recipient: Recipient | None, outcome: Message | ChatgateError
) -> dict[str, Any]:
    entry: dict[str, Any] = {"index": index}
    if recipient is not None:
        entry["recipient"] = {
            "channel": recipient.channel.value if recipient.channel else "auto",
            "to": recipient.to,
            "contact_id": recipient.contact_id,
        }
    if isinstance(outcome, ChatgateError):
        entry |= {
            "status": "rejected",
            "error": {"code": outcome.code, "message": outcome.message, "field": outcome.field},
        }
    else:
        entry |= {
            "status": "accepted",
            "message_id": outcome.id,
            "channel": outcome.channel,
            "to": outcome.recipient,
        }
    return entry


async def distribute(
    conn: AsyncConnection,
    key: ApiKey,
    request: DistributionRequest,
    *,
    sandbox: SandboxAdapter,
    channels: ChannelService,
    billing: Billing,
    now: datetime,
) -> Distribution:
    """Accept the distribution in the caller's transaction: its messages and its record."""
    recipients = list(request.recipients)
    if request.contacts is not None:
        recipients += await _selected(conn, key, request.contacts)
    # The contact selection is resolved against stored contacts: how many it adds is the
    # account's state, so these refusals have codes of their own.
    if not recipients:
        raise InvalidRequest(
            "there is no recipient to send to", field="recipients", code="no_recipients"
        )
    if len(recipients) > MAX_RECIPIENTS:
        raise InvalidRequest(
            f"at most {MAX_RECIPIENTS} recipients", field="recipients", code="too_many_recipients"
        )
    distribution_id = new_id("dst", now_ms=int(now.timestamp() * 1000))
    valid = [(i, r) for i, r in enumerate(recipients) if isinstance(r, Recipient)]
    commands = [
        SendCommand(
            channel=recipient.channel,
            to=recipient.to or "",
            content=request.content,
            metadata=request.metadata,
            schedule_at=request.schedule_at,
            options=request.options,
            degrade=request.degrade,
            track_links=request.track_links,
            contact_id=recipient.contact_id,
            distribution_id=distribution_id,
        )
        for _, recipient in valid
    ]
    outcomes = await accept_messages(
        conn, key, commands, sandbox=sandbox, channels=channels, billing=billing, now=now
    )
    by_index = dict(zip((i for i, _ in valid), outcomes, strict=True))
    results = []
    for index, recipient in enumerate(recipients):
        if isinstance(recipient, Recipient):
            results.append(_result(index, recipient, by_index[index]))
        else:
            results.append(_result(index, None, recipient))
    accepted = sum(1 for entry in results if entry["status"] == "accepted")
    distribution = Distribution(
        id=distribution_id,
        account_id=key.account_id,
        mode=key.mode.value,
        api_key_id=key.id,
        content=request.content,
        results=results,
        accepted=accepted,
        refused=len(results) - accepted,
        created_at=now,
    )
    await distribution_store.insert_distribution(conn, distribution)
    return distribution


async def get_distribution(
    database: Database, key: ApiKey, distribution_id: str
) -> tuple[Distribution, dict[str, int]]:
    """A distribution of the key's account and mode, and its messages' statuses now."""
    async with database.read() as conn:
        found = await distribution_store.get_distribution(
            conn, key.account_id, key.mode.value, distribution_id
        )
        if found is None:
            raise NotFound(f"no distribution {distribution_id}", field="id")
        counts = await distribution_store.status_counts(conn, distribution_id)
    return found, counts
