"""Users writing to a bot, as the Telegram emulator plays them: the Updates it posts.

A user's message takes the next message id of the chat (users and the bot share the
numbering); files a user sends are kept so ``getFile`` and the file route can serve them.
"""

from __future__ import annotations

import base64
from typing import Any

from chatgate.emulators.core import EmulatorState
from chatgate.emulators.telegram_files import (
    FileSource,
    described,
    document_like,
    photo_sizes,
    store_file,
)
from chatgate.emulators.telegram_text import with_entities
from chatgate.emulators.telegram_wire import BotState, as_int, now

# Inbound media kinds: the Message field, the file_id prefix and the download folder.
_MEDIA: dict[str, tuple[str, str, str]] = {
    "image": ("photo", "AgACAgIAAxkBAAI", "photos"),
    "document": ("document", "BQACAgIAAxkBAAI", "documents"),
    "video": ("video", "BAACAgIAAxkBAAI", "videos"),
    "audio": ("audio", "CQACAgIAAxkBAAI", "music"),
    "voice": ("voice", "AwACAgIAAxkBAAI", "voice"),
    "sticker": ("sticker", "CAACAgIAAxkBAAI", "stickers"),
}

Update = tuple[dict[str, Any], str]


def user_of(chat: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The ``User`` who writes, from the control API's payload."""
    user: dict[str, Any] = {
        "id": int(chat),
        "is_bot": False,
        "first_name": payload.get("first_name") or "Ada",
    }
    for name in ("last_name", "username"):
        if payload.get(name):
            user[name] = payload[name]
    user["language_code"] = payload.get("language_code") or "en"
    return user


def message_number(value: Any) -> int:
    """A message id given bare or as ``"{chat_id}:{message_id}"``."""
    number = as_int(str(value).rsplit(":", 1)[-1]) if value is not None else None
    if number is None:
        raise ValueError("message_id: a message id, bare or as chat_id:message_id")
    return number


def message_update(
    state: EmulatorState, bot: BotState, chat: str, user: dict[str, Any], payload: dict[str, Any]
) -> Update:
    """A ``message`` Update, and the message's id as the gateway names it."""
    message: dict[str, Any] = {
        "message_id": bot.next_message_id(chat),
        "from": user,
        "chat": bot.chat(chat),
        "date": now(),
    }
    if isinstance(payload.get("text"), str):
        message.update(with_entities("text", payload["text"]))
    elif isinstance(payload.get("media"), dict):
        message.update(_media(state, bot, payload["media"]))
    elif isinstance(payload.get("location"), dict):
        message.update(_location(payload["location"]))
    elif isinstance(payload.get("contact"), dict):
        message["contact"] = _contact(payload["contact"])
    else:
        raise ValueError("give one of text, media, location, contact, callback or reaction")
    if payload.get("reply_to") is not None:
        replied = bot.message(chat, message_number(payload["reply_to"]))
        if replied is None:
            raise ValueError("reply_to: no such message in this chat")
        message["reply_to_message"] = replied
    bot.store(chat, message)
    update = {"update_id": bot.next_update_id(), "message": message}
    return update, f"{chat}:{message['message_id']}"


def callback_update(
    state: EmulatorState, bot: BotState, chat: str, user: dict[str, Any], callback: dict[str, Any]
) -> Update:
    """A ``callback_query`` Update: the user pressed an inline button of a bot's message.

    The message is ``callback.message_id``, or else the latest one with buttons.
    """
    if not isinstance(callback.get("data"), str):
        raise ValueError("callback.data: the pressed button's callback_data")
    if callback.get("message_id") is not None:
        message = bot.message(chat, message_number(callback["message_id"]))
    else:
        with_buttons = [
            m for (c, _), m in bot.messages.items() if c == chat and "reply_markup" in m
        ]
        message = bot.message(chat, with_buttons[-1]["message_id"]) if with_buttons else None
    if message is None:
        raise ValueError("callback.message_id: no message with buttons in this chat")
    query_id = str(4_382_000_000_000_000_000 + state.next_number())
    bot.callbacks.add(query_id)
    query = {
        "id": query_id,
        "from": user,
        "message": message,
        "chat_instance": str(-(int(chat) * 7_919 % 10**18)),
        "data": callback["data"],
    }
    return {"update_id": bot.next_update_id(), "callback_query": query}, f"callback:{query_id}"


def reaction_update(
    bot: BotState, chat: str, user: dict[str, Any], reaction: dict[str, Any]
) -> Update:
    """A ``message_reaction`` Update: the user's reaction replaces their previous one."""
    message_id = message_number(reaction.get("message_id"))
    if bot.message(chat, message_id) is None:
        raise ValueError("reaction.message_id: no such message in this chat")
    emoji = str(reaction.get("emoji") or "")
    new = [{"type": "emoji", "emoji": emoji}] if emoji else []
    old = bot.reactions.get((chat, message_id), [])
    bot.reactions[(chat, message_id)] = new
    update_id = bot.next_update_id()
    body = {
        "chat": bot.chat(chat),
        "message_id": message_id,
        "user": user,
        "date": now(),
        "old_reaction": old,
        "new_reaction": new,
    }
    return {"update_id": update_id, "message_reaction": body}, f"reaction:{update_id}"


def _media(state: EmulatorState, bot: BotState, media: dict[str, Any]) -> dict[str, Any]:
    kind = "voice" if media.get("voice") else str(media.get("kind"))
    if kind not in _MEDIA:
        raise ValueError(f"media.kind: one of {sorted(_MEDIA)}")
    field, prefix, folder = _MEDIA[kind]
    content = base64.b64decode(media.get("content_base64") or "", validate=True)
    mime_type = str(media.get("mime_type") or "application/octet-stream")
    named = kind in ("document", "video", "audio") and media.get("filename")
    source = FileSource(str(media["filename"]) if named else None, mime_type, content=content)
    value: Any
    if kind == "image":
        value = photo_sizes(state, bot, source, prefix)
    elif kind == "sticker":
        value = {**described(store_file(state, bot, source, prefix, folder)), "type": "regular"}
        value.update(width=512, height=512, is_animated=False, is_video=mime_type == "video/webm")
    else:
        value = document_like(state, bot, source, prefix, folder)
        if kind != "document":
            value["duration"] = 3
    fields: dict[str, Any] = {field: value}
    if media.get("caption"):
        fields.update(with_entities("caption", str(media["caption"])))
    return fields


def _location(location: dict[str, Any]) -> dict[str, Any]:
    point = {"latitude": float(location["latitude"]), "longitude": float(location["longitude"])}
    if location.get("name") and location.get("address"):
        venue = {"location": point, "title": location["name"], "address": location["address"]}
        return {"venue": venue, "location": point}
    return {"location": point}


def _contact(contact: dict[str, Any]) -> dict[str, Any]:
    if not contact.get("phone_number") or not contact.get("first_name"):
        raise ValueError("contact: phone_number and first_name are required")
    fields = ("phone_number", "first_name", "last_name", "vcard", "user_id")
    return {name: contact[name] for name in fields if contact.get(name) is not None}
