"""Every error leaves in one envelope: ``{"error": {code, message, field}, "request_id"}``."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from chatgate.domain.channels import ChannelType
from chatgate.domain.content import CONTENT_TYPES
from chatgate.errors import ChatgateError

log = structlog.get_logger(__name__)

_CHANNEL_NAMES = frozenset(ChannelType)
_SOURCES = ("body", "query", "path", "header", "cookie")
# Our validators prefix a message with the field it is about: "to: must be ...".
_FIELD_PREFIX = re.compile(r"^(?:Value error, )?(\w[\w.\-]*): (.+)$", re.DOTALL)
_HTTP_CODES = {
    400: "invalid_json",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
}
# Refusals on grounds a JSON Schema cannot state, raised by validators as pydantic custom
# errors of these types (or by services as errors with the code); each keeps its type as its
# public code, so that a client (and the schema fuzz test) can tell them from a request the
# OpenAPI document already rules out. Why no schema can say each:
SEMANTIC_CODES = frozenset(
    {
        # A phone number of E.164's shape that no country assigns (phonenumbers' metadata),
        # or an address whose shape is another channel's than the one named in another
        # field or query parameter.
        "invalid_address",
        # An address range of the right characters whose digits make no address (999.1.1.1).
        "invalid_ip_range",
        # Metadata is counted in bytes of its JSON encoding; a schema counts characters of
        # strings and members of objects, never the size of a whole encoded value.
        "metadata_too_large",
        # "At most 90 days ahead" is measured from the moment of the request.
        "schedule_too_far",
        # Two identities that differ as text but are one address once normalised
        # ("+1 415 555 0123" and "+14155550123"); uniqueItems compares the text.
        "duplicate_identity",
        # A query's parameters depend on each other (identity needs channel); OpenAPI
        # parameters cannot require one another.
        "channel_required",
        # A template's parts must agree with each other: placeholders and bindings name
        # declared variables, names are unique within the list, positions run 1, 2, …, an
        # example is a real value of its type (a calendar date, a finite number), WhatsApp's
        # parameters are required variables. A schema checks each item on its own.
        "undeclared_variable",
        "duplicate_variable",
        "variable_order",
        "invalid_example",
        "variable_mismatch",
        # Free-form values: a JSON string may escape half a surrogate pair, which no pattern
        # tells apart from text; and a depth limit could only be stated level by level.
        "invalid_unicode",
        "nested_too_deep",
        # A distribution's contact selection is resolved against the stored contacts: how
        # many it matches (none, or more than a distribution takes) is the account's state.
        "no_recipients",
        "too_many_recipients",
        # A WhatsApp product list counts its products across sections (30 in all), and
        # needs section titles only when it has several: the document states each section
        # on its own.
        "too_many_products",
        "section_title_required",
        # A send through a linked-device session depends on the account's sessions: which
        # are working (several: name one in from), and how many chats one started today.
        "session_required",
        "session_not_connected",
        "new_chat_cap_reached",
    }
)
# Validators' custom error types that are public codes of their own.
_OWN_CODES = SEMANTIC_CODES | {"unknown_channel"}
# The framework answers 400 when it cannot parse the body (e.g. JSON nested too deeply).
_HTTP_FIELDS = {400: "body", 413: "body"}


def envelope(
    request_id: str,
    code: str,
    message: str,
    field: str | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The error body; ``details`` (machine-readable facts of the error) only when given."""
    error: dict[str, Any] = {"code": code, "message": message, "field": field}
    if details:
        error["details"] = details
    return {"error": error, "request_id": request_id}


# Renders one error: (request id, status, code, message, field, details) -> (status, body).
ErrorRenderer = Callable[
    [str, int, str, str, str | None, dict[str, Any] | None], tuple[int, dict[str, Any]]
]


def native_error(
    request_id: str,
    status: int,
    code: str,
    message: str,
    field: str | None,
    details: dict[str, Any] | None,
) -> tuple[int, dict[str, Any]]:
    """The native API's error: its status as it is, in the envelope."""
    return status, envelope(request_id, code, message, field, details)


def request_id_of(request: Request) -> str:
    """The id the middleware gave this request."""
    return str(request.scope.get("state", {}).get("request_id", "req_unknown"))


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    headers: dict[str, str] | None = None,
    details: dict[str, Any] | None = None,
    render: ErrorRenderer = native_error,
) -> JSONResponse:
    """An error answer, in the envelope unless ``render`` shapes it otherwise."""
    status, body = render(request_id_of(request), status, code, message, field, details)
    return JSONResponse(body, status_code=status, headers=headers)


