"""What the OpenAPI document now states beside the rules it already carried: each
platform's credentials, free-form values' storable text and 64-bit integers, a fallback's
duration bound, attribute names, price keys and non-zero credits; and the codes of the
refusals no schema can state."""

from __future__ import annotations

import json
import random
import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chatgate.channels.registry import adapter_class, supported_types
from chatgate.domain.addresses import ADDRESS_PATTERNS
from chatgate.domain.fallback import WITHIN_PATTERN, parse_duration
from chatgate.domain.free_form import INT64_END, INT64_MIN
from chatgate.domain.schema_rules import NO_NUL
from tests.api.test_validation import assert_envelope
from tests.support import Tenant, auth, text_message

_REF = "#/components/schemas/"
# A Telegram connection's credentials (its creation registers a webhook at once).
TELEGRAM = {"bot_token": "123:abc", "secret_token": "s3cret"}


def _schemas(app: FastAPI) -> dict[str, Any]:
    found: dict[str, Any] = app.openapi()["components"]["schemas"]
    return found


def _channel(channel_type: str, credentials: dict[str, str], api_base: str) -> dict[str, Any]:
    """A connection's creation body."""
    return {
        "type": channel_type,
        "name": channel_type,
        "credentials": credentials,
        "settings": {"api_base": api_base},
    }


def test_each_platforms_credentials_are_a_branch_by_type(app: FastAPI) -> None:
    branches = _schemas(app)["CreateChannelRequest"]["oneOf"]
    by_type = {b["properties"]["type"]["const"]: b["properties"]["credentials"] for b in branches}
    assert sorted(by_type) == supported_types()
    for channel_type, credentials in by_type.items():
        model = adapter_class(channel_type).credentials_model
        required = {name for name, field in model.model_fields.items() if field.is_required()}
        assert set(credentials.get("required", ())) == required, channel_type
        assert credentials["additionalProperties"] is False
    # SMS names its provider; each provider's fields are required in its own branch.
    providers = {
        b["properties"]["provider"]["const"]: set(b["required"]) for b in by_type["sms"]["oneOf"]
    }
    assert providers == {
        "twilio": {"provider", "account_sid", "auth_token", "from_number"},
        "smpp": {"provider", "host", "port", "system_id", "password", "source_addr"},
    }
    # The validators' shapes are patterns, secrets included (no NUL).
    telegram = by_type["telegram"]["properties"]
    assert re.fullmatch(telegram["bot_token"]["pattern"], "123:abc")
    assert by_type["whatsapp"]["properties"]["access_token"]["pattern"] == NO_NUL


