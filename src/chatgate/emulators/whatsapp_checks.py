"""What WhatsApp Cloud API refuses in a ``messages`` body, message type by message type.

A missing or malformed parameter is ``(#100) ...``; a value out of bounds (text too long,
too many buttons, a title too long) is ``131009`` with the bound in ``error_data.details``.
Each check answers a :data:`Problem` (code, message, details) or ``None``.
"""

from __future__ import annotations

import math
import re
from typing import Any

from chatgate.emulators.whatsapp_commerce_checks import COMMERCE_TYPES, check_commerce

MESSAGE_TYPES = (
    "audio",
    "contacts",
    "document",
    "image",
    "interactive",
    "location",
    "reaction",
    "sticker",
    "template",
    "text",
    "video",
)
PHONE = re.compile(r"^\+?\d{5,20}$")
# A business-scoped user id, or a parent one (``US.ENT.…``).
BSUID = re.compile(r"^[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{1,128}$")

# (code, message, details) of a refused request.
Problem = tuple[int, str, str | None]


def _required(path: str) -> Problem:
    return 100, f"(#100) The parameter {path} is required.", None


def _invalid(details: str) -> Problem:
    return 131009, "(#131009) Parameter value is not valid", details


def check_message(body: dict[str, Any]) -> Problem | None:
    """What Cloud API would refuse in a ``messages`` body, or ``None``."""
    product = body.get("messaging_product")
    if product is None:
        return _required("messaging_product")
    if product != "whatsapp":
        return (
            100,
            f'(#100) Param messaging_product must be one of {{WHATSAPP}} - got "{product}".',
            None,
        )
    if body.get("status") == "read":
        return None if body.get("message_id") else _required("message_id")
    to = body.get("to")
    recipient = body.get("recipient")
    if not to and not recipient:
        return _required("to")
    if to and (not isinstance(to, str) or not PHONE.match(to)):
        return 100, "(#100) Invalid parameter", "Invalid phone number"
    if not to and (not isinstance(recipient, str) or not BSUID.match(recipient)):
        return 100, "(#100) Invalid parameter", "Invalid business-scoped user ID"
    kind = body.get("type", "text")
    if kind not in MESSAGE_TYPES:
        allowed = ", ".join(t.upper() for t in MESSAGE_TYPES)
        return 100, f'(#100) Param type must be one of {{{allowed}}} - got "{kind}".', None
    context = body.get("context")
    if context is not None and not (isinstance(context, dict) and context.get("message_id")):
        return _required("context['message_id']")
    value = body.get(kind)
    if not isinstance(value, dict) and not (kind == "contacts" and isinstance(value, list)):
        return _required(kind)
    return _CHECKS.get(kind, _check_media)(kind, value)


def _check_text(kind: str, value: Any) -> Problem | None:
    text = value.get("body")
    if not isinstance(text, str) or not text:
        return _required("text['body']")
    if len(text) > 4096:
        return _invalid("text['body'] must be at most 4096 characters long")
    return None


def _check_media(kind: str, value: Any) -> Problem | None:
    if not value.get("link") and not value.get("id"):
        return _required(f"{kind}['link'] or {kind}['id']")
    return None


def _check_location(kind: str, value: Any) -> Problem | None:
    for key in ("latitude", "longitude"):
        coordinate = value.get(key)
        if coordinate is None or coordinate == "":
            return _required(f"location['{key}']")
        # Meta documents both as strings ("37.44216251868683") and its SDKs send numbers:
        # Cloud API takes either, as long as it reads as decimal degrees.
        if not _decimal_degrees(coordinate):
            return _invalid(f"location['{key}'] must be a number in decimal degrees")
    return None


