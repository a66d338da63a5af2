"""The LINE Messaging API channel.

Sends are ``POST {api_base}/v2/bot/message/push`` (or ``/reply`` with a fresh reply token)
with ``Authorization: Bearer <channel access token>``; LINE answers ``200 {"sentMessages":
[{"id", "quoteToken"?}]}`` and the first message's id is the send's. Errors are real HTTP
statuses with ``{"message", "details"?: [{"message", "property"}]}``: 429 (with no retry
hint) and 5xx are worth another try, the rest are not. LINE reports no deliveries or reads
of pushed messages, so a send promises no receipts: ``sent`` is a message's last status.

A push carries ``X-Line-Retry-Key``, derived from our message id
(:func:`chatgate.channels.base.retry_key`): LINE accepts it once and answers a repeat with
409 naming the accepted request, which is the send's outcome. A reply takes no retry key
(LINE refuses one there; a reply token is single-use anyway).

Webhooks carry ``X-Line-Signature``: the base64 HMAC-SHA256 of the raw body, keyed with the
channel secret. Inbound files are downloaded from the content host
(``https://api-data.line.me/v2/bot/message/{id}/content``, the same bearer token); with an
``api_base`` (the emulator), both hosts are that base.

How our content maps to LINE's messages is in :mod:`chatgate.channels.line_build`; how
webhooks are read, in :mod:`chatgate.channels.line_parse`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from chatgate.channels.base import (
    ChannelAdapter,
    InboundEvent,
    MediaInfo,
    MediaSink,
    OutboundMessage,
    ProviderError,
    ProviderRequest,
    RawRequest,
    SendResult,
    SignatureError,
    error_from_status,
    error_from_transport,
    media_limit,
    media_too_large,
    retry_key,
    stream_capped,
)
from chatgate.channels.line_build import PUSH_PATH, build_call
from chatgate.channels.line_parse import parse_body
from chatgate.domain import capabilities as cap
from chatgate.domain.json_body import load_json

SIGNATURE_HEADER = "x-line-signature"
INVALID_REPLY_TOKEN = "Invalid reply token"  # noqa: S105 - LINE's error text
DATA_API_BASE = "https://api-data.line.me"
# LINE takes videos and audio up to 200 MB and files up to 300 MB from users.
MAX_DOWNLOAD = 300 * 1024 * 1024


# One word: no character Python's str.isspace() counts as a space (listed, so that the
# OpenAPI document's pattern means the same), and no NUL, which cannot be stored.
_ACCESS_TOKEN = re.compile(
    "[^\\x00\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a"
    "\\u2028\\u2029\\u202f\\u205f\\u3000]{1,2048}"
)
_CHANNEL_SECRET = re.compile("[0-9a-f]{32}")


class LineCredentials(BaseModel):
    """A Messaging API channel's access token and its channel secret (both from the console)."""

    # A refused value would otherwise be printed back in the validation error.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    # The validators' shapes, stated for the OpenAPI document as well.
    channel_access_token: SecretStr = Field(
        description="the channel access token (long-lived or v2.1), sent as a Bearer token",
        json_schema_extra={"pattern": f"^{_ACCESS_TOKEN.pattern}$"},
    )
    channel_secret: SecretStr = Field(
        description="the channel secret: 32 hexadecimal characters; signs LINE's webhooks",
        json_schema_extra={"pattern": f"^{_CHANNEL_SECRET.pattern}$"},
    )

    @field_validator("channel_access_token")
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        if not _ACCESS_TOKEN.fullmatch(value.get_secret_value()):
            raise ValueError("a channel access token is one word of at most 2048 characters")
        return value

    @field_validator("channel_secret")
    @classmethod
    def _secret_shape(cls, value: SecretStr) -> SecretStr:
        if not _CHANNEL_SECRET.fullmatch(value.get_secret_value()):
            raise ValueError("a channel secret is 32 hexadecimal characters")
        return value


