"""Who is calling: the ``x-api-key`` header, a key made with ``--dialect whautochat``."""

from __future__ import annotations

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from chatgate.api.auth import KeyKind, authenticate_secret, record_key_refusal
from chatgate.domain.dialects import Dialect
from chatgate.domain.keys import Scope
from chatgate.domain.records import ApiKey
from chatgate.errors import Forbidden

HEADER = "x-api-key"
KIND = KeyKind(
    Dialect.WHAUTOCHAT,
    f"'{HEADER}: wac_live_…'",
    field=HEADER,
    challenge={"WWW-Authenticate": f'ApiKey header="{HEADER}"'},
)
# Declares the key in the OpenAPI document; :func:`whautochat_key` reads the header itself
# (the middleware calls it with the request alone, before the body is read).
api_key_header = APIKeyHeader(
    name=HEADER,
    auto_error=False,
    scheme_name="WhautoChatKey",
    description="`x-api-key: wac_live_…` (`wac_test_…` reaches only the sandbox)",
)


async def whautochat_key(request: Request) -> ApiKey:
    """The WhautoChat key the ``x-api-key`` header presents, rate limit applied."""
    presented = request.headers.get(HEADER, "").strip()
    return await authenticate_secret(request, presented or None, KIND)


async def sender_key(
    request: Request,
    key: ApiKey = Depends(whautochat_key),
    _declared: str | None = Security(api_key_header),
) -> ApiKey:
    """The caller's key, if it may send (``messages:send``; else 403, audited)."""
    if not key.grants(Scope.MESSAGES_SEND):
        scope = Scope.MESSAGES_SEND.value
        await record_key_refusal(request, "insufficient_scope", key, scope=scope)
        raise Forbidden(f"this key lacks the scope {scope!r}", code="insufficient_scope")
    return key