def _decimal_degrees(value: Any) -> bool:
    """Whether ``value`` is a number, or a string of one (``"-9.1393"``), and finite."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return False
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


def _check_contacts(kind: str, value: Any) -> Problem | None:
    if not isinstance(value, list) or not value:
        return _required("contacts")
    for index, card in enumerate(value):
        name = card.get("name") if isinstance(card, dict) else None
        if not isinstance(name, dict) or not name.get("formatted_name"):
            return _required(f"contacts[{index}]['name']['formatted_name']")
    return None


def _check_reaction(kind: str, value: Any) -> Problem | None:
    if not value.get("message_id"):
        return _required("reaction['message_id']")
    if not isinstance(value.get("emoji"), str):
        return _required("reaction['emoji']")
    return None


def _check_template(kind: str, value: Any) -> Problem | None:
    if not value.get("name"):
        return _required("template['name']")
    language = value.get("language")
    if not isinstance(language, dict) or not language.get("code"):
        return _required("template['language']['code']")
    for component in value.get("components") or []:
        # Meta's documents show lower-case component types; SDKs send upper case.
        component_type = (
            str(component.get("type", "")).lower() if isinstance(component, dict) else ""
        )
        if component_type not in ("header", "body", "button", "carousel", "limited_time_offer"):
            return _invalid(f"unknown template component type {component_type!r}")
        if component_type == "button" and component.get("sub_type") is None:
            return _required("template['components'][]['sub_type']")
    return None


def _check_interactive(kind: str, value: Any) -> Problem | None:
    shape = value.get("type")
    if not shape:
        return _required("interactive['type']")
    action = value.get("action")
    if not isinstance(action, dict):
        return _required("interactive['action']")
    body = value.get("body")
    text = body.get("text") if isinstance(body, dict) else None
    if shape in ("button", "list", "cta_url") and not text:
        return _required("interactive['body']['text']")
    header = value.get("header")
    header_text = header.get("text") if isinstance(header, dict) else None
    if header_text is not None and len(str(header_text)) > 60:
        return _invalid("Header text length is invalid. Max length is 60")
    if shape in COMMERCE_TYPES:
        return check_commerce(shape, value, action)
    if shape == "button":
        return _check_reply_buttons(action, str(text))
    if shape == "list":
        return _check_list(action)
    if shape == "cta_url":
        parameters = action.get("parameters")
        if not isinstance(parameters, dict) or not parameters.get("url"):
            return _required("interactive['action']['parameters']['url']")
        if not 1 <= len(str(parameters.get("display_text") or "")) <= 20:
            return _invalid("Display text length is invalid. Max length is 20")
    return None


def _check_reply_buttons(action: dict[str, Any], text: str) -> Problem | None:
    buttons = action.get("buttons")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        return _invalid("Buttons count is invalid. Min 1, max 3")
    if len(text) > 1024:
        return _invalid("Body text length is invalid. Max length is 1024")
    ids = set()
    for button in buttons:
        reply = button.get("reply") if isinstance(button, dict) else None
        if not isinstance(reply, dict) or button.get("type") != "reply" or not reply.get("id"):
            return _required("interactive['action']['buttons'][]['reply']['id']")
        if not 1 <= len(str(reply.get("title") or "")) <= 20:
            return _invalid("Button title length is invalid. Max length is 20")
        ids.add(reply["id"])
    if len(ids) != len(buttons):
        return _invalid("Button ids must be unique")
    return None


def _check_list(action: dict[str, Any]) -> Problem | None:
    if not 1 <= len(str(action.get("button") or "")) <= 20:
        return _invalid("Button text length is invalid. Max length is 20")
    sections = action.get("sections")
    if not isinstance(sections, list) or not 1 <= len(sections) <= 10:
        return _invalid("Sections count is invalid. Min 1, max 10")
    rows = [row for section in sections for row in (section.get("rows") or [])]
    if not 1 <= len(rows) <= 10:
        return _invalid("Total row count exceed max allowed count: 10")
    if len(sections) > 1 and not all(section.get("title") for section in sections):
        return _invalid("Section title is required when there is more than one section")
    for row in rows:
        if not row.get("id") or not 1 <= len(str(row.get("title") or "")) <= 24:
            return _invalid("Row title length is invalid. Max length is 24")
        if len(str(row.get("description") or "")) > 72:
            return _invalid("Row description length is invalid. Max length is 72")
    return None


_CHECKS = {
    "text": _check_text,
    "location": _check_location,
    "contacts": _check_contacts,
    "reaction": _check_reaction,
    "template": _check_template,
    "interactive": _check_interactive,
}
