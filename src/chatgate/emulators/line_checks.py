"""The LINE emulator's checks of push and reply bodies, with LINE's own error answers.

LINE refuses a malformed body with ``400 {"message": "The request body has N error(s)",
"details": [{"message", "property"}]}`` (the property as a path: ``messages[0].text``);
these checks stop at the first error, which is what a client sees first anyway. Limits are
LINE's documented ones: 1-5 messages, text ≤ 5000 UTF-16 units, HTTPS media URLs ≤ 2000
characters, location title and address ≤ 100, template alt text ≤ 400, labels ≤ 20,
buttons ≤ 4 actions, carousel ≤ 10 columns of 1-3 actions (the same number in each),
quick reply ≤ 13 items.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi.responses import JSONResponse

from chatgate.channels.line_build import utf16_length

USER_ID = re.compile(r"[UCR][0-9a-f]{32}")
_URL_SCHEMES = ("http://", "https://", "line://", "tel:")
_MESSAGE_TYPES = frozenset(
    {"text", "textV2", "sticker", "image", "video", "audio", "location", "imagemap", "template",
     "flex"}
)  # fmt: skip
_ACTION_TYPES = frozenset(
    {"postback", "message", "uri", "datetimepicker", "camera", "cameraRoll", "location",
     "richmenuswitch", "clipboard"}
)  # fmt: skip


class LineApiError(Exception):
    """A refused call, answered as LINE answers it."""

    def __init__(
        self,
        status: int,
        message: str,
        details: list[dict[str, str]] | None = None,
        *,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details
        self.extra = extra or {}
        self.headers = headers or {}

    def response(self, request_id: str) -> JSONResponse:
        """The error answer, with LINE's request id header."""
        body: dict[str, Any] = {"message": self.message}
        if self.details:
            body["details"] = self.details
        body.update(self.extra)
        headers = {"X-Line-Request-Id": request_id, **self.headers}
        return JSONResponse(body, status_code=self.status, headers=headers)


def invalid(property_path: str, message: str) -> LineApiError:
    """LINE's answer to a body with an error in ``property_path``."""
    return LineApiError(
        400,
        "The request body has 1 error(s)",
        [{"message": message, "property": property_path}],
    )


def check_messages(messages: Any) -> list[dict[str, Any]]:
    """The ``messages`` of a push or reply, checked."""
    if not isinstance(messages, list) or not 1 <= len(messages) <= 5:
        raise invalid("messages", "Size must be between 1 and 5")
    for index, message in enumerate(messages):
        _check_message(message, f"messages[{index}]")
    return messages


def _check_message(message: Any, at: str) -> None:
    if not isinstance(message, dict) or message.get("type") not in _MESSAGE_TYPES:
        raise invalid(f"{at}.type", "Invalid message type")
    kind = message["type"]
    if kind == "text":
        _text(message.get("text"), f"{at}.text", 5000)
        if utf16_length(message["text"]) > 5000:
            raise invalid(f"{at}.text", "Length must be between 0 and 5000")
    elif kind in ("image", "video"):
        _url(message.get("originalContentUrl"), f"{at}.originalContentUrl", https=True)
        _url(message.get("previewImageUrl"), f"{at}.previewImageUrl", https=True)
    elif kind == "audio":
        _url(message.get("originalContentUrl"), f"{at}.originalContentUrl", https=True)
        duration = message.get("duration")
        if not isinstance(duration, int) or isinstance(duration, bool) or duration < 0:
            raise invalid(f"{at}.duration", "Must be a positive number")
    elif kind == "location":
        _text(message.get("title"), f"{at}.title", 100)
        _text(message.get("address"), f"{at}.address", 100)
        for name in ("latitude", "longitude"):
            if not isinstance(message.get(name), int | float) or isinstance(message[name], bool):
                raise invalid(f"{at}.{name}", "Must be a number")
    elif kind == "sticker":
        for name in ("packageId", "stickerId"):
            _text(message.get(name), f"{at}.{name}", 100)
            if not message[name].isdigit():
                raise invalid(f"{at}.{name}", "Invalid sticker id")
    elif kind == "template":
        _text(message.get("altText"), f"{at}.altText", 400)
        _template(message.get("template"), f"{at}.template")
    if "quickReply" in message:
        _quick_reply(message["quickReply"], f"{at}.quickReply")


def _text(value: Any, at: str, limit: int) -> None:
    if not isinstance(value, str) or not value:
        raise invalid(at, "May not be empty")
    if len(value) > limit:
        raise invalid(at, f"Length must be between 0 and {limit}")


def _url(value: Any, at: str, *, https: bool = False) -> None:
    if not isinstance(value, str) or not value:
        raise invalid(at, "May not be empty")
    if len(value) > 2000:
        raise invalid(at, "Length must be between 0 and 2000")
    if https and not value.startswith("https://"):
        raise invalid(at, "Must be an HTTPS URL")
    if not value.startswith(_URL_SCHEMES):
        raise invalid(at, "Invalid URL")


def _template(template: Any, at: str) -> None:
    if not isinstance(template, dict):
        raise invalid(at, "May not be empty")
    kind = template.get("type")
    if kind == "buttons":
        titled = "title" in template or "thumbnailImageUrl" in template
        if "title" in template:
            _text(template["title"], f"{at}.title", 40)
        _text(template.get("text"), f"{at}.text", 60 if titled else 160)
        _actions(template.get("actions"), f"{at}.actions", 4)
    elif kind == "carousel":
        columns = template.get("columns")
        if not isinstance(columns, list) or not 1 <= len(columns) <= 10:
            raise invalid(f"{at}.columns", "Size must be between 1 and 10")
        counts = set()
        for index, column in enumerate(columns):
            where = f"{at}.columns[{index}]"
            if not isinstance(column, dict):
                raise invalid(where, "May not be empty")
            titled = "title" in column or "thumbnailImageUrl" in column
            _text(column.get("text"), f"{where}.text", 60 if titled else 120)
            _actions(column.get("actions"), f"{where}.actions", 3)
            counts.add(len(column["actions"]))
        if len(counts) != 1:
            raise invalid(f"{at}.columns", "Must have the same number of actions in each column")
    elif kind not in ("confirm", "image_carousel"):
        raise invalid(f"{at}.type", "Invalid template type")


def _actions(actions: Any, at: str, most: int) -> None:
    if not isinstance(actions, list) or not 1 <= len(actions) <= most:
        raise invalid(at, f"Size must be between 1 and {most}")
    for index, action in enumerate(actions):
        _action(action, f"{at}[{index}]")


def _action(action: Any, at: str) -> None:
    if not isinstance(action, dict) or action.get("type") not in _ACTION_TYPES:
        raise invalid(f"{at}.type", "Invalid action type")
    if "label" in action:
        _text(action["label"], f"{at}.label", 20)
    if action["type"] == "postback":
        _text(action.get("data"), f"{at}.data", 300)
    elif action["type"] == "uri":
        _url(action.get("uri"), f"{at}.uri")
    elif action["type"] == "message":
        _text(action.get("text"), f"{at}.text", 300)


def _quick_reply(quick_reply: Any, at: str) -> None:
    items = quick_reply.get("items") if isinstance(quick_reply, dict) else None
    if not isinstance(items, list) or not 1 <= len(items) <= 13:
        raise invalid(f"{at}.items", "Size must be between 1 and 13")
    for index, item in enumerate(items):
        if not isinstance(item, dict) or item.get("type") != "action":
            raise invalid(f"{at}.items[{index}].type", "Must be action")
        _action(item.get("action"), f"{at}.items[{index}].action")
