"""Our content union as WhatsApp Cloud API message objects (outbound, pure).

``message_fields`` turns one content (the JSON shape of ``chatgate.domain.content``) into
the ``type`` and the type-named object of a ``POST /{phone_number_id}/messages`` body.
Where WhatsApp cannot carry a content faithfully it raises :class:`UnsupportedContent`
naming the feature; limits the platform checks itself are left to it, except those whose
breach WhatsApp would answer by refusing the whole message (more than three reply buttons,
a button title over 20 characters), which are better refused before the call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chatgate.channels.base import UnsupportedContent
from chatgate.channels.whatsapp_cloud_commerce import COMMERCE_TYPES, commerce_action
from chatgate.domain import capabilities as cap

CHANNEL = "whatsapp"

# WhatsApp's own limits on interactive messages.
MAX_REPLY_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_BUTTON_BODY = 1024
MAX_LIST_ROWS = 10
MAX_CTA_LABEL = 20

Json = dict[str, Any]


def _unsupported(feature: str) -> UnsupportedContent:
    return UnsupportedContent(CHANNEL, feature)


def _compact(**fields: Any) -> Json:
    """The fields whose value is not ``None`` (WhatsApp refuses explicit nulls)."""
    return {key: value for key, value in fields.items() if value is not None}


def message_fields(content: Mapping[str, Any]) -> Json:
    """``{"type": ..., <type>: {...}}`` for one content."""
    kind = content["type"]
    if kind == "text":
        text = {"body": content["text"], "preview_url": bool(content.get("preview_url", False))}
        return {"type": "text", "text": text}
    if kind == "media":
        return _media(content["media"])
    if kind == "template":
        return {"type": "template", "template": _template(content["template"])}
    if kind == "interactive":
        return {"type": "interactive", "interactive": _interactive(content["interactive"])}
    if kind == "location":
        location = content["location"]
        return {
            "type": "location",
            "location": _compact(
                latitude=location["latitude"],
                longitude=location["longitude"],
                name=location.get("name"),
                address=location.get("address"),
            ),
        }
    if kind == "contact":
        return {"type": "contacts", "contacts": [_contact(card) for card in content["contacts"]]}
    if kind == "reaction":
        reaction = content["reaction"]
        return {
            "type": "reaction",
            "reaction": {"message_id": reaction["message_id"], "emoji": reaction["emoji"]},
        }
    raise _unsupported(str(kind))


# -- media ------------------------------------------------------------------------------


def _media(media: Mapping[str, Any]) -> Json:
    kind = media["kind"]
    caption = media.get("caption") or None
    body: Json = {"link": media["url"]}
    if kind == "audio":
        # Audio has no caption on WhatsApp; a voice note is audio flagged ``voice``.
        if caption is not None:
            raise _unsupported(cap.MEDIA_CAPTION)
        if media.get("voice"):
            body["voice"] = True
        return {"type": "audio", "audio": body}
    if kind not in ("image", "video", "document"):
        raise _unsupported(f"media.{kind}")
    if caption is not None:
        body["caption"] = caption
    if kind == "document" and media.get("filename"):
        body["filename"] = media["filename"]
    return {"type": kind, kind: body}


# -- templates --------------------------------------------------------------------------


def _template(template: Mapping[str, Any]) -> Json:
    components: list[Json] = []
    header = template.get("header")
    if header:
        components.append({"type": "header", "parameters": [_header_parameter(header)]})
    variables = template.get("variables") or {}
    if variables:
        if isinstance(variables, Mapping):
            parameters = [
                {"type": "text", "parameter_name": name, "text": value}
                for name, value in variables.items()
            ]
        else:
            parameters = [{"type": "text", "text": value} for value in variables]
        components.append({"type": "body", "parameters": parameters})
    for button in template.get("buttons") or ():
        sub_type = button.get("sub_type", "quick_reply")
        parameter = (
            {"type": "payload", "payload": button["value"]}
            if sub_type == "quick_reply"
            else {"type": "text", "text": button["value"]}
        )
        components.append(
            {
                "type": "button",
                "sub_type": sub_type,
                # Meta's reference documents the index as a string.
                "index": str(button["index"]),
                "parameters": [parameter],
            }
        )
    body: Json = {"name": template["name"], "language": {"code": template.get("language", "en")}}
    if components:
        body["components"] = components
    return body


def _header_parameter(header: Mapping[str, Any]) -> Json:
    if header.get("text") is not None:
        return {"type": "text", "text": header["text"]}
    media = header["media"]
    kind = media["kind"]
    if kind not in ("image", "video", "document"):
        # A template header holds an image, a video or a document, never audio.
        raise _unsupported(f"media.{kind}")
    value: Json = {"link": media["url"]}
    if kind == "document" and media.get("filename"):
        value["filename"] = media["filename"]
    return {"type": kind, kind: value}


# -- interactive ------------------------------------------------------------------------


def _interactive(interactive: Mapping[str, Any]) -> Json:
    shape = interactive["kind"]
    if shape == "cards":
        raise _unsupported(cap.CARDS)
    if shape in COMMERCE_TYPES:
        if len(interactive.get("body") or "") > MAX_BUTTON_BODY:
            raise _unsupported(cap.SHAPE_FEATURES[shape])
        body = commerce_action(interactive)
    elif shape == "list":
        body = _list(interactive)
    else:
        feature = cap.QUICK_REPLIES if shape == "quick_replies" else None
        body = _buttons(interactive["buttons"], interactive["body"], feature)
    if interactive.get("body"):
        body["body"] = {"text": interactive["body"]}
    if interactive.get("header"):
        body["header"] = {"type": "text", "text": interactive["header"]}
    if interactive.get("footer"):
        body["footer"] = {"text": interactive["footer"]}
    # Meta's documented key order: type, header, body, footer, action.
    order = ("type", "header", "body", "footer", "action")
    return {key: body[key] for key in order if key in body}


def _buttons(buttons: list[Mapping[str, Any]], text: str, feature: str | None) -> Json:
    types = {button.get("type", "reply") for button in buttons}
    if "call" in types:
        raise _unsupported(cap.BUTTONS_CALL)
    if "url" in types:
        # One link button is a "call to action" message; links can't mix with replies.
        if len(buttons) != 1:
            raise _unsupported(cap.BUTTONS_URL)
        button = buttons[0]
        if len(button["title"]) > MAX_CTA_LABEL or len(text) > MAX_BUTTON_BODY:
            raise _unsupported(cap.BUTTONS_URL)
        return {
            "type": "cta_url",
            "action": {
                "name": "cta_url",
                "parameters": {"display_text": button["title"], "url": button["url"]},
            },
        }
    feature = feature or cap.BUTTONS_REPLY
    too_long = any(len(button["title"]) > MAX_BUTTON_TITLE for button in buttons)
    if len(buttons) > MAX_REPLY_BUTTONS or too_long or len(text) > MAX_BUTTON_BODY:
        raise _unsupported(feature)
    return {
        "type": "button",
        "action": {
            "buttons": [
                {"type": "reply", "reply": {"id": button["id"], "title": button["title"]}}
                for button in buttons
            ]
        },
    }


def _list(interactive: Mapping[str, Any]) -> Json:
    sections = interactive["sections"]
    if sum(len(section["rows"]) for section in sections) > MAX_LIST_ROWS:
        raise _unsupported(cap.LIST)
    return {
        "type": "list",
        "action": {
            "button": interactive["button_text"],
            "sections": [
                _compact(
                    title=section.get("title"),
                    rows=[
                        _compact(
                            id=row["id"], title=row["title"], description=row.get("description")
                        )
                        for row in section["rows"]
                    ],
                )
                for section in sections
            ],
        },
    }


# -- contacts ---------------------------------------------------------------------------


def _contact(card: Mapping[str, Any]) -> Json:
    full = card["name"]
    # WhatsApp wants formatted_name plus at least one name part; our card has one name.
    first, _, last = full.strip().partition(" ")
    name = _compact(formatted_name=full, first_name=first or full, last_name=last.strip() or None)
    # The phone and email "type" (HOME, WORK...) is optional and our card does not say it.
    contact: Json = {"name": name}
    if card.get("phones"):
        contact["phones"] = [{"phone": phone} for phone in card["phones"]]
    if card.get("emails"):
        contact["emails"] = [{"email": email} for email in card["emails"]]
    if card.get("organization"):
        contact["org"] = {"company": card["organization"]}
    return contact
