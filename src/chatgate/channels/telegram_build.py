"""Our content shapes as Telegram Bot API calls: which method, with which parameters.

Choices where Telegram has no exact counterpart:

- Interactive messages are a text message: header, body and footer joined by blank lines
  (no ``parse_mode``, so nothing in them is read as markup), with the choices as a keyboard.
- ``buttons``: an inline keyboard, one button per row unless buttons share a ``row`` number
  (reply buttons carry their id as ``callback_data``, at most 64 bytes; link buttons their
  ``url``). Call buttons do not exist.
- ``quick_replies``: a one-time reply keyboard, one button per row. Telegram sends a pressed
  reply-keyboard button back as a plain text message with the button's title, so the ids of
  quick replies never come back.
- ``list``: an inline keyboard with one row per list row (``callback_data`` = row id, text =
  row title). Section titles, row descriptions and ``button_text`` have no place on it and
  are left out.
- ``location`` with both a name and an address is a venue; with only one of them a plain
  location (a venue needs both).
- ``contact``: one card per message; its first phone is ``phone_number`` and the whole card
  (every phone, emails, organization) goes in a vCard when there is more than that.
- Media go by URL: Telegram fetches them itself (photos up to 5 MB, other files up to
  20 MB; a document by URL only when it is a GIF, PDF or ZIP file, which Telegram checks).
  A file name cannot be set by URL: Telegram takes it from the URL.
- Message ids are ``"{chat_id}:{message_id}"`` (Telegram numbers messages per chat); a
  reference to one may also be a bare message id.
- Of a request's ``options``, ``disable_notification`` and ``protect_content`` (booleans)
  are passed on; other options (Messenger's tags...) mean nothing to Telegram and are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from chatgate.channels.base import OutboundMessage, UnsupportedContent, refuse_commerce
from chatgate.domain import capabilities as cap

CHANNEL = "telegram"
MAX_CALLBACK_DATA = 64  # bytes
MAX_VCARD = 2048  # bytes

# The emoji a bot may react with (Telegram's ReactionTypeEmoji list), kept without the
# U+FE0F variation selector: Telegram lists them bare and refuses other spellings.
ALLOWED_REACTIONS: frozenset[str] = frozenset(
    {
        "👍", "👎", "❤", "🔥", "🥰", "👏", "😁", "🤔", "🤯", "😱", "🤬", "😢", "🎉", "🤩",
        "🤮", "💩", "🙏", "👌", "🕊", "🤡", "🥱", "🥴", "😍", "🐳", "\u2764\u200d\U0001f525",
        "🌚", "🌭", "💯", "🤣", "⚡", "🍌", "🏆", "💔", "🤨", "😐", "🍓", "🍾", "💋", "🖕",
        "😈", "😴", "😭", "🤓", "👻", "\U0001f468\u200d\U0001f4bb", "👀", "🎃", "🙈", "😇",
        "😨", "🤝", "✍", "🤗", "🫡", "🎅", "🎄", "☃", "💅", "🤪", "🗿", "🆒", "💘", "🙉",
        "🦄", "😘", "💊", "🙊", "😎", "👾", "\U0001f937\u200d\u2642", "🤷",
        "\U0001f937\u200d\u2640", "😡",
    }
)  # fmt: skip

_MEDIA_METHODS: Mapping[str, tuple[str, str]] = {
    "image": ("sendPhoto", "photo"),
    "document": ("sendDocument", "document"),
    "video": ("sendVideo", "video"),
    "audio": ("sendAudio", "audio"),
    "voice": ("sendVoice", "voice"),
}
# Per-message options a request may set, with the JSON type each must have.
_OPTIONS: Mapping[str, type] = {"disable_notification": bool, "protect_content": bool}
_NUMERIC_ID = re.compile(r"-?[0-9]{1,20}")
_PLAIN_ID = re.compile(r"[0-9]{1,20}")

Params = dict[str, Any]


def chat_id_param(recipient: str) -> int | str:
    """The ``chat_id`` to send: a number for a chat id, the text for a ``@channelusername``."""
    return int(recipient) if _NUMERIC_ID.fullmatch(recipient) else recipient


def message_id_param(reference: str) -> int | str:
    """Telegram's message id in ``"{chat_id}:{message_id}"`` or a bare id.

    An id that is not a number cannot name a Telegram message; it is passed as given, and
    Telegram refuses the call (a permanent error), as it would refuse a deleted message.
    """
    tail = reference.rsplit(":", 1)[-1]
    return int(tail) if _PLAIN_ID.fullmatch(tail) else tail


def canonical_reaction(emoji: str) -> str | None:
    """The spelling Telegram accepts for ``emoji``, or ``None`` if a bot cannot react with it."""
    bare = emoji.replace("\ufe0f", "")
    return bare if bare in ALLOWED_REACTIONS else None


def build_call(message: OutboundMessage) -> tuple[str, Params]:
    """The Bot API method and its JSON parameters for ``message``.

    Raises :class:`UnsupportedContent` naming the feature Telegram lacks.
    """
    content = message.content
    kind = content["type"]
    if kind == "text":
        method, params = _text(content)
    elif kind == "media":
        method, params = _media(content["media"])
    elif kind == "interactive":
        method, params = _interactive(content["interactive"])
    elif kind == "location":
        method, params = _location(content["location"])
    elif kind == "contact":
        method, params = _contact(content["contacts"])
    elif kind == "reaction":
        method, params = _reaction(content["reaction"])
    else:
        # Telegram has no templates (nor anything we do not know of).
        raise UnsupportedContent(CHANNEL, cap.TEMPLATE if kind == "template" else kind)
    call: Params = {"chat_id": chat_id_param(message.recipient), **params}
    if message.reply_to is not None and method != "setMessageReaction":
        call["reply_parameters"] = {"message_id": message_id_param(message.reply_to)}
    if method != "setMessageReaction":
        call.update(_options(message.options))
    return method, call


def _options(options: Mapping[str, Any]) -> Params:
    return {
        name: options[name]
        for name, kind in _OPTIONS.items()
        if isinstance(options.get(name), kind)
    }


def _text(content: Mapping[str, Any]) -> tuple[str, Params]:
    params: Params = {"text": content["text"]}
    if not content.get("preview_url"):
        params["link_preview_options"] = {"is_disabled": True}
    return "sendMessage", params


def _media(media: Mapping[str, Any]) -> tuple[str, Params]:
    method, field = _MEDIA_METHODS["voice" if media.get("voice") else media["kind"]]
    params: Params = {field: media["url"]}
    if media.get("caption"):
        params["caption"] = media["caption"]
    return method, params


def _interactive(interactive: Mapping[str, Any]) -> tuple[str, Params]:
    refuse_commerce(CHANNEL, interactive)
    parts = (interactive.get("header"), interactive["body"], interactive.get("footer"))
    text = "\n\n".join(part for part in parts if part)
    shape = interactive["kind"]
    if shape == "buttons":
        markup: Params = {"inline_keyboard": _keyboard(interactive["buttons"])}
    elif shape == "quick_replies":
        markup = {
            "keyboard": [[{"text": button["title"]}] for button in interactive["buttons"]],
            "one_time_keyboard": True,
            "resize_keyboard": True,
        }
    elif shape == "list":
        rows = [row for section in interactive["sections"] for row in section["rows"]]
        markup = {
            "inline_keyboard": [
                [{"text": row["title"], "callback_data": _callback_data(row["id"], cap.LIST)}]
                for row in rows
            ]
        }
    else:
        raise UnsupportedContent(CHANNEL, cap.CARDS)
    return "sendMessage", {"text": text, "reply_markup": markup}


def _keyboard(buttons: list[Mapping[str, Any]]) -> list[list[Params]]:
    """The inline keyboard's rows: buttons of one ``row`` number side by side, rows in the
    order of their first button; a button without a ``row`` alone on its own."""
    rows: dict[object, list[Params]] = {}
    for index, button in enumerate(buttons):
        row = button.get("row")
        rows.setdefault(("row", row) if row is not None else ("alone", index), []).append(
            _inline_button(button)
        )
    return list(rows.values())


def _inline_button(button: Mapping[str, Any]) -> Params:
    kind = button.get("type", "reply")
    if kind == "url":
        return {"text": button["title"], "url": button["url"]}
    if kind == "call":
        raise UnsupportedContent(CHANNEL, cap.BUTTONS_CALL)
    return {
        "text": button["title"],
        "callback_data": _callback_data(button["id"], cap.BUTTONS_REPLY),
    }


def _callback_data(value: str, feature: str) -> str:
    # Telegram refuses longer data (BUTTON_DATA_INVALID); cutting it would change the id.
    if len(value.encode("utf-8")) > MAX_CALLBACK_DATA:
        raise UnsupportedContent(CHANNEL, feature)
    return value


def _location(location: Mapping[str, Any]) -> tuple[str, Params]:
    params: Params = {"latitude": location["latitude"], "longitude": location["longitude"]}
    name, address = location.get("name"), location.get("address")
    if name and address:
        return "sendVenue", {**params, "title": name, "address": address}
    return "sendLocation", params


def _contact(cards: list[Mapping[str, Any]]) -> tuple[str, Params]:
    if len(cards) != 1 or not cards[0].get("phones"):
        # One card per message, and Telegram requires a phone number.
        raise UnsupportedContent(CHANNEL, cap.CONTACT)
    card = cards[0]
    first, _, last = card["name"].strip().partition(" ")
    params: Params = {"phone_number": card["phones"][0], "first_name": first}
    if last.strip():
        params["last_name"] = last.strip()
    if len(card["phones"]) > 1 or card.get("emails") or card.get("organization"):
        vcard = _vcard(card, first, last.strip())
        if len(vcard.encode("utf-8")) > MAX_VCARD:
            raise UnsupportedContent(CHANNEL, cap.CONTACT)
        params["vcard"] = vcard
    return "sendContact", params


def _vcard(card: Mapping[str, Any], first: str, last: str) -> str:
    lines = [
        "BEGIN:VCARD",
        "VERSION:3.0",
        f"N:{_escape(last)};{_escape(first)};;;",
        f"FN:{_escape(card['name'])}",
    ]
    if card.get("organization"):
        lines.append(f"ORG:{_escape(card['organization'])}")
    lines += [f"TEL:{_escape(phone)}" for phone in card["phones"]]
    lines += [f"EMAIL:{_escape(email)}" for email in card.get("emails", [])]
    lines.append("END:VCARD")
    return "\r\n".join(lines)


def _escape(value: str) -> str:
    """A vCard text value: backslash, comma, semicolon and newlines escaped (RFC 6350)."""
    return (
        value.replace("\\", "\\\\")
        .replace(",", "\\,")
        .replace(";", "\\;")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def _reaction(reaction: Mapping[str, Any]) -> tuple[str, Params]:
    params: Params = {"message_id": message_id_param(reaction["message_id"]), "reaction": []}
    if reaction["emoji"]:
        emoji = canonical_reaction(reaction["emoji"])
        if emoji is None:
            raise UnsupportedContent(CHANNEL, cap.REACTION)
        params["reaction"] = [{"type": "emoji", "emoji": emoji}]
    return "setMessageReaction", params
