"""Who is calling: ``Authorization: Basic AUTH_TOKEN``, the token a Bik key.

The page sends the token verbatim after ``Basic ``. A client that builds Basic credentials
the usual way, ``base64(id:key)``, is served too: the key is the part after the colon (the
id before it is not checked; Bik clients put their app or shop id there).
"""

from __future__ import annotations

import base64
import binascii

from fastapi import Request
from fastapi.security import APIKeyHeader

from chatgate.api.auth import KeyKind, authenticate_secret
from chatgate.domain.dialects import Dialect, kind_of
from chatgate.domain.records import ApiKey

KIND = KeyKind(
    Dialect.BIK,
    "'Authorization: Basic AUTH_TOKEN' (a bik_live_… key)",
    challenge={"WWW-Authenticate": 'Basic realm="bik"'},
)
# Declares the header in the OpenAPI document; :func:`bik_key` reads it itself (HTTP Basic
# as OpenAPI states it would promise base64(id:key) only, and the page sends the bare token).
basic = APIKeyHeader(
    name="Authorization",
    auto_error=False,
    scheme_name="BikAuthToken",
    description="`Basic AUTH_TOKEN`: the key itself, or base64(id:key)",
)


def presented_token(header: str) -> str | None:
    """The key an ``Authorization`` header presents: the token after ``Basic``, or the
    password of ``base64(id:key)`` credentials; ``None`` without a Basic token."""
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "basic" or not token:
        return None
    if kind_of(token) is not None:
        return token
    try:
        decoded = base64.b64decode(token, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return token
    _, colon, key = decoded.partition(":")
    return key if colon and key else token


async def bik_key(request: Request) -> ApiKey:
    """The Bik key the ``Authorization: Basic`` header presents, rate limit applied."""
    return await authenticate_secret(
        request, presented_token(request.headers.get("authorization", "")), KIND
    )
