"""The process-local session runner: drives each running session's device driver.

One :class:`SessionRunner` per session turns its driver's events into the session's state
(``starting`` -> ``scan_qr`` -> ``working``) and its events, and connects again when the
connection ends: with exponential backoff and full jitter up to a ceiling
(:class:`~chatgate.engine.retry.RetryPolicy`), and through a per-process cap on connects
in progress, so that many sessions dropping together do not storm the platform. It never
loops:

- a session that has not been paired and never showed a QR code is not connected again: it
  ends ``failed`` with the reason (the platform unreachable, say), since trying again
  blindly is what makes other gateways spin;
- the platform ending a pairing (``qr_timeout``) ends it ``failed`` too;
- a device logged out (from the phone) ends ``failed`` with reason ``logged_out``, its keys
  forgotten, and is never started again by itself.

A health watchdog pings the driver of a ``working`` session every ``ping_every`` seconds: a
connection that claims to work but does not answer within ``ping_timeout`` is started again
(``starting`` with reason ``unresponsive`` at once, then reconnected with the usual backoff).

A :class:`SessionHost` holds the runners of one process. It is what the holder of sessions
drives (the worker, for the sessions it holds: :mod:`chatgate.services.session_holding`):
``start(id)``, ``stop(id)``, ``remove(id)`` and ``close()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog

from chatgate.channels.device_driver import (
    Connected,
    DeviceDriver,
    Disconnected,
    DriverError,
    DriverEvent,
    LoggedOut,
    QrCode,
)
from chatgate.domain.sessions import LOGGED_OUT, QR_TIMEOUT, SessionState
from chatgate.engine.clock import Clock, system_clock
from chatgate.engine.retry import RetryPolicy
from chatgate.services.sessions import Pairing, SessionService
from chatgate.storage import sessions as session_store
from chatgate.storage.database import Database

log = structlog.get_logger(__name__)

# The reason of the sessions a stopping worker hands back.
WORKER_STOPPED = "worker_stopped"
# The reason of a connection restarted because it stopped answering pings.
UNRESPONSIVE = "unresponsive"
DriverFactory = Callable[[], DeviceDriver]
Sleep = Callable[[float], Awaitable[None]]
# What the runner does with the other events (messages and receipts): none by default.
EventSink = Callable[[str, DriverEvent], Awaitable[None]]


async def _ignore(session_id: str, event: DriverEvent) -> None:
    return None


@dataclass(frozen=True, slots=True)
class RunnerSettings:
    """How runners reconnect."""

    backoff: RetryPolicy = field(default_factory=lambda: RetryPolicy(base=1.0, cap=300.0))
    # Connects in progress at once in this process (first connects and reconnects alike).
    concurrent_connects: int = 4
    # How often a working session is pinged, and how long its answer may take (seconds).
    ping_every: float = 30.0
    ping_timeout: float = 10.0


@dataclass(slots=True)
class _Attempt:
    """What one connection did before it ended."""

    showed_qr: bool = False
    connected: bool = False
    ended: str | None = None  # why the connection ended
    final: bool = False  # the session ends here (failed); no reconnect


class SessionRunner:
    """Keeps one session's device connected until stopped, removed or failed."""

    def __init__(
        self,
        session_id: str,
        database: Database,
        sessions: SessionService,
        driver: DeviceDriver,
        *,
        settings: RunnerSettings,
        connects: asyncio.Semaphore,
        sink: EventSink = _ignore,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = system_clock,
        rng: random.Random | None = None,
    ) -> None:
        self.session_id = session_id
        self.database = database
        self.sessions = sessions
        self.driver = driver
        self.settings = settings
        self.connects = connects
        self.sink = sink
        self.sleep = sleep
        self.clock = clock
        self.rng = rng or random.Random()
        self.showed_qr = False  # in this run, whether any QR code was shown yet
        self.connected = False  # whether the driver is connected now (sends may go)
        self.delays: list[float] = []  # the backoff waits taken, for inspection

    async def run(self) -> None:
        """Connect, follow, reconnect, until the session ends or the task is cancelled."""
        failures = 0
        reason: str | None = None
        while True:
            async with self.database.read() as conn:
                stored = await session_store.get_session(conn, self.session_id)
            if stored is None or not stored.wanted:
                return  # removed or stopped meanwhile
            device_state = self.sessions.device_state(stored)
            if stored.state != "starting" or reason is not None:
                # (A session handed back ``starting`` keeps the reason it was handed back for.)
                await self._state("starting", reason)
            attempt = await self._connect_once(device_state)
            if attempt.final:
                return
            if device_state is None and not attempt.connected and not self.showed_qr:
                # Never paired, never showed a code: no blind reconnect.
                await self._state("failed", attempt.ended)
                return
            failures = 0 if attempt.connected else failures + 1
            reason = attempt.ended
            if attempt.connected:
                # It was working: say at once that it no longer is, not after the wait.
                await self._state("starting", reason)
            delay = self.settings.backoff.delay(max(failures, 1), rng=self.rng)
            self.delays.append(delay)
            await self.sleep(delay)

    async def _connect_once(self, device_state: str | None) -> _Attempt:
        attempt = _Attempt()
        try:
            async with self.connects:
                await self.driver.start(device_state)
        except DriverError as error:
            attempt.ended = error.code
            return attempt
        try:
            await self._follow(attempt)
        finally:
            self.connected = False
            with contextlib.suppress(Exception):
                await self.driver.stop()
        return attempt

    async def _follow(self, attempt: _Attempt) -> None:
        """Follow the connection's events until it ends, or until the watchdog finds it
        unresponsive (a driver waiting on a silent connection is abandoned then)."""
        events = asyncio.create_task(self._consume(attempt))
        watchdog = asyncio.create_task(self._watch(attempt))
        try:
            await asyncio.wait({events, watchdog}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (events, watchdog):
                task.cancel()
            await asyncio.gather(events, watchdog, return_exceptions=True)
        error = None if events.cancelled() else events.exception()
        if error is not None:
            raise error

    async def _consume(self, attempt: _Attempt) -> None:
        async for event in self.driver.events():
            await self._on(event, attempt)
            if attempt.ended is not None:
                return

    async def _watch(self, attempt: _Attempt) -> None:
        """Return when the connection, once working, leaves a ping unanswered."""
        while True:
            # Real time, not ``self.sleep``: that one paces reconnects (and tests skip it).
            await asyncio.sleep(self.settings.ping_every)
            if not attempt.connected:
                continue  # only a working session's connection is expected to answer
            try:
                async with asyncio.timeout(self.settings.ping_timeout):
                    await self.driver.ping()
            except Exception as error:  # timed out, refused, or the driver broke: restart
                log.warning("sessions.unresponsive", session_id=self.session_id, error=repr(error))
                attempt.ended = UNRESPONSIVE
                return

    async def _on(self, event: DriverEvent, attempt: _Attempt) -> None:
        now = self.clock()
        if isinstance(event, QrCode):
            attempt.showed_qr = self.showed_qr = True
            async with self.database.write() as conn:
                await self.sessions.show_qr(conn, self.session_id, event.code, now)
        elif isinstance(event, Connected):
            attempt.connected = True
            pairing = Pairing(event.jid, event.phone, event.name, event.device_state)
            async with self.database.write() as conn:
                await self.sessions.change_state(
                    conn, self.session_id, "working", reason=None, now=now, pairing=pairing
                )
            self.connected = True
        elif isinstance(event, LoggedOut):
            attempt.ended, attempt.final = LOGGED_OUT, True
            await self._state("failed", LOGGED_OUT, forget_device=True)
        elif isinstance(event, Disconnected):
            attempt.ended = event.reason
            if event.reason == QR_TIMEOUT:
                attempt.final = True
                await self._state("failed", QR_TIMEOUT)
        else:
            await self.sink(self.session_id, event)

    async def _state(
        self, state: SessionState, reason: str | None, *, forget_device: bool = False
    ) -> None:
        async with self.database.write() as conn:
            await self.sessions.change_state(
                conn,
                self.session_id,
                state,
                reason=reason,
                now=self.clock(),
                forget_device=forget_device,
            )


class SessionHost:
    """The runners of this process, started and stopped by whoever holds the sessions."""

    def __init__(
        self,
        database: Database,
        sessions: SessionService,
        drivers: DriverFactory,
        *,
        settings: RunnerSettings | None = None,
        sink: EventSink = _ignore,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = system_clock,
    ) -> None:
        self.database = database
        self.sessions = sessions
        self.drivers = drivers
        self.settings = settings or RunnerSettings()
        self.sink = sink
        self.sleep = sleep
        self.clock = clock
        self.connects = asyncio.Semaphore(self.settings.concurrent_connects)
        self.runners: dict[str, tuple[SessionRunner, asyncio.Task[None]]] = {}

    def running(self) -> set[str]:
        """The sessions whose runner is still running."""
        return {sid for sid, (_, task) in self.runners.items() if not task.done()}

    def start(self, session_id: str) -> SessionRunner:
        """Run the session here (no-op if it runs already)."""
        if session_id in self.running():
            return self.runners[session_id][0]
        runner = SessionRunner(
            session_id,
            self.database,
            self.sessions,
            self.drivers(),
            settings=self.settings,
            connects=self.connects,
            sink=self.sink,
            sleep=self.sleep,
            clock=self.clock,
        )
        task = asyncio.create_task(self._guarded(runner), name=f"session-{session_id}")
        self.runners[session_id] = (runner, task)
        return runner

    def connected_driver(self, session_id: str) -> DeviceDriver | None:
        """The driver of ``session_id`` while it is connected here (what sends go through)."""
        entry = self.runners.get(session_id)
        if entry is None or entry[1].done() or not entry[0].connected:
            return None
        return entry[0].driver

    async def _guarded(self, runner: SessionRunner) -> None:
        try:
            await runner.run()
        except asyncio.CancelledError:
            raise
        except Exception:  # one session's trouble must not take the others down
            log.exception("sessions.runner_failed", session_id=runner.session_id)

    async def stop(self, session_id: str) -> None:
        """Stop running the session here (its driver closes; the device stays linked)."""
        entry = self.runners.pop(session_id, None)
        if entry is not None:
            entry[1].cancel()
            await asyncio.gather(entry[1], return_exceptions=True)

    async def remove(self, session_id: str) -> None:
        """The session was deleted: log its device out (through the connection it holds)
        and stop it."""
        entry = self.runners.get(session_id)
        if entry is not None:
            with contextlib.suppress(Exception):
                await entry[0].driver.logout()
        await self.stop(session_id)

    async def close(self) -> None:
        """Stop every runner of this process. The sessions it ran are ``starting`` again
        (reason ``worker_stopped``), never left claiming to work: whichever worker runs them
        next resumes them."""
        held = self.running()
        for session_id in list(self.runners):
            await self.stop(session_id)
        try:
            async with self.database.write() as conn:
                for session_id in held:
                    stored = await session_store.get_session(conn, session_id)
                    if stored is not None and stored.state in ("scan_qr", "working"):
                        await self.sessions.change_state(
                            conn, session_id, "starting", reason=WORKER_STOPPED, now=self.clock()
                        )
        except Exception:  # the store is away: the next holder corrects the states
            log.exception("sessions.close_failed")
