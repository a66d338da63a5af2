"""The emulator fixtures of the contract suite's send tests: in process, and on loopback."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import uvicorn

from chatgate.channels.base import RawRequest
from chatgate.emulators.app import create_emulator_app
from chatgate.emulators.core import EmulatorState, Timing
from tests.channels.contract import Platform
from tests.channels.test_contract.harness import Emulator, EmulatorApp
from tests.channels.test_contract.suite import EMULATOR, GATEWAY, adapter_for


@pytest.fixture(scope="module")
def emulator_app() -> Iterator[EmulatorApp]:
    """Every platform's emulator in one app, built once: building it is the slow part."""
    webhooks: list[RawRequest] = []

    async def catch(request: httpx.Request) -> httpx.Response:
        headers = {name.lower(): value for name, value in request.headers.items()}
        webhooks.append(RawRequest("POST", str(request.url), headers, {}, await request.aread()))
        return httpx.Response(200)

    state = EmulatorState(http=httpx.AsyncClient(transport=httpx.MockTransport(catch)))
    yield EmulatorApp(state, create_emulator_app(state), webhooks)
    asyncio.run(state.close())


@pytest.fixture
async def emu(platform: Platform, emulator_app: EmulatorApp) -> AsyncIterator[Emulator]:
    """The platform's emulator as new, with the test account, reached over ASGI."""
    emulator_app.state.reset()
    emulator_app.webhooks.clear()
    # Receipts would come in the background; the tests that want a webhook ask for one.
    emulator_app.state.timing = Timing(sent_after=None, delivered_after=None, read_after=None)
    transport = httpx.ASGITransport(app=emulator_app.app)
    async with httpx.AsyncClient(transport=transport, base_url=EMULATOR, timeout=5.0) as client:
        emulator = Emulator(platform, client, adapter_for(platform), emulator_app.webhooks)
        webhook_url = f"{GATEWAY}/{platform.spec.platform}"
        await emulator.control(
            "accounts", {**platform.spec.emulator_account, "webhook_url": webhook_url}
        )
        yield emulator


@pytest.fixture(scope="module")
def emulator_server() -> Iterator[str]:
    """The emulator app served on a free loopback port for the module; its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    host, port = sock.getsockname()
    config = uvicorn.Config(
        create_emulator_app(),
        log_level="warning",
        lifespan="on",
        # A hung request ends by itself within the test's hang; this only bounds a stuck one.
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10.0
    while not server.started:
        assert thread.is_alive(), "the emulator stopped while starting"
        assert time.monotonic() < deadline, "the emulator did not start in time"
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10.0)
        sock.close()
