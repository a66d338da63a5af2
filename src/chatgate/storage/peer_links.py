"""Peer links: the further addresses of one user, each naming the peer of the user's thread.

A platform may name one user by several addresses (WhatsApp: the phone and the
business-scoped user id). The user's thread, and so the service window, is kept under one
of them, the *peer*; every other address is an *alias* linked to it. Links are only ever
added (insert-or-ignore on the alias), so a thread's peer never moves.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.storage.tables import peer_links
from chatgate.storage.upsert import insert_or_ignore_statement


async def peers_of(
    conn: AsyncConnection, account_id: str, mode: str, channel: str, addresses: Sequence[str]
) -> dict[str, str]:
    """The peer each of ``addresses`` that is an alias is linked to."""
    if not addresses:
        return {}
    p = peer_links.c
    rows = await conn.execute(
        select(p.alias, p.peer).where(
            p.account_id == account_id,
            p.mode == mode,
            p.channel == channel,
            p.alias.in_(sorted(set(addresses))),
        )
    )
    return {row.alias: row.peer for row in rows}


async def link(
    conn: AsyncConnection,
    account_id: str,
    mode: str,
    channel: str,
    aliases: Sequence[str],
    peer: str,
    at: datetime,
) -> None:
    """Link ``aliases`` to ``peer``; an alias already linked keeps its link."""
    rows = [
        {
            "account_id": account_id,
            "mode": mode,
            "channel": channel,
            "alias": alias,
            "peer": peer,
            "created_at": at,
        }
        for alias in sorted(set(aliases) - {peer})
    ]
    if rows:
        await conn.execute(insert_or_ignore_statement(conn.dialect.name, peer_links), rows)


def peer_of_address(account_id: Any, mode: Any, channel: Any, address: Any) -> Any:
    """A scalar subquery: the peer ``address`` is linked to (``NULL`` if it is none's alias).

    The arguments are columns or values, so that a query can resolve a row's address.
    """
    p = peer_links.c
    return (
        select(p.peer)
        .where(
            and_(
                p.account_id == account_id,
                p.mode == mode,
                p.channel == channel,
                p.alias == address,
            )
        )
        .scalar_subquery()
    )


def aliases_of(account_id: Any, mode: Any, channel: Any, peer: Any) -> Any:
    """A subquery of the aliases linked to ``peer``."""
    p = peer_links.c
    return select(p.alias).where(
        p.account_id == account_id, p.mode == mode, p.channel == channel, p.peer == peer
    )
