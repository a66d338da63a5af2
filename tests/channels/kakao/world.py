"""An in-process NHN Cloud Kakao emulator with the test app, and a catcher for its webhooks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

from chatgate.channels.base import OutboundMessage, RawRequest, SendResult
from chatgate.channels.kakao import KakaoAdapter
from chatgate.emulators.app import control_router
from chatgate.emulators.core import EmulatorState, LostAnswers, Timing
from chatgate.emulators.kakao import KakaoEmulator
from tests.channels.catcher import Catcher
from tests.channels.kakao import contract
from tests.support import until

WEBHOOK_URL = "http://gateway/webhooks/kakao"
API_BASE = "http://emulator/kakao"
ALIMTALK = f"/kakao/alimtalk/v2.3/appkeys/{contract.APP_KEY}"
BRAND = f"/kakao/brand-message/v1.0/appkeys/{contract.APP_KEY}"


def outbound(
    content: dict[str, Any],
    *,
    options: dict[str, Any] | None = None,
    recipient: str = contract.RECIPIENT,
    message_id: str = "msg_01TEST",
) -> OutboundMessage:
    """A message to the test user as the adapter sees it."""
    return OutboundMessage(
        id=message_id,
        channel="kakao",
        sender=None,
        recipient=recipient,
        content=content,
        reply_to=None,
        metadata=None,
        options=options or {},
    )


@dataclass
class World:
    """The emulator, a client of it, the test app's adapter, and the webhook catcher."""

    state: EmulatorState
    client: httpx.AsyncClient
    adapter: KakaoAdapter
    catcher: Catcher

    async def fault(self, **fault: Any) -> None:
        """Queue a fault through the control API."""
        response = await self.client.post("/_emulator/kakao/faults", json=fault)
        assert response.status_code == 201, response.text

    async def send(self, message: OutboundMessage) -> SendResult:
        """Send through the adapter."""
        return await self.adapter.send(self.adapter.build_request(message), self.client)

    async def received(self) -> list[dict[str, Any]]:
        """The calls the emulator logged."""
        response = await self.client.get("/_emulator/kakao/received")
        assert response.status_code == 200
        found: list[dict[str, Any]] = response.json()
        return found

    async def webhooks(self, count: int) -> list[RawRequest]:
        """Wait until at least ``count`` webhooks arrived; all of them."""

        async def arrived() -> bool:
            return len(self.catcher.requests) >= count

        await until(arrived, limit=5.0)
        return list(self.catcher.requests)


@asynccontextmanager
async def world(*, webhook: bool = True, **account: Any) -> AsyncIterator[World]:
    """The test app registered (results posted to a :class:`Catcher` unless ``webhook`` is
    false: then only the result query tells)."""
    catcher = Catcher("/webhooks/kakao")
    state = EmulatorState(http=httpx.AsyncClient(transport=httpx.ASGITransport(catcher.app())))
    state.timing = Timing(sent_after=None, delivered_after=0.0, read_after=None)
    emulator = KakaoEmulator(state)
    app = FastAPI()
    app.add_middleware(LostAnswers)
    app.include_router(control_router(state, {"kakao": emulator}))
    app.include_router(emulator.router())
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://emulator", timeout=5.0
    )
    try:
        payload = {**contract.emulator_account(WEBHOOK_URL if webhook else None), **account}
        response = await client.post("/_emulator/kakao/accounts", json=payload)
        assert response.status_code == 201, response.text
        adapter = contract.make_adapter(API_BASE, result_poll_seconds=1.0)
        assert isinstance(adapter, KakaoAdapter)
        yield World(state, client, adapter, catcher)
    finally:
        await state.close()
        await client.aclose()
