"""The native API's OpenAPI document: FastAPI's, with each parameter stated as it is sent,
and each bound as exact as the model's.

An optional header or query parameter is declared ``str | None`` in Python, which FastAPI
writes as ``anyOf: [string, null]``; but a header or a query value is never JSON null, only
present or absent. A client (or a fuzzer) reading ``null`` as allowed would send the text
"null", which the parameter's own pattern refuses. The document says what is sent.

FastAPI's document model keeps ``minimum`` and ``maximum`` as floats, so that 2**64 comes out
as ``1.8446744073709552e+19``: a reader doing arithmetic on it (the largest integer below it)
gets a wrong answer, floats being 4096 apart there. A bound that is a whole number is written
as the integer it is; the models' bounds are chosen to be exact as floats (``free_form``).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

_NULL = {"type": "null"}


def install_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` return the document with its parameters never null."""
    build = app.openapi

    def document() -> dict[str, Any]:
        fresh = app.openapi_schema is None
        schema = build()
        if fresh:
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    for parameter in operation.get("parameters", ()):
                        parameter["schema"] = never_null(parameter["schema"])
            whole_bounds(schema)
        return schema

    app.openapi = document  # type: ignore[method-assign]  # FastAPI's documented override


_BOUNDS = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})


def whole_bounds(node: Any) -> None:
    """Every numeric bound within ``node`` that is a whole number, written as an integer."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _BOUNDS and isinstance(value, float) and value.is_integer():
                node[key] = int(value)
            else:
                whole_bounds(value)
    elif isinstance(node, list):
        for value in node:
            whole_bounds(value)


def never_null(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` without its ``null`` alternative (``anyOf: [T, null]`` becomes ``T``)."""
    members = schema.get("anyOf")
    if not members or _NULL not in members:
        return schema
    others = [member for member in members if member != _NULL]
    rest = {key: value for key, value in schema.items() if key != "anyOf"}
    if len(others) == 1:
        return {**rest, **others[0]}
    return {**rest, "anyOf": others}
