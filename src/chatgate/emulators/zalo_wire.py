"""What the Zalo OA emulator says on the wire: answers, checks of a send, webhook events.

Zalo answers HTTP 200 to nearly everything, the outcome in the body: ``{"error": 0,
"message": "Success", "data": {...}}`` or ``{"error": <negative>, "message"}``. The checks
here refuse what Zalo refuses with ``-201`` (invalid parameters), naming what is wrong.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chatgate.channels.zalo import signature
from chatgate.channels.zalo_build import FILE_TYPES, MAX_FILE, PROMOTION, TRANSACTION_TYPES
from chatgate.emulators.multipart import read_form

MAX_TEXT = 2000  # [INF] characters of a consultation text
MAX_LIST_ELEMENTS = 5
MAX_BUTTONS = 5
BUTTON_TYPES = frozenset(
    {"oa.open.url", "oa.query.show", "oa.query.hide", "oa.open.phone", "oa.open.sms"}
)
# HTTP status a refusal stands for, in the call log (Zalo itself answers 200 to all).
LOGGED_STATUS: Mapping[int, int] = {-216: 401, -124: 401, -220: 401, -32: 429}


class ZaloError(Exception):
    """A refusal, answered as ``{"error": code, "message": message}`` with HTTP 200."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        """The answer's body."""
        return {"error": self.code, "message": self.message}

    @property
    def logged_status(self) -> int:
        """The HTTP status the refusal stands for (400 unless it is about auth or rate)."""
        return LOGGED_STATUS.get(self.code, 400)


def invalid(detail: str) -> ZaloError:
    """Zalo's ``-201``: a parameter is missing or wrong."""
    return ZaloError(-201, f"Parameters are invalid: {detail}")


def success(message_id: str, user_id: str) -> dict[str, Any]:
    """The answer to an accepted send."""
    return {
        "error": 0,
        "message": "Success",
        "data": {"message_id": message_id, "user_id": user_id},
    }


def now_ms() -> str:
    """Zalo's event timestamp: milliseconds since the epoch, written as a string."""
    return str(int(time.time() * 1000))


def check_send(kind: str, body: Any) -> str:
    """The recipient's user id of a valid send of ``kind``; :class:`ZaloError` otherwise."""
    if not isinstance(body, dict):
        raise invalid("the body is not a JSON object")
    recipient = body.get("recipient")
    user = recipient.get("user_id") if isinstance(recipient, dict) else None
    if not isinstance(user, str) or not user.isdigit():
        raise invalid("recipient.user_id")
    message = body.get("message")
    if not isinstance(message, dict):
        raise invalid("message")
    if kind == "cs":
        if file_token(message) is None:
            _check_consultation(message)
    else:
        _check_template(kind, message)
    return user


@dataclass(frozen=True)
class UploadedFile:
    """The ``file`` part of an upload."""

    filename: str | None
    content_type: str
    content: bytes

    def described(self) -> dict[str, Any]:
        """What the call log keeps of it (not the bytes)."""
        return {
            "filename": self.filename,
            "content_type": self.content_type,
            "size": len(self.content),
        }


def read_upload(body: bytes, content_type: str) -> UploadedFile:
    """The ``file`` part of a ``multipart/form-data`` upload; ``-201`` without one."""
    try:
        parts = read_form(body, content_type)
    except ValueError as exc:
        raise invalid("the upload must be multipart/form-data") from exc
    for part in parts:
        if part.name == "file":
            return UploadedFile(part.filename, part.content_type or "text/plain", part.content)
    raise invalid("file is required")


def check_upload(file: UploadedFile) -> None:
    """Refuse a file Zalo's ``upload/file`` would not take (PDF, DOC, DOCX up to 5 MB)."""
    if not file.content:
        raise invalid("file is empty")
    if file.content_type not in FILE_TYPES:
        raise invalid("only PDF, DOC and DOCX files can be uploaded")
    if len(file.content) > MAX_FILE:
        raise invalid("files are at most 5 MB")


