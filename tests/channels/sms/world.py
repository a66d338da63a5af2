"""An in-process Twilio emulator with the test number, and a catcher for its webhooks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

from chatgate.channels.base import OutboundMessage, RawRequest
from chatgate.channels.sms import SmsAdapter
from chatgate.channels.sms_twilio_wire import form_params
from chatgate.emulators.app import control_router
from chatgate.emulators.core import EmulatorState, Timing
from chatgate.emulators.twilio import TwilioEmulator
from tests.channels.catcher import Catcher
from tests.channels.sms import contract
from tests.support import until

API_BASE = "http://emulator/twilio"
MESSAGES = f"/twilio/2010-04-01/Accounts/{contract.ACCOUNT_SID}/Messages.json"
AUTH = (contract.ACCOUNT_SID, contract.AUTH_TOKEN)


@dataclass
class World:
    """The emulator, a client of it, the test number's adapter, and the webhook catcher."""

    state: EmulatorState
    client: httpx.AsyncClient
    adapter: SmsAdapter
    catcher: Catcher

    async def user_writes(self, **payload: Any) -> dict[str, Any]:
        """The test user texts the number through the control API."""
        body = {"to": contract.FROM_NUMBER, "from": contract.USER_NUMBER, **payload}
        response = await self.client.post("/_emulator/sms/inbound", json=body)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def fault(self, **fault: Any) -> None:
        """Queue a fault through the control API."""
        response = await self.client.post("/_emulator/sms/faults", json=fault)
        assert response.status_code == 201, response.text

    async def create(self, form: dict[str, Any], auth: Any = AUTH) -> httpx.Response:
        """``POST Messages.json`` with ``form``, authenticated as the test account."""
        return await self.client.post(MESSAGES, data=form, auth=auth)

    async def send(self, content: dict[str, Any], recipient: str = contract.USER_NUMBER) -> str:
        """Send ``content`` through the adapter; the message's sid."""
        message = OutboundMessage(
            id="msg_01TEST",
            channel="sms",
            sender=None,
            recipient=recipient,
            content=content,
            reply_to=None,
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


def params_of(request: RawRequest) -> dict[str, str]:
    """A webhook's form parameters."""
    return dict(form_params(request.body))


@asynccontextmanager
async def world(timing: Timing | None = None) -> AsyncIterator[World]:
    """The test number registered, its webhooks (and status callbacks) to a catcher."""
    catcher = Catcher("/webhooks/sms")
    state = EmulatorState(http=httpx.AsyncClient(transport=httpx.ASGITransport(catcher.app())))
    state.timing = timing or Timing(sent_after=None, delivered_after=None, read_after=None)
    emulator = TwilioEmulator(state)
    app = FastAPI()
    app.include_router(control_router(state, {"sms": emulator}))
    app.include_router(emulator.router())
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://emulator", timeout=5.0
    )
    try:
        account = {**contract.SPEC.emulator_account, "webhook_url": contract.INBOUND_URL}
        response = await client.post("/_emulator/sms/accounts", json=account)
        assert response.status_code == 201, response.text
        adapter = contract.make_adapter(API_BASE)
        assert isinstance(adapter, SmsAdapter)
        yield World(state, client, adapter, catcher)
    finally:
        await state.close()
        await client.aclose()
