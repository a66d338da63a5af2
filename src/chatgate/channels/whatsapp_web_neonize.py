"""The real linked-device driver: WhatsApp Web through neonize (whatsmeow), one process per
session (``CHATGATE_WHATSAPP_WEB_DRIVER=neonize``; ``pip install 'chatgate[whatsapp-web]'``).

whatsmeow's ``connect()`` can hang for minutes against a silent connection, and then even
``stop()`` cannot end it; a crash in its Go library takes its process down. So each
session's connection runs in a child process of the worker
(:mod:`chatgate.channels.whatsapp_web_neonize_child`), spoken to over its stdin and stdout
in small JSON lines, and this driver watches it:

- the child answers ``ping`` within ``ping_timeout`` seconds, or it is killed (SIGKILL) and
  the stream reports ``Disconnected("unresponsive")``;
- a connection that shows neither a QR code nor a connected device within
  ``connect_timeout`` is killed too (``connect_timeout``);
- a child that exits or crashes reports ``Disconnected("driver_crashed: ...")``;
- ``stop()`` asks the child to disconnect and kills it after ``stop_grace`` seconds.

Nothing here ever waits on the child without a deadline, so neither the worker nor the API
can hang or die with it; reconnecting and backoff are the runner's, as for every driver.

The devices' keys stay in whatsmeow's device store
(:mod:`chatgate.channels.whatsapp_web_device_store`); the device state Chatgate keeps is the
device's JID (``{"jid": ...}``), what finds it there after a restart without a new QR.
Offline, whatsmeow fails a connect within milliseconds (``Disconnected("unreachable")``),
and a session that was never paired then ends ``failed`` rather than looping.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib.util
import json
import re
import signal
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

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
from chatgate.channels.voice_notes import VoiceNoteError, audio_seconds, voice_note
from chatgate.channels.whatsapp_web_device_store import DeviceStore, device_store_url
from chatgate.config import Settings

log = structlog.get_logger(__name__)

CHILD_MODULE = "chatgate.channels.whatsapp_web_neonize_child"
# One line of the pipe holds a whole file, base64 (the platform takes up to 100 MB).
LINE_LIMIT = 160 * 1024 * 1024
EXTRA_MISSING = (
    "CHATGATE_WHATSAPP_WEB_DRIVER=neonize needs the whatsapp-web extra: "
    "pip install 'chatgate[whatsapp-web]'"
)
# Credentials in a URL an error message may quote.
_CREDENTIALS = re.compile(r"//[^/@\s]+@")


@dataclass(frozen=True, slots=True)
class ChildTimings:
    """How the driver watches its child process (seconds)."""

    ping_every: float = 5.0
    ping_timeout: float = 10.0
    connect_timeout: float = 60.0  # start -> a QR code or the device connected
    stop_grace: float = 3.0
    command_timeout: float = 180.0  # a send, with its upload


def driver_factory(settings: Settings) -> Callable[[], NeonizeWebDriver]:
    """Make a driver per session, sharing the device store. Raises :class:`RuntimeError`
    saying how to install the extra when neonize is missing (checked without importing it:
    only the children do)."""
    if importlib.util.find_spec("neonize") is None:
        raise RuntimeError(EXTRA_MISSING)
    store = DeviceStore(device_store_url(settings))
    timings = ChildTimings(ping_timeout=settings.session_ping_timeout_seconds)
    proxy = settings.whatsapp_web_proxy
    return lambda: NeonizeWebDriver(store, proxy=proxy, timings=timings)


def child_command() -> list[str]:
    """The command that runs a session's child process (this interpreter)."""
    return [sys.executable, "-m", CHILD_MODULE]


def device_state(jid: str) -> str:
    """The device state Chatgate keeps for the device ``jid``."""
    return json.dumps({"driver": "neonize", "jid": jid})


def _jid_of(state: str) -> str | None:
    """The JID a device state names; ``None`` if it is not one of this driver's."""
    try:
        found = json.loads(state)
    except ValueError:
        return None
    jid = found.get("jid") if isinstance(found, dict) else None
    return jid if isinstance(jid, str) and "@" in jid else None


