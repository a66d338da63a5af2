"""``/v1/media/{id}``: the files users sent, as the gateway downloaded and stored them.

An inbound message with a file carries ``content.media.url`` and ``content.media.media_id``;
the URL answers with the file to a key of the owning account that may read messages. While
the download is under way it answers 409 ``media_pending`` (a final answer would be wrong,
and a 202 would be a success without the file): try again after a moment.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import FileResponse

from chatgate.api.auth import require
from chatgate.api.schemas.common import ERROR_RESPONSES, ErrorEnvelope
from chatgate.api.state import gateway_of
from chatgate.domain.keys import Scope
from chatgate.domain.records import ApiKey
from chatgate.services.media import MEDIA_ID_PATTERN, ServableMedia, servable_media
from chatgate.services.media_files import MediaFolder

router = APIRouter(prefix="/v1/media", tags=["media"], responses=ERROR_RESPONSES)

# A stored file's answers, wherever it is served from.
FILE_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "description": "The file, with the type the platform gave it",
        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
    },
    409: {"model": ErrorEnvelope, "description": "`media_pending`: still downloading"},
}
_RESPONSES: dict[int | str, dict[str, object]] = {
    **FILE_RESPONSES,
    410: {"model": ErrorEnvelope, "description": "`media_unavailable`: the download failed"},
}
# The file is the user's, shown only to the account: no shared cache may keep it, and no
# browser may render it as a page of the gateway's origin.
_HEADERS = {"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"}


@router.get("/{media_id}", response_class=FileResponse, responses=_RESPONSES)
async def download_media(
    request: Request,
    media_id: Annotated[str, Path(pattern=MEDIA_ID_PATTERN, description="med_…")],
    key: ApiKey = Depends(require(Scope.MESSAGES_READ)),
) -> FileResponse:
    """A file a user sent: 409 while it downloads, 410 if it cannot be had."""
    gateway = gateway_of(request)
    settings = gateway.settings
    folder = MediaFolder(settings.media_path, settings.media_max_bytes)
    found = await servable_media(gateway.database, folder, key, media_id)
    return file_answer(found, _HEADERS)


def file_answer(found: ServableMedia, headers: dict[str, str]) -> FileResponse:
    """The stored file with its type and name (one without a name is an attachment, never
    shown inline), and ``headers``."""
    headers = dict(headers)
    if found.media.filename is None:
        headers["Content-Disposition"] = "attachment"
    return FileResponse(
        found.file,
        media_type=found.media.mime_type or "application/octet-stream",
        filename=found.media.filename,
        headers=headers,
    )
