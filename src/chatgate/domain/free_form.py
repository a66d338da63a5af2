"""Free-form JSON values (metadata, template values, a batch's items), typed as they are kept.

A field that takes any JSON still takes only what can be stored: text without the NUL
character (PostgreSQL cannot hold it), in values and in object keys alike, and integers of at
most 64 bits (what the JSON encoder writes). These types say so, so that the OpenAPI document
states it beside every free-form field: a recursive ``StorableValue``. The request models
check the same rules first, naming the path of the first value at fault
(``api.schemas.common.find_unstorable``); the types then only state them.

What a schema cannot state is left to that check: the nesting depth (at most
``json_body.MAX_DEPTH`` levels) and unpaired surrogates, which a JSON document may escape
but no pattern matches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import Field, GetJsonSchemaHandler, StringConstraints, WithJsonSchema
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema
from typing_extensions import TypeAliasType

from chatgate.domain.schema_rules import NO_NUL

INT64_MIN = -(2**63)
# Unsigned 64-bit integers are written too, so every integer below 2**64 is. Stated as an
# exclusive bound: the OpenAPI document keeps bounds as floats, and 2**64 is one exactly
# where 2**64 - 1 is not (it would round up to 2**64 and let that in).
INT64_END = 2**64


class PropertyNames:
    """States what an object's keys must be (``propertyNames``): pydantic would write a key
    pattern as ``patternProperties``, which leaves every other key free."""

    def __init__(self, pattern: str = NO_NUL, max_length: int | None = None) -> None:
        self.names: dict[str, Any] = {"pattern": pattern}
        if max_length is not None:
            self.names["maxLength"] = max_length

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """The object's schema, with its keys' rule."""
        schema = handler(core_schema)
        schema["propertyNames"] = dict(self.names)
        return schema


StorableText = Annotated[str, StringConstraints(pattern=NO_NUL)]
Int64 = Annotated[int, Field(ge=INT64_MIN, lt=INT64_END)]
# A number that is no integer (an integer is Int64's, and bounded there): JSON Schema counts
# 2.0 as an integer, so the bound cannot be left to a plain "number".
Fraction = Annotated[float, WithJsonSchema({"type": "number", "not": {"type": "integer"}})]

if TYPE_CHECKING:
    StorableValue = Any
    StorableObject = dict[str, Any]
else:
    StorableValue = TypeAliasType(
        "StorableValue",
        Union[  # noqa: UP007  (a recursive alias needs the forward reference in a Union)
            StorableText,
            Int64,
            Fraction,
            bool,
            list["StorableValue"],
            Annotated[dict[str, "StorableValue"], PropertyNames()],
            None,
        ],
    )
    StorableObject = Annotated[dict[str, StorableValue], PropertyNames()]
    """A JSON object of storable values: metadata, a batch's item, a distribution's
    recipient, credentials given to a merge."""
