"""Media on WhatsApp Cloud API, emulated: uploads, their descriptions, downloads, deletion.

- ``POST /{version}/{phone_number_id}/media``, a ``multipart/form-data`` form with ``file``,
  ``type`` (its MIME type) and ``messaging_product=whatsapp``, answers ``{"id": "<media
  id>"}``; the media can then be sent by ``{"id": ...}`` instead of ``{"link": ...}``.
  Refused as Cloud API refuses: ``(#100) The parameter file is required.``, a file of a type
  WhatsApp does not take (``(#100) Param file must be a file with one of the following
  types: ... Received file of type '...'``), and a file over its type's size (``(#100)
  Invalid parameter``, ``error_user_title`` "File Too Large"). The type is the file part's
  own ``Content-Type``, as Meta reads it, not the ``type`` field.
- ``GET /{version}/{media_id}`` describes uploaded media and media a user sent: ``{url,
  mime_type, sha256, file_size, id, messaging_product}``; its URL (the "lookaside" download)
  wants the Bearer token too.
- ``DELETE /{version}/{media_id}`` forgets it: ``{"success": true}``.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from chatgate.emulators.core import Account, EmulatorState
from chatgate.emulators.graph import PREFIX, bearer_token, graph_error
from chatgate.emulators.multipart import FormPart

LOOKASIDE_PATH = f"{PREFIX}/_lookaside/whatsapp_business/attachments"

_MB = 1024 * 1024
# What an upload may be, in the order Meta's refusal lists the types, with the largest file
# of each (Meta's supported-media table: audio and video 16 MB, documents 100 MB, images
# 5 MB, WebP stickers 500 KB when animated).
UPLOAD_LIMITS: dict[str, int] = {
    "audio/aac": 16 * _MB,
    "audio/mp4": 16 * _MB,
    "audio/mpeg": 16 * _MB,
    "audio/amr": 16 * _MB,
    "audio/ogg": 16 * _MB,
    "audio/opus": 16 * _MB,
    "application/vnd.ms-powerpoint": 100 * _MB,
    "application/msword": 100 * _MB,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": 100 * _MB,
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": 100 * _MB,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": 100 * _MB,
    "application/pdf": 100 * _MB,
    "text/plain": 100 * _MB,
    "application/vnd.ms-excel": 100 * _MB,
    "image/jpeg": 5 * _MB,
    "image/png": 5 * _MB,
    "image/webp": 500 * 1024,
    "video/mp4": 16 * _MB,
    "video/3gpp": 16 * _MB,
}
# A file part that names no type of its own reaches Meta as this.
UNTYPED = "application/octet-stream"

Accounts = Callable[[], Mapping[str, Account]]


class WhatsAppMedia:
    """The media of the emulated WhatsApp numbers: what users sent and what was uploaded.

    The bytes live in the state's shared media store; this keeps which ids are WhatsApp's.
    """

    def __init__(self, state: EmulatorState, accounts: Accounts) -> None:
        self.state = state
        self._accounts = accounts
        self._ids: set[str] = set()

    def keep(self, content: bytes, mime_type: str) -> str:
        """Store media (sent by a user, or uploaded); its id, as Meta's media ids look."""
        media_id = str(10**15 + secrets.randbelow(9 * 10**15))
        self.state.media[media_id] = (content, mime_type)
        self._ids.add(media_id)
        return media_id

    def upload(self, body: Any) -> tuple[Response, dict[str, Any]]:
        """Answer ``POST /{phone_number_id}/media``; also what the call log keeps of it
        (the form's fields and the file's name, type and size, not its bytes)."""
        fields = body if isinstance(body, dict) else {}
        file = fields.get("file")
        logged: dict[str, Any] = {
            name: value for name, value in fields.items() if not isinstance(value, FormPart)
        }
        if isinstance(file, FormPart):
            logged["file"] = {
                "filename": file.filename,
                "content_type": file.content_type,
                "size": len(file.content),
            }
        refusal = _upload_problem(fields)
        if refusal is not None:
            return refusal, logged
        assert isinstance(file, FormPart)  # _upload_problem refused anything else
        media_id = self.keep(file.content, str(file.content_type))
        return JSONResponse({"id": media_id}), {**logged, "id": media_id}

    def describe(self, media_id: str, request: Request) -> Response | None:
        """``GET /{version}/{media_id}``: the media's download URL and facts, or ``None``
        when the id is not WhatsApp media."""
        stored = self.state.media.get(media_id) if media_id in self._ids else None
        if stored is None:
            return None
        if not self._token_known(bearer_token(request)):
            return invalid_token()
        content, mime_type = stored
        url = (
            f"{str(request.base_url).rstrip('/')}{LOOKASIDE_PATH}"
            f"?mid={media_id}&ext={int(time.time())}&hash={secrets.token_urlsafe(12)}"
        )
        return JSONResponse(
            {
                "url": url,
                "mime_type": mime_type,
                "sha256": hashlib.sha256(content).hexdigest(),
                "file_size": len(content),
                "id": media_id,
                "messaging_product": "whatsapp",
            }
        )

    def delete(self, media_id: str, request: Request) -> Response | None:
        """``DELETE /{version}/{media_id}``: forget the media, or ``None`` when the id is
        not WhatsApp media."""
        if media_id not in self._ids:
            return None
        if not self._token_known(bearer_token(request)):
            return invalid_token()
        self._ids.discard(media_id)
        self.state.media.pop(media_id, None)
        return JSONResponse({"success": True})

    def router(self) -> APIRouter:
        """The lookaside download, which (like Meta's) wants the Bearer token."""
        router = APIRouter(include_in_schema=False)

        @router.get(LOOKASIDE_PATH)
        async def lookaside(request: Request, mid: str = "") -> Response:
            if not self._token_known(bearer_token(request)):
                return Response(status_code=401)
            answer = self.state.media_answer(mid) if mid in self._ids else None
            return Response(status_code=404) if answer is None else answer

        return router

    def _token_known(self, token: str | None) -> bool:
        return token is not None and any(
            hmac.compare_digest(account.secrets["access_token"], token)
            for account in self._accounts().values()
        )


