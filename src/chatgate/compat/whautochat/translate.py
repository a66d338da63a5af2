"""WhautoChat's bodies as the native API's: the same request model, the same command.

A body becomes the body ``POST /v1/messages`` would take (checked by the same model, so every
rule of an address, a URL or a button is the native one) and then the same
:class:`SendCommand`. Every refusal, at translation or at accept, names the field as the
WhautoChat request wrote it (:meth:`Translation.field`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from chatgate.api.errors import describe_validation_error
from chatgate.api.routes.messages import command_of
from chatgate.api.schemas.messages import SendMessageRequest
from chatgate.compat.whautochat import requests as wac
from chatgate.compat.whautochat.media import bare_type, media_kind
from chatgate.domain.channels import ChannelType
from chatgate.errors import ChatgateError, InvalidRequest, NotFound
from chatgate.services.send_command import SendCommand

_CONTACT_ID = re.compile(r"ct_[0-9A-Z]{26}")
_DIGITS = re.compile(r"[0-9]{6,15}")

# Native field names in WhautoChat's, longest first; a card's and a button's fields follow.
_FIELDS = (
    ("to.contact_id", "contact.id"),
    ("to", "recepient.phoneNumber"),
    ("content.text", "textMessage"),
    ("content.media.url", "mediaUrl"),
    ("content.media.kind", "mimeType"),
    ("content.media.mime_type", "mimeType"),
    ("content.media", "mediaUrl"),
    ("content.template.language", "template.language"),
    ("content.template", "template"),
    ("content.interactive.body", "textMessage"),
    ("content.interactive.cards", "elements"),
    ("content.interactive.buttons", "buttons"),
    ("schedule_at", "scheduleDateTime"),
)
# A card's fields (elements.N.x) and its buttons' (elements.N.buttons.M.x) by native name.
_CARD_FIELDS = {"url": "default_action.url"}
_CARD_BUTTON_FIELDS = {"id": "payload", "phone": "payload"}
_BUTTON_FIELDS = {"title": "text", "id": "callback_data"}


@dataclass
class Translation:
    """The native send of a WhautoChat request, and how to name its fields back."""

    channel: ChannelType
    native: dict[str, Any]
    # Where each Telegram button stood in the request ("0.1": row 0, its second button).
    positions: list[str] = field(default_factory=list)
    # The request's field that holds what the message carries (the native "content").
    carried_in: str = "textMessage"

    def field(self, native: str | None) -> str | None:
        """``native`` (a field of the native request) as the WhautoChat request names it."""
        if native is None:
            return None
        if native in ("content", "content.interactive", "content.interactive.kind"):
            return self.carried_in
        for ours, theirs in _FIELDS:
            if native == ours or native.startswith(f"{ours}."):
                return theirs + self._rest(theirs, native[len(ours) :])
        return native

    def _rest(self, theirs: str, rest: str) -> str:
        parts = rest.split(".")[1:]
        if theirs == "elements" and parts:
            # elements.N.image_url, elements.N.buttons.M.payload …
            names = {2: _CARD_FIELDS, 4: _CARD_BUTTON_FIELDS}.get(len(parts), {})
            parts[-1] = names.get(parts[-1], parts[-1])
        elif theirs == "buttons" and parts and parts[0].isdigit():
            index = int(parts[0])
            parts[0] = self.positions[index] if index < len(self.positions) else parts[0]
            parts[1:] = [_BUTTON_FIELDS.get(part, part) for part in parts[1:]]
        elif theirs in ("textMessage", "mediaUrl", "mimeType", "template", "contact.id"):
            return ""
        return "".join(f".{part}" for part in parts)

    def refusal(self, error: ChatgateError) -> ChatgateError:
        """``error`` naming the request's field."""
        named = self.field(error.field)
        if named == error.field:
            return error
        return type(error)(
            error.message,
            code=error.code,
            field=named,
            headers=error.headers or None,
            details=error.details or None,
        )

    def command(self) -> SendCommand:
        """The command the native API would build, or the refusal naming our field."""
        try:
            request = SendMessageRequest.model_validate(self.native)
        except ValidationError as exc:
            code, native, message = describe_validation_error(dict(exc.errors()[0]))
            given = InvalidRequest(message, code=code, field=native if native != "body" else None)
            raise self.refusal(given) from None
        return command_of(request)


