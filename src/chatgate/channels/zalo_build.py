"""Our content shapes as Zalo Official Account API v3 messages: which endpoint, which body.

Every send is ``POST /v3.0/oa/message/{cs|transaction|promotion}`` with ``{"recipient":
{"user_id"}, "message": {...}}``. Choices where Zalo has no exact counterpart:

- Consultation (``cs``) carries text, images (by URL, with the caption as the message's
  ``text``) and list templates (our buttons, quick replies and lists). Zalo allows ``cs``
  only within 7 days of the user's last interaction; the gateway refuses it earlier (409).
- ``transaction`` and ``promotion`` are our ``template`` content: the template's ``name`` is
  Zalo's ``template_type`` (``transaction_order``, ``transaction_booking``... or
  ``promotion``), which also picks the endpoint. Zalo has no stored templates: the message
  is assembled from the template's parts. ``header.text`` is a ``header`` element,
  ``header.media`` (an image) a ``banner``; named variables are one ``table`` (key, value)
  and positional ones are ``text`` paragraphs; a ``quick_reply`` button is a hidden query
  whose title and payload are its value, a ``url`` button opens its value (titled with the
  link's host). The language is ``VI`` or ``EN`` (from ``vi…``/``en…``); any other name or
  language cannot be expressed and is refused.
- A document is a ``file`` attachment, ``{"type": "file", "payload": {"token"}}``. Zalo
  does not fetch a URL: the file is uploaded first (``/v2.0/oa/upload/file``, PDF, DOC or
  DOCX up to 5 MB [3P: integrations agree; Zalo's pages were not available]) and the token
  it answers is named. The upload is I/O, so it happens in ``send``: the body built here
  carries :data:`FILE_TOKEN` as a stand-in, and the URL and file name wait in the request's
  context (:data:`FILE_URL`, :data:`FILE_NAME`). A type known at build (the ``mime_type``
  given, or the name's extension) that Zalo refuses is refused here; a caption is too (a
  file message carries no text).
- Zalo's OA messages have no video, audio, location, contact, reaction or carousel.
- Reply buttons are ``oa.query.hide`` (the id comes back as the user's text, unseen in the
  chat); quick replies are ``oa.query.show`` with their title (the user is seen to say it,
  as on Telegram, so their ids do not come back); link buttons ``oa.open.url``; call buttons
  ``oa.open.phone``.
- A list is a ``list`` template: its first element is the header (or body), each row one
  element whose ``default_action`` sends the row id back; Zalo shows at most 5 elements.
- ``reply_to`` is ``quote_message_id`` on a text.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from chatgate.channels.base import OutboundMessage, UnsupportedContent, refuse_commerce
from chatgate.domain import capabilities as cap

CHANNEL = "zalo"
CONSULTATION = "cs"
TRANSACTION = "transaction"
PROMOTION = "promotion"
# Zalo's transaction template types; "promotion" is the promotion one.
TRANSACTION_TYPES = frozenset(
    {
        "transaction_billing",
        "transaction_order",
        "transaction_reward",
        "transaction_contract",
        "transaction_booking",
        "transaction_membership",
        "transaction_event",
        "transaction_transaction",
        "transaction_account",
        "transaction_internal",
        "transaction_partnership",
        "transaction_education",
        "transaction_rating",
    }
)
MAX_LIST_ELEMENTS = 5
MAX_BUTTONS = 5
# A template's parts as Zalo bounds them [INF: third-party integrations, not Zalo's docs].
MAX_TABLE_ROWS = 5
MAX_TEXT_ELEMENTS = 2
MAX_TEMPLATE_BUTTONS = 4

# Zalo's file uploads: PDF, DOC and DOCX, up to 5 MB [3P].
MAX_FILE = 5 * 1024 * 1024
FILE_TYPES: Mapping[str, str] = {
    "application/pdf": "pdf",
    "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
}
# Stands in for the upload's token in a built body; ``send`` puts the real one there.
FILE_TOKEN = "{{zalo_file_token}}"  # noqa: S105 (a stand-in, not a secret)
# Where a document's URL and name wait between build and send, in the request's context.
FILE_URL = "file_url"
FILE_NAME = "file_name"

Body = dict[str, Any]


def build_message(message: OutboundMessage) -> tuple[str, Body, dict[str, Any]]:
    """The endpoint kind (``cs``, ``transaction``, ``promotion``), the JSON body, and the
    context ``send`` needs (a document's URL and name, to upload it first).

    Raises :class:`UnsupportedContent` for what Zalo cannot carry.
    """
    content = message.content
    kind = content["type"]
    endpoint = CONSULTATION
    context: dict[str, Any] = {}
    if kind == "text":
        body: Body = {"text": content["text"]}
        if message.reply_to is not None:
            body["quote_message_id"] = message.reply_to
    elif kind == "media" and content["media"].get("kind") == "document":
        body, context = _document(content["media"])
    elif kind == "media":
        body = _media(content["media"])
    elif kind == "interactive":
        body = _interactive(content["interactive"])
    elif kind == "template":
        endpoint, body = _template(content["template"])
    else:
        raise UnsupportedContent(CHANNEL, kind)
    if message.reply_to is not None and kind != "text":
        # Only a text can quote an earlier message.
        raise UnsupportedContent(CHANNEL, cap.REPLY_TO)
    return endpoint, {"recipient": {"user_id": message.recipient}, "message": body}, context


def _document(media: Mapping[str, Any]) -> tuple[Body, dict[str, Any]]:
    if media.get("caption"):
        raise UnsupportedContent(CHANNEL, cap.MEDIA_CAPTION)
    url = str(media["url"])
    name = media.get("filename") or posixpath.basename(urlsplit(url).path) or None
    given_type = media.get("mime_type")
    if given_type is not None:
        if str(given_type).lower() not in FILE_TYPES:
            raise UnsupportedContent(CHANNEL, cap.MEDIA_DOCUMENT)
    elif name is not None and "." in name:
        extension = name.rsplit(".", 1)[1].lower()
        if extension not in FILE_TYPES.values():
            raise UnsupportedContent(CHANNEL, cap.MEDIA_DOCUMENT)
    body: Body = {"attachment": {"type": "file", "payload": {"token": FILE_TOKEN}}}
    return body, {FILE_URL: url, FILE_NAME: name}


def with_file_token(body: Mapping[str, Any], token: str) -> Body:
    """The body of a document send once its upload answered ``token``."""
    message = {**body["message"], "attachment": {"type": "file", "payload": {"token": token}}}
    return {**body, "message": message}


def _media(media: Mapping[str, Any]) -> Body:
    if media.get("voice"):
        raise UnsupportedContent(CHANNEL, cap.MEDIA_VOICE)
    if media["kind"] != "image":
        raise UnsupportedContent(CHANNEL, f"media.{media['kind']}")
    url = str(media["url"])
    is_gif = media.get("mime_type") == "image/gif" or urlsplit(url).path.lower().endswith(".gif")
    element = {"media_type": "gif" if is_gif else "image", "url": url}
    body: Body = {
        "attachment": {
            "type": "template",
            "payload": {"template_type": "media", "elements": [element]},
        }
    }
    if media.get("caption"):
        body["text"] = media["caption"]
    return body


def _list_payload(elements: list[Body], buttons: list[Body] | None = None) -> Body:
    payload: Body = {"template_type": "list", "elements": elements}
    if buttons:
        payload["buttons"] = buttons
    return {"attachment": {"type": "template", "payload": payload}}


def _lead(interactive: Mapping[str, Any]) -> Body:
    """The first element: the header (or body) as title, the rest of the text below it."""
    header, body, footer = interactive.get("header"), interactive["body"], interactive.get("footer")
    title, below = (header, [body, footer]) if header else (body, [footer])
    element: Body = {"title": title}
    subtitle = "\n\n".join(part for part in below if part)
    if subtitle:
        element["subtitle"] = subtitle
    return element


def _interactive(interactive: Mapping[str, Any]) -> Body:
    refuse_commerce(CHANNEL, interactive)
    shape = interactive["kind"]
    lead = _lead(interactive)
    if shape == "buttons":
        buttons = [_button(button) for button in interactive["buttons"]]
    elif shape == "quick_replies":
        buttons = [
            {"title": b["title"], "type": "oa.query.show", "payload": b["title"]}
            for b in interactive["buttons"]
        ]
    elif shape == "list":
        rows = [row for section in interactive["sections"] for row in section["rows"]]
        if len(rows) + 1 > MAX_LIST_ELEMENTS:
            raise UnsupportedContent(CHANNEL, cap.LIST)
        return _list_payload([lead, *(_row(row) for row in rows)])
    else:
        raise UnsupportedContent(CHANNEL, cap.CARDS)
    if len(buttons) > MAX_BUTTONS:
        feature = cap.BUTTONS_REPLY if shape == "buttons" else cap.QUICK_REPLIES
        raise UnsupportedContent(CHANNEL, feature)
    return _list_payload([lead], buttons)


def _row(row: Mapping[str, Any]) -> Body:
    element: Body = {
        "title": row["title"],
        "default_action": {"type": "oa.query.hide", "payload": row["id"]},
    }
    if row.get("description"):
        element["subtitle"] = row["description"]
    return element


def _button(button: Mapping[str, Any]) -> Body:
    kind = button.get("type", "reply")
    if kind == "url":
        return {"title": button["title"], "type": "oa.open.url", "payload": {"url": button["url"]}}
    if kind == "call":
        return {
            "title": button["title"],
            "type": "oa.open.phone",
            "payload": {"phone_code": button["phone"]},
        }
    return {"title": button["title"], "type": "oa.query.hide", "payload": button["id"]}


def _template(template: Mapping[str, Any]) -> tuple[str, Body]:
    name = template.get("name")
    if name == PROMOTION:
        endpoint = PROMOTION
    elif name in TRANSACTION_TYPES:
        endpoint = TRANSACTION
    else:
        raise UnsupportedContent(CHANNEL, cap.TEMPLATE)
    language = str(template.get("language", "")).lower()[:2]
    if language not in ("vi", "en"):
        raise UnsupportedContent(CHANNEL, cap.TEMPLATE)
    elements = _template_elements(template)
    buttons = [_template_button(button) for button in template.get("buttons", [])]
    if len(buttons) > MAX_TEMPLATE_BUTTONS:
        raise UnsupportedContent(CHANNEL, cap.TEMPLATE)
    payload: Body = {"template_type": name, "language": language.upper(), "elements": elements}
    if buttons:
        payload["buttons"] = buttons
    return endpoint, {"attachment": {"type": "template", "payload": payload}}


def _template_elements(template: Mapping[str, Any]) -> list[Body]:
    elements: list[Body] = []
    header = template.get("header")
    if header:
        media = header.get("media")
        if media is not None:
            if media.get("kind") != "image":
                raise UnsupportedContent(CHANNEL, cap.TEMPLATE)
            elements.append({"type": "banner", "image_url": str(media["url"])})
        else:
            elements.append({"type": "header", "content": header["text"], "align": "left"})
    variables = template.get("variables") or {}
    if isinstance(variables, Mapping):
        if len(variables) > MAX_TABLE_ROWS:
            raise UnsupportedContent(CHANNEL, cap.TEMPLATE)
        if variables:
            rows = [{"key": key, "value": value} for key, value in variables.items()]
            elements.append({"type": "table", "content": rows})
    else:
        if len(variables) > MAX_TEXT_ELEMENTS:
            raise UnsupportedContent(CHANNEL, cap.TEMPLATE)
        elements += [{"type": "text", "align": "left", "content": text} for text in variables]
    if not elements:
        # Zalo refuses a template with nothing in it.
        raise UnsupportedContent(CHANNEL, cap.TEMPLATE)
    return elements


def _template_button(button: Mapping[str, Any]) -> Body:
    value = str(button["value"])
    if button.get("sub_type") == "url":
        host = urlsplit(value).hostname
        if host is None:
            # A URL suffix of a platform-stored button means nothing on Zalo.
            raise UnsupportedContent(CHANNEL, cap.TEMPLATE)
        return {"title": host, "type": "oa.open.url", "payload": {"url": value}}
    return {"title": value, "type": "oa.query.hide", "payload": value}
