"""Fixtures of the gateway tests that run sessions on the emulated WhatsApp Web."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from chatgate.config import Settings
from chatgate.emulators.app import create_emulator_app
from tests.channels.whatsapp_web.support import CONTROL, FAST
from tests.support import served_in_this_loop, settings_for
from tests.webhooks.receiver import Receiver, serving_receiver


@pytest.fixture
async def emulator_url() -> AsyncIterator[str]:
    """The emulators on a loopback port, with fast receipts and codes that last a while."""
    async with served_in_this_loop(create_emulator_app()) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            timing = {**FAST, "qr_interval": 2.0}
            assert (await http.put(f"{CONTROL}/settings", json=timing)).status_code == 200
        yield url


@pytest.fixture
async def phone(emulator_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the emulator's control API: the phone's side."""
    async with httpx.AsyncClient(base_url=emulator_url) as http:
        yield http


@pytest.fixture
def settings(database_url: str, emulator_url: str) -> Settings:
    """A gateway whose worker runs sessions on the emulated driver, and whose webhooks may
    reach a receiver on loopback."""
    return settings_for(
        database_url,
        whatsapp_web_driver="emulated",
        whatsapp_web_emulator_url=emulator_url,
        allow_private_webhooks=True,
    )


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A customer's webhook receiver on a loopback port."""
    async with serving_receiver() as serving:
        yield serving
