"""What TikTok's Business API and its webhooks look like on the wire, both directions.

- Every answer is ``{"code", "message", "request_id", "data"}``, and HTTP 200 even for
  most refusals: ``code == 0`` is success, anything else an error whose ``message`` says
  why. Throttling (``40100``) and system errors (``5xxxx``) are worth another try; the
  rest (bad parameters, tokens, the conversation's message limit ``40064``) are not. No
  answer names a retry delay.
- Webhooks carry ``TikTok-Signature: t=<unix seconds>,s=<hex HMAC-SHA256(client secret,
  "<t>.<raw body>")>``. A signature older (or further in the future) than
  :data:`SIGNATURE_TOLERANCE` is refused, so that a captured webhook cannot be replayed.

These facts come from third-party integrations, not TikTok's own pages (see
``shared/PROVIDERS.md`` §5); the codes kept here are the ones they agree on.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import httpx

from chatgate.channels.base import (
    ProviderError,
    RawRequest,
    SignatureError,
    error_from_status,
)

SIGNATURE_HEADER = "tiktok-signature"
# Seconds a webhook's signature time may be away from ours, either way.
SIGNATURE_TOLERANCE = 300

# Codes of the answer envelope.
OK = 0
NO_PERMISSION = 40001
INVALID_PARAMETER = 40002
MESSAGE_LIMIT = 40064  # the conversation's (or the account's) sending limit is reached
RATE_LIMITED = 40100
TOKEN_INVALID = 40105
UNSUPPORTED_FILE = 40908
SYSTEM_ERROR = 51065
# Throttled calls name no delay: wait at least this long before the next try (seconds).
THROTTLE_FLOOR = 1.0


def sign(client_secret: str, body: bytes, at: int) -> str:
    """The ``TikTok-Signature`` value TikTok sends for ``body`` signed at unix time ``at``."""
    digest = hmac.new(
        client_secret.encode("utf-8"), f"{at}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return f"t={at},s={digest}"


def _parts(header: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if sep:
            parts[key.strip()] = value.strip()
    return parts


def verify_signature(request: RawRequest, client_secret: str, *, now: float | None = None) -> None:
    """Check ``TikTok-Signature`` over the raw body and its time; :class:`SignatureError`."""
    header = request.headers.get(SIGNATURE_HEADER)
    if not header:
        raise SignatureError(f"missing {SIGNATURE_HEADER}")
    parts = _parts(header)
    stamp, given = parts.get("t", ""), parts.get("s", "")
    if not stamp.isdigit() or not given:
        raise SignatureError(f"{SIGNATURE_HEADER} is not t=<time>,s=<signature>")
    expected = sign(client_secret, request.body, int(stamp)).rpartition("s=")[2]
    if not hmac.compare_digest(given.lower().encode("ascii", "replace"), expected.encode()):
        raise SignatureError(f"{SIGNATURE_HEADER} does not match the body")
    moment = time.time() if now is None else now
    if abs(moment - int(stamp)) > SIGNATURE_TOLERANCE:
        raise SignatureError(f"{SIGNATURE_HEADER} is too old or from the future")


def is_retryable(code: int) -> bool:
    """Whether an envelope's error ``code`` is worth another try."""
    return code == RATE_LIMITED or code >= 50000


def envelope_error(code: int, message: str) -> ProviderError:
    """The :class:`ProviderError` of an answer whose ``code`` is not 0."""
    retryable = is_retryable(code)
    return ProviderError(
        str(code),
        message or "TikTok refused the call",
        retryable=retryable,
        retry_after=THROTTLE_FLOOR if code == RATE_LIMITED else None,
    )


def read_answer(response: httpx.Response) -> dict[str, Any]:
    """The ``data`` of a successful answer, or a classified :class:`ProviderError`."""
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if isinstance(answer, dict) and isinstance(answer.get("code"), int):
        if answer["code"] != OK:
            raise envelope_error(answer["code"], str(answer.get("message") or ""))
        if response.status_code < 400:
            data = answer.get("data")
            return data if isinstance(data, dict) else {}
    if response.status_code >= 400:
        raise error_from_status(
            response.status_code,
            f"http_{response.status_code}",
            response.text[:200] or response.reason_phrase,
            headers=response.headers,
        )
    raise ProviderError("bad_response", "TikTok answered without its code envelope", retryable=True)
