"""MessageHub's keys: ``Authorization: Bearer cpk_live_…`` (or ``cpk_test_…``), scoped.

A revoked key is MessageHub's 403 ("Key revoked or insufficient scope"), where the native
API answers 401: the key is found, and then refused as revoked. Requests with no valid key
count against their source address, 60 a minute, and past that are 429.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from chatgate.api.auth import KeyKind, authenticate_secret
from chatgate.api.state import gateway_of
from chatgate.compat.messagehub.headers import count_anonymous
from chatgate.domain.dialects import Dialect
from chatgate.domain.keys import Scope
from chatgate.domain.records import ApiKey
from chatgate.errors import Forbidden, RateLimited, Unauthenticated
from chatgate.services.audit import record_refusal

KIND = KeyKind(
    Dialect.MESSAGEHUB,
    "'Authorization: Bearer cpk_live_…' (or cpk_test_…)",
    # The page shows X-RateLimit-* on every answer, so a key always has a limit to show.
    default_rate_limit=60,
)
# Declares the scheme in the OpenAPI document; the key itself is read by ``authenticate``.
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="MessageHubKey",
    description="`Authorization: Bearer cpk_live_…` (production) or `cpk_test_…` (sandbox)",
)


def _secret(request: Request) -> str | None:
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    return secret.strip() or None if scheme.lower() == "bearer" else None


async def authenticate(request: Request) -> ApiKey:
    """The MessageHub key the request presents, its IP and rate limit checked."""
    secret = _secret(request)
    try:
        return await authenticate_secret(request, secret, KIND)
    except Unauthenticated:
        if secret is not None and await _revoked(request, secret):
            raise Forbidden(
                "the API key has been revoked", code="key_revoked", field="Authorization"
            ) from None
        await _count_refusal(request)
        raise


async def _count_refusal(request: Request) -> None:
    """A request without a valid key counts against its address (and shows that count);
    past the limit it is refused as 429, so that keys cannot be guessed at speed."""
    limit = await count_anonymous(gateway_of(request), request)
    request.state.rate_limit = limit
    if not limit.allowed:
        raise RateLimited(
            f"too many requests without a valid key from this address; "
            f"retry in {limit.retry_after} s",
            headers={"Retry-After": str(limit.retry_after)},
        ) from None


async def _revoked(request: Request, secret: str) -> bool:
    key = await gateway_of(request).key_cache.lookup(secret)
    return key is not None and key.dialect is Dialect.MESSAGEHUB and key.revoked_at is not None


def require(scope: Scope) -> Callable[..., Awaitable[ApiKey]]:
    """A dependency that authenticates a MessageHub key and insists on ``scope`` (403)."""

    async def dependency(
        request: Request,
        key: ApiKey = Depends(authenticate),
        credentials: HTTPAuthorizationCredentials | None = Security(bearer),
    ) -> ApiKey:
        if not key.grants(scope):
            await record_refusal(
                gateway_of(request).database,
                reason="insufficient_scope",
                source_ip=request.client.host if request.client else None,
                key=key,
                detail={"method": request.method, "path": request.url.path, "scope": scope.value},
            )
            raise Forbidden(f"this key lacks the scope {scope.value!r}", code="insufficient_scope")
        return key

    dependency.__name__ = f"require_{scope.name.lower()}"
    return dependency
