"""The adapter Messenger and Instagram share, and their attachment download.

The two platforms are one Send API and one webhook envelope on Meta's Graph hosts
(``meta_messaging_build``, ``meta_messaging_parse``); a subclass names its credentials and
its :class:`Dialect`. Signatures and the subscription check are Meta's (``meta``).

The Send API takes no idempotency key: a try repeated after a lost answer (a timeout, a
crash before our commit) can reach the user twice.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import replace
from typing import ClassVar, TypeVar

import httpx

from chatgate.channels import meta
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
    media_limit,
)
from chatgate.channels.meta_media import stream_media
from chatgate.channels.meta_messaging_build import (
    Dialect,
    build_send_body,
    sent_message_id,
)
from chatgate.channels.meta_messaging_parse import STATUS_MAP, parse_webhook
from chatgate.domain.channels import HUMAN_AGENT
from chatgate.domain.status import Status

__all__ = ["HUMAN_AGENT", "MAX_MEDIA_BYTES", "Dialect", "MetaMessagingAdapter", "download"]

# Attachments of either platform are at most 25 MB.
MAX_MEDIA_BYTES = 25 * 1024 * 1024


async def download(
    url: str,
    http: httpx.AsyncClient,
    sink: MediaSink,
    *,
    api_base: str,
    max_bytes: int | None = None,
) -> MediaInfo:
    """Stream an attachment's CDN URL into ``sink``: a plain ``GET``, no token, as documented."""
    if not url.startswith(("https://", "http://")):
        raise ProviderError(
            "invalid_reference", "an attachment reference is its URL", retryable=False
        )
    limit = media_limit(MAX_MEDIA_BYTES, max_bytes)
    mime_type = await stream_media(url, http, sink, api_base=api_base, limit=limit)
    return MediaInfo(mime_type=mime_type)


# Credentials of a Meta messaging account: its own fields and the app's webhook secrets.
M = TypeVar("M", bound=meta.WebhookSecrets)


class MetaMessagingAdapter(ChannelAdapter[M]):
    """The adapter both platforms share; a subclass names its credentials and dialect."""

    dialect: ClassVar[Dialect]
    status_map: ClassVar[Mapping[str, Status]] = STATUS_MAP

    @abstractmethod
    def account_id(self) -> str:
        """The id in the Send API's path (a page id, an Instagram account id)."""

    @abstractmethod
    def access_token(self) -> str:
        """The token that authorizes sends."""

    @property
    def api_version(self) -> str:
        """The Graph version in the path."""
        return self.settings.api_version or meta.DEFAULT_GRAPH_VERSION

    def build_request(self, message: OutboundMessage) -> ProviderRequest:
        """The Send API call for ``message``.

        The access token is added by :meth:`send`, so a built request can be logged.
        """
        return ProviderRequest(
            method="POST",
            url=f"{self.api_base}/{self.api_version}/{self.account_id()}/messages",
            headers={"Content-Type": "application/json"},
            json=build_send_body(message, self.dialect),
        )

    async def send(self, request: ProviderRequest, http: httpx.AsyncClient) -> SendResult:
        """Make the call; the answer's ``message_id`` identifies the message."""
        signed = replace(request, headers={**request.headers, **meta.bearer(self.access_token())})
        answer = await meta.post_graph(signed, http)
        return SendResult(provider_message_id=sent_message_id(request.json, answer))

    def verify(self, request: RawRequest) -> None:
        """Check ``X-Hub-Signature-256`` with the app secret."""
        meta.verify_signature(request, self.credentials.app_secret.get_secret_value())

    def handshake(self, request: RawRequest) -> str | None:
        """Answer the ``hub.challenge`` of a subscription check naming our verify token."""
        return meta.answer_handshake(request, self.credentials.verify_token.get_secret_value())

    def parse(self, request: RawRequest) -> list[InboundEvent]:
        """The messages, receipts and reactions in a webhook."""
        return parse_webhook(request.body, self.dialect.object_name, self.status_map)

    async def download_media(
        self,
        reference: str,
        http: httpx.AsyncClient,
        sink: MediaSink,
        *,
        max_bytes: int | None = None,
    ) -> MediaInfo:
        """Stream an attachment from the CDN URL its webhook gave (it expires)."""
        return await download(reference, http, sink, api_base=self.api_base, max_bytes=max_bytes)
