"""One pure-ASGI middleware for what every request shares.

It gives each request an id, refuses a method the path does not have and bodies that are
too large or not JSON before any route runs, authenticates the key of a route that takes
one before its body is read, and stamps the id and the key's rate-limit state on every
response.

The order of refusals: 405, then 413 and 415 (decided from the headers alone), then 401,
403 for the key's IP and 429; only then is a body read (413 for one of no declared length)
and parsed (400), the key's scope checked (403) and the fields validated (422). So a caller
without a valid key cannot make the gateway read or parse a body of up to the cap.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatgate.api.auth import authenticate_header
from chatgate.api.errors import ErrorRenderer, chatgate_error_response, native_error
from chatgate.api.methods import PathMethods
from chatgate.api.ratelimit import RateLimitState
from chatgate.domain.ids import new_id
from chatgate.domain.records import ApiKey
from chatgate.errors import ChatgateError

_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,100}")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class _ClientGone(Exception):
    """The client went away before its body was complete."""


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _route_path(scope: Scope) -> str:
    """The request's path below the app's root path, as the router matches it."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] or "/" if root and path.startswith(root) else path


class GatewayMiddleware:
    """Request ids, body guards and response headers."""

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        methods: PathMethods | None = None,
        lanes: Mapping[tuple[str, str], ASGIApp] | None = None,
        *,
        render: ErrorRenderer = native_error,
        authenticate: Callable[[Request], Awaitable[ApiKey]] = authenticate_header,
        passthrough: tuple[str, ...] = (),
        platform_paths: tuple[str, ...] = ("/inbound/",),
    ) -> None:
        """``lanes`` answer their (method, path) in place of the app's router; ``render``
        shapes refusals and ``authenticate`` finds the key of a keyed route (a dialect's
        own, for a dialect's app); requests to paths under ``passthrough`` (the dialects'
        apps, each with a middleware of its own) get only their id and headers here; bodies
        posted to paths under ``platform_paths`` (platforms' webhooks) may be of any type."""
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.methods = methods
        self.lanes = lanes or {}
        self.render = render
        self.authenticate = authenticate
        self.passthrough = passthrough
        self.platform_paths = platform_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        state: dict[str, Any] = scope.setdefault("state", {})
        request_id = state.get("request_id")  # an outer middleware's, for a dialect's app
        if request_id is None:
            given = headers.get("x-request-id", "")
            request_id = given if _CLIENT_REQUEST_ID.fullmatch(given) else new_id("req")
            state["request_id"] = request_id

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                out["X-Request-ID"] = request_id
                limit: RateLimitState | None = state.get("rate_limit")
                if limit is not None:
                    for name, value in limit.headers().items():
                        out[name] = value
            await send(message)

        path = _route_path(scope)
        if self.passthrough and path.startswith(self.passthrough):
            await self.app(scope, receive, send_with_headers)
            return
        methods = self.methods.of(path) if self.methods else None
        if methods is not None and scope["method"] not in methods.allowed:
            allow = ", ".join(sorted(methods.allowed))
            not_allowed = self._error(
                request_id,
                405,
                "method_not_allowed",
                f"{scope['method']} is not allowed here; allowed: {allow}",
            )
            await self._refuse(send_with_headers, *not_allowed, {"allow": allow})
            return
        refusal = self._refusal(scope["method"], scope["path"], headers, request_id)
        if refusal is not None:
            await self._refuse(send_with_headers, *refusal)
            return
        if methods is not None and scope["method"] in methods.keyed:
            request = Request(scope)
            try:
                # Kept in the request's state: the route's own check finds the key known.
                await self.authenticate(request)
            except ChatgateError as exc:
                answer = chatgate_error_response(request, exc, self.render)
                await answer(scope, receive, send_with_headers)
                return
        if scope["method"] in _BODY_METHODS and "content-length" not in headers:
            # A body of no declared length (chunked) is read here, up to the cap, so that
            # one too large is refused with 413 before any route reads it.
            try:
                read = await self._read_capped(receive)
            except _ClientGone:
                return  # nobody is left to answer, and half a request is not run
            if read is None:
                await self._refuse(send_with_headers, *self._too_large(request_id))
                return
            receive = _replay(read, receive)
        app = self.lanes.get((scope["method"], path), self.app)
        await app(scope, receive, send_with_headers)

    def _refusal(
        self, method: str, path: str, headers: Headers, request_id: str
    ) -> tuple[int, dict[str, Any]] | None:
        if method not in _BODY_METHODS:
            return None
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            return self._too_large(request_id)
        has_body = (length is not None and length != "0") or "transfer-encoding" in headers
        content_type = headers.get("content-type")
        # Platforms post webhooks in their own formats (some form-encoded): the adapter reads them.
        platform_webhook = path.startswith(self.platform_paths)
        if has_body and not platform_webhook and not _is_json(content_type or ""):
            shown = content_type or "none"
            return self._error(
                request_id,
                415,
                "unsupported_media_type",
                f"send the body as application/json (got {shown})",
                "Content-Type",
            )
        return None

    def _error(
        self, request_id: str, status: int, code: str, message: str, field: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        return self.render(request_id, status, code, message, field, None)

    def _too_large(self, request_id: str) -> tuple[int, dict[str, Any]]:
        return self._error(
            request_id,
            413,
            "payload_too_large",
            f"the body must be at most {self.max_body_bytes} bytes",
            "body",
        )

    @staticmethod
    async def _refuse(
        send: Send, status: int, body: dict[str, Any], extra: dict[str, str] | None = None
    ) -> None:
        payload = orjson.dumps(body)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    *((name.encode(), value.encode()) for name, value in (extra or {}).items()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    async def _read_capped(self, receive: Receive) -> bytes | None:
        """The whole body, or ``None`` once it passes the cap (the rest is left unread)."""
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise _ClientGone
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` in one message, then passes on to ``receive``."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
