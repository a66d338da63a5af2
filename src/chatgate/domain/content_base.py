"""What every part of the content union is built on: strict models, JSON's own types, the
limits of text, and the URLs a platform fetches."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, HttpUrl, Strict

from chatgate.domain.schema_rules import HTTP_URL_PATTERN, with_rules

MAX_TEXT = 4096
MAX_CAPTION = 1024


def json_integer(value: object) -> object:
    """JSON Schema's integer is a number without a fractional part: 160.0 is 160."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# JSON's own types, not pydantic's coercions: no false or "1.5" for a number, no 0 or
# "yes" for a boolean (the schema says number and boolean).
Number = Annotated[float, Strict()]
Integer = Annotated[int, Strict(), BeforeValidator(json_integer)]
Boolean = Annotated[bool, Strict()]


class StrictModel(BaseModel):
    """A part of a content: unknown fields refused, frozen, its rules in its schema."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, str_min_length=0, json_schema_extra=with_rules
    )


# An http(s) URL; the pattern states for the schema what HttpUrl checks.
WebUrl = Annotated[HttpUrl, Field(json_schema_extra={"pattern": HTTP_URL_PATTERN})]
