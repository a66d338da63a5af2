"""Schemathesis over MessageHub's own OpenAPI document (``/compat/messagehub/openapi.json``),
in-process, on each store: no 5xx, and every answer documented and true to its schema.

As for the native document (``tests/api/test_schema_fuzz.py``), schema-valid data may be
refused when a rule JSON Schema cannot express refuses it (a real phone number for
``sms``, a conversation the user must have opened); MessageHub answers those 400, the only
refusal of input its page lists. And it lists no 405: a method a path does not have is its
404 (with ``Allow``), so schemathesis' ``unsupported_method`` check, which wants 405, is
left out.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, settings
from schemathesis.python import asgi
from starlette.routing import Mount

from chatgate.api.app import create_app
from chatgate.config import Settings
from chatgate.domain.dialects import Dialect
from chatgate.domain.keys import KeyMode
from tests.compat.messagehub.page import ALIMTALK_PARAMETERS, BRAND_TEXT
from tests.support import Tenant, auth, make_key, settings_for

BASE_URL = "http://testserver/compat/messagehub"
ACCEPTED = ["2xx", "400", "401", "403", "404", "429", "5xx"]
_SCHEMA_ONLY = create_app(settings_for("sqlite:///schema-only-never-opened.db"))


def _dialect_document(app: FastAPI) -> dict[str, Any]:
    [mount] = [
        route
        for route in app.routes
        if isinstance(route, Mount) and route.path == "/compat/messagehub"
    ]
    assert isinstance(mount.app, FastAPI)
    return mount.app.openapi()


async def _no_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Stands in for the app until a test names its own: reaching it is a harness bug."""
    raise AssertionError("a schemathesis request went out without app=fuzz_app")


_CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {"expected-statuses": ACCEPTED},
            "unsupported_method": {"enabled": False},
        },
        "generation": {"with-security-parameters": False},
    }
)
schema = schemathesis.openapi.from_dict(_dialect_document(_SCHEMA_ONLY), config=_CONFIG)
schema.app = _no_app


@pytest.fixture
def fuzz_app(settings: Settings) -> Iterator[FastAPI]:
    """A gateway of its own on the current store; schemathesis starts it, this stops it."""
    yield create_app(settings)
    asgi.shutdown_lifespans()


@pytest.fixture
async def hub_secret(app: FastAPI, tenant: Tenant) -> str:
    """A MessageHub test key of every scope, stored before schemathesis' gateway starts."""
    _, secret = await make_key(app, tenant.account_id, KeyMode.TEST, dialect=Dialect.MESSAGEHUB)
    return secret


def test_the_document_is_messagehubs_own() -> None:
    document = _dialect_document(_SCHEMA_ONLY)
    assert set(document["paths"]) == {
        "/api/v1/messages/send",
        "/api/v1/messages/batch",
        "/api/v1/messages/{messageId}",
        "/api/v1/content/distribute",
        "/api/v1/webhooks/delivery",
    }
    send = document["paths"]["/api/v1/messages/send"]["post"]
    examples = send["requestBody"]["content"]["application/json"]["examples"]
    # The page's own requests, as the page writes them.
    alimtalk = examples["kakao_alimtalk"]["value"]
    assert alimtalk["templateParams"] == ALIMTALK_PARAMETERS
    assert examples["kakao_brand_message"]["value"]["content"] == BRAND_TEXT
    assert sorted(send["responses"]) == ["200", "400", "401", "403", "404", "429", "500"]
    native = _SCHEMA_ONLY.openapi()
    assert not any(path.startswith("/compat") for path in native["paths"])


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate, Phase.target],
)
def test_every_operation_conforms_to_its_schema(
    case: schemathesis.Case[Any], fuzz_app: FastAPI, hub_secret: str
) -> None:
    """Any generated request gets a documented answer, and never a server error."""
    case.call_and_validate(base_url=BASE_URL, app=fuzz_app, headers=auth(hub_secret))
