"""Liveness and readiness."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.support import gateway


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ok"}


async def test_readyz_fails_when_the_store_is_gone(client: httpx.AsyncClient, app: FastAPI) -> None:
    await gateway(app).database.engine.dispose()
    original = gateway(app).database.ping

    async def broken() -> None:
        raise ConnectionError("store unreachable")

    gateway(app).database.ping = broken  # type: ignore[method-assign]
    try:
        response = await client.get("/readyz")
    finally:
        gateway(app).database.ping = original  # type: ignore[method-assign]
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
