"""Schemathesis over Bik's own OpenAPI document (``/compat/bik/openapi.json``), in-process,
on each store: no 5xx, and every answer documented, in Bik's error body.

Schema-valid data may be refused for what JSON Schema cannot say (a phone number no country
assigns, a payload whose fields depend on ``type``, a user who has not written): Bik
answers those 400, its only refusal of input. It lists no 405 either (another method is its
404, with ``Allow``), so schemathesis' ``unsupported_method`` check is left out.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from fastapi import FastAPI
from starlette.routing import Mount

from chatgate.api.app import create_app
from tests.compat.bik.conftest import basic
from tests.compat.thikaa.test_schema_fuzz import fuzz_app
from tests.support import fuzz_settings, settings_for

__all__ = ["fuzz_app"]  # a gateway of its own on the current store
BASE_URL = "http://testserver/compat/bik"
_SCHEMA_ONLY = create_app(settings_for("sqlite:///schema-only-never-opened.db"))
[_MOUNT] = [r for r in _SCHEMA_ONLY.routes if isinstance(r, Mount) and r.path == "/compat/bik"]
assert isinstance(_MOUNT.app, FastAPI)


async def _no_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    raise AssertionError("a schemathesis request went out without app=fuzz_app")


_CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {"expected-statuses": ["2xx", "400", "401"]},
            "negative_data_rejection": {"expected-statuses": ["400", "401"]},
            "unsupported_method": {"enabled": False},
        },
        "generation": {"with-security-parameters": False},
    }
)
schema = schemathesis.openapi.from_dict(_MOUNT.app.openapi(), config=_CONFIG)
schema.app = _no_app


def refusals_are_biks(
    ctx: schemathesis.CheckContext,
    response: schemathesis.Response,
    case: schemathesis.Case[Any],
) -> None:
    """Every refusal is Bik's body, with a status the page lists."""
    if response.status_code < 400:
        return
    assert response.status_code in (400, 401, 404), response.text
    body = response.json()
    assert body["status"] == response.status_code
    assert body["errors"]
    assert all(entry["message"] for entry in body["errors"])


@schema.parametrize()
@fuzz_settings(max_examples=40)
def test_every_operation_conforms_to_its_schema(
    case: schemathesis.Case[Any], fuzz_app: FastAPI, bik_test: str
) -> None:
    """Any generated request gets a documented answer in Bik's shape, never a 5xx."""
    case.call_and_validate(
        base_url=BASE_URL,
        app=fuzz_app,
        headers=basic(bik_test),
        additional_checks=[refusals_are_biks],
    )
