"""An in-process Messenger or Instagram emulator and a webhook catcher, for the tests.

Both platforms' tests use it: :data:`MESSENGER` and :data:`INSTAGRAM` say what differs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

from chatgate.channels.base import RawRequest
from chatgate.channels.meta_messaging import MetaMessagingAdapter
from chatgate.emulators.app import control_router
from chatgate.emulators.core import EmulatorState, Timing
from chatgate.emulators.graph import graph_router
from chatgate.emulators.instagram import InstagramEmulator
from chatgate.emulators.messenger import MessengerEmulator
from chatgate.emulators.meta_messaging import MetaMessagingEmulator
from tests.channels.catcher import Catcher
from tests.channels.instagram import contract as instagram
from tests.channels.messenger import contract as messenger
from tests.support import until

WEBHOOK_PATH = "/webhooks/meta"


@dataclass(frozen=True)
class Platform:
    """One of the two platforms, as the tests drive it."""

    name: str
    emulator: type[MetaMessagingEmulator]
    # The key naming the business account in control-API payloads, and its value.
    id_field: str
    account_id: str
    user: str
    emulator_account: Callable[[str | None], dict[str, str]]
    make_adapter: Callable[[str], Any]


MESSENGER = Platform(
    name="messenger",
    emulator=MessengerEmulator,
    id_field="page_id",
    account_id=messenger.PAGE_ID,
    user=messenger.PSID,
    emulator_account=messenger.emulator_account,
    make_adapter=messenger.make_adapter,
)
INSTAGRAM = Platform(
    name="instagram",
    emulator=InstagramEmulator,
    id_field="ig_user_id",
    account_id=instagram.IG_USER_ID,
    user=instagram.IGSID,
    emulator_account=instagram.emulator_account,
    make_adapter=instagram.make_adapter,
)


@dataclass
class World:
    """The emulator, a client on it, an adapter pointed at it, and the catcher."""

    platform: Platform
    state: EmulatorState
    client: httpx.AsyncClient
    adapter: MetaMessagingAdapter[Any]
    catcher: Catcher

    async def inbound(self, **payload: Any) -> dict[str, Any]:
        """The user writes (through the control API); the emulator's answer."""
        base = {self.platform.id_field: self.platform.account_id, "from": self.platform.user}
        response = await self.client.post(
            f"/_emulator/{self.platform.name}/inbound", json={**base, **payload}
        )
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def fault(self, **fault: Any) -> None:
        """Queue a fault through the control API."""
        response = await self.client.post(f"/_emulator/{self.platform.name}/faults", json=fault)
        assert response.status_code == 201, response.text

    async def webhooks(self, count: int) -> list[RawRequest]:
        """Wait until at least ``count`` webhooks arrived; all of them."""

        async def arrived() -> bool:
            return len(self.catcher.requests) >= count

        await until(arrived, limit=5.0)
        return list(self.catcher.requests)

    async def graph(self, body: Any, *, token: str | None = None) -> httpx.Response:
        """A raw Send API call, as any client could make it."""
        account = self.platform.emulator_account(None)
        secret = (
            token
            if token is not None
            else next(v for k, v in account.items() if k.endswith("access_token"))
        )
        return await self.client.post(
            f"/graph/v21.0/{self.platform.account_id}/messages",
            json=body,
            headers={"Authorization": f"Bearer {secret}"},
        )

    def user_wrote_ago(self, seconds: float) -> None:
        """Pretend the user's last message is ``seconds`` old."""
        key = (self.platform.name, self.platform.account_id, self.platform.user)
        self.state.last_inbound[key] -= seconds


@asynccontextmanager
async def world(platform: Platform, timing: Timing | None = None) -> AsyncIterator[World]:
    """A registered account whose webhooks go to a :class:`Catcher`."""
    catcher = Catcher(WEBHOOK_PATH)
    gateway = httpx.AsyncClient(transport=httpx.ASGITransport(app=catcher.app()))
    state = EmulatorState(http=gateway)
    state.timing = timing or Timing(sent_after=None, delivered_after=0.01, read_after=0.02)
    emulator = platform.emulator(state)
    app = FastAPI()
    app.include_router(control_router(state, {platform.name: emulator}))
    app.include_router(graph_router(state, [emulator]))
    app.include_router(emulator.router())
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://emulator", timeout=5.0
    )
    try:
        account = {
            **platform.emulator_account(f"http://gateway{WEBHOOK_PATH}"),
            "public_url": "http://emulator",
        }
        response = await client.post(f"/_emulator/{platform.name}/accounts", json=account)
        assert response.status_code == 201, response.text
        adapter = platform.make_adapter("http://emulator/graph")
        assert isinstance(adapter, MetaMessagingAdapter)
        yield World(platform, state, client, adapter, catcher)
    finally:
        await state.close()
        await client.aclose()
