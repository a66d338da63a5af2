"""Schemathesis over Thikaa's own OpenAPI document (``/compat/thikaa/openapi.json``),
in-process, on each store: no 5xx, every answer documented and shaped as documented.

As for the native document (``tests/api/test_schema_fuzz.py``), schema-valid data may be
refused for what JSON Schema cannot say (a phone number, a media URL without an
extension): Thikaa answers those 400 naming the field, and rule refusals 409 (a channel
that cannot start a conversation, one not connected). The account in the URL is the test
key's own, so that requests get past the key check; the check that another method gets 405
is left out, because Thikaa's page lists no 405: it is a 400 here, ``Allow`` still set.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from fastapi import FastAPI
from schemathesis.generation.meta import ParameterLocation

from tests.compat.fuzz import fuzz_app, fuzzed_schema
from tests.compat.thikaa.conftest import Instance
from tests.support import auth, fuzz_settings

BASE_URL = "http://testserver/compat/thikaa"
_CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "400", "401", "402", "403", "409", "429"]
            },
            "negative_data_rejection": {"expected-statuses": ["400", "401", "403"]},
            "unsupported_method": {"enabled": False},
        },
        "generation": {"with-security-parameters": False},
    }
)
schema = fuzzed_schema("/compat/thikaa", _CONFIG)
__all__ = ["fuzz_app"]  # the module's fixtures


def refusals_name_a_code(
    ctx: schemathesis.CheckContext,
    response: schemathesis.Response,
    case: schemathesis.Case[Any],
) -> None:
    """Every refusal is Thikaa's body, with a status the page lists (or 400)."""
    if response.status_code < 400:
        return
    assert response.status_code in (400, 401, 402, 403, 409, 429), response.text
    body = response.json()
    assert body["ok"] is False
    assert body["error"]["code"]
    assert body["error"]["message"]


@schema.parametrize()
@fuzz_settings(max_examples=40)
def test_every_operation_conforms_to_its_schema(
    case: schemathesis.Case[Any], fuzz_app: FastAPI, instance: Instance
) -> None:
    """Any generated request gets a documented answer in Thikaa's shape, never a 5xx."""
    if not _path_made_invalid(case):
        case.path_parameters = {**(case.path_parameters or {}), "account": instance.name}
    case.call_and_validate(
        base_url=BASE_URL,
        app=fuzz_app,
        headers=auth(instance.test),
        additional_checks=[refusals_name_a_code],
    )


def _path_made_invalid(case: schemathesis.Case[Any]) -> bool:
    """Whether schemathesis generated the path's parameters to be refused (an account name
    past its maximum length): replacing it with the key's own would make the case valid,
    and its acceptance a false failure of the negative-data check."""
    if case.meta is None:
        return False
    path = case.meta.components.get(ParameterLocation.PATH)
    return path is not None and not path.mode.is_positive
