"""Finding the http(s) links in a message's text, and putting other links in their place.

A link starts at ``http://`` or ``https://`` and runs over the characters a URL may hold
unescaped (RFC 3986: letters, digits, ``-._~:/?#[]@!$&'()*+,;=`` and ``%``). It ends at
whitespace, at any other character, and so at any non-ASCII one: emoji or CJK text written
right after a link stays outside it, and everything around a link is kept exactly as it was.
(An internationalised path is taken as far as its first non-ASCII character; written
percent-encoded, as browsers copy it, it is taken whole.)

Punctuation that ends a sentence is not part of the link: ``.``, ``,``, ``:``, ``;``,
``!``, ``?``, ``'`` and ``*`` at its end are left out, and so is a closing bracket that
closes nothing inside the link, so ``(see https://example.com/a)`` yields
``https://example.com/a`` while ``https://en.wikipedia.org/wiki/Python_(language)`` stays whole.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chatgate.domain.content import MAX_CAPTION, MAX_TEXT

# The look-behind keeps "xhttp://" from being read as a link inside a word.
_LINK = re.compile(r"(?<![A-Za-z0-9])https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+", re.I)
_TRAILING = frozenset(".,:;!?'*")
_BRACKETS = {")": "(", "]": "["}


@dataclass(frozen=True, slots=True)
class Link:
    """One link in a text: where it starts and ends (``text[start:end] == url``)."""

    start: int
    end: int
    url: str


def _trimmed(candidate: str) -> str:
    """``candidate`` without the sentence punctuation and unmatched brackets that end it."""
    while candidate:
        last = candidate[-1]
        unmatched = last in _BRACKETS and candidate.count(_BRACKETS[last]) < candidate.count(last)
        if last not in _TRAILING and not unmatched:
            break
        candidate = candidate[:-1]
    return candidate


def find_links(text: str) -> list[Link]:
    """Every http(s) link in ``text``, in order."""
    found: list[Link] = []
    for match in _LINK.finditer(text):
        url = _trimmed(match.group())
        # "https://" followed only by punctuation names no host: not a link.
        if len(url) > url.index("//") + 2:
            found.append(Link(match.start(), match.start() + len(url), url))
    return found


def replace_links(text: str, replacement: Callable[[str], str]) -> str:
    """``text`` with each link's URL replaced by ``replacement(url)``, the rest untouched."""
    parts: list[str] = []
    done = 0
    for link in find_links(text):
        parts += [text[done : link.start], replacement(link.url)]
        done = link.end
    parts.append(text[done:])
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class TextField:
    """Where a content type keeps text a person reads, and how long that text may be."""

    path: tuple[str, ...]
    limit: int

    @property
    def name(self) -> str:
        """The field's dotted name inside ``content`` (e.g. ``media.caption``)."""
        return ".".join(self.path)


# The text of each content type that may hold links a person follows. Other strings (a
# media URL, a button's URL, template variables) go to the platform as they are.
LINK_FIELDS: dict[str, TextField] = {
    "text": TextField(("text",), MAX_TEXT),
    "media": TextField(("media", "caption"), MAX_CAPTION),
    "interactive": TextField(("interactive", "body"), MAX_TEXT),
}


class RewrittenTooLong(ValueError):
    """A text grew past its content type's limit once its links were replaced."""

    def __init__(self, field: TextField) -> None:
        super().__init__(
            f"is longer than {field.limit} characters once its links are replaced by tracked links"
        )
        self.field = field


def replace_content_links(
    content: Mapping[str, Any], replacement: Callable[[str], str]
) -> dict[str, Any]:
    """A copy of ``content`` with the links of its readable text replaced (see ``LINK_FIELDS``).

    Raises :class:`RewrittenTooLong` when the text no longer fits its limit.
    """
    copy = dict(content)
    field = LINK_FIELDS.get(str(content.get("type")))
    if field is None:
        return copy
    *parents, leaf = field.path
    holder = copy
    for name in parents:
        if not isinstance(holder.get(name), Mapping):
            return copy
        # Copied on the way down: the caller's content stays as it was.
        holder[name] = dict(holder[name])
        holder = holder[name]
    text = holder.get(leaf)
    if not isinstance(text, str):
        return copy
    rewritten = replace_links(text, replacement)
    if len(rewritten) > field.limit:
        raise RewrittenTooLong(field)
    holder[leaf] = rewritten
    return copy
