"""One exception tree for Chatgate.

Every error a client can see knows its HTTP status and its public ``code``; the API turns
any of them into the error envelope ``{"error": {"code", "message", "field", "details"?},
"request_id"}``, where ``details`` carries facts for programs when an error has some.
Messages are written for the client and must never carry a secret.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ChatgateError(Exception):
    """Base of every error Chatgate raises on purpose."""

    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.headers = headers or {}
        self.details = details or {}
        if code is not None:
            self.code = code  # type: ignore[misc]  # instance override of the class default


class InvalidRequest(ChatgateError):
    """The request is malformed or a field holds a value we refuse."""

    status_code = 422
    code = "invalid_request"


class MalformedBody(ChatgateError):
    """The body is not parseable at all (broken JSON)."""

    status_code = 400
    code = "invalid_json"


class UnsupportedMediaType(ChatgateError):
    """The body is not sent as ``application/json``."""

    status_code = 415
    code = "unsupported_media_type"


class Unauthenticated(ChatgateError):
    """No key, an unknown key or a revoked key."""

    status_code = 401
    code = "unauthenticated"


class PaymentRequired(ChatgateError):
    """The account's credit does not cover what was asked."""

    status_code = 402
    code = "insufficient_credit"


class Forbidden(ChatgateError):
    """The key is valid but may not do this (scope, IP, channel)."""

    status_code = 403
    code = "forbidden"


class NotFound(ChatgateError):
    """The object does not exist for this account."""

    status_code = 404
    code = "not_found"


class Conflict(ChatgateError):
    """The request conflicts with the current state (channel rules, idempotency in flight)."""

    status_code = 409
    code = "conflict"


class RateLimited(ChatgateError):
    """Too many requests for this key."""

    status_code = 429
    code = "rate_limited"


class ServiceUnavailable(ChatgateError):
    """A dependency (the store) cannot be reached."""

    status_code = 503
    code = "service_unavailable"
