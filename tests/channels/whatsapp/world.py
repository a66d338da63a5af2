"""An in-process WhatsApp emulator and a gateway-side webhook catcher, for the tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

from chatgate.channels.base import RawRequest
from chatgate.channels.whatsapp_cloud import WhatsAppCloudAdapter, WhatsAppCredentials
from chatgate.emulators.app import control_router
from chatgate.emulators.core import EmulatorState, Timing
from chatgate.emulators.graph import graph_router
from chatgate.emulators.whatsapp import WhatsAppEmulator
from tests.channels.catcher import Catcher
from tests.channels.whatsapp import contract
from tests.support import until

WEBHOOK_URL = "http://gateway/webhooks/whatsapp"


@dataclass
class World:
    """The emulator, its control API client, an adapter pointed at it, and the catcher."""

    state: EmulatorState
    emulator: WhatsAppEmulator
    client: httpx.AsyncClient
    adapter: WhatsAppCloudAdapter
    catcher: Catcher
    transport: httpx.ASGITransport

    def http(self, timeout: float = 5.0) -> httpx.AsyncClient:
        """A client as the gateway's, whose calls reach the emulator."""
        return httpx.AsyncClient(transport=self.transport, timeout=timeout)

    async def user_writes(self, **payload: Any) -> dict[str, Any]:
        """Inject a user's message through the control API."""
        body = {"phone_number_id": contract.PHONE_NUMBER_ID, "from": contract.RECIPIENT}
        response = await self.client.post("/_emulator/whatsapp/inbound", json={**body, **payload})
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def fault(self, **fault: Any) -> None:
        """Queue a fault through the control API."""
        response = await self.client.post("/_emulator/whatsapp/faults", json=fault)
        assert response.status_code == 201, response.text

    async def webhooks(self, count: int) -> list[RawRequest]:
        """Wait until at least ``count`` webhooks arrived; all of them."""

        async def arrived() -> bool:
            return len(self.catcher.requests) >= count

        await until(arrived, limit=5.0)
        return list(self.catcher.requests)

    def adapter_with(self, **credentials: str) -> WhatsAppCloudAdapter:
        """The same adapter with some credentials changed."""
        values = {
            "access_token": contract.ACCESS_TOKEN,
            "phone_number_id": contract.PHONE_NUMBER_ID,
            "app_secret": contract.APP_SECRET,
            "verify_token": contract.VERIFY_TOKEN,
            **credentials,
        }
        return WhatsAppCloudAdapter(
            WhatsAppCredentials.model_validate(values), self.adapter.settings
        )


@asynccontextmanager
async def world(timing: Timing | None = None) -> AsyncIterator[World]:
    """A registered test number whose webhooks go to a :class:`Catcher`."""
    catcher = Catcher("/webhooks/whatsapp")
    gateway = httpx.AsyncClient(transport=httpx.ASGITransport(app=catcher.app()))
    state = EmulatorState(http=gateway)
    state.timing = timing or Timing(sent_after=0.0, delivered_after=0.01, read_after=0.02)
    emulator = WhatsAppEmulator(state)
    app = FastAPI()
    app.include_router(control_router(state, {"whatsapp": emulator}))
    app.include_router(graph_router(state, [emulator]))
    app.include_router(emulator.router())
    transport = httpx.ASGITransport(app=app)
    client = httpx.AsyncClient(transport=transport, base_url="http://emulator", timeout=5.0)
    try:
        response = await client.post(
            "/_emulator/whatsapp/accounts", json=contract.emulator_account(WEBHOOK_URL)
        )
        assert response.status_code == 201, response.text
        adapter = contract.make_adapter("http://emulator/graph")
        assert isinstance(adapter, WhatsAppCloudAdapter)
        yield World(state, emulator, client, adapter, catcher, transport)
    finally:
        await state.close()
        await client.aclose()
