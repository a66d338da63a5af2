"""The request checks of the emulated NHN Cloud KakaoTalk Bizmessage API, and its answers.

NHN answers every call with ``{"header": {"resultCode", "resultMessage", "isSuccessful"}}``
and, for a refused request, ``isSuccessful: false`` with HTTP 200: the checks here return
``(resultCode, resultMessage)`` with NHN's codes and message shapes (``-2000`` a field too
long, ``-2001`` blank, ``-1001`` a wrong secret key...), or ``None`` when the body is good.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fastapi.responses import JSONResponse

Problem = tuple[int, str]

BUBBLES = frozenset(
    {
        "TEXT",
        "IMAGE",
        "WIDE",
        "WIDE_ITEM_LIST",
        "PREMIUM_VIDEO",
        "COMMERCE",
        "CAROUSEL_FEED",
        "CAROUSEL_COMMERCE",
    }
)
BUTTON_TYPES = frozenset({"WL", "AL", "BK", "MD", "AC", "BT", "BF"})
TARGETINGS = frozenset({"I", "M", "N"})
MAX_RECIPIENTS = 1000
MAX_CONTENT = 1300
MAX_BUTTONS = 5
MAX_BUTTON_NAME = 14
_NUMBER = re.compile(r"\d{1,15}")
_PARAMETER = re.compile(r"#\{([^}]+)\}")


def answer(
    code: int = 0, message: str = "SUCCESS", *, status: int = 200, body: Any = None
) -> JSONResponse:
    """NHN's answer: the header, and the body's ``message`` when there is one."""
    content: dict[str, Any] = {
        "header": {"resultCode": code, "resultMessage": message, "isSuccessful": code == 0}
    }
    if body is not None:
        content["message"] = body
    return JSONResponse(content, status_code=status)


def _blank(field: str) -> Problem:
    return -2001, f"The '{field}' must not be blank."


def _too_long(field: str, limit: int) -> Problem:
    return -2000, f"The '{field}' must be at less than or equal to {limit}."


def check_recipients(body: Mapping[str, Any], *, brand: bool) -> Problem | None:
    """``recipientList``: 1 to 1,000 recipients with a number (and a targeting for brand)."""
    recipients = body.get("recipientList")
    if not isinstance(recipients, list) or not recipients:
        return _blank("recipientList")
    if len(recipients) > MAX_RECIPIENTS:
        return -2005, f"The 'recipientList' must be less than or equal to {MAX_RECIPIENTS}."
    for recipient in recipients:
        if not isinstance(recipient, dict):
            return 4, "Parameter validation failed: recipientList"
        number = recipient.get("recipientNo")
        if not isinstance(number, str) or not number:
            return _blank("recipientNo")
        if not _NUMBER.fullmatch(number):
            return 4, "Parameter validation failed: recipientNo"
        parameters = recipient.get("templateParameter")
        if parameters is not None and not (
            isinstance(parameters, dict) and all(isinstance(v, str) for v in parameters.values())
        ):
            return 4, "Parameter validation failed: templateParameter"
        targeting = recipient.get("targeting")
        if brand and targeting is not None and targeting not in TARGETINGS:
            return 4, "Parameter validation failed: targeting"
        key = recipient.get("recipientGroupingKey")
        if key is not None and (not isinstance(key, str) or len(key) > 100):
            return _too_long("recipientGroupingKey", 100)
    return None


def check_template_send(
    body: Mapping[str, Any], templates: Mapping[str, str] | None, *, brand: bool
) -> Problem | None:
    """An AlimTalk (or brand-message template) send; ``templates`` maps code -> approved text.

    With ``templates`` registered, the code must be one of them and every ``#{parameter}``
    of its text must be given (``-3003`` / ``-3004``, as NHN answers).
    """
    code = body.get("templateCode")
    if not isinstance(code, str) or not code:
        return _blank("templateCode")
    if len(code) > 20:
        return _too_long("templateCode", 20)
    problem = check_recipients(body, brand=brand)
    if problem is not None or templates is None:
        return problem
    if code not in templates:
        return -3003, "Template is not exist."
    needed = set(_PARAMETER.findall(templates[code]))
    for recipient in body["recipientList"]:
        given = set((recipient.get("templateParameter") or {}).keys())
        if needed - given:
            return -3004, "Invalid template parameter."
    return None


def check_freestyle(body: Mapping[str, Any]) -> Problem | None:
    """A free-form brand message: its bubble, content, image and buttons."""
    bubble = body.get("chatBubbleType")
    if not isinstance(bubble, str) or not bubble:
        return _blank("chatBubbleType")
    if bubble not in BUBBLES:
        return 4, "Parameter validation failed: chatBubbleType"
    content = body.get("content")
    if bubble in ("TEXT", "IMAGE"):
        if not isinstance(content, str) or not content:
            return _blank("content")
        if len(content) > MAX_CONTENT:
            return _too_long("content", MAX_CONTENT)
    image = body.get("image")
    if bubble == "IMAGE" and not (isinstance(image, dict) and image.get("imageUrl")):
        return _blank("imageUrl")
    if bubble == "TEXT" and image is not None:
        return -3305, "The 'image' is not allowed for chatBubbleType TEXT."
    problem = _check_buttons(body.get("buttons"))
    return problem if problem is not None else check_recipients(body, brand=True)


def _check_buttons(buttons: Any) -> Problem | None:
    if buttons is None:
        return None
    if not isinstance(buttons, list) or len(buttons) > MAX_BUTTONS:
        return -2005, f"The 'buttons' must be less than or equal to {MAX_BUTTONS}."
    for button in buttons:
        if not isinstance(button, dict):
            return -2018, "Button parameter is invalid."
        name = button.get("name")
        if not isinstance(name, str) or not name:
            return _blank("buttons.name")
        if len(name) > MAX_BUTTON_NAME:
            return _too_long("buttons.name", MAX_BUTTON_NAME)
        if button.get("type") not in BUTTON_TYPES:
            return -2018, "Button parameter is invalid."
        if button["type"] == "WL" and not button.get("linkMo"):
            return -2018, "Button parameter is invalid."
    return None
