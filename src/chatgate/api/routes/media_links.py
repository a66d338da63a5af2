"""``/media-links/{token}``: an inbound file through a signed link, without a key.

Dialect webhooks carry attachments as such links (see :mod:`chatgate.services.media_links`),
so that a vendor's receiver downloads them as it did from the vendor. The token is the
authority: unknown or forged 404, expired 410, still downloading 409.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import FileResponse

from chatgate.api.routes.media import FILE_RESPONSES, file_answer
from chatgate.api.schemas.common import ErrorEnvelope
from chatgate.api.state import gateway_of
from chatgate.services.media import linked_media
from chatgate.services.media_files import MediaFolder
from chatgate.services.media_links import PATH, MediaLinks
from chatgate.storage.types import utcnow

router = APIRouter(prefix=PATH, tags=["media"])

_RESPONSES: dict[int | str, dict[str, object]] = {
    **FILE_RESPONSES,
    404: {"model": ErrorEnvelope, "description": "No such link (or a forged one)"},
    410: {"model": ErrorEnvelope, "description": "`link_expired`, or `media_unavailable`"},
}
# Whoever holds the link may fetch it, but no shared cache may keep it past its expiry, and
# no browser may render it as a page of the gateway's origin.
_HEADERS = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}


@router.get("/{token}", response_class=FileResponse, responses=_RESPONSES)
async def download_linked_media(
    request: Request,
    token: Annotated[str, Path(max_length=200, description="the signed token of the link")],
) -> FileResponse:
    """An inbound file named by a signed, unexpired link."""
    gateway = gateway_of(request)
    settings = gateway.settings
    media_id = MediaLinks.of(settings).media_id(token, utcnow())
    folder = MediaFolder(settings.media_path, settings.media_max_bytes)
    found = await linked_media(gateway.database, folder, media_id)
    return file_answer(found, _HEADERS)
