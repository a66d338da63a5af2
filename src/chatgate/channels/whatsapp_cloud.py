"""The WhatsApp Cloud API channel (Meta's Graph API).

- Send: ``POST {api_base}/{version}/{phone_number_id}/messages`` with a Bearer token; the
  answer's ``messages[0].id`` (a ``wamid.``) names the message. Delivery is reported later
  by ``statuses`` webhooks (``sent``, ``delivered``, ``read``, ``played``, ``failed``), which
  echo ``biz_opaque_callback_data``: we set it to our message id.
- Many delivery failures (not on WhatsApp, 24-hour window closed...) are accepted first and
  reported by a ``failed`` status webhook; refusals at send are Graph errors, classified by
  ``chatgate.channels.meta``.
- Inbound: ``X-Hub-Signature-256`` over the raw body with the app secret; the subscription
  check echoes ``hub.challenge`` when ``hub.verify_token`` matches. Parsing is in
  ``whatsapp_cloud_parse``; the content mapping in ``whatsapp_cloud_content``.
- Media: ``GET /{version}/{media_id}`` gives a short-lived URL, which is downloaded with the
  same Bearer token.
- Users: a recipient that is a business-scoped user id (``BR.1502576394655843``) is sent
  with the Messages API's ``recipient`` field, a phone with ``to`` (``whatsapp_cloud_users``
  tells the webhook side). Meta refuses a BSUID where it does not take one (authentication
  templates, say) with 131062, a permanent ``user_id_not_supported`` here.
- Repeated tries: the send takes no idempotency key, so a try repeated after a lost answer
  (a timeout, a crash before our commit) can reach the user twice.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx
from pydantic import Field, SecretStr

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
    error_from_transport,
    media_limit,
    media_too_large,
)
from chatgate.channels.meta_media import stream_media
from chatgate.channels.whatsapp_cloud_content import message_fields
from chatgate.channels.whatsapp_cloud_parse import parse_webhook
from chatgate.domain import capabilities as cap
from chatgate.domain.addresses import is_user_id
from chatgate.domain.json_body import load_json
from chatgate.domain.status import Status

# The largest file WhatsApp carries (documents); a download beyond it is refused.
MAX_MEDIA_BYTES = 100 * 1024 * 1024
# Meta's refusal of a business-scoped user id for this message (authentication templates).
USER_ID_NOT_SUPPORTED = 131062
# Media ids are Graph object ids; anything else must not be spliced into a URL path.
_MEDIA_ID = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


class WhatsAppCredentials(meta.WebhookSecrets):
    """The secrets of one WhatsApp business phone number."""

    access_token: SecretStr = Field(min_length=1, description="system-user or business token")
    phone_number_id: str = Field(pattern=r"^\d{1,32}$", description="the sending number's id")


class WhatsAppCloudAdapter(ChannelAdapter[WhatsAppCredentials]):
    """One WhatsApp Cloud API phone number."""

    name = "whatsapp"
    credentials_model = WhatsAppCredentials
    default_api_base = "https://graph.facebook.com"
    capabilities = frozenset(
        {
            cap.TEXT,
            cap.MEDIA_IMAGE,
            cap.MEDIA_DOCUMENT,
            cap.MEDIA_VIDEO,
            cap.MEDIA_AUDIO,
            cap.MEDIA_VOICE,
            cap.MEDIA_CAPTION,
            cap.TEMPLATE,
            cap.BUTTONS_REPLY,
            cap.BUTTONS_URL,
            cap.QUICK_REPLIES,
            cap.LIST,
            cap.PRODUCT,
            cap.PRODUCT_LIST,
            cap.ADDRESS,
            cap.LOCATION,
            cap.CONTACT,
            cap.REACTION,
            cap.REPLY_TO,
        }
    )
    status_map: ClassVar[Mapping[str, Status]] = {
        "sent": Status.SENT,
        "delivered": Status.DELIVERED,
        "read": Status.READ,
        # A voice note played by the user: it has been read.
        "played": Status.READ,
        "failed": Status.FAILED,
    }

    @property
    def version(self) -> str:
        """The Graph API version of this connection's calls."""
        return self.settings.api_version or meta.DEFAULT_GRAPH_VERSION

    def _url(self, path: str) -> str:
        return f"{self.api_base}/{self.version}/{path}"

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credentials.access_token.get_secret_value()}"}

    def build_request(self, message: OutboundMessage) -> ProviderRequest:
        """The ``messages`` call for ``message``; raises ``UnsupportedContent``."""
        body: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual"}
        if is_user_id(message.recipient):
            body["recipient"] = message.recipient
        else:
            body["to"] = message.recipient.lstrip("+")
        if message.reply_to:
            body["context"] = {"message_id": message.reply_to}
        body.update(message_fields(message.content))
        # Echoed in every status webhook of this message.
        body["biz_opaque_callback_data"] = message.id
        return ProviderRequest(
            method="POST",
            url=self._url(f"{self.credentials.phone_number_id}/messages"),
            # The token is added at send time so that a built request never holds it.
            headers={"Content-Type": "application/json"},
            json=body,
            context={"message_id": message.id},
        )

    async def send(self, request: ProviderRequest, http: httpx.AsyncClient) -> SendResult:
        """Make the call; the ``wamid`` of the accepted message."""
        signed = dataclasses.replace(request, headers={**request.headers, **self._auth()})
        try:
            answer = await meta.post_graph(signed, http)
        except ProviderError as exc:
            if exc.code != str(USER_ID_NOT_SUPPORTED):
                raise
            raise ProviderError(
                "user_id_not_supported",
                f"WhatsApp takes no business-scoped user id for this message; send it to "
                f"the user's phone ({exc.message})",
                retryable=False,
                status_code=exc.status_code,
            ) from exc
        try:
            provider_id = str(answer["messages"][0]["id"])
        except (KeyError, IndexError, TypeError) as exc:
            # Accepted but unnamed: trying again could send the message twice.
            raise ProviderError(
                "bad_response", "the answer names no message id", retryable=False
            ) from exc
        return SendResult(provider_message_id=provider_id)

    def verify(self, request: RawRequest) -> None:
        """Check ``X-Hub-Signature-256`` with the app secret."""
        meta.verify_signature(request, self.credentials.app_secret.get_secret_value())

    def handshake(self, request: RawRequest) -> str | None:
        """Echo ``hub.challenge`` when ``hub.verify_token`` is ours."""
        return meta.answer_handshake(request, self.credentials.verify_token.get_secret_value())

    def parse(self, request: RawRequest) -> list[InboundEvent]:
        """Messages, statuses and errors of one webhook; raises ``ValueError`` on bad JSON."""
        return parse_webhook(load_json(request.body), self.status_map)

    async def download_media(
        self,
        reference: str,
        http: httpx.AsyncClient,
        sink: MediaSink,
        *,
        max_bytes: int | None = None,
    ) -> MediaInfo:
        """Stream an inbound attachment by its media id into ``sink`` (at most 100 MB)."""
        if not _MEDIA_ID.match(reference):
            raise ProviderError("invalid_reference", "not a media id", retryable=False)
        try:
            response = await http.get(self._url(reference), headers=self._auth())
        except httpx.TransportError as exc:
            raise error_from_transport(exc) from exc
        if response.status_code >= 400:
            raise meta.graph_error(response)
        try:
            info: dict[str, Any] = response.json()
            url = str(info["url"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ProviderError(
                "bad_response", "the media answer names no URL", retryable=True
            ) from exc
        limit = media_limit(MAX_MEDIA_BYTES, max_bytes)
        if _larger_than(info.get("file_size"), limit):
            raise media_too_large(limit)
        content_type = await stream_media(
            url, http, sink, api_base=self.api_base, limit=limit, headers=self._auth()
        )
        mime_type = info.get("mime_type") or content_type
        return MediaInfo(mime_type=str(mime_type) if mime_type else None)


def _larger_than(size: Any, limit: int) -> bool:
    try:
        return int(size) > limit
    except (TypeError, ValueError):
        return False
