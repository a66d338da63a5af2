"""LINE webhook bodies as our inbound events.

A webhook is ``{"destination": <bot user id>, "events": [...]}`` (LINE may send an empty
list to check the endpoint). ``message`` events (text, image, video, audio, file, location,
sticker) and ``postback`` events (a pressed postback button or quick reply) become
:class:`InboundMessage` values; every other event (``follow``, ``unfollow``, ``join``,
``unsend``...) is kept as an :class:`UnknownEvent` named after its type, since our inbound
shapes have no place for it.

- ``sender`` is where a push answering the event goes: the group or room id in a group
  chat, else the user id. ``recipient`` is the bot's user id (``destination``).
- Message ids are our references (:func:`chatgate.channels.line_build.message_reference`):
  LINE's message id with the event's time, reply token and quote token. A redelivered event
  (``deliveryContext.isRedelivery``) is the original event again, with its original time
  and tokens: it gets the same reference, so the gateway stores it once, and its reply
  token is judged by the original time (a redelivery comes too late to reply).
- A postback is ``"postback-{webhookEventId}"`` with its reply token, so that the answer
  to a pressed button can be a free reply too.
- Media name LINE's message id as the ``reference`` to download (``/v2/bot/message/{id}/
  content``), or the URL when the file is held elsewhere (``contentProvider.type`` =
  ``external``). Stickers have no file to download: their package and sticker ids are kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from chatgate.channels.base import InboundEvent, InboundMessage, UnknownEvent
from chatgate.channels.line_build import message_reference

# LINE's media message types and our media kinds.
_MEDIA_KINDS = {"image": "image", "video": "video", "audio": "audio", "file": "document"}


def parse_body(body: Any) -> list[InboundEvent]:
    """The events of one webhook body."""
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        return [UnknownEvent(kind="unknown", raw=body)]
    bot = str(body.get("destination") or "")
    return [_event(event, bot) for event in body["events"]]


def is_redelivery(event: Mapping[str, Any]) -> bool:
    """Whether LINE sent this event before (and the endpoint did not acknowledge it)."""
    context = event.get("deliveryContext")
    return isinstance(context, dict) and context.get("isRedelivery") is True


def _event(event: Any, bot: str) -> InboundEvent:
    if not isinstance(event, dict):
        return UnknownEvent(kind="unknown", raw=event)
    kind = str(event.get("type") or "unknown")
    parsed: InboundEvent | None = None
    if kind == "message" and isinstance(event.get("message"), dict):
        parsed = _message(event, event["message"], bot)
    elif kind == "postback" and isinstance(event.get("postback"), dict):
        parsed = _postback(event, event["postback"], bot)
    return parsed if parsed is not None else UnknownEvent(kind=kind, raw=event)


def _chat(event: Mapping[str, Any]) -> str | None:
    source = event.get("source")
    if not isinstance(source, dict):
        return None
    for field in ("groupId", "roomId", "userId"):
        if isinstance(source.get(field), str) and source[field]:
            return str(source[field])
    return None


def _message(event: dict[str, Any], message: dict[str, Any], bot: str) -> InboundEvent | None:
    chat = _chat(event)
    content = message_content(message)
    if chat is None or not isinstance(message.get("id"), str) or content is None:
        return None
    quoted = message.get("quotedMessageId")
    return InboundMessage(
        provider_message_id=message_reference(
            message["id"], _ms(event), _token(event, "replyToken"), _token(message, "quoteToken")
        ),
        sender=chat,
        recipient=bot,
        content=content,
        at=_time(event),
        raw=event,
        reply_to=quoted if isinstance(quoted, str) and quoted else None,
    )


def message_content(message: Mapping[str, Any]) -> dict[str, Any] | None:
    """Our content shape of a LINE message object, or ``None`` for types we do not read."""
    kind = message.get("type")
    if kind == "text" and isinstance(message.get("text"), str):
        return {"type": "text", "text": message["text"]}
    if kind in _MEDIA_KINDS:
        return _media(_MEDIA_KINDS[str(kind)], message)
    if kind == "location":
        return _location(message)
    if kind == "sticker":
        return _sticker(message)
    return None


def _media(kind: str, message: Mapping[str, Any]) -> dict[str, Any]:
    provider = message.get("contentProvider")
    external = (
        provider.get("originalContentUrl")
        if isinstance(provider, dict) and provider.get("type") == "external"
        else None
    )
    media: dict[str, Any] = {"kind": kind, "reference": external or message["id"]}
    if isinstance(message.get("fileName"), str) and message["fileName"]:
        media["filename"] = message["fileName"]
    return {"type": "media", "media": media}


def _location(message: Mapping[str, Any]) -> dict[str, Any] | None:
    latitude, longitude = message.get("latitude"), message.get("longitude")
    if not isinstance(latitude, int | float) or not isinstance(longitude, int | float):
        return None
    location: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
    for ours, theirs in (("name", "title"), ("address", "address")):
        if isinstance(message.get(theirs), str) and message[theirs]:
            location[ours] = message[theirs]
    return {"type": "location", "location": location}


def _sticker(message: Mapping[str, Any]) -> dict[str, Any] | None:
    package, sticker = message.get("packageId"), message.get("stickerId")
    if not isinstance(package, str) or not isinstance(sticker, str):
        return None
    media: dict[str, Any] = {"kind": "sticker", "package_id": package, "sticker_id": sticker}
    if isinstance(message.get("text"), str) and message["text"]:
        media["text"] = message["text"]  # what the user typed on a message sticker
    return {"type": "media", "media": media}


def _postback(event: dict[str, Any], postback: dict[str, Any], bot: str) -> InboundEvent | None:
    chat = _chat(event)
    data = postback.get("data")
    event_id = event.get("webhookEventId")
    if chat is None or not isinstance(data, str) or not isinstance(event_id, str):
        return None
    return InboundMessage(
        provider_message_id=message_reference(
            f"postback-{event_id}", _ms(event), _token(event, "replyToken"), None
        ),
        sender=chat,
        recipient=bot,
        content={"type": "reply", "reply": {"id": data}},
        at=_time(event),
        raw=event,
    )


def _token(holder: Mapping[str, Any], name: str) -> str | None:
    value = holder.get(name)
    return value if isinstance(value, str) and value else None


def _ms(event: Mapping[str, Any]) -> int | None:
    value = event.get("timestamp")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _time(event: Mapping[str, Any]) -> datetime:
    ms = _ms(event)
    return datetime.fromtimestamp(ms / 1000, UTC) if ms is not None else datetime.now(UTC)
