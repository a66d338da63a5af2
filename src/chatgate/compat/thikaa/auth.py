"""Who is calling: a ``tk_live_…``/``tk_test_…`` key, under its own account's URL."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from chatgate.api.auth import KeyKind, authenticate_secret, record_key_refusal
from chatgate.api.state import gateway_of
from chatgate.domain.dialects import Dialect
from chatgate.domain.records import ApiKey
from chatgate.errors import Unauthenticated
from chatgate.storage import accounts as account_store

KIND = KeyKind(
    Dialect.THIKAA,
    "'Authorization: Bearer tk_live_…'",
    # The page: "Rate limit (default 60/min per key)".
    default_rate_limit=60,
)


# Declares the key in the OpenAPI document; :func:`thikaa_key` reads the header itself (the
# middleware calls it with the request alone, before the body is read).
bearer = HTTPBearer(
    auto_error=False, scheme_name="ThikaaKey", description="`Authorization: Bearer tk_live_…`"
)


async def thikaa_key(request: Request) -> ApiKey:
    """The Thikaa key the ``Authorization: Bearer`` header presents, rate limit applied."""
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    presented = secret.strip() if scheme.lower() == "bearer" else None
    return await authenticate_secret(request, presented or None, KIND)


async def instance_key(
    request: Request,
    account: Annotated[str, Path(min_length=1, max_length=200, description="your account's name")],
    key: ApiKey = Depends(thikaa_key),
    _declared: HTTPAuthorizationCredentials | None = Security(bearer),
) -> ApiKey:
    """The caller's key, if ``account`` in the URL is the key's own account.

    Any other account name is refused like an invalid key, whether or not such an account
    exists: a key must not tell its holder which other accounts there are.
    """
    async with gateway_of(request).database.read() as conn:
        owner = await account_store.get_account(conn, key.account_id)
    if owner is None or owner.name != account:
        await record_key_refusal(request, "wrong_account", key, account=account[:200])
        raise Unauthenticated(
            "the API key is not valid for this URL's account",
            field="Authorization",
            headers=dict(KIND.challenge),
        )
    return key
