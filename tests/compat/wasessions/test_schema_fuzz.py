"""Schemathesis over the dialect's own OpenAPI document (``/compat/wasessions/openapi.json``),
in-process, on each store: no 5xx, and every answer documented, in the dialect's error body.

Schema-valid data may be refused for what JSON Schema cannot say: a session or message that
does not exist (404), a session not connected (409), a number of an impossible length for
its country, or a file whose server says it is of another type or too large (400). The
account has one working session, so that a send naming none goes; the files' server is a
stand-in answering every HEAD with a small JPEG, so that no name is looked up. The page
lists no 405 (another method is 404), so the check that wants 405 is left out.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis.python import asgi

from chatgate.api.app import create_app
from chatgate.config import Settings
from chatgate.domain.dialects import Dialect
from chatgate.domain.sessions import SessionPacing
from chatgate.services.audit import Actor
from chatgate.services.sessions import Pairing, SessionService
from chatgate.storage.types import utcnow
from tests.compat.fuzz import dialect_document, dialect_test_key, fuzzed_schema
from tests.support import Tenant, auth, fuzz_settings, gateway

MOUNT = "/compat/wasessions"
BASE_URL = f"http://testserver{MOUNT}"
_CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {"expected-statuses": ["2xx", "400", "404", "409"]},
            "negative_data_rejection": {"expected-statuses": ["400", "401", "404"]},
            "unsupported_method": {"enabled": False},
        },
        "generation": {"with-security-parameters": False},
    }
)
schema = fuzzed_schema(MOUNT, _CONFIG)


async def _a_small_jpeg(request: httpx.Request) -> httpx.Response:
    """Every file's server: a small JPEG, whatever the URL."""
    return httpx.Response(200, headers={"content-type": "image/jpeg", "content-length": "2048"})


@pytest.fixture
def fuzz_app(settings: Settings) -> Iterator[FastAPI]:
    """A gateway of its own on the current store, its files' server a stand-in; schemathesis
    starts it, this stops it."""
    app = create_app(settings.model_copy(update={"worker_enabled": False}))
    gateway(app).http = httpx.AsyncClient(transport=httpx.MockTransport(_a_small_jpeg))
    yield app
    asgi.shutdown_lifespans()


@pytest.fixture
async def was_secret(app: FastAPI, tenant: Tenant) -> str:
    """A test key of the dialect, its account with one working session."""
    service: SessionService = gateway(app).sessions
    async with gateway(app).database.write() as conn:
        made = await service.create(
            conn, Actor(tenant.account_id), name="fuzz", pacing=SessionPacing(), now=utcnow()
        )
        pairing = Pairing("237612345678@s.whatsapp.net", "+237612345678", "Ada", None)
        await service.change_state(
            conn, made.id, "working", reason=None, now=utcnow(), pairing=pairing
        )
    return await dialect_test_key(app, tenant, Dialect.WASESSIONS)


def refusals_are_the_dialects(
    ctx: schemathesis.CheckContext,
    response: schemathesis.Response,
    case: schemathesis.Case[Any],
) -> None:
    """Every refusal is the dialect's body, with a status it answers."""
    if response.status_code < 400:
        return
    assert response.status_code in (400, 401, 403, 404, 409, 429), response.text
    body = response.json()
    assert set(body) == {"statusCode", "error", "code", "message", "field"}
    assert body["statusCode"] == response.status_code
    assert body["message"]


def test_the_document_is_the_dialects_own() -> None:
    document = dialect_document(MOUNT)
    assert sorted(document["paths"]) == [
        "/api/v1/keys",
        "/api/v1/keys/{id}",
        "/api/v1/messages",
        "/api/v1/messages/audio",
        "/api/v1/messages/media",
        "/api/v1/messages/{id}",
        "/api/v1/sessions",
        "/api/v1/sessions/{id}",
        "/api/v1/sessions/{id}/stream",
    ]
    sends = document["paths"]["/api/v1/messages"]["post"]["responses"]
    assert sorted(sends) == ["202", "400", "401", "403", "404", "409", "429"]
    assert document["components"]["securitySchemes"]["WaSessionsKey"]["scheme"] == "bearer"


# The stream never ends on its own: it is read in the other tests.
@schema.exclude(path="/api/v1/sessions/{id}/stream").parametrize()
@fuzz_settings(max_examples=5)
def test_every_operation_conforms_to_its_schema(
    case: schemathesis.Case[Any], fuzz_app: FastAPI, was_secret: str
) -> None:
    """Any generated request gets a documented answer in the dialect's shape, never a 5xx."""
    case.call_and_validate(
        base_url=BASE_URL,
        app=fuzz_app,
        headers=auth(was_secret),
        additional_checks=[refusals_are_the_dialects],
    )
