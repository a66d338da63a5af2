"""The emulator on a loopback port for the platforms' own SDKs, and a catcher of its webhooks.

The SDKs open their own connections, so the emulator is served by uvicorn in the test's
loop; the webhooks it sends go to a catcher served the same way, where a test takes them
raw (bytes and headers) to hand to the SDK's own signature check and parser. Most SDKs
block: a test runs their calls with :func:`blocking`, in a thread, while the loop serves.

One emulator serves a whole test module (serving one costs about half a second: the
``sdk_emulator`` fixture); each test starts from :meth:`ServedEmulator.fresh`: nothing
registered, no webhook caught, and no status webhooks unless the test asks for them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from chatgate.channels.base import ChannelAdapter, RawRequest, UnsupportedContent
from chatgate.emulators.app import create_emulator_app
from tests.channels import contract
from tests.channels.catcher import Catcher
from tests.support import served_in_this_loop, until

HOOK_PATH = "/hooks"
T = TypeVar("T")


async def blocking(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking SDK call in a thread, so that the emulator in this loop answers it."""
    return await asyncio.to_thread(call, *args, **kwargs)


def sendable_cases(adapter: ChannelAdapter[Any], recipient: str) -> list[str]:
    """The contract suite's sample contents ``adapter`` sends (it refuses the others)."""
    cases = []
    for case in contract.CASES:
        try:
            adapter.build_request(contract.outbound(case, recipient))
        except UnsupportedContent:
            continue
        cases.append(case)
    return cases


@dataclass
class ServedEmulator:
    """``chatgate emulate``'s app on loopback, its control API, and where its webhooks land."""

    base_url: str
    hook_url: str
    control: httpx.AsyncClient
    catcher: Catcher

    async def fresh(self) -> None:
        """Forget every account, call, fault and webhook; send no status webhooks."""
        response = await self.control.post("/_emulator/reset")
        assert response.status_code == 204, response.text
        await self.timing(sent_after=None, delivered_after=None, read_after=None)
        self.catcher.requests.clear()

    async def timing(self, **timing: float | None) -> None:
        """When status webhooks follow an accepted send (seconds; ``None``: never)."""
        response = await self.control.put("/_emulator/timing", json=timing)
        assert response.status_code == 200, response.text

    async def register(self, platform: str, account: dict[str, Any]) -> None:
        """Register a business identity on ``platform``."""
        response = await self.control.post(f"/_emulator/{platform}/accounts", json=account)
        assert response.status_code == 201, response.text

    async def fault(self, platform: str, **fault: Any) -> None:
        """Queue a fault for the next sends on ``platform``."""
        response = await self.control.post(f"/_emulator/{platform}/faults", json=fault)
        assert response.status_code == 201, response.text

    async def user(self, platform: str, **payload: Any) -> tuple[dict[str, Any], RawRequest]:
        """A user does something on ``platform``: the control API's answer and the webhook."""
        count = len(self.catcher.requests)
        response = await self.control.post(f"/_emulator/{platform}/inbound", json=payload)
        assert response.status_code == 200, response.text
        return response.json(), await self.webhook(count)

    async def webhook(self, index: int) -> RawRequest:
        """The ``index``-th webhook the emulator sent (counting from 0), once it came."""

        async def arrived() -> bool:
            return len(self.catcher.requests) > index

        await until(arrived, limit=5.0)
        return self.catcher.requests[index]

    async def received(self, platform: str) -> list[dict[str, Any]]:
        """The calls the platform received, as its log has them."""
        log: list[dict[str, Any]] = (
            await self.control.get(f"/_emulator/{platform}/received")
        ).json()
        return log


@asynccontextmanager
async def served_emulator() -> AsyncIterator[ServedEmulator]:
    """The emulator and a webhook catcher, each on a free loopback port, for one test."""
    catcher = Catcher(HOOK_PATH)
    async with AsyncExitStack() as stack:
        catcher_url = await stack.enter_async_context(served_in_this_loop(catcher.app()))
        emulator = create_emulator_app()
        base_url = await stack.enter_async_context(served_in_this_loop(emulator))
        # The app's lifespan is off when served here: its state is closed by hand.
        stack.push_async_callback(emulator.state.emulator.close)
        control = await stack.enter_async_context(
            httpx.AsyncClient(base_url=base_url, timeout=10.0)
        )
        yield ServedEmulator(base_url, catcher_url + HOOK_PATH, control, catcher)
