"""Bik's error body and statuses: ``{"status": 400, "errors": [{"message": "'message' is
required"}]}``, one entry per problem, each naming its field in quotes as the page's example
does.

The page lists 400, 401, 404 and 500. Every other refusal is mapped to the nearest:

- 401: no key, an unknown or revoked key, a key of another kind, and a key not valid from
  the caller's address (``ip_not_allowed``) or lacking the scope ``messages:send`` (the
  caller is not authorised to send);
- 404: no such path, and a path with another method (``Allow`` still says which);
- 5xx: 500;
- everything else is 400: bad input (the field named), and every rule refusal (outside the
  24-hour window, out of credit, over the rate limit or the daily quota, a channel that is
  not configured): the message says which rule, ``Retry-After`` kept where it is given.
"""

from __future__ import annotations

from typing import Any

# Native field names (of the content the send builds) in Bik's words.
_FIELDS = (
    ("content.text.text", "payload.message"),
    ("content.text", "payload.message"),
    ("content.media.url", "payload.url"),
    ("content.media.caption", "payload.caption"),
    ("content.media.filename", "payload.filename"),
    ("content.media.kind", "payload.url"),
    ("content.media", "payload.url"),
    ("content.interactive.body", "payload.message"),
    ("content.interactive.button_text", "payload.buttonText"),
    ("content.interactive.catalog_id", "payload.catalogId"),
    ("content.interactive.product_id", "payload.productId"),
    ("content.interactive.address.values", "payload.values"),
    ("content.interactive.address", "payload"),
    ("content.interactive", "payload"),
    ("content", "payload"),
    ("to", "contactIdentifier"),
    ("from", "businessPhoneNumber"),
)
# Inside the payload, the parts named otherwise natively.
_PARTS = {"product_ids": "productIds", "button_text": "buttonText"}
# Refusals by a rule rather than by the request's form: the rule leads the message.
_RULES = {
    "outside_service_window": "outside the 24-hour window",
    "insufficient_credit": "out of credit",
    "rate_limited": "over the rate limit",
    "quota_exceeded": "over the daily quota",
    "channel_not_configured": "no WhatsApp channel",
    "message_cap_reached": "over the message cap",
    "unsupported_content": "content WhatsApp cannot carry",
    "idempotency_key_reused": "Idempotency-Key reused",
    "idempotency_in_progress": "Idempotency-Key in use",
}
_KEY_CODES = frozenset({"ip_not_allowed", "insufficient_scope", "channel_not_allowed"})
LISTED = frozenset({400, 401, 404, 500})


def bik_field(field: str | None) -> str | None:
    """``field`` as a Bik client names it (``content.text.text`` is ``payload.message``)."""
    if field is None:
        return None
    for native, vendor in _FIELDS:
        if field == native or field.startswith(f"{native}."):
            rest = field[len(native) :].split(".")
            return vendor + ".".join(_PARTS.get(part, part) for part in rest)
    return field


def bik_status(status: int, code: str) -> int:
    """The listed status for a refusal the gateway makes with ``status`` and ``code``."""
    if status == 401 or code in _KEY_CODES:
        return 401
    if status in (404, 405):
        return 404
    if status >= 500:
        return 500
    return 400


def _worded(code: str, message: str, field: str | None) -> str:
    """One problem as Bik words it: the field in quotes first, or the rule it broke."""
    if code in _RULES:
        return f"{_RULES[code]}: {message}"
    name = bik_field(field)
    if name and name not in ("body", "Authorization"):
        return f"'{name}' {message}"
    return message


def bik_error(
    request_id: str,
    status: int,
    code: str,
    message: str,
    field: str | None,
    details: dict[str, Any] | None,
) -> tuple[int, dict[str, Any]]:
    """A refusal in Bik's body and statuses, one entry per problem."""
    problems = (details or {}).get("errors")
    if not isinstance(problems, list) or not problems:
        problems = [{"code": code, "field": field, "message": message}]
    listed = bik_status(status, code)
    entries = [
        {"message": _worded(str(p.get("code", code)), str(p["message"]), p.get("field"))}
        for p in problems
    ]
    return listed, {"status": listed, "errors": entries}