def _exit_reason(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"driver_crashed: {signal.Signals(-code).name}"
        return f"driver_crashed: signal {-code}"
    return f"driver_crashed: exit {code}" if code else "driver_exited"


class NeonizeWebDriver:
    """One session's connection, run in a child process (see the module docstring)."""

    def __init__(
        self,
        store: DeviceStore,
        *,
        proxy: str | None = None,
        timings: ChildTimings | None = None,
        command: Sequence[str] | None = None,
    ) -> None:
        self.store = store
        self.proxy = proxy
        self.timings = timings or ChildTimings()
        self.command = list(command or child_command())
        self._process: asyncio.subprocess.Process | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._events: asyncio.Queue[DriverEvent] | None = None
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._seq = 0
        self._ended = False  # this start's stream has had its last event
        self._settled = asyncio.Event()  # a QR code shown or the device connected
        self._connected = False
        self._jid: str | None = None  # the device of this start, once known

    @property
    def pid(self) -> int | None:
        """The child process's id while it runs."""
        return self._process.pid if self._process is not None else None

    # -- the contract ----------------------------------------------------------------------

    async def start(self, device_state: str | None) -> None:
        """Start the session's process and its connection (resuming the device of
        ``device_state``, or pairing a new one)."""
        await self._end_process()
        self._events, self._ended, self._connected = asyncio.Queue(), False, False
        self._settled = asyncio.Event()
        jid = self._jid = _jid_of(device_state) if device_state is not None else None
        if device_state is not None and jid is None:
            # Paired by another driver: its keys are not in this store. Pair again.
            self._push(LoggedOut("device_unknown"))
            return
        try:
            await self.store.prepare()
        except Exception as exc:  # the database is away: try again later
            raise DriverError("store_unavailable", type(exc).__name__, retryable=True) from exc
        try:
            self._process = await asyncio.create_subprocess_exec(
                *self.command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                limit=LINE_LIMIT,
            )
        except OSError as exc:
            raise DriverError("driver_unavailable", str(exc), retryable=False) from exc
        self._tasks = [
            asyncio.create_task(self._read(self._process), name="neonize-read"),
            asyncio.create_task(self._watch(), name="neonize-watchdog"),
        ]
        request = {"op": "start", "store": self.store.url, "jid": jid, "proxy": self.proxy}
        try:
            await self._request(request, self.timings.connect_timeout)
        except DriverError:
            await self._end_process()
            raise

    async def events(self) -> AsyncIterator[DriverEvent]:
        """The child's events, until the connection ends."""
        queue = self._events
        if queue is None:
            return
        while True:
            event = await queue.get()
            yield event
            if isinstance(event, Disconnected | LoggedOut):
                return

    async def send(self, message: Outgoing) -> str:
        """Send through the child; the platform's id. A voice note is made OGG/Opus first."""
        if not self._connected or self._ended:
            raise DriverError("not_connected", "the device is not connected", retryable=True)
        extra = dict(message.extra)
        request: dict[str, Any] = {"op": "send", "to": message.to, "kind": message.kind}
        request["text"] = message.text
        media = message.media
        if message.kind == "audio" and media is not None:
            try:
                if extra.get("ptt"):
                    note = await voice_note(media)
                    media, request["seconds"] = note.content, note.seconds
                    extra["mime_type"] = note.mime_type
                else:
                    request["seconds"] = await audio_seconds(media)
            except VoiceNoteError as error:
                raise DriverError(error.code, error.detail, retryable=False) from None
        if media is not None:
            request["media"] = base64.b64encode(media).decode("ascii")
        request["extra"] = extra
        answer = await self._request(request, self.timings.command_timeout)
        return str(answer["id"])

    async def download(self, media_id: str) -> bytes:
        """An inbound message's file, downloaded by the child."""
        request = {"op": "download", "media_id": media_id}
        answer = await self._request(request, self.timings.command_timeout)
        return base64.b64decode(str(answer["content"]))

    async def ping(self) -> None:
        """Whether the connection answers (whatsmeow asked from the child); no deadline of
        its own: the caller's watchdog has one."""
        answer = await self._request({"op": "ping"}, None)
        if not answer.get("connected"):
            raise DriverError("not_connected", "the device is not connected", retryable=True)

    async def stop(self) -> None:
        """Disconnect and end the child (killed if it does not end within the grace)."""
        await self._finish("stop")

    async def logout(self) -> None:
        """Unlink the device and end the child; its keys are forgotten even when the
        platform could not be told (whatsmeow forgets them only when it was)."""
        await self._finish("logout")
        jid, self._jid = self._jid, None
        if jid is not None:
            try:
                await self.store.forget(jid)
            except Exception:  # the database is away: the keys stay, unused
                log.exception("sessions.forget_failed")

    # -- the child -------------------------------------------------------------------------

    async def _finish(self, op: str) -> None:
        process = self._process
        if process is None:
            return
        if process.returncode is None:
            with contextlib.suppress(DriverError):
                await self._request({"op": op}, self.timings.stop_grace)
        self._push(Disconnected("closed_by_client"))
        await self._end_process()

    async def _request(self, message: dict[str, Any], deadline: float | None) -> dict[str, Any]:
        """Send a command and wait for its answer (up to ``deadline`` seconds)."""
        process = self._process
        if process is None or process.stdin is None or process.returncode is not None:
            raise DriverError("not_connected", "the session is not running", retryable=True)
        self._seq += 1
        ident = self._seq
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[ident] = answer
        try:
            line = json.dumps({**message, "ref": ident}, default=str) + "\n"
            process.stdin.write(line.encode())
            await process.stdin.drain()
            async with asyncio.timeout(deadline):
                reply = await answer
        except (BrokenPipeError, ConnectionResetError):
            raise _gone() from None
        except TimeoutError:
            raise DriverError("timeout", f"{message['op']}: no answer", retryable=True) from None
        finally:
            self._pending.pop(ident, None)
        if not reply.get("ok"):
            code, detail = str(reply.get("error")), str(reply.get("detail"))
            raise DriverError(code, detail, retryable=bool(reply.get("retryable")))
        return reply

    async def _read(self, process: asyncio.subprocess.Process) -> None:
        """Route the child's lines (answers to their commands, events to the stream); when
        it ends, the stream ends with why."""
        assert process.stdout is not None
        try:
            while line := await process.stdout.readline():
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(message, dict):
                    continue
                pending = self._pending.get(message.get("ref", -1))
                if pending is not None and not pending.done():
                    pending.set_result(message)
                elif "event" in message:
                    self._on_event(message)
        except ValueError:  # a line over the limit: the child is not speaking the protocol
            self._push(Disconnected("driver_error"))
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        code = await process.wait()
        self._fail_pending()
        if not self._ended:
            log.warning("sessions.driver_exited", pid=process.pid, code=code)
        self._push(Disconnected(_exit_reason(code)))

    async def _watch(self) -> None:
        """Ping the child; kill it when it leaves a ping unanswered, or connects nowhere."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timings.connect_timeout
        while True:
            await asyncio.sleep(self.timings.ping_every)
            if not self._settled.is_set() and loop.time() >= deadline:
                await self._kill("connect_timeout")
                return
            try:
                await self._request({"op": "ping"}, self.timings.ping_timeout)
            except DriverError as error:
                if error.code == "timeout":
                    await self._kill("unresponsive")
                return  # otherwise the process is gone: the reader says why

    async def _kill(self, reason: str) -> None:
        process = self._process
        log.warning("sessions.driver_killed", reason=reason, pid=self.pid)
        self._push(Disconnected(reason))
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()

    async def _end_process(self) -> None:
        """Let the child end within the grace, else kill it; stop watching it."""
        process, self._process = self._process, None
        if process is not None:
            if process.stdin is not None:
                process.stdin.close()  # a child still reading takes that as "stop"
            try:
                async with asyncio.timeout(self.timings.stop_grace):
                    await process.wait()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        current = asyncio.current_task()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            if task is not current:
                task.cancel()
        await asyncio.gather(*(t for t in tasks if t is not current), return_exceptions=True)
        self._fail_pending()
        self._connected = False

    def _fail_pending(self) -> None:
        """Commands still waiting will get no answer: the process is gone."""
        for waiting in self._pending.values():
            if not waiting.done():
                waiting.set_exception(_gone())

    def _push(self, event: DriverEvent) -> None:
        """Add to this start's stream (nothing after its last event)."""
        if self._ended or self._events is None:
            return
        self._ended = isinstance(event, Disconnected | LoggedOut)
        self._events.put_nowait(event)

    def _on_event(self, message: dict[str, Any]) -> None:
        kind = message["event"]
        if kind == "qr":
            self._settled.set()
            self._push(QrCode(str(message["code"])))
        elif kind == "connected":
            self._settled.set()
            self._connected = True
            jid = self._jid = str(message["jid"])
            state = device_state(jid) if message.get("paired") else None
            self._push(Connected(jid, str(message["phone"]), str(message.get("name") or ""), state))
        elif kind == "message":
            self._push(incoming_message(message))
        elif kind == "receipt":
            self._push(Receipt(str(message["id"]), message["status"]))
        elif kind == "logged_out":
            self._push(LoggedOut())
        elif kind == "closed":
            detail = _CREDENTIALS.sub("//***@", str(message.get("detail") or ""))
            reason = message.get("reason")
            log.info("sessions.connection_closed", reason=reason, detail=detail, pid=self.pid)
            self._connected = False
            self._push(Disconnected(str(message.get("reason") or "closed")))


def _gone() -> DriverError:
    return DriverError("driver_gone", "the session's process ended", retryable=True)
