"""Helpers for tests: accounts with keys, auth headers, waiting for a status."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from httpx_sse import aconnect_sse
from hypothesis import HealthCheck, Phase, settings

from chatgate.api.state import Gateway
from chatgate.config import Settings
from chatgate.crypto import CredentialBox, new_key
from chatgate.domain.keys import KeyMode
from chatgate.domain.records import Message
from chatgate.domain.status import PROGRESS, Status, has_reached
from chatgate.services.accounts import create_account
from chatgate.services.audit import Actor
from chatgate.services.channels import ChannelService
from chatgate.services.keys import KeySpec, create_key
from chatgate.storage.types import utcnow

# One key for every test process, so that gateways of one test share credentials.
TEST_SECRET_KEY = new_key()


def settings_for(database_url: str, **overrides: object) -> Settings:
    """Settings for tests: fast sandbox receipts, fast key refresh, unpaced sandbox."""
    values: dict[str, object] = {
        "database_url": database_url,
        "sandbox_delivered_after": 0.05,
        "sandbox_read_after": 0.15,
        "key_cache_refresh_seconds": 0.1,
        "worker_poll_seconds": 0.2,
        # Pacing has tests of its own; elsewhere a burst should not wait for a platform's rate.
        "sandbox_pacing": False,
        "secret_key": TEST_SECRET_KEY,
        "log_level": "warning",
        # The emulators and mock platforms of the tests listen on loopback.
        "allow_private_api_base": True,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Tenant:
    """An account and the secrets of its keys."""

    account_id: str
    live: str
    test: str


def gateway(app: FastAPI) -> Gateway:
    """The gateway behind ``app``."""
    found: Gateway = app.state.gateway
    return found


def auth(secret: str) -> dict[str, str]:
    """The header that authenticates with ``secret``."""
    return {"Authorization": f"Bearer {secret}"}


async def make_key(app: FastAPI, account_id: str, mode: KeyMode, **spec: Any) -> tuple[str, str]:
    """A key on ``account_id``; returns ``(id, secret)``."""
    values: dict[str, Any] = {
        "name": "test",
        "mode": mode,
        "scopes": frozenset({"*"}),
        "rate_limit": 100_000,
    }
    values.update(spec)
    async with gateway(app).database.write() as conn:
        key, secret = await create_key(conn, Actor(account_id), KeySpec(**values))
    return key.id, secret


async def make_tenant(app: FastAPI) -> Tenant:
    """A fresh account with one live and one test key."""
    account = await create_account(gateway(app).database, f"acct-{uuid.uuid4().hex[:12]}")
    _, live = await make_key(app, account.id, KeyMode.LIVE)
    _, test = await make_key(app, account.id, KeyMode.TEST)
    return Tenant(account.id, live, test)


def queued_sms(account_id: str, text: str) -> Message:
    """A new outbound SMS of a test key, queued: for tests that write to the store directly."""
    return Message.new(
        account_id=account_id,
        mode=KeyMode.TEST,
        direction="outbound",
        channel="sms",
        sender=None,
        recipient="+14155550123",
        content={"type": "text", "text": text},
        status=Status.QUEUED,
        at=utcnow(),
    )


def text_message(to: str = "+14155550123", text: str = "hello", **extra: Any) -> dict[str, Any]:
    """A text message body for ``POST /v1/messages``."""
    return {"channel": "sms", "to": to, "content": {"type": "text", "text": text}, **extra}


async def wait_for_status(
    client: httpx.AsyncClient, secret: str, message_id: str, wanted: str, limit: float = 10.0
) -> dict[str, Any]:
    """Poll the message until it has reached ``wanted``; fail after ``limit`` seconds.

    "Reached" counts a later step too (``read`` has passed ``delivered``): a poll can miss
    a status that lasts only as long as the sandbox's delay between receipts.
    """
    goal = Status(wanted)
    async with asyncio.timeout(limit):
        while True:
            response = await client.get(f"/v1/messages/{message_id}", headers=auth(secret))
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            status = Status(body["status"])
            if status is goal or (goal in PROGRESS and has_reached(status, goal)):
                return body
            await asyncio.sleep(0.02)


async def until(condition: Callable[[], Awaitable[bool]], limit: float = 10.0) -> None:
    """Poll ``condition`` until it holds; fail after ``limit`` seconds."""
    async with asyncio.timeout(limit):
        while True:
            if await condition():
                return
            await asyncio.sleep(0.01)


def channel_service() -> ChannelService:
    """A channel service with a throwaway key, for tests that accept messages directly."""
    return ChannelService(CredentialBox([new_key()]), "http://127.0.0.1:8000")


@asynccontextmanager
async def served_in_this_loop(app: Any) -> AsyncIterator[str]:
    """``app`` served by uvicorn on a free loopback port, in this event loop; its base URL.

    For tests that need a real socket: the in-process transport cannot stream, and the
    webhook sender calls the address it checked.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    host, port = sock.getsockname()
    server = uvicorn.Server(
        uvicorn.Config(app, lifespan="off", log_level="warning", timeout_graceful_shutdown=1)
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    async with asyncio.timeout(10):
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
            await asyncio.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


# Server-Sent Events as read: (id, event, data).
SseSeen = list[tuple[str | None, str, dict[str, Any]]]


async def read_sse(
    http: httpx.AsyncClient,
    path: str,
    secret: str,
    count: int,
    last: str | None = None,
    found: SseSeen | None = None,
) -> SseSeen:
    """The first ``count`` events of the stream at ``path`` (into ``found`` as they come, if
    given), resumed after ``last`` when given; fails after 15 seconds or an early end."""
    headers = {**auth(secret), **({"Last-Event-ID": last} if last else {})}
    found = [] if found is None else found
    async with asyncio.timeout(15), aconnect_sse(http, "GET", path, headers=headers) as source:
        assert source.response.status_code == 200
        async for sse in source.aiter_sse():
            found.append((sse.id or None, sse.event, json.loads(sse.data)))
            if len(found) == count:
                return found
    raise AssertionError("the stream ended early")


def fuzz_settings(max_examples: int) -> Any:
    """Hypothesis settings of the schemathesis fuzz tests.

    No shrinking: each example is a full request, so shrinking a failure can take minutes;
    schemathesis reports every failure with a curl command that reproduces it. No example
    database: every run draws fresh cases.
    """
    return settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate, Phase.target],
    )
