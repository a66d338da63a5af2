"""The fixture of the SDK tests: the Telegram emulator served on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.channels.telegram.served import Served, served


@pytest.fixture
async def emulator() -> AsyncIterator[Served]:
    """The emulator with the test bot, and a user who started it."""
    async with served() as running:
        await running.user_writes(text="/start")
        yield running
