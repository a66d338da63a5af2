"""The fake WhatsApp Web's parts: its settings, the control API's bodies, linked devices and
the connections drivers hold (see :mod:`chatgate.emulators.whatsapp_web`)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

# The platform's name in the emulator's routes.
NAME = "whatsapp_web"


class WebSettings(BaseModel):
    """How the fake platform paces QR codes and receipts (seconds)."""

    model_config = ConfigDict(extra="forbid")

    qr_interval: float = Field(default=20.0, gt=0, le=3600)
    qr_limit: int = Field(default=6, ge=1, le=10_000)
    sent_after: float | None = Field(default=0.05, ge=0, le=3600)
    delivered_after: float | None = Field(default=0.1, ge=0, le=3600)
    read_after: float | None = Field(default=0.2, ge=0, le=3600)
    # False: the platform cannot be reached (connects answer 503), as in an outage.
    reachable: bool = True


class Scan(BaseModel):
    """The phone scans a QR code."""

    model_config = ConfigDict(extra="forbid")

    code: str | None = None
    phone: str = Field(min_length=3, max_length=32)
    name: str = Field(default="", max_length=100)


class PhoneRef(BaseModel):
    """A linked phone, or every one when ``phone`` is not set."""

    model_config = ConfigDict(extra="forbid")

    phone: str | None = None


class Hang(PhoneRef):
    """The connections (of ``phone``'s device) stop answering, or answer again."""

    hung: bool = True


@dataclass
class Device:
    """A linked device: the phone it belongs to and the key it resumes with."""

    key: str
    phone: str
    name: str
    linked: bool = True
    resumes: int = 0  # connections opened with the device's key (not by scanning a code)
    # Receipts and messages that reached the device while no connection was open.
    waiting: list[dict[str, Any]] = field(default_factory=list)

    @property
    def jid(self) -> str:
        """The device's WhatsApp id, as whatsmeow writes it."""
        return f"{self.phone.lstrip('+')}:1@s.whatsapp.net"


# What the platform delivers again on the device's next connection when a driver did not
# confirm it: users' messages and receipts (codes and connection states are of the moment).
REDELIVERED = frozenset({"message", "receipt"})


@dataclass
class Connection:
    """One open connection of a driver: its events, and the device once linked."""

    id: str
    device: Device | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    qr: str | None = None
    closed: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    rotation: asyncio.Task[None] | None = None
    # Cleared while the connection "hangs": it stays open and answers nothing.
    answering: asyncio.Event = field(default_factory=asyncio.Event)
    # The driver confirmed the events up to here (a poll asks for those after it).
    confirmed: int = 0

    def __post_init__(self) -> None:
        self.answering.set()

    def hang(self, hung: bool) -> None:
        """Stop answering (calls wait, events stop), or answer again."""
        if hung:
            self.answering.clear()
        else:
            self.answering.set()

    async def answered(self) -> bool:
        """Wait while the connection hangs; whether it is still open then."""
        await self.answering.wait()
        return not self.closed

    def push(self, event: dict[str, Any]) -> None:
        """Append an event and wake the pollers."""
        if self.closed:
            return
        self.events.append({"seq": len(self.events) + 1, **event})
        self.changed.set()
        self.changed = asyncio.Event()

    def close(self, reason: str) -> None:
        """The last event: the connection is gone."""
        self.push({"type": "closed", "reason": reason})
        self.closed = True
        self.qr = None
        self.answering.set()  # calls waiting on a hung connection learn that it closed
        if self.rotation is not None and self.rotation is not asyncio.current_task():
            self.rotation.cancel()

    def unconfirmed(self) -> list[dict[str, Any]]:
        """The messages and receipts this connection handed out that its driver never
        confirmed (it died first), without their places; once: they are the next
        connection's to deliver, as the platform delivers again what was not acknowledged."""
        found = [
            {k: v for k, v in event.items() if k != "seq"}
            for event in self.events[self.confirmed :]
            if event["type"] in REDELIVERED
        ]
        self.confirmed = len(self.events)
        return found

    async def after(self, seq: int, wait: float) -> list[dict[str, Any]]:
        """The events after ``seq``, waiting up to ``wait`` seconds for one (none while the
        connection hangs); asking for them confirms those up to ``seq``."""
        self.confirmed = min(max(self.confirmed, seq), len(self.events))
        if not self.answering.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self.answering.wait()
            if not self.answering.is_set():
                return []
        if len(self.events) <= seq and not self.closed:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self.changed.wait()
        return self.events[seq:]


def refusal(status: int, error: str, detail: str) -> JSONResponse:
    """The platform's answer refusing a call: ``{"error", "detail"}`` with ``status``."""
    return JSONResponse({"error": error, "detail": detail}, status_code=status)


# The kinds a linked device sends, and the fields each must have besides ``to``.
OUTGOING_FIELDS: dict[str, tuple[str, ...]] = {
    "text": ("text",),
    "image": ("content_base64", "mime_type"),
    "video": ("content_base64", "mime_type"),
    "audio": ("content_base64", "mime_type"),
    "document": ("content_base64", "mime_type", "filename"),
    "location": ("latitude", "longitude"),
    "contact": ("contacts",),
    "reaction": ("message_id", "emoji"),
}
_MEDIA_PREFIX = {"image": "image/", "video": "video/", "audio": "audio/"}


def outgoing_problem(body: dict[str, Any]) -> str | None:
    """What the platform refuses in a send's ``body`` (``None``: nothing): its kind must be
    one the platform has, with that kind's fields, a file of the kind's type, a voice note
    (``ptt``) only as audio, contact cards as vCards."""
    kind = body.get("kind")
    if not isinstance(kind, str) or kind not in OUTGOING_FIELDS:
        return f"kind: one of {', '.join(OUTGOING_FIELDS)}"
    for name in OUTGOING_FIELDS[kind]:
        if body.get(name) in (None, "") and not (kind == "reaction" and name == "emoji"):
            return f"{name}: a {kind} message needs it"
    prefix = _MEDIA_PREFIX.get(kind)
    if prefix is not None and not str(body["mime_type"]).startswith(prefix):
        return f"mime_type: a {kind} message needs a {prefix}* file"
    if body.get("ptt") and kind != "audio":
        return "ptt: only audio is sent as a voice note"
    if kind == "contact":
        cards = body["contacts"]
        if not isinstance(cards, list) or not all(
            isinstance(card, str) and card.startswith("BEGIN:VCARD") for card in cards
        ):
            return "contacts: a list of vCards"
    coordinates = ("latitude", "longitude")
    if kind == "location" and not all(isinstance(body[k], int | float) for k in coordinates):
        return "latitude: numbers"
    return None
