"""An in-process Telegram emulator with the test bot, and a catcher for its webhooks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

from chatgate.channels.base import OutboundMessage, RawRequest
from chatgate.channels.telegram import TelegramAdapter
from chatgate.emulators.app import control_router
from chatgate.emulators.core import EmulatorState
from chatgate.emulators.telegram import TelegramEmulator
from tests.channels.catcher import Catcher
from tests.channels.telegram import contract
from tests.support import until

WEBHOOK_URL = "http://gateway/webhooks/telegram"
API_BASE = "http://emulator/telegram"
BOT_API = f"/telegram/bot{contract.BOT_TOKEN}"


@dataclass
class World:
    """The emulator, a client of it, the test bot's adapter, and the webhook catcher."""

    state: EmulatorState
    client: httpx.AsyncClient
    adapter: TelegramAdapter
    catcher: Catcher

    async def user_writes(self, **payload: Any) -> dict[str, Any]:
        """Inject an update from the test user through the control API."""
        body = {"bot_token": contract.BOT_TOKEN, "chat_id": contract.USER_ID, **payload}
        response = await self.client.post("/_emulator/telegram/inbound", json=body)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def fault(self, **fault: Any) -> None:
        """Queue a fault through the control API."""
        response = await self.client.post("/_emulator/telegram/faults", json=fault)
        assert response.status_code == 201, response.text

    async def call(self, method: str, **params: Any) -> httpx.Response:
        """Call a Bot API method of the test bot with a JSON body."""
        return await self.client.post(f"{BOT_API}/{method}", json=params)

    async def send(self, content: dict[str, Any], reply_to: str | None = None) -> str:
        """Send ``content`` to the test user through the adapter; the provider id."""
        message = OutboundMessage(
            id="msg_01TEST",
            channel="telegram",
            sender=None,
            recipient=contract.USER_ID,
            content=content,
            reply_to=reply_to,
            metadata=None,
        )
        result = await self.adapter.send(self.adapter.build_request(message), self.client)
        return result.provider_message_id

    async def webhooks(self, count: int) -> list[RawRequest]:
        """Wait until at least ``count`` webhooks arrived; all of them."""

        async def arrived() -> bool:
            return len(self.catcher.requests) >= count

        await until(arrived, limit=5.0)
        return list(self.catcher.requests)


@asynccontextmanager
async def world(**account: Any) -> AsyncIterator[World]:
    """The test bot registered (webhook to a :class:`Catcher` unless told otherwise)."""
    catcher = Catcher("/webhooks/telegram")
    state = EmulatorState(http=httpx.AsyncClient(transport=httpx.ASGITransport(catcher.app())))
    emulator = TelegramEmulator(state)
    app = FastAPI()
    app.include_router(control_router(state, {"telegram": emulator}))
    app.include_router(emulator.router())
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://emulator", timeout=5.0
    )
    try:
        payload = {**contract.emulator_account(WEBHOOK_URL), **account}
        response = await client.post("/_emulator/telegram/accounts", json=payload)
        assert response.status_code == 201, response.text
        adapter = contract.make_adapter(API_BASE)
        assert isinstance(adapter, TelegramAdapter)
        yield World(state, client, adapter, catcher)
    finally:
        await state.close()
        await client.aclose()
