"""Signing Chatgate's webhooks, and checking them on the receiving side.

Chatgate signs as the Standard Webhooks specification says: the headers ``webhook-id``
(the same on every retry of one delivery), ``webhook-timestamp`` (seconds since the epoch)
and ``webhook-signature``: ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``, keyed
with the bytes the secret ``whsec_<base64>`` encodes. While a secret is being rotated, both
the old and the new one sign, space-separated. An endpoint can also ask for the plain form,
``X-Chatgate-Signature: sha256=<hex HMAC-SHA256 of the raw body>`` with the same key.

A receiver checks a delivery with :func:`verify`::

    from chatgate.webhooks import verify
    event = verify(secret, request.headers, raw_body)   # raises WebhookVerificationError
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix, not a secret
PLAIN_SIGNATURE_HEADER = "X-Chatgate-Signature"
# How far a timestamp may be from the receiver's clock, either way (as the spec advises).
DEFAULT_TOLERANCE_SECONDS = 5 * 60
_SECRET_BYTES = 32


class WebhookVerificationError(Exception):
    """The delivery is not one signed with this secret (or is too old or too new)."""


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode()


@functools.lru_cache(maxsize=1024)
def _key(secret: str) -> bytes:
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(encoded, validate=True)
    except ValueError as exc:
        raise WebhookVerificationError("the secret is not whsec_ and base64") from exc


def signature(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``v1,…`` signature of one delivery."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.digest(_key(secret), signed, "sha256")).decode()


def plain_signature(secret: str, body: bytes) -> str:
    """The ``sha256=<hex>`` signature of the raw body alone."""
    return "sha256=" + hmac.new(_key(secret), body, hashlib.sha256).hexdigest()


def sign(
    secrets_: Sequence[str],
    webhook_id: str,
    timestamp: int,
    body: bytes,
    *,
    plain: bool = False,
) -> dict[str, str]:
    """The signature headers of one delivery, signed by each of ``secrets_`` (newest first)."""
    headers = {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(s, webhook_id, timestamp, body) for s in secrets_),
    }
    if plain:
        # One value only, as most receivers of this form compare a single string.
        headers[PLAIN_SIGNATURE_HEADER] = plain_signature(secrets_[0], body)
    return headers


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    raise WebhookVerificationError(f"the {name} header is missing")


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> Any:
    """Check a delivery's Standard Webhooks signature and return its parsed JSON body.

    Raises :class:`WebhookVerificationError` if a header is missing, the timestamp is more
    than ``tolerance_seconds`` away from ``now``, or no ``v1`` signature matches.
    """
    webhook_id = _header(headers, "webhook-id")
    stamp = _header(headers, "webhook-timestamp")
    try:
        timestamp = int(stamp)
    except ValueError as exc:
        raise WebhookVerificationError("webhook-timestamp is not a number") from exc
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        raise WebhookVerificationError("webhook-timestamp is too far from now")
    expected = signature(secret, webhook_id, timestamp, body)
    for given in _header(headers, "webhook-signature").split():
        if hmac.compare_digest(given, expected):
            return json.loads(body)
    raise WebhookVerificationError("no signature matches")
