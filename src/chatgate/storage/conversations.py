"""Conversation threads: one per (account, mode, channel, peer), with the times the channel
rules consult (when the peer last wrote), the last message and the unread count.

A thread is made by its first message either way: an inbound one in the transaction that
records it (the window must open at once), an outbound one by the thread updates that
follow the event log (``services/thread_updates``), so that sends to one busy peer do not
queue on its thread's row. An inbound message counts as unread until the business answers
on the thread or marks it read.

A user known under several addresses (``peer_links``) has one thread, under its peer: a
send to any of the user's addresses moves that thread on and finds its window, and the
thread lists the messages to and from every one of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Insert,
    and_,
    bindparam,
    case,
    func,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.domain.ids import new_id
from chatgate.storage.events import LogPosition
from chatgate.storage.peer_links import aliases_of, peer_of_address
from chatgate.storage.tables import conversations, message_events, messages

_KEY = ("account_id", "mode", "channel", "peer")


@dataclass(frozen=True, slots=True)
class Thread:
    """A conversation as stored."""

    id: str
    account_id: str
    mode: str
    channel: str
    peer: str
    connection_id: str | None
    contact_id: str | None
    last_inbound_at: datetime | None
    last_outbound_at: datetime | None
    last_message_id: str | None
    last_message_at: datetime | None
    unread: int


_FIELDS = tuple(Thread.__dataclass_fields__)


def _thread(mapping: Any) -> Thread:
    return Thread(**{name: mapping[name] for name in _FIELDS})


async def last_inbound_at(
    conn: AsyncConnection, account_id: str, mode: str, channel: str, peer: str
) -> datetime | None:
    """When ``peer`` (or the user it is an address of) last wrote to the account on
    ``channel``; ``None`` if never."""
    linked = peer_of_address(literal(account_id), literal(mode), literal(channel), literal(peer))
    value: datetime | None = await conn.scalar(
        select(conversations.c.last_inbound_at).where(
            conversations.c.account_id == account_id,
            conversations.c.mode == mode,
            conversations.c.channel == channel,
            conversations.c.peer == func.coalesce(linked, peer),
        )
    )
    return value


async def existing_peers(
    conn: AsyncConnection, account_id: str, mode: str, channel: str, peers: Sequence[str]
) -> set[str]:
    """Which of ``peers`` have a thread."""
    c = conversations.c
    rows = await conn.execute(
        select(c.peer).where(
            c.account_id == account_id,
            c.mode == mode,
            c.channel == channel,
            c.peer.in_(sorted(set(peers))),
        )
    )
    return {row.peer for row in rows}


def _newer(column: Any, value: Any) -> Any:
    """``value`` where it is later than ``column`` (or ``column`` is empty), else ``column``."""
    return case((or_(column.is_(None), column < value), value), else_=column)


@cache
def _upsert(dialect_name: str, inbound: bool) -> Insert:
    """Make the thread or move it on: a later message becomes its last one; an inbound one
    counts as unread and may open the window, an outbound one reads the thread."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    statement = dialect.insert(conversations)
    new = statement.excluded
    c = conversations.c
    changes: dict[str, Any] = {
        "last_message_id": case(
            (
                or_(c.last_message_at.is_(None), c.last_message_at <= new.last_message_at),
                new.last_message_id,
            ),
            else_=c.last_message_id,
        ),
        "last_message_at": _newer(c.last_message_at, new.last_message_at),
        "connection_id": func.coalesce(new.connection_id, c.connection_id),
        "contact_id": func.coalesce(new.contact_id, c.contact_id),
    }
    if inbound:
        # Platforms redeliver and reorder: an older message never shortens the window.
        changes["last_inbound_at"] = _newer(c.last_inbound_at, new.last_inbound_at)
        changes["unread"] = c.unread + 1
    else:
        changes["last_outbound_at"] = _newer(c.last_outbound_at, new.last_outbound_at)
        changes["unread"] = 0
    upsert: Insert = statement.on_conflict_do_update(index_elements=list(_KEY), set_=changes)
    return upsert


def _row(
    account_id: str,
    mode: str,
    channel: str,
    peer: str,
    at: datetime,
    *,
    inbound: bool,
    message_id: str | None,
    connection_id: str | None,
    contact_id: str | None,
) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "mode": mode,
        "channel": channel,
        "peer": peer,
        "id": new_id("cnv"),
        "last_inbound_at": at if inbound else None,
        "last_outbound_at": None if inbound else at,
        "last_message_id": message_id,
        "last_message_at": at,
        "connection_id": connection_id,
        "contact_id": contact_id,
        "unread": 1 if inbound else 0,
    }


async def record_inbound(
    conn: AsyncConnection,
    account_id: str,
    mode: str,
    channel: str,
    peer: str,
    at: datetime,
    *,
    message_id: str | None = None,
    connection_id: str | None = None,
    contact_id: str | None = None,
) -> None:
    """Note that ``peer`` wrote at ``at``, opening or extending the service window."""
    row = _row(
        account_id,
        mode,
        channel,
        peer,
        at,
        inbound=True,
        message_id=message_id,
        connection_id=connection_id,
        contact_id=contact_id,
    )
    await conn.execute(_upsert(conn.dialect.name, True), row)


