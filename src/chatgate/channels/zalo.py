"""The Zalo Official Account (OA) API channel.

Sends are ``POST {api_base}/v3.0/oa/message/{cs|transaction|promotion}`` with the OA's
token in an ``access_token`` header (no "Bearer") and a JSON body. Zalo answers HTTP 200
whatever happened: ``{"error": 0, "message": "Success", "data": {"message_id", "user_id"}}``
or ``{"error": <negative>, "message"}``. ``-32`` (the OA's call rate) is worth another try;
``-216``/``-124``/``-220`` (the access token is invalid or expired, which it is after ~25
hours) make the adapter refresh the token once and try again; every other code is permanent.

The refresh is ``POST {oauth}/v4/oa/access_token`` with the form ``refresh_token``,
``app_id``, ``grant_type=refresh_token`` and the app secret in a ``secret_key`` header; it
answers a new access token *and* a new refresh token (the old one is spent). The adapter
uses them at once and hands them to ``credentials_listener`` so that the connection's
stored credentials follow (see :meth:`ChannelAdapter.replace_credentials`). One refresh
at a time per adapter: sends that failed on the same old token wait for it and then retry
with the new one, since a second refresh with the spent refresh token would fail.

The message API takes no idempotency key: a try repeated after a lost answer can reach the
user twice.

``api_base`` replaces both of Zalo's hosts (``openapi.zalo.me`` for the API and
``oauth.zaloapp.com`` for tokens): the emulator serves both under its ``/zalo`` prefix.

A document is uploaded first: the adapter fetches it from the customer's URL (the address
check of :mod:`chatgate.channels.media_fetch`, at most 5 MB), posts it to
``{api_base}/v2.0/oa/upload/file`` (multipart ``file``, the same ``access_token`` header)
and sends the message with the ``data.token`` that answers. Zalo's refusal of the upload
is classified as a send's is.

Webhooks carry ``X-ZEvent-Signature: mac=<hex SHA-256 of app_id + raw body + timestamp +
OA secret key>`` (a plain hash, not an HMAC), ``timestamp`` being the body's own field.

How our content maps to Zalo messages is in :mod:`chatgate.channels.zalo_build`; how
events are read, in :mod:`chatgate.channels.zalo_parse`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

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
from chatgate.channels.media_fetch import FetchedMedia, fetch_media
from chatgate.channels.zalo_build import (
    FILE_NAME,
    FILE_TYPES,
    FILE_URL,
    MAX_FILE,
    build_message,
    with_file_token,
)
from chatgate.channels.zalo_parse import STATUS_EVENTS, parse_event
from chatgate.domain import capabilities as cap
from chatgate.domain.json_body import load_json

SIGNATURE_HEADER = "x-zevent-signature"
DEFAULT_OAUTH_BASE = "https://oauth.zaloapp.com"
# The largest inbound attachment we fetch from Zalo's CDN [INF: Zalo documents 25 MB files].
MAX_DOWNLOAD = 25 * 1024 * 1024
# Error codes [3P: consistent across third-party integrations; Zalo's pages were not
# available]: the token is invalid or has expired -> refresh (-216 from the OA API, -124
# from its v3 and ZNS endpoints, -220 per the provider notes); the OA's call rate -> retry.
EXPIRED_TOKEN_CODES = frozenset({-216, -124, -220})
RETRYABLE_CODES = frozenset({-32})
_APP_ID = re.compile(r"[0-9]{1,25}")
_MAC = re.compile(r"mac=([0-9a-fA-F]{64})")


class ZaloCredentials(BaseModel):
    """An OA's tokens (OAuth v4), the app they were issued to, and the OA's webhook key."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    access_token: SecretStr = Field(min_length=1, description="the OA access token (~25 h)")
    refresh_token: SecretStr = Field(
        min_length=1, description="renews the access token (single use, ~3 months)"
    )
    app_id: str = Field(pattern=_APP_ID.pattern, description="the Zalo app's id")
    app_secret: SecretStr = Field(min_length=1, description="the app's secret key")
    oa_secret_key: SecretStr = Field(
        min_length=1, description="the OA secret key that signs webhooks (X-ZEvent-Signature)"
    )


