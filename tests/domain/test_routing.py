"""Auto routing: preference, then an open window, then cost, ties in a fixed order."""

from __future__ import annotations

import pytest

from chatgate.domain.routing import CHANNEL_ORDER, NoRoute, RouteChoice, choose_channel

PHONE = "+14155550123"
WA = ("whatsapp", PHONE)
SMS = ("sms", PHONE)
TG = ("telegram", "42")
LINE = ("line", "U" + "0" * 32)
PRICES = {"whatsapp": 8_000, "sms": 50_000, "telegram": 0, "line": 3_000}


def test_the_contacts_preference_comes_first() -> None:
    choice = choose_channel([WA, SMS, TG], ["viber", "sms", "whatsapp"], {TG}, PRICES)
    assert choice == RouteChoice(
        "sms", PHONE, {"rule": "preference", "considered": ["whatsapp", "telegram", "sms"]}
    )
    assert choice.rule == "preference"


def test_an_open_window_comes_before_cost() -> None:
    choice = choose_channel([WA, SMS, TG], [], {SMS}, PRICES)
    assert (choice.channel, choice.to, choice.rule) == ("sms", PHONE, "open_window")


def test_between_open_windows_the_cheaper_wins() -> None:
    choice = choose_channel([WA, SMS, LINE], ["viber"], {WA, SMS, LINE}, PRICES)
    assert (choice.channel, choice.rule) == ("line", "open_window")


def test_without_preference_or_window_the_cheapest_wins() -> None:
    choice = choose_channel([WA, SMS, LINE], [], set(), PRICES)
    assert choice == RouteChoice(
        "line", LINE[1], {"rule": "cost", "considered": ["whatsapp", "line", "sms"]}
    )


def test_equal_prices_follow_the_fixed_order() -> None:
    prices = {"whatsapp": 5, "sms": 5, "line": 5}
    assert choose_channel([SMS, LINE, WA], [], set(), prices).channel == "whatsapp"
    assert CHANNEL_ORDER.index("whatsapp") < CHANNEL_ORDER.index("line")


def test_a_channel_without_a_price_comes_after_the_priced_ones() -> None:
    choice = choose_channel([("zalo", "1234"), SMS], [], set(), {"sms": 50_000})
    assert (choice.channel, choice.rule) == ("sms", "cost")


def test_within_a_channel_the_identity_with_an_open_window_is_chosen() -> None:
    other_chat = ("telegram", "43")
    choice = choose_channel([TG, other_chat], ["telegram"], {other_chat}, PRICES)
    assert (choice.to, choice.rule) == ("43", "preference")


def test_no_candidate_is_no_route() -> None:
    with pytest.raises(NoRoute):
        choose_channel([], ["whatsapp"], set(), PRICES)
