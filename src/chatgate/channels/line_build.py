"""Our content shapes as LINE Messaging API calls: push or reply, with which message objects.

A send is ``POST /v2/bot/message/push {to, messages}``, or ``POST /v2/bot/message/reply
{replyToken, messages}`` when the message answers an inbound event whose reply token is
still fresh (LINE honours a reply token for about a minute after the event, once; replies
are free, pushes count against the monthly quota). The token travels in our reference to
the inbound message (see :func:`message_reference`), so a reply needs nothing stored beyond
the platform's id of the message it answers.

Choices where LINE has no exact counterpart:

- Text is sent as it is (LINE takes Unicode emoji in ``text``); ``preview_url`` means nothing
  to LINE, which always previews links.
- A caption is a text message right after the image or video (LINE media have none); the
  send's id is the first message's. A video's ``previewImageUrl`` is required and our media
  have no preview image: the video's own URL is given (LINE shows no preview then). An
  audio's ``duration`` is required and unknown to us: a minute is given.
- A sticker is a sticker message: our ``package_id`` and ``sticker_id`` are LINE's
  ``packageId`` and ``stickerId`` (only stickers LINE lists as sendable by bots arrive).
- Documents, voice notes, contacts, reactions and templates cannot be sent by a bot.
- ``buttons``: a buttons template (≤ 4 actions): the header is its title, body and footer
  its text; reply buttons are postback actions (``data`` = the id, the title shown as the
  user's answer), link buttons and call buttons (``tel:``) URI actions.
- ``quick_replies``: a text message with ``quickReply`` items (≤ 13), postback actions.
- ``cards``: the body as a text message, then a carousel template (≤ 10 columns, each with
  1-3 actions, the same number in every column, as LINE requires).
- ``list`` has no LINE form (degrade renders it as text).
- A reply-to quotes the message (``quoteToken`` on the first text or sticker message) when the
  reference carries its quote token; LINE cannot quote images, videos or templates.

What LINE's own limits refuse (a label over 20 characters, a template text too long) is
refused here as the feature that cannot be carried, rather than failed by LINE later.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chatgate.channels.base import OutboundMessage, UnsupportedContent, refuse_commerce
from chatgate.domain import capabilities as cap

CHANNEL = "line"
PUSH_PATH = "/v2/bot/message/push"
REPLY_PATH = "/v2/bot/message/reply"
# LINE guarantees a reply token for one minute after the event; a margin covers the time
# between LINE stamping the event and our call reaching it.
REPLY_TOKEN_SECONDS = 50.0
MAX_MESSAGES = 5
# LINE counts a text's length in UTF-16 code units: an emoji beyond the BMP counts twice.
MAX_TEXT_UNITS = 5000
MAX_LABEL = 20
MAX_ALT_TEXT = 400
MAX_POSTBACK_DATA = 300
MAX_URI = 1000
MAX_LOCATION_TEXT = 100
MAX_QUICK_REPLIES = 13
MAX_TEMPLATE_ACTIONS = 4
MAX_COLUMN_ACTIONS = 3
MAX_COLUMNS = 10
MAX_TITLE = 40
DEFAULT_AUDIO_MS = 60_000
# Our references to LINE messages: "{id}" or "{id}:{event ms}:{reply token}:{quote token}".
_SEPARATOR = ":"
MAX_REFERENCE = 256  # what the gateway stores of a platform id

Params = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Reference:
    """What our reference to an inbound LINE message holds."""

    message_id: str
    at_ms: int | None = None
    reply_token: str | None = None
    quote_token: str | None = None


def message_reference(
    message_id: str, at_ms: int | None, reply_token: str | None, quote_token: str | None
) -> str:
    """Our id of an inbound LINE message, carrying what a reply to it needs.

    The reply token (with the event's time, to judge its freshness) and the quote token are
    kept in the id so that a later send naming this message can use them. A token too long
    to fit what the gateway stores is left out (the quote token first).
    """
    if not reply_token and not quote_token:
        return message_id
    parts = [message_id, str(at_ms or 0), reply_token or "", quote_token or ""]
    reference = _SEPARATOR.join(parts)
    if len(reference) > MAX_REFERENCE:
        return (
            message_reference(message_id, at_ms, reply_token, None) if quote_token else message_id
        )
    return reference


def parse_reference(reference: str) -> Reference:
    """The parts of our reference; a bare id (or anything else) is a message id alone."""
    parts = reference.split(_SEPARATOR)
    if len(parts) != 4 or not parts[1].isdigit():
        return Reference(reference)
    message_id, at_ms, reply_token, quote_token = parts
    return Reference(message_id, int(at_ms), reply_token or None, quote_token or None)


def build_call(
    message: OutboundMessage, now: Callable[[], float] = time.time
) -> tuple[str, Params]:
    """The API path and its JSON body for ``message``: a reply while the token is fresh.

    Raises :class:`UnsupportedContent` naming the feature LINE lacks.
    """
    messages = build_messages(message.content)
    reference = parse_reference(message.reply_to) if message.reply_to else None
    if reference is not None and reference.quote_token:
        _quote(messages, reference.quote_token)
    if reference is not None and _fresh(reference, now()):
        return REPLY_PATH, {"replyToken": reference.reply_token, "messages": messages}
    return PUSH_PATH, {"to": message.recipient, "messages": messages}


def _fresh(reference: Reference, now: float) -> bool:
    if not reference.reply_token or reference.at_ms is None:
        return False
    # A time ahead of our clock is skew, not a young token: LINE refusing it costs one call,
    # as the send then goes as a push.
    return now - reference.at_ms / 1000 < REPLY_TOKEN_SECONDS


def _quote(messages: list[Params], quote_token: str) -> None:
    # LINE quotes only from a text or a sticker message.
    for item in messages:
        if item["type"] in ("text", "sticker"):
            item["quoteToken"] = quote_token
            return


def build_messages(content: Mapping[str, Any]) -> list[Params]:
    """LINE message objects (1-5) for one of our contents."""
    kind = content["type"]
    if kind == "text":
        messages = [_text(content["text"])]
    elif kind == "media":
        messages = _media(content["media"])
    elif kind == "location":
        messages = [_location(content["location"])]
    elif kind == "interactive":
        messages = _interactive(content["interactive"])
    elif kind == "sticker":
        messages = [_sticker(content["sticker"])]
    elif kind in (cap.TEMPLATE, cap.CONTACT, cap.REACTION):
        raise UnsupportedContent(CHANNEL, kind)
    else:
        raise UnsupportedContent(CHANNEL, str(kind))
    if len(messages) > MAX_MESSAGES:
        raise UnsupportedContent(CHANNEL, kind)
    return messages


def _text(text: str) -> Params:
    if utf16_length(text) > MAX_TEXT_UNITS:
        raise UnsupportedContent(CHANNEL, cap.TEXT)
    return {"type": "text", "text": text}


def utf16_length(text: str) -> int:
    """The length LINE measures: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def _media(media: Mapping[str, Any]) -> list[Params]:
    url = str(media["url"])
    kind = media["kind"]
    if media.get("voice"):
        raise UnsupportedContent(CHANNEL, cap.MEDIA_VOICE)
    if kind == "image":
        item: Params = {"type": "image", "originalContentUrl": url, "previewImageUrl": url}
    elif kind == "video":
        item = {"type": "video", "originalContentUrl": url, "previewImageUrl": url}
    elif kind == "audio":
        item = {"type": "audio", "originalContentUrl": url, "duration": DEFAULT_AUDIO_MS}
    else:
        raise UnsupportedContent(CHANNEL, f"media.{kind}")
    caption = media.get("caption")
    return [item, _text(caption)] if caption else [item]


def _sticker(sticker: Mapping[str, Any]) -> Params:
    return {
        "type": "sticker",
        "packageId": sticker["package_id"],
        "stickerId": sticker["sticker_id"],
    }


def _location(location: Mapping[str, Any]) -> Params:
    name, address = location.get("name"), location.get("address")
    point = f"{location['latitude']},{location['longitude']}"
    title = name or address or point
    if len(title) > MAX_LOCATION_TEXT or len(address or "") > MAX_LOCATION_TEXT:
        raise UnsupportedContent(CHANNEL, cap.LOCATION)
    return {
        "type": "location",
        "title": title,
        # LINE requires an address; a pin with none is described by its coordinates.
        "address": address or point,
        "latitude": location["latitude"],
        "longitude": location["longitude"],
    }


def _interactive(interactive: Mapping[str, Any]) -> list[Params]:
    refuse_commerce(CHANNEL, interactive)
    shape = interactive["kind"]
    if shape == "buttons":
        return [_buttons_template(interactive)]
    if shape == "quick_replies":
        return [_quick_replies(interactive)]
    if shape == "cards":
        return [_text(_joined(interactive)), _carousel(interactive["cards"])]
    raise UnsupportedContent(CHANNEL, cap.LIST if shape == "list" else cap.CARDS)


def _joined(interactive: Mapping[str, Any], *, with_header: bool = True) -> str:
    parts = (
        interactive.get("header") if with_header else None,
        interactive["body"],
        interactive.get("footer"),
    )
    return "\n\n".join(part for part in parts if part)


def _alt_text(text: str) -> str:
    # What notifications and old clients show; LINE refuses more than 400 characters.
    return text if len(text) <= MAX_ALT_TEXT else text[: MAX_ALT_TEXT - 1] + "…"


def _buttons_template(interactive: Mapping[str, Any]) -> Params:
    buttons = interactive["buttons"]
    feature = _button_feature(buttons)
    if len(buttons) > MAX_TEMPLATE_ACTIONS:
        raise UnsupportedContent(CHANNEL, feature)
    header = interactive.get("header")
    text = _joined(interactive, with_header=False)
    # LINE's limits on a buttons template's text: 160 characters, 60 under a title.
    if (header and len(header) > MAX_TITLE) or len(text) > (60 if header else 160):
        raise UnsupportedContent(CHANNEL, feature)
    template: Params = {"type": "buttons"}
    if header:
        template["title"] = header
    template["text"] = text
    template["actions"] = [_action(button) for button in buttons]
    return {"type": "template", "altText": _alt_text(_joined(interactive)), "template": template}


def _button_feature(buttons: list[Mapping[str, Any]]) -> str:
    kinds = {button.get("type", "reply") for button in buttons}
    for kind, feature in (
        ("reply", cap.BUTTONS_REPLY),
        ("url", cap.BUTTONS_URL),
        ("call", cap.BUTTONS_CALL),
    ):
        if kind in kinds:
            return feature
    return cap.BUTTONS_REPLY


def _action(button: Mapping[str, Any]) -> Params:
    kind = button.get("type", "reply")
    feature = {"url": cap.BUTTONS_URL, "call": cap.BUTTONS_CALL}.get(kind, cap.BUTTONS_REPLY)
    label = button["title"]
    if len(label) > MAX_LABEL:
        raise UnsupportedContent(CHANNEL, feature)
    if kind == "url":
        uri = str(button["url"])
    elif kind == "call":
        uri = "tel:" + button["phone"]
    else:
        data = button["id"]
        if len(data) > MAX_POSTBACK_DATA:
            raise UnsupportedContent(CHANNEL, feature)
        return {"type": "postback", "label": label, "data": data, "displayText": label}
    if len(uri) > MAX_URI:
        raise UnsupportedContent(CHANNEL, feature)
    return {"type": "uri", "label": label, "uri": uri}


def _quick_replies(interactive: Mapping[str, Any]) -> Params:
    buttons = interactive["buttons"]
    if len(buttons) > MAX_QUICK_REPLIES or any(len(b["title"]) > MAX_LABEL for b in buttons):
        raise UnsupportedContent(CHANNEL, cap.QUICK_REPLIES)
    items = [{"type": "action", "action": _action(button)} for button in buttons]
    return {**_text(_joined(interactive)), "quickReply": {"items": items}}


def _carousel(cards: list[Mapping[str, Any]]) -> Params:
    counts = {len(card.get("buttons", [])) for card in cards}
    # Every column needs 1-3 actions, the same number in each; and all or none have a
    # picture, all or none a title.
    if len(cards) > MAX_COLUMNS or len(counts) != 1 or not 1 <= counts.pop() <= MAX_COLUMN_ACTIONS:
        raise UnsupportedContent(CHANNEL, cap.CARDS)
    pictures = {card.get("image_url") is not None for card in cards}
    titled = all(card.get("subtitle") for card in cards)
    if len(pictures) != 1:
        raise UnsupportedContent(CHANNEL, cap.CARDS)
    columns = [_column(card, titled) for card in cards]
    alt = "\n".join(card["title"] for card in cards)
    return {
        "type": "template",
        "altText": _alt_text(alt),
        "template": {"type": "carousel", "columns": columns},
    }


def _column(card: Mapping[str, Any], titled: bool) -> Params:
    column: Params = {}
    if card.get("image_url"):
        column["thumbnailImageUrl"] = str(card["image_url"])
    if titled:
        column["title"] = card["title"]
        column["text"] = card["subtitle"]
    else:
        column["text"] = "\n".join(part for part in (card["title"], card.get("subtitle")) if part)
    # A column's text: 120 characters, 60 with a picture or a title.
    limit = 60 if titled or card.get("image_url") else 120
    if len(column.get("title", "")) > MAX_TITLE or len(column["text"]) > limit:
        raise UnsupportedContent(CHANNEL, cap.CARDS)
    if card.get("url"):
        column["defaultAction"] = {"type": "uri", "label": "Open", "uri": str(card["url"])}
    column["actions"] = [_action(button) for button in card["buttons"]]
    return column
