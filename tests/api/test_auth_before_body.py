"""A route that takes a key authenticates it before anything reads or parses the body.

The requests here go to the application as ASGI calls whose ``receive`` counts what it
hands over, so that "not read" is observed rather than inferred from the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from chatgate.api.app import ROUTE_MODULES
from chatgate.api.auth import takes_key
from chatgate.domain.keys import KeyMode
from tests.support import Tenant, auth, make_key

MIB = 1024 * 1024
# Several MiB each, under the 8 MiB cap, and neither of them readable as JSON.
UNCLOSED = b'{"pad": "' + b"x" * (6 * MIB)
DEEP = b"[" * (3 * MIB) + b"]" * (3 * MIB)
UNKNOWN_KEY = "Bearer cg_live_" + "x" * 43
JSON = {"content-type": "application/json"}


@dataclass
class Answer:
    """What the application answered, and how many body messages it asked for."""

    status: int
    body: dict[str, Any]
    pulled: int


async def call(
    app: FastAPI, method: str, path: str, headers: dict[str, str], chunks: list[bytes]
) -> Answer:
    """One request as an ASGI call; ``chunks`` is the body, with a length declared when it
    is a single piece (otherwise sent as of no declared length)."""
    if len(chunks) == 1:
        headers = {**headers, "content-length": str(len(chunks[0]))}
    pending = list(chunks)
    pulled = 0

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        body = pending.pop(0) if pending else b""
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(name.lower().encode(), value.encode()) for name, value in headers.items()],
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    [start] = [message for message in sent if message["type"] == "http.response.start"]
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return Answer(start["status"], orjson.loads(body), pulled)


def _body_routes() -> list[Any]:
    """Every (method, path) of the API whose route takes a key and a body; path parameters
    get a placeholder, as nothing looks at them before the key."""
    found = []
    for module in ROUTE_MODULES:
        for route in module.router.routes:
            if isinstance(route, APIRoute) and route.body_field is not None and takes_key(route):
                path = re.sub(r"\{[^}]+\}", "x", route.path)
                for method in sorted(route.methods & {"POST", "PUT", "PATCH"}):
                    found.append(pytest.param(method, path, id=f"{method} {route.path}"))
    return found


def assert_unauthenticated(answer: Answer) -> None:
    """A 401 in the envelope, given before a byte of the body was asked for."""
    assert answer.status == 401, answer.body
    assert answer.body["error"]["code"] == "unauthenticated"
    assert answer.body["error"]["field"] == "Authorization"
    assert answer.pulled == 0


def test_the_routes_with_a_body_are_found() -> None:
    routes = {param.id for param in _body_routes()}
    assert {"POST /v1/messages", "POST /v1/keys", "PATCH /v1/contacts/{contact_id}"} <= routes
    assert not any("/inbound/" in route for route in routes)


@pytest.mark.parametrize(("method", "path"), _body_routes())
async def test_a_missing_or_unknown_key_is_401_before_the_body_is_read(
    app: FastAPI, method: str, path: str
) -> None:
    for headers in ({}, {"authorization": UNKNOWN_KEY}):
        for body in (UNCLOSED, DEEP):
            assert_unauthenticated(await call(app, method, path, {**JSON, **headers}, [body]))


async def test_a_revoked_key_is_401_before_the_body_is_read(app: FastAPI, tenant: Tenant) -> None:
    key_id, secret = await make_key(app, tenant.account_id, KeyMode.TEST)
    revoked = await call(app, "DELETE", f"/v1/keys/{key_id}", auth(tenant.test), [b""])
    assert revoked.status == 200
    answer = await call(app, "POST", "/v1/messages", {**JSON, **auth(secret)}, [UNCLOSED])
    assert_unauthenticated(answer)


async def test_a_body_of_no_declared_length_is_not_read_for_an_unknown_key(
    app: FastAPI,
) -> None:
    pieces = [UNCLOSED[start : start + MIB] for start in range(0, len(UNCLOSED), MIB)]
    for path in ("/v1/messages", "/v1/contacts"):
        headers = {**JSON, "authorization": UNKNOWN_KEY}
        assert_unauthenticated(await call(app, "POST", path, headers, pieces))


async def test_with_a_valid_key_the_same_bodies_are_read_and_refused_as_json(
    app: FastAPI, tenant: Tenant
) -> None:
    for path in ("/v1/messages", "/v1/keys"):
        for body in (UNCLOSED, DEEP):
            answer = await call(app, "POST", path, {**JSON, **auth(tenant.test)}, [body])
            assert answer.status == 400, answer.body
            assert answer.body["error"]["code"] == "invalid_json"
            assert answer.pulled >= 1


async def test_size_and_media_type_come_before_the_key(app: FastAPI) -> None:
    """Both are decided from the headers alone, without reading the body."""
    too_large = await call(app, "POST", "/v1/messages", JSON, [b"x" * (9 * MIB)])
    assert (too_large.status, too_large.pulled) == (413, 0)
    not_json = await call(app, "POST", "/v1/messages", {"content-type": "text/plain"}, [DEEP])
    assert (not_json.status, not_json.pulled) == (415, 0)
