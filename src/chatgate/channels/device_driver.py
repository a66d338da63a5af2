"""The linked-device driver contract: what a session runner asks of a driver, and hears back.

A linked device (a WhatsApp Web session) is one long-lived connection that the gateway
holds for a paired phone. A driver opens and closes it and sends through it; everything
the platform says comes back as typed events on one async stream, so a runner never needs
to know which driver it drives (the emulated one, or the real one behind an extra).

The stream of one ``start()`` ends after its ``Disconnected`` or ``LoggedOut`` event: the
driver never reconnects by itself; the runner decides whether and when to start again
(with backoff), so that one policy covers every driver.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

InboundKind = Literal["text", "image", "video", "document", "audio", "voice"]
ReceiptStatus = Literal["sent", "delivered", "read"]


@dataclass(frozen=True, slots=True)
class QrCode:
    """A QR code to show the user; it replaces the previous one."""

    code: str


@dataclass(frozen=True, slots=True)
class Connected:
    """The device is connected as ``jid`` (phone ``phone``, whose profile name is ``name``).

    ``device_state`` is set when the device was just paired: what :meth:`DeviceDriver.start`
    takes to resume it later without a new QR; the runner stores it (encrypted)."""

    jid: str
    phone: str
    name: str
    device_state: str | None = None


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The connection ended; the device is still linked (``reason`` says why)."""

    reason: str


@dataclass(frozen=True, slots=True)
class LoggedOut:
    """The device was unlinked (from the phone, or by :meth:`DeviceDriver.logout`): its
    stored state is worthless and pairing starts over with a new QR."""

    reason: str = "logged_out"


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """A user wrote to the paired phone."""

    id: str
    sender: str
    kind: InboundKind
    text: str | None = None
    caption: str | None = None
    media_id: str | None = None
    mime_type: str | None = None
    filename: str | None = None
    at: float | None = None


@dataclass(frozen=True, slots=True)
class Receipt:
    """A message sent through the device reached ``status``."""

    message_id: str
    status: ReceiptStatus


DriverEvent = QrCode | Connected | Disconnected | LoggedOut | IncomingMessage | Receipt


def incoming_message(fields: Mapping[str, Any]) -> IncomingMessage:
    """An :class:`IncomingMessage` from a driver's wire form of it (``id``, ``from``,
    ``kind`` and the optional fields by their names)."""
    return IncomingMessage(
        id=str(fields["id"]),
        sender=str(fields["from"]),
        kind=fields["kind"],
        text=fields.get("text"),
        caption=fields.get("caption"),
        media_id=fields.get("media_id"),
        mime_type=fields.get("mime_type"),
        filename=fields.get("filename"),
        at=fields.get("at"),
    )


OutgoingKind = Literal[
    "text", "image", "video", "document", "audio", "location", "contact", "reaction"
]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to send through the device, as the platform's ``kind``.

    ``media`` holds the file of an image, video, document or audio (the platform takes
    uploads, not URLs); ``extra`` the kind's other fields: ``caption``, ``mime_type``,
    ``filename``, ``ptt`` (an audio sent as a voice note), ``latitude``/``longitude``/
    ``name``/``address``, ``contacts`` (vCards), ``message_id``/``emoji`` of a reaction,
    and ``quoted`` (the platform's id of the message answered).
    """

    to: str
    kind: OutgoingKind
    text: str | None = None
    extra: dict[str, object] = field(default_factory=dict)
    media: bytes | None = field(default=None, repr=False)


class DriverError(Exception):
    """A call the driver could not make; ``retryable`` says whether trying again may help."""

    def __init__(self, code: str, detail: str, *, retryable: bool) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.retryable = retryable


class DeviceDriver(Protocol):
    """One linked device's connection (see the module docstring)."""

    async def start(self, device_state: str | None) -> None:
        """Open the connection: resume the device of ``device_state``, or pair a new one.

        Raises :class:`DriverError` when the platform cannot be reached at all."""

    def events(self) -> AsyncIterator[DriverEvent]:
        """What the platform says, from this ``start()`` until the connection ends."""

    async def send(self, message: Outgoing) -> str:
        """Send ``message``; the platform's message id. Raises :class:`DriverError`."""

    async def download(self, media_id: str) -> bytes:
        """The file of an inbound message's ``media_id``. Raises :class:`DriverError`."""

    async def stop(self) -> None:
        """Close the connection; the device stays linked (a later start resumes it)."""

    async def logout(self) -> None:
        """Unlink the device from the phone and close the connection."""

    async def ping(self) -> None:
        """Return once the connection answered a cheap call: a connection that claims to
        work but answers nothing never returns (the runner's health watchdog times it
        out). Raises :class:`DriverError` when it answered that it is not connected."""
