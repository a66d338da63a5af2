"""The end-to-end fixtures: one ``serve`` and one ``emulate`` per test module."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.e2e.world import Session, Stack, running_stack, session_on


@pytest.fixture(scope="module")
def stack(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
) -> Iterator[Stack]:
    """One ``serve`` and one ``emulate`` for the module, every platform connected."""
    folder = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    with running_stack(folder, sqlite_template) as running:
        yield running


@pytest.fixture
async def session(stack: Stack) -> AsyncIterator[Session]:
    """Clients of both processes for one test."""
    async with session_on(stack) as session:
        yield session
