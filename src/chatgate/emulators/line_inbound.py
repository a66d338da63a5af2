"""Users of a LINE Official Account, as the LINE emulator plays them: the events it posts.

Each event has LINE's common fields (``type``, ``mode``, ``timestamp`` in ms, ``source``,
``webhookEventId`` (a ULID), ``deliveryContext``) and, where LINE gives one, a fresh
``replyToken``. Files a user sends are kept so that the content route can serve them.
"""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from chatgate.emulators.core import EmulatorState

_ULID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# Our media kinds and LINE's message types.
_MEDIA_TYPES = {"image": "image", "video": "video", "audio": "audio", "document": "file"}


@dataclass
class ReplyToken:
    """A reply token LINE issued with an event: for one reply, to the event's chat."""

    chat: str
    issued_at: float
    used: bool = False


@dataclass
class BotState:
    """What the emulator remembers of one channel: its tokens, retry keys and numbering."""

    bot_user_id: str
    reply_tokens: dict[str, ReplyToken] = field(default_factory=dict)
    # X-Line-Retry-Key -> (request id, sentMessages) of the accepted push.
    retry_keys: dict[str, tuple[str, list[dict[str, str]]]] = field(default_factory=dict)
    media: set[str] = field(default_factory=set)
    # The last event posted, and our reference to it: what a redelivery sends again.
    last_event: tuple[str, dict[str, Any]] | None = None


def now_ms() -> int:
    """LINE dates events in milliseconds."""
    return int(time.time() * 1000)


def new_message_id(state: EmulatorState) -> str:
    """An 18-digit LINE message id."""
    return str(500_000_000_000_000_000 + state.next_number())


def new_ulid() -> str:
    """A ULID-looking webhook event id."""
    return "".join(secrets.choice(_ULID_ALPHABET) for _ in range(26))


def new_quote_token() -> str:
    """A quote token: opaque base64url text."""
    return secrets.token_urlsafe(96)


def source_of(payload: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The event's ``source`` and the chat a reply to it goes to."""
    user = str(payload.get("from") or "")
    group = payload.get("group_id")
    if isinstance(group, str) and group:
        return {"type": "group", "groupId": group, "userId": user}, group
    return {"type": "user", "userId": user}, user


def event_head(kind: str, source: dict[str, Any]) -> dict[str, Any]:
    """The fields every event has (a first delivery)."""
    return {
        "type": kind,
        "webhookEventId": new_ulid(),
        "deliveryContext": {"isRedelivery": False},
        "timestamp": now_ms(),
        "source": source,
        "mode": "active",
    }


def issue_reply_token(bot: BotState, chat: str) -> str:
    """A new reply token for an event of ``chat``."""
    token = secrets.token_hex(16)
    bot.reply_tokens[token] = ReplyToken(chat, time.time())
    return token


def message_object(state: EmulatorState, bot: BotState, payload: dict[str, Any]) -> dict[str, Any]:
    """The ``message`` of a message event, from the control API's payload."""
    message: dict[str, Any] = {"id": new_message_id(state)}
    if isinstance(payload.get("text"), str):
        message.update(type="text", text=payload["text"], quoteToken=new_quote_token())
    elif isinstance(payload.get("media"), dict):
        message.update(_media(state, bot, message["id"], payload["media"]))
    elif isinstance(payload.get("location"), dict):
        location = payload["location"]
        message.update(
            type="location",
            latitude=float(location["latitude"]),
            longitude=float(location["longitude"]),
        )
        for ours, theirs in (("name", "title"), ("address", "address")):
            if location.get(ours):
                message[theirs] = location[ours]
    elif isinstance(payload.get("sticker"), dict):
        sticker = payload["sticker"]
        message.update(
            type="sticker",
            packageId=str(sticker.get("package_id") or "446"),
            stickerId=str(sticker.get("sticker_id") or "1988"),
            stickerResourceType="STATIC",
            keywords=["Hello"],
            quoteToken=new_quote_token(),
        )
    else:
        raise ValueError("give one of text, media, location, sticker, postback, follow, unfollow")
    if isinstance(payload.get("quoted_message_id"), str):
        message["quotedMessageId"] = payload["quoted_message_id"]
    return message


def _media(
    state: EmulatorState, bot: BotState, message_id: str, media: dict[str, Any]
) -> dict[str, Any]:
    kind = str(media.get("kind"))
    if kind not in _MEDIA_TYPES:
        raise ValueError(f"media.kind: one of {sorted(_MEDIA_TYPES)}")
    content = base64.b64decode(media.get("content_base64") or "", validate=True)
    mime_type = str(media.get("mime_type") or "application/octet-stream")
    state.media[message_id] = (content, mime_type)
    bot.media.add(message_id)
    fields: dict[str, Any] = {"type": _MEDIA_TYPES[kind]}
    if kind == "document":
        fields.update(fileName=str(media.get("filename") or "file.bin"), fileSize=len(content))
        return fields
    fields["contentProvider"] = {"type": "line"}
    if kind in ("video", "audio"):
        fields["duration"] = 3000
    if kind in ("image", "video"):
        fields["quoteToken"] = new_quote_token()
    return fields
