"""MessageHub's delivery reports to the customer: the ``messagehub`` webhook format.

Each status change of an outbound message is POSTed as ``{"event": "message.status",
"data": {"messageId", "status", "channel", "to", "timestamp", "error"?}}`` (``timestamp``
ISO 8601 in UTC; ``error`` ``{"code", "message"}`` only when the message failed) with
``X-MessageHub-Signature: sha256=<hex HMAC-SHA256 of the raw body>``, keyed with the
endpoint's secret string as shown on creation. Other events (inbound messages, link
clicks) have no MessageHub shape and are not sent to such an endpoint. The Standard
Webhooks headers ride along, as on every endpoint.

An endpoint of this format need not be bound to a key: unbound, it gets the status changes
of every message of its account and mode; bound to a MessageHub key, those of that key's.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from chatgate.config import Settings
from chatgate.domain.dialects import Dialect
from chatgate.domain.status import Status
from chatgate.services.webhook_formats import Signing, StandardFormat, body_hmac
from chatgate.storage.events import LoggedEvent
from chatgate.storage.webhook_endpoints import StoredEndpoint

SIGNATURE_HEADER = "X-MessageHub-Signature"


class MessageHubFormat:
    """Delivery reports in MessageHub's shape, signed over the raw body."""

    name = "messagehub"
    dialect = Dialect.MESSAGEHUB
    requires_key = False

    def payload(self, event: LoggedEvent, endpoint: StoredEndpoint) -> dict[str, Any] | None:
        """``message.status`` of an outbound message; ``None`` for any other event."""
        if event.type != "message.status" or event.direction != "outbound":
            return None
        if event.message_id is None or event.status is None:
            return None
        data: dict[str, Any] = {
            "messageId": event.message_id,
            "status": event.status.value,
            "channel": event.channel,
            "to": event.recipient,
            "timestamp": event.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        }
        if event.status is Status.FAILED:
            detail = event.detail or {}
            data["error"] = {"code": detail.get("code"), "message": detail.get("message")}
        return {"event": "message.status", "data": data}

    def headers(self, signing: Signing, endpoint: StoredEndpoint) -> dict[str, str]:
        """``X-MessageHub-Signature`` and the Standard Webhooks headers."""
        return {
            **StandardFormat().headers(signing, endpoint),
            SIGNATURE_HEADER: body_hmac(signing.secrets[0], signing.body),
        }


def messagehub_format(settings: Settings) -> MessageHubFormat:
    """The format, for any deployment."""
    return MessageHubFormat()
