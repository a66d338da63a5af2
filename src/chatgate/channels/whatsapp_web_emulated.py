"""The emulated linked-device driver: a :class:`~chatgate.channels.device_driver.DeviceDriver`
that talks to the fake WhatsApp Web of ``chatgate emulate`` (see
:mod:`chatgate.emulators.whatsapp_web` for its wire protocol: HTTP long polling).

Everything Chatgate does with sessions is tested through this driver; only what the real
platform's protocol does below the driver contract needs a real phone.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from chatgate.channels.device_driver import (
    Connected,
    Disconnected,
    DriverError,
    DriverEvent,
    LoggedOut,
    Outgoing,
    QrCode,
    Receipt,
    incoming_message,
)

# How long one poll waits for an event on the platform's side (seconds).
POLL_WAIT = 10.0
# Tries of one call whose transport broke before the platform's answer.
TRANSPORT_TRIES = 3
_RETRYABLE = frozenset({409, 429, 500, 502, 503, 504})


class EmulatedWebDriver:
    """One device's connection to the emulator at ``base_url`` through ``http``."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, *, poll_wait: float = POLL_WAIT):
        self.http = http
        self.base = f"{base_url.rstrip('/')}/whatsapp-web"
        self.poll_wait = poll_wait
        self._connection: str | None = None
        self._refused = False
        self._paired_state: str | None = None
        self._seq = 0  # the connection's events are read up to here

    async def start(self, device_state: str | None) -> None:
        """Open a connection (resuming ``device_state``'s device, or pairing)."""
        self._refused = False
        self._paired_state = None
        self._seq = 0
        try:
            response = await self.http.post(
                f"{self.base}/connect", json={"device_key": device_state}
            )
        except httpx.HTTPError as exc:
            raise DriverError("unreachable", type(exc).__name__, retryable=True) from exc
        if response.status_code == 401:
            self._refused = True  # the phone logged the device out while it was away
            self._connection = None
            return
        if response.status_code != 201:
            raise DriverError("connect_failed", f"HTTP {response.status_code}", retryable=True)
        self._connection = str(response.json()["connection"])

    async def events(self) -> AsyncIterator[DriverEvent]:
        """Poll the connection's events until it ends (a second call goes on where the
        first stopped)."""
        if self._refused:
            yield LoggedOut()
            return
        connection = self._connection
        if connection is None:
            return
        url = f"{self.base}/connections/{connection}/events"
        while True:
            try:
                response = await self._call("GET", url, self.poll_wait + 10.0, after=self._seq)
            except httpx.HTTPError as exc:
                yield Disconnected(f"unreachable: {type(exc).__name__}")
                return
            if response.status_code != 200:
                yield Disconnected("connection_closed")
                return
            for event in response.json()["events"]:
                self._seq = int(event["seq"])
                translated = self._translate(event)
                if translated is not None:
                    yield translated
                if isinstance(translated, LoggedOut | Disconnected):
                    return

    async def _call(
        self, method: str, url: str, wait_for: float | None = None, **params: Any
    ) -> httpx.Response:
        """One call, tried again on a broken transport: a keep-alive connection the server
        closed as it was reused fails at once, and says nothing of the platform's."""
        if method == "GET":
            params["wait"] = self.poll_wait
        for attempt in range(TRANSPORT_TRIES):
            try:
                return await self.http.request(
                    method, url, params=params or None, timeout=wait_for or httpx.USE_CLIENT_DEFAULT
                )
            except httpx.TransportError:
                if attempt == TRANSPORT_TRIES - 1:
                    raise
                await asyncio.sleep(0.1 * (attempt + 1))
        raise AssertionError("unreachable")  # the loop returns or raises

    def _translate(self, event: dict[str, Any]) -> DriverEvent | None:
        kind = event["type"]
        if kind == "qr":
            return QrCode(str(event["code"]))
        if kind == "paired":
            self._paired_state = str(event["device_key"])
            return None
        if kind == "connected":
            state, self._paired_state = self._paired_state, None
            return Connected(str(event["jid"]), str(event["phone"]), str(event["name"]), state)
        if kind == "message":
            return incoming_message(event)
        if kind == "receipt":
            return Receipt(str(event["id"]), event["status"])
        if kind == "logged_out":
            return LoggedOut()
        if kind == "closed":
            return Disconnected(str(event.get("reason") or "closed"))
        return None

    async def send(self, message: Outgoing) -> str:
        """Send through the open connection; the platform's id."""
        if self._connection is None:
            raise DriverError("not_connected", "the device is not connected", retryable=True)
        body = {**message.extra, "to": message.to, "kind": message.kind, "text": message.text}
        if message.media is not None:
            body["content_base64"] = base64.b64encode(message.media).decode("ascii")
        try:
            response = await self.http.post(
                f"{self.base}/connections/{self._connection}/messages", json=body
            )
        except httpx.HTTPError as exc:
            raise DriverError("unreachable", type(exc).__name__, retryable=True) from exc
        if response.status_code != 200:
            answer = response.json()
            raise DriverError(
                str(answer.get("error")),
                str(answer.get("detail")),
                retryable=response.status_code in _RETRYABLE,
            )
        return str(response.json()["id"])

    async def ping(self) -> None:
        """A cheap call to the connection; returns when it answered."""
        if self._connection is None:
            raise DriverError("not_connected", "the device is not connected", retryable=True)
        try:
            response = await self.http.post(
                f"{self.base}/connections/{self._connection}/ping", timeout=None
            )
        except httpx.HTTPError as exc:
            raise DriverError("unreachable", type(exc).__name__, retryable=True) from exc
        if response.status_code != 204:
            raise DriverError("not_connected", f"HTTP {response.status_code}", retryable=True)

    async def download(self, media_id: str) -> bytes:
        """An inbound message's file, from the platform's media store."""
        try:
            response = await self.http.get(f"{self.base}/media/{media_id}")
        except httpx.HTTPError as exc:
            raise DriverError("unreachable", type(exc).__name__, retryable=True) from exc
        if response.status_code == 404:
            raise DriverError("media_not_found", "the platform has no such file", retryable=False)
        if response.status_code != 200:
            raise DriverError(
                "download_failed",
                f"HTTP {response.status_code}",
                retryable=response.status_code in _RETRYABLE,
            )
        return response.content

    async def stop(self) -> None:
        """Close the connection; the device stays linked."""
        await self._end("")

    async def logout(self) -> None:
        """Unlink the device and close the connection."""
        await self._end("/logout")

    async def _end(self, action: str) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        url = f"{self.base}/connections/{connection}{action}"
        # The platform away: the connection is gone as far as we can tell.
        with contextlib.suppress(httpx.HTTPError):
            await self._call("POST" if action else "DELETE", url)