def signature(app_id: str, body: bytes, timestamp: str, oa_secret_key: str) -> str:
    """The ``X-ZEvent-Signature`` value of a webhook body: ``mac=<hex SHA-256>``."""
    digest = hashlib.sha256(
        app_id.encode() + body + timestamp.encode() + oa_secret_key.encode()
    ).hexdigest()
    return f"mac={digest}"


def body_timestamp(body: bytes) -> str:
    """The ``timestamp`` field of a webhook body as written (``""`` when there is none)."""
    try:
        payload = load_json(body, max_depth=None)
    except ValueError:
        return ""
    value = payload.get("timestamp") if isinstance(payload, dict) else None
    return "" if value is None or isinstance(value, dict | list) else str(value)


class ZaloAdapter(ChannelAdapter[ZaloCredentials]):
    """One Official Account on the Zalo OA API (v3 messages, OAuth v4 tokens)."""

    name = "zalo"
    credentials_model = ZaloCredentials
    default_api_base = "https://openapi.zalo.me"
    capabilities = frozenset(
        {
            cap.TEXT,
            cap.MEDIA_IMAGE,
            cap.MEDIA_CAPTION,
            cap.MEDIA_DOCUMENT,
            cap.TEMPLATE,
            cap.BUTTONS_REPLY,
            cap.BUTTONS_URL,
            cap.BUTTONS_CALL,
            cap.QUICK_REPLIES,
            cap.LIST,
            cap.REPLY_TO,
        }
    )
    status_map = STATUS_EVENTS
    # Made on first use: one refresh at a time per adapter.
    _refresh_lock: asyncio.Lock | None = None

    @property
    def oauth_base(self) -> str:
        """Where tokens are refreshed: Zalo's OAuth host, or ``api_base`` when set."""
        return (self.settings.api_base or DEFAULT_OAUTH_BASE).rstrip("/")

    def build_request(self, message: OutboundMessage) -> ProviderRequest:
        """The v3 message call for ``message``; see :mod:`chatgate.channels.zalo_build`.

        A document's body names :data:`~chatgate.channels.zalo_build.FILE_TOKEN`: the file
        is uploaded, and its token put in, by :meth:`send`.
        """
        endpoint, body, context = build_message(message)
        return ProviderRequest(
            method="POST",
            url=f"{self.api_base}/v3.0/oa/message/{endpoint}",
            headers={
                "Content-Type": "application/json",
                "access_token": self.credentials.access_token.get_secret_value(),
            },
            json=body,
            context=context,
        )

    async def send(self, request: ProviderRequest, http: httpx.AsyncClient) -> SendResult:
        """Upload a document first if there is one, then make the call; on an expired
        token, refresh it once and do both again."""
        upload = (
            await self._fetch_file(request.context, http) if FILE_URL in request.context else None
        )
        token = self.credentials.access_token.get_secret_value()
        try:
            return await self._attempt(request, upload, token, http)
        except _TokenExpired:
            await self.refresh_tokens(token, http)
        token = self.credentials.access_token.get_secret_value()
        try:
            return await self._attempt(request, upload, token, http)
        except _TokenExpired as again:
            raise again.error from None

    async def _attempt(
        self,
        request: ProviderRequest,
        upload: _Upload | None,
        token: str,
        http: httpx.AsyncClient,
    ) -> SendResult:
        body = request.json
        if upload is not None:
            body = with_file_token(body, await self._upload_file(upload, token, http))
        headers = {**request.headers, "access_token": token}
        data = await self._call(http, request.url, headers, json=body)
        message_id = data.get("message_id")
        if message_id in (None, ""):
            raise ProviderError(
                "bad_response", "Zalo answered success without a message id", retryable=True
            )
        return SendResult(provider_message_id=str(message_id))

    async def _fetch_file(self, context: Mapping[str, Any], http: httpx.AsyncClient) -> _Upload:
        """The document to upload, fetched from its URL; refused if Zalo would not take it."""
        url = str(context[FILE_URL])
        name = context.get(FILE_NAME) or posixpath.basename(urlsplit(url).path) or "file"
        fetched = await fetch_media(url, http, max_bytes=MAX_FILE)
        mime_type = _file_type(fetched, str(name), posixpath.basename(urlsplit(url).path))
        if mime_type is None:
            raise ProviderError(
                "unsupported_media_type",
                f"Zalo takes PDF, DOC and DOCX files, not {fetched.mime_type or 'an unnamed type'}",
                retryable=False,
            )
        if not str(name).lower().endswith(f".{FILE_TYPES[mime_type]}"):
            # Zalo shows the name: give it the extension of what it is.
            name = f"{name}.{FILE_TYPES[mime_type]}"
        return _Upload(str(name), fetched.content, mime_type)

    async def _upload_file(self, upload: _Upload, token: str, http: httpx.AsyncClient) -> str:
        """Upload a document; the token Zalo names it by."""
        data = await self._call(
            http,
            f"{self.api_base}/v2.0/oa/upload/file",
            {"access_token": token},
            files={"file": (upload.name, upload.content, upload.mime_type)},
        )
        file_token = data.get("token")
        if not isinstance(file_token, str) or not file_token:
            raise ProviderError(
                "bad_response", "Zalo's upload answered success without a token", retryable=True
            )
        return file_token

    async def _call(
        self, http: httpx.AsyncClient, url: str, headers: Mapping[str, str], **kwargs: Any
    ) -> dict[str, Any]:
        """POST to the OA API; the answer's ``data``, or a classified error."""
        try:
            response = await http.post(url, headers=dict(headers), **kwargs)
        except httpx.TransportError as exc:
            raise error_from_transport(exc) from exc
        answer = _json_or_none(response)
        if response.status_code >= 400 or not isinstance(answer, dict):
            raise _http_error(response)
        code = answer.get("error")
        if code == 0:
            data = answer.get("data")
            return data if isinstance(data, dict) else {}
        error = zalo_error(answer)
        if isinstance(code, int) and code in EXPIRED_TOKEN_CODES:
            raise _TokenExpired(error)
        raise error

    async def refresh_tokens(self, used: str, http: httpx.AsyncClient) -> None:
        """Trade the refresh token for new tokens, unless ``used`` was already replaced.

        A refused refresh token is a retryable :class:`ProviderError` with Zalo's code:
        another worker process may have spent it a moment ago and stored the new tokens,
        which the next attempt's adapter is built from. A token that is really dead (not
        refreshed for ~3 months, or revoked) fails the message once the retries run out.
        """
        if self._refresh_lock is None:
            self._refresh_lock = asyncio.Lock()
        async with self._refresh_lock:
            if self.credentials.access_token.get_secret_value() != used:
                return  # another send refreshed it while this one waited
            form = {
                "refresh_token": self.credentials.refresh_token.get_secret_value(),
                "app_id": self.credentials.app_id,
                "grant_type": "refresh_token",
            }
            headers = {"secret_key": self.credentials.app_secret.get_secret_value()}
            try:
                response = await http.post(
                    f"{self.oauth_base}/v4/oa/access_token", data=form, headers=headers
                )
            except httpx.TransportError as exc:
                raise error_from_transport(exc) from exc
            answer = _json_or_none(response)
            if response.status_code >= 400:
                raise _http_error(response)
            if not isinstance(answer, dict) or not answer.get("access_token"):
                raise _refresh_error(answer)
            fresh = self.credentials.model_copy(
                update={
                    "access_token": SecretStr(str(answer["access_token"])),
                    "refresh_token": SecretStr(
                        str(answer.get("refresh_token") or form["refresh_token"])
                    ),
                }
            )
            await self.replace_credentials(fresh)

    def verify(self, request: RawRequest) -> None:
        """Check ``X-ZEvent-Signature`` (app id, raw body, the body's timestamp, OA key)."""
        given = request.headers.get(SIGNATURE_HEADER)
        if given is None:
            raise SignatureError(f"missing {SIGNATURE_HEADER}")
        matched = _MAC.fullmatch(given.strip())
        if matched is None:
            raise SignatureError(f"{SIGNATURE_HEADER} is not mac=<hex SHA-256>")
        expected = signature(
            self.credentials.app_id,
            request.body,
            body_timestamp(request.body),
            self.credentials.oa_secret_key.get_secret_value(),
        )
        if not hmac.compare_digest(f"mac={matched.group(1).lower()}", expected):
            raise SignatureError(f"{SIGNATURE_HEADER} does not match")

    def parse(self, request: RawRequest) -> list[InboundEvent]:
        """The events of one webhook; raises ``ValueError`` on a body that is not JSON."""
        return parse_event(load_json(request.body))

    async def download_media(
        self,
        reference: str,
        http: httpx.AsyncClient,
        sink: MediaSink,
        *,
        max_bytes: int | None = None,
    ) -> MediaInfo:
        """Stream an attachment from its CDN URL (Zalo's are fetched without auth).

        A reference that is a path (``/cdn/...``, as the emulator writes them) is read from
        ``api_base``: only a connection whose ``api_base`` is set can have one.
        """
        if reference.startswith("/") and self.settings.api_base is not None:
            reference = f"{self.api_base}{reference}"
        if urlsplit(reference).scheme not in ("http", "https"):
            raise ProviderError("invalid_reference", "not a Zalo attachment URL", retryable=False)
        limit = media_limit(MAX_DOWNLOAD, max_bytes)
        try:
            async with http.stream("GET", reference) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise _http_error(response)
                await stream_capped(response, sink, limit, lambda: media_too_large(limit))
                content_type = response.headers.get("content-type")
        except httpx.TransportError as exc:
            raise error_from_transport(exc) from exc
        mime_type = content_type.split(";", 1)[0].strip() if content_type else None
        filename = posixpath.basename(urlsplit(reference).path) or None
        return MediaInfo(mime_type=mime_type or None, filename=filename)


