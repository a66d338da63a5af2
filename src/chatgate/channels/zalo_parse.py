"""Zalo OA webhook events as our inbound events.

One webhook carries one event: ``{app_id, user_id_by_app, event_name, timestamp (ms, as a
string), sender: {id}, recipient: {id}, message?: {...}}``. Ids are 64-bit numbers Zalo
writes as strings; they are kept as strings.

- ``user_send_text``, ``user_send_image``/``_gif``/``_file``/``_audio``/``_video``/
  ``_sticker`` and ``user_send_location`` are :class:`InboundMessage` values: ``sender`` is
  the user, ``recipient`` the OA. A media ``reference`` is the attachment's CDN URL.
- ``user_received_message`` (``message.msg_id``) is ``delivered``; ``user_seen_message``
  (``message.msg_ids``, several at once) is ``read``, one update per id. On these two Zalo
  turns the parties round: ``sender`` is the OA, ``recipient`` the user.
- ``follow`` and ``unfollow`` are kept as :class:`UnknownEvent` values of those kinds (they
  are no messages); every other event (``oa_send_*`` echoes, ``user_send_link``...) is an
  :class:`UnknownEvent` named after its ``event_name``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from chatgate.channels.base import InboundEvent, InboundMessage, StatusUpdate, UnknownEvent
from chatgate.domain.status import Status

STATUS_EVENTS: Mapping[str, Status] = {
    "user_received_message": Status.DELIVERED,
    "user_seen_message": Status.READ,
}
# Attachment events: our media kind for each.
_MEDIA_EVENTS: Mapping[str, str] = {
    "user_send_image": "image",
    "user_send_gif": "image",
    "user_send_file": "document",
    "user_send_audio": "audio",
    "user_send_video": "video",
    "user_send_sticker": "sticker",
}
FOLLOW_EVENTS = frozenset({"follow", "unfollow"})


def parse_event(event: Any) -> list[InboundEvent]:
    """The events in one webhook body (usually one; a seen receipt may name several)."""
    if not isinstance(event, dict) or not isinstance(event.get("event_name"), str):
        return [UnknownEvent(kind="unknown", raw=event)]
    name = event["event_name"]
    found: list[InboundEvent] | None = None
    if name in STATUS_EVENTS:
        found = _statuses(event, name)
    elif name == "user_send_text" or name in _MEDIA_EVENTS or name == "user_send_location":
        message = _message(event, name)
        found = None if message is None else [message]
    return found or [UnknownEvent(kind=name, raw=event)]


def _id(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        return None
    return str(value)


def _party(event: Mapping[str, Any], side: str) -> str | None:
    party = event.get(side)
    return _id(party.get("id")) if isinstance(party, dict) else None


def event_time(event: Mapping[str, Any]) -> datetime:
    """When the event happened: ``timestamp`` is milliseconds, written as a string."""
    raw = event.get("timestamp")
    try:
        millis = int(str(raw))
    except ValueError:
        return datetime.now(UTC)
    return datetime.fromtimestamp(millis / 1000, UTC) if millis > 0 else datetime.now(UTC)


def _message(event: dict[str, Any], name: str) -> InboundMessage | None:
    body = event.get("message")
    sender, recipient = _party(event, "sender"), _party(event, "recipient")
    if not isinstance(body, dict) or sender is None or recipient is None:
        return None
    message_id = _id(body.get("msg_id"))
    content = _content(body, name)
    if message_id is None or content is None:
        return None
    return InboundMessage(
        provider_message_id=message_id,
        sender=sender,
        recipient=recipient,
        content=content,
        at=event_time(event),
        raw=event,
    )


def _content(body: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    if name == "user_send_text":
        text = body.get("text")
        return {"type": "text", "text": text} if isinstance(text, str) and text else None
    attachments = body.get("attachments")
    first = attachments[0] if isinstance(attachments, list) and attachments else None
    payload = first.get("payload") if isinstance(first, dict) else None
    if not isinstance(payload, dict):
        return None
    if name == "user_send_location":
        return _location(payload)
    url = payload.get("url")
    if not isinstance(url, str) or not url:
        return None
    media: dict[str, Any] = {"kind": _MEDIA_EVENTS[name], "reference": url}
    if name == "user_send_gif":
        media["mime_type"] = "image/gif"
    if isinstance(payload.get("name"), str) and payload["name"]:
        media["filename"] = payload["name"]
    caption = body.get("text")
    if isinstance(caption, str) and caption:
        media["caption"] = caption
    return {"type": "media", "media": media}


def _number(value: Any) -> float | None:
    # Zalo writes coordinates as numbers or as strings of them, depending on the client.
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _location(payload: Mapping[str, Any]) -> dict[str, Any] | None:
    point = payload.get("coordinates")
    if not isinstance(point, dict):
        return None
    latitude = _number(point.get("latitude", point.get("lat")))
    longitude = _number(point.get("longitude", point.get("long")))
    if latitude is None or longitude is None:
        return None
    return {"type": "location", "location": {"latitude": latitude, "longitude": longitude}}


def _statuses(event: dict[str, Any], name: str) -> list[InboundEvent] | None:
    body = event.get("message")
    if not isinstance(body, dict):
        return None
    # On receipts Zalo names the OA as sender and the user as recipient.
    user = _party(event, "recipient")
    ids = body.get("msg_ids") if name == "user_seen_message" else [body.get("msg_id")]
    if not isinstance(ids, list):
        ids = [body.get("msg_id")]
    found = [_id(value) for value in ids]
    named = [message_id for message_id in found if message_id is not None]
    if not named:
        return None
    at = event_time(event)
    return [
        StatusUpdate(
            status=STATUS_EVENTS[name],
            platform_status=name,
            at=at,
            raw=event,
            provider_message_id=message_id,
            recipient=user,
        )
        for message_id in named
    ]
