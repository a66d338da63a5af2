"""The TikTok Business Messaging channel.

Calls go to ``{api_base}/open_api/v1.3/business/...`` with the business's token in the
``Access-Token`` header (no ``Bearer``); every answer is the ``{"code", "message", "data"}``
envelope, HTTP 200 even for most refusals (:mod:`chatgate.channels.tiktok_wire`).

- Sends are ``business/message/send/`` (bodies in :mod:`chatgate.channels.tiktok_build`).
  An image is first fetched from its URL by the gateway (TikTok takes no URL), through the
  network policy as every platform call (:mod:`chatgate.channels.media_fetch`): public
  addresses only, unless the operator allowed private ones. Then it is
  uploaded to ``business/message/media/upload/`` (multipart, JPG or PNG up to 3 MB) and sent
  by the ``media_id`` that names.
- TikTok lets a business answer only users who wrote, for 48 hours after their last
  message and for at most :data:`MESSAGES_PER_USER_MESSAGE` messages until they write
  again; past that it refuses with ``40064`` (permanent: only the user can reopen it).
- ``business/message/send/`` takes no request id or other idempotency key (unlike some
  calls of TikTok's Business API, whose ``request_id`` makes a repeat a no-op): a try
  repeated after a lost answer can reach the user twice.
- Webhooks are signed with ``TikTok-Signature`` (the app's client secret) and parsed by
  :mod:`chatgate.channels.tiktok_parse`; they are set in TikTok's developer portal, not by
  API. Inbound media are downloaded through ``business/message/media/download/``, which
  names a short-lived URL.
"""

from __future__ import annotations

import posixpath
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from chatgate.channels import tiktok_wire
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
    error_from_status,
    error_from_transport,
    media_limit,
    media_too_large,
    stream_capped,
)
from chatgate.channels.media_fetch import fetch_media
from chatgate.channels.tiktok_build import IMAGE_URL, build_send_body, with_media_id
from chatgate.channels.tiktok_parse import STATUS_MAP, parse_webhook, split_reference
from chatgate.domain import capabilities as cap

DEFAULT_API_VERSION = "v1.3"
# TikTok takes JPG and PNG images of up to 3 MB.
MAX_IMAGE = 3 * 1024 * 1024
IMAGE_TYPES = {"image/jpeg": "jpg", "image/jpg": "jpg", "image/png": "png"}
# What the gateway reads of an inbound attachment at most (TikTok states no limit).
MAX_DOWNLOAD = 50 * 1024 * 1024
# Business messages TikTok allows after each user message, within the 48-hour window.
MESSAGES_PER_USER_MESSAGE = 10


