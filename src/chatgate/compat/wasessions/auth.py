"""Who is calling: ``Authorization: Bearer was_live_…``, a key of this dialect.

The page's keys are Bearer tokens; ours carry the dialect's prefix (``was_live_``, or
``was_test_`` for the sandbox) and are accepted on this dialect's routes only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from chatgate.api.auth import KeyKind, authenticate_secret, record_key_refusal
from chatgate.domain.dialects import Dialect
from chatgate.domain.keys import Scope
from chatgate.domain.records import ApiKey
from chatgate.errors import Forbidden

KIND = KeyKind(Dialect.WASESSIONS, "'Authorization: Bearer was_live_…' (or was_test_…)")
# Declares the scheme in the OpenAPI document; the key itself is read by ``authenticate``.
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="WaSessionsKey",
    description="`Authorization: Bearer was_live_…` (`was_test_…` reaches only the sandbox)",
)


async def authenticate(request: Request) -> ApiKey:
    """The dialect's key the request presents, its IP allowlist and rate limit checked."""
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    presented = secret.strip() if scheme.lower() == "bearer" else ""
    return await authenticate_secret(request, presented or None, KIND)


def require(scope: Scope) -> Callable[..., Awaitable[ApiKey]]:
    """A dependency that authenticates the caller and insists on ``scope`` (403, audited)."""

    async def dependency(
        request: Request,
        key: ApiKey = Depends(authenticate),
        _declared: HTTPAuthorizationCredentials | None = Security(bearer),
    ) -> ApiKey:
        if not key.grants(scope):
            await record_key_refusal(request, "insufficient_scope", key, scope=scope.value)
            raise Forbidden(f"this key lacks the scope {scope.value!r}", code="insufficient_scope")
        return key

    dependency.__name__ = f"require_{scope.name.lower()}"
    return dependency
