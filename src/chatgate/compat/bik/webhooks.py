"""The ``bik`` webhook format: status updates and link clicks, with ``callbackData``.

``message.status`` for every status change of an outbound WhatsApp message::

    {"event": "message.status", "data": {"id", "status", "contactIdentifier", "medium",
     "timestamp", "callbackData"}}

and ``message.link_clicked`` for every click on one of its tracked links::

    {"event": "message.link_clicked", "data": {"id", "url", "contactIdentifier",
     "timestamp", "callbackData"}}

``id`` is Chatgate's id of the message (what the send answered), ``status`` Chatgate's
(``queued``, ``sent``, ``delivered``, ``read``, ``failed``), ``timestamp`` ISO 8601 in UTC,
and ``callbackData`` the string the send gave, exactly (``null`` without one). The page
shows no signature: the Standard Webhooks headers (``webhook-id``, ``webhook-timestamp``,
``webhook-signature``) sign every delivery, as on every endpoint. Other events (inbound
messages) have no Bik shape and are not sent to such an endpoint. An endpoint need not be
bound to a key: unbound, it gets the events of every WhatsApp message of its account and
mode; bound to a Bik key, those of that key's messages.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from chatgate.compat.bik.routes import CALLBACK_DATA
from chatgate.config import Settings
from chatgate.domain.channels import ChannelType
from chatgate.domain.dialects import Dialect
from chatgate.services.links import LINK_CLICKED
from chatgate.services.webhook_formats import Signing, StandardFormat
from chatgate.storage.events import LoggedEvent
from chatgate.storage.webhook_endpoints import StoredEndpoint

STATUS = "message.status"


class BikFormat:
    """Bik's status-update and link-click webhooks."""

    name = Dialect.BIK.value
    dialect = Dialect.BIK
    requires_key = False

    def payload(self, event: LoggedEvent, endpoint: StoredEndpoint) -> dict[str, Any] | None:
        """The body for ``event``; ``None`` for an event Bik has no shape for."""
        if event.message_id is None or event.direction != "outbound":
            return None
        if event.channel != ChannelType.WHATSAPP.value:
            return None
        callback = (event.metadata or {}).get(CALLBACK_DATA)
        common: dict[str, Any] = {
            "contactIdentifier": event.recipient,
            "timestamp": event.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "callbackData": callback if isinstance(callback, str) else None,
        }
        if event.type == STATUS and event.status is not None:
            data: dict[str, Any] = {"id": event.message_id, "status": event.status.value}
            data.update(contactIdentifier=common.pop("contactIdentifier"), medium="whatsapp")
        elif event.type == LINK_CLICKED and event.detail and event.detail.get("url"):
            data = {"id": event.message_id, "url": event.detail["url"]}
        else:
            return None
        return {"event": event.type, "data": {**data, **common}}

    def headers(self, signing: Signing, endpoint: StoredEndpoint) -> dict[str, str]:
        """The Standard Webhooks headers."""
        return StandardFormat().headers(signing, endpoint)


def bik_format(settings: Settings) -> BikFormat:
    """The format, for any deployment."""
    return BikFormat()
