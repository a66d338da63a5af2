"""Queries on credit: the balance moved by conditional updates, the ledger, daily usage.

Every movement is one ``UPDATE accounts … RETURNING`` whose condition keeps the balance from
going below zero however many transactions race for it (PostgreSQL serialises them on the
account's row; SQLite has one writer), and one ledger row with the balance it left.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.domain.billing import BillingState, LedgerKind
from chatgate.domain.ids import new_id
from chatgate.domain.status import Status
from chatgate.storage.events import LogPosition
from chatgate.storage.tables import accounts, daily_usage, ledger, message_events, messages
from chatgate.storage.upsert import insert_or_ignore


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One movement of an account's credit."""

    id: str
    account_id: str
    kind: LedgerKind
    amount: int
    balance_after: int
    held_after: int
    message_id: str | None
    api_key_id: str | None
    note: str | None
    created_at: datetime


_FIELDS = tuple(LedgerEntry.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class Movement:
    """A change to an account's balance and held credit, for one ledger row."""

    kind: LedgerKind
    balance: int
    held: int
    message_id: str | None = None
    api_key_id: str | None = None
    note: str | None = None


async def _move(
    conn: AsyncConnection, account_id: str, movement: Movement, at: datetime
) -> LedgerEntry | None:
    """Apply ``movement`` unless it would take the balance below zero; its ledger entry."""
    change = accounts.c.balance + movement.balance
    result = await conn.execute(
        update(accounts)
        .where(accounts.c.id == account_id, change >= 0, accounts.c.held + movement.held >= 0)
        .values(balance=change, held=accounts.c.held + movement.held)
        .returning(accounts.c.balance, accounts.c.held)
    )
    row = result.first()
    if row is None:
        return None
    entry = LedgerEntry(
        id=new_id("led"),
        account_id=account_id,
        kind=movement.kind,
        amount=movement.balance,
        balance_after=row.balance,
        held_after=row.held,
        message_id=movement.message_id,
        api_key_id=movement.api_key_id,
        note=movement.note,
        created_at=at,
    )
    values = {name: getattr(entry, name) for name in _FIELDS}
    values["kind"] = entry.kind.value
    await conn.execute(insert(ledger).values(**values))
    return entry


async def top_up(
    conn: AsyncConnection, account_id: str, amount: int, at: datetime, *, note: str | None
) -> LedgerEntry | None:
    """Add ``amount`` (negative: take it away) to the balance; ``None`` if that would take
    the balance below zero."""
    return await _move(conn, account_id, Movement(LedgerKind.TOPUP, amount, 0, note=note), at)


async def reserve(
    conn: AsyncConnection,
    account_id: str,
    price: int,
    at: datetime,
    *,
    message_id: str,
    api_key_id: str,
) -> LedgerEntry | None:
    """Set ``price`` aside for a message; ``None`` if the balance cannot cover it."""
    movement = Movement(LedgerKind.RESERVE, -price, price, message_id, api_key_id)
    return await _move(conn, account_id, movement, at)


async def _claim_state(
    conn: AsyncConnection, message_id: str, old: Sequence[BillingState], new: BillingState
) -> bool:
    """Move a message's billing state from one of ``old`` to ``new``; whether it moved."""
    result = await conn.execute(
        update(messages)
        .where(messages.c.id == message_id, messages.c.billing.in_([s.value for s in old]))
        .values(billing=new.value)
    )
    return bool(result.rowcount)


async def settle(
    conn: AsyncConnection, account_id: str, message_id: str, price: int, at: datetime
) -> bool:
    """The message was sent: its held price is spent. Once per message."""
    if not await _claim_state(conn, message_id, [BillingState.HELD], BillingState.SETTLED):
        return False
    movement = Movement(LedgerKind.SETTLE, 0, -price, message_id)
    return await _move(conn, account_id, movement, at) is not None


async def refund(
    conn: AsyncConnection, account_id: str, message_id: str, price: int, at: datetime
) -> bool:
    """The message failed or was canceled: its price goes back. Once per message."""
    if await _claim_state(conn, message_id, [BillingState.HELD], BillingState.REFUNDED):
        back_from_held = -price
    elif await _claim_state(conn, message_id, [BillingState.SETTLED], BillingState.REFUNDED):
        back_from_held = 0
    else:
        return False
    movement = Movement(LedgerKind.REFUND, price, back_from_held, message_id)
    return await _move(conn, account_id, movement, at) is not None


async def count_messages(
    conn: AsyncConnection, account_id: str, day: str, count: int, quota: int | None
) -> bool:
    """Count ``count`` messages against the account's ``day``; ``False`` (and nothing
    counted) if that would pass ``quota``. A negative ``count`` takes some back."""
    await insert_or_ignore(conn, daily_usage, {"account_id": account_id, "day": day, "messages": 0})
    condition = [daily_usage.c.account_id == account_id, daily_usage.c.day == day]
    if quota is not None and count > 0:
        condition.append(daily_usage.c.messages + count <= quota)
    result = await conn.execute(
        update(daily_usage).where(and_(*condition)).values(messages=daily_usage.c.messages + count)
    )
    return bool(result.rowcount)


async def messages_on(conn: AsyncConnection, account_id: str, day: str) -> int:
    """How many messages the account has counted on ``day``."""
    value = await conn.scalar(
        select(daily_usage.c.messages).where(
            daily_usage.c.account_id == account_id, daily_usage.c.day == day
        )
    )
    return int(value or 0)


async def list_ledger(
    conn: AsyncConnection,
    account_id: str,
    *,
    kind: LedgerKind | None,
    message_id: str | None,
    before: str | None,
    limit: int,
) -> list[LedgerEntry]:
    """The account's ledger newest first, older than the id ``before`` when given."""
    query = select(ledger).where(ledger.c.account_id == account_id)
    if kind is not None:
        query = query.where(ledger.c.kind == kind.value)
    if message_id is not None:
        query = query.where(ledger.c.message_id == message_id)
    if before is not None:
        query = query.where(ledger.c.id < before)
    rows = await conn.execute(query.order_by(ledger.c.id.desc()).limit(limit))
    return [_entry(row._mapping) for row in rows]


def _entry(mapping: Any) -> LedgerEntry:
    values = {name: mapping[name] for name in _FIELDS}
    values["kind"] = LedgerKind(values["kind"])
    return LedgerEntry(**values)


@dataclass(frozen=True, slots=True)
class PricedOutcome:
    """A status event that settles or refunds a priced message."""

    place: LogPosition
    account_id: str
    message_id: str
    price: int
    status: Status
    at: datetime


_PLACE = tuple_(message_events.c.txid, message_events.c.position)
_SETTLING = [s.value for s in (Status.SENT, Status.DELIVERED, Status.READ)]
_REFUNDING = [s.value for s in (Status.FAILED, Status.CANCELED)]


async def priced_outcomes(
    conn: AsyncConnection, after: LogPosition, up_to: LogPosition, limit: int
) -> list[PricedOutcome]:
    """Status events in ``(after, up_to]`` (settled places) of messages whose price is not
    yet settled or refunded, in log order."""
    query = (
        select(
            message_events.c.txid,
            message_events.c.position,
            message_events.c.account_id,
            message_events.c.message_id,
            message_events.c.status,
            message_events.c.created_at,
            messages.c.price,
        )
        .join(messages, messages.c.id == message_events.c.message_id)
        .where(
            tuple_(after.txid, after.position) < _PLACE,
            tuple_(up_to.txid, up_to.position) >= _PLACE,
            message_events.c.type == "message.status",
            message_events.c.status.in_(_SETTLING + _REFUNDING),
            messages.c.price.is_not(None),
        )
        .order_by(message_events.c.txid, message_events.c.position)
        .limit(limit)
    )
    return [
        PricedOutcome(
            LogPosition(row.txid, row.position),
            row.account_id,
            row.message_id,
            row.price,
            Status(row.status),
            row.created_at,
        )
        for row in await conn.execute(query)
    ]