async def test_credentials_the_schema_allows_are_taken(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    credentials = {"channel_access_token": "t0k3n", "channel_secret": "0" * 32}
    body = _channel("line", credentials, "http://127.0.0.1:9")
    created = await client.post("/v1/channels", json=body, headers=auth(tenant.live))
    assert created.status_code == 201, created.text
    body["credentials"] = {"channel_access_token": "two words", "channel_secret": "0" * 32}
    refused = await client.post("/v1/channels", json=body, headers=auth(tenant.live))
    assert_envelope(refused, 422, "invalid_request", "credentials.channel_access_token")


def test_free_form_values_are_storable_json(app: FastAPI) -> None:
    schemas = _schemas(app)
    value = schemas["StorableValue"]["anyOf"]
    assert {"type": "string", "pattern": NO_NUL} in value
    integer = next(member for member in value if member.get("type") == "integer")
    # Written as integers, however FastAPI keeps them; the upper bound is exclusive: 2**64 - 1
    # would not survive as a float.
    assert integer["minimum"] == INT64_MIN
    assert integer["exclusiveMaximum"] == INT64_END
    assert all(isinstance(integer[key], int) for key in ("minimum", "exclusiveMaximum"))
    obj = next(member for member in value if member.get("type") == "object")
    assert obj["propertyNames"] == {"pattern": NO_NUL}
    metadata = schemas["SendMessageRequest"]["properties"]["metadata"]["anyOf"][0]
    assert metadata["additionalProperties"] == {"$ref": _REF + "StorableValue"}
    batch = schemas["BatchRequest"]["properties"]["messages"]["items"]
    assert batch["propertyNames"] == {"pattern": NO_NUL}


async def test_a_64_bit_integer_in_metadata_is_taken_one_more_is_not(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    taken = await client.post(
        "/v1/messages",
        json=text_message(metadata={"n": [INT64_END - 1, INT64_MIN]}),
        headers=auth(tenant.test),
    )
    assert taken.status_code == 202, taken.text
    # A whole number counts as an integer however it is written, as in JSON Schema.
    for beyond in ("18446744073709551616", "1.8446744073709552e+19"):
        refused = await client.post(
            "/v1/messages",
            content=json.dumps(text_message(metadata={"n": ["BEYOND"]})).replace(
                '"BEYOND"', beyond
            ),
            headers={**auth(tenant.test), "Content-Type": "application/json"},
        )
        assert_envelope(refused, 422, "invalid_request", "metadata.n.0")


def test_the_within_pattern_is_the_duration_bound() -> None:
    pattern = re.compile(WITHIN_PATTERN)

    def allowed(text: str) -> bool:
        try:
            parse_duration(text)
        except ValueError:
            return False
        return True

    rng = random.Random(15)
    numbers = [*range(1200), 7, 8, 168, 169, 10080, 10081, 604800, 604801, 9999999]
    numbers += [rng.randrange(10**7) for _ in range(3000)]
    for number in numbers:
        for width in range(len(str(number)), 8):
            for unit in "smhd":
                text = f"{number:0{width}d}{unit}"
                assert (pattern.fullmatch(text) is not None) == allowed(text), text


def test_names_keys_and_amounts_are_stated(app: FastAPI) -> None:
    schemas = _schemas(app)
    attributes = schemas["CreateContactRequest"]["properties"]["attributes"]["anyOf"][0]
    assert attributes["propertyNames"]["maxLength"] == 64
    assert not re.fullmatch(attributes["propertyNames"]["pattern"], "")
    prices = schemas["TermsRequest"]["properties"]["prices"]["anyOf"][0]
    assert re.fullmatch(prices["propertyNames"]["pattern"], "whatsapp.template")
    assert prices["additionalProperties"]["minimum"] == 0
    assert schemas["CreditRequest"]["properties"]["amount"]["not"] == {"const": 0}
    within = schemas["NotWithin"]["properties"]["within"]["pattern"]
    assert within == WITHIN_PATTERN


def test_each_channels_address_shape_is_stated_beside_it(app: FastAPI) -> None:
    schemas = _schemas(app)
    for model, field in (
        ("SendMessageRequest", "to"),
        ("FallbackStepIn", "to"),
        ("SandboxInboundRequest", "from"),
    ):
        by_channel = {
            b["properties"]["channel"]["const"]: b["properties"][field]
            for b in schemas[model]["anyOf"]
        }
        for channel, pattern in ADDRESS_PATTERNS.items():
            assert by_channel[channel.value] == {"pattern": pattern}, (model, channel)
    # "auto" picks among a contact's channels: its `to` is a contact, never an address.
    sends = schemas["SendMessageRequest"]["anyOf"]
    auto = next(b for b in sends if b["properties"]["channel"]["const"] == "auto")
    assert auto["properties"]["to"] == {"type": "object"}


@pytest.mark.parametrize(
    "api_base",
    [
        # The schema's URL shape, but an unbalanced bracket: urlsplit cannot read the host.
        "http://a[b",
        # A host that is no valid international domain name: the HTTP client refuses it.
        "http://a\u00df\u200d.example",
    ],
)
async def test_an_api_base_whose_host_cannot_be_read_is_refused_not_a_500(
    client: httpx.AsyncClient, tenant: Tenant, api_base: str
) -> None:
    for channel, credentials in (("viber", {"auth_token": "t0k3n"}), ("telegram", TELEGRAM)):
        body = _channel(channel, credentials, api_base)
        response = await client.post("/v1/channels", json=body, headers=auth(tenant.live))
        assert_envelope(response, 422, "address_not_allowed", "settings.api_base")
