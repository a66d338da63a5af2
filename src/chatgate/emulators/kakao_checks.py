"""The request checks of the emulated NHN Cloud KakaoTalk Bizmessage API, and its answers.

NHN answers every call with ``{"header": {"resultCode", "resultMessage", "isSuccessful"}}``
and, for a refused request, ``isSuccessful: false`` with HTTP 200: the checks here return
``(resultCode, resultMessage)`` with NHN's codes and message shapes (``-2000`` a field too
long, ``-2001`` blank, ``-1001`` a wrong secret key...), or ``None`` when the body is good.

List Messages (``GET .../messages``) needs a ``requestId`` or a span of request dates
(``yyyy-MM-dd HH:mm``, Korean time; AlimTalk also takes creation dates): without one NHN
answers ``-4103`` ("RequestId or startRequestDate/endRequestDate is invalid."), with one
over 31 days ``-4003`` ("Search is possible within 31 days.", the error table's words; the
list's own page says 30 days).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from fastapi.responses import JSONResponse

from chatgate.channels.kakao_parse import KST

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
MAX_LIST_DAYS = 31
DEFAULT_PAGE_SIZE = 15
MAX_PAGE_SIZE = 1000
_NUMBER = re.compile(r"\d{1,15}")
_PARAMETER = re.compile(r"#\{([^}]+)\}")


def answer(
    code: int = 0,
    message: str = "SUCCESS",
    *,
    status: int = 200,
    body: Any = None,
    name: str = "message",
) -> JSONResponse:
    """NHN's answer: the header, and the body under ``name`` when there is one (``message``;
    List Messages names it ``messageSearchResultResponse``)."""
    content: dict[str, Any] = {
        "header": {"resultCode": code, "resultMessage": message, "isSuccessful": code == 0}
    }
    if body is not None:
        content[name] = body
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


def list_span(query: Mapping[str, str], *, create_dates: bool) -> tuple[datetime, datetime] | None:
    """The first and last minute a List Messages query asks for; ``None`` if it names none
    (or names them malformed, or backwards)."""
    kinds = ("RequestDate", "CreateDate") if create_dates else ("RequestDate",)
    for kind in kinds:
        first, last = query.get(f"start{kind}"), query.get(f"end{kind}")
        if first is None and last is None:
            continue
        try:
            start, end = (
                datetime.strptime(value or "", "%Y-%m-%d %H:%M").replace(tzinfo=KST)
                for value in (first, last)
            )
        except ValueError:
            return None
        return (start, end) if start <= end else None
    return None


def page_of(query: Mapping[str, str]) -> tuple[int, int] | None:
    """``(pageNum, pageSize)`` of a List Messages query (1 and 15 by default); ``None`` when
    either is not a positive number."""
    number, size = query.get("pageNum", "1"), query.get("pageSize", str(DEFAULT_PAGE_SIZE))
    if not (number.isdigit() and size.isdigit()) or int(number) < 1 or int(size) < 1:
        return None
    return int(number), int(size)


def check_list_query(query: Mapping[str, str], *, create_dates: bool) -> Problem | None:
    """A List Messages query: a request id or a span of at most 31 days, and a page."""
    if not query.get("requestId"):
        span = list_span(query, create_dates=create_dates)
        if span is None:
            return -4103, "RequestId or startRequestDate/endRequestDate is invalid."
        if span[1] - span[0] > timedelta(days=MAX_LIST_DAYS):
            return -4003, f"Search is possible within {MAX_LIST_DAYS} days."
    page = page_of(query)
    if page is None:
        return 4, "Parameter validation failed: pageNum, pageSize"
    if page[1] > MAX_PAGE_SIZE:
        return -2005, f"The 'pageSize' must be less than or equal to {MAX_PAGE_SIZE}."
    return None
