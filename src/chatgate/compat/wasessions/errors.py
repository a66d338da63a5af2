"""The dialect's one error body, and the statuses of the page.

The page lists 401 (invalid or missing API key), 404 (session or resource not found), 409
(session not connected) and 429 (rate limit exceeded), and no body. Every refusal answers
``{"statusCode", "error", "code", "message", "field"}``: the status again and its reason
phrase (the shape Node API frameworks answer, which clients of such APIs read), Chatgate's
code, what is wrong, and the request's field it is about (``null`` when none is).

Besides the page's four, bad input is 400 (a body that is not JSON, a field missing or
refused, a file of the wrong type or size: one status for every bad request, 422 never
leaves), and 403 is a key that may not do this (its scopes, its IP allowlist, an account
out of credit). Everything else is mapped onto the nearest: 413 and 415 are 400, 405 is
404 (a route the page does not list), and the native API's rule refusals (409) stay 409.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, Field

from chatgate.compat.dialect_app import error_responses

LISTED = frozenset({400, 401, 403, 404, 409, 429})
_MAPPED = {402: 403, 405: 404}
# The native API's field names for what this dialect's bodies call otherwise.
_FIELDS = (
    ("content.text", "message"),
    ("content.media.caption", "caption"),
    ("content.media", "mediaUrl"),
    ("from", "session"),
)


class ErrorAnswer(BaseModel):
    """Every refusal of the dialect."""

    statusCode: int = Field(examples=[409])
    error: str = Field(description="the status' reason phrase", examples=["Conflict"])
    code: str = Field(description="Chatgate's code", examples=["session_not_connected"])
    message: str
    field: str | None = Field(description="the field of the request at fault", examples=["to"])


def vendor_status(status: int) -> int:
    """The status the dialect answers for a refusal Chatgate makes with ``status``."""
    if status in LISTED or status >= 500:
        return status
    return _MAPPED.get(status, 400)


def vendor_field(field: str | None, audio: bool = False) -> str | None:
    """The dialect's name of a field the native API names its own way (a file's URL is
    ``audioUrl`` in an ``audio`` send's body, ``mediaUrl`` otherwise)."""
    if field is None or field == "body":
        return None
    for native, vendor in _FIELDS:
        if field == native or field.startswith(f"{native}."):
            return "audioUrl" if audio and vendor == "mediaUrl" else vendor
    return field


def render_error(
    request_id: str,
    status: int,
    code: str,
    message: str,
    field: str | None,
    details: dict[str, Any] | None,
) -> tuple[int, dict[str, Any]]:
    """A refusal as the dialect answers it."""
    answered = vendor_status(status)
    body = ErrorAnswer(
        statusCode=answered,
        error=HTTPStatus(answered).phrase,
        code=code,
        message=message,
        field=vendor_field(field),
    )
    return answered, body.model_dump()


ERROR_RESPONSES = error_responses(
    ErrorAnswer,
    {
        400: "Bad request: the field named is missing or refused (a file's type or size too)",
        401: "Unauthorized: invalid or missing API key",
        403: "The key may not do this (its scopes or IP allowlist), or the account is out of "
        "credit",
        404: "Not found: session or resource not found",
        409: "Conflict: session not connected",
        429: "Too many requests: rate limit exceeded (the key's per minute, the plan's "
        "messages a day or sessions; see Retry-After)",
    },
)
