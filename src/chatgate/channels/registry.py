"""Channel type -> adapter class: the one place that names every platform's module.

Modules are imported on first use, so that a deployment only loads the platforms it uses.
"""

from __future__ import annotations

import functools
import importlib
from typing import Any

from chatgate.channels.base import ChannelAdapter

_ADAPTERS: dict[str, str] = {
    "whatsapp": "chatgate.channels.whatsapp_cloud:WhatsAppCloudAdapter",
    "telegram": "chatgate.channels.telegram:TelegramAdapter",
    "messenger": "chatgate.channels.messenger:MessengerAdapter",
    "instagram": "chatgate.channels.instagram:InstagramAdapter",
    "kakao": "chatgate.channels.kakao:KakaoAdapter",
    "zalo": "chatgate.channels.zalo:ZaloAdapter",
    "tiktok": "chatgate.channels.tiktok:TikTokAdapter",
    "sms": "chatgate.channels.sms:SmsAdapter",
    "viber": "chatgate.channels.viber:ViberAdapter",
    "line": "chatgate.channels.line:LineAdapter",
}
# Channels whose connections are made another way than ``POST /v1/channels`` (a linked
# device's connection is its session, made with ``POST /v1/sessions``), and where.
_MADE_ELSEWHERE: dict[str, tuple[str, str]] = {
    "whatsapp_web": ("chatgate.channels.whatsapp_web:WhatsAppWebAdapter", "/v1/sessions"),
}


def supported_types() -> list[str]:
    """The channel types that can be connected through ``/v1/channels`` (have a real
    adapter)."""
    return sorted(_ADAPTERS)


def adapter_types() -> list[str]:
    """Every channel type with a real adapter, however its connections are made."""
    return sorted({*_ADAPTERS, *_MADE_ELSEWHERE})


def made_elsewhere(channel_type: str) -> str | None:
    """The route that makes connections of ``channel_type``, when it is not
    ``/v1/channels``."""
    found = _MADE_ELSEWHERE.get(channel_type)
    return None if found is None else found[1]


@functools.cache
def adapter_class(channel_type: str) -> type[ChannelAdapter[Any]]:
    """The adapter class of ``channel_type``; ``KeyError`` when there is none."""
    path = _ADAPTERS.get(channel_type) or _MADE_ELSEWHERE[channel_type][0]
    module_name, _, class_name = path.partition(":")
    found: type[ChannelAdapter[Any]] = getattr(importlib.import_module(module_name), class_name)
    return found


@functools.cache
def held_exclusively(channel_type: str) -> bool:
    """Whether a connection of ``channel_type`` is held open by one worker, the only one
    that can send through it (its adapter's ``held_exclusively``)."""
    if channel_type not in _ADAPTERS and channel_type not in _MADE_ELSEWHERE:
        return False
    return adapter_class(channel_type).held_exclusively
