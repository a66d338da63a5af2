"""``POST /v1/messages`` answered without the framework's router and dependency solver.

The single send is the gateway's hottest request, and on its way through the framework it
spent more than on the send itself: the route table walked entry by entry, the dependency
solver, and a dozen nested ASGI layers, each resumed on every ``await`` of the request. On
the 2-core bench machine the lane answers 35-45 % more sends per second with the same work.

The middleware has authenticated the key before the lane runs (401, 403 for its IP, 429),
as it does for the route. The lane then does what the framework would do, in the
framework's order and with the framework's own pieces, and calls the route's own endpoint:

1. read the body and parse it as JSON (400 ``invalid_json``);
2. the route's security scheme and ``require(messages:send)``: the key is known, its scope
   is checked (403);
3. validate the ``Idempotency-Key`` header, then the body, against the route's own fields
   (422, the header's errors first);
4. ``send_message`` itself.

Refusals go through the app's own exception handlers, so they leave in the same envelope
with the same headers. The route stays declared on its router: the OpenAPI document is the
same, and ``tests/api/test_send_lane.py`` checks that the lane and the routed request give
the same answers.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.dependencies.utils import request_body_to_args, request_params_to_args
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic_core import PydanticUndefined
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from chatgate.api.auth import bearer, require
from chatgate.api.routes import messages
from chatgate.domain.json_body import load_json
from chatgate.domain.keys import Scope as KeyScope

METHOD = "POST"
PATH = messages.router.prefix
ExceptionHandler = Callable[[Request, Exception], Awaitable[Response]]

_require_send = require(KeyScope.MESSAGES_SEND)


def _send_route() -> APIRoute:
    for route in messages.router.routes:
        if isinstance(route, APIRoute) and route.path == PATH and METHOD in (route.methods or ()):
            return route
    raise LookupError(f"the messages router has no {METHOD} {PATH} route")


class SendLane:
    """Answers ``POST /v1/messages`` as the route would, without routing it."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        route = _send_route()
        if route.endpoint is not messages.send_message or route.body_field is None:
            raise LookupError(f"{METHOD} {PATH} is not the send route the lane knows")
        self.body_field = route.body_field
        self.header_fields = route.dependant.header_params

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await self._answer(request)
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise  # the app's outermost layer answers 500 and logs it, as for any route
            response = await handler(request, exc)
        await response(scope, receive, send)

    async def _answer(self, request: Request) -> Response:
        body = await _json_body(request)
        key = await _require_send(request, await bearer(request))
        headers, errors = request_params_to_args(self.header_fields, request.headers)
        values, body_errors = await request_body_to_args(
            [self.body_field], body, embed_body_fields=False
        )
        if errors or body_errors:
            raise RequestValidationError([*errors, *body_errors], body=body)
        return await messages.send_message(
            body=values[self.body_field.name],
            request=request,
            idempotency_key=headers.get("idempotency_key"),
            key=key,
        )

    def _handler(self, exc: Exception) -> ExceptionHandler | None:
        """The app's handler for ``exc``, as the framework's exception layer would pick it
        (not the catch-all for unexpected errors, which the outermost layer runs)."""
        handlers = self.app.exception_handlers
        for kind in type(exc).__mro__:
            if kind is Exception:
                return None
            if kind in handlers:
                return cast(ExceptionHandler, handlers[kind])
        return None


async def _json_body(request: Request) -> Any:
    """The parsed body, or "undefined" when there is none (the middleware let only JSON by)."""
    raw = await request.body()
    if not raw:
        return PydanticUndefined
    try:
        # The route's models refuse deep nesting themselves, naming the field.
        return load_json(raw, max_depth=None)
    except json.JSONDecodeError as exc:
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body", exc.pos),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": exc.msg},
                }
            ],
            body=exc.doc,
        ) from exc
    except ValueError as exc:
        raise HTTPException(status_code=400, detail="There was an error parsing the body") from exc
