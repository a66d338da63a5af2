"""The platforms' emulators as the send tests drive them: in process, with a webhook catcher."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

from chatgate.channels.base import ChannelAdapter, InboundMessage, RawRequest
from chatgate.emulators.core import EmulatorState
from tests.channels.contract import PLATFORM_MESSAGE_ID, Platform
from tests.support import until


@dataclass
class Emulator:
    """A platform's emulator with the platform's test account, and the webhooks it sent."""

    platform: Platform
    client: httpx.AsyncClient
    adapter: ChannelAdapter[Any]
    webhooks: list[RawRequest]

    async def control(self, action: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Call the emulator's control API for this platform."""
        url = f"/_emulator/{self.platform.spec.platform}/{action}"
        response = await self.client.post(url, json=dict(payload))
        assert response.is_success, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def received(self) -> list[dict[str, Any]]:
        """The platform calls the emulator logged."""
        response = await self.client.get(f"/_emulator/{self.platform.spec.platform}/received")
        assert response.status_code == 200, response.text
        log: list[dict[str, Any]] = response.json()
        return log

    async def webhook(self, index: int) -> RawRequest:
        """The ``index``-th webhook the emulator sent, once it arrived."""

        async def arrived() -> bool:
            return len(self.webhooks) > index

        await until(arrived, limit=5.0)
        return self.webhooks[index]

    async def user_writes(self) -> str:
        """The test user writes first; the platform's id of that message, as parsed."""
        if not self.platform.spec.inbound:
            # Nobody can write to this business: sends go without a first message.
            return PLATFORM_MESSAGE_ID
        count = len(self.webhooks)
        await self.control("inbound", self.platform.spec.user_writes)
        hook = await self.webhook(count)
        self.adapter.verify(hook)
        messages = [e for e in self.adapter.parse(hook) if isinstance(e, InboundMessage)]
        assert len(messages) == 1, messages
        return messages[0].provider_message_id


@dataclass
class EmulatorApp:
    """The emulator app of the module, its state, and the webhooks it posted."""

    state: EmulatorState
    app: FastAPI
    webhooks: list[RawRequest]
