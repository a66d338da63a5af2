"""Schemathesis over the whole OpenAPI schema, in-process, on each store.

Every operation is fuzzed with valid and invalid data, and every answer goes through all of
schemathesis' default checks: no 5xx, documented status codes, content types, headers and
bodies, invalid data refused, valid data accepted, 405 with a true ``Allow`` for other
methods, auth enforced.

Schema-valid data must be accepted: a 422 for it means the document is looser than the
validation. Only two kinds of 422 may answer it, each told by its ``error.code``: a rule no
JSON Schema can state (a phone number of the right shape that no country assigns, a URL
whose host is private, an IP range whose digits do not make one), or a fact of the
account's stored state (an Idempotency-Key used before for another body, a template or
channel it does not have). ``unprocessable_names_its_field`` holds every 422 to naming its
field; ``KNOWN_GAPS`` lists, one by one, the rules the document does not state yet.

The schema is the app's ``/openapi.json`` document, read from an app that is never started
(building one opens no connection), so that pytest can make one test per operation. The
``app`` fixture's gateway lives on the test's event loop, while schemathesis drives an ASGI
app from its own loop thread; so each test builds a second gateway on the same store for
schemathesis to run, authenticating with a test key of the ``tenant`` fixture, which the
store already holds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, settings
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import positive_data_acceptance

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


# The codes a 422 may carry for schema-valid data.
SEMANTIC_CODES = frozenset(
    {
        # A phone number of E.164's shape that phonenumbers' metadata does not assign, or
        # an address whose shape is another channel's than the one named beside it.
        "invalid_address",
        # An address or range of the right characters that does not parse (999.1.1.1).
        "invalid_ip_range",
        # The SSRF guard: a webhook URL, or a channel's API base, leading to a private host.
        "url_not_allowed",
        "address_not_allowed",
        # State: the key was used before with another body (schemathesis repeats headers).
        "idempotency_key_reused",
        # State: the account has no such template, channel connection or contact route, or
        # the values do not fit the stored template's variables.
        "unknown_template",
        "template_not_renderable",
        "missing_variable",
        "unknown_variable",
        "invalid_variable",
        "channel_not_configured",
        "no_route",
    }
)
# Fields of free-form values, which the schema leaves open (any JSON).
_FREE_FORM = (
    r"body|(.+\.)?(metadata|attributes|variables|messages|recipients|credentials|settings)(\..+)?"
)
# Rules the document does not state yet, as (field, message) patterns: cross-field rules of
# the models, and the storable-text rules of free-form values. Every other 422 on
# schema-valid data fails. Each entry is work left: state it in the schema, drop it here.
KNOWN_GAPS = [
    (re.compile(field), re.compile(message, re.DOTALL))
    for field, message in (
        # Each platform's credentials are its adapter's model; the schema has one object.
        (r"credentials(\..+)?", r".+"),
        # A template definition's parts must agree with its variables.
        (r"(variables|bindings|body)(\..+)?", r"names no declared variable: .+"),
        (r"variables\.\d+\.example", r"must be (a|an) .+"),
        (r"variables\.\d+\.name", r"(positional variables are numbered|variables are).+"),
        (r"variables\.\d+\.name", r"'.+' is declared twice"),
        # Storable text and numbers in free-form values: metadata, attributes, template
        # values, a batch's or a distribution's items (whose path is in the message when
        # the fault is in a key of theirs: field "body").
        (_FREE_FORM, r"(.+: )?(has a key that )?must not contain the NUL character"),
        (_FREE_FORM, r"(.+: )?must be an integer of at most 64 bits"),
        # Sizes and bounds the schema cannot count: bytes of metadata, a duration's total.
        (r"(.+\.)?metadata", r"must be at most \d+ bytes as JSON"),
        (r"fallback\.\d+\.on\.within", r".+"),
        (r"schedule_at", r".+"),
        # Contacts: duplicates after normalisation, attribute names, a query's pairing.
        (r"(preferred_channels|identities)\.\d+(\.id)?", r"is listed twice"),
        (r"attributes(\..+)?", r".+"),
        (r"channel|identity", r".+"),
        # Billing: a price key names a channel or kind; a credit is not zero.
        (r"prices|amount", r".+"),
        # Counts across a product list's sections: its products in all, titles when many.
        (
            r"(.+\.)?content\.interactive\.sections",
            r"(a product list holds at most 30 products|each needs a title when).*",
        ),
        # A distribution whose contact selection matches no one.
        (r"recipients", r"there is no recipient to send to"),
        # schemathesis sends this optional header with values outside its pattern ("0").
        (r"Last-Event-ID", r"String should match pattern '\^evt_.+"),
    )
]

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


def _unexpressible(error: dict[str, Any]) -> bool:
    """Whether a 422's error is one schema-valid data may get (see the module's docstring)."""
    if error.get("code") in SEMANTIC_CODES:
        return True
    field, message = str(error.get("field")), str(error.get("message"))
    return any(f.fullmatch(field) and m.fullmatch(message) for f, m in KNOWN_GAPS)


def schema_valid_data_accepted(
    ctx: schemathesis.CheckContext,
    response: schemathesis.Response,
    case: schemathesis.Case[Any],
) -> bool | None:
    """schemathesis' positive_data_acceptance, but for a 422 whose code or field is one
    schema-valid data may get."""
    if response.status_code == 422 and _unexpressible(response.json()["error"]):
        return None
    return positive_data_acceptance(ctx, response, case)


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
        excluded_checks=[positive_data_acceptance],
        additional_checks=[schema_valid_data_accepted, unprocessable_names_its_field],
    )
