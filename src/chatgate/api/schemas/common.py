"""Pieces shared by every request and response model."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Query
from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from chatgate.domain.free_form import INT64_END, INT64_MIN
from chatgate.domain.json_body import MAX_DEPTH
from chatgate.domain.schema_rules import with_rules

# The JSON encoder writes integers of at most 64 bits (signed, or unsigned when positive).
_INT_RANGE = range(INT64_MIN, INT64_END)


UNPAIRED_SURROGATE = "must be valid Unicode (it holds an unpaired surrogate)"
TOO_DEEP = f"must not nest more than {MAX_DEPTH} levels deep"
# The storable-value rules no schema states, each a code of its own: a JSON string may
# escape half a surrogate pair, which no pattern tells apart from text; and a depth limit
# could only be stated by spelling out every level.
_SEMANTIC_REASONS = {UNPAIRED_SURROGATE: "invalid_unicode", TOO_DEEP: "nested_too_deep"}


def unstorable_reason(value: str) -> str | None:
    """Why ``value`` cannot be stored byte-exact as UTF-8 text, or ``None`` if it can."""
    if "\x00" in value:
        return "must not contain the NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return UNPAIRED_SURROGATE
    return None


def _number_reason(value: int | float) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value not in _INT_RANGE:
        return "must be an integer of at most 64 bits"
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a finite number (JSON has no NaN or Infinity)"
    # 1.8446744073709552e+19 is a whole number, so JSON Schema counts it an integer (and
    # holds it to the integers' bounds); so does this check, however it was written.
    if isinstance(value, float) and value.is_integer() and int(value) not in _INT_RANGE:
        return "must be an integer of at most 64 bits"
    return None


def find_unstorable(value: Any, path: str = "", depth: int = 0) -> tuple[str, str] | None:
    """The first value (or object key) in ``value`` that cannot be stored, with its path.

    Strings must survive as UTF-8 byte for byte, numbers must be ones JSON can carry, and
    nesting must stay within ``MAX_DEPTH``.
    """
    if isinstance(value, str):
        reason = unstorable_reason(value)
        return (path, reason) if reason else None
    if isinstance(value, int | float):
        number_reason = _number_reason(value)
        return (path or "body", number_reason) if number_reason else None
    if isinstance(value, dict | list) and depth >= MAX_DEPTH:
        return (path or "body", TOO_DEEP)
    if isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and (reason := unstorable_reason(key)):
                return (path or "body", f"has a key that {reason}")
            if found := find_unstorable(item, child, depth + 1):
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            child = f"{path}.{index}" if path else str(index)
            if found := find_unstorable(item, child, depth + 1):
                return found
    return None


# A date, a time with seconds, optional fractions and an offset (optional where UTC is meant).
_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?P<offset>[Zz]|[+-]\d{2}:\d{2})?"
)


def iso_date_time(value: object) -> object:
    """Refuse what is not an ISO 8601 date-time but pydantic would read as one (Unix time)."""
    if isinstance(value, str) and not _DATE_TIME.fullmatch(value):
        raise ValueError("must be an ISO 8601 date-time, e.g. 2025-01-31T09:30:00Z")
    return value


def iso_date_time_with_offset(value: object) -> object:
    """Like :func:`iso_date_time`, but the offset is required and so is a string."""
    match = _DATE_TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None or match.group("offset") is None:
        raise ValueError("must be an ISO 8601 date-time with an offset, e.g. 2025-01-31T09:30:00Z")
    return value


ZonedDateTime = Annotated[AwareDatetime, BeforeValidator(iso_date_time_with_offset)]

# A text query parameter: PostgreSQL cannot compare a string holding the NUL character.
QUERY_TEXT = r"^[^\x00]+$"

DateTimeQuery = Annotated[
    datetime | None,
    BeforeValidator(iso_date_time),
    Query(description="an ISO 8601 date-time, e.g. 2025-01-31T09:30:00Z; UTC if no offset"),
]


def utc_or_none(value: datetime | None) -> datetime | None:
    """A query's date-time, read as UTC when it came without an offset."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def semantic_error(code: str, where: str, message: str) -> PydanticCustomError:
    """A refusal on grounds the OpenAPI document cannot state, with its own public code (one
    of ``api.errors.SEMANTIC_CODES``), naming the field ``where``."""
    return PydanticCustomError(code, "{where}: {message}", {"where": where, "message": message})


class ApiModel(BaseModel):
    """A request body: unknown fields are refused, every string must be storable as given."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, json_schema_extra=with_rules)

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        found = find_unstorable(data)
        if found:
            path, reason = found
            code = _SEMANTIC_REASONS.get(reason.removeprefix("has a key that "))
            if code is not None:
                raise semantic_error(code, path, reason)
            raise ValueError(f"{path}: {reason}")
        return data


class ErrorBody(BaseModel):
    """What went wrong, and in which field."""

    code: str = Field(examples=["invalid_request"])
    message: str
    field: str | None = Field(default=None, examples=["to"])
    details: dict[str, Any] | None = Field(
        default=None,
        description="facts of the error for programs, where it has some (e.g. the channel and "
        "feature of unsupported_content)",
    )


class ErrorEnvelope(BaseModel):
    """Every 4xx and 5xx answer has this shape."""

    error: ErrorBody
    request_id: str


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorEnvelope, "description": description}
    for status, description in {
        400: "Malformed JSON",
        401: "Missing, unknown or revoked API key",
        403: "Scope, IP allowlist or channel not allowed for this key",
        404: "Not found",
        409: "Conflict with the current state",
        413: "Body too large",
        415: "Body is not application/json",
        422: "A field is invalid; `error.field` names it",
        429: "Rate limit exceeded",
    }.items()
}
