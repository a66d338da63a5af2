"""The Instagram emulator: a professional account's messaging API on the ``/graph`` host.

Register ``{ig_user_id, access_token, app_secret, verify_token?, webhook_url?,
public_url?}``. A message sent to a user is answered ``{recipient_id, message_id}`` with an
Instagram-looking id (``aWdf...``), then only a ``read`` webhook naming that ``mid`` follows
(Instagram reports no deliveries). Text is limited to 1000 UTF-8 bytes; buttons post back
or open a URL; the only reaction is ``love``. Injected attachments are served under
``/ig_messaging_cdn/`` by signed URL, without a token, as Instagram's lookaside CDN does.
"""

from __future__ import annotations

import base64
import secrets
from typing import Any

from chatgate.emulators.core import Account
from chatgate.emulators.meta_messaging import MetaMessagingEmulator

MAX_TEXT_BYTES = 1000
# Instagram's ids are base64 of "ig_message_item:1:IGMessageID:..." with its own padding.
_ID_PREFIX = "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOj"


class InstagramEmulator(MetaMessagingEmulator):
    """Instagram's messaging API and webhooks."""

    name = "instagram"
    token_secret = "access_token"  # noqa: S105 - the name of a field, not a secret
    id_field = "ig_user_id"
    object_name = "instagram"
    button_types = frozenset({"web_url", "postback"})
    reports_deliveries = False
    cdn_path = "/ig_messaging_cdn/"

    def message_id(self, account: Account) -> str:
        """An id shaped like Instagram's: a fixed prefix, base64 digits, ``ZDZD``."""
        item = f"{account.id}:{secrets.randbits(128)}:{self.state.next_number()}"
        digits = base64.b64encode(item.encode("ascii")).decode("ascii").rstrip("=")
        return f"{_ID_PREFIX}{digits}ZDZD"

    def text_problem(self, text: str) -> str | None:
        """Instagram counts UTF-8 bytes."""
        if len(text.encode("utf-8")) > MAX_TEXT_BYTES:
            return f"Message text must be UTF-8 and {MAX_TEXT_BYTES} bytes or less"
        return None

    def reaction_problem(self, reaction: Any) -> str | None:
        """Instagram takes ``love`` only."""
        return None if reaction == "love" else "Param reaction must be love"
