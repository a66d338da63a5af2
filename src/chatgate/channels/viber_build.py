"""Our content shapes as Viber ``send_message`` bodies.

Every body names the ``receiver`` (the user's id for this bot), the ``sender`` (the name,
and optionally the avatar, shown on the message: a setting of the channel) and a ``type``
with that type's fields. Choices where Viber has no exact counterpart:

- Images are ``picture`` messages (the caption is the picture's ``text``, at most 512
  characters); videos are ``video``; documents and audio files are ``file`` messages (Viber
  bots have no audio message, and no voice notes). A caption on anything but a picture
  has no place on Viber and is refused.
- ``video`` and ``file`` require the file's ``size`` in bytes, which Chatgate's media do
  not carry: ``0`` is sent (the body is built without I/O, so the file is not fetched).
  A file's ``file_name`` is the media's ``filename``, else the last segment of its URL.
- Interactive messages are a ``text`` message (header, body and footer joined by blank
  lines) with a custom ``keyboard``: one full-width button per choice. A reply button is
  ``ActionType: reply`` with the choice's id as ``ActionBody`` (Viber sends it back as the
  user's text message), a link button ``open-url``; call buttons and cards do not exist.
  ``quick_replies`` are the same keyboard, and a ``list`` one button per row (section
  titles, row descriptions and ``button_text`` are left out). The reply choices travel in
  ``tracking_data`` (``{"replies": {id: title}}``), which Viber returns with the user's
  next message, so that a pressed button can be told from typed text.
- A location is its point: Viber's ``location`` has no name or address.
- A contact is one card's name and first phone (Viber's ``contact`` holds nothing else);
  several cards, or a card without a phone, are refused.
- Viber bots cannot quote a message (no reply-to), react, or send templates.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from chatgate.channels.base import OutboundMessage, UnsupportedContent, refuse_commerce
from chatgate.domain import capabilities as cap

CHANNEL = "viber"
MAX_PICTURE_TEXT = 512
MAX_SENDER_NAME = 28
MAX_TRACKING_DATA = 4000
MAX_FILE_NAME = 256
DEFAULT_SENDER_NAME = "Chatgate"
# The key of the reply choices in ``tracking_data``.
REPLIES = "replies"

Body = dict[str, Any]


def build_body(message: OutboundMessage, sender: Mapping[str, str]) -> Body:
    """The ``send_message`` body for ``message`` from ``sender`` (``name``, ``avatar``?).

    Raises :class:`UnsupportedContent` naming the feature Viber lacks.
    """
    if message.reply_to is not None:
        raise UnsupportedContent(CHANNEL, cap.REPLY_TO)
    content = message.content
    kind = content["type"]
    if kind == "text":
        fields = {"type": "text", "text": content["text"]}
    elif kind == "media":
        fields = _media(content["media"])
    elif kind == "interactive":
        fields = _interactive(content["interactive"])
    elif kind == "location":
        location = content["location"]
        fields = {
            "type": "location",
            "location": {"lat": location["latitude"], "lon": location["longitude"]},
        }
    elif kind == "contact":
        fields = _contact(content["contacts"])
    else:
        # Templates, reactions, and anything we do not know of.
        raise UnsupportedContent(CHANNEL, kind)
    return {"receiver": message.recipient, "sender": dict(sender), **fields}


def _media(media: Mapping[str, Any]) -> Body:
    kind = media["kind"]
    url = str(media["url"])
    caption = media.get("caption")
    if media.get("voice"):
        raise UnsupportedContent(CHANNEL, cap.MEDIA_VOICE)
    if kind == "image":
        if caption and len(caption) > MAX_PICTURE_TEXT:
            raise UnsupportedContent(CHANNEL, cap.MEDIA_CAPTION)
        # ``text`` is required on a picture; empty when there is no caption.
        return {"type": "picture", "media": url, "text": caption or ""}
    if caption:
        raise UnsupportedContent(CHANNEL, cap.MEDIA_CAPTION)
    if kind == "video":
        return {"type": "video", "media": url, "size": 0}
    return {"type": "file", "media": url, "size": 0, "file_name": _file_name(media, url)}


def _file_name(media: Mapping[str, Any], url: str) -> str:
    name = media.get("filename") or posixpath.basename(unquote(urlsplit(url).path)) or "file"
    return str(name)[:MAX_FILE_NAME]


def _interactive(interactive: Mapping[str, Any]) -> Body:
    refuse_commerce(CHANNEL, interactive)
    parts = (interactive.get("header"), interactive["body"], interactive.get("footer"))
    text = "\n\n".join(part for part in parts if part)
    shape = interactive["kind"]
    if shape in ("buttons", "quick_replies"):
        buttons = [_button(button) for button in interactive["buttons"]]
        choices = [b for b in interactive["buttons"] if b.get("type", "reply") == "reply"]
        replies = {b["id"]: b["title"] for b in choices}
    elif shape == "list":
        rows = [row for section in interactive["sections"] for row in section["rows"]]
        buttons = [_reply_button(row["id"], row["title"]) for row in rows]
        replies = {row["id"]: row["title"] for row in rows}
    else:
        raise UnsupportedContent(CHANNEL, cap.CARDS)
    body: Body = {
        "type": "text",
        "text": text,
        "keyboard": {"Type": "keyboard", "DefaultHeight": False, "Buttons": buttons},
    }
    tracking = _tracking_data(replies)
    if tracking is not None:
        body["tracking_data"] = tracking
    return body


def _button(button: Mapping[str, Any]) -> Body:
    kind = button.get("type", "reply")
    if kind == "url":
        return {
            "Columns": 6,
            "Rows": 1,
            "ActionType": "open-url",
            "ActionBody": str(button["url"]),
            "Text": button["title"],
        }
    if kind == "call":
        raise UnsupportedContent(CHANNEL, cap.BUTTONS_CALL)
    return _reply_button(button["id"], button["title"])


def _reply_button(choice: str, title: str) -> Body:
    return {"Columns": 6, "Rows": 1, "ActionType": "reply", "ActionBody": choice, "Text": title}


def _tracking_data(replies: Mapping[str, str]) -> str | None:
    """The reply choices as ``tracking_data``, or ``None`` when there are none or too many
    to fit (the buttons still work; presses then arrive as plain text)."""
    if not replies:
        return None
    data = json.dumps({REPLIES: dict(replies)}, ensure_ascii=False, separators=(",", ":"))
    return data if len(data) <= MAX_TRACKING_DATA else None


def _contact(cards: list[Mapping[str, Any]]) -> Body:
    if len(cards) != 1 or not cards[0].get("phones"):
        raise UnsupportedContent(CHANNEL, cap.CONTACT)
    card = cards[0]
    return {"type": "contact", "contact": {"name": card["name"], "phone_number": card["phones"][0]}}


def replies_of(tracking_data: Any) -> dict[str, str]:
    """The reply choices a message's ``tracking_data`` names (``{}`` for anything else)."""
    if not isinstance(tracking_data, str) or not tracking_data.startswith("{"):
        return {}
    try:
        data = json.loads(tracking_data)
    except ValueError:
        return {}
    replies = data.get(REPLIES) if isinstance(data, dict) else None
    if not isinstance(replies, dict):
        return {}
    return {str(k): str(v) for k, v in replies.items() if isinstance(v, str)}
