"""Telegram ``Update`` objects as our inbound events.

One webhook carries one Update: ``update_id`` and one field naming its kind. ``message``,
``callback_query`` (a pressed inline button or list row) and ``message_reaction`` become
:class:`InboundMessage` values; every other kind (``edited_message``, ``my_chat_member``,
``channel_post``...) and any message we cannot read is an :class:`UnknownEvent` named after
that field.

- ``sender`` is the chat id, whatever the chat type: it is what a reply is sent to.
- ``recipient`` is the bot's id (the part of its token before the colon).
- Message ids are ``"{chat_id}:{message_id}"``; a callback is ``"callback:{id}"`` and a
  reaction ``"reaction:{update_id}"`` (neither is a message of its own).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from chatgate.channels.base import InboundEvent, InboundMessage, UnknownEvent

# Media fields of a Message, in the order they are looked for: an animation also fills
# ``document`` for older clients, so it must be seen first.
_MEDIA_FIELDS: tuple[tuple[str, str], ...] = (
    ("animation", "video"),
    ("document", "document"),
    ("video", "video"),
    ("video_note", "video"),
    ("audio", "audio"),
    ("voice", "audio"),
    ("sticker", "sticker"),
)
_VCARD_EMAIL = re.compile(r"^EMAIL[^:]*:(.+)$", re.IGNORECASE | re.MULTILINE)


def parse_update(update: Any, bot_id: str) -> list[InboundEvent]:
    """The events in one Update (a list of one, as the contract wants a list)."""
    if not isinstance(update, dict):
        return [UnknownEvent(kind="unknown", raw=update)]
    kind = next((key for key in update if key != "update_id"), "unknown")
    body = update.get(kind)
    event: InboundEvent | None = None
    if isinstance(body, dict):
        if kind == "message":
            event = _message(update, body, bot_id)
        elif kind == "callback_query":
            event = _callback(update, body, bot_id)
        elif kind == "message_reaction":
            event = _reaction(update, body, bot_id)
    return [event if event is not None else UnknownEvent(kind=kind, raw=update)]


def message_ref(chat_id: Any, message_id: Any) -> str:
    """Our id of a Telegram message: message ids are unique only within a chat."""
    return f"{chat_id}:{message_id}"


def _message(update: dict[str, Any], message: dict[str, Any], bot_id: str) -> InboundEvent | None:
    chat_id = (message.get("chat") or {}).get("id")
    content = message_content(message)
    if chat_id is None or "message_id" not in message or content is None:
        return None
    replied = message.get("reply_to_message")
    return InboundMessage(
        provider_message_id=message_ref(chat_id, message["message_id"]),
        sender=str(chat_id),
        recipient=bot_id,
        content=content,
        at=_time(message.get("date")),
        raw=update,
        sender_name=_name(message.get("from")),
        reply_to=(
            message_ref(chat_id, replied["message_id"])
            if isinstance(replied, dict) and "message_id" in replied
            else None
        ),
    )


def message_content(message: Mapping[str, Any]) -> dict[str, Any] | None:
    """Our content shape of a Telegram Message, or ``None`` for kinds we do not read."""
    if isinstance(message.get("text"), str):
        return {"type": "text", "text": message["text"]}
    if isinstance(message.get("photo"), list) and message["photo"]:
        largest = max(
            message["photo"], key=lambda size: size.get("width", 0) * size.get("height", 0)
        )
        return _media("image", largest, message)
    for field, kind in _MEDIA_FIELDS:
        if isinstance(message.get(field), dict):
            return _media(kind, message[field], message, voice=field == "voice")
    if isinstance(message.get("venue"), dict):
        venue = message["venue"]
        location = _location(venue.get("location") or message.get("location") or {})
        if location is None:
            return None
        location.update(_present(name=venue.get("title"), address=venue.get("address")))
        return {"type": "location", "location": location}
    if isinstance(message.get("location"), dict):
        location = _location(message["location"])
        return None if location is None else {"type": "location", "location": location}
    if isinstance(message.get("contact"), dict):
        return _contact(message["contact"])
    return None


def _media(
    kind: str, file: Mapping[str, Any], message: Mapping[str, Any], *, voice: bool = False
) -> dict[str, Any] | None:
    if not file.get("file_id"):
        return None
    media: dict[str, Any] = {"kind": kind, "reference": file["file_id"]}
    media.update(
        _present(
            mime_type=file.get("mime_type") or _sticker_type(file, kind),
            caption=message.get("caption"),
            filename=file.get("file_name"),
        )
    )
    if voice:
        media["voice"] = True
    return {"type": "media", "media": media}


def _sticker_type(file: Mapping[str, Any], kind: str) -> str | None:
    # Stickers carry no mime type; their flags say which of the three formats they are.
    if kind != "sticker":
        return None
    if file.get("is_animated"):
        return "application/x-tgsticker"
    return "video/webm" if file.get("is_video") else "image/webp"


def _location(point: Mapping[str, Any]) -> dict[str, Any] | None:
    if not isinstance(point.get("latitude"), int | float):
        return None
    if not isinstance(point.get("longitude"), int | float):
        return None
    return {"latitude": point["latitude"], "longitude": point["longitude"]}


def _contact(contact: Mapping[str, Any]) -> dict[str, Any]:
    name = " ".join(part for part in (contact.get("first_name"), contact.get("last_name")) if part)
    phones = [contact["phone_number"]] if contact.get("phone_number") else []
    emails = [email.strip() for email in _VCARD_EMAIL.findall(contact.get("vcard") or "")]
    return {"type": "contact", "contacts": [{"name": name, "phones": phones, "emails": emails}]}


def _callback(update: dict[str, Any], query: dict[str, Any], bot_id: str) -> InboundEvent | None:
    data = query.get("data")
    found = query.get("message")
    message: dict[str, Any] = found if isinstance(found, dict) else {}
    chat_id = (message.get("chat") or {}).get("id", (query.get("from") or {}).get("id"))
    if not isinstance(data, str) or chat_id is None or "id" not in query:
        return None  # a game button, or a button on an inline-mode message
    reply: dict[str, Any] = {"id": data}
    title = _button_title(message.get("reply_markup"), data)
    if title is not None:
        reply["title"] = title
    return InboundMessage(
        provider_message_id=f"callback:{query['id']}",
        sender=str(chat_id),
        recipient=bot_id,
        content={"type": "reply", "reply": reply},
        # A callback query has no date; it arrives as it happens.
        at=datetime.now(UTC),
        raw=update,
        sender_name=_name(query.get("from")),
        reply_to=message_ref(chat_id, message["message_id"]) if "message_id" in message else None,
        ack_token=str(query["id"]),
    )


def _button_title(markup: Any, data: str) -> str | None:
    if not isinstance(markup, dict):
        return None
    for row in markup.get("inline_keyboard") or []:
        for button in row:
            if isinstance(button, dict) and button.get("callback_data") == data:
                title = button.get("text")
                return title if isinstance(title, str) else None
    return None


def _reaction(update: dict[str, Any], body: dict[str, Any], bot_id: str) -> InboundEvent | None:
    chat_id = (body.get("chat") or {}).get("id")
    if chat_id is None or "message_id" not in body or "update_id" not in update:
        return None
    emoji = _reaction_emoji(body.get("old_reaction") or [], body.get("new_reaction") or [])
    if emoji is None:
        return None
    return InboundMessage(
        provider_message_id=f"reaction:{update['update_id']}",
        sender=str(chat_id),
        recipient=bot_id,
        content={
            "type": "reaction",
            "reaction": {"message_id": message_ref(chat_id, body["message_id"]), "emoji": emoji},
        },
        at=_time(body.get("date")),
        raw=update,
        sender_name=_name(body.get("user")),
    )


def _reaction_emoji(old: list[Any], new: list[Any]) -> str | None:
    """The one emoji our reaction shape holds.

    The newly added emoji; ``""`` when every reaction is gone; the first one left when one
    of several was taken back. ``None`` when only custom-emoji or paid reactions are
    involved: they have no emoji to report.
    """
    before = [r.get("emoji") for r in old if isinstance(r, dict) and r.get("type") == "emoji"]
    after = [r.get("emoji") for r in new if isinstance(r, dict) and r.get("type") == "emoji"]
    added = [emoji for emoji in after if emoji not in before]
    if added:
        return str(added[0])
    if not new:
        return ""
    return str(after[0]) if after else None


def _name(user: Any) -> str | None:
    if not isinstance(user, dict):
        return None
    name = " ".join(part for part in (user.get("first_name"), user.get("last_name")) if part)
    return name or None


def _time(unix: Any) -> datetime:
    if isinstance(unix, int | float) and unix > 0:
        return datetime.fromtimestamp(unix, UTC)
    return datetime.now(UTC)


def _present(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}
