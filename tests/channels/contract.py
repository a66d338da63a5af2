"""What each platform supplies to the one parametrised contract suite (``test_contract.py``).

Every platform's test package (``tests/channels/<platform>/``) has a ``contract.py`` with a
``SPEC = ContractSpec(...)``, a ``golden/`` folder with one file per content case of
``SAMPLES`` (the request ``build_request`` makes, or ``{"unsupported": "<feature>"}``), and a
``fixtures/`` folder with one recorded webhook per inbound event type::

    {"description": "...", "body": <the platform's JSON>, "expected": [<event summary>, ...]}

where an event summary is what ``summarize`` makes of a parsed event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chatgate.channels.base import (
    ChannelAdapter,
    InboundEvent,
    InboundMessage,
    OutboundMessage,
    StatusUpdate,
)
from chatgate.domain.status import Status

# One message of each content kind and shape; the name is the golden file's name.
SAMPLES: Mapping[str, dict[str, Any]] = {
    "text_emoji": {"type": "text", "text": "Hello 👋 café — ünïcödé ✓"},
    "text_preview": {"type": "text", "text": "See https://example.com", "preview_url": True},
    "image": {
        "type": "media",
        "media": {"url": "https://cdn.example.com/cat.jpg", "kind": "image", "caption": "A cat 🐱"},
    },
    "document": {
        "type": "media",
        "media": {
            "url": "https://cdn.example.com/files/invoice.pdf",
            "kind": "document",
            "filename": "invoice-42.pdf",
        },
    },
    "video": {
        "type": "media",
        "media": {"url": "https://cdn.example.com/clip.mp4", "kind": "video"},
    },
    "audio": {
        "type": "media",
        "media": {"url": "https://cdn.example.com/song.mp3", "kind": "audio"},
    },
    "voice": {
        "type": "media",
        "media": {"url": "https://cdn.example.com/note.ogg", "kind": "audio", "voice": True},
    },
    "template": {
        "type": "template",
        "template": {
            "name": "order_update",
            "language": "en_US",
            "variables": ["Ada", "#1042"],
            "header": {"media": {"url": "https://cdn.example.com/banner.png", "kind": "image"}},
            "buttons": [{"index": 0, "sub_type": "quick_reply", "value": "TRACK_1042"}],
        },
    },
    "template_named": {
        "type": "template",
        "template": {
            "name": "welcome",
            "language": "pt_BR",
            "variables": {"first_name": "Ada"},
            "header": {"text": "Olá"},
            "buttons": [{"index": 1, "sub_type": "url", "value": "orders/1042"}],
        },
    },
    "buttons_reply": {
        "type": "interactive",
        "interactive": {
            "kind": "buttons",
            "header": "Your order",
            "body": "Did it arrive? 📦",
            "footer": "Reply any time",
            "buttons": [
                {"type": "reply", "id": "yes", "title": "Yes"},
                {"type": "reply", "id": "no", "title": "No"},
            ],
        },
    },
    "buttons_url": {
        "type": "interactive",
        "interactive": {
            "kind": "buttons",
            "body": "Track your parcel",
            "buttons": [{"type": "url", "title": "Track", "url": "https://example.com/t/1042"}],
        },
    },
    "buttons_call": {
        "type": "interactive",
        "interactive": {
            "kind": "buttons",
            "body": "Talk to us",
            "buttons": [{"type": "call", "title": "Call", "phone": "+14155550100"}],
        },
    },
    "quick_replies": {
        "type": "interactive",
        "interactive": {
            "kind": "quick_replies",
            "body": "Pick a size",
            "buttons": [
                {"type": "reply", "id": "s", "title": "Small"},
                {"type": "reply", "id": "m", "title": "Medium"},
                {"type": "reply", "id": "l", "title": "Large"},
            ],
        },
    },
    "list": {
        "type": "interactive",
        "interactive": {
            "kind": "list",
            "body": "Choose a delivery slot",
            "button_text": "Slots",
            "sections": [
                {
                    "title": "Tomorrow",
                    "rows": [
                        {"id": "am", "title": "Morning", "description": "8–12"},
                        {"id": "pm", "title": "Afternoon"},
                    ],
                }
            ],
        },
    },
    "cards": {
        "type": "interactive",
        "interactive": {
            "kind": "cards",
            "body": "Our picks",
            "cards": [
                {
                    "title": "Blue mug",
                    "subtitle": "€12",
                    "image_url": "https://cdn.example.com/mug.jpg",
                    "url": "https://shop.example.com/mug",
                    "buttons": [
                        {"type": "url", "title": "Buy", "url": "https://shop.example.com/mug/buy"},
                        {"type": "reply", "id": "more_mug", "title": "More like this"},
                    ],
                }
            ],
        },
    },
    "location": {
        "type": "location",
        "location": {
            "latitude": 48.8584,
            "longitude": 2.2945,
            "name": "Tour Eiffel",
            "address": "Champ de Mars, Paris",
        },
    },
    "contact": {
        "type": "contact",
        "contacts": [
            {
                "name": "Ada Lovelace",
                "phones": ["+447700900123"],
                "emails": ["ada@example.com"],
                "organization": "Analytical Engines",
            }
        ],
    },
    "reaction": {"type": "reaction", "reaction": {"message_id": "PLATFORM_MSG_1", "emoji": "👍"}},
}
# Cases sent as a reply to an earlier platform message.
REPLY_SAMPLES: Mapping[str, tuple[str, str]] = {"reply_to_text": ("text_emoji", "PLATFORM_MSG_1")}


def outbound(case: str, recipient: str, sender: str | None = None) -> OutboundMessage:
    """The sample ``case`` as an adapter sees it."""
    reply_to = None
    if case in REPLY_SAMPLES:
        case, reply_to = REPLY_SAMPLES[case]
    return OutboundMessage(
        id="msg_01JCONTRACT0000000000000000",
        channel="contract",
        sender=sender,
        recipient=recipient,
        content=SAMPLES[case],
        reply_to=reply_to,
        metadata=None,
    )


def summarize(event: InboundEvent) -> dict[str, Any]:
    """The comparable part of a parsed event (what fixtures' ``expected`` lists)."""
    if isinstance(event, InboundMessage):
        summary: dict[str, Any] = {
            "kind": event.kind,
            "provider_message_id": event.provider_message_id,
            "sender": event.sender,
            "recipient": event.recipient,
            "content": dict(event.content),
        }
        if event.reply_to is not None:
            summary["reply_to"] = event.reply_to
        return summary
    if isinstance(event, StatusUpdate):
        summary = {"kind": event.kind, "status": event.status.value}
        for name in ("provider_message_id", "recipient", "error_code"):
            value = getattr(event, name)
            if value is not None:
                summary[name] = value
        if event.up_to is not None:
            summary["up_to"] = event.up_to.isoformat()
        return summary
    return {"kind": event.kind}


@dataclass(frozen=True)
class ContractSpec:
    """One platform, as the contract suite needs to know it."""

    # The adapter's and the emulator's name (``chatgate emulate`` serves it).
    platform: str
    # Builds the adapter for a connection whose ``api_base`` is the given URL.
    make_adapter: Callable[[str], ChannelAdapter[Any]]
    # The emulator's prefix for this platform ("/graph", "/telegram").
    emulator_prefix: str
    # The control-API payload registering the same business identity in the emulator.
    emulator_account: dict[str, Any]
    # A user of the platform to send to, and the control-API payload with which that user
    # writes first (so that sends are allowed).
    recipient: str
    user_writes: dict[str, Any]
    # Headers that authenticate a webhook body as the platform would send it.
    sign: Callable[[bytes], dict[str, str]]
    # Headers of the same webhook with a wrong signature or token.
    sign_wrongly: Callable[[bytes], dict[str, str]]
    # ``ProviderError.code`` expected for each emulator fault kind that fails at send.
    fault_codes: Mapping[str, str] = field(default_factory=dict)
    # Platform status names and the status each maps to.
    statuses: Mapping[str, Status] = field(default_factory=dict)
