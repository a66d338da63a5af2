"""Rules our models check in validators, stated for their JSON Schema as well.

A model validator can say "a reply button needs an id" or "header takes exactly one of text
or media"; a JSON Schema says the same with ``anyOf``/``oneOf`` branches, each a set of
``required`` fields and property constraints. Each model keeps its rule beside its
validator (``schema_rules``) and this module merges it into the model's schema, together
with the rule every request body is held to: text must be storable, so no string may hold
the NUL character.
"""

from __future__ import annotations

from typing import Any

# Text is stored byte-exact as UTF-8, which PostgreSQL cannot do with NUL in it.
NO_NUL = r"^[^\x00]*$"

# An http(s) URL with a host (a DNS name, IPv4 or bracketed IPv6 address) and a valid port:
# what pydantic's ``HttpUrl`` and ``AnyHttpUrl`` take, as a JSON Schema pattern can state it.
HTTP_URL_PATTERN = (
    r"^[Hh][Tt][Tt][Pp][Ss]?://(?:[^\s/?#@\[\]]+@)?(?:[A-Za-z0-9._\-]+|\[[0-9A-Fa-f:.]+\])"
    r"(?::(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?"
    r"(?:[/?#][^\s\x00]*)?$"
)


def integer_pattern(maximum: int, digits: int) -> str:
    """A pattern (no anchors) of the integers 1 to ``maximum`` written in at most ``digits``
    digits, leading zeros allowed: a bound a string field's number must keep, for a schema."""
    alternatives = []
    for width in range(1, len(str(maximum)) + 1):
        low, high = 10 ** (width - 1), min(maximum, 10**width - 1)
        zeros = f"0{{0,{digits - width}}}" if digits > width else ""
        alternatives.append(zeros + _digit_range(str(low), str(high)))
    return f"(?:{'|'.join(alternatives)})"


def _digit_range(low: str, high: str) -> str:
    # The numbers from low to high, both of the same number of digits.
    if len(low) == 1:
        return low if low == high else f"[{low}-{high}]"
    rest = len(low) - 1
    if low[1:] == "0" * rest and high[1:] == "9" * rest:
        return _digit_range(low[0], high[0]) + f"[0-9]{{{rest}}}"
    if low[0] == high[0]:
        return low[0] + _digit_range(low[1:], high[1:])
    parts = [low[0] + _digit_range(low[1:], "9" * rest)]
    if int(high[0]) - int(low[0]) > 1:
        parts.append(f"[{int(low[0]) + 1}-{int(high[0]) - 1}][0-9]{{{rest}}}")
    parts.append(high[0] + _digit_range("0" * rest, high[1:]))
    return f"(?:{'|'.join(parts)})"


def branch(required: list[str] | None = None, **properties: Any) -> dict[str, Any]:
    """One ``anyOf``/``oneOf`` branch: these property constraints, these fields required."""
    found: dict[str, Any] = {"properties": properties}
    if required:
        found["required"] = required
    return found


def with_rules(schema: dict[str, Any], cls: type) -> None:
    """A model's schema with its class's ``schema_rules`` and the storable-text rule.

    ``schema_rules`` is a list of alternatives lists: each becomes an ``anyOf`` (all of them
    under one ``allOf``); a class's ``schema_one_of`` becomes a ``oneOf``.
    """
    storable_strings(schema)
    for prop in schema.get("properties", {}).values():
        for variant in _variants(prop):
            _keys_by_pattern(variant)
    rules: list[list[dict[str, Any]]] = list(getattr(cls, "schema_rules", ()))
    if len(rules) == 1:
        schema["anyOf"] = rules[0]
    elif rules:
        schema["allOf"] = [{"anyOf": alternatives} for alternatives in rules]
    one_of = getattr(cls, "schema_one_of", None)
    if one_of:
        schema["oneOf"] = one_of
    if getattr(cls, "schema_requires_type", False):
        # ``type`` has a default for code that builds content, but a request must name it:
        # it is what tells the content union's members apart.
        schema["required"] = ["type", *schema.get("required", [])]


def storable_strings(schema: dict[str, Any]) -> None:
    """Give every free-text string property of ``schema`` (and every free-text string item
    of a list property, or value of an object property) the NUL-free pattern."""
    for prop in schema.get("properties", {}).values():
        for variant in _variants(prop):
            _no_nul(variant)
            for key in ("items", "additionalProperties"):
                if isinstance(member := variant.get(key), dict):
                    for item in _variants(member):
                        _no_nul(item)


def storable_everywhere(schema: Any) -> None:
    """Give every free-text string schema within ``schema``, however deep (object
    properties, ``oneOf`` branches, items), the NUL-free pattern."""
    if isinstance(schema, dict):
        _no_nul(schema)
        for value in schema.values():
            storable_everywhere(value)
    elif isinstance(schema, list):
        for value in schema:
            storable_everywhere(value)


def _variants(prop: dict[str, Any]) -> list[dict[str, Any]]:
    # A property's schema, or each member of its anyOf (an optional field is [T, null]).
    return [prop, *prop.get("anyOf", ())]


def _keys_by_pattern(candidate: dict[str, Any]) -> None:
    # Pydantic writes a dict whose keys have a pattern as ``patternProperties``, which
    # leaves every other key free; the model refuses them, so the schema says
    # ``propertyNames`` and holds every value to the one value schema.
    patterns = candidate.get("patternProperties")
    if not patterns or len(patterns) != 1 or "additionalProperties" in candidate:
        return
    ((pattern, values),) = patterns.items()
    del candidate["patternProperties"]
    candidate["propertyNames"] = {**candidate.get("propertyNames", {}), "pattern": pattern}
    candidate["additionalProperties"] = values


def _no_nul(candidate: dict[str, Any]) -> None:
    if candidate.get("type") != "string":
        return
    if any(key in candidate for key in ("pattern", "enum", "const")):
        return
    # A formatted string (a URL, a date) has its own shape; a secret's is free text.
    if candidate.get("format", "password") != "password":
        return
    candidate["pattern"] = NO_NUL
