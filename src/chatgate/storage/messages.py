"""Queries on messages and their event history."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Integer,
    Select,
    String,
    bindparam,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.domain.fallback import FallbackStep
from chatgate.domain.ids import id_floor, new_id
from chatgate.domain.keys import KeyMode
from chatgate.domain.records import Message, MessageEvent
from chatgate.domain.status import Status
from chatgate.storage.staged import staged
from chatgate.storage.tables import message_events, messages


def _message(mapping: Any) -> Message:
    return Message(
        id=mapping["id"],
        account_id=mapping["account_id"],
        mode=KeyMode(mapping["mode"]),
        direction=mapping["direction"],
        channel=mapping["channel"],
        sender=mapping["sender"],
        recipient=mapping["recipient"],
        content=mapping["content"],
        metadata=mapping["metadata"],
        reply_to=mapping["reply_to"],
        status=Status(mapping["status"]),
        error_code=mapping["error_code"],
        error_message=mapping["error_message"],
        provider_message_id=mapping["provider_message_id"],
        created_at=mapping["created_at"],
        updated_at=mapping["updated_at"],
        schedule_at=mapping["schedule_at"],
        chain_id=mapping["chain_id"],
        chain_step=mapping["chain_step"],
        fallback=tuple(FallbackStep.from_json(step) for step in mapping["fallback"] or ()),
        fallback_message_id=mapping["fallback_message_id"],
        connection_id=mapping["connection_id"],
        options=mapping["options"],
        price=mapping["price"],
        billing=mapping["billing"],
        contact_id=mapping["contact_id"],
        distribution_id=mapping["distribution_id"],
    )


def _event(mapping: Any) -> MessageEvent:
    return MessageEvent(
        id=mapping["id"],
        seq=mapping["seq"],
        type=mapping["type"],
        status=Status(mapping["status"]) if mapping["status"] else None,
        detail=mapping["detail"],
        created_at=mapping["created_at"],
    )


def message_row(message: Message, api_key_id: str | None) -> dict[str, Any]:
    """The column values that store ``message``."""
    return {
        "id": message.id,
        "account_id": message.account_id,
        "mode": message.mode.value,
        "direction": message.direction,
        "channel": message.channel,
        "connection_id": message.connection_id,
        "sender": message.sender,
        "recipient": message.recipient,
        "content": message.content,
        "metadata": message.metadata,
        "reply_to": message.reply_to,
        "status": message.status.value,
        "error_code": message.error_code,
        "error_message": message.error_message,
        "provider_message_id": message.provider_message_id,
        "api_key_id": api_key_id,
        "event_seq": 1,
        "created_at": message.created_at,
        "updated_at": message.updated_at,
        "schedule_at": message.schedule_at,
        "chain_id": message.chain_id,
        "chain_step": message.chain_step,
        "fallback": [step.to_json() for step in message.fallback] or None,
        "fallback_message_id": message.fallback_message_id,
        "options": message.options,
        "price": message.price,
        "billing": message.billing,
        "contact_id": message.contact_id,
        "distribution_id": message.distribution_id,
    }


def first_event_row(message: Message) -> dict[str, Any]:
    """The column values of a new message's first event (sequence 1)."""
    return {
        "id": new_id("evt"),
        "account_id": message.account_id,
        "message_id": message.id,
        "seq": 1,
        "type": "message.status" if message.direction == "outbound" else "message.received",
        "status": message.status.value,
        "detail": None,
        "created_at": message.created_at,
    }


INSERT_MESSAGES = insert(messages)
INSERT_EVENTS = insert(message_events)


