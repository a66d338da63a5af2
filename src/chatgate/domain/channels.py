"""The channel types Chatgate speaks, how each addresses a recipient, and each one's rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class ChannelType(StrEnum):
    """A messaging platform as the native API names it."""

    WHATSAPP = "whatsapp"
    WHATSAPP_WEB = "whatsapp_web"
    TELEGRAM = "telegram"
    MESSENGER = "messenger"
    INSTAGRAM = "instagram"
    TIKTOK = "tiktok"
    LINE = "line"
    KAKAO = "kakao"
    VIBER = "viber"
    ZALO = "zalo"
    SMS = "sms"


@dataclass(frozen=True, slots=True)
class ChannelRules:
    """What a platform allows before any adapter is involved.

    ``can_initiate`` is false where the platform lets a business answer only after the user
    has written first. ``service_window_hours`` is the customer-service window after the
    user's last message; outside it only ``templates_outside_window`` content may be sent
    (and nothing at all when that set is empty). ``tag_windows`` names the message tags
    the platform takes and how many hours after the user's last message each allows.
    """

    can_initiate: bool = True
    service_window_hours: int | None = None
    templates_outside_window: bool = False
    tag_windows: Mapping[str, int] = field(default_factory=dict)
    # Only templates may be sent, unless the request's ``options.<channel>.type`` names one
    # of ``free_form_types`` (Kakao: AlimTalk is template-only; a brand message says so).
    templates_only: bool = False
    free_form_types: frozenset[str] = frozenset()
    # At most this many business messages per message of the user (TikTok: 10 in its
    # 48-hour window); the count starts again each time the user writes.
    messages_per_inbound: int | None = None

    def allows_free_form(self, channel: str, options: Mapping[str, object] | None) -> bool:
        """Whether a non-template content may go on ``channel`` with these request options."""
        if not self.templates_only:
            return True
        chosen = (options or {}).get(channel)
        return isinstance(chosen, Mapping) and chosen.get("type") in self.free_form_types


HUMAN_AGENT = "HUMAN_AGENT"
# Messenger's human-agent tag: a person may answer for 7 days after the user's message.
_META_TAGS = {HUMAN_AGENT: 7 * 24}
# Tags Meta took once and now refuses (answered with error 100), with the reason.
RETIRED_MESSAGE_TAGS: Mapping[str, str] = dict.fromkeys(
    ("CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE", "ACCOUNT_UPDATE"),
    "Meta retired this message tag on 2026-04-27; outside the 24-hour window only "
    "HUMAN_AGENT remains",
)


# Zalo's interaction rule: 7 days after the user's last interaction with the OA.
ZALO_INTERACTION_HOURS = 7 * 24

CHANNEL_RULES: dict[ChannelType, ChannelRules] = {
    ChannelType.WHATSAPP: ChannelRules(service_window_hours=24, templates_outside_window=True),
    ChannelType.WHATSAPP_WEB: ChannelRules(),
    ChannelType.TELEGRAM: ChannelRules(can_initiate=False),
    ChannelType.MESSENGER: ChannelRules(
        can_initiate=False, service_window_hours=24, tag_windows=_META_TAGS
    ),
    ChannelType.INSTAGRAM: ChannelRules(
        can_initiate=False, service_window_hours=24, tag_windows=_META_TAGS
    ),
    ChannelType.TIKTOK: ChannelRules(
        can_initiate=False, service_window_hours=48, messages_per_inbound=10
    ),
    ChannelType.LINE: ChannelRules(),
    # AlimTalk sends approved templates only; free-form content is a brand message (an
    # advertisement), which the request must name: options.kakao.type = "brand".
    ChannelType.KAKAO: ChannelRules(templates_only=True, free_form_types=frozenset({"brand"})),
    # Viber bots write only to subscribed users, and a user subscribes by writing first.
    ChannelType.VIBER: ChannelRules(can_initiate=False),
    # Zalo's consultation messages reach only users who interacted with the OA in the last
    # 7 days; transaction and promotion messages (our templates) may go later.
    ChannelType.ZALO: ChannelRules(
        service_window_hours=ZALO_INTERACTION_HOURS, templates_outside_window=True
    ),
    ChannelType.SMS: ChannelRules(),
}
