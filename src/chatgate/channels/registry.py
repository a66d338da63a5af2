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


# Channel types whose connection one worker holds open and sends through (a linked-device
# session): their sends are claimed only by that worker. An adapter may say so itself with
# a ``held_exclusively = True`` class attribute; this set names the types that have no
# adapter class yet.
_HELD_EXCLUSIVELY = frozenset({"whatsapp_web"})


def supported_types() -> list[str]:
    """The channel types that can be connected (have a real adapter)."""
    return sorted(_ADAPTERS)


@functools.cache
def adapter_class(channel_type: str) -> type[ChannelAdapter[Any]]:
    """The adapter class of ``channel_type``; ``KeyError`` when there is none."""
    module_name, _, class_name = _ADAPTERS[channel_type].partition(":")
    found: type[ChannelAdapter[Any]] = getattr(importlib.import_module(module_name), class_name)
    return found


@functools.cache
def held_exclusively(channel_type: str) -> bool:
    """Whether a connection of ``channel_type`` is held open by one worker, the only one
    that can send through it."""
    if channel_type in _HELD_EXCLUSIVELY:
        return True
    if channel_type not in _ADAPTERS:
        return False
    return bool(getattr(adapter_class(channel_type), "held_exclusively", False))
