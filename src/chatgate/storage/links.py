"""Queries on tracked links: staged with their message at accept, counted on each click."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.storage.staged import staged
from chatgate.storage.tables import tracked_links


@dataclass(frozen=True, slots=True)
class TrackedLink:
    """A link a click on ``/l/{code}`` leads to, and the message it was sent in."""

    code: str
    account_id: str
    message_id: str
    url: str


INSERT_LINKS = insert(tracked_links)


def link_row(link: TrackedLink, at: datetime) -> dict[str, Any]:
    """The column values that store a new ``link``, not clicked yet."""
    return {
        "code": link.code,
        "account_id": link.account_id,
        "message_id": link.message_id,
        "url": link.url,
        "created_at": at,
        "clicks": 0,
        "last_clicked_at": None,
    }


def stage_links(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """Stage new links (rows from :func:`link_row`), inserted after their messages at commit."""
    staged(conn).add(INSERT_LINKS, rows)


async def record_click(conn: AsyncConnection, code: str, at: datetime) -> TrackedLink | None:
    """Count a click on ``code`` and return its link; ``None`` if there is no such code.

    One statement reads and counts, so that concurrent clicks are each counted once.
    """
    row = (
        await conn.execute(
            update(tracked_links)
            .where(tracked_links.c.code == code)
            .values(clicks=tracked_links.c.clicks + 1, last_clicked_at=at)
            .returning(
                tracked_links.c.code,
                tracked_links.c.account_id,
                tracked_links.c.message_id,
                tracked_links.c.url,
            )
        )
    ).first()
    if row is None:
        return None
    return TrackedLink(row.code, row.account_id, row.message_id, row.url)
