"""The send lane answers ``POST /v1/messages`` exactly as the routed request would.

Two gateways on one store, one with the lane and one without, get the same requests; their
answers must be the same, but for the ids and times each request makes anew.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from chatgate.api.app import create_app
from chatgate.domain.keys import KeyMode
from tests.support import Tenant, auth, make_key, make_tenant, settings_for, text_message

# Values each request makes anew: ids and timestamps.
_FRESH = re.compile(r"^(msg|req|evt)_[0-9A-Za-z]+$|^\d{4}-\d\d-\d\dT")
# Headers whose values must agree (present on one answer means present on the other).
_COMPARED_HEADERS = (
    "content-type",
    "www-authenticate",
    "retry-after",
    "idempotency-replayed",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "allow",
)


@dataclass
class Pair:
    """A client of the gateway with the lane and one of the gateway without it."""

    lane: httpx.AsyncClient
    routed: httpx.AsyncClient
    apps: tuple[FastAPI, FastAPI]
    tenant: Tenant
    read_only: str

    @property
    def clients(self) -> tuple[httpx.AsyncClient, httpx.AsyncClient]:
        return self.lane, self.routed


@pytest.fixture
async def pair(database_url: str) -> AsyncIterator[Pair]:
    settings = settings_for(database_url, worker_enabled=False)
    async with AsyncExitStack() as stack:
        clients = []
        apps = []
        for direct_send in (True, False):
            app = create_app(settings, direct_send=direct_send)
            await stack.enter_async_context(LifespanManager(app))
            transport = httpx.ASGITransport(app=app)
            client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
            clients.append(await stack.enter_async_context(client))
            apps.append(app)
        tenant = await make_tenant(apps[0])
        _, read_only = await make_key(
            apps[0], tenant.account_id, KeyMode.TEST, scopes=frozenset({"messages:read"})
        )
        yield Pair(clients[0], clients[1], (apps[0], apps[1]), tenant, read_only)


def _normal(value: Any) -> Any:
    """``value`` with what each request makes anew blanked out."""
    if isinstance(value, dict):
        return {name: _normal(item) for name, item in value.items()}
    if isinstance(value, list):
        return [_normal(item) for item in value]
    if isinstance(value, str) and _FRESH.match(value):
        return "<fresh>"
    return value


def _answer(response: httpx.Response) -> tuple[int, dict[str, str], Any]:
    headers = {
        name: response.headers[name] for name in _COMPARED_HEADERS if name in response.headers
    }
    if "x-ratelimit-remaining" in headers:  # each gateway counts its own requests
        headers["x-ratelimit-remaining"] = "<counted>"
    body = _normal(response.json())
    if "retry-after" in headers:  # the wait left shrinks between the two gateways' requests
        seconds = headers["retry-after"]
        assert 1 <= int(seconds) <= 60
        headers["retry-after"] = "<wait>"
        error = body["error"]
        error["message"] = error["message"].replace(f"retry in {seconds} s", "retry in <wait> s")
    return response.status_code, headers, body


async def _both(pair: Pair, content: bytes, headers: dict[str, str]) -> list[Any]:
    answers = []
    for client in pair.clients:
        response = await client.post("/v1/messages", content=content, headers=headers)
        assert response.headers["X-Request-ID"].startswith("req_")
        answers.append(_answer(response))
    return answers


def _json(body: Any) -> bytes:
    return json.dumps(body).encode()


JSON = {"Content-Type": "application/json"}
SENDABLE = _json(text_message())


UNREADABLE = (b"{", b"\xff\xfe", b"[" * 5000 + b"]" * 5000)


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        # Who is calling comes first: a body that is not JSON is not looked at without a key.
        *((body, JSON) for body in UNREADABLE),
        (SENDABLE, JSON),
        (SENDABLE, {**JSON, "Authorization": "Basic dXNlcjpwYXNz"}),
        (SENDABLE, {**JSON, "Authorization": "Bearer"}),
        (b"{", {**JSON, "Authorization": "Bearer cg_test_unknown"}),
        (SENDABLE, {**JSON, "Authorization": "Bearer cg_test_unknown"}),
        (SENDABLE, {**JSON, "Authorization": "Bearer not-a-key"}),
    ],
)
async def test_refusals_of_the_key(pair: Pair, content: bytes, headers: dict[str, str]) -> None:
    lane, routed = await _both(pair, content, headers)
    assert lane[0] == 401
    assert lane == routed


@pytest.mark.parametrize("content", UNREADABLE)
async def test_with_a_key_a_body_that_is_not_json_is_400(pair: Pair, content: bytes) -> None:
    for secret in (pair.tenant.test, pair.read_only):  # before the key's scope is checked
        lane, routed = await _both(pair, content, {**JSON, **auth(secret)})
        assert lane[0] == 400
        assert lane == routed


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b"", 422),
        (b"null", 422),
        (b"[]", 422),
        (b'"text"', 422),
        (_json({**text_message(), "to": "14155550123"}), 422),
        (_json({**text_message(), "content": {"type": "hologram"}}), 422),
        (_json({**text_message(), "content": {"type": "text"}}), 422),
        (_json({**text_message(), "colour": "blue"}), 422),
        (_json({**text_message(), "channel": "pigeon"}), 422),
        (_json({**text_message(), "schedule_at": "tomorrow"}), 422),
        (_json({**text_message(), "channel": "auto"}), 422),
        (_json({**text_message(), "fallback": [{"channel": "email"}]}), 422),
        (_json({**text_message(), "content": {"type": "template", "name": "x"}}), 422),
        (SENDABLE, 202),
        (_json({**text_message(text="👋" * 10), "metadata": {"order": 7}}), 202),
    ],
)
async def test_validation_and_sends(pair: Pair, content: bytes, status: int) -> None:
    lane, routed = await _both(pair, content, {**JSON, **auth(pair.tenant.test)})
    assert lane[0] == status
    assert lane == routed


async def test_scope_and_channel_refusals(pair: Pair) -> None:
    lane, routed = await _both(pair, SENDABLE, {**JSON, **auth(pair.read_only)})
    assert lane[0] == 403
    assert lane == routed
    # A live key with no SMS channel configured.
    lane, routed = await _both(pair, SENDABLE, {**JSON, **auth(pair.tenant.live)})
    assert lane[0] == 422
    assert lane == routed


async def test_idempotency_key_header(pair: Pair) -> None:
    headers = {**JSON, **auth(pair.tenant.test)}
    # The header's error comes before the body's.
    lane, routed = await _both(pair, b"[]", {**headers, "Idempotency-Key": "k" * 256})
    assert lane[0] == 422
    assert lane[2]["error"]["field"] == "Idempotency-Key"
    assert lane == routed
    # A first request and its replay; each gateway gets a key of its own.
    answers = []
    for name, client in zip(("lane", "routed"), pair.clients, strict=True):
        keyed = {**headers, "Idempotency-Key": f"order-{name}"}
        first = await client.post("/v1/messages", content=SENDABLE, headers=keyed)
        again = await client.post("/v1/messages", content=SENDABLE, headers=keyed)
        changed = await client.post(
            "/v1/messages", content=_json(text_message(text="other")), headers=keyed
        )
        assert first.json()["id"] == again.json()["id"]
        answers.append([_answer(first), _answer(again), _answer(changed)])
    assert [status for status, _, _ in answers[0]] == [202, 202, 422]
    assert answers[0][1][1]["idempotency-replayed"] == "true"
    assert answers[0] == answers[1]


async def test_rate_limit(pair: Pair) -> None:
    """Each gateway counts its own requests: a key each, limited to one a minute."""
    answers = []
    for client, app in zip(pair.clients, pair.apps, strict=True):
        _, secret = await make_key(app, pair.tenant.account_id, KeyMode.TEST, rate_limit=1)
        headers = {**JSON, **auth(secret)}
        first = await client.post("/v1/messages", content=SENDABLE, headers=headers)
        second = await client.post("/v1/messages", content=SENDABLE, headers=headers)
        answers.append([_answer(first), _answer(second)])
    assert [status for status, _, _ in answers[0]] == [202, 429]
    assert answers[0] == answers[1]


async def test_other_methods_and_paths_are_routed(pair: Pair) -> None:
    headers = auth(pair.tenant.test)
    for client in pair.clients:
        wrong = await client.put("/v1/messages", json=text_message(), headers=headers)
        assert wrong.status_code == 405
        assert wrong.headers["allow"] == "GET, POST"
        listed = await client.get("/v1/messages", headers=headers)
        assert listed.status_code == 200
        batch = await client.post(
            "/v1/messages/batch", json={"messages": [text_message()]}, headers=headers
        )
        assert batch.status_code == 202