async def insert_messages(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert new messages (rows from :func:`message_row`)."""
    if rows:
        await conn.execute(INSERT_MESSAGES, list(rows))


async def insert_event_rows(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ready-made event rows (their sequence numbers already known)."""
    if rows:
        await conn.execute(INSERT_EVENTS, list(rows))


def stage_new_messages(
    conn: AsyncConnection,
    message_rows: Sequence[dict[str, Any]],
    event_rows: Sequence[dict[str, Any]],
) -> None:
    """Stage new messages and their first events, inserted when the transaction commits.

    Nothing in the transaction can read them before that (see ``staged``).
    """
    writes = staged(conn)
    writes.add(INSERT_MESSAGES, message_rows)
    writes.add(INSERT_EVENTS, event_rows)


async def lock_message(conn: AsyncConnection, message_id: str) -> Message | None:
    """Read a message and hold its row until the transaction ends (PostgreSQL).

    Every writer of a message's status and events goes through here first, so that two
    receipts for one message are applied one after the other. (SQLite has one writer.)
    """
    row = (
        await conn.execute(select(messages).where(messages.c.id == message_id).with_for_update())
    ).first()
    return _message(row._mapping) if row else None


async def append_event(
    conn: AsyncConnection,
    *,
    account_id: str,
    message_id: str,
    type_: str,
    status: Status | None,
    detail: dict[str, Any] | None,
    at: datetime,
) -> None:
    """Append an event with the message's next sequence number (after :func:`lock_message`)."""
    seq = await conn.scalar(
        update(messages)
        .where(messages.c.id == message_id)
        .values(event_seq=messages.c.event_seq + 1)
        .returning(messages.c.event_seq)
    )
    await conn.execute(
        insert(message_events).values(
            id=new_id("evt"),
            account_id=account_id,
            message_id=message_id,
            seq=seq,
            type=type_,
            status=status.value if status else None,
            detail=detail,
            created_at=at,
        )
    )


async def get_message_by_id(conn: AsyncConnection, message_id: str) -> Message | None:
    """The message ``message_id`` of whichever account (for the worker only)."""
    row = (await conn.execute(select(messages).where(messages.c.id == message_id))).first()
    return _message(row._mapping) if row else None


async def get_messages_by_ids(conn: AsyncConnection, ids: Sequence[str]) -> dict[str, Message]:
    """The messages with these ids, by id (for the worker only)."""
    if not ids:
        return {}
    rows = await conn.execute(select(messages).where(messages.c.id.in_(list(ids))))
    return {row.id: _message(row._mapping) for row in rows}


async def get_message(
    conn: AsyncConnection, account_id: str, mode: KeyMode, message_id: str
) -> Message | None:
    """The message ``message_id`` if it belongs to the account and mode."""
    row = (
        await conn.execute(
            select(messages).where(
                messages.c.id == message_id,
                messages.c.account_id == account_id,
                messages.c.mode == mode.value,
            )
        )
    ).first()
    return _message(row._mapping) if row else None


async def list_events(conn: AsyncConnection, message_id: str) -> list[MessageEvent]:
    """A message's events in order."""
    rows = await conn.execute(
        select(message_events)
        .where(message_events.c.message_id == message_id)
        .order_by(message_events.c.seq)
    )
    return [_event(row._mapping) for row in rows]


@dataclass(frozen=True, slots=True)
class MessageFilter:
    """What ``list_messages`` may filter on; ``None`` means any."""

    status: Status | None = None
    channel: str | None = None
    recipient: str | None = None
    direction: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


async def list_messages(
    conn: AsyncConnection,
    account_id: str,
    mode: KeyMode,
    filters: MessageFilter,
    *,
    before_id: str | None,
    limit: int,
) -> list[Message]:
    """Messages newest first, starting after the cursor ``before_id``."""
    query: Select[Any] = select(messages).where(
        messages.c.account_id == account_id, messages.c.mode == mode.value
    )
    conditions = {
        messages.c.status: filters.status.value if filters.status else None,
        messages.c.channel: filters.channel,
        messages.c.recipient: filters.recipient,
        messages.c.direction: filters.direction,
    }
    for column, value in conditions.items():
        if value is not None:
            query = query.where(column == value)
    if filters.created_after is not None:
        query = query.where(messages.c.created_at >= filters.created_after)
    if filters.created_before is not None:
        query = query.where(messages.c.created_at < filters.created_before)
    if before_id is not None:
        query = query.where(messages.c.id < before_id)
    rows = await conn.execute(query.order_by(messages.c.id.desc()).limit(limit))
    return [_message(row._mapping) for row in rows]


async def set_status(
    conn: AsyncConnection,
    message_id: str,
    status: Status,
    at: datetime,
    *,
    provider_message_id: str | None = None,
    error_code: str | None = None,
    error_message: str | None = None,
) -> None:
    """Move a message to ``status`` (the caller has checked it moves forward)."""
    values: dict[str, Any] = {"status": status.value, "updated_at": at}
    if provider_message_id is not None:
        values["provider_message_id"] = provider_message_id
    if error_code is not None:
        values["error_code"] = error_code
        values["error_message"] = error_message
    await conn.execute(update(messages).where(messages.c.id == message_id).values(**values))


async def list_chain(conn: AsyncConnection, chain_id: str) -> list[Message]:
    """Every step of a fallback chain, first to last."""
    rows = await conn.execute(
        select(messages).where(messages.c.chain_id == chain_id).order_by(messages.c.chain_step)
    )
    return [_message(row._mapping) for row in rows]


async def set_fallback_message(conn: AsyncConnection, message_id: str, next_id: str) -> None:
    """Note which message a step's fallback started."""
    await conn.execute(
        update(messages).where(messages.c.id == message_id).values(fallback_message_id=next_id)
    )


@dataclass(frozen=True, slots=True)
class StatusRecord:
    """A status to record for one message: always as an event, and as its status if forward."""

    message_id: str
    account_id: str
    status: Status
    detail: dict[str, Any] | None
    at: datetime
    provider_message_id: str | None = None
    # The statuses this one may replace (those it moves forward from).
    replaces: frozenset[Status] = frozenset()


async def record_statuses(conn: AsyncConnection, records: Sequence[StatusRecord]) -> None:
    """Record many statuses with a few statements, whatever their number.

    Each message's event sequence is bumped (taking its row lock, in id order so that two
    writers never deadlock), the events are inserted with those numbers, and each message
    moves to its new status only from a status that status replaces.
    """
    ordered = sorted(records, key=lambda record: (record.message_id, record.at))
    if not ordered:
        return
    # One message may have several statuses here (a delivery and a read receipt due
    # together): its sequence moves by their number, and each takes its own place in it.
    counts = Counter(record.message_id for record in ordered)
    await conn.execute(
        update(messages)
        .where(messages.c.id == bindparam("b_id"))
        .values(event_seq=messages.c.event_seq + bindparam("b_count", type_=Integer())),
        [{"b_id": message_id, "b_count": count} for message_id, count in counts.items()],
    )
    places: list[int] = []
    for index, record in enumerate(ordered):
        first = index == 0 or ordered[index - 1].message_id != record.message_id
        places.append(0 if first else places[-1] + 1)
    seq = select(messages.c.event_seq - bindparam("b_back", type_=Integer())).where(
        messages.c.id == bindparam("b_message_id")
    )
    await conn.execute(
        insert(message_events).values(
            id=bindparam("b_event_id"),
            account_id=bindparam("b_account_id"),
            message_id=bindparam("b_message_id"),
            seq=seq.scalar_subquery(),
            type="message.status",
            status=bindparam("b_status"),
            detail=bindparam("b_detail", type_=message_events.c.detail.type),
            created_at=bindparam("b_at", type_=message_events.c.created_at.type),
        ),
        [
            {
                "b_event_id": new_id("evt"),
                "b_account_id": record.account_id,
                "b_message_id": record.message_id,
                "b_status": record.status.value,
                "b_detail": record.detail,
                "b_at": record.at,
                "b_back": counts[record.message_id] - 1 - place,
            }
            for record, place in zip(ordered, places, strict=True)
        ],
    )
    by_change: dict[tuple[Status, frozenset[Status]], list[StatusRecord]] = {}
    for record in ordered:
        by_change.setdefault((record.status, record.replaces), []).append(record)
    for (status, replaces), group in by_change.items():
        if not replaces:
            continue
        await conn.execute(
            update(messages)
            .where(
                messages.c.id == bindparam("b_id"),
                # Literal values: executemany() takes no expanding IN parameter. They are
                # our own enum values, never user input.
                or_(
                    *(messages.c.status == literal_column(f"'{s.value}'") for s in sorted(replaces))
                ),
            )
            .values(
                status=status.value,
                updated_at=bindparam("b_at", type_=messages.c.updated_at.type),
                provider_message_id=func.coalesce(
                    bindparam("b_provider_id", type_=String()), messages.c.provider_message_id
                ),
            ),
            [
                {"b_id": r.message_id, "b_at": r.at, "b_provider_id": r.provider_message_id}
                for r in group
            ],
        )


async def find_by_provider_id(
    conn: AsyncConnection, account_id: str, channel: str, provider_message_id: str, direction: str
) -> Message | None:
    """The account's message that the platform knows as ``provider_message_id``."""
    row = (
        await conn.execute(
            select(messages)
            .where(
                messages.c.channel == channel,
                messages.c.provider_message_id == provider_message_id,
                messages.c.account_id == account_id,
                messages.c.direction == direction,
            )
            .limit(1)
        )
    ).first()
    return _message(row._mapping) if row else None


async def sent_before(
    conn: AsyncConnection, connection_id: str, recipient: str, up_to: datetime
) -> list[Message]:
    """Outbound messages of a connection to ``recipient`` sent up to ``up_to`` and not yet read.

    Platforms that report receipts as watermarks (everything up to a time) need this.
    """
    rows = await conn.execute(
        select(messages).where(
            messages.c.connection_id == connection_id,
            messages.c.recipient == recipient,
            messages.c.direction == "outbound",
            messages.c.status.in_((Status.SENT.value, Status.DELIVERED.value)),
            messages.c.created_at <= up_to,
        )
    )
    return [_message(row._mapping) for row in rows]


async def count_outbound_since(
    conn: AsyncConnection,
    account_id: str,
    mode: str,
    channel: str,
    recipient: str,
    since: datetime,
) -> int:
    """How many messages the account has accepted for ``recipient`` on ``channel`` since
    ``since`` (canceled ones aside): a walk of the account's newest ids only."""
    floor = id_floor("msg", int(since.timestamp() * 1000))
    count = await conn.scalar(
        select(func.count()).where(
            messages.c.account_id == account_id,
            messages.c.mode == mode,
            messages.c.id >= floor,
            messages.c.channel == channel,
            messages.c.recipient == recipient,
            messages.c.direction == "outbound",
            messages.c.status != Status.CANCELED.value,
        )
    )
    return int(count or 0)
