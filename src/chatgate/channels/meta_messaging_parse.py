"""Messenger and Instagram webhooks: the ``messaging[]`` envelope, parsed into our events.

Webhooks come as ``{"object", "entry": [{"id", "time", "messaging": [event]}]}`` where each
event has ``sender``, ``recipient``, ``timestamp`` and one of ``message``, ``postback``,
``delivery``, ``read``, ``reaction``, ``referral``... What has no shape of ours (echoes of
our own sends, shares, referrals, edits) becomes an :class:`UnknownEvent`, kept raw.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from chatgate.channels.base import InboundEvent, InboundMessage, StatusUpdate, UnknownEvent
from chatgate.domain.json_body import load_json
from chatgate.domain.status import Status

# Webhook event names, as ``StatusUpdate.platform_status``.
STATUS_MAP: Mapping[str, Status] = {"delivery": Status.DELIVERED, "read": Status.READ}

_INBOUND_MEDIA = {
    "image": "image",
    "video": "video",
    "audio": "audio",
    "file": "document",
    "sticker": "sticker",
}
# A reaction webhook names the reaction; the emoji is optional on Instagram.
_REACTION_EMOJI = {
    "love": "❤️",
    "like": "👍",
    "dislike": "👎",
    "smile": "😆",
    "laugh": "😆",
    "wow": "😮",
    "sad": "😢",
    "angry": "😠",
}
_ENVELOPE_KEYS = frozenset({"sender", "recipient", "timestamp"})


def parse_webhook(
    body: bytes, object_name: str, status_map: Mapping[str, Status] = STATUS_MAP
) -> list[InboundEvent]:
    """The events of a webhook whose envelope is ``object_name`` (``page``, ``instagram``).

    Receipts get the status ``status_map`` gives their event name (unknown when unmapped).
    What is not understood becomes an :class:`UnknownEvent`.

    Raises ``ValueError`` when the body is not JSON.
    """
    data = load_json(body)
    if not isinstance(data, dict) or data.get("object") != object_name:
        return [UnknownEvent(kind="unknown", raw=data)]
    entries = data.get("entry")
    if not isinstance(entries, list):
        return [UnknownEvent(kind="unknown", raw=data)]
    events: list[InboundEvent] = []
    for entry in entries:
        events.extend(_entry_events(entry))
    # Receipts are read in one shape for both platforms; what they mean is each one's own
    # (Instagram has no deliveries, so one arriving there is unknown).
    return [
        replace(event, status=status_map.get(event.platform_status, Status.UNKNOWN))
        if isinstance(event, StatusUpdate)
        else event
        for event in events
    ]


def _entry_events(entry: Any) -> Iterator[InboundEvent]:
    if not isinstance(entry, dict):
        yield UnknownEvent(kind="unknown", raw=entry)
        return
    messaging = entry.get("messaging")
    found = False
    if isinstance(messaging, list):
        found = True
        for event in messaging:
            yield from _guarded(event, entry)
    # Messages seen by an app not in control of the thread, and field changes (comments).
    for key in ("standby", "changes"):
        if key in entry:
            found = True
            yield UnknownEvent(kind=key, raw=entry[key])
    if not found:
        yield UnknownEvent(kind="unknown", raw=entry)


def _guarded(event: Any, entry: Mapping[str, Any]) -> Iterator[InboundEvent]:
    # One odd event must not cost the others in the same delivery.
    try:
        yield from list(_event(event, entry))
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
        yield UnknownEvent(kind="malformed", raw=event)


@dataclass(frozen=True)
class _Envelope:
    sender: str
    recipient: str
    at: datetime
    raw: Mapping[str, Any]


def _event(event: Mapping[str, Any], entry: Mapping[str, Any]) -> Iterator[InboundEvent]:
    sender_of = event["sender"]
    # A postback from a checkbox or a Get Started button may name a user_ref instead.
    sender = str(sender_of.get("id") or sender_of["user_ref"])
    when = event.get("timestamp") or entry.get("time")
    envelope = _Envelope(
        sender=sender,
        recipient=str(event["recipient"]["id"]),
        at=moment(when) if when is not None else datetime.now(UTC),
        raw=event,
    )
    if "message" in event:
        yield from _message_events(event["message"], envelope)
    elif "postback" in event:
        yield _postback(event["postback"], envelope)
    elif "delivery" in event:
        yield from _deliveries(event["delivery"], envelope, has_time="timestamp" in event)
    elif "read" in event:
        yield _read(event["read"], envelope)
    elif "reaction" in event:
        yield _reaction_event(event["reaction"], envelope)
    else:
        kind = next((key for key in event if key not in _ENVELOPE_KEYS), "unknown")
        yield UnknownEvent(kind=kind, raw=event)


def moment(value: Any) -> datetime:
    """A webhook time: milliseconds since the epoch (seconds in a few older events)."""
    number = float(value)
    seconds = number / 1000 if number > 100_000_000_000 else number
    return datetime.fromtimestamp(seconds, UTC)


def _message_events(message: Mapping[str, Any], envelope: _Envelope) -> Iterator[InboundEvent]:
    for flag, kind in (
        ("is_echo", "echo"),
        ("is_deleted", "deleted"),
        ("is_unsupported", "unsupported"),
    ):
        if message.get(flag):
            yield UnknownEvent(kind=kind, raw=envelope.raw)
            return
    mid = str(message["mid"])
    quoted = message.get("reply_to")
    # A reply to a story names the story, not a message.
    reply_to = quoted.get("mid") if isinstance(quoted, dict) else None
    count = 0
    parts = list(_message_parts(message))
    for part in parts:
        if isinstance(part, str):
            yield UnknownEvent(kind=part, raw=envelope.raw)
            continue
        yield InboundMessage(
            # Parts of one message share its mid; the later ones get a suffix to stay apart.
            provider_message_id=mid if count == 0 else f"{mid}#{count}",
            sender=envelope.sender,
            recipient=envelope.recipient,
            content=part,
            at=envelope.at,
            raw=envelope.raw,
            reply_to=str(reply_to) if reply_to else None,
        )
        count += 1
    if not parts:
        yield UnknownEvent(kind="message", raw=envelope.raw)


def _message_parts(message: Mapping[str, Any]) -> Iterator[dict[str, Any] | str]:
    """Each content a message carries, or the kind of an attachment we cannot represent."""
    text = message.get("text")
    quick_reply = message.get("quick_reply")
    if isinstance(quick_reply, dict) and quick_reply.get("payload") is not None:
        yield {"type": "reply", "reply": _omit_none(id=str(quick_reply["payload"]), title=text)}
    elif text:
        yield {"type": "text", "text": text}
    attachments = message.get("attachments") or []
    stickers = any(a.get("type") == "sticker" for a in attachments)
    for attachment in attachments:
        kind = attachment.get("type")
        payload = attachment.get("payload") or {}
        if kind == "image" and stickers and "sticker_id" in payload:
            continue  # the same sticker, also sent as an image while Messenger transitions
        if kind in _INBOUND_MEDIA and payload.get("url"):
            yield {
                "type": "media",
                "media": {"kind": _INBOUND_MEDIA[kind], "reference": payload["url"]},
            }
        elif kind == "location" and isinstance(payload.get("coordinates"), dict):
            yield _location(attachment, payload["coordinates"])
        elif kind == "fallback" and text:
            continue  # the preview of a link in the text
        else:
            yield f"attachment.{kind}"


def _location(attachment: Mapping[str, Any], coordinates: Mapping[str, Any]) -> dict[str, Any]:
    place = _omit_none(
        latitude=float(coordinates["lat"]),
        longitude=float(coordinates["long"]),
        name=attachment.get("title"),
    )
    return {"type": "location", "location": place}


def _postback(postback: Mapping[str, Any], envelope: _Envelope) -> InboundEvent:
    payload = postback.get("payload")
    if payload is None:
        # Only the app that sent the button gets its payload.
        return UnknownEvent(kind="postback", raw=envelope.raw)
    stamp = int(envelope.at.timestamp() * 1000)
    return InboundMessage(
        provider_message_id=str(postback.get("mid") or f"postback.{envelope.sender}.{stamp}"),
        sender=envelope.sender,
        recipient=envelope.recipient,
        content={
            "type": "reply",
            "reply": _omit_none(id=str(payload), title=postback.get("title")),
        },
        at=envelope.at,
        raw=envelope.raw,
    )


def _deliveries(
    delivery: Mapping[str, Any], envelope: _Envelope, *, has_time: bool
) -> Iterator[StatusUpdate]:
    watermark = moment(delivery["watermark"])
    at = envelope.at if has_time else watermark
    mids = delivery.get("mids") or []
    # Older Messenger clients report only the watermark: everything sent before it arrived.
    if not mids:
        yield StatusUpdate(
            status=STATUS_MAP["delivery"],
            platform_status="delivery",
            at=at,
            raw=envelope.raw,
            recipient=envelope.sender,
            up_to=watermark,
        )
    for mid in mids:
        yield StatusUpdate(
            status=STATUS_MAP["delivery"],
            platform_status="delivery",
            at=at,
            raw=envelope.raw,
            provider_message_id=str(mid),
            recipient=envelope.sender,
        )


def _read(read: Mapping[str, Any], envelope: _Envelope) -> StatusUpdate:
    # Instagram names the message seen; Messenger gives a watermark covering all before it.
    mid = read.get("mid")
    return StatusUpdate(
        status=STATUS_MAP["read"],
        platform_status="read",
        at=envelope.at,
        raw=envelope.raw,
        provider_message_id=str(mid) if mid else None,
        recipient=envelope.sender,
        up_to=None if mid else moment(read["watermark"]),
    )


def _reaction_event(reaction: Mapping[str, Any], envelope: _Envelope) -> InboundMessage:
    target = str(reaction["mid"])
    emoji = ""
    if reaction.get("action", "react") == "react":
        name = reaction.get("reaction")
        emoji = reaction.get("emoji") or _REACTION_EMOJI.get(str(name), str(name or ""))
    stamp = int(envelope.at.timestamp() * 1000)
    return InboundMessage(
        provider_message_id=f"reaction.{target}.{envelope.sender}.{stamp}",
        sender=envelope.sender,
        recipient=envelope.recipient,
        content={"type": "reaction", "reaction": {"message_id": target, "emoji": emoji}},
        at=envelope.at,
        raw=envelope.raw,
    )


def _omit_none(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}
