"""The running stack of the process tests: ``chatgate serve`` and ``chatgate emulate``, every
platform connected, and MessageHub keys (live and test) on its account."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.compat.stack import dialect_key
from tests.e2e.world import Session, Stack, running_stack, session_on


@dataclass(frozen=True)
class Hub:
    """The running stack, MessageHub's base URL on it and the keys of the dialect."""

    stack: Stack
    base: str
    live: str
    test: str
    native_test: str


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Hub]:
    """One ``serve`` and one ``emulate`` for the module; MessageHub keys live and test."""
    with running_stack(tmp_path_factory.mktemp("messagehub"), sqlite_template) as stack:
        with httpx.Client(base_url=stack.api_url, trust_env=False, timeout=10.0) as http:
            live = dialect_key(http, stack, dialect="messagehub", rate_limit=100_000)
            test = dialect_key(http, stack, dialect="messagehub", mode="test", rate_limit=100_000)
            native_test = dialect_key(http, stack, mode="test")
        assert live.startswith("cpk_live_")
        assert test.startswith("cpk_test_")
        yield Hub(stack, f"{stack.api_url}/compat/messagehub/api/v1", live, test, native_test)


@pytest.fixture
async def session(hub: Hub) -> AsyncIterator[Session]:
    """Clients of both processes for one test."""
    async with session_on(hub.stack) as opened:
        yield opened
