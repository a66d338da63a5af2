"""One SMPP 3.4 session with an SMSC: a transceiver bind kept alive, re-bound when lost.

SMPP is not request/response over HTTP: one long-lived TCP connection carries our
``submit_sm`` and the SMSC's ``deliver_sm`` (receipts and users' messages) both ways, with
responses matched to requests by sequence number. A :class:`SmppSession` owns that
connection for one channel connection:

- it connects and binds as a transceiver (``bind_transceiver``), and when the connection
  is lost (or never made) it binds again after a backoff that doubles up to a cap; a bind
  the SMSC refuses is reported through ``on_state`` (``bind_failed``, with the SMSC's
  status) and tried again on the same backoff, so a corrected password is picked up; an
  SMSC at an address the network policy forbids is never connected to (``address_refused``);
- it sends ``enquire_link`` every ``enquire_link_seconds`` and drops (then re-binds) a
  connection that does not answer one, and answers the SMSC's own ``enquire_link``;
- :meth:`submit` sends one ``submit_sm`` within the window (at most ``window`` requests
  without a response) and the per-connection TPS pace, and returns the SMSC's message id.
  ``ESME_RTHROTTLED`` and ``ESME_RMSGQFUL`` pause every submit of the session for a backoff
  and the PDU is sent again, a few times, before the refusal is raised;
- every ``deliver_sm`` goes to ``on_deliver`` and is answered only once that returned
  (``deliver_sm_resp``), so what the SMSC considers handed over has been recorded; a
  failure of ``on_deliver`` is answered with ``ESME_RX_T_APPN`` and the SMSC tries again.

The session knows nothing of messages or the store: see :mod:`chatgate.channels.sms_smpp_pool`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from smpplib import command, command_codes, consts

from chatgate.channels.sms_smpp_pdu import ProtocolError, pdu, read_pdu, response
from chatgate.event_loop import cancel_and_wait
from chatgate.guarded_http import open_tcp
from chatgate.net_guard import NetworkPolicy, UnsafeURL

log = structlog.get_logger(__name__)

RESPONSE_BIT = 0x80000000
# Statuses that ask us to slow down: the PDU may be sent again after a pause.
THROTTLING = frozenset({consts.SMPP_ESME_RTHROTTLED, consts.SMPP_ESME_RMSGQFUL})
# Bind refusals that another try with the same credentials will not fix (a plain
# ESME_RBINDFAIL may be passing: the SMSC is tried again on the usual backoff).
BAD_CREDENTIALS = frozenset({consts.SMPP_ESME_RINVPASWD, consts.SMPP_ESME_RINVSYSID})
ESME_RX_T_APPN = 0x64  # temporary application error: the SMSC delivers again later

DeliverHandler = Callable[[command.Command], Awaitable[None]]
StateHandler = Callable[[str, int | None], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """Where the SMSC is, who we are, and how the session behaves."""

    host: str
    port: int
    system_id: str
    password: str
    system_type: str = ""
    enquire_link_seconds: float = 30.0
    response_seconds: float = 10.0
    connect_seconds: float = 5.0
    window: int = 10
    # submit_sm per second on this connection (None: as fast as the window allows)
    tps: float | None = None
    reconnect_base: float = 0.5
    reconnect_cap: float = 30.0
    throttle_base: float = 0.2
    throttle_cap: float = 5.0
    throttle_tries: int = 6
    # How long a submit waits for a bound session before giving up (retryable).
    bind_wait_seconds: float = 10.0
    # Which addresses the SMSC may be at (public ones only, unless the operator allowed).
    network: NetworkPolicy = field(default_factory=NetworkPolicy)


class SessionError(Exception):
    """A submit that did not get an answer from the SMSC (always worth another try)."""


class NotConnected(SessionError):
    """A request found no connection: nothing went on the wire, it may simply wait."""


class BindRefused(Exception):
    """The SMSC refused our bind; ``status`` is its ``command_status``."""

    def __init__(self, status: int) -> None:
        super().__init__(f"bind refused with status 0x{status:02x}")
        self.status = status


class HostRefused(Exception):
    """The network policy forbids the SMSC's address; the text says why."""


class SubmitRefused(Exception):
    """The SMSC answered a ``submit_sm`` with an error status."""

    def __init__(self, status: int) -> None:
        super().__init__(f"submit_sm refused with status 0x{status:02x}")
        self.status = status


async def _ignore_deliver(pdu_: command.Command) -> None:
    raise RuntimeError("no handler for deliver_sm")


async def _ignore_state(state: str, status: int | None) -> None:
    return None


