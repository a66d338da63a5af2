"""WhatsApp Cloud API webhooks as our inbound events.

A webhook is ``{"object": "whatsapp_business_account", "entry": [{"id": <WABA id>,
"changes": [{"field": "messages", "value": {...}}]}]}``; one ``value`` carries
``messages[]`` (with ``contacts[]`` naming their senders), ``statuses[]`` of messages we sent,
or ``errors[]`` about the number itself. Anything else, or any shape we do not know, becomes
an :class:`UnknownEvent`: parsing never fails on what the platform adds later, and nothing
of a signed webhook is left out (an item that is not an object, a status naming no message,
a message naming no sender all come out as unknown events, which the gateway keeps and logs).

Addresses: a user is ``"+" + wa_id`` (E.164, as our recipients are written) when the webhook
carries a phone, else the business-scoped user id (``whatsapp_cloud_users``), which every
message also keeps with the username. The business
is ``"+"`` followed by the digits of ``metadata.display_phone_number``, or, when Meta leaves
it out, the bare ``phone_number_id`` (not a phone number, so no ``"+"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from chatgate.channels.base import InboundEvent, InboundMessage, StatusUpdate, UnknownEvent
from chatgate.channels.whatsapp_cloud_users import contacts_by_key, recipient_of, sender_of
from chatgate.domain.status import Status

MEDIA_KINDS = ("image", "video", "audio", "document", "sticker")


def parse_webhook(body: Any, status_map: Mapping[str, Status]) -> list[InboundEvent]:
    """Every event in one decoded webhook body."""
    if not isinstance(body, dict) or body.get("object") != "whatsapp_business_account":
        return [UnknownEvent(kind="unknown", raw=body)]
    events: list[InboundEvent] = _strays(body.get("entry"))
    for entry in _dicts(body.get("entry")):
        events.extend(_strays(entry.get("changes")))
        for change in _dicts(entry.get("changes")):
            value = change.get("value")
            if change.get("field") != "messages" or not isinstance(value, dict):
                events.append(UnknownEvent(kind=str(change.get("field") or "unknown"), raw=change))
                continue
            events.extend(_value_events(value, status_map))
    return events or [UnknownEvent(kind="unknown", raw=body)]


def _value_events(value: dict[str, Any], status_map: Mapping[str, Status]) -> list[InboundEvent]:
    business = _business_address(value.get("metadata"))
    contacts = contacts_by_key(_dicts(value.get("contacts")))
    events: list[InboundEvent] = [
        _message(message, business, contacts) for message in _dicts(value.get("messages"))
    ]
    events.extend(_status(status, status_map) for status in _dicts(value.get("statuses")))
    events.extend(UnknownEvent(kind="error", raw=error) for error in _dicts(value.get("errors")))
    for key in ("messages", "statuses", "errors"):
        events.extend(_strays(value.get(key)))
    if not events:
        events.append(UnknownEvent(kind="unknown", raw=value))
    return events


def _business_address(metadata: Any) -> str:
    if not isinstance(metadata, dict):
        return ""
    digits = "".join(ch for ch in str(metadata.get("display_phone_number") or "") if ch.isdigit())
    return f"+{digits}" if digits else str(metadata.get("phone_number_id") or "")


def _at(timestamp: Any) -> datetime:
    try:
        return datetime.fromtimestamp(int(timestamp), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return datetime.now(UTC)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dicts(items: Any) -> list[dict[str, Any]]:
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _strays(items: Any) -> list[InboundEvent]:
    """The items of a list that are not objects, as unknown events (kept, not dropped)."""
    if not isinstance(items, list):
        return []
    return [UnknownEvent(kind="unknown", raw=item) for item in items if not isinstance(item, dict)]


def _compact(**fields: Any) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None}


# -- messages ---------------------------------------------------------------------------


def _message(
    message: dict[str, Any], business: str, contacts: Mapping[str, dict[str, Any]]
) -> InboundMessage | UnknownEvent:
    kind = str(message.get("type") or "unknown")
    user = sender_of(message, contacts)
    content = _content(kind, message)
    if content is None or user.address is None or not message.get("id"):
        return UnknownEvent(kind=kind, raw=message)
    context = message.get("context")
    reply_to = context.get("id") if isinstance(context, dict) else None
    return InboundMessage(
        provider_message_id=str(message["id"]),
        sender=user.address,
        recipient=business,
        content=content,
        at=_at(message.get("timestamp")),
        raw=message,
        sender_name=user.name or None,
        reply_to=str(reply_to) if reply_to else None,
        sender_user_id=user.user_id,
        sender_parent_user_id=user.parent_user_id,
        sender_username=user.username,
    )


def _content(kind: str, message: dict[str, Any]) -> dict[str, Any] | None:
    """Our content for one message, or ``None`` when its shape is not one we know."""
    if kind == "contacts":
        # The one type whose object is a list.
        cards = [_contact(card) for card in _dicts(message.get("contacts"))]
        return {"type": "contact", "contacts": cards} if cards else None
    body = message.get(kind)
    if not isinstance(body, dict):
        return None
    if kind == "text":
        return {"type": "text", "text": str(body.get("body", ""))}
    if kind in MEDIA_KINDS:
        return _media(kind, body)
    if kind == "location":
        if body.get("latitude") is None or body.get("longitude") is None:
            return None
        location = _compact(
            latitude=body["latitude"],
            longitude=body["longitude"],
            name=body.get("name"),
            address=body.get("address"),
        )
        return {"type": "location", "location": location}
    if kind == "interactive":
        chosen = body.get(str(body.get("type")))
        if body.get("type") not in ("button_reply", "list_reply") or not isinstance(chosen, dict):
            return None
        return _reply(chosen.get("id"), chosen.get("title"))
    if kind == "button":
        # A template's quick-reply button: its payload is the id we gave it.
        return _reply(body.get("payload"), body.get("text"))
    if kind == "reaction":
        if not body.get("message_id"):
            return None
        # A removed reaction comes with an empty or missing emoji.
        reaction = {"message_id": str(body["message_id"]), "emoji": str(body.get("emoji") or "")}
        return {"type": "reaction", "reaction": reaction}
    return None


def _media(kind: str, body: dict[str, Any]) -> dict[str, Any] | None:
    if not body.get("id"):
        return None
    media = _compact(
        kind=kind,
        reference=str(body["id"]),
        mime_type=body.get("mime_type"),
        caption=body.get("caption"),
        filename=body.get("filename"),
    )
    if kind == "audio" and body.get("voice"):
        media["voice"] = True
    return {"type": "media", "media": media}


def _reply(reply_id: Any, title: Any) -> dict[str, Any] | None:
    if reply_id is None:
        return None
    return {"type": "reply", "reply": _compact(id=str(reply_id), title=title)}


def _contact(card: dict[str, Any]) -> dict[str, Any]:
    name = _dict(card.get("name"))
    formatted = name.get("formatted_name") or " ".join(
        str(name[part]) for part in ("first_name", "last_name") if name.get(part)
    )
    org = _dict(card.get("org"))
    return _compact(
        name=formatted,
        phones=[str(p["phone"]) for p in _dicts(card.get("phones")) if p.get("phone")],
        emails=[str(e["email"]) for e in _dicts(card.get("emails")) if e.get("email")],
        organization=org.get("company"),
    )


# -- statuses ---------------------------------------------------------------------------


def _status(
    status: dict[str, Any], status_map: Mapping[str, Status]
) -> StatusUpdate | UnknownEvent:
    if not status.get("id"):
        # Names no message: nothing can be matched, so it is kept as unknown.
        return UnknownEvent(kind="status", raw=status)
    name = str(status.get("status") or "")
    user = recipient_of(status)
    errors = _dicts(status.get("errors"))
    code = message = None
    if errors:
        error = errors[0]
        code = str(error["code"]) if error.get("code") is not None else None
        message = _error_text(error)
    return StatusUpdate(
        status=status_map.get(name, Status.UNKNOWN),
        platform_status=name,
        at=_at(status.get("timestamp")),
        raw=status,
        provider_message_id=str(status["id"]),
        recipient=user.address,
        error_code=code,
        error_message=message,
        recipient_user_id=user.user_id,
    )


def _error_text(error: dict[str, Any]) -> str | None:
    text = error.get("message") or error.get("title")
    details = _dict(error.get("error_data")).get("details")
    if text and details and details != text:
        return f"{text} ({details})"
    return str(text or details) if (text or details) else None
