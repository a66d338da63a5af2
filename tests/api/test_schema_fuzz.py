"""Schemathesis over the whole OpenAPI schema, in-process, on each store.

Every operation is fuzzed with valid and invalid data, and every answer goes through all of
schemathesis' default checks: no 5xx, documented status codes, content types, headers and
bodies, invalid data refused, valid data accepted, 405 with a true ``Allow`` for other
methods, auth enforced.

Schema-valid data must be accepted: a 422 for it means the document is looser than the
validation. Only two kinds of 422 may answer it, each told by its ``error.code``: a rule no
JSON Schema can state (the app's ``SEMANTIC_CODES``, each with the reason beside it: a
phone number of the right shape that no country assigns, metadata's size in bytes, a
schedule measured from now, a template's parts agreeing with each other, …), or a fact of
the account's stored state (an Idempotency-Key used before for another body, a template or
channel it does not have). ``unprocessable_names_its_field`` holds every 422 to naming its
field.

The gateway the fuzz drives reaches no platform: it runs no worker, its platform client
answers every call itself (503), and the names of platforms' hosts resolve to loopback
without a lookup. A schema-valid channel is created (and its webhook registration fails)
without a byte leaving the machine.

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

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import positive_data_acceptance

from chatgate.api import errors
from chatgate.api.app import create_app
from chatgate.config import Settings
from chatgate.net_guard import NetworkPolicy
from tests.support import Tenant, auth, fuzz_settings, gateway, settings_for

BASE_URL = "http://testserver"
# schemathesis' own default for positive_data_acceptance.
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]
# Never connected to: this app is only asked for its OpenAPI document.
_SCHEMA_ONLY = create_app(settings_for("sqlite:///schema-only-never-opened.db"))


async def _no_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Stands in for the app until a test names its own: reaching it is a harness bug."""
    raise AssertionError("a schemathesis request went out without app=fuzz_app")


# The codes a 422 may carry for schema-valid data: the app's rules no schema can state
# (each explained where it is defined), and the account's stored state.
SEMANTIC_CODES = errors.SEMANTIC_CODES | {
    # The SSRF guard: a webhook URL, or a channel's API base, leading to a private host.
    "url_not_allowed",
    "address_not_allowed",
    # State: the key was used before with another body (schemathesis repeats headers).
    "idempotency_key_reused",
    # State: the account has no such template, channel connection, contact route or plan,
    # or the values do not fit the stored template's variables.
    "unknown_template",
    "template_not_renderable",
    "missing_variable",
    "unknown_variable",
    "invalid_variable",
    "channel_not_configured",
    "no_route",
    "unknown_plan",
}

_CONFIG = schemathesis.Config.from_dict(
    {
        # Schema-valid data gets no 422 here; schema_valid_data_accepted lets the few
        # explained above through.
        "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED}},
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


def schema_valid_data_accepted(
    ctx: schemathesis.CheckContext,
    response: schemathesis.Response,
    case: schemathesis.Case[Any],
) -> bool | None:
    """schemathesis' positive_data_acceptance, but for a 422 whose code is one schema-valid
    data may get, and only for a case whose every part is schema-valid.

    schemathesis' coverage phase can label a case positive while one of its parts was kept
    from a negative one: an optional header's "0" beside a valid query, the case's meta
    marking that header's component negative. Such a case is no schema-valid request.
    """
    if case.meta is not None and not all(
        component.mode.is_positive for component in case.meta.components.values()
    ):
        return None
    if response.status_code == 422 and response.json()["error"].get("code") in SEMANTIC_CODES:
        return None
    return positive_data_acceptance(ctx, response, case)


async def _no_platform(request: httpx.Request) -> httpx.Response:
    """Every platform call the fuzzed gateway makes: answered here, as by a platform down."""
    return httpx.Response(503, json={"error": "no platform in this test"})


async def _loopback(host: str, port: int) -> list[str]:
    """Every host name the fuzzed gateway checks: loopback, which the test settings allow,
    so that no name is looked up."""
    return ["127.0.0.1"]


@pytest.fixture
def fuzz_app(settings: Settings) -> Iterator[FastAPI]:
    """A gateway of its own on the current store, reaching no platform (see the module's
    docstring); schemathesis starts it, this stops it."""
    app = create_app(settings.model_copy(update={"worker_enabled": False}))
    fuzzed = gateway(app)
    fuzzed.http = httpx.AsyncClient(transport=httpx.MockTransport(_no_platform))
    fuzzed.channels.network = NetworkPolicy(allow_private=True, resolver=_loopback)
    yield app
    asgi.shutdown_lifespans()


@schema.parametrize()
@fuzz_settings(max_examples=40)
def test_every_operation_conforms_to_its_schema(
    case: schemathesis.Case[Any], fuzz_app: FastAPI, tenant: Tenant
) -> None:
    """Any generated request gets a documented answer, and never a server error."""
    case.call_and_validate(
        base_url=BASE_URL,
        app=fuzz_app,
        headers=auth(tenant.test),
        excluded_checks=[positive_data_acceptance],
        additional_checks=[schema_valid_data_accepted, unprocessable_names_its_field],
    )
