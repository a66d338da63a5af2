"""A customer's webhook receiver for tests: records every delivery, answers as scripted."""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from standardwebhooks.webhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support import served_in_this_loop


@dataclass(frozen=True)
class Received:
    """One delivery as the receiver got it."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float


def verify_officially(secret: str, received: Received) -> Any:
    """Check a delivery with the official ``standardwebhooks`` package; its parsed body.

    The package also refuses timestamps more than 5 minutes from the real clock: a delivery
    signed on a test's fake clock has its signature checked with the package's own signer.
    """
    webhook = Webhook(secret)
    stamp = int(received.headers["webhook-timestamp"])
    if abs(time.time() - stamp) <= 240:
        return webhook.verify(received.body, received.headers)
    expected = webhook.sign(
        received.headers["webhook-id"], datetime.fromtimestamp(stamp, UTC), received.body.decode()
    )
    assert expected in received.headers["webhook-signature"].split(" ")
    return json.loads(received.body)


@dataclass(frozen=True)
class Answer:
    """How to answer one request."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    # Hold the answer until this is set (a slow receiver).
    hold: asyncio.Event | None = None


@dataclass
class Receiver:
    """Answers POSTs to any path: scripted answers first (per path), then 200."""

    base_url: str = ""
    received: list[Received] = field(default_factory=list)
    script: dict[str, list[Answer]] = field(default_factory=lambda: defaultdict(list))
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str) -> str:
        """The full URL of ``path`` on this receiver."""
        return f"{self.base_url}{path}"

    def at(self, path: str) -> list[Received]:
        """What arrived at ``path``, in order."""
        return [r for r in self.received if r.path == path]

    async def wait_for(self, path: str, count: int, limit: float = 15.0) -> list[Received]:
        """Wait until ``count`` deliveries have arrived at ``path``."""
        async with asyncio.timeout(limit):
            while len(self.at(path)) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.at(path)

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        path = request.url.path
        self.received.append(Received(path, dict(request.headers), body, time.monotonic()))
        self.arrived.set()
        answer = self.script[path].pop(0) if self.script[path] else Answer()
        if answer.hold is not None:
            await answer.hold.wait()
        return Response(b"ok", status_code=answer.status, headers=answer.headers)

    def app(self) -> Starlette:
        """The receiving app."""
        return Starlette(routes=[Route("/{path:path}", self._handle, methods=["POST"])])


@asynccontextmanager
async def serving_receiver() -> AsyncIterator[Receiver]:
    """A receiver on a free loopback port, in this event loop."""
    receiver = Receiver()
    async with served_in_this_loop(receiver.app()) as base_url:
        receiver.base_url = base_url
        yield receiver