def file_token(message: Mapping[str, Any]) -> str | None:
    """The upload token a file message names (``None`` for any other message)."""
    attachment = message.get("attachment")
    if not isinstance(attachment, dict) or attachment.get("type") != "file":
        return None
    payload = attachment.get("payload")
    token = payload.get("token") if isinstance(payload, dict) else None
    if not isinstance(token, str) or not token:
        raise invalid("message.attachment.payload.token")
    return token


def _payload(message: Mapping[str, Any]) -> dict[str, Any] | None:
    attachment = message.get("attachment")
    if attachment is None:
        return None
    if not isinstance(attachment, dict) or attachment.get("type") != "template":
        raise invalid("message.attachment.type")
    payload = attachment.get("payload")
    if not isinstance(payload, dict):
        raise invalid("message.attachment.payload")
    return payload


def _check_consultation(message: Mapping[str, Any]) -> None:
    text = message.get("text")
    if text is not None and (not isinstance(text, str) or not text or len(text) > MAX_TEXT):
        raise invalid("message.text")
    payload = _payload(message)
    if payload is None:
        if text is None:
            raise invalid("message.text or message.attachment is required")
        return
    template_type = payload.get("template_type")
    elements = payload.get("elements")
    if not isinstance(elements, list) or not elements:
        raise invalid("message.attachment.payload.elements")
    if template_type == "media":
        for element in elements:
            if not isinstance(element, dict) or element.get("media_type") not in ("image", "gif"):
                raise invalid("elements.media_type")
            if not element.get("url") and not element.get("attachment_id"):
                raise invalid("elements.url or attachment_id")
    elif template_type == "list":
        if len(elements) > MAX_LIST_ELEMENTS:
            raise invalid("at most 5 elements")
        for element in elements:
            if not isinstance(element, dict) or not element.get("title"):
                raise invalid("elements.title")
        _check_buttons(payload.get("buttons", []))
    else:
        raise ZaloError(-233, "The type of message is not supported")


def _check_buttons(buttons: Any) -> None:
    if not isinstance(buttons, list) or len(buttons) > MAX_BUTTONS:
        raise invalid("buttons")
    for button in buttons:
        if not isinstance(button, dict) or not button.get("title"):
            raise invalid("buttons.title")
        if button.get("type") not in BUTTON_TYPES or button.get("payload") in (None, ""):
            raise invalid("buttons.type or payload")


def _check_template(kind: str, message: Mapping[str, Any]) -> None:
    payload = _payload(message)
    if payload is None:
        raise invalid("a transaction or promotion message is a template")
    template_type = payload.get("template_type")
    allowed = TRANSACTION_TYPES if kind == "transaction" else frozenset({PROMOTION})
    if template_type not in allowed:
        raise invalid(f"template_type {template_type!r} is not a {kind} template")
    if payload.get("language") not in ("VI", "EN"):
        raise invalid("language")
    elements = payload.get("elements")
    if not isinstance(elements, list) or not elements:
        raise invalid("elements")
    for element in elements:
        if not isinstance(element, dict) or element.get("type") not in (
            "banner",
            "header",
            "text",
            "table",
        ):
            raise invalid("elements.type")
    _check_buttons(payload.get("buttons", []))


def event(
    app_id: str, oa_id: str, name: str, sender: str, recipient: str, **fields: Any
) -> dict[str, Any]:
    """A webhook event with Zalo's common fields."""
    return {
        "app_id": app_id,
        "user_id_by_app": sender if sender != oa_id else recipient,
        "event_name": name,
        "timestamp": now_ms(),
        "sender": {"id": sender},
        "recipient": {"id": recipient},
        **fields,
    }


def webhook_body(body: Mapping[str, Any]) -> bytes:
    """An event as Zalo writes it: compact JSON, UTF-8 unescaped."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def signed_headers(app_id: str, body: bytes, timestamp: str, oa_secret_key: str) -> dict[str, str]:
    """The ``X-ZEvent-Signature`` header of ``body``."""
    return {"X-ZEvent-Signature": signature(app_id, body, timestamp, oa_secret_key)}