def chatgate_error_response(
    request: Request, exc: ChatgateError, render: ErrorRenderer = native_error
) -> JSONResponse:
    """One of our errors as its answer, with its headers (in the envelope unless ``render``
    shapes it otherwise)."""
    return error_response(
        request,
        exc.status_code,
        exc.code,
        exc.message,
        exc.field,
        exc.headers or None,
        exc.details or None,
        render,
    )


def _is_union_tag(loc: list[str], index: int) -> bool:
    """Whether ``loc[index]`` is the tag a discriminated union put in an error's path."""
    if index and loc[index - 1] == "content":
        return loc[index] in CONTENT_TYPES
    return index > 1 and loc[index - 2] == "identities" and loc[index] in _CHANNEL_NAMES


def describe_validation_error(error: dict[str, Any]) -> tuple[str, str | None, str]:
    """``(code, field, message)`` for one pydantic error, with the field as a dotted path."""
    loc = [str(part) for part in error.get("loc", ())]
    source = loc.pop(0) if loc and loc[0] in _SOURCES else "body"
    error_type = error.get("type", "")
    message = str(error.get("msg", "is invalid"))
    if error_type == "json_invalid":
        return (
            "invalid_json",
            "body",
            f"the body is not valid JSON: {error.get('ctx', {}).get('error', message)}",
        )
    # A discriminated union puts the chosen tag in the path: content.text.text -> content.text,
    # identities.0.sms.id -> identities.0.id
    path = [part for index, part in enumerate(loc) if not _is_union_tag(loc, index)]
    if error_type in ("union_tag_invalid", "union_tag_not_found"):
        tag = str(error.get("ctx", {}).get("discriminator", "'type'")).strip("'")
        path.append(tag)
        choices = CONTENT_TYPES if tag == "type" else tuple(ChannelType)
        message = f"must be one of: {', '.join(choices)}"
    match = _FIELD_PREFIX.match(message)
    code = error_type if error_type in _OWN_CODES else "invalid_request"
    if (error_type in ("value_error", "assertion_error") or code != "invalid_request") and match:
        path.extend(part for part in match.group(1).split(".") if part and part != "body")
        message = match.group(2)
    elif message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    if error_type == "extra_forbidden" and path and not path[-1]:
        # A key named "" would make the field the parent's path, or nothing at all.
        path.pop()
        return "invalid_request", ".".join(path) or "body", 'has a field named "", not a known one'
    if not path:
        return code, source if source != "body" else "body", message
    field = ".".join(path)
    if error_type == "missing":
        message = "is required"
    elif error_type == "extra_forbidden":
        message = "is not a known field"
    return code, field, message


def _described(error: dict[str, Any]) -> dict[str, Any]:
    code, field, message = describe_validation_error(error)
    return {"code": code, "field": field, "message": message}


def install_error_handlers(
    app: FastAPI, render: ErrorRenderer = native_error, *, every_error: bool = False
) -> None:
    """Make every error, ours or the framework's, leave in the envelope (or as ``render``
    shapes it: a dialect's errors). With ``every_error``, a request's validation errors are
    all handed to ``render`` as ``details["errors"]`` (``[{code, field, message}]``), for
    a vendor that lists every problem of a request."""

    @app.exception_handler(ChatgateError)
    async def _ours(request: Request, exc: ChatgateError) -> JSONResponse:
        return chatgate_error_response(request, exc, render)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        code, field, message = (
            describe_validation_error(errors[0])
            if errors
            else ("invalid_request", None, "invalid request")
        )
        status = 400 if code == "invalid_json" else 422
        details = None
        if every_error and len(errors) > 1:
            details = {"errors": [_described(dict(error)) for error in errors]}
        return error_response(request, status, code, message, field, details=details, render=render)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return error_response(
            request,
            exc.status_code,
            code,
            str(exc.detail),
            _HTTP_FIELDS.get(exc.status_code),
            dict(exc.headers) if exc.headers else None,
            render=render,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception(
            "api.unhandled_error", path=request.url.path, request_id=request_id_of(request)
        )
        return error_response(
            request,
            500,
            "internal_error",
            "an unexpected error occurred; it has been logged",
            render=render,
        )
