"""TikTok Business Messaging webhooks, parsed into our events.

One webhook carries one event: ``{"client_key", "event", "create_time", "user_openid",
"content"}`` where ``user_openid`` is the business account and ``content`` is a JSON
document *in a string*. The events:

- ``im_receive_msg``: a user wrote. ``content`` holds ``conversation_id``, ``message_id``,
  ``timestamp`` (ms), ``type`` and the field of that type (``text: {body}``, ``image:
  {media_id}``, ``video: {media_id}``, ``reaction: [...]``, ``share_post``, ``sticker``...),
  ``from`` (the user's name), ``from_user``/``to_user`` (``{id, role}``) and, on a quote,
  ``referenced_message_info: {referenced_message_id}``. Text, images, videos and emoji
  reactions become :class:`InboundMessage` values; other types are unknown events named
  ``message.<type>``.
- ``im_mark_read_msg``: the user read the conversation up to ``read.last_read_timestamp``
  (ms): a read watermark for every message sent to it before then. TikTok has no delivery
  receipts. The same event for the business reading its own inbox says nothing of the
  user and is kept as unknown (``read.business``).
- ``im_send_msg`` (the echo of a business message, ours or sent from the app) and every
  other event (comments, referrals...) are unknown events named after the event.

A user is addressed by the conversation: ``sender`` is the ``conversation_id`` (what a
reply is sent to), ``recipient`` the business id. Inbound media are referenced as
``"<IMAGE|VIDEO>:<conversation_id>:<message_id>:<media_id>"``, everything the download
call needs (TikTok's ids are base64 and never hold a colon).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from chatgate.channels.base import InboundEvent, InboundMessage, StatusUpdate, UnknownEvent
from chatgate.domain.json_body import load_json
from chatgate.domain.status import Status

RECEIVE = "im_receive_msg"
READ = "im_mark_read_msg"
STATUS_MAP: Mapping[str, Status] = {READ: Status.READ}
_MEDIA_TYPES = {"image": "IMAGE", "video": "VIDEO"}


def media_reference(media_type: str, conversation_id: str, message_id: str, media_id: str) -> str:
    """The reference of an inbound attachment, as :func:`split_reference` reads it."""
    return f"{media_type}:{conversation_id}:{message_id}:{media_id}"


def split_reference(reference: str) -> tuple[str, str, str, str] | None:
    """``(media_type, conversation_id, message_id, media_id)`` of a reference, or ``None``."""
    parts = reference.split(":", 3)
    if len(parts) != 4 or not all(parts) or parts[0] not in _MEDIA_TYPES.values():
        return None
    return parts[0], parts[1], parts[2], parts[3]


def parse_webhook(body: bytes) -> list[InboundEvent]:
    """The event of one webhook; raises ``ValueError`` when the body is not JSON."""
    data = load_json(body)
    if not isinstance(data, dict) or not isinstance(data.get("event"), str):
        return [UnknownEvent(kind="unknown", raw=data)]
    event = data["event"]
    if event not in (RECEIVE, READ):
        return [UnknownEvent(kind="echo" if event == "im_send_msg" else event, raw=data)]
    try:
        content = load_json(data["content"]) if isinstance(data["content"], str) else None
        if not isinstance(content, dict):
            return [UnknownEvent(kind="malformed", raw=data)]
        parsed = _read(data, content) if event == READ else _message(data, content)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
        return [UnknownEvent(kind="malformed", raw=data)]
    return [parsed]


def _moment(milliseconds: Any, seconds: Any) -> datetime:
    if isinstance(milliseconds, int | float) and milliseconds > 0:
        return datetime.fromtimestamp(milliseconds / 1000, UTC)
    if isinstance(seconds, int | float) and seconds > 0:
        return datetime.fromtimestamp(seconds, UTC)
    return datetime.now(UTC)


def _user_id(side: Any) -> str | None:
    return str(side["id"]) if isinstance(side, dict) and side.get("id") else None


def _read(data: Mapping[str, Any], content: Mapping[str, Any]) -> InboundEvent:
    if _user_id(content.get("from_user")) == str(data.get("user_openid")):
        # The business read its own inbox: nothing about what the user has seen.
        return UnknownEvent(kind="read.business", raw=data)
    stamp = content["read"]["last_read_timestamp"]
    return StatusUpdate(
        status=STATUS_MAP[READ],
        platform_status=READ,
        at=_moment(stamp, data.get("create_time")),
        raw=data,
        recipient=str(content["conversation_id"]),
        up_to=_moment(stamp, None),
    )


def _message(data: Mapping[str, Any], content: Mapping[str, Any]) -> InboundEvent:
    kind = str(content.get("type"))
    conversation_id = str(content["conversation_id"])
    message_id = str(content["message_id"])
    payload = _content(kind, content, conversation_id, message_id)
    if payload is None:
        return UnknownEvent(kind=f"message.{kind}", raw=data)
    quoted = content.get("referenced_message_info")
    reply_to = quoted.get("referenced_message_id") if isinstance(quoted, dict) else None
    name = content.get("from")
    return InboundMessage(
        provider_message_id=message_id,
        sender=conversation_id,
        recipient=str(data.get("user_openid") or _user_id(content.get("to_user")) or ""),
        content=payload,
        at=_moment(content.get("timestamp"), data.get("create_time")),
        raw=data,
        sender_name=str(name) if name else None,
        reply_to=str(reply_to) if reply_to else None,
    )


def _content(
    kind: str, content: Mapping[str, Any], conversation_id: str, message_id: str
) -> dict[str, Any] | None:
    if kind == "text" and isinstance(content.get("text"), dict):
        return {"type": "text", "text": str(content["text"]["body"])}
    if kind in _MEDIA_TYPES and isinstance(content.get(kind), dict):
        media_id = content[kind].get("media_id")
        if not media_id:
            return None
        reference = media_reference(_MEDIA_TYPES[kind], conversation_id, message_id, media_id)
        return {"type": "media", "media": {"kind": kind, "reference": reference}}
    if kind == "reaction":
        return _reaction(content)
    return None


def _reaction(content: Mapping[str, Any]) -> dict[str, Any] | None:
    """An emoji put on (or taken off) a message; TikTok's AI emoji have no emoji to give."""
    found = content.get("reaction")
    items = found if isinstance(found, list) else [found]
    for item in items:
        if not isinstance(item, dict) or item.get("type", "EMOJI") != "EMOJI":
            continue
        target = item.get("original_msg_id") or content.get("original_msg_id")
        if not target:
            continue
        emoji = "" if item.get("operation") == "REMOVE" else str(item.get("emoji") or "")
        if not emoji and item.get("operation") != "REMOVE":
            continue
        return {"type": "reaction", "reaction": {"message_id": str(target), "emoji": emoji}}
    return None
