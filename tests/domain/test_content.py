"""The content union: each kind's own rules."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from chatgate.domain import capabilities as cap
from chatgate.domain.capabilities import features_of
from chatgate.domain.content import Content, MediaKind, media_kind_from_url

CONTENT: TypeAdapter[Any] = TypeAdapter(Content)


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://cdn.example.com/a/photo.JPG", MediaKind.IMAGE),
        ("https://cdn.example.com/clip.mp4?x=1", MediaKind.VIDEO),
        ("https://cdn.example.com/voice.ogg", MediaKind.AUDIO),
        ("https://cdn.example.com/invoice.pdf", MediaKind.DOCUMENT),
        ("https://cdn.example.com/download", None),
    ],
)
def test_media_kind_from_extension(url: str, kind: MediaKind | None) -> None:
    assert media_kind_from_url(url) == kind


def test_media_kind_is_resolved_or_refused() -> None:
    media = CONTENT.validate_python({"type": "media", "media": {"url": "https://x.example/a.png"}})
    assert media.media.kind is MediaKind.IMAGE
    with pytest.raises(ValidationError, match="kind: cannot tell"):
        CONTENT.validate_python({"type": "media", "media": {"url": "https://x.example/blob"}})


def test_voice_note_must_be_audio() -> None:
    with pytest.raises(ValidationError, match="voice"):
        CONTENT.validate_python(
            {"type": "media", "media": {"url": "https://x.example/a.png", "voice": True}}
        )


def test_interactive_shapes() -> None:
    buttons = {
        "type": "interactive",
        "interactive": {
            "kind": "buttons",
            "body": "Pick",
            "buttons": [{"id": "y", "title": "Yes"}],
        },
    }
    assert CONTENT.validate_python(buttons).interactive.buttons[0].id == "y"
    with pytest.raises(ValidationError, match="sections"):
        CONTENT.validate_python(
            {
                "type": "interactive",
                "interactive": {"kind": "list", "body": "Pick", "button_text": "Open"},
            }
        )
    with pytest.raises(ValidationError, match="needs url"):
        CONTENT.validate_python(
            {
                "type": "interactive",
                "interactive": {
                    "kind": "buttons",
                    "body": "Go",
                    "buttons": [{"type": "url", "title": "Site"}],
                },
            }
        )


def test_unknown_type_and_extra_fields_are_refused() -> None:
    with pytest.raises(ValidationError):
        CONTENT.validate_python({"type": "hologram"})
    with pytest.raises(ValidationError):
        CONTENT.validate_python({"type": "text", "text": "hi", "colour": "red"})


def test_location_bounds_and_contact_reachability() -> None:
    with pytest.raises(ValidationError):
        CONTENT.validate_python({"type": "location", "location": {"latitude": 91, "longitude": 0}})
    with pytest.raises(ValidationError, match="phones"):
        CONTENT.validate_python({"type": "contact", "contacts": [{"name": "Ana"}]})


def test_a_sticker_is_named_by_ids_of_digits() -> None:
    sticker = {"type": "sticker", "sticker": {"package_id": "446", "sticker_id": "1988"}}
    assert CONTENT.validate_python(sticker).model_dump() == sticker
    assert features_of(sticker) == [cap.STICKER]
    for bad in ({"package_id": "446"}, {"package_id": "", "sticker_id": "1"},
                {"package_id": "446", "sticker_id": 1988}, {"package_id": "4 6", "sticker_id": "1"},
                {"package_id": "1", "sticker_id": "2", "text": "hi"}):  # fmt: skip
        with pytest.raises(ValidationError):
            CONTENT.validate_python({"type": "sticker", "sticker": bad})
