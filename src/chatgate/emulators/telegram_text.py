"""Entities of text in the Telegram emulator: what Telegram marks up in a message by itself.

Telegram finds bot commands, mentions, hashtags, cashtags, links and e-mail addresses in
every text and caption, the bot's and the users', and returns them as ``entities``
(``caption_entities``) with offsets and lengths in UTF-16 code units. Entities a bot gives
(``entities``, ``caption_entities``) are kept, and what Telegram finds is added where they
leave room. The rules follow TDLib's matchers (a mention is a known username, 5-32
characters; a command up to 64 characters, with an optional ``@bot``); links are only
those with an ``http``/``https`` scheme, since the emulator keeps no list of top-level
domains. ``parse_mode`` is not read: a bot's markup is kept as it sent it.
"""

from __future__ import annotations

import re
from typing import Any

from chatgate.emulators.telegram_wire import bad_request

Entity = dict[str, Any]

# Word characters in TDLib's sense are letters, digits and ``_``, as ``\w`` is in Python.
_FOUND: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("url", re.compile(r"(?<![\w@])https?://[^\s<>\"]+[^\s<>\".,;:!?'()\[\]]", re.IGNORECASE)),
    ("email", re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")),
    ("bot_command", re.compile(r"(?<![\w/<>])/\w{1,64}(?:@\w{3,32})?(?![\w/<>])", re.ASCII)),
    ("mention", re.compile(r"(?<!\w)@[A-Za-z0-9_]{5,32}(?!\w)")),
    ("hashtag", re.compile(r"(?<!\w)#\w*[^\W\d_]\w*(?![\w#])")),
    ("cashtag", re.compile(r"(?<![\w$])\$(?:1INCH|[A-Z]{1,8})(?![\w$])")),
)  # fmt: skip


def utf16_length(text: str) -> int:
    """The length of ``text`` in UTF-16 code units, as entity offsets count."""
    return len(text.encode("utf-16-le")) // 2


def found_entities(text: str) -> list[Entity]:
    """The entities Telegram finds by itself in ``text``, in order, none overlapping."""
    spans: list[tuple[int, int, str]] = []
    for kind, pattern in _FOUND:
        for match in pattern.finditer(text):
            if not any(start < match.end() and match.start() < end for start, end, _ in spans):
                spans.append((match.start(), match.end(), kind))
    return [
        {
            "offset": utf16_length(text[:start]),
            "length": utf16_length(text[start:end]),
            "type": kind,
        }
        for start, end, kind in sorted(spans)
    ]


def entities_of(text: str, given: Any) -> list[Entity]:
    """The entities of a bot's text: those it gave, and those Telegram finds around them."""
    if given is None:
        return found_entities(text)
    if not isinstance(given, list) or not all(_is_entity(item) for item in given):
        raise bad_request("can't parse entities JSON object")
    size = utf16_length(text)
    kept = [item for item in given if item["offset"] + item["length"] <= size]
    taken = [(item["offset"], item["offset"] + item["length"]) for item in kept]
    for entity in found_entities(text):
        start, end = entity["offset"], entity["offset"] + entity["length"]
        if not any(a < end and start < b for a, b in taken):
            kept.append(entity)
    return sorted(kept, key=lambda item: (item["offset"], -item["length"]))


def _is_entity(item: Any) -> bool:
    if not isinstance(item, dict) or not isinstance(item.get("type"), str):
        return False
    offset, length = item.get("offset"), item.get("length")
    return (
        isinstance(offset, int)
        and isinstance(length, int)
        and not isinstance(offset, bool)
        and offset >= 0
        and length > 0
    )


def with_entities(field: str, text: str, given: Any = None) -> dict[str, Any]:
    """``{field: text}`` with the entities of it (``caption`` gets ``caption_entities``)."""
    entities = entities_of(text, given)
    content: dict[str, Any] = {field: text}
    if entities:
        content["entities" if field == "text" else f"{field}_entities"] = entities
    return content
