"""What every platform emulator shares: accounts, users, the log of calls, faults, webhooks.

An emulator plays a platform faithfully enough that an adapter pointed at it cannot tell
the difference: it checks auth and request shape the way the platform does, answers with the
platform's own success and error bodies, and sends the platform's signed webhooks (status
updates after settable delays, user messages on demand) to the URL an account names.

Faults are queued per platform through the control API and consumed by the next matching
sends, so a test can script "two 503s, then success" or "throttled with a retry hint".
One fault is played here for every HTTP platform alike: ``answer_lost``, a send the platform
accepts and keeps whose answer never reaches the sender (its edge answers ``502 Bad
Gateway`` instead), so that a test can watch what a try after a lost answer does. The
emulator's app runs each call through :class:`LostAnswers` for it; an emulator not served
over HTTP (the SMSC) is handed the fault itself and plays it its own way.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import httpx
import structlog
from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger(__name__)

FaultKind = Literal[
    "server_error",  # a 5xx answer
    "timeout",  # no answer for ``seconds`` (longer than the client waits)
    "rate_limit",  # the platform's throttling answer, with its retry hint where it has one
    "permanent",  # a request the platform refuses for good (bad parameter)
    "invalid_recipient",  # the user does not exist or cannot be reached
    "async_failure",  # accepted, then reported failed by a status webhook
    "answer_lost",  # accepted and kept, but the answer fails on its way (a 502 from the edge)
]


class Fault(BaseModel):
    """A failure to play on the next ``count`` sends (to ``recipient`` only, if set)."""

    model_config = ConfigDict(extra="forbid")

    kind: FaultKind
    count: int = Field(default=1, ge=1, le=10_000)
    recipient: str | None = None
    retry_after: float | None = Field(default=None, ge=0, le=3600)
    seconds: float = Field(default=30.0, ge=0, le=600, description="how long a timeout hangs")
    code: int | None = Field(
        default=None,
        description="the platform's own error code to answer with, where it has several for "
        "one kind (WhatsApp throttles with 130429, 80007 or 131056); its first by default",
    )


class Timing(BaseModel):
    """When status webhooks follow a successful send (seconds; ``None`` sends none)."""

    model_config = ConfigDict(extra="forbid")

    sent_after: float | None = Field(default=0.05, ge=0, le=3600)
    delivered_after: float | None = Field(default=0.1, ge=0, le=3600)
    read_after: float | None = Field(default=0.2, ge=0, le=3600)


@dataclass
class Account:
    """One business identity on a platform (a WhatsApp number, a bot, a page...)."""

    id: str
    secrets: dict[str, str]
    webhook_url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Received:
    """A call the platform accepted (or refused), as the emulator saw it."""

    platform: str
    account: str
    path: str
    body: Any
    at: float
    message_id: str | None = None
    recipient: str | None = None
    status: int = 200


@dataclass
class Delivery:
    """A webhook the emulator sent to the gateway."""

    platform: str
    url: str
    body: bytes
    status: int | None
    at: float


Sender = Callable[[str, bytes, dict[str, str]], Awaitable[int | None]]


class EmulatorState:
    """Everything the emulators remember; one per ``chatgate emulate`` process."""

    def __init__(
        self, http: httpx.AsyncClient | None = None, gateway_url: str | None = None
    ) -> None:
        self.http = http or httpx.AsyncClient(timeout=10.0)
        # The gateway that accounts' webhooks go to when they name a connection, not a URL.
        self.gateway_url = gateway_url.rstrip("/") if gateway_url else None
        self.timing = Timing()
        self.accounts: dict[str, dict[str, Account]] = {}
        self.received: list[Received] = []
        self.deliveries: list[Delivery] = []
        self.faults: dict[str, list[Fault]] = {}
        # (platform, account, user) -> unix time of the user's last message
        self.last_inbound: dict[tuple[str, str, str], float] = {}
        self.media: dict[str, tuple[bytes, str]] = {}
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()

    def next_number(self) -> int:
        """A number never handed out before in this process (for ids)."""
        return next(self._ids)

    def media_answer(self, media_id: str | None) -> Response | None:
        """The download of stored media, as every platform's file host answers it, or
        ``None`` when there is no such media (each platform refuses that its own way)."""
        stored = self.media.get(media_id) if media_id is not None else None
        if stored is None:
            return None
        content, mime_type = stored
        return Response(content=content, media_type=mime_type)

    def reset(self) -> None:
        """Forget everything but the timing."""
        self.accounts.clear()
        self.received.clear()
        self.deliveries.clear()
        self.faults.clear()
        self.last_inbound.clear()
        self.media.clear()

    # -- accounts and users -------------------------------------------------------------

    def add_account(self, platform: str, account: Account) -> None:
        """Register (or replace) a business identity."""
        self.accounts.setdefault(platform, {})[account.id] = account

    def webhook_of(self, payload: dict[str, Any]) -> str | None:
        """The webhook URL an account's registration asks for.

        A full URL is taken as it is; with a gateway set (``--gateway``), a path such as
        ``/inbound/ch_...`` or a bare ``connection_id`` is resolved against the gateway.
        """
        url = payload.get("webhook_url")
        connection_id = payload.get("connection_id")
        if url is None and connection_id is not None:
            url = f"/inbound/{connection_id}"
        if url is None or "://" in str(url):
            return url
        if self.gateway_url is None:
            raise ValueError(
                "webhook_url: a full URL is needed, or start the emulator with --gateway URL"
            )
        return f"{self.gateway_url}/{str(url).lstrip('/')}"

    def account(self, platform: str, account_id: str) -> Account | None:
        """The account ``account_id`` on ``platform``, if registered."""
        return self.accounts.get(platform, {}).get(account_id)

    def user_wrote(self, platform: str, account_id: str, user: str) -> None:
        """Note that ``user`` wrote to the account now (opens windows and initiations)."""
        self.last_inbound[(platform, account_id, user)] = time.time()

    def seconds_since_user_wrote(self, platform: str, account_id: str, user: str) -> float | None:
        """How long ago ``user`` last wrote, or ``None`` if never."""
        at = self.last_inbound.get((platform, account_id, user))
        return None if at is None else time.time() - at

    # -- faults -------------------------------------------------------------------------

    def add_fault(self, platform: str, fault: Fault) -> None:
        """Queue a fault for the next matching sends."""
        self.faults.setdefault(platform, []).append(fault)

    def take_fault(self, platform: str, recipient: str | None) -> Fault | None:
        """The fault the next send to ``recipient`` should play, consuming one use of it.

        An ``answer_lost`` fault taken during an HTTP call is played by :class:`LostAnswers`:
        the platform is told of no fault (it accepts the send as usual) and ``None`` comes back.
        """
        queue = self.faults.get(platform, [])
        for fault in queue:
            if fault.recipient is None or fault.recipient == recipient:
                fault.count -= 1
                if fault.count == 0:
                    queue.remove(fault)
                if fault.kind == "answer_lost" and (call := _CALL.get()) is not None:
                    call.answer_lost = True
                    return None
                return fault
        return None

    # -- what was received ---------------------------------------------------------------

    def record(self, entry: Received) -> None:
        """Log a call to the platform."""
        self.received.append(entry)

    # -- webhooks -----------------------------------------------------------------------

    async def post_webhook(
        self, platform: str, url: str, body: bytes, headers: dict[str, str]
    ) -> int | None:
        """POST one webhook now; returns the gateway's status (``None`` if unreachable)."""
        try:
            response = await self.http.post(
                url, content=body, headers={"Content-Type": "application/json", **headers}
            )
            status: int | None = response.status_code
        except httpx.HTTPError as exc:
            log.warning("emulator.webhook_failed", platform=platform, error=type(exc).__name__)
            status = None
        self.deliveries.append(Delivery(platform, url, body, status, time.time()))
        return status

    def later(self, delay: float, step: Callable[[], Awaitable[Any]]) -> None:
        """Run ``step`` after ``delay`` seconds, in the background."""

        async def run() -> None:
            await asyncio.sleep(delay)
            try:
                await step()
            except Exception:  # a failing webhook must not take the emulator down
                log.exception("emulator.background_step_failed")

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Cancel pending webhooks and close the client."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.http.aclose()


