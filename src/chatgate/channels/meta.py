"""What WhatsApp Cloud, Messenger and Instagram share: Meta's Graph API conventions.

- Webhooks are signed with ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw
  body)>``; the subscription check is a ``GET`` with ``hub.mode``, ``hub.verify_token`` and
  ``hub.challenge``.
- Errors come as ``{"error": {"code", "message", "error_subcode"?, "is_transient"?, ...}}``
  with a 4xx/5xx status. Throttling codes carry no ``Retry-After``; the
  ``X-Business-Use-Case-Usage`` header tells, in minutes, when access comes back.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from chatgate.channels.base import (
    ProviderError,
    ProviderRequest,
    RawRequest,
    SignatureError,
    error_from_transport,
)

DEFAULT_GRAPH_VERSION = "v21.0"


class WebhookSecrets(BaseModel):
    """The app's webhook secrets, which every Meta platform's credentials carry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    app_secret: SecretStr = Field(min_length=1, description="signs the webhooks")
    verify_token: SecretStr = Field(min_length=1, description="named by the subscription check")


SIGNATURE_HEADER = "x-hub-signature-256"

# Graph error codes worth another try: throttling, temporary and server-side failures.
RETRYABLE_CODES = frozenset(
    {
        1,  # unknown error, possibly temporary
        2,  # service temporarily unavailable
        4,  # application request limit reached
        17,  # user request limit reached
        32,  # page request limit reached
        341,  # application limit reached
        613,  # calls exceeded the rate limit
        80007,  # WhatsApp Business Account rate limit
        130429,  # cloud API throughput reached
        131000,  # something went wrong
        131016,  # service unavailable
        131056,  # too many messages to one recipient in a short time
        131057,  # business account in maintenance
        133004,  # server temporarily unavailable
    }
)
# Throttling with no hint: wait at least this long before the next try (seconds).
THROTTLE_FLOOR = {4: 60.0, 17: 60.0, 32: 60.0, 613: 60.0, 80007: 60.0, 130429: 1.0, 131056: 6.0}


def sign(app_secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value Meta sends for ``body``."""
    digest = hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(request: RawRequest, app_secret: str) -> None:
    """Check ``X-Hub-Signature-256`` over the raw bytes, in constant time."""
    given = request.headers.get(SIGNATURE_HEADER)
    if not given:
        raise SignatureError(f"missing {SIGNATURE_HEADER}")
    if not hmac.compare_digest(given.strip().lower(), sign(app_secret, request.body)):
        raise SignatureError(f"{SIGNATURE_HEADER} does not match the body")


def answer_handshake(request: RawRequest, verify_token: str) -> str | None:
    """The ``hub.challenge`` to echo when the subscription check names our verify token."""
    if request.query.get("hub.mode") != "subscribe":
        return None
    given = request.query.get("hub.verify_token", "")
    if not hmac.compare_digest(given.encode("utf-8"), verify_token.encode("utf-8")):
        raise SignatureError("hub.verify_token does not match")
    return request.query.get("hub.challenge", "")


def regain_after(headers: Mapping[str, str]) -> float | None:
    """Seconds until Meta lifts a throttle, from ``X-Business-Use-Case-Usage``."""
    raw = headers.get("x-business-use-case-usage")
    if not raw:
        return None
    try:
        usage = json.loads(raw)
        minutes = max(
            float(entry.get("estimated_time_to_regain_access", 0) or 0)
            for entries in usage.values()
            for entry in entries
        )
    except (ValueError, TypeError, AttributeError):
        return None
    return minutes * 60 if minutes > 0 else None


def graph_error(response: httpx.Response) -> ProviderError:
    """Classify a Graph API error answer."""
    try:
        error: dict[str, Any] = response.json()["error"]
        code = int(error.get("code", 0))
        message = str(error.get("message") or response.reason_phrase)
    except (ValueError, KeyError, TypeError):
        return ProviderError(
            f"http_{response.status_code}",
            response.text[:200] or response.reason_phrase,
            retryable=response.status_code >= 500 or response.status_code == 429,
            status_code=response.status_code,
        )
    subcode = error.get("error_subcode")
    retryable = (
        code in RETRYABLE_CODES or bool(error.get("is_transient")) or response.status_code >= 500
    )
    hint = regain_after(response.headers)
    if hint is None and code in THROTTLE_FLOOR:
        hint = THROTTLE_FLOOR[code]
    details = (error.get("error_data") or {}).get("details")
    text = f"{message} ({details})" if details and details not in message else message
    return ProviderError(
        str(code) if subcode is None else f"{code}/{subcode}",
        text,
        retryable=retryable,
        retry_after=hint if retryable else None,
        status_code=response.status_code,
    )


async def post_graph(request: ProviderRequest, http: httpx.AsyncClient) -> dict[str, Any]:
    """Send a built Graph call; the JSON answer, or a classified :class:`ProviderError`."""
    try:
        response = await http.request(
            request.method, request.url, headers=dict(request.headers), json=request.json
        )
    except httpx.TransportError as exc:
        raise error_from_transport(exc) from exc
    if response.status_code >= 400:
        raise graph_error(response)
    try:
        answer: dict[str, Any] = response.json()
    except ValueError as exc:
        raise ProviderError(
            "bad_response", "the platform answered with something other than JSON", retryable=True
        ) from exc
    return answer


def bearer(token: str) -> dict[str, str]:
    """The headers of an authenticated Graph call."""
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
