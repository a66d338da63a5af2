"""WhatsApp's commerce messages as Cloud API ``interactive`` objects (outbound, pure).

A ``product`` content is Cloud API's single-product message (``type: product``), a
``product_list`` its multi-product message (``type: product_list``, the header as text),
and an ``address`` its address message (``type: address_message``, action named
``address_message`` with the form's ``country`` and prefilled ``values``). The caller adds
the header, body and footer shared by every interactive message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Json = dict[str, Any]

# Our kinds and Cloud API's interactive types.
COMMERCE_TYPES = {
    "product": "product",
    "product_list": "product_list",
    "address": "address_message",
}


def commerce_action(interactive: Mapping[str, Any]) -> Json:
    """``{"type", "action"}`` of a product, product-list or address message."""
    shape = interactive["kind"]
    if shape == "product":
        action: Json = {
            "catalog_id": interactive["catalog_id"],
            "product_retailer_id": interactive["product_id"],
        }
    elif shape == "product_list":
        action = {
            "catalog_id": interactive["catalog_id"],
            "sections": [_section(section) for section in interactive["sections"]],
        }
    else:
        form = interactive["address"]
        parameters: Json = {"country": form["country"]}
        if form.get("values"):
            parameters["values"] = dict(form["values"])
        action = {"name": "address_message", "parameters": parameters}
    return {"type": COMMERCE_TYPES[shape], "action": action}


def _section(section: Mapping[str, Any]) -> Json:
    items = [{"product_retailer_id": product_id} for product_id in section["product_ids"]]
    if section.get("title"):
        return {"title": section["title"], "product_items": items}
    return {"product_items": items}
