"""Finding links in a message's text and replacing them, leaving everything else as it was."""

from __future__ import annotations

from typing import Any

import pytest

from chatgate.domain.content import MAX_CAPTION
from chatgate.domain.links import (
    RewrittenTooLong,
    find_links,
    replace_content_links,
    replace_links,
)


def _urls(text: str) -> list[str]:
    return [link.url for link in find_links(text)]


@pytest.mark.parametrize(
    ("text", "urls"),
    [
        ("no links here", []),
        ("", []),
        ("see https://example.com", ["https://example.com"]),
        ("see http://example.com/a?b=1&c=2#top now", ["http://example.com/a?b=1&c=2#top"]),
        ("HTTPS://EXAMPLE.COM/X", ["HTTPS://EXAMPLE.COM/X"]),
        ("Done: https://example.com/a.", ["https://example.com/a"]),
        ("https://a.example, https://b.example; ok", ["https://a.example", "https://b.example"]),
        ("really? https://example.com/?! yes", ["https://example.com/"]),
        ("(see https://example.com/a)", ["https://example.com/a"]),
        ("(see https://example.com/a).", ["https://example.com/a"]),
        ("[https://example.com/a]", ["https://example.com/a"]),
        (
            "https://en.wikipedia.org/wiki/Python_(language)",
            ["https://en.wikipedia.org/wiki/Python_(language)"],
        ),
        (
            "(https://en.wikipedia.org/wiki/Python_(language))",
            ["https://en.wikipedia.org/wiki/Python_(language)"],
        ),
        ("'https://example.com/it's'", ["https://example.com/it's"]),
        ("<https://example.com/a>", ["https://example.com/a"]),
        ('"https://example.com/a"', ["https://example.com/a"]),
        ("https://example.com/%E6%97%A5", ["https://example.com/%E6%97%A5"]),
        ("ftp://example.com mailto:a@example.com", []),
        ("https:// nothing", []),
        ("https://... nothing", []),
        ("xhttps://example.com", []),
    ],
)
def test_finds_links_without_the_punctuation_around_them(text: str, urls: list[str]) -> None:
    assert _urls(text) == urls


def test_several_links_are_found_in_order_with_their_places() -> None:
    text = "a https://one.example b http://two.example/p c https://one.example"
    links = find_links(text)
    assert [link.url for link in links] == [
        "https://one.example",
        "http://two.example/p",
        "https://one.example",
    ]
    assert all(text[link.start : link.end] == link.url for link in links)


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("https://example.com/a👋 hi", "https://example.com/a"),
        ("详情见https://example.com/a了解更多", "https://example.com/a"),
        ("详情见https://example.com/a。", "https://example.com/a"),
        ("naïve https://example.com/café", "https://example.com/caf"),
    ],
)
def test_a_link_ends_at_the_first_non_ascii_character(text: str, url: str) -> None:
    assert _urls(text) == [url]


def test_replacing_keeps_everything_around_the_links_byte_exact() -> None:
    text = (
        "Hi 👋🏽 👨‍👩‍👧‍👦 (order: https://shop.example/o/1?x=é).\nمرحبا https://b.example, 日本語"
    )
    names = {"https://shop.example/o/1?x=": "<one>", "https://b.example": "<two>"}
    replaced = replace_links(text, names.__getitem__)
    expected = "Hi 👋🏽 👨‍👩‍👧‍👦 (order: <one>é).\nمرحبا <two>, 日本語"
    assert replaced == expected
    assert replaced.encode() == expected.encode()


def test_replacing_a_text_without_links_changes_nothing() -> None:
    text = "no links 👋 — none at all"
    assert replace_links(text, lambda url: "X") == text


def _short(url: str) -> str:
    return "L"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ({"type": "text", "text": "go https://x.example"}, {"type": "text", "text": "go L"}),
        (
            {
                "type": "media",
                "media": {"url": "https://cdn.example/a.png", "caption": "https://x.example!"},
            },
            {"type": "media", "media": {"url": "https://cdn.example/a.png", "caption": "L!"}},
        ),
        (
            {
                "type": "interactive",
                "interactive": {"kind": "buttons", "body": "https://x.example"},
            },
            {"type": "interactive", "interactive": {"kind": "buttons", "body": "L"}},
        ),
        # No caption, or a content with no readable text: nothing to do.
        (
            {"type": "media", "media": {"url": "https://cdn.example/a.png"}},
            {"type": "media", "media": {"url": "https://cdn.example/a.png"}},
        ),
        (
            {
                "type": "location",
                "location": {"latitude": 1.0, "longitude": 2.0, "name": "https://x.example"},
            },
            {
                "type": "location",
                "location": {"latitude": 1.0, "longitude": 2.0, "name": "https://x.example"},
            },
        ),
    ],
)
def test_only_the_readable_text_of_a_content_is_rewritten(
    content: dict[str, Any], expected: dict[str, Any]
) -> None:
    before = repr(content)
    assert replace_content_links(content, _short) == expected
    assert repr(content) == before  # the caller's content is not changed


def test_a_text_that_outgrows_its_limit_is_refused() -> None:
    caption = "https://x.example " * (MAX_CAPTION // 18)
    content = {"type": "media", "media": {"url": "https://cdn.example/a.png", "caption": caption}}
    with pytest.raises(RewrittenTooLong) as refused:
        replace_content_links(content, lambda url: "https://gateway.example/l/abcdefghijkl")
    assert refused.value.field.name == "media.caption"