@dataclass(frozen=True, slots=True)
class OutboundStart:
    """An outbound message's first event: the thread change it makes, at its log place."""

    place: LogPosition
    row: dict[str, Any]


_PLACE = tuple_(message_events.c.txid, message_events.c.position)


async def outbound_starts(
    conn: AsyncConnection, after: LogPosition, up_to: LogPosition, limit: int
) -> list[OutboundStart]:
    """The accepted outbound messages whose first event is in ``(after, up_to]``, in order."""
    m = messages.c
    query = (
        select(
            message_events.c.txid,
            message_events.c.position,
            m.id,
            m.account_id,
            m.mode,
            m.channel,
            # The thread of a user known under several addresses is under its peer.
            func.coalesce(
                peer_of_address(m.account_id, m.mode, m.channel, m.recipient), m.recipient
            ).label("peer"),
            m.connection_id,
            m.contact_id,
            m.created_at,
        )
        .join(messages, m.id == message_events.c.message_id)
        .where(
            tuple_(after.txid, after.position) < _PLACE,
            tuple_(up_to.txid, up_to.position) >= _PLACE,
            message_events.c.seq == 1,
            m.direction == "outbound",
        )
        .order_by(message_events.c.txid, message_events.c.position)
        .limit(limit)
    )
    return [
        OutboundStart(
            LogPosition(row.txid, row.position),
            _row(
                row.account_id,
                row.mode,
                row.channel,
                row.peer,
                row.created_at,
                inbound=False,
                message_id=row.id,
                connection_id=row.connection_id,
                contact_id=row.contact_id,
            ),
        )
        for row in await conn.execute(query)
    ]


async def record_outbound(conn: AsyncConnection, starts: Sequence[OutboundStart]) -> None:
    """Move the threads of accepted outbound messages on (made if new)."""
    if starts:
        # Threads are locked in key order, so that two writers never deadlock on them.
        rows = sorted((s.row for s in starts), key=lambda row: tuple(row[k] for k in _KEY))
        await conn.execute(_upsert(conn.dialect.name, False), rows)


async def mark_read(conn: AsyncConnection, account_id: str, mode: str, thread_id: str) -> bool:
    """Set the thread's unread count to zero; whether it exists."""
    result = await conn.execute(
        update(conversations)
        .where(
            conversations.c.id == thread_id,
            conversations.c.account_id == account_id,
            conversations.c.mode == mode,
        )
        .values(unread=0)
    )
    return bool(result.rowcount)


async def get_thread(
    conn: AsyncConnection, account_id: str, mode: str, thread_id: str
) -> Thread | None:
    """The account's thread ``thread_id`` of ``mode``, if any."""
    row = (
        await conn.execute(
            select(conversations).where(
                conversations.c.id == thread_id,
                conversations.c.account_id == account_id,
                conversations.c.mode == mode,
            )
        )
    ).first()
    return _thread(row._mapping) if row else None


@dataclass(frozen=True, slots=True)
class ThreadFilter:
    """Which threads to list."""

    channel: str | None = None
    contact_id: str | None = None
    peer: str | None = None
    unread_only: bool = False


async def list_threads(
    conn: AsyncConnection,
    account_id: str,
    mode: str,
    filters: ThreadFilter,
    *,
    before: Thread | None,
    limit: int,
) -> list[Thread]:
    """The account's threads, the most recently active first; after ``before`` when given."""
    c = conversations.c
    query = select(conversations).where(
        c.account_id == account_id, c.mode == mode, c.id.is_not(None)
    )
    equal = {c.channel: filters.channel, c.contact_id: filters.contact_id, c.peer: filters.peer}
    for column, value in equal.items():
        if value is not None:
            query = query.where(column == value)
    if filters.unread_only:
        query = query.where(c.unread > 0)
    # Threads made before any message was recorded on them sort last.
    active = func.coalesce(c.last_message_at, c.last_inbound_at, c.last_outbound_at)
    if before is not None:
        since = before.last_message_at or before.last_inbound_at or before.last_outbound_at
        query = query.where(tuple_(active, c.id) < tuple_(bindparam("b_at", since), before.id))
    rows = await conn.execute(query.order_by(active.desc(), c.id.desc()).limit(limit))
    return [_thread(row._mapping) for row in rows]


async def thread_messages(
    conn: AsyncConnection, thread: Thread, *, before: str | None, limit: int
) -> list[str]:
    """The ids of the thread's messages, newest first (older than ``before`` when given)."""
    m = messages.c
    aliases = aliases_of(thread.account_id, thread.mode, thread.channel, thread.peer)
    query = select(m.id).where(
        m.account_id == thread.account_id,
        m.mode == thread.mode,
        m.channel == thread.channel,
        or_(
            and_(m.direction == "outbound", m.recipient == thread.peer),
            and_(m.direction == "inbound", m.sender == thread.peer),
            and_(m.direction == "outbound", m.recipient.in_(aliases)),
            and_(m.direction == "inbound", m.sender.in_(aliases)),
        ),
    )
    if before is not None:
        query = query.where(m.id < before)
    rows = await conn.execute(query.order_by(m.id.desc()).limit(limit))
    return [row.id for row in rows]