@dataclass
class _Call:
    """What a fault decided of the HTTP call being answered."""

    answer_lost: bool = False


_CALL: contextvars.ContextVar[_Call | None] = contextvars.ContextVar("emulator_call", default=None)
LOST_ANSWER = b"<html><body><h1>502 Bad Gateway</h1></body></html>"


class LostAnswers:
    """ASGI middleware: the answer of a call that took an ``answer_lost`` fault is dropped.

    The platform's route runs to its end (the send is accepted and kept); what reaches the
    sender is a ``502 Bad Gateway`` page from the platform's edge, as when a proxy in front of
    the platform loses the connection to it after it committed.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the call; pass its answer on, or the edge's 502 if its answer was lost."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        call = _Call()
        token = _CALL.set(call)

        async def answer(message: Message) -> None:
            # The platform takes its faults before it answers: by the first byte it is known.
            if not call.answer_lost:
                await send(message)

        try:
            await self.app(scope, receive, answer)
        finally:
            _CALL.reset(token)
        if call.answer_lost:
            headers = [
                (b"content-type", b"text/html"),
                (b"content-length", b"%d" % len(LOST_ANSWER)),
            ]
            await send({"type": "http.response.start", "status": 502, "headers": headers})
            await send({"type": "http.response.body", "body": LOST_ANSWER})


class PlatformEmulator(ABC):
    """One platform's emulator: its real API routes, and its part of the control API."""

    name: ClassVar[str]
    # The error codes a fault of each kind may ask for (``Fault.code``), for platforms with
    # several answers to one kind; a kind not named here takes no code.
    fault_codes: ClassVar[dict[FaultKind, tuple[int, ...]]] = {}

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def router(self) -> APIRouter | None:
        """The platform's own API, under the emulator's prefix for it (``None`` if shared)."""
        return None

    @abstractmethod
    def register(self, payload: dict[str, Any]) -> Account:
        """Create or replace a business identity from the control API's payload.

        Raise ``ValueError`` with a readable text when the payload is incomplete.
        """

    @abstractmethod
    async def inject_inbound(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Play a user writing to an account: send the platform's webhook for it now.

        Returns what was sent (the platform's message id at least).
        """

    def accounts(self) -> dict[str, Account]:
        """This platform's registered accounts."""
        return self.state.accounts.get(self.name, {})

    def new_id(self, prefix: str) -> str:
        """A fresh platform-looking id."""
        return f"{prefix}{self.state.next_number():012d}"
