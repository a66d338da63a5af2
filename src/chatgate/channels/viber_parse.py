"""Viber callbacks as our inbound events.

One callback is one JSON object naming its ``event``; every one has ``timestamp``
(milliseconds) and ``message_token``.

- ``message``: a user wrote (:class:`InboundMessage`; its id is the ``message_token``, the
  sender the user's id). ``text``, ``picture``, ``video``, ``file``, ``sticker``,
  ``location``, ``contact`` and ``url`` messages are read; a text equal to a reply choice
  named by the message's ``tracking_data`` is a pressed button (``{"type": "reply"}``).
- ``delivered``, ``seen`` and ``failed`` report a message we sent (:class:`StatusUpdate`
  naming its ``message_token`` and the ``user_id``); a failure carries Viber's ``desc``.
- ``subscribed``, ``unsubscribed``, ``conversation_started`` (the user opened the chat; a
  conversation is not a subscription), ``webhook`` (the check ``set_webhook`` makes) and
  anything else are :class:`UnknownEvent` values named after the event, kept in the log.

Viber callbacks do not name the bot; ``recipient`` is the name the bot sends as.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from chatgate.channels.base import InboundEvent, InboundMessage, StatusUpdate, UnknownEvent
from chatgate.channels.viber_build import replies_of
from chatgate.domain.status import Status

# The error code of a ``failed`` callback: Viber gives a description only.
FAILED = "failed"
_MEDIA_KINDS = {"picture": "image", "video": "video", "file": "document", "sticker": "sticker"}


def parse_callback(
    body: Any, recipient: str, status_map: Mapping[str, Status]
) -> list[InboundEvent]:
    """The event in one callback (a list of one, as the contract wants a list)."""
    if not isinstance(body, dict) or not isinstance(body.get("event"), str):
        return [UnknownEvent(kind="unknown", raw=body)]
    kind = body["event"]
    event: InboundEvent | None = None
    if kind == "message":
        event = _message(body, recipient)
    elif kind in status_map:
        event = _status(body, kind, status_map[kind])
    return [event if event is not None else UnknownEvent(kind=kind, raw=body)]


def _message(body: dict[str, Any], recipient: str) -> InboundEvent | None:
    sender = body.get("sender")
    message = body.get("message")
    token = body.get("message_token")
    if not isinstance(sender, dict) or not isinstance(message, dict) or token is None:
        return None
    if not isinstance(sender.get("id"), str) or not sender["id"]:
        return None
    content = message_content(message)
    if content is None:
        return None
    name = sender.get("name")
    return InboundMessage(
        provider_message_id=str(token),
        sender=sender["id"],
        recipient=recipient,
        content=content,
        at=_time(body.get("timestamp")),
        raw=body,
        sender_name=name if isinstance(name, str) and name else None,
    )


def message_content(message: Mapping[str, Any]) -> dict[str, Any] | None:
    """Our content shape of a Viber ``message`` object, or ``None`` for kinds we do not read."""
    kind = message.get("type")
    if kind == "text" and isinstance(message.get("text"), str):
        text = message["text"]
        replies = replies_of(message.get("tracking_data"))
        if text in replies:
            return {"type": "reply", "reply": {"id": text, "title": replies[text]}}
        return {"type": "text", "text": text}
    if kind in _MEDIA_KINDS and isinstance(message.get("media"), str) and message["media"]:
        media: dict[str, Any] = {"kind": _MEDIA_KINDS[kind], "reference": message["media"]}
        if isinstance(message.get("text"), str) and message["text"]:
            media["caption"] = message["text"]
        if isinstance(message.get("file_name"), str) and message["file_name"]:
            media["filename"] = message["file_name"]
        return {"type": "media", "media": media}
    if kind == "location" and isinstance(message.get("location"), dict):
        point = message["location"]
        lat, lon = point.get("lat"), point.get("lon")
        if isinstance(lat, int | float) and isinstance(lon, int | float):
            return {"type": "location", "location": {"latitude": lat, "longitude": lon}}
        return None
    if kind == "contact" and isinstance(message.get("contact"), dict):
        contact = message["contact"]
        phone = contact.get("phone_number")
        card = {
            "name": str(contact.get("name") or phone or ""),
            "phones": [phone] if isinstance(phone, str) and phone else [],
            "emails": [],
        }
        return {"type": "contact", "contacts": [card]}
    if kind == "url" and isinstance(message.get("media"), str):
        # A shared link: its URL is the message's text.
        return {"type": "text", "text": message["media"]}
    return None


def _status(body: dict[str, Any], kind: str, status: Status) -> StatusUpdate | None:
    token = body.get("message_token")
    if token is None:
        return None
    user = body.get("user_id")
    failed = kind == FAILED
    desc = body.get("desc")
    return StatusUpdate(
        status=status,
        platform_status=kind,
        at=_time(body.get("timestamp")),
        raw=body,
        provider_message_id=str(token),
        recipient=user if isinstance(user, str) and user else None,
        error_code=FAILED if failed else None,
        error_message=(str(desc) if desc else "Viber could not deliver the message")
        if failed
        else None,
    )


def _time(millis: Any) -> datetime:
    if isinstance(millis, int | float) and millis > 0:
        return datetime.fromtimestamp(millis / 1000, UTC)
    return datetime.now(UTC)
