"""Who is calling: the key, its IP allowlist, its rate limit and its scopes.

The middleware authenticates a request to a route that takes a key before the route reads
its body (``authenticate_header``); the route's ``require`` then finds the key already
known and checks its scope.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from dataclasses import field as dataclass_field

from fastapi import Request, Security
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.routing import BaseRoute

from chatgate.api.actor import client_ip
from chatgate.api.state import gateway_of
from chatgate.domain.dialects import Dialect, kind_of
from chatgate.domain.keys import Scope
from chatgate.domain.records import ApiKey
from chatgate.errors import ChatgateError, Forbidden, RateLimited, Unauthenticated
from chatgate.services.audit import record_refusal

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="`Authorization: Bearer cg_live_…` or `cg_test_…`",
)
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True, slots=True)
class KeyKind:
    """Which keys a set of routes accepts, and how its refusals name them."""

    dialect: Dialect | None
    # How a client presents the key, for the message of a request without one.
    presented_as: str
    field: str = "Authorization"
    challenge: dict[str, str] = dataclass_field(default_factory=lambda: dict(_CHALLENGE))
    # Requests per minute for a key with no limit of its own and a plan without one.
    default_rate_limit: int | None = None

    @classmethod
    def native(cls) -> KeyKind:
        """The native API's keys, ``cg_live_…`` and ``cg_test_…``."""
        return _NATIVE


async def authenticate(
    request: Request, credentials: HTTPAuthorizationCredentials | None
) -> ApiKey:
    """The native key behind the request, once its IP and rate limit are checked."""
    secret = (
        credentials.credentials
        if credentials is not None and credentials.scheme.lower() == "bearer"
        else None
    )
    return await authenticate_secret(request, secret, KeyKind.native())


async def authenticate_secret(request: Request, secret: str | None, kind: KeyKind) -> ApiKey:
    """The key of ``kind`` whose ``secret`` the request presents, once its IP and rate limit
    are checked.

    Runs once per request even when several dependencies ask, so that one request counts
    once against the limit.
    """
    state = request.state
    known: ApiKey | None = getattr(state, "api_key", None)
    if known is not None:
        return known
    key = await _identify(request, secret, kind)
    settings = gateway_of(request).settings
    per_minute = (
        key.rate_limit
        or settings.plan(key.plan).rate_limit
        or kind.default_rate_limit
        or settings.default_rate_limit
    )
    # None: the plan (the default `unlimited` one) sets no rate, so nothing to count or show.
    if per_minute is not None:
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


_NATIVE = KeyKind(None, "'Authorization: Bearer cg_…'")


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


async def record_key_refusal(
    request: Request, reason: str, key: ApiKey | None = None, **detail: str
) -> None:
    """Audit a refusal of ``key`` that a route decides itself (a dialect's key used under
    another account's URL, say), as every refusal here is audited; the caller raises it."""
    await _refused(request, reason, key, **detail)


async def _identify(request: Request, secret: str | None, kind: KeyKind) -> ApiKey:
    """The key the request presents, if it is valid here; every refusal is audited."""
    error: ChatgateError
    if not secret:
        error = Unauthenticated(
            f"send your API key as {kind.presented_as}", field=kind.field, headers=kind.challenge
        )
        await _refused(request, "missing_key")
        raise error
    claimed = kind_of(secret)
    key = await gateway_of(request).key_cache.lookup(secret) if claimed else None
    if key is None:
        error = Unauthenticated(
            "the API key is not valid", field=kind.field, headers=kind.challenge
        )
        await _refused(request, "unknown_key")
        raise error
    if key.dialect is not kind.dialect:
        # A key works on its own API's routes only: a vendor's client never holds a native
        # key, and a leaked dialect key opens nothing but that dialect.
        error = Unauthenticated(
            f"this is {_api_name(key.dialect)} key; "
            f"these routes take {_api_name(kind.dialect)} key",
            field=kind.field,
            headers=kind.challenge,
        )
        await _refused(request, "wrong_kind_of_key", key)
        raise error
    if key.revoked_at is not None:
        error = Unauthenticated(
            "the API key has been revoked", field=kind.field, headers=kind.challenge
        )
        await _refused(request, "revoked_key", key)
        raise error
    client = client_ip(request)
    if not key.allows_ip(client):
        error = Forbidden(f"this key may not be used from {client}", code="ip_not_allowed")
        await _refused(request, "ip_not_allowed", key)
        raise error
    return key


def _api_name(dialect: Dialect | None) -> str:
    return f"a {dialect.value} API" if dialect else "a native API (cg_…)"


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
