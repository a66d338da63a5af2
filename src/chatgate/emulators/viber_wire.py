"""The Viber emulator's view of the wire: answers, the checks of a send, callbacks.

Viber answers every call with HTTP 200 and a JSON body whose ``status`` is 0 on success
and the error's number otherwise, with its camelCase name as ``status_message``.
Callbacks are compact JSON signed with ``X-Viber-Content-Signature`` (hex HMAC-SHA256 of
the body, keyed with the bot's token).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from fastapi.responses import JSONResponse

CHAT_HOSTNAME = "SN-CHAT-01_"
MAX_BODY = 30 * 1024
MAX_TEXT = 7000
MAX_PICTURE_TEXT = 512
MAX_SENDER_NAME = 28
MAX_TRACKING_DATA = 4000
MAX_BUTTONS = 24
ACTION_TYPES = frozenset({"reply", "open-url", "location-picker", "share-phone", "none"})
MESSAGE_TYPES = frozenset(
    {"text", "picture", "video", "file", "location", "contact", "sticker", "url", "rich_media"}
)
# Callbacks a bot may choose in ``set_webhook``'s ``event_types`` (all of them when it names
# none); ``message`` and the ``webhook`` check always come.
OPTIONAL_EVENTS = (
    "delivered",
    "seen",
    "failed",
    "subscribed",
    "unsubscribed",
    "conversation_started",
)
# The HTTP status each refusal stands for in the emulator's log (Viber itself answers 200).
LOGGED_STATUS = {2: 401, 12: 429}

_tokens = itertools.count(5_741_311_803_571_721_087)


class ViberError(Exception):
    """A refused call, answered as Viber answers it: HTTP 200, a non-zero ``status``."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra

    def response(self) -> JSONResponse:
        """The answer: ``{"status", "status_message", ...}`` with HTTP 200."""
        body = {"status": self.status, "status_message": self.message, **self.extra}
        return JSONResponse(body)

    @property
    def logged_status(self) -> int:
        """The HTTP status this refusal stands for, in the log of received calls."""
        return LOGGED_STATUS.get(self.status, 400)


def bad_data(detail: str = "badData") -> ViberError:
    """Status 3: the request's data is wrong."""
    return ViberError(3, detail)


def missing_data(field: str) -> ViberError:
    """Status 4: a mandatory field is missing."""
    return ViberError(4, f"missingData: {field}")


def new_token() -> int:
    """A fresh ``message_token``: a large number, as Viber's are."""
    return next(_tokens)


def now_ms() -> int:
    """The time as callbacks write it: milliseconds since the epoch."""
    return int(time.time() * 1000)


def ok(**fields: Any) -> dict[str, Any]:
    """A success answer."""
    return {"status": 0, "status_message": "ok", **fields}


