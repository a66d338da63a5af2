"""Reading an account's event log in order, from any point, without ever skipping an event.

Events live in ``message_events``; each has a place ``(txid, position)`` in its account's
log (migration 0007). On SQLite ``txid`` is 0 and ``position`` is the row id: one writer at
a time makes that commit order. On PostgreSQL ``position`` comes from a sequence, and a
transaction that took a smaller number may commit after one that took a larger: so the log
is read in ``(txid, position)`` order, and only the events of transactions older than the
oldest one still running (``pg_snapshot_xmin``). Such an event's place is final, and no
event can later appear before it: a reader that resumes after it misses nothing.

A mark (``mark_log``) says which events one transaction could see; every event committed
after it follows it, whatever time the event says it happened at (a platform's clock).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Text, cast, func, insert, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.domain.ids import new_id
from chatgate.domain.keys import KeyMode
from chatgate.domain.status import Status
from chatgate.storage.tables import message_events, messages


@dataclass(frozen=True, slots=True, order=True)
class LogPosition:
    """A place in an account's event log; events are read strictly after one."""

    txid: int
    position: int


@dataclass(frozen=True, slots=True)
class PositionMark:
    """SQLite's mark of the log: every event up to ``position`` had been written, no later
    one (one writer at a time: the order of writing is commit order)."""

    position: int

    def precedes(self, place: LogPosition) -> bool:
        """Whether the event at ``place`` was written before the mark was taken."""
        return place <= LogPosition(0, self.position)

    def __str__(self) -> str:
        return str(self.position)


@dataclass(frozen=True, slots=True)
class SnapshotMark:
    """PostgreSQL's mark of the log: a transaction's snapshot (``xmin:xmax:running,...``).

    The transactions below ``xmin`` had ended, those from ``xmax`` on had not, and between
    them those in ``running`` had not (the marking transaction among them, so that what it
    writes itself follows its mark).
    """

    xmin: int
    xmax: int
    running: frozenset[int]

    def precedes(self, place: LogPosition) -> bool:
        """Whether the event at ``place`` had been committed when the mark was taken."""
        if place.txid < self.xmin:
            return True
        return place.txid < self.xmax and place.txid not in self.running

    def __str__(self) -> str:
        return f"{self.xmin}:{self.xmax}:{','.join(map(str, sorted(self.running)))}"


# Where the event log stood for one transaction: the events it could see precede the mark,
# every other one (committed after it, or while it ran) follows.
LogMark = PositionMark | SnapshotMark


