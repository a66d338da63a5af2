"""What the new-chat cap of a linked-device session counts: chats it started with numbers
that had never written to its account (see :mod:`chatgate.services.session_send`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Exists, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.storage.tables import messages

_LIVE = "live"


def _wrote_before(
    account_id: str, channel: str, peer: ColumnElement[Any], before: ColumnElement[Any]
) -> Exists:
    """An inbound message from ``peer`` on the account's ``channel`` before ``before``."""
    m = messages.alias("inbound")
    return exists().where(
        m.c.account_id == account_id,
        m.c.mode == _LIVE,
        m.c.channel == channel,
        m.c.direction == "inbound",
        m.c.sender == peer,
        m.c.created_at < before,
    )


async def has_chat(
    conn: AsyncConnection, account_id: str, channel: str, connection_id: str, peer: str
) -> bool:
    """Whether a message to ``peer`` would continue a chat: ``peer`` wrote to the account
    on ``channel``, or the connection wrote to ``peer`` before."""
    c = messages.c
    found = await conn.scalar(
        select(
            exists().where(
                c.account_id == account_id,
                c.mode == _LIVE,
                c.channel == channel,
                or_(
                    and_(c.direction == "inbound", c.sender == peer),
                    and_(
                        c.direction == "outbound",
                        c.connection_id == connection_id,
                        c.recipient == peer,
                    ),
                ),
            )
        )
    )
    return bool(found)


async def new_chats_since(
    conn: AsyncConnection, account_id: str, channel: str, connection_id: str, since: datetime
) -> int:
    """How many chats the connection started since ``since``: recipients whose first
    message from it is that recent and who had not written to the account before it."""
    c = messages.c
    first = (
        select(c.recipient, func.min(c.created_at).label("first_at"))
        .where(
            c.account_id == account_id,
            c.mode == _LIVE,
            c.channel == channel,
            c.direction == "outbound",
            c.connection_id == connection_id,
        )
        .group_by(c.recipient)
        .having(func.min(c.created_at) >= since)
        .subquery()
    )
    count = await conn.scalar(
        select(func.count())
        .select_from(first)
        .where(~_wrote_before(account_id, channel, first.c.recipient, first.c.first_at))
    )
    return int(count or 0)