def invalid_token() -> JSONResponse:
    """Graph's answer to a call whose access token it cannot read."""
    return graph_error(401, 190, "Invalid OAuth access token - Cannot parse access token")


def _upload_problem(fields: Mapping[str, Any]) -> Response | None:
    """Cloud API's refusal of an upload form, or ``None``."""
    product = fields.get("messaging_product")
    if not product:
        return _required("messaging_product")
    if product != "whatsapp":
        return graph_error(
            400,
            100,
            f'(#100) Param messaging_product must be one of {{WHATSAPP}} - got "{product}".',
        )
    file = fields.get("file")
    if not isinstance(file, FormPart):
        return _required("file")
    if not fields.get("type"):
        return _required("type")
    mime_type = file.content_type or UNTYPED
    limit = UPLOAD_LIMITS.get(mime_type)
    if limit is None:
        return graph_error(
            400,
            100,
            "(#100) Param file must be a file with one of the following types: "
            f"{', '.join(UPLOAD_LIMITS)}. Received file of type '{mime_type}'.",
        )
    if len(file.content) > limit:
        return graph_error(
            400,
            100,
            "(#100) Invalid parameter",
            user_title="File Too Large",
            user_msg=(
                f"The file you uploaded is too large: files of type {mime_type} can be at "
                f"most {_size(limit)}."
            ),
        )
    return None


def _required(name: str) -> JSONResponse:
    return graph_error(400, 100, f"(#100) The parameter {name} is required.")


def _size(limit: int) -> str:
    return f"{limit // _MB} MB" if limit >= _MB else f"{math.ceil(limit / 1024)} KB"
