"""Who is calling: the key, its IP allowlist, its rate limit and its scopes.

The middleware authenticates a request to a route that takes a key before the route reads
its body (``authenticate_header``); the route's ``require`` then finds the key already
known and checks its scope.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request, Security
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.routing import BaseRoute

from chatgate.api.actor import client_ip
from chatgate.api.state import gateway_of
from chatgate.domain.keys import Scope, mode_of
from chatgate.domain.records import ApiKey
from chatgate.errors import ChatgateError, Forbidden, RateLimited, Unauthenticated
from chatgate.services.audit import record_refusal

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
    key = await _identify(request, credentials)
    settings = gateway_of(request).settings
    per_minute = key.rate_limit or settings.plan(key.plan).rate_limit or settings.default_rate_limit
    limit = await gateway_of(request).limiter.hit(key.id, per_minute)
    state.rate_limit = limit
    if not limit.allowed:
        raise RateLimited(
            f"rate limit of {limit.limit} requests per minute exceeded; "
            f"retry in {limit.retry_after} s",
            headers={"Retry-After": str(limit.retry_after)},
        )
    state.api_key = key
    return key


async def authenticate_header(request: Request) -> ApiKey:
    """:func:`authenticate` with the key the ``Authorization`` header presents."""
    return await authenticate(request, await bearer(request))


def takes_key(route: BaseRoute) -> bool:
    """Whether ``route`` authenticates its caller by a key in the ``Authorization`` header."""
    return isinstance(route, APIRoute) and _presents_bearer(route.dependant)


def _presents_bearer(dependant: Dependant) -> bool:
    return any(sub.call is bearer or _presents_bearer(sub) for sub in dependant.dependencies)


async def _refused(request: Request, reason: str, key: ApiKey | None = None, **detail: str) -> None:
    """Record a refusal in the audit log (the caller raises it), at most
    ``auth_refusals_logged_per_minute`` a minute from one address: anyone can be refused,
    and what anyone can do must not grow a table without bound."""
    gateway = gateway_of(request)
    source_ip = client_ip(request)
    kept = await gateway.limiter.hit(
        f"auth-refusals:{source_ip}", gateway.settings.auth_refusals_logged_per_minute
    )
    if not kept.allowed:
        return
    await record_refusal(
        gateway.database,
        reason=reason,
        source_ip=source_ip,
        key=key,
        detail={"method": request.method, "path": request.url.path, **detail},
    )


async def _identify(request: Request, credentials: HTTPAuthorizationCredentials | None) -> ApiKey:
    """The key the request presents, if it is valid here; every refusal is audited."""
    error: ChatgateError
    if credentials is None or credentials.scheme.lower() != "bearer":
        error = Unauthenticated(
            "send your API key as 'Authorization: Bearer cg_…'",
            field="Authorization",
            headers=_CHALLENGE,
        )
        await _refused(request, "missing_key")
        raise error
    secret = credentials.credentials
    key = await gateway_of(request).key_cache.lookup(secret) if mode_of(secret) else None
    if key is None:
        error = Unauthenticated(
            "the API key is not valid", field="Authorization", headers=_CHALLENGE
        )
        await _refused(request, "unknown_key")
        raise error
    if key.revoked_at is not None:
        error = Unauthenticated(
            "the API key has been revoked",
            field="Authorization",
            headers=_CHALLENGE,
        )
        await _refused(request, "revoked_key", key)
        raise error
    client = client_ip(request)
    if not key.allows_ip(client):
        error = Forbidden(f"this key may not be used from {client}", code="ip_not_allowed")
        await _refused(request, "ip_not_allowed", key)
        raise error
    return key


def require(scope: Scope) -> Callable[..., Awaitable[ApiKey]]:
    """A dependency that authenticates and insists on ``scope``."""

    async def dependency(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Security(bearer)
    ) -> ApiKey:
        key = await authenticate(request, credentials)
        if not key.grants(scope):
            error = Forbidden(
                f"this key lacks the scope {scope.value!r}", code="insufficient_scope"
            )
            await _refused(request, "insufficient_scope", key, scope=scope.value)
            raise error
        return key

    dependency.__name__ = f"require_{scope.name.lower()}"
    return dependency