def signature(secret: str, body: bytes) -> str:
    """``X-Line-Signature`` of ``body``: base64 of its HMAC-SHA256 under the channel secret."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class LineAdapter(ChannelAdapter[LineCredentials]):
    """One LINE Official Account's Messaging API channel."""

    name = "line"
    credentials_model = LineCredentials
    default_api_base = "https://api.line.me"
    capabilities = frozenset(
        {
            cap.TEXT,
            cap.MEDIA_IMAGE,
            cap.MEDIA_VIDEO,
            cap.MEDIA_AUDIO,
            cap.MEDIA_CAPTION,
            cap.BUTTONS_REPLY,
            cap.BUTTONS_URL,
            cap.BUTTONS_CALL,
            cap.QUICK_REPLIES,
            cap.CARDS,
            cap.LOCATION,
            cap.STICKER,
            cap.REPLY_TO,
        }
    )
    # When a reply token is still fresh is judged against this clock.
    clock: ClassVar[Callable[[], float]] = staticmethod(time.time)

    @property
    def data_api_base(self) -> str:
        """Where inbound files are downloaded from (the emulator's base when one is set)."""
        return (self.settings.api_base or DATA_API_BASE).rstrip("/")

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.credentials.channel_access_token.get_secret_value()}"
        }

    def build_request(self, message: OutboundMessage) -> ProviderRequest:
        """A push, or a reply while the answered event's token is fresh (see ``line_build``)."""
        path, body = build_call(message, type(self).clock)
        headers = {**self._headers(), "Content-Type": "application/json"}
        # LINE accepts a push once per retry key: a try after a lost answer is not sent twice
        # (the reply API takes no retry key: a reply token is single-use anyway).
        push_headers = {**headers, "X-Line-Retry-Key": retry_key(message.id)}
        if path == PUSH_PATH:
            return ProviderRequest("POST", self.api_base + path, push_headers, json=body)
        # Should LINE refuse the token (used, or older than it looked), the same messages go
        # as a push instead.
        push = {"to": message.recipient, "messages": body["messages"]}
        fallback = {"url": self.api_base + PUSH_PATH, "headers": push_headers, "json": push}
        return ProviderRequest(
            "POST", self.api_base + path, headers, json=body, context={"push": fallback}
        )

    async def send(self, request: ProviderRequest, http: httpx.AsyncClient) -> SendResult:
        """Make the call; the first sent message's id is the send's.

        A push repeated after a lost answer is refused with 409 naming the messages the first
        try sent: that is the send's outcome. A reply whose token LINE refuses (used, or older
        than it looked) goes out as a push.
        """
        try:
            return await _post(http, request.url, request.headers, request.json)
        except ProviderError as error:
            fallback = request.context.get("push")
            refused_token = error.status_code == 400 and error.message.startswith(
                INVALID_REPLY_TOKEN
            )
            if fallback is None or not refused_token:
                raise
        return await _post(http, fallback["url"], fallback["headers"], fallback["json"])

    def verify(self, request: RawRequest) -> None:
        """Check ``X-Line-Signature`` over the raw body, in constant time."""
        given = request.headers.get(SIGNATURE_HEADER)
        if not given:
            raise SignatureError(f"missing {SIGNATURE_HEADER}")
        expected = signature(self.credentials.channel_secret.get_secret_value(), request.body)
        if not hmac.compare_digest(given.encode("utf-8"), expected.encode("ascii")):
            raise SignatureError(f"{SIGNATURE_HEADER} does not match")

    def parse(self, request: RawRequest) -> list[InboundEvent]:
        """The events of one webhook; raises ``ValueError`` on a body that is not JSON."""
        return parse_body(load_json(request.body))

    async def download_media(
        self,
        reference: str,
        http: httpx.AsyncClient,
        sink: MediaSink,
        *,
        max_bytes: int | None = None,
    ) -> MediaInfo:
        """Stream a file by LINE's message id (or from its external URL) into ``sink``."""
        limit = media_limit(MAX_DOWNLOAD, max_bytes)
        if reference.startswith(("https://", "http://")):
            # Held by the sender's own server (contentProvider external): no token for it.
            url, headers = reference, {}
        else:
            url = f"{self.data_api_base}/v2/bot/message/{quote(reference, safe='')}/content"
            headers = self._headers()
        try:
            async with http.stream("GET", url, headers=headers) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise line_error(response, _json_or_none(response))
                await stream_capped(response, sink, limit, lambda: media_too_large(limit))
                content_type = response.headers.get("content-type")
        except httpx.TransportError as exc:
            raise error_from_transport(exc) from exc
        mime_type = content_type.split(";", 1)[0].strip() if content_type else None
        return MediaInfo(mime_type=mime_type or None)


async def _post(
    http: httpx.AsyncClient, url: str, headers: Mapping[str, str], body: Any
) -> SendResult:
    """One push or reply; the first sent message's id, or a classified error."""
    try:
        response = await http.post(url, json=body, headers=dict(headers))
    except httpx.TransportError as exc:
        raise error_from_transport(exc) from exc
    answer = _json_or_none(response)
    sent = answer.get("sentMessages") if isinstance(answer, dict) else None
    accepted = response.headers.get("x-line-accepted-request-id")
    # 409 naming the accepted request: an earlier try of this push was accepted (its answer
    # lost). LINE repeats that try's sentMessages; without them, the request names the send.
    if response.status_code == 409 and accepted and not sent:
        return SendResult(provider_message_id=f"request-{accepted}")
    if response.status_code >= 400 and not (response.status_code == 409 and sent):
        raise line_error(response, answer)
    if isinstance(sent, list) and sent and isinstance(sent[0], dict) and sent[0].get("id"):
        return SendResult(provider_message_id=str(sent[0]["id"]))
    raise ProviderError("bad_response", "LINE answered without the sent messages", retryable=True)


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def line_error(response: httpx.Response, answer: Any) -> ProviderError:
    """Classify a refused call: 429 and 5xx are worth another try, the rest are not.

    The code is the HTTP status ("400", "429"...), the message LINE's ``message`` with the
    first of its ``details`` ("The request body has 1 error(s): ... (messages[0].text)").
    LINE names no retry delay; a ``Retry-After`` header is honoured if one comes.
    """
    status = response.status_code
    message = response.reason_phrase or str(status)
    if isinstance(answer, dict) and isinstance(answer.get("message"), str):
        message = answer["message"]
        details = answer.get("details")
        if isinstance(details, list) and details and isinstance(details[0], dict):
            detail = details[0]
            message += f": {detail.get('message', '')} ({detail.get('property', '')})"
    return error_from_status(status, str(status), message[:500], headers=response.headers)
