"""Facebook Messenger: a Page talking to people through the Send API on Meta's Graph host.

The shapes are shared with Instagram (``meta_messaging``); what is Messenger's own:

- any emoji can be sent as a reaction;
- buttons may call a phone number (``phone_number`` buttons);
- outside the 24-hour window only ``HUMAN_AGENT`` (7 days) is left: Meta retired the
  ``CONFIRMED_EVENT_UPDATE``, ``POST_PURCHASE_UPDATE`` and ``ACCOUNT_UPDATE`` tags on
  2026-04-27 (they are answered with error 100), so they are refused before the call;
- deliveries are reported (``delivery.mids``, or a watermark), reads as a watermark.
"""

from __future__ import annotations

from pydantic import Field, SecretStr

from chatgate.channels import meta
from chatgate.channels.meta_messaging import HUMAN_AGENT, Dialect, MetaMessagingAdapter
from chatgate.domain import capabilities as cap
from chatgate.domain.channels import RETIRED_MESSAGE_TAGS

MESSENGER = Dialect(
    channel="messenger",
    object_name="page",
    capabilities=frozenset(
        {
            cap.TEXT,
            cap.MEDIA_IMAGE,
            cap.MEDIA_DOCUMENT,
            cap.MEDIA_VIDEO,
            cap.MEDIA_AUDIO,
            cap.BUTTONS_REPLY,
            cap.BUTTONS_URL,
            cap.BUTTONS_CALL,
            cap.QUICK_REPLIES,
            cap.CARDS,
            cap.REACTION,
            cap.REPLY_TO,
        }
    ),
    tags=frozenset({HUMAN_AGENT}),
    retired_tags=RETIRED_MESSAGE_TAGS,
    reusable_media=True,
    reaction=lambda emoji: emoji,
)


class MessengerCredentials(meta.WebhookSecrets):
    """A Page's secrets: its access token, its id, and the app's webhook secrets."""

    page_access_token: SecretStr = Field(min_length=1)
    page_id: str = Field(pattern=r"^\d{1,32}$", description="the Facebook Page id")


class MessengerAdapter(MetaMessagingAdapter[MessengerCredentials]):
    """Messenger through ``POST /{version}/{page_id}/messages``."""

    name = "messenger"
    credentials_model = MessengerCredentials
    default_api_base = "https://graph.facebook.com"
    dialect = MESSENGER
    capabilities = MESSENGER.capabilities

    def account_id(self) -> str:
        """The Page id."""
        return self.credentials.page_id

    def access_token(self) -> str:
        """The Page access token."""
        return self.credentials.page_access_token.get_secret_value()