def _to(body: wac._Request) -> Any:
    phone = body.phone()
    if phone is not None:
        # WhatsApp writes numbers without the "+"; a client copying one means E.164.
        return f"+{phone}" if _DIGITS.fullmatch(phone) else phone
    assert body.contact is not None  # the models insist on one of the two
    if not _CONTACT_ID.fullmatch(body.contact.id):
        raise NotFound(f"no contact {body.contact.id}", field="contact.id")
    return {"contact_id": body.contact.id}


def _content(channel: ChannelType, body: wac._Request) -> tuple[dict[str, Any], list[str]]:
    """The native content of ``body`` on ``channel``, and where its buttons stood."""
    if isinstance(body, wac.TelegramTemplateMessageRequest):
        return _keyboard(body)
    if isinstance(body, wac.TextMessageRequest | wac.WhatsAppTextMessageRequest):
        return {"type": "text", "text": body.textMessage}, []
    if isinstance(body, wac.MediaMessageRequest | wac.WhatsAppMediaMessageRequest):
        kind = media_kind(channel, body.mimeType)
        media = {"url": body.mediaUrl, "kind": kind.value, "mime_type": bare_type(body.mimeType)}
        return {"type": "media", "media": media}, []
    if isinstance(body, wac.WhatsAppTemplateMessageRequest):
        template = body.template
        named = (
            {"name": template, "language": "en"}
            if isinstance(template, str)
            else {"name": template.name, "language": template.language}
        )
        return {"type": "template", "template": named}, []
    assert isinstance(
        body, wac.MessengerTemplateMessageRequest | wac.InstagramTemplateMessageRequest
    )
    cards = [_card(element) for element in body.elements]
    # A carousel has no text of its own; its first title stands for it where the message
    # is shown as text (the message's record, a degraded rendering).
    interactive = {"kind": "cards", "body": body.elements[0].title, "cards": cards}
    return {"type": "interactive", "interactive": interactive}, []


def _card(element: wac.Element) -> dict[str, Any]:
    card: dict[str, Any] = {"title": element.title, "buttons": []}
    if element.subtitle:
        card["subtitle"] = element.subtitle
    if element.image_url is not None:
        card["image_url"] = element.image_url
    if element.default_action is not None:
        card["url"] = element.default_action.url
    for button in element.buttons:
        if button.type == "web_url":
            card["buttons"].append({"type": "url", "title": button.title, "url": button.url})
        elif button.type == "postback":
            card["buttons"].append({"type": "reply", "title": button.title, "id": button.payload})
        else:
            card["buttons"].append({"type": "call", "title": button.title, "phone": button.payload})
    return card


def _keyboard(body: wac.TelegramTemplateMessageRequest) -> tuple[dict[str, Any], list[str]]:
    """A text with an inline keyboard (rows kept as the request laid them out), or a plain
    text without buttons."""
    buttons: list[dict[str, Any]] = []
    positions: list[str] = []
    nested = body.rows_given()
    for r, row in enumerate(body.buttons):
        for c, button in enumerate(row):
            positions.append(f"{r}.{c}" if nested else str(c))
            native: dict[str, Any] = {"title": button.text, "row": r}
            if button.url is not None:
                native.update(type="url", url=button.url)
            else:
                native.update(type="reply", id=button.callback_data)
            buttons.append(native)
    if not buttons:
        return {"type": "text", "text": body.textMessage}, []
    interactive = {"kind": "buttons", "body": body.textMessage, "buttons": buttons}
    return {"type": "interactive", "interactive": interactive}, positions


def translate(channel: ChannelType, body: wac._Request) -> Translation:
    """The native send of ``body`` on ``channel``."""
    content, positions = _content(channel, body)
    native: dict[str, Any] = {"channel": channel.value, "to": _to(body), "content": content}
    schedule = getattr(body, "scheduleDateTime", None)
    if schedule is not None:
        native["schedule_at"] = schedule.isoformat()
    return Translation(channel, native, positions, _carried_in(body))


def _carried_in(body: wac._Request) -> str:
    """The field a refusal of the whole content names (a rule of the channel, say)."""
    if isinstance(body, wac.TelegramTemplateMessageRequest):
        return "buttons" if any(body.buttons) else "textMessage"
    for name in ("elements", "template", "mimeType"):
        if name in type(body).model_fields:
            return name
    return "textMessage"
