"""The WhatsApp emulator checks product, product-list and address messages as Cloud API does."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from tests.channels.contract import outbound
from tests.channels.whatsapp import contract
from tests.channels.whatsapp.world import world

MESSAGES = f"/graph/v21.0/{contract.PHONE_NUMBER_ID}/messages"
AUTH = {"Authorization": f"Bearer {contract.ACCESS_TOKEN}"}
Change = Callable[[dict[str, Any]], None]


def _built(case: str) -> dict[str, Any]:
    """The body Chatgate's adapter builds for the contract sample ``case``."""
    adapter = contract.make_adapter("http://emulator/graph")
    body = adapter.build_request(outbound(case, contract.RECIPIENT)).json
    assert body is not None
    return copy.deepcopy(body)


def _action(body: dict[str, Any]) -> dict[str, Any]:
    action: dict[str, Any] = body["interactive"]["action"]
    return action


def _sections(count: int, each: int) -> list[dict[str, Any]]:
    return [
        {
            "title": f"S{s}",
            "product_items": [{"product_retailer_id": f"P{s}-{i}"} for i in range(each)],
        }
        for s in range(count)
    ]


REFUSALS: list[tuple[str, Change, int, str]] = [
    ("product", lambda b: _action(b).pop("catalog_id"), 100, "interactive['action']['catalog_id']"),
    (
        "product",
        lambda b: _action(b).pop("product_retailer_id"),
        100,
        "interactive['action']['product_retailer_id']",
    ),
    (
        "product",
        lambda b: b["interactive"].update(header={"type": "text", "text": "Mug"}),
        131009,
        "Header is not supported for single product messages",
    ),
    (
        "product",
        lambda b: b["interactive"].update(body={"text": "x" * 1025}),
        131009,
        "Max length is 1024",
    ),
    (
        "product",
        lambda b: b["interactive"].update(footer={"text": "x" * 61}),
        131009,
        "Max length is 60",
    ),
    ("product_list", lambda b: b["interactive"].pop("header"), 100, "interactive['header']"),
    ("product_list", lambda b: b["interactive"].pop("body"), 100, "interactive['body']['text']"),
    (
        "product_list",
        lambda b: _action(b).update(sections=_sections(11, 1)),
        131009,
        "Sections count is invalid",
    ),
    (
        "product_list",
        lambda b: _action(b).update(sections=_sections(2, 16)),
        131009,
        "max allowed count: 30",
    ),
    (
        "product_list",
        lambda b: _action(b)["sections"][1].pop("title"),
        131009,
        "Section title is required",
    ),
    (
        "product_list",
        lambda b: _action(b)["sections"][0]["product_items"][0].pop("product_retailer_id"),
        100,
        "['product_retailer_id']",
    ),
    ("address", lambda b: _action(b)["parameters"].pop("country"), 100, "['country']"),
    (
        "address",
        lambda b: _action(b)["parameters"].update(country="US"),
        131009,
        "not supported for country US",
    ),
    (
        "address",
        lambda b: _action(b)["parameters"]["values"].update(sg_post_code="123456"),
        131009,
        "sg_post_code is not supported for country IN",
    ),
    (
        "address",
        lambda b: _action(b)["parameters"]["values"].update(in_pin_code="4110011"),
        131009,
        "max length is 6",
    ),
    ("address", lambda b: b["interactive"].pop("body"), 100, "interactive['body']['text']"),
]


@pytest.mark.parametrize(
    ("case", "change", "code", "says"),
    [pytest.param(*row, id=f"{row[0]}-{index}") for index, row in enumerate(REFUSALS)],
)
async def test_commerce_messages_out_of_shape_are_refused(
    case: str, change: Change, code: int, says: str
) -> None:
    async with world() as w:
        await w.user_writes(text="oi")
        body = _built(case)
        assert (await w.client.post(MESSAGES, json=body, headers=AUTH)).status_code == 200
        change(body)
        response = await w.client.post(MESSAGES, json=body, headers=AUTH)
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["code"] == code
        shown = error["message"] + str(error.get("error_data", {}).get("details", ""))
        assert says in shown, shown


async def test_thirty_products_in_ten_sections_and_a_bodyless_product_are_taken() -> None:
    async with world() as w:
        await w.user_writes(text="oi")
        most = _built("product_list")
        _action(most).update(sections=_sections(10, 3))
        bare = _built("product")
        bare["interactive"].pop("body")
        bare["interactive"].pop("footer")
        for body in (most, bare):
            response = await w.client.post(MESSAGES, json=body, headers=AUTH)
            assert response.status_code == 200, response.text
