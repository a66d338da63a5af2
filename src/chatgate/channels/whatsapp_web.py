"""WhatsApp through a linked device: the ``whatsapp_web`` channel.

A connection of this channel is a session (``/v1/sessions``): its id is the session's, and
it has no credentials: the device's keys live with the session. The shape follows SMPP's
(a connection held open by a process, not an HTTP API):

- ``build_request`` is pure: it renders the message to the platform's kind (text, image,
  video, document, audio, a voice note as push-to-talk audio, location, contact cards,
  reaction, each optionally quoting an earlier message) and carries it as JSON under
  ``whatsapp-web://<session id>``; a file is named by its URL, not fetched yet.
- ``send`` fetches the file (through the client it is given, which only reaches the
  addresses the network policy allows, as for every customer URL) and hands the message to
  the session's driver, found through the process's :func:`device_host`. A session that is
  not connected in this process is not a failure of the message: the send waits
  (``ProviderError.wait``) without spending an attempt, until the session is back or the
  message reaches its give-up age.
- Receipts and users' messages come as the driver's events to the worker that holds the
  session (:mod:`chatgate.services.session_events`), never as webhooks: ``verify``
  refuses every HTTP webhook. ``download_media`` reads an inbound file through the driver.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict

from chatgate.channels.base import (
    ChannelAdapter,
    MediaInfo,
    MediaSink,
    OutboundMessage,
    ProviderError,
    ProviderRequest,
    SendResult,
    UnsupportedContent,
    media_limit,
    media_too_large,
)
from chatgate.channels.device_driver import DeviceDriver, DriverError, Outgoing, OutgoingKind
from chatgate.channels.device_hosts import device_host
from chatgate.channels.media_fetch import fetch_media
from chatgate.domain import capabilities as cap
from chatgate.domain.status import Status

CHANNEL = "whatsapp_web"
SCHEME = "whatsapp-web://"
# How long a send waits for its session to be connected before it looks again (seconds).
SESSION_WAIT_SECONDS = 2.0
MB = 1024 * 1024
# What WhatsApp takes of each kind of file.
MEDIA_LIMITS: Mapping[str, int] = {
    "image": 16 * MB,
    "video": 64 * MB,
    "audio": 16 * MB,
    "document": 100 * MB,
}
DEFAULT_MIME: Mapping[str, str] = {
    "image": "image/jpeg",
    "video": "video/mp4",
    "audio": "audio/mpeg",
    "document": "application/octet-stream",
}


class NoCredentials(BaseModel):
    """A session's connection has no credentials: the device's keys are the session's."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _vcard(card: Mapping[str, Any]) -> str:
    """A contact card as the vCard 3.0 WhatsApp shows."""
    lines = ["BEGIN:VCARD", "VERSION:3.0", f"FN:{card['name']}"]
    if card.get("organization"):
        lines.append(f"ORG:{card['organization']}")
    lines += [f"TEL;type=CELL;waid={p.lstrip('+')}:{p}" for p in card.get("phones", [])]
    lines += [f"EMAIL:{email}" for email in card.get("emails", [])]
    return "\r\n".join([*lines, "END:VCARD"])


def render(message: OutboundMessage) -> dict[str, Any]:
    """The platform's message for ``message``: ``{"kind", "text"?, "extra", "media_url"?}``.

    Raises :class:`UnsupportedContent` for what a linked device cannot carry.
    """
    content = message.content
    missing = cap.missing_features(
        content, WhatsAppWebAdapter.capabilities, reply_to=message.reply_to is not None
    )
    if missing:
        raise UnsupportedContent(CHANNEL, missing[0])
    kind: OutgoingKind
    text: str | None = None
    extra: dict[str, Any] = {}
    media_url: str | None = None
    shape = content["type"]
    if shape == "text":
        kind, text = "text", str(content["text"])
    elif shape == "media":
        media = content["media"]
        kind = media["kind"]
        media_url = str(media["url"])
        extra = {
            "caption": media.get("caption"),
            "filename": media.get("filename"),
            "mime_type": media.get("mime_type"),
        }
        if kind == "audio":
            extra["ptt"] = bool(media.get("voice"))
    elif shape == "location":
        kind, extra = "location", dict(content["location"])
    elif shape == "contact":
        kind = "contact"
        extra = {"contacts": [_vcard(card) for card in content["contacts"]]}
    elif shape == "reaction":
        kind, extra = "reaction", dict(content["reaction"])
    else:  # the capabilities above let nothing else through
        raise UnsupportedContent(CHANNEL, shape)
    if message.reply_to is not None:
        extra["quoted"] = message.reply_to
    rendered: dict[str, Any] = {
        "to": message.recipient,
        "kind": kind,
        "text": text,
        "extra": {key: value for key, value in extra.items() if value is not None},
    }
    if media_url is not None:
        rendered["media_url"] = media_url
    return rendered