class SmppSession:
    """A transceiver session with one SMSC, re-bound whenever it is lost."""

    def __init__(
        self,
        config: SessionConfig,
        *,
        on_deliver: DeliverHandler = _ignore_deliver,
        on_state: StateHandler = _ignore_state,
    ) -> None:
        self.config = config
        self.on_deliver = on_deliver
        self.on_state = on_state
        self.state = "idle"
        # The SMSC's status of the last refused bind, while binding keeps failing.
        self.bind_error: int | None = None
        # Why the network policy refused the SMSC's address, while it does.
        self.host_refusal: str | None = None
        self.binds = 0
        self._sequence = itertools.count(1)
        self._pending: dict[int, asyncio.Future[command.Command]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._bound = asyncio.Event()
        self._attempted = asyncio.Event()
        self._window = asyncio.Semaphore(config.window)
        self._pace_lock = asyncio.Lock()
        self._next_slot = 0.0
        self._paused_until = 0.0
        self._runner: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False

    # -- life ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start connecting and binding in the background (once)."""
        if self._runner is None:
            self._runner = asyncio.create_task(self._run(), name=f"smpp-{self.config.host}")

    @property
    def bound(self) -> bool:
        """Whether a bind is up now."""
        return self._bound.is_set()

    async def wait_bound(self, seconds: float) -> None:
        """Until bound; :class:`BindRefused` at once if the last bind was refused for its
        credentials, :class:`SessionError` after ``seconds``."""
        self.start()
        deadline = time.monotonic() + seconds
        while not self._bound.is_set():
            if self.bind_error is not None and self.bind_error in BAD_CREDENTIALS:
                raise BindRefused(self.bind_error)
            if self.host_refusal is not None:
                raise HostRefused(self.host_refusal)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SessionError("the SMSC could not be reached or bound")
            self._attempted.clear()
            waiters = [asyncio.ensure_future(self._bound.wait())]
            waiters.append(asyncio.ensure_future(self._attempted.wait()))
            _, pending = await asyncio.wait(
                waiters, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
            )
            for waiter in pending:
                waiter.cancel()

    async def close(self) -> None:
        """Unbind politely (briefly), drop the connection and stop re-binding."""
        self._closing = True
        if self._writer is not None and self.bound:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await self._request("unbind")
        if self._runner is not None:
            # Cancelled until it ends: one cancellation can be absorbed by a step that
            # finishes at the same moment, and the runner must not go on to bind again.
            # ``wait`` never takes a cancellation of the caller (a worker stopping while
            # it closes a session) for the runner's own.
            while not self._runner.done():
                self._runner.cancel()
                await asyncio.wait({self._runner}, timeout=1.0)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._drop_connection()
        self.state = "closed"

    async def _run(self) -> None:
        failures = 0
        while not self._closing:
            binds_before = self.binds
            try:
                await self._connect_and_serve()
            except asyncio.CancelledError:
                raise
            except BindRefused as refused:
                self.bind_error = refused.status
                self.state = "bind_failed"
                await self._report("bind_failed", refused.status)
            except UnsafeURL as refused:
                # Tried again on the backoff all the same: the operator may allow it.
                self.host_refusal = str(refused)
                self.state = "address_refused"
                await self._report("address_refused", None)
            except (OSError, asyncio.IncompleteReadError, ProtocolError, SessionError) as exc:
                log.info("smpp.connection_lost", host=self.config.host, error=type(exc).__name__)
            except Exception:  # a bug must not end the session for good: bind again
                log.exception("smpp.session_failed", host=self.config.host)
            finally:
                was_bound = self.state == "bound"
                self._drop_connection()
                self._attempted.set()
                if was_bound and not self._closing:
                    self.state = "disconnected"
                    await self._report("disconnected", None)
            # A session that was bound starts its backoff afresh.
            failures = 1 if self.binds > binds_before else failures + 1
            delay = min(self.config.reconnect_cap, self.config.reconnect_base * 2 ** (failures - 1))
            await asyncio.sleep(delay)

    async def _connect_and_serve(self) -> None:
        self.state = "connecting"
        async with asyncio.timeout(self.config.connect_seconds):
            reader, writer = await open_tcp(self.config.network, self.config.host, self.config.port)
        self.host_refusal = None
        self._writer = writer
        reading = asyncio.create_task(self._read(reader))
        try:
            await self._bind()
            self.bind_error = None
            self.binds += 1
            self.state = "bound"
            self._bound.set()
            await self._report("bound", None)
            keeping = asyncio.create_task(self._keep_alive())
            try:
                done, _ = await asyncio.wait(
                    {reading, keeping}, return_when=asyncio.FIRST_COMPLETED
                )
                for task in done:
                    task.result()  # raise what ended it
            finally:
                await cancel_and_wait(keeping)
        finally:
            await cancel_and_wait(reading)

    async def _bind(self) -> None:
        answer = await self._request(
            "bind_transceiver",
            system_id=self.config.system_id,
            password=self.config.password,
            system_type=self.config.system_type,
            addr_ton=0,
            addr_npi=0,
            address_range="",
        )
        if answer.status != consts.SMPP_ESME_ROK:
            raise BindRefused(answer.status)

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(self.config.enquire_link_seconds)
            # No answer within the response time: the link is dead, whatever TCP says.
            await self._request("enquire_link")

    async def _report(self, state: str, status: int | None) -> None:
        try:
            await self.on_state(state, status)
        except Exception:
            log.exception("smpp.state_report_failed", state=state)

    def _drop_connection(self) -> None:
        # Submits wait for the next bind from now on, not for this connection.
        self._bound.clear()
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(SessionError("the connection to the SMSC was lost"))
        self._pending.clear()

    # -- the wire -----------------------------------------------------------------------

    def _send(self, data: bytes) -> None:
        if self._writer is None:
            raise NotConnected("not connected to the SMSC")
        self._writer.write(data)

    async def _request(self, name: str, **fields: Any) -> command.Command:
        """Send a request PDU and wait for its response (``SessionError`` if none comes)."""
        sequence = next(self._sequence)
        future: asyncio.Future[command.Command] = asyncio.get_running_loop().create_future()
        self._pending[sequence] = future
        try:
            self._send(bytes(pdu(name, sequence, **fields).generate()))
            async with asyncio.timeout(self.config.response_seconds):
                return await future
        except TimeoutError:
            # A missing answer means the session can no longer be trusted.
            self._drop_connection()
            raise SessionError(f"no answer to {name} from the SMSC") from None
        finally:
            self._pending.pop(sequence, None)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            await self._read_loop(reader)
        finally:
            # Nothing more will be answered on this connection: fail what waits for it.
            self._drop_connection()

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        while True:
            incoming = await read_pdu(reader)
            code = command_codes.get_command_code(incoming.command)
            if code & RESPONSE_BIT or incoming.command == "generic_nack":
                future = self._pending.get(incoming.sequence)
                if future is not None and not future.done():
                    future.set_result(incoming)
            elif incoming.command == "enquire_link":
                self._send(response("enquire_link_resp", incoming.sequence))
            elif incoming.command == "deliver_sm":
                task = asyncio.create_task(self._deliver(incoming))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            elif incoming.command == "unbind":
                self._send(response("unbind_resp", incoming.sequence))
                raise SessionError("the SMSC unbound")
            else:
                self._send(response("generic_nack", incoming.sequence, consts.SMPP_ESME_RINVCMDID))

    async def _deliver(self, incoming: command.Command) -> None:
        status = consts.SMPP_ESME_ROK
        try:
            await self.on_deliver(incoming)
        except Exception:
            log.exception("smpp.deliver_not_recorded")
            status = ESME_RX_T_APPN
        with contextlib.suppress(SessionError):
            self._send(response("deliver_sm_resp", incoming.sequence, status))

    # -- submitting ---------------------------------------------------------------------

    async def submit(self, **fields: Any) -> str:
        """Send one ``submit_sm`` and return the SMSC's message id.

        Raises :class:`SubmitRefused` with the SMSC's status, :class:`BindRefused` when the
        SMSC refuses our credentials, :class:`SessionError` when there is no answer.
        """
        throttled = 0
        while True:
            await self.wait_bound(self.config.bind_wait_seconds)
            async with self._window:
                await self._pace()
                try:
                    answer = await self._request("submit_sm", **fields)
                except NotConnected:
                    continue  # lost between the bind check and the write: wait for the next
            if answer.status == consts.SMPP_ESME_ROK:
                return _text(answer.message_id)
            if answer.status not in THROTTLING or throttled + 1 >= self.config.throttle_tries:
                raise SubmitRefused(answer.status)
            throttled += 1
            delay = min(self.config.throttle_cap, self.config.throttle_base * 2 ** (throttled - 1))
            self._paused_until = max(self._paused_until, time.monotonic() + delay)
            log.info("smpp.throttled", status=answer.status, pause=delay)

    async def _pace(self) -> None:
        """Wait for a throttle pause to end and for this connection's next TPS slot."""
        async with self._pace_lock:
            now = time.monotonic()
            start = max(now, self._paused_until, self._next_slot)
            if self.config.tps:
                self._next_slot = start + 1.0 / self.config.tps
            if start > now:
                await asyncio.sleep(start - now)


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return "" if value is None else str(value)
