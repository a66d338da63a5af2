"""Per-key rate limits: headers on every response, 429 with Retry-After, shared via Redis."""

from __future__ import annotations

import time

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from chatgate.api.app import create_app
from chatgate.config import Settings
from chatgate.domain.keys import KeyMode
from tests.api.test_validation import assert_envelope
from tests.conftest import REDIS_URL
from tests.support import Tenant, auth, make_key


def _headers_consistent(response: httpx.Response, limit: int, remaining: int) -> None:
    headers = response.headers
    assert headers["X-RateLimit-Limit"] == str(limit)
    assert headers["X-RateLimit-Remaining"] == str(remaining)
    reset = int(headers["X-RateLimit-Reset"])
    assert time.time() - 1 <= reset <= time.time() + 61
    assert headers["RateLimit-Policy"] == f'"per-key";q={limit};w=60'
    assert headers["RateLimit"].startswith(f'"per-key";r={remaining};t=')


async def test_limit_headers_and_429(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    _, secret = await make_key(app, tenant.account_id, KeyMode.TEST, rate_limit=3)
    for remaining in (2, 1, 0):
        response = await client.get("/v1/account", headers=auth(secret))
        assert response.status_code == 200
        _headers_consistent(response, 3, remaining)
    refused = await client.get("/v1/account", headers=auth(secret))
    assert_envelope(refused, 429, "rate_limited", None)
    _headers_consistent(refused, 3, 0)
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # Errors after authentication carry the headers too, and other keys are unaffected.
    assert (await client.get("/v1/account", headers=auth(tenant.test))).status_code == 200


async def test_the_default_unlimited_plan_sets_no_rate(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    _, secret = await make_key(app, tenant.account_id, KeyMode.TEST, rate_limit=None)
    account = await client.get("/v1/account", headers=auth(secret))
    assert account.json()["plan"] == {
        "name": "unlimited",
        "rate_limit": None,
        "daily_messages": None,
        "sessions": None,
    }
    for _ in range(61):  # past the 60 a minute that used to apply
        response = await client.get("/v1/account", headers=auth(secret))
        assert response.status_code == 200, response.text
    assert "X-RateLimit-Limit" not in response.headers  # no limit to state


async def test_an_operator_may_set_a_rate_for_plans_without_one(
    settings: Settings, tenant: Tenant, app: FastAPI
) -> None:
    _, secret = await make_key(app, tenant.account_id, KeyMode.TEST, rate_limit=None)
    limited = create_app(
        settings.model_copy(update={"default_rate_limit": 2, "worker_enabled": False})
    )
    transport = httpx.ASGITransport(app=limited)
    async with (
        LifespanManager(limited),
        httpx.AsyncClient(transport=transport, base_url="http://gateway") as client,
    ):
        answers = [await client.get("/v1/account", headers=auth(secret)) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[0].headers["X-RateLimit-Limit"] == "2"


@pytest.mark.skipif(not REDIS_URL, reason="set CHATGATE_TEST_REDIS_URL=redis://127.0.0.1:6379/0")
async def test_redis_shares_the_limit_between_processes(
    settings: Settings, tenant: Tenant, app: FastAPI
) -> None:
    shared = settings.model_copy(update={"redis_url": REDIS_URL, "worker_enabled": False})
    first, second = create_app(shared), create_app(shared)
    async with LifespanManager(first), LifespanManager(second):
        _, secret = await make_key(app, tenant.account_id, KeyMode.TEST, rate_limit=4)
        statuses = []
        for target in (first, second, first, second, first):
            transport = httpx.ASGITransport(app=target)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                statuses.append((await http.get("/v1/account", headers=auth(secret))).status_code)
    assert statuses == [200, 200, 200, 200, 429]
