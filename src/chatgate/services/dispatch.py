"""Which adapter carries a message, and which sender's pace it keeps."""

from __future__ import annotations

from typing import Any

from chatgate.channels.base import ChannelAdapter
from chatgate.domain.channels import ChannelType
from chatgate.domain.keys import KeyMode
from chatgate.domain.pacing import DEFAULT_PACE, Pace
from chatgate.domain.records import Message
from chatgate.services.delivery import AdapterResolver, PaceResolver


def adapter_resolver(sandbox: ChannelAdapter[Any]) -> AdapterResolver:
    """Test-mode messages go to the sandbox; live channels have no adapter yet."""

    def resolve(message: Message) -> ChannelAdapter[Any] | None:
        return sandbox if message.mode is KeyMode.TEST else None

    return resolve


def sender_key(message: Message) -> str:
    """The sender a message is paced as: one account's sender on one channel."""
    return f"{message.account_id}:{message.mode.value}:{message.channel}:{message.sender or '-'}"


def pace_resolver(*, pace_sandbox: bool) -> PaceResolver:
    """Each channel's documented pace; sandbox messages keep it too unless told not to."""

    def resolve(message: Message) -> tuple[str, Pace] | None:
        if message.mode is KeyMode.TEST and not pace_sandbox:
            return None
        return sender_key(message), DEFAULT_PACE[ChannelType(message.channel)]

    return resolve
