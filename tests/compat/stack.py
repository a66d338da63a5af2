"""What the dialects' process tests share: keys made over the running gateway's API, and a
session of clients to its two processes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from tests.e2e.world import Session, Stack
from tests.support import auth


def dialect_key(http: httpx.Client, stack: Stack, **body: Any) -> str:
    """A key made with ``POST /v1/keys`` (``body``: its dialect, mode, limits); its secret."""
    made = http.post("/v1/keys", json={"name": "dialect", **body}, headers=auth(stack.secret))
    assert made.status_code == 201, made.text
    secret: str = made.json()["key"]
    return secret


@asynccontextmanager
async def stack_session(stack: Stack) -> AsyncIterator[Session]:
    """Clients of the gateway and the emulator for one test."""
    async with (
        httpx.AsyncClient(base_url=stack.api_url, trust_env=False, timeout=10.0) as api,
        httpx.AsyncClient(base_url=stack.emulator_url, trust_env=False, timeout=10.0) as emulator,
    ):
        yield Session(stack, api, emulator)
