"""Product, product-list and address messages in the content union: shape, limits, features,
and their faithful text under ``degrade``."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from chatgate.domain import capabilities as cap
from chatgate.domain.content import Content
from chatgate.domain.degrade import render_down
from tests.channels.contract import SAMPLES

CONTENT: TypeAdapter[Any] = TypeAdapter(Content)
TEXT_ONLY = frozenset({cap.TEXT})


def _with(case: str, **changes: Any) -> dict[str, Any]:
    content = copy.deepcopy(SAMPLES[case])
    for name, value in changes.items():
        if value is None:
            content["interactive"].pop(name, None)
        else:
            content["interactive"][name] = value
    return content


def _refusal(content: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as refused:
        CONTENT.validate_python(content)
    return str(refused.value)


@pytest.mark.parametrize("case", ["product", "product_list", "address"])
def test_the_samples_are_valid_and_keep_their_shape(case: str) -> None:
    checked = CONTENT.validate_python(SAMPLES[case]).model_dump(mode="json", exclude_none=True)
    interactive = checked["interactive"]
    for name, value in SAMPLES[case]["interactive"].items():
        assert interactive[name] == value


def test_a_product_needs_its_catalog_and_id_and_has_no_header() -> None:
    assert "catalog_id: is required" in _refusal(_with("product", catalog_id=None))
    assert "product_id: is required" in _refusal(_with("product", product_id=None))
    assert "header:" in _refusal(_with("product", header="Mug"))
    assert "product_id" in _refusal(_with("product", product_id=""))
    # A body is optional in a product message only.
    CONTENT.validate_python(_with("product", body=None, footer=None))
    assert "body: is required" in _refusal(_with("address", body=None))


def test_a_product_list_has_a_header_titled_sections_and_thirty_products_at_most() -> None:
    assert "header: is required" in _refusal(_with("product_list", header=None))
    assert "catalog_id: is required" in _refusal(_with("product_list", catalog_id=None))
    ids = [f"SKU-{n}" for n in range(16)]
    too_many = [{"title": "A", "product_ids": ids}, {"title": "B", "product_ids": ids}]
    assert "at most 30 products" in _refusal(_with("product_list", sections=too_many))
    untitled = [{"product_ids": ["A"]}, {"product_ids": ["B"]}]
    assert "each needs a title" in _refusal(_with("product_list", sections=untitled))
    rows = [{"rows": [{"id": "a", "title": "A"}]}]
    assert "hold product_ids" in _refusal(_with("product_list", sections=rows))
    both = [{"rows": [{"id": "a", "title": "A"}], "product_ids": ["A"]}]
    assert "rows:" in _refusal(_with("product_list", sections=both))
    # Ten sections of three: the most WhatsApp shows.
    most = [{"title": f"S{n}", "product_ids": ["A", "B", "C"]} for n in range(10)]
    CONTENT.validate_python(_with("product_list", sections=most))


def test_kinds_keep_to_their_own_fields() -> None:
    assert "catalog_id: a list message has no catalog_id" in _refusal(
        _with("list", catalog_id="194836987003835")
    )
    assert "address: a product message has no address" in _refusal(
        _with("product", address={"country": "IN"})
    )
    assert "buttons: a address message has no list" in _refusal(
        _with("address", buttons=[{"type": "reply", "id": "a", "title": "A"}])
    )
    products = [{"product_ids": ["A"]}]
    assert "hold rows" in _refusal(_with("list", sections=products))


def test_an_address_form_is_indias_or_singapores_with_its_own_fields() -> None:
    assert "country" in _refusal(_with("address", address={"country": "US"}))
    wrong_code = {"country": "IN", "values": {"sg_post_code": "123456"}}
    assert "values.sg_post_code" in _refusal(_with("address", address=wrong_code))
    assert "in_pin_code" in _refusal(
        _with("address", address={"country": "IN", "values": {"in_pin_code": "4110011"}})
    )
    assert "zip" in _refusal(_with("address", address={"country": "IN", "values": {"zip": "1"}}))
    CONTENT.validate_python(
        _with("address", address={"country": "SG", "values": {"sg_post_code": "018956"}})
    )


def test_each_needs_its_own_feature() -> None:
    assert cap.features_of(SAMPLES["product"]) == [cap.PRODUCT]
    assert cap.features_of(SAMPLES["product_list"]) == [cap.PRODUCT_LIST]
    assert cap.features_of(SAMPLES["address"]) == [cap.ADDRESS]


def test_degraded_they_keep_every_part_as_text() -> None:
    def text(content: dict[str, Any]) -> str:
        rendered = render_down(content, TEXT_ONLY, reply_to=False)
        assert rendered.content["type"] == "text"
        return str(rendered.content["text"])

    assert text(SAMPLES["product"]) == (
        "Back in stock ☕\n\nProduct MUG-BLUE-01 (catalog 194836987003835)\n\n"
        "Free delivery over €30"
    )
    assert text(SAMPLES["product_list"]) == (
        "Our mugs\nPick one or two\n\nProducts (catalog 194836987003835):\n"
        "Blue\n1. MUG-BLUE-01\n2. MUG-BLUE-02\nRed\n3. MUG-RED-01"
    )
    assert text(SAMPLES["address"]) == (
        "Where should we deliver your order?\n\nCountry: IN\nName: Asha Rao\nCity: Pune"
    )
    assert text(_with("product", body=None, footer=None)) == (
        "Product MUG-BLUE-01 (catalog 194836987003835)"
    )
