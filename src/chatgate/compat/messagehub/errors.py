"""MessageHub's error answers: ``{"error": {"code", "message", "field"}}`` with only the
statuses its page lists (400, 401, 403, 404, 429, 500).

Every refusal keeps Chatgate's own code; only its status is mapped onto the page's:

- 409 (a rule refusal: outside the service window, a channel that cannot start a
  conversation, an Idempotency-Key in use), 413 (body too large), 415 (not JSON) and 422
  (a field error, a template or content the channel refuses) are 400, "invalid parameters";
- 402 (out of credit) is 403: the account may not send now;
- 405 (a method the path does not have) is 404, with ``Allow`` kept;
- any other 4xx is 400 and any 5xx is 500.
"""

from __future__ import annotations

from typing import Any

# The statuses the page lists; every other is mapped to its nearest among them.
LISTED = frozenset({400, 401, 403, 404, 429, 500})
_MAPPED = {402: 403, 405: 404}

# The native API's field names for what MessageHub's send body calls otherwise.
_FIELDS = (
    ("content.template.variables", "templateParams"),
    ("content.template.name", "templateId"),
    ("content.template.id", "templateId"),
    ("content.template", "templateId"),
    ("content.media.caption", "content"),
    ("content.media", "mediaUrl"),
    ("content.text", "content"),
    ("channel_id", "connection"),
)


def vendor_field(field: str | None) -> str | None:
    """The MessageHub name of a field the core names its own way (``content.text.text`` is
    ``content``, ``content.template.variables.x`` is ``templateParams.x``)."""
    if field is None:
        return None
    for native, vendor in _FIELDS:
        if field == native or field.startswith(f"{native}."):
            rest = field[len(native) :]
            if vendor in ("templateParams", "fallback"):
                return vendor + rest
            return vendor
    return field


def vendor_status(status: int) -> int:
    """The listed status nearest to ``status``."""
    if status in LISTED:
        return status
    if status in _MAPPED:
        return _MAPPED[status]
    return 500 if status >= 500 else 400


def error_object(code: str, message: str, field: str | None) -> dict[str, Any]:
    """MessageHub's ``error`` object."""
    return {"code": code, "message": message, "field": vendor_field(field)}


def render_error(
    request_id: str,
    status: int,
    code: str,
    message: str,
    field: str | None,
    details: dict[str, Any] | None,
) -> tuple[int, dict[str, Any]]:
    """A refusal as MessageHub answers it."""
    return vendor_status(status), {"error": error_object(code, message, field)}
