"""The Telegram Bot API channel.

Every call is ``POST {api_base}/bot{token}/{method}`` with a JSON body; the answer is
``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code", "description",
"parameters"?: {"retry_after"}}`` with the HTTP status equal to ``error_code``. Telegram has
no delivery or read receipts for bots, so a send promises none.

Webhooks are authenticated by the secret token given to ``setWebhook``: Telegram sends it
back in ``X-Telegram-Bot-Api-Secret-Token`` (there is no signature over the body).

The Bot API takes no idempotency key (MTProto's ``random_id`` is not offered to bots), so a
try repeated after a lost answer can reach the chat twice.

How our content maps to Telegram's methods is described in
:mod:`chatgate.channels.telegram_build`; how updates are read, in
:mod:`chatgate.channels.telegram_parse`.
"""

from __future__ import annotations

import hmac
import mimetypes
import posixpath
import re
from collections.abc import Callable
from typing import Any

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
    stream_capped,
)
from chatgate.channels.telegram_build import build_call
from chatgate.channels.telegram_parse import message_ref, parse_update
from chatgate.domain import capabilities as cap
from chatgate.domain.json_body import load_json

SECRET_HEADER = "x-telegram-bot-api-secret-token"  # noqa: S105 - a header name
# Bots can download files of up to 20 MB through getFile.
MAX_DOWNLOAD = 20 * 1024 * 1024
# Updates the gateway reads; ``message_reaction`` is only sent when asked for by name.
ALLOWED_UPDATES = (
    "message",
    "edited_message",
    "callback_query",
    "message_reaction",
    "my_chat_member",
)

_BOT_TOKEN = re.compile(r"[0-9]{1,20}:[A-Za-z0-9_-]{1,200}")
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")


