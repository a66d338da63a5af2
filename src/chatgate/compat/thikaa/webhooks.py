"""The ``thikaa`` webhook format: what an endpoint bound to a Thikaa key receives.

``message.received`` as the page shows it, and ``message.status`` (Chatgate's extension)
for the messages the key sent; nothing else. Signed as the page's PHP snippet checks it:
``X-Thikaa-Signature: sha256=<hex HMAC-SHA256 of the raw body>``, keyed with the
endpoint's secret string as it was shown. The Standard Webhooks headers ride along, as on
every endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chatgate.compat.thikaa.answers import instance_id
from chatgate.compat.thikaa.channels import code_of
from chatgate.config import Settings
from chatgate.domain.dialects import Dialect
from chatgate.services.media_links import MediaLinks
from chatgate.services.webhook_formats import Signing, StandardFormat, body_hmac
from chatgate.storage.events import LoggedEvent
from chatgate.storage.webhook_endpoints import StoredEndpoint

RECEIVED = "message.received"
STATUS = "message.status"


def _text(content: dict[str, Any]) -> str:
    """What the customer wrote: a text's text, a file's caption, a tapped button's title."""
    media = content.get("media")
    for value in (
        content.get("text"),
        media.get("caption") if isinstance(media, dict) else None,
        content.get("title"),
    ):
        if isinstance(value, str):
            return value
    return ""


@dataclass(frozen=True, slots=True)
class ThikaaFormat:
    """Thikaa's webhook body and signature; attachments as signed, expiring links."""

    links: MediaLinks
    name: str = Dialect.THIKAA.value
    dialect: Dialect = Dialect.THIKAA
    requires_key: bool = True

    def payload(self, event: LoggedEvent, endpoint: StoredEndpoint) -> dict[str, Any] | None:
        """The body for ``event``, or ``None`` for an event Thikaa has no shape for."""
        channel = code_of(event.channel)
        if channel is None or endpoint.api_key_id is None or event.message_id is None:
            return None
        if event.type == RECEIVED:
            data = self._received(event)
        elif event.type == STATUS and event.status is not None:
            data = {
                "message_id": event.message_id,
                "status": event.status.value,
                "channel": channel.value,
                "to": event.recipient,
            }
            if event.detail and event.detail.get("code"):
                data["error"] = {
                    "code": event.detail["code"],
                    "message": event.detail.get("message") or "",
                }
        else:
            return None
        return {
            "event": event.type,
            "instance_id": instance_id(endpoint.api_key_id),
            "data": {"channel": channel.value, **data},
        }

    def _received(self, event: LoggedEvent) -> dict[str, Any]:
        content = event.content or {}
        media = content.get("media") if content.get("type") == "media" else None
        attachments = []
        if isinstance(media, dict):
            url = media.get("url")
            if isinstance(media.get("media_id"), str):
                # A file the gateway keeps: a signed link to it. Stored with the delivery, so
                # every retry and replay sends the same link, valid for the link lifetime
                # from when the message arrived.
                url = self.links.url(media["media_id"], event.created_at)
            if isinstance(url, str):
                # Otherwise (a sandbox user's file) the public URL the message names.
                attachments.append({"type": str(media.get("kind") or "document"), "url": url})
        return {
            "from": event.sender,
            "text": _text(content),
            "attachments": attachments,
            "message_id": event.message_id,
        }

    def headers(self, signing: Signing, endpoint: StoredEndpoint) -> dict[str, str]:
        """``X-Thikaa-Event`` and ``X-Thikaa-Signature``, and the Standard Webhooks headers
        that every format carries (so that any receiver can verify and deduplicate)."""
        return {
            **StandardFormat().headers(signing, endpoint),
            "X-Thikaa-Event": signing.event_type,
            "X-Thikaa-Signature": body_hmac(signing.secrets[0], signing.body),
        }


def thikaa_format(settings: Settings) -> ThikaaFormat:
    """The format as a deployment serves it (its secret key, public URL and link lifetime)."""
    return ThikaaFormat(MediaLinks.of(settings))
