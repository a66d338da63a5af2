"""Bad input is 400 naming the field, in the dialect's one error body; scopes are 403; the
plan's sessions are 429; the session a send names must exist, be one, and be connected."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chatgate.domain.dialects import Dialect
from chatgate.domain.keys import KeyMode
from tests.compat.wasessions.conftest import (
    BASE,
    PHONE,
    Files,
    create_session,
    refused,
    working_session,
)
from tests.support import Tenant, auth, make_key, make_tenant, settings_for

TEXT = {"to": PHONE, "message": "Hello!"}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/messages", {"message": "Hello!"}, "to"),
        ("/messages", {"to": PHONE}, "message"),
        ("/messages", {**TEXT, "message": ""}, "message"),
        ("/messages", {**TEXT, "to": "hello"}, "to"),
        ("/messages", {**TEXT, "to": "+2376"}, "to"),
        ("/messages", {**TEXT, "mesage": "typo"}, "mesage"),
        ("/messages", {**TEXT, "sessionId": "my-session"}, "sessionId"),
        ("/messages/media", {"to": PHONE, "mediaUrl": "https://x.test/a.jpg"}, "mediaType"),
        (
            "/messages/media",
            {"to": PHONE, "mediaUrl": "https://x.test/a.pdf", "mediaType": "document"},
            "mediaType",
        ),
        (
            "/messages/media",
            {"to": PHONE, "mediaUrl": "ftp://x/a.jpg", "mediaType": "image"},
            "mediaUrl",
        ),
        ("/messages/audio", {"to": PHONE, "audioUrl": "https://x.test/v.ogg", "ptt": "yes"}, "ptt"),
        ("/messages/audio", {"to": PHONE}, "audioUrl"),
        ("/sessions", {}, "session_key"),
        ("/sessions", {"session_key": ""}, "session_key"),
        ("/sessions", {"session_key": "a\nb"}, "session_key"),
        ("/sessions", {"session_key": "desk", "name": "desk"}, "name"),
        ("/keys", {"name": ""}, "name"),
    ],
)
async def test_bad_bodies_are_400_naming_the_field(
    app: FastAPI,
    client: httpx.AsyncClient,
    was_test: str,
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    await working_session(app, client, was_test)
    answer = await client.post(f"{BASE}{path}", json=body, headers=auth(was_test))
    refused(answer, 400, answer.json()["code"], field)


async def test_a_body_that_is_not_json_is_400(client: httpx.AsyncClient, was_test: str) -> None:
    answer = await client.post(
        f"{BASE}/messages",
        content=b'{"to": ',
        headers={**auth(was_test), "Content-Type": "application/json"},
    )
    refused(answer, 400, "invalid_json", None)


async def test_a_send_names_one_session_at_most(
    app: FastAPI, client: httpx.AsyncClient, was_test: str
) -> None:
    session = await working_session(app, client, was_test)
    both = {**TEXT, "session": "my-session", "sessionId": session["id"]}
    answer = await client.post(f"{BASE}/messages", json=both, headers=auth(was_test))
    refused(answer, 400, "invalid_request", "sessionId")


async def test_with_several_working_sessions_the_oldest_sends_unless_one_is_named(
    app: FastAPI, client: httpx.AsyncClient, was_test: str
) -> None:
    first = await working_session(app, client, was_test, "first")
    second = await working_session(app, client, was_test, "second")

    async def sent_from(extra: dict[str, Any]) -> str:
        answer = await client.post(
            f"{BASE}/messages", json={**TEXT, **extra}, headers=auth(was_test)
        )
        assert answer.status_code == 202, answer.text
        shown = await client.get(f"{BASE}/messages/{answer.json()['id']}", headers=auth(was_test))
        session: str = shown.json()["sessionId"]
        return session

    assert await sent_from({}) == first["id"]
    assert await sent_from({"session": "second"}) == second["id"]
    assert await sent_from({"session": second["id"]}) == second["id"]
    assert await sent_from({"sessionId": second["id"]}) == second["id"]


@pytest.mark.parametrize("scope", ["messages:read", "messages:send"])
async def test_a_key_without_the_scope_is_403(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, scope: str
) -> None:
    _, narrow = await make_key(
        app, tenant.account_id, KeyMode.TEST, dialect=Dialect.WASESSIONS, scopes=frozenset({scope})
    )
    for method, path in (("GET", "/sessions"), ("POST", "/keys")):
        answer = await client.request(method, f"{BASE}{path}", json={}, headers=auth(narrow))
        refused(answer, 403, "insufficient_scope", None)
    other = "/messages" if scope == "messages:read" else "/messages/x"
    denied = await client.request(
        "POST" if other == "/messages" else "GET",
        f"{BASE}{other}",
        json=TEXT,
        headers=auth(narrow),
    )
    refused(denied, 403, "insufficient_scope", None)


async def test_another_accounts_sessions_and_messages_are_not_found(
    app: FastAPI, client: httpx.AsyncClient, was_test: str
) -> None:
    session = await working_session(app, client, was_test)
    sent = await client.post(f"{BASE}/messages", json=TEXT, headers=auth(was_test))
    stranger = await make_tenant(app)
    _, theirs = await make_key(app, stranger.account_id, KeyMode.TEST, dialect=Dialect.WASESSIONS)
    for path in (f"/sessions/{session['id']}", f"/messages/{sent.json()['id']}"):
        refused(await client.get(f"{BASE}{path}", headers=auth(theirs)), 404, "not_found", "id")
    named = {**TEXT, "sessionId": session["id"]}
    answer = await client.post(f"{BASE}/messages", json=named, headers=auth(theirs))
    refused(answer, 404, "not_found", "sessionId")


@pytest.fixture
def settings(database_url: str) -> Any:
    """New accounts are on the free plan: 10 sessions."""
    return settings_for(database_url, default_plan="free")


async def test_the_free_plan_holds_10_sessions(
    client: httpx.AsyncClient, was_test: str, tenant: Tenant
) -> None:
    for number in range(10):
        await create_session(client, was_test, f"session-{number}")
    over = await client.post(
        f"{BASE}/sessions", json={"session_key": "eleventh"}, headers=auth(was_test)
    )
    body = refused(over, 429, "session_limit_reached", None)
    assert "10 sessions" in body["message"]
    assert "retry-after" not in over.headers  # time does not lift it
    # Natively too.
    native = await client.post("/v1/sessions", json={"name": "eleventh"}, headers=auth(tenant.live))
    assert (native.status_code, native.json()["error"]["code"]) == (429, "session_limit_reached")
    # Deleting one makes room.
    listed = await client.get(f"{BASE}/sessions", headers=auth(was_test))
    first = listed.json()["data"][0]["id"]
    assert (
        await client.delete(f"{BASE}/sessions/{first}", headers=auth(was_test))
    ).status_code == 204
    await create_session(client, was_test, "eleventh")


async def test_a_file_is_not_asked_for_when_the_session_cannot_send(
    app: FastAPI, client: httpx.AsyncClient, was_test: str, files: Files
) -> None:
    await create_session(client, was_test)
    body = {"to": PHONE, "mediaUrl": files.url("photo.jpg"), "mediaType": "image"}
    answer = await client.post(f"{BASE}/messages/media", json=body, headers=auth(was_test))
    refused(answer, 409, "session_not_connected", "session")
    assert files.server.requests == []


async def test_a_repeated_idempotency_key_answers_the_same_message(
    app: FastAPI, client: httpx.AsyncClient, was_test: str
) -> None:
    await working_session(app, client, was_test)
    headers = {**auth(was_test), "Idempotency-Key": "order-1042"}
    first = await client.post(f"{BASE}/messages", json=TEXT, headers=headers)
    again = await client.post(f"{BASE}/messages", json=TEXT, headers=headers)
    assert (first.status_code, again.status_code) == (202, 202)
    assert first.json() == again.json()
    listed = await client.get(f"{BASE}/messages", headers=auth(was_test))
    assert [m["id"] for m in listed.json()["data"]] == [first.json()["id"]]


async def test_another_method_is_404_saying_which_are_allowed(
    client: httpx.AsyncClient, was_test: str
) -> None:
    answer = await client.put(f"{BASE}/sessions", json={}, headers=auth(was_test))
    refused(answer, 404, "method_not_allowed", None)
    assert answer.headers["allow"] == "GET, POST"


async def test_an_id_holding_a_newline_is_the_dialects_404(
    client: httpx.AsyncClient, was_test: str
) -> None:
    answer = await client.get(f"{BASE}/sessions/a%0Ab", headers=auth(was_test))
    refused(answer, 404, "not_found", "id")
