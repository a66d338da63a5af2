"""Inbound attachments: recorded with their message, read back by the account that owns them.

When a webhook brings a message with a file, the message is stored with the file's own URL
on the gateway (``/v1/media/{id}``) and, in the same transaction, a ``media`` row and a
``media_fetch`` job; the webhook is acknowledged without waiting for the download, which the
worker does (``services.media_fetch``). The URL answers once the file is stored.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.domain.ids import new_id
from chatgate.domain.records import ApiKey, Message
from chatgate.errors import ChatgateError, Conflict, NotFound
from chatgate.services.job_kinds import MEDIA_FETCH_JOB
from chatgate.services.media_files import MediaFolder
from chatgate.storage import jobs as job_store
from chatgate.storage import media as media_store
from chatgate.storage.database import Database
from chatgate.storage.media import MediaStatus, StoredMedia

MEDIA_ID_PATTERN = r"^med_[0-9A-Z]{26}$"
# type/subtype as RFC 6838 allows them; anything else is not put in a Content-Type header.
_MIME_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")
_NAME_LENGTH = 255


class MediaUnavailable(ChatgateError):
    """The attachment will never be served: its download failed, or its file is gone."""

    status_code = 410
    code = "media_unavailable"


def media_url(public_url: str | None, media_id: str) -> str:
    """Where the account downloads an attachment: absolute under ``public_url`` if set.

    Without a public URL the gateway cannot know how callers reach it, so the URL stays
    relative to the API's base rather than naming a listen address that may be private.
    """
    path = f"/v1/media/{media_id}"
    return f"{public_url.rstrip('/')}{path}" if public_url else path


def clean_mime_type(value: object) -> str | None:
    """``type/subtype`` in lower case if ``value`` is a well-formed media type, else ``None``."""
    if not isinstance(value, str):
        return None
    essence = value.split(";", 1)[0].strip().lower()
    return essence if _MIME_TYPE.fullmatch(essence) else None


def clean_filename(value: object) -> str | None:
    """A file name safe to store and to offer back: no directories, no control characters."""
    if not isinstance(value, str):
        return None
    name = value.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    return name[:_NAME_LENGTH] or None


@dataclass(frozen=True, slots=True)
class PendingMedia:
    """An attachment about to be recorded, and its message's content pointing at it."""

    id: str
    reference: str
    mime_type: str | None
    filename: str | None
    content: dict[str, Any]


def plan_media(content: Mapping[str, Any], public_url: str | None) -> PendingMedia | None:
    """If ``content`` carries an inbound file: a new media id and the content with its URL.

    The content's ``media`` part gains ``media_id`` and ``url``; the platform's
    ``reference`` stays, as the platform's own name for the file.
    """
    part = content.get("media") if content.get("type") == "media" else None
    if not isinstance(part, Mapping):
        return None
    reference = part.get("reference")
    if not isinstance(reference, str) or not reference:
        return None
    media_id = new_id("med")
    url = media_url(public_url, media_id)
    return PendingMedia(
        id=media_id,
        reference=reference,
        mime_type=clean_mime_type(part.get("mime_type")),
        filename=clean_filename(part.get("filename")),
        content={**content, "media": {**part, "media_id": media_id, "url": url}},
    )


async def record_pending(
    conn: AsyncConnection, pending: PendingMedia, message: Message, now: datetime
) -> None:
    """Store the attachment's row and its download job, in the message's transaction."""
    if message.connection_id is None:
        raise ValueError("inbound media comes through a channel connection")
    await media_store.insert_media(
        conn,
        StoredMedia(
            id=pending.id,
            account_id=message.account_id,
            mode=message.mode,
            message_id=message.id,
            connection_id=message.connection_id,
            reference=pending.reference,
            status=MediaStatus.PENDING,
            mime_type=pending.mime_type,
            size=None,
            sha256=None,
            filename=pending.filename,
            path=None,
            error_code=None,
            error_message=None,
            created_at=now,
            stored_at=None,
        ),
    )
    job = job_store.job_row(
        MEDIA_FETCH_JOB, now, message_id=message.id, payload={"media_id": pending.id}
    )
    await job_store.enqueue(conn, [job])


@dataclass(frozen=True, slots=True)
class ServableMedia:
    """A stored attachment of the caller's account, and the file that holds it."""

    media: StoredMedia
    file: Path


async def servable_media(
    database: Database, folder: MediaFolder, key: ApiKey, media_id: str
) -> ServableMedia:
    """The stored attachment ``media_id`` of the key's account and mode.

    404 if the account has none by that id, 409 ``media_pending`` while it downloads, 410
    ``media_unavailable`` once its download failed (naming why) or its file went missing.
    """
    async with database.read() as conn:
        found = await media_store.get_media(conn, media_id, key.account_id, key.mode)
    return _servable(folder, media_id, found)


async def linked_media(database: Database, folder: MediaFolder, media_id: str) -> ServableMedia:
    """The stored attachment ``media_id`` of whichever account, for a signed link that names
    it (the link's signature is the caller's authority); refused as
    :func:`servable_media` refuses."""
    async with database.read() as conn:
        found = (await media_store.get_media_by_ids(conn, [media_id])).get(media_id)
    return _servable(folder, media_id, found)


def _servable(folder: MediaFolder, media_id: str, found: StoredMedia | None) -> ServableMedia:
    if found is None:
        raise NotFound(f"no media {media_id}", field="id")
    if found.status is MediaStatus.PENDING:
        raise Conflict(
            "the media is still being downloaded from the platform; try again shortly",
            code="media_pending",
            field="id",
        )
    if found.status is MediaStatus.FAILED or found.path is None:
        reason = f"{found.error_code}: {found.error_message}" if found.error_code else "unknown"
        raise MediaUnavailable(f"the media could not be downloaded ({reason})", field="id")
    file = folder.locate(found.path)
    if not file.is_file():
        raise MediaUnavailable("the media's stored file is missing", field="id")
    return ServableMedia(found, file)
