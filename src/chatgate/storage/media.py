"""Queries on inbound media: the row an attachment gets with its message, and its outcome."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.domain.keys import KeyMode
from chatgate.storage.tables import media


class MediaStatus(StrEnum):
    """Where an attachment is: waiting for its download, on disk, or given up on."""

    PENDING = "pending"
    STORED = "stored"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class StoredMedia:
    """One inbound attachment as the store holds it."""

    id: str
    account_id: str
    mode: KeyMode
    message_id: str
    connection_id: str
    reference: str
    status: MediaStatus
    mime_type: str | None
    size: int | None
    sha256: str | None
    filename: str | None
    path: str | None
    error_code: str | None
    error_message: str | None
    created_at: datetime
    stored_at: datetime | None


def _media(row: Any) -> StoredMedia:
    values = dict(row._mapping)
    values["mode"] = KeyMode(values["mode"])
    values["status"] = MediaStatus(values["status"])
    return StoredMedia(**values)


async def insert_media(conn: AsyncConnection, item: StoredMedia) -> None:
    """Store a new attachment row in the caller's transaction."""
    await conn.execute(
        insert(media).values(
            id=item.id,
            account_id=item.account_id,
            mode=item.mode.value,
            message_id=item.message_id,
            connection_id=item.connection_id,
            reference=item.reference,
            status=item.status.value,
            mime_type=item.mime_type,
            size=item.size,
            sha256=item.sha256,
            filename=item.filename,
            path=item.path,
            error_code=item.error_code,
            error_message=item.error_message,
            created_at=item.created_at,
            stored_at=item.stored_at,
        )
    )


async def get_media(
    conn: AsyncConnection, media_id: str, account_id: str, mode: KeyMode
) -> StoredMedia | None:
    """An attachment of ``account_id`` in ``mode``; ``None`` for any other account's."""
    row = (
        await conn.execute(
            select(media).where(
                media.c.id == media_id,
                media.c.account_id == account_id,
                media.c.mode == mode.value,
            )
        )
    ).first()
    return None if row is None else _media(row)


async def get_media_by_ids(conn: AsyncConnection, ids: Sequence[str]) -> dict[str, StoredMedia]:
    """Attachments by id, of any account (for the worker); unknown ids are left out."""
    if not ids:
        return {}
    rows = await conn.execute(select(media).where(media.c.id.in_(sorted(set(ids)))))
    return {item.id: item for item in map(_media, rows)}


async def mark_stored(
    conn: AsyncConnection,
    media_id: str,
    *,
    path: str,
    size: int,
    sha256: str,
    mime_type: str | None,
    filename: str | None,
    at: datetime,
) -> bool:
    """Record a finished download of a pending attachment; ``False`` if it was not pending."""
    result = await conn.execute(
        update(media)
        .where(media.c.id == media_id, media.c.status == MediaStatus.PENDING.value)
        .values(
            status=MediaStatus.STORED.value,
            path=path,
            size=size,
            sha256=sha256,
            mime_type=mime_type,
            filename=filename,
            stored_at=at,
        )
    )
    return bool(result.rowcount)


async def mark_failed(conn: AsyncConnection, media_id: str, *, code: str, message: str) -> bool:
    """Give up on a pending attachment; ``False`` if it was not pending."""
    result = await conn.execute(
        update(media)
        .where(media.c.id == media_id, media.c.status == MediaStatus.PENDING.value)
        .values(status=MediaStatus.FAILED.value, error_code=code[:64], error_message=message)
    )
    return bool(result.rowcount)