class TelegramCredentials(BaseModel):
    """A bot's token (from @BotFather) and the secret its webhooks carry."""

    # A refused value would otherwise be printed back in the validation error.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    # The validators' shapes, stated for the OpenAPI document as well.
    bot_token: SecretStr = Field(
        description='the token from @BotFather, "<bot id>:<secret>"',
        json_schema_extra={"pattern": f"^{_BOT_TOKEN.pattern}$"},
    )
    secret_token: SecretStr = Field(
        description="sent back by Telegram with every webhook: 1-256 of A-Z, a-z, 0-9, _ and -",
        json_schema_extra={"pattern": f"^{_SECRET_TOKEN.pattern}$"},
    )

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        if not _BOT_TOKEN.fullmatch(value.get_secret_value()):
            raise ValueError('a bot token looks like "<bot id>:<secret>"')
        return value

    @field_validator("secret_token")
    @classmethod
    def _secret_shape(cls, value: SecretStr) -> SecretStr:
        if not _SECRET_TOKEN.fullmatch(value.get_secret_value()):
            raise ValueError("a secret token is 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @property
    def bot_id(self) -> str:
        """The bot's user id: the part of the token before the colon (not secret)."""
        return self.bot_token.get_secret_value().split(":", 1)[0]


class TelegramAdapter(ChannelAdapter[TelegramCredentials]):
    """One bot on the Telegram Bot API."""

    name = "telegram"
    credentials_model = TelegramCredentials
    default_api_base = "https://api.telegram.org"
    capabilities = frozenset(
        {
            cap.TEXT,
            cap.MEDIA_IMAGE,
            cap.MEDIA_DOCUMENT,
            cap.MEDIA_VIDEO,
            cap.MEDIA_AUDIO,
            cap.MEDIA_VOICE,
            cap.MEDIA_CAPTION,
            cap.BUTTONS_REPLY,
            cap.BUTTONS_URL,
            cap.QUICK_REPLIES,
            cap.LIST,
            cap.LOCATION,
            cap.CONTACT,
            cap.REACTION,
            cap.REPLY_TO,
        }
    )

    def method_url(self, method: str) -> str:
        """Where a Bot API method is called (the URL holds the token: never log it)."""
        return f"{self.api_base}/bot{self.credentials.bot_token.get_secret_value()}/{method}"

    def build_request(self, message: OutboundMessage) -> ProviderRequest:
        """The Bot API call for ``message``; see :mod:`chatgate.channels.telegram_build`."""
        method, params = build_call(message)
        context: dict[str, Any] = {}
        if method == "setMessageReaction":
            # Telegram answers a reaction with ``true``: there is no message to name, so the
            # reaction is named after the message it is on.
            ref = message_ref(params["chat_id"], params["message_id"])
            context["provider_message_id"] = f"{ref}:reaction"
        return ProviderRequest(
            method="POST",
            url=self.method_url(method),
            headers={"Content-Type": "application/json"},
            json=params,
            context=context,
        )

    async def send(self, request: ProviderRequest, http: httpx.AsyncClient) -> SendResult:
        """Make the call; the sent message's id is ``"{chat_id}:{message_id}"``."""
        result = await _call(http, request.url, request.json)
        chat = result.get("chat") if isinstance(result, dict) else None
        if isinstance(chat, dict) and "id" in chat and "message_id" in result:
            return SendResult(provider_message_id=message_ref(chat["id"], result["message_id"]))
        if result is True and "provider_message_id" in request.context:
            return SendResult(provider_message_id=request.context["provider_message_id"])
        raise ProviderError(
            "bad_response", "Telegram answered ok without the sent message", retryable=True
        )

    def verify(self, request: RawRequest) -> None:
        """Check ``X-Telegram-Bot-Api-Secret-Token`` against our secret, in constant time."""
        given = request.headers.get(SECRET_HEADER)
        if given is None:
            raise SignatureError(f"missing {SECRET_HEADER}")
        expected = self.credentials.secret_token.get_secret_value()
        if not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
            raise SignatureError(f"{SECRET_HEADER} does not match")

    def parse(self, request: RawRequest) -> list[InboundEvent]:
        """The event in one Update; raises ``ValueError`` on a body that is not JSON."""
        return parse_update(load_json(request.body), self.credentials.bot_id)

    async def download_media(
        self,
        reference: str,
        http: httpx.AsyncClient,
        sink: MediaSink,
        *,
        max_bytes: int | None = None,
    ) -> MediaInfo:
        """Stream a file by its ``file_id``: ``getFile``, then the file's path (≤ 20 MB)."""
        file = await _call(http, self.method_url("getFile"), {"file_id": reference})
        if not isinstance(file, dict):
            raise ProviderError("bad_response", "getFile answered without a file", retryable=True)
        limit = media_limit(MAX_DOWNLOAD, max_bytes)

        def too_large() -> ProviderError:
            # Past Telegram's own limit the platform refuses; past a smaller one, we do.
            return _too_big() if limit == MAX_DOWNLOAD else media_too_large(limit)

        if (file.get("file_size") or 0) > limit:
            raise too_large()
        path = file.get("file_path")
        if not isinstance(path, str) or not path:
            raise ProviderError(
                "file_unavailable", "Telegram gave no path for the file", retryable=False
            )
        token = self.credentials.bot_token.get_secret_value()
        url = f"{self.api_base}/file/bot{token}/{path}"
        mime_type = await _download(http, url, sink, limit, too_large)
        if mime_type in (None, "application/octet-stream"):
            mime_type = mimetypes.guess_type(path)[0] or mime_type
        return MediaInfo(mime_type=mime_type, filename=posixpath.basename(path))

    async def acknowledge(self, token: str, http: httpx.AsyncClient) -> None:
        """``answerCallbackQuery``: stop the pressed button's progress bar."""
        await _call(http, self.method_url("answerCallbackQuery"), {"callback_query_id": token})

    async def register_webhook(self, url: str, http: httpx.AsyncClient) -> bool:
        """``setWebhook`` to ``url`` with our secret token and the updates we read."""
        await _call(
            http,
            self.method_url("setWebhook"),
            {
                "url": url,
                "secret_token": self.credentials.secret_token.get_secret_value(),
                "allowed_updates": list(ALLOWED_UPDATES),
            },
        )
        return True


async def _call(http: httpx.AsyncClient, url: str, params: Any) -> Any:
    """POST one Bot API call; its ``result``, or a classified :class:`ProviderError`."""
    try:
        response = await http.post(url, json=params)
    except httpx.TransportError as exc:
        raise error_from_transport(exc) from exc
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if response.status_code >= 400 or not isinstance(answer, dict) or answer.get("ok") is not True:
        raise telegram_error(response, answer)
    return answer.get("result")


def _too_big() -> ProviderError:
    return ProviderError("file_too_big", "bots can download files up to 20 MB", retryable=False)


async def _download(
    http: httpx.AsyncClient,
    url: str,
    sink: MediaSink,
    limit: int,
    too_large: Callable[[], ProviderError],
) -> str | None:
    """Stream a file's bytes into ``sink`` (stopping past ``limit``); its content type."""
    try:
        async with http.stream("GET", url) as response:
            if response.status_code >= 400:
                await response.aread()
                raise telegram_error(response, _json_or_none(response))
            await stream_capped(response, sink, limit, too_large)
            content_type = response.headers.get("content-type")
    except httpx.TransportError as exc:
        raise error_from_transport(exc) from exc
    mime_type = content_type.split(";", 1)[0].strip() if content_type else None
    return mime_type or None


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def telegram_error(response: httpx.Response, answer: Any) -> ProviderError:
    """Classify a refused call: 429 and 5xx are worth another try, the rest are not.

    The code is Telegram's ``error_code`` ("400", "403", "429"...) and the message its
    ``description`` ("Bad Request: chat not found"); a throttled call carries
    ``parameters.retry_after`` (seconds) as the retry hint.
    """
    status = response.status_code
    if isinstance(answer, dict) and isinstance(answer.get("error_code"), int):
        code = answer["error_code"]
        description = str(answer.get("description") or response.reason_phrase)
        parameters = answer.get("parameters")
        retry_after = parameters.get("retry_after") if isinstance(parameters, dict) else None
        return error_from_status(
            status if status >= 400 else code,
            str(code),
            description,
            retry_after=float(retry_after) if isinstance(retry_after, int | float) else None,
            headers=response.headers,
        )
    if status < 400:
        return ProviderError(
            "bad_response", "Telegram answered with something other than a result", retryable=True
        )
    return error_from_status(
        status, str(status), response.text[:200] or response.reason_phrase, headers=response.headers
    )
