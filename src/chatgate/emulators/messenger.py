"""The Messenger emulator: a Facebook Page's Send API and webhooks on the ``/graph`` host.

Register ``{page_id, page_access_token, app_secret, verify_token?, webhook_url?,
public_url?}``. A message sent to a user is answered ``{recipient_id, message_id: "m_..."}``
and followed by a ``delivery`` webhook (``{mids, watermark}``) and a ``read`` webhook
(``{watermark}``) at the state's timing. Text is limited to 2000 characters; buttons may
post back, open a URL or call a number. Injected attachments are served under
``/fbcdn/v/messaging`` by signed URL, without a token, as Messenger's CDN serves them.
"""

from __future__ import annotations

import secrets
from typing import Any

from chatgate.emulators.core import Account
from chatgate.emulators.meta_messaging import MetaMessagingEmulator, now_ms

MAX_TEXT = 2000


class MessengerEmulator(MetaMessagingEmulator):
    """Messenger's Send API and webhooks."""

    name = "messenger"
    token_secret = "page_access_token"  # noqa: S105 - the name of a field, not a secret
    id_field = "page_id"
    object_name = "page"
    button_types = frozenset({"web_url", "postback", "phone_number"})
    reports_deliveries = True
    cdn_path = "/fbcdn/v/messaging"

    def message_id(self, account: Account) -> str:
        """``m_`` and a long URL-safe token, as Messenger's mids look."""
        return f"m_{secrets.token_urlsafe(63)}"

    def text_problem(self, text: str) -> str | None:
        """Messenger counts characters."""
        if len(text) > MAX_TEXT:
            return f"Length of param message[text] must be less than or equal to {MAX_TEXT}"
        return None

    def read_event(self, message_id: str) -> dict[str, Any]:
        """Messenger reports reads as a watermark: everything sent before it was read."""
        return {"watermark": now_ms()}
