"""Rendering content down to what a channel carries: faithful, and refused where it cannot be."""

from __future__ import annotations

from typing import Any

import pytest

from chatgate.domain import capabilities as cap
from chatgate.domain.degrade import CannotDegrade, render_down
from tests.channels.contract import SAMPLES

TEXT_ONLY = frozenset({cap.TEXT})
AUDIO = frozenset({cap.TEXT, cap.MEDIA_AUDIO, cap.MEDIA_CAPTION})


def _text(content: dict[str, Any], has: frozenset[str] = TEXT_ONLY) -> str:
    rendered = render_down(content, has, reply_to=False)
    assert rendered.content["type"] == "text"
    text: str = rendered.content["text"]
    return text


def test_content_the_channel_carries_is_left_alone() -> None:
    rendered = render_down(SAMPLES["text_emoji"], TEXT_ONLY, reply_to=False)
    assert rendered.content == SAMPLES["text_emoji"]
    assert rendered.features == ()
    assert rendered.keeps_reply_to


def test_buttons_become_numbered_choices_with_their_links_and_numbers() -> None:
    assert _text(SAMPLES["buttons_reply"]) == (
        "Your order\nDid it arrive? 📦\n\n1. Yes\n2. No\n\nReply any time"
    )
    assert (
        _text(SAMPLES["buttons_url"]) == "Track your parcel\n\n1. Track: https://example.com/t/1042"
    )
    assert _text(SAMPLES["buttons_call"]) == "Talk to us\n\n1. Call: +14155550100"
    assert _text(SAMPLES["quick_replies"]) == "Pick a size\n\n1. Small\n2. Medium\n3. Large"


def test_a_list_numbers_its_rows_under_their_sections() -> None:
    assert _text(SAMPLES["list"]) == (
        "Choose a delivery slot\n\nTomorrow\n1. Morning — 8–12\n2. Afternoon"
    )


def test_cards_keep_every_title_link_and_button() -> None:
    assert _text(SAMPLES["cards"]) == (
        "Our picks\n\nBlue mug\n€12\nhttps://cdn.example.com/mug.jpg\n"
        "https://shop.example.com/mug\n1. Buy: https://shop.example.com/mug/buy\n"
        "2. More like this"
    )


def test_a_location_becomes_its_name_address_and_a_map_link() -> None:
    rendered = render_down(SAMPLES["location"], TEXT_ONLY, reply_to=False)
    assert rendered.content["text"] == (
        "Tour Eiffel\nChamp de Mars, Paris\n"
        "https://www.google.com/maps/search/?api=1&query=48.8584%2C2.2945"
    )
    assert rendered.features == (cap.LOCATION,)


def test_contact_cards_become_their_lines() -> None:
    assert _text(SAMPLES["contact"]) == (
        "Ada Lovelace\nAnalytical Engines\n+447700900123\nada@example.com"
    )


def test_a_voice_note_is_sent_as_audio_where_voice_notes_are_not_carried() -> None:
    rendered = render_down(SAMPLES["voice"], AUDIO, reply_to=False)
    assert rendered.content == {
        "type": "media",
        "media": {"url": "https://cdn.example.com/note.ogg", "kind": "audio"},
    }
    assert rendered.features == (cap.MEDIA_VOICE,)


def test_media_that_cannot_be_shown_or_captioned_becomes_its_caption_and_link() -> None:
    has = frozenset({cap.TEXT, cap.MEDIA_IMAGE})
    rendered = render_down(SAMPLES["image"], has, reply_to=False)
    assert rendered.content == {"type": "text", "text": "A cat 🐱\nhttps://cdn.example.com/cat.jpg"}
    assert rendered.features == (cap.MEDIA_CAPTION,)
    assert _text(SAMPLES["document"]) == (
        "invoice-42.pdf\nhttps://cdn.example.com/files/invoice.pdf"
    )


def test_a_reply_the_channel_cannot_thread_is_left_out_and_said_so() -> None:
    rendered = render_down(SAMPLES["text_emoji"], TEXT_ONLY, reply_to=True)
    assert rendered.content == SAMPLES["text_emoji"]
    assert rendered.features == (cap.REPLY_TO,)
    assert not rendered.keeps_reply_to


@pytest.mark.parametrize(
    ("case", "feature"),
    [("template", "template"), ("reaction", "reaction"), ("sticker", "sticker")],
)
def test_content_without_a_faithful_text_form_is_refused(case: str, feature: str) -> None:
    with pytest.raises(CannotDegrade) as refused:
        render_down(SAMPLES[case], TEXT_ONLY, reply_to=False)
    assert refused.value.feature == feature


def test_text_longer_than_a_message_is_refused_rather_than_cut() -> None:
    long_list = {
        "type": "interactive",
        "interactive": {
            "kind": "buttons",
            "body": "x" * 4090,
            "buttons": [{"type": "reply", "id": "a", "title": "A choice"}],
        },
    }
    with pytest.raises(CannotDegrade) as refused:
        render_down(long_list, TEXT_ONLY, reply_to=False)
    assert refused.value.feature == cap.TEXT


def test_card_buttons_count_as_features_of_the_cards() -> None:
    assert cap.features_of(SAMPLES["cards"]) == [
        cap.CARDS,
        cap.BUTTONS_URL,
        cap.BUTTONS_REPLY,
    ]
