"""A connection's own pacing settings replace its channel's documented rates."""

from __future__ import annotations

from chatgate.channels.base import ChannelSettings
from chatgate.channels.telegram import TelegramAdapter, TelegramCredentials
from chatgate.domain.channels import ChannelType
from chatgate.domain.keys import KeyMode
from chatgate.domain.pacing import DEFAULT_PACE, Pace, Rate, pace_of, rate_per_second
from chatgate.domain.records import Message
from chatgate.domain.status import Status
from chatgate.services.dispatch import pace_resolver
from chatgate.storage.types import utcnow


def test_a_rate_never_exceeds_what_was_set() -> None:
    assert rate_per_second(30) == Rate(30)
    assert rate_per_second(2.5) == Rate(2)
    assert rate_per_second(0.5) == Rate(1, 2)
    assert rate_per_second(0.3) == Rate(1, 4)


def test_settings_replace_the_channels_defaults_one_by_one() -> None:
    assert pace_of(ChannelType.TELEGRAM) == DEFAULT_PACE[ChannelType.TELEGRAM]
    assert pace_of(ChannelType.TELEGRAM, per_second=5) == Pace(Rate(5), Rate(1))
    assert pace_of(ChannelType.WHATSAPP, per_recipient_seconds=6) == Pace(Rate(80), Rate(1, 6))
    assert pace_of(ChannelType.TELEGRAM, per_recipient_seconds=0) == Pace(Rate(30), None)


def _message(mode: KeyMode) -> Message:
    return Message.new(
        account_id="acc_1",
        mode=mode,
        direction="outbound",
        channel="telegram",
        sender=None,
        recipient="6061234567",
        content={"type": "text", "text": "hi"},
        status=Status.QUEUED,
        at=utcnow(),
    )


def test_each_connection_is_paced_on_its_own_with_its_settings() -> None:
    credentials = TelegramCredentials.model_validate(
        {"bot_token": "123456:TEST-token", "secret_token": "s3cret"}
    )
    slow = TelegramAdapter(credentials, ChannelSettings(rate_per_second=2), connection_id="ch_slow")
    other = TelegramAdapter(credentials, ChannelSettings(), connection_id="ch_other")
    resolve = pace_resolver(pace_sandbox=False)
    live = _message(KeyMode.LIVE)
    assert resolve(live, slow) == ("acc_1:live:telegram:ch_slow", Pace(Rate(2), Rate(1)))
    assert resolve(live, other) == (
        "acc_1:live:telegram:ch_other",
        DEFAULT_PACE[ChannelType.TELEGRAM],
    )
    assert resolve(_message(KeyMode.TEST), slow) is None
