"""The webhooks TikTok Business Messaging sends, as objects, and the users' messages in them.

Every webhook is ``{"client_key", "event", "create_time", "user_openid", "content"}`` with
``content`` a JSON document serialised into a string; it is signed with ``TikTok-Signature``
over the exact bytes sent. A user's message (``im_receive_msg``) is built from a control
API payload with one of ``text``, ``image`` / ``video`` ``{content_base64, mime_type?}``,
``reaction`` ``{message_id, emoji?, operation?}`` or ``share_post`` ``{video_id,
embed_url?}``, and optionally ``reply_to`` (a message id to quote).
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

CLIENT_KEY = "awemulatortiktok1"
BUSINESS_ROLE = "business_account"
USER_ROLE = "personal_account"

# Keeps received content (bytes, MIME type) and answers the media id it is found under.
MediaStore = Callable[[bytes, str], str]


@dataclass
class Conversation:
    """A user's conversation with a business, as the emulator remembers it."""

    id: str
    user_id: str
    username: str
    message_ids: set[str] = field(default_factory=set)
    # Business messages since the user's last message (TikTok caps them).
    sent_since_user: int = 0


def new_message_id() -> str:
    """A fresh message id, shaped like TikTok's (base64 of 20 bytes)."""
    return base64.b64encode(secrets.token_bytes(20)).decode("ascii")


def now_ms() -> int:
    """The time as TikTok's contents write it: milliseconds since the epoch."""
    return int(time.time() * 1000)


def serialize(body: dict[str, Any]) -> bytes:
    """A webhook body as sent: compact JSON, UTF-8 left unescaped."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def envelope(business_id: str, event: str, content: dict[str, Any]) -> dict[str, Any]:
    """The webhook around one event's ``content``."""
    return {
        "client_key": CLIENT_KEY,
        "event": event,
        "create_time": int(time.time()),
        "user_openid": business_id,
        "content": json.dumps(content, ensure_ascii=False, separators=(",", ":")),
    }


def _sides(business_id: str, conversation: Conversation, *, from_user: bool) -> dict[str, Any]:
    user = {"id": conversation.user_id, "role": USER_ROLE}
    business = {"id": business_id, "role": BUSINESS_ROLE}
    return {
        "from": conversation.username if from_user else business_id,
        "from_user": user if from_user else business,
        "to": business_id if from_user else conversation.username,
        "to_user": business if from_user else user,
    }


def user_message(
    business_id: str, conversation: Conversation, payload: dict[str, Any], store: MediaStore
) -> tuple[str, dict[str, Any]]:
    """The ``im_receive_msg`` of what ``payload`` says the user wrote; its message id."""
    message_id = new_message_id()
    content: dict[str, Any] = {
        "conversation_id": conversation.id,
        "message_id": message_id,
        "timestamp": now_ms(),
        **_sides(business_id, conversation, from_user=True),
        "unique_identifier": conversation.user_id,
        **_typed(payload, store),
    }
    if payload.get("reply_to"):
        content["referenced_message_info"] = {"referenced_message_id": str(payload["reply_to"])}
    return message_id, envelope(business_id, "im_receive_msg", content)


def _typed(payload: dict[str, Any], store: MediaStore) -> dict[str, Any]:
    if payload.get("text") is not None:
        return {"type": "text", "text": {"body": str(payload["text"])}}
    for kind in ("image", "video"):
        if isinstance(payload.get(kind), dict):
            media = payload[kind]
            content = base64.b64decode(media.get("content_base64", ""), validate=True)
            default = "image/jpeg" if kind == "image" else "video/mp4"
            media_id = store(content, str(media.get("mime_type") or default))
            return {"type": kind, kind: {"media_id": media_id}}
    if isinstance(payload.get("reaction"), dict):
        reaction = payload["reaction"]
        operation = str(reaction.get("operation") or "ADD")
        item = {
            "operation": operation,
            "type": "EMOJI",
            "emoji": str(reaction.get("emoji") or ""),
            "original_msg_id": str(reaction["message_id"]),
        }
        return {"type": "reaction", "reaction": [item]}
    if isinstance(payload.get("share_post"), dict):
        post = payload["share_post"]
        shared = {"video_id": str(post["video_id"])}
        if post.get("embed_url"):
            shared["embed_url"] = str(post["embed_url"])
        return {"type": "share_post", "share_post": shared}
    raise ValueError("give one of text, image, video, reaction or share_post")


def echo(
    business_id: str, conversation: Conversation, message_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    """The ``im_send_msg`` TikTok sends after a business message went out."""
    content: dict[str, Any] = {
        "conversation_id": conversation.id,
        "message_id": message_id,
        "timestamp": now_ms(),
        **_sides(business_id, conversation, from_user=False),
        "message_tag": {"source": "API"},
    }
    kind = str(body.get("message_type", "")).lower()
    content["type"] = kind
    if kind in ("text", "image") and isinstance(body.get(kind), dict):
        content[kind] = body[kind]
    return envelope(business_id, "im_send_msg", content)


def read_receipt(business_id: str, conversation: Conversation) -> dict[str, Any]:
    """The ``im_mark_read_msg`` of the user reading the conversation now."""
    content: dict[str, Any] = {
        "conversation_id": conversation.id,
        "timestamp": now_ms(),
        **_sides(business_id, conversation, from_user=True),
        "read": {"last_read_timestamp": now_ms()},
    }
    return envelope(business_id, "im_mark_read_msg", content)
