"""Fixtures shared by the channel tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from tests.channels.sdk import ServedEmulator, served_emulator


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def sdk_emulator() -> AsyncIterator[ServedEmulator]:
    """The emulator and its webhook catcher on loopback, one for each test module that asks
    (its tests run in the module's loop: ``pytest.mark.asyncio(loop_scope="module")``)."""
    async with served_emulator() as served:
        yield served