class TikTokCredentials(BaseModel):
    """A TikTok business account's token and id, and the app secret that signs webhooks."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    access_token: SecretStr = Field(min_length=1, description="the business account's token")
    business_id: str = Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9_.:+/=-]+$",
        description="the business account's id (its open id)",
    )
    client_secret: SecretStr = Field(min_length=1, description="the app's secret: signs webhooks")


class TikTokAdapter(ChannelAdapter[TikTokCredentials]):
    """One TikTok business account on the Business Messaging API."""

    name = "tiktok"
    credentials_model = TikTokCredentials
    default_api_base = "https://business-api.tiktok.com"
    capabilities = frozenset({cap.TEXT, cap.MEDIA_IMAGE, cap.REPLY_TO})
    status_map = STATUS_MAP

    def endpoint(self, path: str) -> str:
        """The URL of a Business API path such as ``business/message/send/``."""
        version = self.settings.api_version or DEFAULT_API_VERSION
        return f"{self.api_base}/open_api/{version}/{path}"

    def _auth(self) -> dict[str, str]:
        return {"Access-Token": self.credentials.access_token.get_secret_value()}

    def build_request(self, message: OutboundMessage) -> ProviderRequest:
        """The send call for ``message``; the token is added by :meth:`send`."""
        body, context = build_send_body(message, self.credentials.business_id)
        return ProviderRequest(
            method="POST",
            url=self.endpoint("business/message/send/"),
            headers={"Content-Type": "application/json"},
            json=body,
            context=context,
        )

    async def send(self, request: ProviderRequest, http: httpx.AsyncClient) -> SendResult:
        """Upload the image first if there is one, then send; TikTok's ``message_id``."""
        body = request.json
        if IMAGE_URL in request.context:
            media_id = await self._upload_image(str(request.context[IMAGE_URL]), http)
            body = with_media_id(body, media_id)
        data = await self._call(http, request.url, json=body)
        message = data.get("message")
        if isinstance(message, dict) and message.get("message_id"):
            return SendResult(provider_message_id=str(message["message_id"]))
        raise ProviderError(
            "bad_response", "TikTok answered code 0 without the message id", retryable=True
        )

    async def _call(self, http: httpx.AsyncClient, url: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = await http.post(url, headers=self._auth(), **kwargs)
        except httpx.TransportError as exc:
            raise error_from_transport(exc) from exc
        return tiktok_wire.read_answer(response)

    async def _upload_image(self, url: str, http: httpx.AsyncClient) -> str:
        """Fetch the image at ``url`` and upload it; the ``media_id`` TikTok gave it."""
        content, mime_type = await self._fetch_image(url, http)
        name = posixpath.basename(urlsplit(url).path) or f"image.{IMAGE_TYPES[mime_type]}"
        data = await self._call(
            http,
            self.endpoint("business/message/media/upload/"),
            data={"business_id": self.credentials.business_id, "media_type": "IMAGE"},
            files={"file": (name, content, mime_type)},
        )
        media_id = data.get("media_id")
        if not media_id:
            raise ProviderError(
                "bad_response", "TikTok's upload answered without a media id", retryable=True
            )
        return str(media_id)

    async def _fetch_image(self, url: str, http: httpx.AsyncClient) -> tuple[bytes, str]:
        fetched = await fetch_media(url, http, max_bytes=MAX_IMAGE, what="image")
        if fetched.mime_type not in IMAGE_TYPES:
            raise ProviderError(
                "unsupported_media_type",
                f"TikTok takes JPG and PNG images, not {fetched.mime_type or 'an unnamed type'}",
                retryable=False,
            )
        return fetched.content, fetched.mime_type

    def verify(self, request: RawRequest) -> None:
        """Check ``TikTok-Signature`` (HMAC of the time and the raw body, and its age)."""
        tiktok_wire.verify_signature(request, self.credentials.client_secret.get_secret_value())

    def parse(self, request: RawRequest) -> list[InboundEvent]:
        """The event of one webhook; see :mod:`chatgate.channels.tiktok_parse`."""
        return parse_webhook(request.body)

    async def download_media(
        self,
        reference: str,
        http: httpx.AsyncClient,
        sink: MediaSink,
        *,
        max_bytes: int | None = None,
    ) -> MediaInfo:
        """Ask ``media/download/`` for the file's URL, then stream it (no token on the CDN)."""
        parts = split_reference(reference)
        if parts is None:
            raise ProviderError(
                "invalid_reference", "not a TikTok attachment reference", retryable=False
            )
        media_type, conversation_id, message_id, media_id = parts
        data = await self._call(
            http,
            self.endpoint("business/message/media/download/"),
            json={
                "business_id": self.credentials.business_id,
                "conversation_id": conversation_id,
                "message_id": message_id,
                "media_id": media_id,
                "media_type": media_type,
            },
        )
        url = data.get("download_url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise ProviderError("file_unavailable", "TikTok gave no download URL", retryable=False)
        limit = media_limit(MAX_DOWNLOAD, max_bytes)
        try:
            async with http.stream("GET", url) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise error_from_status(
                        response.status_code, "file_unavailable", "the download URL refused"
                    )
                await stream_capped(response, sink, limit, lambda: media_too_large(limit))
                content_type = response.headers.get("content-type")
        except httpx.TransportError as exc:
            raise error_from_transport(exc) from exc
        mime_type = content_type.split(";", 1)[0].strip() if content_type else None
        return MediaInfo(mime_type=mime_type or None)
