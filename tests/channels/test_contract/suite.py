"""What the contract suite's modules share: the platforms, test ids, adapters, webhooks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from chatgate.channels.base import ChannelAdapter, ProviderRequest, RawRequest
from tests.channels.contract import Platform, platforms

PLATFORMS = platforms()
EMULATOR = "http://emulator"
# Where the emulator posts its webhooks: a catcher in the test, not a real gateway.
GATEWAY = "http://gateway/webhooks"


def by_case(rows: list[tuple[Platform, str]]) -> list[Any]:
    """``(platform, name)`` rows with readable ids: ``whatsapp/image``."""
    return [pytest.param(*row, id=f"{row[0].spec.platform}/{row[1]}") for row in rows]


def by_platform() -> list[Any]:
    """Every platform, with its name as the id."""
    return [pytest.param(platform, id=platform.spec.platform) for platform in PLATFORMS]


def adapter_for(platform: Platform) -> ChannelAdapter[Any]:
    """The platform's adapter, pointed at the emulator's prefix for it."""
    return platform.spec.make_adapter(EMULATOR + platform.spec.emulator_prefix)


def webhook(platform: Platform, body: bytes, headers: Mapping[str, str]) -> RawRequest:
    """A webhook of ``body`` with ``headers``, as it reaches the gateway."""
    return RawRequest("POST", f"{GATEWAY}/{platform.spec.platform}", dict(headers), {}, body)


def signed(platform: Platform, payload: Any) -> RawRequest:
    """A webhook of ``payload`` as the platform writes and signs it."""
    body = platform.spec.serialize(payload)
    return webhook(platform, body, platform.spec.sign(body))


def request_body(request: ProviderRequest) -> tuple[str, Any]:
    """What a built request puts on the wire, named as golden files name it: ``("json",
    body)``, or ``("form", fields)`` for a form-encoded call (Twilio's)."""
    if request.data is not None:
        return "form", dict(request.data)
    return "json", request.json
