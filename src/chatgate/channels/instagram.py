"""Instagram messaging with Instagram Login: a professional account on ``graph.instagram.com``.

The shapes are shared with Messenger (``meta_messaging``); what is Instagram's own:

- the only reaction it sends is ``love`` (a heart): any other emoji is unsupported;
- buttons open a URL or post back; there are no call buttons;
- outside the 24-hour window only the ``HUMAN_AGENT`` tag (7 days) exists;
- there are no delivery receipts; ``messaging_seen`` reports a read message by its mid;
- media is sent by URL as the platform's send guide shows it (no ``is_reusable``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import Field, SecretStr

from chatgate.channels import meta
from chatgate.channels.meta_messaging import HUMAN_AGENT, Dialect, MetaMessagingAdapter
from chatgate.domain import capabilities as cap
from chatgate.domain.status import Status

_HEART = "\u2764"
_VARIATION_SELECTOR = "\ufe0f"


def _reaction(emoji: str) -> str | None:
    """``love`` for a red heart (with or without its emoji presentation selector)."""
    return "love" if emoji.rstrip(_VARIATION_SELECTOR) == _HEART else None


INSTAGRAM = Dialect(
    channel="instagram",
    object_name="instagram",
    capabilities=frozenset(
        {
            cap.TEXT,
            cap.MEDIA_IMAGE,
            cap.MEDIA_DOCUMENT,
            cap.MEDIA_VIDEO,
            cap.MEDIA_AUDIO,
            cap.BUTTONS_REPLY,
            cap.BUTTONS_URL,
            cap.QUICK_REPLIES,
            cap.CARDS,
            cap.REACTION,
            cap.REPLY_TO,
        }
    ),
    tags=frozenset({HUMAN_AGENT}),
    retired_tags={},
    reusable_media=False,
    reaction=_reaction,
)


class InstagramCredentials(meta.WebhookSecrets):
    """An Instagram professional account's secrets and the app's webhook secrets."""

    access_token: SecretStr = Field(min_length=1, description="an Instagram User access token")
    ig_user_id: str = Field(
        pattern=r"^\d{1,32}$", description="the Instagram professional account id"
    )


class InstagramAdapter(MetaMessagingAdapter[InstagramCredentials]):
    """Instagram through ``POST /{version}/{ig_user_id}/messages``."""

    name = "instagram"
    credentials_model = InstagramCredentials
    default_api_base = "https://graph.instagram.com"
    dialect = INSTAGRAM
    capabilities = INSTAGRAM.capabilities
    # Instagram reports reads only (``messaging_seen``), never deliveries.
    status_map: ClassVar[Mapping[str, Status]] = {"read": Status.READ}

    def account_id(self) -> str:
        """The Instagram professional account id."""
        return self.credentials.ig_user_id

    def access_token(self) -> str:
        """The Instagram User access token."""
        return self.credentials.access_token.get_secret_value()
