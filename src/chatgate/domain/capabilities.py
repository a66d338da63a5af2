"""What a channel can carry, named feature by feature.

A content needs a set of features (``features_of``); an adapter publishes the set it has.
The names are public: they appear in ``GET /v1/channels/capabilities`` and in the
``unsupported_content`` error that names what a channel cannot carry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TEXT = "text"
MEDIA_IMAGE = "media.image"
MEDIA_DOCUMENT = "media.document"
MEDIA_VIDEO = "media.video"
MEDIA_AUDIO = "media.audio"
MEDIA_VOICE = "media.voice"
MEDIA_CAPTION = "media.caption"
TEMPLATE = "template"
BUTTONS_REPLY = "interactive.buttons.reply"
BUTTONS_URL = "interactive.buttons.url"
BUTTONS_CALL = "interactive.buttons.call"
QUICK_REPLIES = "interactive.quick_replies"
LIST = "interactive.list"
CARDS = "interactive.cards"
PRODUCT = "interactive.product"
PRODUCT_LIST = "interactive.product_list"
ADDRESS = "interactive.address"
LOCATION = "location"
CONTACT = "contact"
REACTION = "reaction"
STICKER = "sticker"
REPLY_TO = "reply_to"

ALL_FEATURES = (
    TEXT,
    MEDIA_IMAGE,
    MEDIA_DOCUMENT,
    MEDIA_VIDEO,
    MEDIA_AUDIO,
    MEDIA_VOICE,
    MEDIA_CAPTION,
    TEMPLATE,
    BUTTONS_REPLY,
    BUTTONS_URL,
    BUTTONS_CALL,
    QUICK_REPLIES,
    LIST,
    CARDS,
    PRODUCT,
    PRODUCT_LIST,
    ADDRESS,
    LOCATION,
    CONTACT,
    REACTION,
    STICKER,
    REPLY_TO,
)

_BUTTON_FEATURES = {"reply": BUTTONS_REPLY, "url": BUTTONS_URL, "call": BUTTONS_CALL}
# The feature each kind of interactive message needs by its kind alone (buttons: by theirs).
SHAPE_FEATURES = {
    "quick_replies": QUICK_REPLIES,
    "list": LIST,
    "cards": CARDS,
    "product": PRODUCT,
    "product_list": PRODUCT_LIST,
    "address": ADDRESS,
}
# WhatsApp's commerce messages: no other platform has a form of them.
COMMERCE_SHAPES = {"product": PRODUCT, "product_list": PRODUCT_LIST, "address": ADDRESS}


def features_of(content: Mapping[str, Any], *, reply_to: bool = False) -> list[str]:
    """The features a content needs, in a stable order (the first is the most basic)."""
    kind = content["type"]
    needed: list[str] = []
    if kind == "text":
        needed.append(TEXT)
    elif kind == "media":
        media = content["media"]
        needed.append(MEDIA_VOICE if media.get("voice") else f"media.{media['kind']}")
        if media.get("caption"):
            needed.append(MEDIA_CAPTION)
    elif kind == "interactive":
        interactive = content["interactive"]
        shape = interactive["kind"]
        if shape in SHAPE_FEATURES:
            needed.append(SHAPE_FEATURES[shape])
        # The buttons a message or its cards carry each need their kind of button.
        buttons = [
            *(interactive.get("buttons", []) if shape == "buttons" else []),
            *(b for card in interactive.get("cards", []) for b in card.get("buttons", [])),
        ]
        needed.extend(dict.fromkeys(_BUTTON_FEATURES[b.get("type", "reply")] for b in buttons))
    elif kind in (TEMPLATE, LOCATION, CONTACT, REACTION, STICKER):
        needed.append(kind)
    if reply_to:
        needed.append(REPLY_TO)
    return needed


def missing_features(
    content: Mapping[str, Any], has: frozenset[str], *, reply_to: bool
) -> list[str]:
    """The features ``content`` needs that a channel with ``has`` lacks."""
    return [feature for feature in features_of(content, reply_to=reply_to) if feature not in has]


def commerce_feature(interactive: Mapping[str, Any]) -> str | None:
    """The feature of a commerce message (a product, a product list, an address form), which
    only WhatsApp carries; ``None`` for any other interactive message."""
    return COMMERCE_SHAPES.get(str(interactive.get("kind")))
