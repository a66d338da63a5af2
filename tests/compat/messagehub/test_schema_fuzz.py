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

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI

from chatgate.domain.dialects import Dialect
from tests.compat.fuzz import (
    SCHEMA_ONLY,
    dialect_document,
    dialect_test_key,
    fuzz_app,
    fuzzed_schema,
)
from tests.compat.messagehub.page import ALIMTALK_PARAMETERS, BRAND_TEXT
from tests.support import Tenant, auth, fuzz_settings

MOUNT = "/compat/messagehub"
BASE_URL = f"http://testserver{MOUNT}"
ACCEPTED = ["2xx", "400", "401", "403", "404", "429", "5xx"]
_CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {"expected-statuses": ACCEPTED},
            "unsupported_method": {"enabled": False},
        },
        "generation": {"with-security-parameters": False},
    }
)
schema = fuzzed_schema(MOUNT, _CONFIG)
__all__ = ["fuzz_app"]  # the module's fixtures


@pytest.fixture
async def hub_secret(app: FastAPI, tenant: Tenant) -> str:
    """A MessageHub test key of every scope."""
    return await dialect_test_key(app, tenant, Dialect.MESSAGEHUB)


def test_the_document_is_messagehubs_own() -> None:
    document = dialect_document(MOUNT)
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
    native = SCHEMA_ONLY.openapi()
    assert not any(path.startswith("/compat") for path in native["paths"])


@schema.parametrize()
@fuzz_settings(max_examples=15)
def test_every_operation_conforms_to_its_schema(
    case: schemathesis.Case[Any], fuzz_app: FastAPI, hub_secret: str
) -> None:
    """Any generated request gets a documented answer, and never a server error."""
    case.call_and_validate(base_url=BASE_URL, app=fuzz_app, headers=auth(hub_secret))
