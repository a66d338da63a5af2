"""The ``messages`` object of a user's message, built from a control API ``inbound`` payload.

The payload gives one of ``text``, ``media`` ``{kind, content_base64, mime_type?, caption?,
filename?, voice?}``, ``location`` ``{latitude, longitude, name?, address?}``, ``reply``
``{kind?, id, title}`` (a tapped reply button, list row or template quick-reply button),
``reaction`` ``{message_id, emoji?}`` or ``contacts`` (a list of contact cards); the answer
holds ``type`` and the field of that type, as Cloud API writes them in a webhook.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any

MEDIA_TYPES = ("audio", "document", "image", "sticker", "video")

# Keeps received content (bytes, MIME type) and answers the media id it is found under.
MediaStore = Callable[[bytes, str], str]


def inbound_fields(payload: dict[str, Any], store: MediaStore) -> dict[str, Any]:
    """``type`` and its field for the content ``payload`` gives; ``ValueError`` if none."""
    if payload.get("text") is not None:
        return {"type": "text", "text": {"body": str(payload["text"])}}
    if isinstance(payload.get("media"), dict):
        return _inbound_media(payload["media"], store)
    if isinstance(payload.get("location"), dict):
        return {"type": "location", "location": _location(payload["location"])}
    if isinstance(payload.get("reply"), dict):
        return _reply(payload["reply"])
    if isinstance(payload.get("reaction"), dict):
        reaction = payload["reaction"]
        body = {"message_id": str(reaction["message_id"]), "emoji": reaction.get("emoji", "")}
        return {"type": "reaction", "reaction": body}
    if isinstance(payload.get("contacts"), list):
        return {"type": "contacts", "contacts": payload["contacts"]}
    raise ValueError("give one of text, media, location, reply, reaction or contacts")


def _location(location: dict[str, Any]) -> dict[str, Any]:
    # A webhook carries the coordinates as JSON numbers, however the payload wrote them.
    shared: dict[str, Any] = {
        key: float(location[key]) for key in ("latitude", "longitude") if key in location
    }
    shared.update({key: location[key] for key in ("name", "address") if key in location})
    return shared


def _reply(reply: dict[str, Any]) -> dict[str, Any]:
    kind = reply.get("kind", "button_reply")
    if kind not in ("button_reply", "list_reply", "button"):
        raise ValueError("reply.kind: button_reply, list_reply or button")
    if kind == "button":
        # A template's quick-reply button arrives as its own message type.
        return {"type": "button", "button": {"payload": reply["id"], "text": reply["title"]}}
    chosen = {"id": str(reply["id"]), "title": str(reply["title"])}
    return {"type": "interactive", "interactive": {"type": kind, kind: chosen}}


def _inbound_media(media: dict[str, Any], store: MediaStore) -> dict[str, Any]:
    kind = media.get("kind")
    if kind not in MEDIA_TYPES:
        raise ValueError(f"media.kind: one of {', '.join(MEDIA_TYPES)}")
    content = base64.b64decode(media.get("content_base64", ""), validate=True)
    mime_type = str(media.get("mime_type") or "application/octet-stream")
    body: dict[str, Any] = {
        "mime_type": mime_type,
        "sha256": base64.b64encode(hashlib.sha256(content).digest()).decode(),
        "id": store(content, mime_type),
    }
    if media.get("caption") and kind in ("image", "video", "document"):
        body["caption"] = str(media["caption"])
    if kind == "document" and media.get("filename"):
        body["filename"] = str(media["filename"])
    if kind == "audio":
        body["voice"] = bool(media.get("voice", False))
    if kind == "sticker":
        body["animated"] = False
    return {"type": kind, kind: body}