def driver_error(error: DriverError) -> ProviderError:
    """A driver's refusal as a classified :class:`ProviderError` (a device that is not
    connected waits for it rather than failing the message)."""
    if error.code == "not_connected":
        return not_connected("the session's device is not connected")
    return ProviderError(error.code, error.detail, retryable=error.retryable)


def not_connected(detail: str) -> ProviderError:
    """The send waits for its session (no attempt spent)."""
    return ProviderError(
        "session_not_connected",
        detail,
        retryable=True,
        retry_after=SESSION_WAIT_SECONDS,
        wait=True,
    )


class WhatsAppWebAdapter(ChannelAdapter[NoCredentials]):
    """One linked-device session."""

    name = CHANNEL
    credentials_model = NoCredentials
    # The session runs in the worker that holds it: only that worker can send through it.
    held_exclusively = True
    capabilities = frozenset(
        {
            cap.TEXT,
            cap.MEDIA_IMAGE,
            cap.MEDIA_VIDEO,
            cap.MEDIA_DOCUMENT,
            cap.MEDIA_AUDIO,
            cap.MEDIA_VOICE,
            cap.MEDIA_CAPTION,
            cap.LOCATION,
            cap.CONTACT,
            cap.REACTION,
            cap.REPLY_TO,
        }
    )
    # The receipts a driver reports are already our statuses' names.
    status_map: ClassVar[Mapping[str, Status]] = {
        "sent": Status.SENT,
        "delivered": Status.DELIVERED,
        "read": Status.READ,
    }

    def _driver(self) -> DeviceDriver:
        driver = device_host().connected(self.connection_id or "")
        if driver is None:
            raise not_connected("the session is not connected in this worker")
        return driver

    def build_request(self, message: OutboundMessage) -> ProviderRequest:
        """The message as the platform's kind (pure: nothing is fetched or sent)."""
        return ProviderRequest(
            method="send", url=f"{SCHEME}{self.connection_id or ''}", json=render(message)
        )

    async def send(self, request: ProviderRequest, http: httpx.AsyncClient) -> SendResult:
        """Fetch the file, if any, and send through the session's device; the platform's id."""
        body = request.json
        driver = self._driver()
        extra = dict(body["extra"])
        media: bytes | None = None
        if body.get("media_url"):
            kind = body["kind"]
            fetched = await fetch_media(
                body["media_url"], http, max_bytes=MEDIA_LIMITS[kind], what=kind
            )
            media = fetched.content
            extra["mime_type"] = extra.get("mime_type") or fetched.mime_type or DEFAULT_MIME[kind]
        outgoing = Outgoing(body["to"], body["kind"], body.get("text"), extra, media)
        try:
            platform_id = await driver.send(outgoing)
        except DriverError as error:
            raise driver_error(error) from None
        return SendResult(provider_message_id=platform_id)

    async def download_media(
        self,
        reference: str,
        http: httpx.AsyncClient,
        sink: MediaSink,
        *,
        max_bytes: int | None = None,
    ) -> MediaInfo:
        """An inbound file, read through the session's device."""
        try:
            content = await self._driver().download(reference)
        except DriverError as error:
            raise driver_error(error) from None
        limit = media_limit(MEDIA_LIMITS["document"], max_bytes)
        if len(content) > limit:
            raise media_too_large(limit)
        await sink(content)
        return MediaInfo()