def callback_bytes(body: Mapping[str, Any]) -> bytes:
    """A callback as Viber writes it: compact JSON, UTF-8."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def signature(auth_token: str, body: bytes) -> str:
    """``X-Viber-Content-Signature`` of ``body``."""
    return hmac.new(auth_token.encode("utf-8"), body, hashlib.sha256).hexdigest()


def check_send(payload: Any) -> str:
    """Check a ``send_message`` body as Viber does; the receiver, or a :class:`ViberError`."""
    if not isinstance(payload, dict):
        raise bad_data()
    receiver = payload.get("receiver")
    if not isinstance(receiver, str) or not receiver:
        raise missing_data("receiver")
    _check_sender(payload.get("sender"))
    tracking = payload.get("tracking_data")
    if tracking is not None and (
        not isinstance(tracking, str) or len(tracking) > MAX_TRACKING_DATA
    ):
        raise bad_data("badData: tracking_data")
    keyboard = payload.get("keyboard")
    if keyboard is not None:
        check_keyboard(keyboard)
    kind = payload.get("type")
    if kind is None:
        # A keyboard may be sent on its own, without a message (Viber shows it in place of
        # the user's keyboard; the SDKs' KeyboardMessage has no type).
        if keyboard is None:
            raise missing_data("type")
        return receiver
    if kind not in MESSAGE_TYPES:
        raise bad_data(f"badData: unknown message type {kind!r}")
    _check_fields(kind, payload)
    return receiver


def _check_sender(sender: Any) -> None:
    if (
        not isinstance(sender, dict)
        or not isinstance(sender.get("name"), str)
        or not sender["name"]
    ):
        raise missing_data("sender.name")
    if len(sender["name"]) > MAX_SENDER_NAME:
        raise bad_data("badData: sender.name is longer than 28 characters")
    # A null avatar is no avatar (the SDKs write one for a bot configured without it).
    if sender.get("avatar") is not None and not _is_url(sender["avatar"]):
        raise bad_data("badData: sender.avatar")


def _check_fields(kind: str, payload: Mapping[str, Any]) -> None:
    if kind == "text":
        text = payload.get("text")
        if not isinstance(text, str) or not text:
            raise missing_data("text")
        if len(text) > MAX_TEXT:
            raise bad_data("badData: text is longer than 7000 characters")
    elif kind in ("picture", "video", "file", "url"):
        if not _is_url(payload.get("media")):
            raise missing_data("media")
        if kind == "picture":
            text = payload.get("text")
            if not isinstance(text, str):
                raise missing_data("text")
            if len(text) > MAX_PICTURE_TEXT:
                raise bad_data("badData: text is longer than 512 characters")
        if kind in ("video", "file"):
            size = payload.get("size")
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise missing_data("size")
        if kind == "file":
            name = payload.get("file_name")
            if not isinstance(name, str) or not name:
                raise missing_data("file_name")
    elif kind == "location":
        point = payload.get("location")
        if not isinstance(point, dict) or not all(
            isinstance(point.get(k), int | float) and not isinstance(point.get(k), bool)
            for k in ("lat", "lon")
        ):
            raise missing_data("location")
    elif kind == "contact":
        contact = payload.get("contact")
        if not isinstance(contact, dict) or not all(
            isinstance(contact.get(k), str) and contact[k] for k in ("name", "phone_number")
        ):
            raise missing_data("contact")
    elif kind == "sticker" and not isinstance(payload.get("sticker_id"), int):
        raise missing_data("sticker_id")


def check_keyboard(keyboard: Any) -> None:
    """A ``keyboard``: ``Type: keyboard`` and 1-24 buttons, each with an action body."""
    if not isinstance(keyboard, dict) or keyboard.get("Type") != "keyboard":
        raise bad_data("badData: keyboard.Type must be keyboard")
    buttons = keyboard.get("Buttons")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= MAX_BUTTONS:
        raise bad_data("badData: keyboard.Buttons holds 1 to 24 buttons")
    for button in buttons:
        if not isinstance(button, dict) or not isinstance(button.get("ActionBody"), str):
            raise missing_data("keyboard.Buttons.ActionBody")
        if button.get("ActionType", "reply") not in ACTION_TYPES:
            raise bad_data("badData: keyboard.Buttons.ActionType")
        if button.get("ActionType") == "open-url" and not _is_url(button["ActionBody"]):
            raise bad_data("badData: an open-url button's ActionBody is a URL")
        for name in ("Columns", "Rows"):
            value = button.get(name, 6 if name == "Columns" else 1)
            if not isinstance(value, int) or not 1 <= value <= (6 if name == "Columns" else 2):
                raise bad_data(f"badData: keyboard.Buttons.{name}")


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and urlsplit(value).scheme in ("http", "https")


def user_of(user_id: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The user object of a callback, from the control API's payload."""
    user: dict[str, Any] = {"id": user_id, "name": str(payload.get("name") or "Ada")}
    if payload.get("avatar"):
        user["avatar"] = str(payload["avatar"])
    user.update(
        language=str(payload.get("language") or "en"),
        country=str(payload.get("country") or "GB"),
        api_version=10,
    )
    return user


def status_callback(
    event: str, token: int, user_id: str, desc: str | None = None
) -> dict[str, Any]:
    """A ``delivered``, ``seen`` or ``failed`` callback about message ``token``."""
    body: dict[str, Any] = {
        "event": event,
        "timestamp": now_ms(),
        "chat_hostname": CHAT_HOSTNAME,
        "message_token": token,
        "user_id": user_id,
    }
    if desc is not None:
        body["desc"] = desc
    return body
