"""What WhatsApp Cloud API refuses in a product, product-list or address message.

- ``product``: ``action.catalog_id`` and ``action.product_retailer_id``; no header (the
  product's own picture and name are shown there); body and footer optional;
- ``product_list``: a text header, a body, ``action.catalog_id`` and 1 to 10 sections of
  ``product_items`` (each a ``product_retailer_id``), at most 30 items in all, every section
  titled (at most 24 characters) when there is more than one;
- ``address_message``: a body, ``action.name`` ``address_message`` and
  ``action.parameters.country`` (``IN`` or ``SG``), with ``values`` of the form's own fields.

Bodies are at most 1,024 characters and footers 60, as on every interactive message.
Missing parameters are ``(#100)``; values out of bounds are ``131009``.
"""

from __future__ import annotations

from typing import Any

from chatgate.domain.commerce import ADDRESS_COUNTRIES, ADDRESS_LABELS, POSTAL_CODE_FIELD

# (code, message, details), as in ``whatsapp_checks``.
Problem = tuple[int, str, str | None]
COMMERCE_TYPES = ("product", "product_list", "address_message")
MAX_BODY = 1024
MAX_FOOTER = 60
MAX_SECTIONS = 10
MAX_ITEMS = 30
MAX_SECTION_TITLE = 24


def _required(path: str) -> Problem:
    return 100, f"(#100) The parameter {path} is required.", None


def _invalid(details: str) -> Problem:
    return 131009, "(#131009) Parameter value is not valid", details


def _text_of(part: Any) -> str | None:
    text = part.get("text") if isinstance(part, dict) else None
    return text if isinstance(text, str) else None


def check_commerce(shape: str, value: dict[str, Any], action: dict[str, Any]) -> Problem | None:
    """What Cloud API would refuse in an interactive ``value`` of a commerce ``shape``."""
    body = _text_of(value.get("body"))
    if body is not None and len(body) > MAX_BODY:
        return _invalid(f"Body text length is invalid. Max length is {MAX_BODY}")
    footer = _text_of(value.get("footer"))
    if footer is not None and len(footer) > MAX_FOOTER:
        return _invalid(f"Footer text length is invalid. Max length is {MAX_FOOTER}")
    if shape == "product":
        return _check_product(value, action)
    if shape == "product_list":
        return _check_product_list(value, action, body)
    return _check_address(action, body)


def _check_product(value: dict[str, Any], action: dict[str, Any]) -> Problem | None:
    if value.get("header") is not None:
        return _invalid("Header is not supported for single product messages")
    if not action.get("catalog_id"):
        return _required("interactive['action']['catalog_id']")
    if not action.get("product_retailer_id"):
        return _required("interactive['action']['product_retailer_id']")
    return None


def _check_product_list(
    value: dict[str, Any], action: dict[str, Any], body: str | None
) -> Problem | None:
    header = value.get("header")
    if not isinstance(header, dict) or header.get("type") != "text" or not _text_of(header):
        return _required("interactive['header']")
    if not body:
        return _required("interactive['body']['text']")
    if not action.get("catalog_id"):
        return _required("interactive['action']['catalog_id']")
    sections = action.get("sections")
    if not isinstance(sections, list) or not 1 <= len(sections) <= MAX_SECTIONS:
        return _invalid(f"Sections count is invalid. Min 1, max {MAX_SECTIONS}")
    count = 0
    for section in sections:
        items = section.get("product_items") if isinstance(section, dict) else None
        if not isinstance(items, list) or not items:
            return _required("interactive['action']['sections'][]['product_items']")
        for item in items:
            if not isinstance(item, dict) or not item.get("product_retailer_id"):
                return _required(
                    "interactive['action']['sections'][]['product_items'][]['product_retailer_id']"
                )
        count += len(items)
        title = str(section.get("title") or "")
        if len(title) > MAX_SECTION_TITLE or (len(sections) > 1 and not title):
            return _invalid(
                f"Section title is required when there is more than one section; max length "
                f"is {MAX_SECTION_TITLE}"
            )
    if count > MAX_ITEMS:
        return _invalid(f"Total product count exceed max allowed count: {MAX_ITEMS}")
    return None


def _check_address(action: dict[str, Any], body: str | None) -> Problem | None:
    if not body:
        return _required("interactive['body']['text']")
    if action.get("name") != "address_message":
        return _invalid("interactive['action']['name'] must be address_message")
    parameters = action.get("parameters")
    if not isinstance(parameters, dict) or not parameters.get("country"):
        return _required("interactive['action']['parameters']['country']")
    country = parameters["country"]
    if country not in ADDRESS_COUNTRIES:
        return _invalid(f"Address messages are not supported for country {country}")
    values = parameters.get("values")
    if values is None:
        return None
    if not isinstance(values, dict):
        return _invalid("interactive['action']['parameters']['values'] must be an object")
    others = {name for c, name in POSTAL_CODE_FIELD.items() if c != country}
    for name, text in values.items():
        if name not in ADDRESS_LABELS or name in others:
            return _invalid(f"Address field {name} is not supported for country {country}")
        if not isinstance(text, str):
            return _invalid(f"Address field {name} must be a string")
        if name in POSTAL_CODE_FIELD.values() and len(text) > 6:
            return _invalid(f"Address field {name} max length is 6")
    return None