@dataclass(frozen=True)
class _Upload:
    """A fetched document, as it is uploaded."""

    name: str
    content: bytes
    mime_type: str


def _file_type(fetched: FetchedMedia, *names: str) -> str | None:
    """The document's type: as served, or by the first of ``names`` with an extension when
    the server named none or a generic one; ``None`` when it is not one Zalo takes."""
    if fetched.mime_type in FILE_TYPES:
        return fetched.mime_type
    if fetched.mime_type not in ("", "application/octet-stream", "binary/octet-stream"):
        return None
    extension = next((n.rsplit(".", 1)[1].lower() for n in names if "." in n), "")
    return next((t for t, ext in FILE_TYPES.items() if ext == extension), None)


class _TokenExpired(Exception):
    """A call refused because the access token is invalid or expired."""

    def __init__(self, error: ProviderError) -> None:
        super().__init__(str(error))
        self.error = error


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _http_error(response: httpx.Response) -> ProviderError:
    status = response.status_code
    if status < 400:
        return ProviderError(
            "bad_response", "Zalo answered with something other than JSON", retryable=True
        )
    text = response.text[:200] or response.reason_phrase
    return error_from_status(status, str(status), text, headers=response.headers)


def zalo_error(answer: Mapping[str, Any]) -> ProviderError:
    """Classify ``{"error": <code>, "message"}``: ``-32`` is retryable, the rest are not.

    The code is Zalo's, as a string (``"-230"``); the message is Zalo's ``message``.
    """
    code = answer.get("error")
    message = str(answer.get("message") or "Zalo refused the call")
    if not isinstance(code, int) or isinstance(code, bool):
        return ProviderError("bad_response", message, retryable=True)
    return ProviderError(str(code), message, retryable=code in RETRYABLE_CODES)


def _refresh_error(answer: Any) -> ProviderError:
    if isinstance(answer, dict) and isinstance(answer.get("error"), int):
        reason = (
            answer.get("error_description") or answer.get("error_name") or answer.get("message")
        )
        return ProviderError(
            str(answer["error"]),
            f"the refresh token was refused: {reason or 'no reason given'}",
            retryable=True,
        )
    return ProviderError(
        "bad_response", "Zalo's token refresh answered without a token", retryable=True
    )
