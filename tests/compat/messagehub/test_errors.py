"""Every status MessageHub's page lists, reached on purpose, in its error body; and its
rate-limit headers on every answer, refusals and unauthenticated ones included."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from ipaddress import ip_network

import httpx
import pytest
from fastapi import FastAPI

from chatgate.compat.messagehub import routes
from chatgate.compat.messagehub.errors import vendor_status
from chatgate.domain.dialects import Dialect
from chatgate.domain.keys import KeyMode
from tests.compat.messagehub.conftest import BASE, hub_post
from tests.support import Tenant, auth, make_key, until

SEND = {"to": "+14155550123", "channel": "sms", "content": "hi"}


def _rate_limit_headers(answer: httpx.Response) -> tuple[int, int, int]:
    headers = answer.headers
    limit = int(headers["X-RateLimit-Limit"])
    remaining = int(headers["X-RateLimit-Remaining"])
    reset = int(headers["X-RateLimit-Reset"])
    # Unix seconds, within the coming minute, as the page's example.
    assert time.time() - 1 <= reset <= time.time() + 61
    return limit, remaining, reset


def _error(answer: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "field"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    _rate_limit_headers(answer)
    error: dict[str, object] = body["error"]
    return error


async def test_400_invalid_parameters(client: httpx.AsyncClient, hub_key: str) -> None:
    error = _error(
        await hub_post(client, hub_key, "messages/send", {**SEND, "channel": "fax"}),
        400,
        "invalid_request",
    )
    assert error["field"] == "channel"
    not_json = await client.post(
        f"{BASE}/messages/send",
        content=b"{not json",
        headers={**auth(hub_key), "Content-Type": "application/json"},
    )
    assert _error(not_json, 400, "invalid_json")["field"] == "body"
    form = await client.post(
        f"{BASE}/messages/send",
        content=b"to=1",
        headers={**auth(hub_key), "Content-Type": "application/x-www-form-urlencoded"},
    )
    _error(form, 400, "unsupported_media_type")


async def test_401_invalid_or_missing_key(
    client: httpx.AsyncClient, tenant: Tenant, hub_key: str
) -> None:
    missing = await client.post(f"{BASE}/messages/send", json=SEND)
    assert "cpk_live_" in str(_error(missing, 401, "unauthenticated")["message"])
    invalid = await hub_post(client, "cpk_live_not_a_key", "messages/send", SEND)
    _error(invalid, 401, "unauthenticated")
    # A native key opens the native API only; a MessageHub key the dialect only.
    native = await hub_post(client, tenant.live, "messages/send", SEND)
    _error(native, 401, "unauthenticated")
    on_native = await client.get("/v1/messages", headers=auth(hub_key))
    assert on_native.status_code == 401


async def test_403_revoked_key_or_insufficient_scope(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    reader_id, reader = await make_key(
        app,
        tenant.account_id,
        KeyMode.TEST,
        dialect=Dialect.MESSAGEHUB,
        scopes=frozenset({"messages:read"}),
    )
    scope = await hub_post(client, reader, "messages/send", SEND)
    assert "messages:send" in str(_error(scope, 403, "insufficient_scope")["message"])
    distribute = {"content": "x", "recipients": [{"to": "+14155550123", "channel": "sms"}]}
    _error(
        await hub_post(client, reader, "content/distribute", distribute), 403, "insufficient_scope"
    )
    revoked = await client.delete(f"/v1/keys/{reader_id}", headers=auth(tenant.test))
    assert revoked.status_code == 200, revoked.text
    answers: list[httpx.Response] = []

    async def refused() -> bool:
        # The key cache learns of the revocation within its refresh period.
        answers.append(await client.get(f"{BASE}/messages/msg_x", headers=auth(reader)))
        return answers[-1].status_code != 404

    await until(refused)
    assert _error(answers[-1], 403, "key_revoked")["field"] == "Authorization"


async def test_403_from_outside_the_keys_ip_allowlist(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    _, fenced = await make_key(
        app,
        tenant.account_id,
        KeyMode.LIVE,
        dialect=Dialect.MESSAGEHUB,
        ip_allowlist=(ip_network("203.0.113.0/24"),),
    )
    _error(await hub_post(client, fenced, "messages/send", SEND), 403, "ip_not_allowed")


async def test_404_resource_does_not_exist(client: httpx.AsyncClient, hub_key: str) -> None:
    _error(await client.get(f"{BASE}/nothing/here", headers=auth(hub_key)), 404, "not_found")
    # A method the path does not have: the page lists no 405, so 404 with Allow.
    wrong = await client.get(f"{BASE}/messages/send", headers=auth(hub_key))
    _error(wrong, 404, "method_not_allowed")
    assert wrong.headers["allow"] == "POST"


async def test_429_rate_limited_with_its_headers(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    _, slow = await make_key(
        app, tenant.account_id, KeyMode.TEST, dialect=Dialect.MESSAGEHUB, rate_limit=3
    )
    answers = [await hub_post(client, slow, "messages/send", SEND) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [_rate_limit_headers(a)[:2] for a in answers] == [(3, 2), (3, 1), (3, 0), (3, 0)]
    _error(answers[3], 429, "rate_limited")
    assert int(answers[3].headers["Retry-After"]) >= 1


@pytest.fixture
async def lenient_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client that gets the 500 answer instead of the app's exception."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def test_500_server_error_when_something_breaks(
    lenient_client: httpx.AsyncClient, hub_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the store went away")  # a fault only this test makes

    monkeypatch.setattr(routes.message_service, "get_message", broken)
    answer = await lenient_client.get(
        f"{BASE}/messages/msg_01JD5Z6Q2N3F4X8Y9Z0A1B2C3D", headers=auth(hub_key)
    )
    error = _error(answer, 500, "internal_error")
    assert "store" not in str(error["message"])  # the cause is logged, not shown


async def test_every_answer_carries_the_rate_limit_headers(
    client: httpx.AsyncClient, hub_key: str
) -> None:
    keyed = await client.get(f"{BASE}/messages/msg_x", headers=auth(hub_key))
    assert _rate_limit_headers(keyed)[0] == 100_000  # the key's own limit
    # Without a valid key, the source address's: 60 a minute, each request counted.
    first = await client.get(f"{BASE}/messages/msg_x")
    second = await client.get("/compat/messagehub/openapi.json")
    third = await client.post(f"{BASE}/webhooks/delivery")
    limits = [_rate_limit_headers(a) for a in (first, second, third)]
    assert [limit for limit, _, _ in limits] == [60, 60, 60]
    remaining = [left for _, left, _ in limits]
    assert remaining[0] > remaining[1] > remaining[2]


async def test_the_pages_plans_set_a_keys_limit(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    _, admin = await make_key(app, tenant.account_id, KeyMode.LIVE, scopes=frozenset({"admin"}))
    _, planned = await make_key(
        app, tenant.account_id, KeyMode.TEST, dialect=Dialect.MESSAGEHUB, rate_limit=None
    )
    for plan, per_minute in (("free", 60), ("pro", 600), ("enterprise", 6000)):
        changed = await client.patch(
            f"/v1/admin/accounts/{tenant.account_id}", json={"plan": plan}, headers=auth(admin)
        )
        assert changed.status_code == 200, changed.text

        async def limited(per_minute: int = per_minute) -> bool:
            # Keys are cached: the plan shows once the cache has been refreshed.
            answer = await client.get(f"{BASE}/messages/msg_x", headers=auth(planned))
            return _rate_limit_headers(answer)[0] == per_minute

        await until(limited)


def test_statuses_the_page_does_not_list_map_to_the_nearest_listed() -> None:
    mapped = {status: vendor_status(status) for status in (402, 405, 409, 413, 415, 422, 502, 503)}
    assert mapped == {
        402: 403,
        405: 404,
        409: 400,
        413: 400,
        415: 400,
        422: 400,
        502: 500,
        503: 500,
    }
    assert all(vendor_status(status) == status for status in (400, 401, 403, 404, 429, 500))


async def test_guessing_keys_from_one_address_is_429_past_its_limit(
    client: httpx.AsyncClient,
) -> None:
    answers = [
        await hub_post(client, f"cpk_live_guess{attempt}", "messages/send", SEND)
        for attempt in range(61)
    ]
    assert {answer.status_code for answer in answers[:60]} == {401}
    assert [_rate_limit_headers(answer)[:2] for answer in answers[:2]] == [(60, 59), (60, 58)]
    _error(answers[60], 429, "rate_limited")
    assert int(answers[60].headers["Retry-After"]) >= 1
