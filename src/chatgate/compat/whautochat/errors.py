"""WhautoChat's refusals: a ``MessageResponse`` with ``id: null``, ``status: "failed"`` and the
error, led by the field it is about, under 400, 401, 403, 404 or 429.

The page names no statuses but 200; Chatgate answers these five and maps every other
refusal onto the nearest: 409 (a rule of the channel: outside the service window, a channel
that cannot start a conversation, an Idempotency-Key in use), 413 (body too large), 415
(not JSON) and 422 (a field's value, content the channel cannot carry, an unreachable
contact) are 400; 402 (out of credit) is 403, the workspace may not send now; 405 (another
method) is 404, as a route the page does not list. 5xx stay 5xx.
"""

from __future__ import annotations

from typing import Any

from chatgate.compat.whautochat.answers import refusal_body

LISTED = frozenset({400, 401, 403, 404, 429})
_MAPPED = {402: 403, 405: 404}


def whautochat_status(status: int) -> int:
    """The status WhautoChat answers for a refusal the gateway makes with ``status``."""
    if status in LISTED or status >= 500:
        return status
    return _MAPPED.get(status, 400)


def whautochat_error(
    request_id: str,
    status: int,
    code: str,
    message: str,
    field: str | None,
    details: dict[str, Any] | None,
) -> tuple[int, dict[str, Any]]:
    """Render a refusal as WhautoChat's ``MessageResponse``."""
    if field and field != "body" and not message.startswith(f"{field}:"):
        message = f"{field}: {message}"
    return whautochat_status(status), refusal_body(message)
