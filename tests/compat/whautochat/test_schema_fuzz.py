"""Schemathesis over WhautoChat's own OpenAPI document (``/compat/whautochat/openapi.json``),
in-process, on each store: no 5xx, and every answer a documented ``MessageResponse``.

Schema-valid data may still be refused for what JSON Schema cannot say: a contact that does
not exist (404), a phone number no country assigns or a time past 90 days (400), another
workspace's id (403). The workspace of every other generated body is the test key's own, so
that the rest of the body is what decides. WhautoChat's page lists no 405: another method
is 404, so the check that wants 405 is left out.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI

from chatgate.domain.dialects import Dialect
from tests.compat.fuzz import dialect_document, dialect_test_key, fuzz_app, fuzzed_schema
from tests.compat.whautochat.page import ENDPOINTS
from tests.support import Tenant, fuzz_settings

MOUNT = "/compat/whautochat"
BASE_URL = f"http://testserver{MOUNT}"
_CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "400", "401", "403", "404", "429"]
            },
            "negative_data_rejection": {"expected-statuses": ["400", "401", "403", "404"]},
            "unsupported_method": {"enabled": False},
        },
        "generation": {"with-security-parameters": False},
    }
)
schema = fuzzed_schema(MOUNT, _CONFIG)
__all__ = ["fuzz_app"]  # the module's fixtures


def refusals_are_message_responses(
    ctx: schemathesis.CheckContext,
    response: schemathesis.Response,
    case: schemathesis.Case[Any],
) -> None:
    """Every refusal is a failed MessageResponse, with a status WhautoChat answers."""
    if response.status_code < 400:
        return
    assert response.status_code in (400, 401, 403, 404, 429), response.text
    body = response.json()
    assert set(body) == {"id", "status", "error"}
    assert (body["id"], body["status"]) == (None, "failed")
    assert body["error"]


@pytest.fixture
async def wac_secret(app: FastAPI, tenant: Tenant) -> str:
    """A WhautoChat test key of every scope."""
    return await dialect_test_key(app, tenant, Dialect.WHAUTOCHAT)


def test_the_document_is_whautochats_own() -> None:
    document = dialect_document(MOUNT)
    assert sorted(document["paths"]) == sorted(path for path, _ in ENDPOINTS)
    for operations in document["paths"].values():
        assert sorted(operations["post"]["responses"]) == ["200", "400", "401", "403", "404", "429"]
    assert document["components"]["securitySchemes"]["WhautoChatKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
        "description": "`x-api-key: wac_live_…` (`wac_test_…` reaches only the sandbox)",
    }


@schema.parametrize()
@fuzz_settings(max_examples=15)
def test_every_operation_conforms_to_its_schema(
    case: schemathesis.Case[Any], fuzz_app: FastAPI, wac_secret: str, tenant: Tenant
) -> None:
    """Any generated request gets a documented MessageResponse, never a server error."""
    if isinstance(case.body, dict) and isinstance(case.body.get("workspace"), dict):
        case.body["workspace"] = {"id": tenant.account_id}
    case.call_and_validate(
        base_url=BASE_URL,
        app=fuzz_app,
        headers={"x-api-key": wac_secret},
        additional_checks=[refusals_are_message_responses],
    )
