"""Schemathesis over the whole OpenAPI schema, in-process, on each store.

Every operation is fuzzed with valid and invalid data, and every answer goes through all of
schemathesis' default checks: no 5xx, documented status codes, content types, headers and
bodies, invalid data refused, valid data accepted, 405 with a true ``Allow`` for other
methods, auth enforced.

One default is widened on purpose: schema-valid data may get a 422. JSON Schema cannot say
that ``to`` must be a real phone number for ``sms``, that an IP range must parse or that a
media URL must reveal its kind; the API refuses those with a 422 that names the field, and
``unprocessable_names_its_field`` holds every 422 to that.

The schema is the app's ``/openapi.json`` document, read from an app that is never started
(building one opens no connection), so that pytest can make one test per operation. The
``app`` fixture's gateway lives on the test's event loop, while schemathesis drives an ASGI
app from its own loop thread; so each test builds a second gateway on the same store for
schemathesis to run, authenticating with a test key of the ``tenant`` fixture, which the
store already holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, settings
from schemathesis.python import asgi

from chatgate.api.app import create_app
from chatgate.config import Settings
from tests.support import Tenant, auth, settings_for

BASE_URL = "http://testserver"
# schemathesis' own default for positive_data_acceptance.
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]
# Never connected to: this app is only asked for its OpenAPI document.
_SCHEMA_ONLY = create_app(settings_for("sqlite:///schema-only-never-opened.db"))


async def _no_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Stands in for the app until a test names its own: reaching it is a harness bug."""
    raise AssertionError("a schemathesis request went out without app=fuzz_app")


_CONFIG = schemathesis.Config.from_dict(
    {
        # Semantic rules JSON Schema cannot express get a 422 (see the module's docstring).
        "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "422"]}},
        # The test sends the tenant's key itself, so schemathesis must not generate (or
        # "remove") Authorization: a removal the test undid would look like accepted bad
        # data. The ignored_auth check still proves every operation refuses a missing key.
        "generation": {"with-security-parameters": False},
    }
)
schema = schemathesis.openapi.from_dict(_SCHEMA_ONLY.openapi(), config=_CONFIG)
# Makes schemathesis use its ASGI transport; every request names the test's app instead.
schema.app = _no_app


def unprocessable_names_its_field(
    ctx: schemathesis.CheckContext,
    response: schemathesis.Response,
    case: schemathesis.Case[Any],
) -> None:
    """A 422 says which field it refuses, in the error envelope."""
    if response.status_code != 422:
        return
    error = response.json()["error"]
    assert isinstance(error.get("field"), str), f"422 without a field: {response.text}"
    assert error["field"], f"422 with an empty field: {response.text}"
    assert error.get("message"), f"422 without a message: {response.text}"


@pytest.fixture
def fuzz_app(settings: Settings) -> Iterator[FastAPI]:
    """A gateway of its own on the current store; schemathesis starts it, this stops it."""
    yield create_app(settings)
    asgi.shutdown_lifespans()


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    # No shrinking: each example is a full request, so shrinking a failure can take minutes;
    # schemathesis reports every failure with a curl command that reproduces it.
    phases=[Phase.explicit, Phase.generate, Phase.target],
)
def test_every_operation_conforms_to_its_schema(
    case: schemathesis.Case[Any], fuzz_app: FastAPI, tenant: Tenant
) -> None:
    """Any generated request gets a documented answer, and never a server error."""
    case.call_and_validate(
        base_url=BASE_URL,
        app=fuzz_app,
        headers=auth(tenant.test),
        additional_checks=[unprocessable_names_its_field],
    )
