"""The dialect layer: a dialect's app under /compat/, its keys, its errors, its schema.

A toy dialect (one keyed route and the vendor-style error body ``{"ok": false, "error"}``)
stands for any of them, so that what the layer guarantees is tested once, apart from what
each dialect translates.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from chatgate.api.app import create_app
from chatgate.config import Settings
from chatgate.domain.dialects import Dialect
from chatgate.domain.keys import KeyMode
from tests.compat.toy import TOY
from tests.support import Tenant, auth, make_key


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings, dialects=[TOY])
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def toy_secret(app: FastAPI, tenant: Tenant) -> str:
    _, secret = await make_key(
        app, tenant.account_id, KeyMode.LIVE, dialect=Dialect.THIKAA, rate_limit=None
    )
    return secret


async def test_a_dialect_key_has_its_vendors_prefix_and_works_on_its_routes(
    client: httpx.AsyncClient, toy_secret: str
) -> None:
    assert toy_secret.startswith("tk_live_")
    answer = await client.post(
        "/compat/thikaa/acme/echo", json={"text": "شكراً 🌹"}, headers=auth(toy_secret)
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["text"] == "شكراً 🌹"
    assert answer.headers["X-Request-ID"].startswith("req_")
    assert answer.headers["X-RateLimit-Limit"] == "2"  # the dialect's default limit


async def test_each_kind_of_key_opens_only_its_own_api(
    client: httpx.AsyncClient, tenant: Tenant, toy_secret: str
) -> None:
    native_on_dialect = await client.post(
        "/compat/thikaa/acme/echo", json={"text": "x"}, headers=auth(tenant.live)
    )
    assert native_on_dialect.status_code == 401
    assert native_on_dialect.json() == {
        "ok": False,
        "error": {
            "code": "unauthenticated",
            "message": "this is a native API (cg_…) key; these routes take a thikaa API key",
        },
    }
    dialect_on_native = await client.get("/v1/messages", headers=auth(toy_secret))
    assert dialect_on_native.status_code == 401
    assert dialect_on_native.json()["error"]["field"] == "Authorization"
    missing = await client.post("/compat/thikaa/acme/echo", json={"text": "x"})
    assert missing.status_code == 401
    assert "tk_live_" in missing.json()["error"]["message"]


async def test_refusals_leave_in_the_dialects_shape(
    client: httpx.AsyncClient, toy_secret: str
) -> None:
    headers = auth(toy_secret)
    invalid = await client.post("/compat/thikaa/acme/echo", json={"txt": "x"}, headers=headers)
    assert invalid.status_code == 400
    assert invalid.json()["ok"] is False
    assert invalid.json()["error"]["code"] == "invalid_request"
    wrong_method = await client.get("/compat/thikaa/acme/echo", headers=headers)
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "POST"
    assert wrong_method.json()["ok"] is False
    not_json = await client.post(
        "/compat/thikaa/acme/echo",
        content=b"text=x",
        headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert not_json.status_code == 415
    assert not_json.json()["error"]["code"] == "unsupported_media_type"


async def test_an_unauthenticated_body_is_never_read(client: httpx.AsyncClient) -> None:
    answer = await client.post(
        "/compat/thikaa/acme/echo",
        content=b"{" * 100_000,
        headers={"Content-Type": "application/json", "Authorization": "Bearer tk_live_nope"},
    )
    assert answer.status_code == 401  # not 400: the broken body was not parsed


async def test_the_rate_limit_answers_in_the_dialects_shape(
    client: httpx.AsyncClient, toy_secret: str
) -> None:
    answers = [
        await client.post("/compat/thikaa/acme/echo", json={"text": "x"}, headers=auth(toy_secret))
        for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert int(answers[2].headers["Retry-After"]) >= 1
    assert answers[2].json()["error"]["code"] == "rate_limited"


async def test_the_dialect_has_its_own_openapi_document(client: httpx.AsyncClient) -> None:
    own = (await client.get("/compat/thikaa/openapi.json")).json()
    assert own["info"]["title"] == "Toy"
    assert "/{account}/echo" in own["paths"]
    # The toy answers bad input 400, never 422: its document lists no 422.
    assert "422" not in own["paths"]["/{account}/echo"]["post"]["responses"]
    native = (await client.get("/openapi.json")).json()
    assert not any(path.startswith("/compat") or "echo" in path for path in native["paths"])