def parse_mark(text: str) -> LogMark:
    """A mark from its stored text (``str`` of a mark)."""
    if ":" not in text:
        return PositionMark(int(text))
    xmin, xmax, running = text.split(":")
    return SnapshotMark(int(xmin), int(xmax), frozenset(int(t) for t in running.split(",") if t))


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """One event of the log, with what it says about its message.

    An event of the account itself (an endpoint disabled) has no message: its message
    fields are ``None`` and ``detail`` says what happened.
    """

    id: str
    account_id: str
    mode: KeyMode
    type: str
    created_at: datetime
    place: LogPosition
    message_id: str | None
    # The key that sent the message (None for inbound messages).
    api_key_id: str | None
    seq: int | None
    status: Status | None
    detail: dict[str, Any] | None
    direction: str | None
    channel: str | None
    sender: str | None
    recipient: str | None
    metadata: dict[str, Any] | None
    content: dict[str, Any] | None
    # The message's options: for an inbound one, how the platform named its sender.
    options: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events of the log to read."""

    types: frozenset[str] = frozenset()
    message_id: str | None = None


def _oldest_running() -> ColumnElement[int]:
    """PostgreSQL: the id of the oldest transaction still running (every older one is over)."""
    return cast(cast(func.pg_snapshot_xmin(func.pg_current_snapshot()), Text), BigInteger)


def _settled(conn: AsyncConnection) -> list[ColumnElement[bool]]:
    """On PostgreSQL: only events of transactions that can no longer commit out of order."""
    if conn.dialect.name != "postgresql":
        return []
    return [message_events.c.txid < _oldest_running()]


# A message's events take their message's mode; an account's own events carry theirs.
_MODE: ColumnElement[str] = func.coalesce(messages.c.mode, message_events.c.mode)
_COLUMNS = (
    message_events.c.id,
    message_events.c.account_id,
    _MODE.label("mode"),
    messages.c.api_key_id,
    message_events.c.type,
    message_events.c.created_at,
    message_events.c.txid,
    message_events.c.position,
    message_events.c.message_id,
    message_events.c.seq,
    message_events.c.status,
    message_events.c.detail,
    messages.c.direction,
    messages.c.channel,
    messages.c.sender,
    messages.c.recipient,
    messages.c.metadata,
    messages.c.content,
    messages.c.options,
)


def _logged(row: Any) -> LoggedEvent:
    return LoggedEvent(
        id=row.id,
        account_id=row.account_id,
        mode=KeyMode(row.mode),
        api_key_id=row.api_key_id,
        type=row.type,
        created_at=row.created_at,
        place=LogPosition(row.txid, row.position),
        message_id=row.message_id,
        seq=row.seq,
        status=Status(row.status) if row.status else None,
        detail=row.detail,
        direction=row.direction,
        channel=row.channel,
        sender=row.sender,
        recipient=row.recipient,
        metadata=row.metadata,
        content=row.content,
        options=row.options,
    )


async def read_log(
    conn: AsyncConnection,
    account_id: str | None,
    mode: KeyMode | None,
    *,
    after: LogPosition | None,
    filters: EventFilter,
    limit: int,
) -> list[LoggedEvent]:
    """Up to ``limit`` settled events after ``after``, in order: of one account and mode, or
    (``None``) of every account and both modes, for the webhook fan-out."""
    place = tuple_(message_events.c.txid, message_events.c.position)
    query = (
        select(*_COLUMNS)
        .outerjoin(messages, messages.c.id == message_events.c.message_id)
        .where(*_settled(conn))
        .order_by(message_events.c.txid, message_events.c.position)
        .limit(limit)
    )
    if account_id is not None:
        query = query.where(message_events.c.account_id == account_id)
    if mode is not None:
        query = query.where(_MODE.in_([mode.value]))
    if after is not None:
        query = query.where(place > tuple_(after.txid, after.position))
    if filters.types:
        query = query.where(message_events.c.type.in_(sorted(filters.types)))
    if filters.message_id is not None:
        query = query.where(message_events.c.message_id == filters.message_id)
    return [_logged(row) for row in await conn.execute(query)]


async def read_all_new(
    conn: AsyncConnection, after: LogPosition | None, filters: EventFilter, *, batch: int = 500
) -> list[LoggedEvent]:
    """Every settled event of every account after ``after`` that ``filters`` wants, read
    ``batch`` at a time (for processes that follow a few kinds of event of the whole log)."""
    found: list[LoggedEvent] = []
    while True:
        events = await read_log(conn, None, None, after=after, filters=filters, limit=batch)
        found += events
        if len(events) < batch:
            return found
        after = events[-1].place


async def place_of(
    conn: AsyncConnection, account_id: str, mode: KeyMode, event_id: str
) -> LogPosition | None:
    """Where the account's event ``event_id`` of ``mode`` stands in its log, if it is one."""
    row = (
        await conn.execute(
            select(message_events.c.txid, message_events.c.position)
            .outerjoin(messages, messages.c.id == message_events.c.message_id)
            .where(
                message_events.c.id == event_id,
                message_events.c.account_id == account_id,
                _MODE.in_([mode.value]),
            )
        )
    ).first()
    return LogPosition(row.txid, row.position) if row else None


async def log_signature(conn: AsyncConnection) -> Sequence[Any]:
    """A value that changes whenever an event may have become readable in any account's log."""
    columns: list[Any] = [func.max(message_events.c.position)]
    if conn.dialect.name == "postgresql":
        # A transaction ending can make events readable without any new event being written.
        columns.append(_oldest_running())
    row = (await conn.execute(select(*columns))).one()
    return tuple(row)


async def newest_place(conn: AsyncConnection, account_id: str | None) -> LogPosition | None:
    """The place of the newest settled event of an account (``None``: of any account);
    reading after it gives what is new."""
    query = (
        select(message_events.c.txid, message_events.c.position)
        .where(*_settled(conn))
        .order_by(message_events.c.txid.desc(), message_events.c.position.desc())
        .limit(1)
    )
    if account_id is not None:
        query = query.where(message_events.c.account_id == account_id)
    row = (await conn.execute(query)).first()
    return LogPosition(row.txid, row.position) if row else None


async def mark_log(conn: AsyncConnection) -> LogMark:
    """Where the event log stands for this transaction now: every event committed later
    (or written by this transaction, on PostgreSQL) follows the mark."""
    if conn.dialect.name != "postgresql":
        newest = await newest_place(conn, None)
        return PositionMark(newest.position if newest else 0)
    row = (
        await conn.execute(
            select(
                cast(func.pg_current_snapshot(), Text),
                cast(func.pg_current_xact_id_if_assigned(), Text),
            )
        )
    ).one()
    snapshot = parse_mark(row[0])
    assert isinstance(snapshot, SnapshotMark)
    if row[1] is None:
        # No id yet: the one it takes later is above xmax, so its events follow anyway.
        return snapshot
    return SnapshotMark(snapshot.xmin, snapshot.xmax, snapshot.running | {int(row[1])})


async def append_account_event(
    conn: AsyncConnection,
    account_id: str,
    mode: KeyMode,
    type_: str,
    detail: dict[str, Any],
    at: datetime,
) -> str:
    """Append an event of the account itself (not of a message); returns its id."""
    event_id = new_id("evt")
    await conn.execute(
        insert(message_events).values(
            id=event_id,
            account_id=account_id,
            mode=mode.value,
            message_id=None,
            seq=None,
            type=type_,
            status=None,
            detail=detail,
            created_at=at,
        )
    )
    return event_id
