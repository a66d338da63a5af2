"""Thikaa's error body and statuses: ``{"ok": false, "error": {"code", "message"}}``.

The page lists 401, 402, 403, 409 and 429; bad input is 400. Every other refusal is mapped
to the nearest of them (the package docstring lists the mapping), and the field a refusal
is about leads its message (``"media_type: …"``), in Thikaa's field names.
"""

from __future__ import annotations

from typing import Any

# Statuses the page lists (and 400 for bad input): passed through as they are.
_LISTED = frozenset({400, 401, 402, 403, 409, 429})
# Native 422 codes that refuse by a rule of the channel or the account, not the input's
# form: "every other rule refusal" is Thikaa's 409.
_RULE_CODES = frozenset({"channel_not_configured", "template_required", "unsupported_content"})
# A key refused for where it is used from is a key that is not valid here.
_KEY_CODES = frozenset({"ip_not_allowed"})

# Native field names (the content the send builds) in Thikaa's words.
_FIELDS = {
    "content": "message",
    "content.text": "message",
    "content.text.text": "message",
    "content.media": "media_url",
    "content.media.url": "media_url",
    "content.media.kind": "media_type",
    "content.media.caption": "message",
}


def thikaa_field(field: str | None) -> str | None:
    """``field`` as a Thikaa client names it."""
    if field is None:
        return None
    return _FIELDS.get(field, field)


def thikaa_status(status: int, code: str) -> int:
    """The status Thikaa answers for a refusal the gateway makes with ``status`` and
    ``code`` (see the package docstring)."""
    if code in _KEY_CODES:
        return 401
    if status == 422:
        return 409 if code in _RULE_CODES else 400
    if status in _LISTED or status >= 500:
        return status
    return 400


def thikaa_error(
    request_id: str,
    status: int,
    code: str,
    message: str,
    field: str | None,
    details: dict[str, Any] | None,
) -> tuple[int, dict[str, Any]]:
    """Render a refusal in Thikaa's shape and statuses."""
    name = thikaa_field(field)
    if name and name != "Authorization" and not message.startswith(f"{name}:"):
        message = f"{name}: {message}"
    return thikaa_status(status, code), {"ok": False, "error": {"code": code, "message": message}}
