"""Messenger and Instagram sends: the Send API body for our content.

Both platforms take ``POST /{version}/{account id}/messages`` with a ``recipient``, a
``messaging_type`` (``RESPONSE``; ``MESSAGE_TAG`` with a ``tag`` outside the 24-hour window)
and a ``message``. A reaction is a ``sender_action`` (``react`` / ``unreact``) with a
``payload``, and a reply names the quoted message in a top-level ``reply_to: {mid}``.
Where the two differ (tags, button kinds, reactions), a :class:`Dialect` says so.

Where our content has no exact counterpart:

- an interactive message's header and footer are joined to its body with blank lines: the
  button template and quick replies carry one text only;
- a card carousel (generic template) has no text of its own, so its body is not sent;
- a document's filename cannot be set: the recipient sees the name the URL gives;
- text limits (Messenger 2000 characters, Instagram 1000 UTF-8 bytes) and button counts
  are the platform's to check: it answers ``(#100)``, a permanent error.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chatgate.channels.base import OutboundMessage, ProviderError, UnsupportedContent
from chatgate.domain import capabilities as cap

_OUTBOUND_ATTACHMENT = {"image": "image", "video": "video", "audio": "audio", "document": "file"}
_BUTTON_FEATURES = {"reply": cap.BUTTONS_REPLY, "url": cap.BUTTONS_URL, "call": cap.BUTTONS_CALL}


@dataclass(frozen=True)
class Dialect:
    """How one of the two platforms differs from the other on the shared shapes."""

    channel: str
    # The webhook envelope's ``object``.
    object_name: str
    capabilities: frozenset[str]
    # Message tags the platform takes (``options["tag"]``).
    tags: frozenset[str]
    # Tags the platform took once and now refuses, with the reason.
    retired_tags: Mapping[str, str]
    # Whether media payloads ask the platform to keep the file for reuse.
    reusable_media: bool
    # The platform's ``reaction`` value for an emoji, or ``None`` when it cannot send it.
    reaction: Callable[[str], str | None]


# -- outbound -------------------------------------------------------------------------------


def build_send_body(message: OutboundMessage, dialect: Dialect) -> dict[str, Any]:
    """The Send API body for ``message``.

    Raises :class:`UnsupportedContent` for what the platform cannot carry, and a permanent
    :class:`ProviderError` for a tag the platform refuses.
    """
    content = message.content
    missing = cap.missing_features(
        content, dialect.capabilities, reply_to=message.reply_to is not None
    )
    if missing:
        raise UnsupportedContent(dialect.channel, missing[0])
    recipient = {"id": message.recipient}
    if content["type"] == "reaction":
        # A sender action travels alone: no messaging_type, message or reply_to.
        return {"recipient": recipient, **_reaction(content["reaction"], dialect)}
    tag = _tag(message.options, dialect)
    body: dict[str, Any] = {
        "recipient": recipient,
        "messaging_type": "MESSAGE_TAG" if tag else "RESPONSE",
    }
    if tag:
        body["tag"] = tag
    body["message"] = _message(content, dialect)
    if message.reply_to is not None:
        body["reply_to"] = {"mid": message.reply_to}
    return body


def _tag(options: Mapping[str, Any], dialect: Dialect) -> str | None:
    tag = options.get("tag")
    if tag is None:
        return None
    if isinstance(tag, str) and tag in dialect.retired_tags:
        raise ProviderError("invalid_tag", dialect.retired_tags[tag], retryable=False)
    if not isinstance(tag, str) or tag not in dialect.tags:
        allowed = ", ".join(sorted(dialect.tags))
        raise ProviderError(
            "invalid_tag", f"{dialect.channel} takes the tags {allowed}", retryable=False
        )
    return tag


def _message(content: Mapping[str, Any], dialect: Dialect) -> dict[str, Any]:
    kind = content["type"]
    if kind == "text":
        # Link previews are the platform's choice: there is no switch to send.
        return {"text": content["text"]}
    if kind == "media":
        return {"attachment": _attachment(content["media"], dialect)}
    if kind == "interactive":
        return _interactive(content["interactive"], dialect)
    raise UnsupportedContent(dialect.channel, kind)


def _attachment(media: Mapping[str, Any], dialect: Dialect) -> dict[str, Any]:
    payload: dict[str, Any] = {"url": media["url"]}
    if dialect.reusable_media:
        payload["is_reusable"] = True
    return {"type": _OUTBOUND_ATTACHMENT[media["kind"]], "payload": payload}


def _interactive(interactive: Mapping[str, Any], dialect: Dialect) -> dict[str, Any]:
    shape = interactive["kind"]
    if shape == "quick_replies":
        return {
            "text": _joined_text(interactive),
            "quick_replies": [
                {"content_type": "text", "title": b["title"], "payload": b["id"]}
                for b in interactive["buttons"]
            ],
        }
    if shape == "buttons":
        payload: dict[str, Any] = {
            "template_type": "button",
            "text": _joined_text(interactive),
            "buttons": [_button(b, dialect) for b in interactive["buttons"]],
        }
    elif shape == "cards":
        payload = {
            "template_type": "generic",
            "elements": [_card(card, dialect) for card in interactive["cards"]],
        }
    else:
        raise UnsupportedContent(dialect.channel, cap.LIST)
    return {"attachment": {"type": "template", "payload": payload}}


def _joined_text(interactive: Mapping[str, Any]) -> str:
    parts = (interactive.get("header"), interactive["body"], interactive.get("footer"))
    return "\n\n".join(part for part in parts if part)


def _button(button: Mapping[str, Any], dialect: Dialect) -> dict[str, Any]:
    kind = button.get("type", "reply")
    # Cards' buttons are not among the content's features: check them here.
    feature = _BUTTON_FEATURES[kind]
    if feature not in dialect.capabilities:
        raise UnsupportedContent(dialect.channel, feature)
    if kind == "url":
        return {"type": "web_url", "url": button["url"], "title": button["title"]}
    if kind == "call":
        return {"type": "phone_number", "title": button["title"], "payload": button["phone"]}
    return {"type": "postback", "title": button["title"], "payload": button["id"]}


def _card(card: Mapping[str, Any], dialect: Dialect) -> dict[str, Any]:
    element: dict[str, Any] = {"title": card["title"]}
    if card.get("subtitle"):
        element["subtitle"] = card["subtitle"]
    if card.get("image_url"):
        element["image_url"] = card["image_url"]
    if card.get("url"):
        element["default_action"] = {"type": "web_url", "url": card["url"]}
    if card.get("buttons"):
        element["buttons"] = [_button(b, dialect) for b in card["buttons"]]
    return element


def _reaction(reaction: Mapping[str, Any], dialect: Dialect) -> dict[str, Any]:
    target = reaction["message_id"]
    emoji = reaction["emoji"]
    if not emoji:
        return {"sender_action": "unreact", "payload": {"message_id": target}}
    value = dialect.reaction(emoji)
    if value is None:
        raise UnsupportedContent(dialect.channel, cap.REACTION)
    return {"sender_action": "react", "payload": {"message_id": target, "reaction": value}}


def sent_message_id(body: Mapping[str, Any], answer: Mapping[str, Any]) -> str:
    """Our handle on an accepted send: the platform's ``message_id``.

    A reaction is answered with ``recipient_id`` alone, so it gets an id of its own making.
    """
    message_id = answer.get("message_id")
    if isinstance(message_id, str) and message_id:
        return message_id
    action = body.get("sender_action")
    if isinstance(action, str):
        target = (body.get("payload") or {}).get("message_id", "")
        return f"{action}.{target}.{int(time.time() * 1000)}"
    raise ProviderError(
        "bad_response", "the platform accepted the message but named no message_id", retryable=False
    )
