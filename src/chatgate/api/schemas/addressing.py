"""Addresses beside the field that names their channel, as sends, fallback steps and
distributions take them: the schema's statement of each channel's shape, and the check."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import StringConstraints

from chatgate.api.schemas.common import semantic_error
from chatgate.domain.addresses import (
    ADDRESS_PATTERNS,
    ANY_ADDRESS_PATTERN,
    InvalidAddress,
    normalize_address,
)
from chatgate.domain.channels import ChannelType
from chatgate.domain.schema_rules import branch

AUTO: Literal["auto"] = "auto"
_CHANNEL_CHOICES = (AUTO, *(channel.value for channel in ChannelType))


def channel_choice(value: object) -> object:
    """A channel's name, or ``auto``, with one error naming every choice."""
    # One check with one message, where the union would report each of its members.
    if isinstance(value, ChannelType) or value == AUTO:
        return value
    if isinstance(value, str) and value in _CHANNEL_CHOICES:
        return ChannelType(value)
    raise ValueError(f"must be one of: {', '.join(_CHANNEL_CHOICES)}")


# An address beside the field naming its channel: the schema states the shape of an address
# on any channel; which channel's shape applies (and whether a phone number of that shape is
# assigned) is checked against the channel, and refused as ``invalid_address``.
Address = Annotated[
    str, StringConstraints(min_length=1, max_length=256, pattern=ANY_ADDRESS_PATTERN)
]
ANY_ADDRESS = re.compile(ANY_ADDRESS_PATTERN)


def addressed_by_channel(field: str, *, auto: bool = False) -> list[dict[str, Any]]:
    """A model's ``schema_rules`` alternatives: ``field``, when a string, has the shape of an
    address on the channel named by ``channel`` (``pattern`` leaves an object or null be);
    with ``auto``, "auto" takes a contact (an object) only."""
    alternatives = [
        branch(["channel"], channel={"const": channel.value}, **{field: {"pattern": pattern}})
        for channel, pattern in ADDRESS_PATTERNS.items()
    ]
    if auto:
        alternatives.append(
            branch(["channel"], channel={"const": AUTO}, **{field: {"type": "object"}})
        )
    return alternatives


def address_on(channel: ChannelType, raw: str, where: str, hint: str = "") -> str:
    """``raw`` normalised as an address on ``channel``, or an ``invalid_address`` refusal."""
    try:
        return normalize_address(channel, raw)
    except InvalidAddress as exc:
        raise semantic_error("invalid_address", where, f"{exc}{hint}") from None
