"""The ``whatsapp_web`` emulator: a fake WhatsApp Web that linked devices connect to.

The real platform speaks an encrypted binary protocol over a WebSocket; what a linked-device
driver sees of it is a stream of events (QR codes, paired, connected, messages, receipts,
logged out) and a few calls (send, log out, close). The fake serves exactly that over plain
HTTP with long polling on loopback, which any ``httpx`` client (and ``ASGITransport`` in
tests) can speak without a WebSocket library.

Wire protocol (under ``/whatsapp-web``):

- ``POST /connect`` ``{"device_key": str | null}``: open a connection. Without a key the
  connection pairs: it shows a QR code (a ``qr`` event) and a new one every ``qr_interval``
  seconds, up to ``qr_limit`` codes, then closes with reason ``qr_timeout``. With the key of
  a linked device it resumes at once (a ``connected`` event, then the messages and receipts
  an earlier connection handed out but its driver never confirmed by polling past them,
  then whatever reached the device while it was away). A key the phone logged out answers ``401
  {"error": "logged_out"}``. Answers ``201 {"connection": id}``.
- ``GET /connections/{id}/events?after=N&wait=S``: the events after sequence ``N``, waiting
  up to ``S`` seconds (at most 30) for one: ``200 {"events": [...]}``, each with ``seq`` and
  ``type``: ``qr`` (``code``), ``paired`` (``device_key``, ``jid``, ``phone``, ``name``),
  ``connected`` (``jid``, ``phone``, ``name``), ``message`` (``id``, ``from``, ``kind``
  text|image|video|document|audio|voice, ``text``, ``caption``, ``media_id``,
  ``mime_type``, ``filename``, ``at``), ``receipt`` (``id``, ``status`` sent|delivered|read),
  ``logged_out``, ``closed`` (``reason``). After ``closed`` has been read the connection is
  gone: ``410 {"error": "connection_closed"}``.
- ``POST /connections/{id}/messages`` ``{"to", "kind", "text"?, ...}``: send, as one of
  the platform's kinds (text, image, video, audio with ``ptt`` for a voice note, document
  with ``filename``, location, contact as vCards, reaction; a file as ``content_base64``
  with its ``mime_type``; ``quoted``: the message answered); ``200 {"id"}``, then
  receipts ``sent`` -> ``delivered`` -> ``read`` after the settable delays.
  Refused as the platform does: ``409 not_connected``, ``404 not_on_whatsapp``
  (``invalid_recipient`` fault), ``400 bad_request`` (``permanent``), ``429 rate_limited``,
  ``500 server_error``.
- ``POST /connections/{id}/logout``: unlink the device (its key stops working);
  ``DELETE /connections/{id}``: close the connection, the device stays linked.
- ``POST /connections/{id}/ping``: ``204`` (a cheap call a driver checks the connection
  with); ``410`` once closed.
- ``GET /media/{media_id}``: download an inbound message's media.

Control API (``/_emulator/whatsapp_web``), beside ``received``, ``faults`` and ``inbound``
(``{"phone", "from", "kind", "text"?, "caption"?, "mime_type"?, "filename"?,
"content_base64"?}``: a user writes to the linked phone ``phone``):

- ``GET /qr``: the codes pending connections show now;
- ``POST /scan`` ``{"code"?, "phone", "name"}``: the phone scans a code (the only pending
  connection's when no code is named) and the device is linked;
- ``PUT /settings``: ``qr_interval``, ``qr_limit``, ``sent_after``, ``delivered_after``,
  ``read_after`` (``null``: that receipt never comes), ``reachable`` (false: every connect
  answers ``503``, an outage);
- ``POST /drop`` ``{"phone"?}``: the connections drop (reason ``connection_lost``);
- ``POST /logout`` ``{"phone"}``: the user unlinks the device from the phone;
- ``POST /hang`` ``{"phone"?, "hung": true}``: the connections stay open but answer nothing
  (pings and sends wait, no events come) until ``hung`` is false;
- ``GET /devices``: linked devices, their connections, and how many times a driver resumed
  one with its device key (``resumes``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Body, FastAPI, HTTPException, Response
from fastapi.responses import JSONResponse

from chatgate.emulators.core import Account, EmulatorState, PlatformEmulator, Received
from chatgate.emulators.whatsapp_web_control import control_routes
from chatgate.emulators.whatsapp_web_parts import (
    NAME,
    Connection,
    Device,
    Scan,
    WebSettings,
    outgoing_problem,
    refusal,
)

MAX_WAIT = 30.0
INBOUND_KINDS = ("text", "image", "video", "document", "audio", "voice")


def _as_recorded(body: dict[str, Any]) -> dict[str, Any]:
    """A send as the control API shows it: a file by its size and digest, not its bytes."""
    encoded = body.get("content_base64")
    if not isinstance(encoded, str):
        return body
    try:
        content = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        return {**body, "content_base64": None, "media_error": "not base64"}
    recorded = {k: v for k, v in body.items() if k != "content_base64"}
    recorded["media"] = {"size": len(content), "sha256": hashlib.sha256(content).hexdigest()}
    return recorded


class WhatsAppWebEmulator(PlatformEmulator):
    """Linked devices, their QR pairing and their connections."""

    name = NAME

    def __init__(self, state: EmulatorState) -> None:
        super().__init__(state)
        self.settings = WebSettings()
        self.devices: dict[str, Device] = {}
        self.connections: dict[str, Connection] = {}

    # -- PlatformEmulator ------------------------------------------------------------------

    def register(self, payload: dict[str, Any]) -> Account:
        """Devices are linked by scanning, not registered."""
        raise ValueError("a device is linked by scanning its QR: POST /_emulator/whatsapp_web/scan")

    async def inject_inbound(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A user writes to a linked phone: the device gets a ``message`` event."""
        device = self._device_of(str(payload.get("phone") or ""))
        kind = str(payload.get("kind") or "text")
        if kind not in INBOUND_KINDS:
            raise ValueError(f"kind: one of {', '.join(INBOUND_KINDS)}")
        sender = str(payload["from"])
        event: dict[str, Any] = {
            "type": "message",
            "id": self.new_id("3EB0"),
            "from": sender,
            "kind": kind,
            "text": payload.get("text"),
            "caption": payload.get("caption"),
            "filename": payload.get("filename"),
            "at": time.time(),
        }
        if kind != "text":
            event.update(self._store_media(kind, payload))
        elif not isinstance(event["text"], str) or not event["text"]:
            raise ValueError("text: a text message needs its text")
        self.state.user_wrote(NAME, device.phone, sender)
        self._to_device(device, event)
        return {"id": event["id"], "from": sender, "kind": kind}

    def _store_media(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        default_type = {"voice": "audio/ogg; codecs=opus", "audio": "audio/mpeg"}
        mime_type = str(payload.get("mime_type") or default_type.get(kind, f"{kind}/octet-stream"))
        try:
            content = base64.b64decode(str(payload.get("content_base64") or ""), validate=True)
        except binascii.Error:
            raise ValueError("content_base64: not base64") from None
        media_id = self.new_id("media")
        self.state.media[media_id] = (content or b"\x00" * 16, mime_type)
        return {"media_id": media_id, "mime_type": mime_type}

    # -- devices and connections -----------------------------------------------------------

    def _device_of(self, phone: str) -> Device:
        for device in self.devices.values():
            if device.linked and device.phone == phone:
                return device
        raise ValueError(f"phone: no device linked to {phone!r}")

    def live_connections(self, device: Device) -> list[Connection]:
        """The device's connections that are open."""
        return [c for c in self.connections.values() if c.device is device and not c.closed]

    def _to_device(self, device: Device, event: dict[str, Any]) -> None:
        """Hand an event to the device's connection, or keep it until it connects."""
        live = self.live_connections(device)
        if not live:
            device.waiting.append(event)
        for connection in live:
            connection.push(event)

    def connect(self, device_key: str | None) -> Connection | None:
        """A new connection; ``None`` if ``device_key`` is no longer linked."""
        connection = Connection(id=self.new_id("conn"))
        if device_key is not None:
            device = self.devices.get(device_key)
            if device is None or not device.linked:
                return None
            device.resumes += 1
            # A second connection of one device replaces the first, as on the platform.
            for old in self.live_connections(device):
                old.close("replaced")
            self.connections[connection.id] = connection
            self._resume(connection, device)
            return connection
        self.connections[connection.id] = connection
        connection.rotation = asyncio.create_task(self._rotate(connection))
        return connection

    def _resume(self, connection: Connection, device: Device) -> None:
        connection.device = device
        connection.push(
            {"type": "connected", "jid": device.jid, "phone": device.phone, "name": device.name}
        )
        # What earlier connections handed out unconfirmed (their driver died) comes again.
        for earlier in self.connections.values():
            if earlier.device is device and earlier is not connection:
                for event in earlier.unconfirmed():
                    connection.push(event)
        for event in device.waiting:
            connection.push(event)
        device.waiting.clear()

    async def _rotate(self, connection: Connection) -> None:
        """Show a new QR code every ``qr_interval`` until scanned, closed or out of codes."""
        for _ in range(self.settings.qr_limit):
            connection.qr = f"2@{secrets.token_urlsafe(24)},{secrets.token_urlsafe(16)}"
            connection.push({"type": "qr", "code": connection.qr})
            await asyncio.sleep(self.settings.qr_interval)
            if connection.closed or connection.device is not None:
                return
        connection.close("qr_timeout")

    def scan(self, scan: Scan) -> Device:
        """Link a device to the pending connection showing ``scan.code``."""
        pending = [c for c in self.connections.values() if c.qr is not None and not c.closed]
        if scan.code is not None:
            pending = [c for c in pending if c.qr == scan.code]
        if len(pending) != 1:
            found = "no connection shows that code" if pending == [] else "several codes show"
            raise HTTPException(404 if not pending else 409, f"code: {found}")
        connection = pending[0]
        connection.qr = None
        device = Device(key=secrets.token_urlsafe(32), phone=scan.phone, name=scan.name)
        for old in self.devices.values():
            if old.phone == scan.phone:
                old.linked = False  # one emulated device per phone
        self.devices[device.key] = device
        connection.push(
            {
                "type": "paired",
                "device_key": device.key,
                "jid": device.jid,
                "phone": device.phone,
                "name": device.name,
            }
        )
        self._resume(connection, device)
        return device

    def logout_phone(self, phone: str) -> int:
        """The user unlinks the device from the phone."""
        device = self._device_of(phone)
        device.linked = False
        live = self.live_connections(device)
        for connection in live:
            connection.push({"type": "logged_out"})
            connection.close("logged_out")
        return len(live)

    def drop(self, phone: str | None) -> int:
        """Drop the open connections (of ``phone``'s device)."""
        dropped = 0
        for connection in list(self.connections.values()):
            if connection.closed or (phone is not None and connection.device is None):
                continue
            if phone is None or (connection.device and connection.device.phone == phone):
                connection.close("connection_lost")
                dropped += 1
        return dropped

    # -- sending ---------------------------------------------------------------------------

    def _send(self, connection: Connection, body: dict[str, Any]) -> Response | dict[str, Any]:
        device = connection.device
        if device is None or connection.closed or not device.linked:
            return refusal(409, "not_connected", "the device is not connected")
        recipient = str(body.get("to") or "")
        if not recipient:
            return refusal(400, "bad_request", "to is required")
        problem = outgoing_problem(body)
        if problem is not None:
            return refusal(400, "bad_request", problem)
        body = _as_recorded(body)
        fault = self.state.take_fault(NAME, recipient)
        message_id = self.new_id("3EB0")
        status = 200
        answer: Response | dict[str, Any] = {"id": message_id}
        if fault is not None:
            status, error = {
                "invalid_recipient": (404, "not_on_whatsapp"),
                "permanent": (400, "bad_request"),
                "rate_limit": (429, "rate_limited"),
            }.get(fault.kind, (500, "server_error"))
            answer = refusal(status, error, f"the platform refused the send ({fault.kind})")
        self.state.record(
            Received(
                platform=NAME,
                account=device.phone,
                path="messages",
                body=body,
                at=time.time(),
                message_id=message_id if status == 200 else None,
                recipient=recipient,
                status=status,
            )
        )
        if status == 200:
            self._schedule_receipts(device, message_id)
        return answer

    def _schedule_receipts(self, device: Device, message_id: str) -> None:
        delays: list[tuple[Literal["sent", "delivered", "read"], float | None]] = [
            ("sent", self.settings.sent_after),
            ("delivered", self.settings.delivered_after),
            ("read", self.settings.read_after),
        ]
        for status, delay in delays:
            if delay is None:
                continue
            event = {"type": "receipt", "id": message_id, "status": status}

            async def deliver(event: dict[str, Any] = event) -> None:
                self._to_device(device, event)

            self.state.later(delay, deliver)

    # -- routes ----------------------------------------------------------------------------

    def _connection(self, connection_id: str) -> Connection:
        connection = self.connections.get(connection_id)
        if connection is None:
            raise HTTPException(404, "no such connection")
        return connection

    def router(self) -> APIRouter:
        """The fake platform's routes and its control routes."""

        @contextlib.asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            yield
            for connection in self.connections.values():
                if connection.rotation is not None:
                    connection.rotation.cancel()

        router = APIRouter(tags=[NAME], lifespan=lifespan)
        self._platform_routes(router)
        control_routes(self, router)
        return router

    def _platform_routes(self, router: APIRouter) -> None:
        @router.post("/whatsapp-web/connect", status_code=201)
        async def connect(payload: dict[str, Any] = Body(default_factory=dict)) -> Response:
            if not self.settings.reachable:
                return refusal(503, "unavailable", "the platform cannot be reached")
            key = payload.get("device_key")
            connection = self.connect(key if isinstance(key, str) else None)
            if connection is None:
                return refusal(401, "logged_out", "the device was logged out")
            return JSONResponse({"connection": connection.id}, status_code=201)

        @router.get("/whatsapp-web/connections/{connection_id}/events")
        async def events(connection_id: str, after: int = 0, wait: float = 0.0) -> Response:
            connection = self._connection(connection_id)
            if connection.closed and after >= len(connection.events):
                return refusal(410, "connection_closed", "the connection is closed")
            found = await connection.after(max(after, 0), min(max(wait, 0.0), MAX_WAIT))
            return JSONResponse({"events": found})

        @router.post("/whatsapp-web/connections/{connection_id}/messages")
        async def send(connection_id: str, body: dict[str, Any] = Body()) -> Any:
            connection = self._connection(connection_id)
            await connection.answered()
            return self._send(connection, body)

        @router.post("/whatsapp-web/connections/{connection_id}/ping", status_code=204)
        async def ping(connection_id: str) -> Response:
            if not await self._connection(connection_id).answered():
                return refusal(410, "connection_closed", "the connection is closed")
            return Response(status_code=204)

        @router.post("/whatsapp-web/connections/{connection_id}/logout", status_code=204)
        async def logout(connection_id: str) -> None:
            connection = self._connection(connection_id)
            if connection.device is not None:
                connection.device.linked = False
            connection.close("logged_out")

        @router.delete("/whatsapp-web/connections/{connection_id}", status_code=204)
        async def close(connection_id: str) -> None:
            self._connection(connection_id).close("closed_by_client")

        @router.get("/whatsapp-web/media/{media_id}")
        async def media(media_id: str) -> Response:
            answer = self.state.media_answer(media_id)
            if answer is None:
                raise HTTPException(404, "no such media")
            return answer
