"""What each platform supplies to the one parametrised contract suite.

The suite is ``tests/channels/test_contract/``.

Every platform's test package (``tests/channels/<platform>/``) has a ``contract.py`` with a
``SPEC = ContractSpec(...)``, a ``golden/`` folder with one file per content case of
``SAMPLES`` and ``REPLY_SAMPLES`` (the request ``build_request`` makes, as ``{"method",
"url", "json"}`` (``"form"`` for a form-encoded call) for an adapter whose ``api_base`` is
``http://emulator`` plus the emulator's prefix, or ``{"unsupported": "<feature>"}``), and a
``fixtures/`` folder with one recorded webhook per inbound event type::

    {"description": "...", "body": <the platform's JSON>, "expected": [<event summary>, ...]}

where an event summary is what ``summarize`` makes of a parsed event. A new platform adds
these three things and nothing else: :func:`platforms` finds it.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatgate.channels.base import (
    ChannelAdapter,
    InboundEvent,
    InboundMessage,
    OutboundMessage,
    StatusUpdate,
)
from chatgate.domain.status import Status

# The stand-in for a platform's id of an earlier message, in reactions and replies.
PLATFORM_MESSAGE_ID = "PLATFORM_MSG_1"
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
    "product": {
        "type": "interactive",
        "interactive": {
            "kind": "product",
            "body": "Back in stock ☕",
            "footer": "Free delivery over €30",
            "catalog_id": "194836987003835",
            "product_id": "MUG-BLUE-01",
        },
    },
    "product_list": {
        "type": "interactive",
        "interactive": {
            "kind": "product_list",
            "header": "Our mugs",
            "body": "Pick one or two",
            "catalog_id": "194836987003835",
            "sections": [
                {"title": "Blue", "product_ids": ["MUG-BLUE-01", "MUG-BLUE-02"]},
                {"title": "Red", "product_ids": ["MUG-RED-01"]},
            ],
        },
    },
    "address": {
        "type": "interactive",
        "interactive": {
            "kind": "address",
            "body": "Where should we deliver your order?",
            "address": {"country": "IN", "values": {"name": "Asha Rao", "city": "Pune"}},
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
    "reaction": {
        "type": "reaction",
        "reaction": {"message_id": PLATFORM_MESSAGE_ID, "emoji": "👍"},
    },
    "sticker": {"type": "sticker", "sticker": {"package_id": "446", "sticker_id": "1988"}},
}
# Cases sent as a reply to an earlier platform message.
REPLY_SAMPLES: Mapping[str, tuple[str, str]] = {
    "reply_to_text": ("text_emoji", PLATFORM_MESSAGE_ID)
}
# Every case, in the order the golden files are checked.
CASES: tuple[str, ...] = (*SAMPLES, *REPLY_SAMPLES)


def outbound(
    case: str, recipient: str, sender: str | None = None, *, earlier: str = PLATFORM_MESSAGE_ID
) -> OutboundMessage:
    """The sample ``case`` as an adapter sees it.

    ``earlier`` is the platform's id of the message a reaction or a reply is about; the
    golden files keep the stand-in, sends against an emulator pass a real one.
    """
    reply_to = None
    if case in REPLY_SAMPLES:
        case, _ = REPLY_SAMPLES[case]
        reply_to = earlier
    content = dict(SAMPLES[case])
    if content["type"] == "reaction":
        content["reaction"] = {**content["reaction"], "message_id": earlier}
    return OutboundMessage(
        id="msg_01JCONTRACT0000000000000000",
        channel="contract",
        sender=sender,
        recipient=recipient,
        content=content,
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
        for name in ("sender_user_id", "sender_parent_user_id", "sender_username"):
            if getattr(event, name) is not None:
                summary[name] = getattr(event, name)
        return summary
    if isinstance(event, StatusUpdate):
        summary = {"kind": event.kind, "status": event.status.value}
        for name in ("provider_message_id", "recipient", "error_code", "recipient_user_id"):
            value = getattr(event, name)
            if value is not None:
                summary[name] = value
        if event.up_to is not None:
            summary["up_to"] = event.up_to.isoformat()
        return summary
    return {"kind": event.kind}


def compact_json(body: Any) -> bytes:
    """A webhook body as most platforms write it: compact JSON, UTF-8 left unescaped."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


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
    # The error code of the ``failed`` status webhook for each fault kind the platform
    # accepts at send and reports failed later (Meta's delivery-time failures). Together
    # with ``fault_codes`` this names every fault kind the emulators know but
    # ``answer_lost``, which the emulator core plays alike for every platform.
    async_fault_codes: Mapping[str, str] = field(default_factory=dict)
    # Whether a throttled send carries the platform's retry hint in ``retry_after``.
    rate_limit_hint: bool = True
    # Platform status names and the status each maps to.
    statuses: Mapping[str, Status] = field(default_factory=dict)
    # The body of a webhook reporting platform status ``name`` of the message with the
    # platform's id ``message_id``; needed when ``statuses`` is not empty.
    status_webhook: Callable[[str, str], Any] | None = None
    # Webhook bodies as the platform writes them on the wire (what ``sign`` covers).
    serialize: Callable[[Any], bytes] = compact_json
    # Whether the signature covers the body: a secret token in a header (Telegram's) does
    # not, so the same headers on a changed body are accepted.
    signs_body: bool = True
    # The token the platform's subscription check (a GET) must name; ``None`` when the
    # platform has no such check.
    verify_token: str | None = None
    # The fixture (a file name in ``fixtures/`` without ``.json``) of an event kind the
    # platform sends and the adapter does not understand: it must come out as unknown.
    unknown_fixture: str = "unknown"
    # Whether users can write to the business at all (Kakao's messages are one-way): without
    # it the send tests need no first message, and every fixture is a status or unknown.
    inbound: bool = True
    # A platform message id as the platform's status webhooks name it (the stand-in, unless
    # the platform's ids have a shape of their own: Kakao's "{requestId}:{recipientSeq}").
    sample_message_id: str = PLATFORM_MESSAGE_ID


@dataclass(frozen=True)
class Platform:
    """A platform's spec and the folder of its golden files and fixtures."""

    spec: ContractSpec
    folder: Path

    def golden_path(self, case: str) -> Path:
        """Where the golden request of ``case`` is kept."""
        return self.folder / "golden" / f"{case}.json"

    def fixture_paths(self) -> list[Path]:
        """Every recorded webhook, by name."""
        return sorted((self.folder / "fixtures").glob("*.json"))

    def golden(self, case: str) -> dict[str, Any] | None:
        """The golden request of ``case``, or ``None`` when its file is missing."""
        path = self.golden_path(case)
        return load_json(path) if path.exists() else None

    def supports(self, case: str) -> bool:
        """Whether the golden file of ``case`` is a request (not a refusal)."""
        golden = self.golden(case)
        return golden is not None and "unsupported" not in golden


def load_json(path: Path) -> dict[str, Any]:
    """A golden file or a fixture."""
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def platforms() -> list[Platform]:
    """Every platform with a ``tests/channels/<platform>/contract.py``, by folder name."""
    here = Path(__file__).parent
    found = []
    for path in sorted(here.glob("*/contract.py")):
        module = importlib.import_module(f"{__package__}.{path.parent.name}.contract")
        found.append(Platform(spec=module.SPEC, folder=path.parent))
    return found
