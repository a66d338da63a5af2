"""Who is calling: the key, its IP allowlist, its rate limit and its scopes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from chatgate.api.state import gateway_of
from chatgate.domain.keys import Scope, mode_of
from chatgate.domain.records import ApiKey
from chatgate.errors import Forbidden, RateLimited, Unauthenticated

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="`Authorization: Bearer cg_live_…` or `cg_test_…`",
)
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


async def authenticate(
    request: Request, credentials: HTTPAuthorizationCredentials | None
) -> ApiKey:
    """The key behind the request, once its IP and rate limit are checked.

    Runs once per request even when several dependencies ask, so that one request counts
    once against the limit.
    """
    state = request.state
    known: ApiKey | None = getattr(state, "api_key", None)
    if known is not None:
        return known
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated(
            "send your API key as 'Authorization: Bearer cg_…'",
            field="Authorization",
            headers=_CHALLENGE,
        )
    secret = credentials.credentials
    gateway = gateway_of(request)
    key = await gateway.key_cache.lookup(secret) if mode_of(secret) else None
    if key is None:
        raise Unauthenticated("the API key is not valid", field="Authorization", headers=_CHALLENGE)
    if key.revoked_at is not None:
        raise Unauthenticated(
            "the API key has been revoked", field="Authorization", headers=_CHALLENGE
        )
    client = request.client.host if request.client else None
    if not key.allows_ip(client):
        raise Forbidden(f"this key may not be used from {client}", code="ip_not_allowed")
    limit = await gateway.limiter.hit(key.id, key.rate_limit or gateway.settings.default_rate_limit)
    state.rate_limit = limit
    if not limit.allowed:
        raise RateLimited(
            f"rate limit of {limit.limit} requests per minute exceeded; "
            f"retry in {limit.retry_after} s",
            headers={"Retry-After": str(limit.retry_after)},
        )
    state.api_key = key
    return key


def require(scope: Scope) -> Callable[..., Awaitable[ApiKey]]:
    """A dependency that authenticates and insists on ``scope``."""

    async def dependency(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Security(bearer)
    ) -> ApiKey:
        key = await authenticate(request, credentials)
        if not key.grants(scope):
            raise Forbidden(f"this key lacks the scope {scope.value!r}", code="insufficient_scope")
        return key

    dependency.__name__ = f"require_{scope.name.lower()}"
    return dependency
