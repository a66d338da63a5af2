"""Rendering a content down to what a channel can carry (``"degrade": true`` on a send).

Nothing is dropped silently: every part of the content reappears as text. Buttons, quick
replies, lists and cards become numbered choices (a link or phone number written out),
products their ids in the catalog, an address form its country and prefilled values, a
location becomes its name, address and a map link, contact cards become their lines, and
media the channel cannot show (or cannot caption) becomes its caption and link. A reply-to
the channel cannot thread is left out, and that is recorded like the rest.

Three contents have no faithful text form and stay refused: a template (its text lives on
the platform), a reaction (an emoji sent alone would read as a new message) and a sticker
(a platform's picture named by ids that mean nothing as text).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from chatgate.domain import capabilities as cap
from chatgate.domain.commerce import ADDRESS_LABELS
from chatgate.domain.content import MAX_TEXT

MAP_LINK = "https://www.google.com/maps/search/?"


@dataclass(frozen=True, slots=True)
class Rendered:
    """A content as a channel will carry it, and which features were rendered down."""

    content: dict[str, Any]
    # The features that were missing and rendered down (empty: nothing changed).
    features: tuple[str, ...]
    # Whether the reply-to is kept (``False`` when the channel cannot thread replies).
    keeps_reply_to: bool = True


class CannotDegrade(Exception):
    """A content that has no faithful form on the channel."""

    def __init__(self, feature: str, reason: str) -> None:
        super().__init__(reason)
        self.feature = feature
        self.reason = reason


def render_down(content: Mapping[str, Any], has: frozenset[str], *, reply_to: bool) -> Rendered:
    """``content`` in a form a channel with the features ``has`` can carry.

    Raises :class:`CannotDegrade` when the content has no faithful form there.
    """
    missing = cap.missing_features(content, has, reply_to=reply_to)
    if not missing:
        return Rendered(dict(content), ())
    keeps_reply_to = cap.REPLY_TO not in missing
    body_missing = [feature for feature in missing if feature != cap.REPLY_TO]
    rendered = _render(content, has) if body_missing else dict(content)
    still = cap.missing_features(rendered, has, reply_to=False)
    if still:
        raise CannotDegrade(still[0], f"{still[0]} has no form this channel can carry")
    return Rendered(rendered, tuple(missing), keeps_reply_to)


def _render(content: Mapping[str, Any], has: frozenset[str]) -> dict[str, Any]:
    kind = content["type"]
    if kind == "media":
        return _media(content["media"], has)
    if kind == "interactive":
        return _text(_interactive_lines(content["interactive"]))
    if kind == "location":
        return _text(_location_lines(content["location"]))
    if kind == "contact":
        return _text(_contact_lines(content["contacts"]))
    if kind == "template":
        raise CannotDegrade(
            cap.TEMPLATE, "a template's text is kept by the platform, so it cannot be rendered"
        )
    if kind == "reaction":
        raise CannotDegrade(cap.REACTION, "a reaction has no text form")
    if kind == "sticker":
        raise CannotDegrade(cap.STICKER, "a sticker has no text form")
    raise CannotDegrade(kind, f"{kind} content has no other form")


def _text(lines: Sequence[str]) -> dict[str, Any]:
    text = "\n".join(lines).strip("\n")
    if len(text) > MAX_TEXT:
        raise CannotDegrade(cap.TEXT, f"rendered as text it is longer than {MAX_TEXT} characters")
    return {"type": "text", "text": text}


def _media(media: Mapping[str, Any], has: frozenset[str]) -> dict[str, Any]:
    # A voice note the channel cannot mark as one is still an audio file.
    if media.get("voice") and cap.MEDIA_VOICE not in has and cap.MEDIA_AUDIO in has:
        plain = {k: v for k, v in media.items() if k != "voice"}
        if not plain.get("caption") or cap.MEDIA_CAPTION in has:
            return {"type": "media", "media": plain}
    lines = [media["caption"]] if media.get("caption") else []
    if media.get("filename"):
        lines.append(media["filename"])
    lines.append(str(media["url"]))
    return _text(lines)


def _choice(number: int, button: Mapping[str, Any]) -> str:
    target = {"url": button.get("url"), "call": button.get("phone")}.get(button.get("type", ""))
    return f"{number}. {button['title']}" + (f": {target}" if target else "")


def _interactive_lines(interactive: Mapping[str, Any]) -> list[str]:
    lines = [interactive["header"]] if interactive.get("header") else []
    if interactive.get("body"):
        lines += [interactive["body"], ""]
    number = 0
    for button in interactive.get("buttons", []):
        number += 1
        lines.append(_choice(number, button))
    if interactive.get("catalog_id"):
        lines += _product_lines(interactive)
    for section in interactive.get("sections", []):
        if section.get("title"):
            lines.append(section["title"])
        for row in section.get("rows") or ():
            number += 1
            described = f" — {row['description']}" if row.get("description") else ""
            lines.append(f"{number}. {row['title']}{described}")
        for product_id in section.get("product_ids") or ():
            number += 1
            lines.append(f"{number}. {product_id}")
    for card in interactive.get("cards", []):
        lines.append(card["title"])
        lines += [str(card[name]) for name in ("subtitle", "image_url", "url") if card.get(name)]
        for button in card.get("buttons", []):
            number += 1
            lines.append(_choice(number, button))
        lines.append("")
    if interactive.get("address"):
        lines += _address_lines(interactive["address"])
    if interactive.get("footer"):
        lines += ["", interactive["footer"]]
    return lines


def _product_lines(interactive: Mapping[str, Any]) -> list[str]:
    # A product is named by its id in the catalog: what the platform would have shown.
    catalog = f"catalog {interactive['catalog_id']}"
    if interactive.get("product_id"):
        return [f"Product {interactive['product_id']} ({catalog})"]
    return [f"Products ({catalog}):"]


def _address_lines(form: Mapping[str, Any]) -> list[str]:
    # The form's country and every prefilled value, under the labels the form shows.
    values = form.get("values") or {}
    return [
        f"Country: {form['country']}",
        *(f"{label}: {values[name]}" for name, label in ADDRESS_LABELS.items() if values.get(name)),
    ]


def _location_lines(location: Mapping[str, Any]) -> list[str]:
    point = f"{location['latitude']},{location['longitude']}"
    named = [location[name] for name in ("name", "address") if location.get(name)]
    return [*named, MAP_LINK + urlencode({"api": 1, "query": point})]


def _contact_lines(contacts: Sequence[Mapping[str, Any]]) -> list[str]:
    lines: list[str] = []
    for contact in contacts:
        lines.append(contact["name"])
        if contact.get("organization"):
            lines.append(contact["organization"])
        lines += [*contact.get("phones", []), *contact.get("emails", []), ""]
    return lines
