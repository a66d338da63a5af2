"""Pieces shared by every request and response model."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


def unstorable_reason(value: str) -> str | None:
    """Why ``value`` cannot be stored byte-exact as UTF-8 text, or ``None`` if it can."""
    if "\x00" in value:
        return "must not contain the NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode (it holds an unpaired surrogate)"
    return None


def find_unstorable(value: Any, path: str = "") -> tuple[str, str] | None:
    """The first string (or object key) in ``value`` that cannot be stored, with its path."""
    if isinstance(value, str):
        reason = unstorable_reason(value)
        return (path, reason) if reason else None
    if isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and (reason := unstorable_reason(key)):
                return (path or "body", f"has a key that {reason}")
            if found := find_unstorable(item, child):
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            if found := find_unstorable(item, f"{path}.{index}" if path else str(index)):
                return found
    return None


class ApiModel(BaseModel):
    """A request body: unknown fields are refused, every string must be storable as given."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        found = find_unstorable(data)
        if found:
            path, reason = found
            raise ValueError(f"{path}: {reason}")
        return data


class ErrorBody(BaseModel):
    """What went wrong, and in which field."""

    code: str = Field(examples=["invalid_request"])
    message: str
    field: str | None = Field(default=None, examples=["to"])


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
