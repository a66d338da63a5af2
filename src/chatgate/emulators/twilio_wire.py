"""What the Twilio emulator writes: ids, segments, error bodies, signatures.

Written from Twilio's documentation, independently of the adapter, so that the two check
each other: a signature the emulator makes is one the adapter must accept.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

from fastapi import Response
from fastapi.responses import JSONResponse

from chatgate.emulators.core import Fault

API_VERSION = "2010-04-01"
TWILIO_HOST = "https://api.twilio.com"
ERRORS_URL = "https://www.twilio.com/docs/errors/"
MAX_BODY = 1600

# GSM 03.38: the basic set (one septet each) and the extension set (two: ESC + char).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = frozenset("^{}\\[~]|€\f")


def new_sid(prefix: str) -> str:
    """A Twilio SID: two letters and 32 hexadecimal digits."""
    return prefix + secrets.token_hex(16)


def segments(body: str) -> int:
    """How many SMS parts ``body`` takes: GSM-7 160/153, otherwise UCS-2 70/67 (in UTF-16
    units, so an emoji counts two)."""
    if not body:
        return 1
    if all(ch in GSM_BASIC or ch in GSM_EXTENSION for ch in body):
        size, single, part = sum(2 if ch in GSM_EXTENSION else 1 for ch in body), 160, 153
    else:
        size, single, part = len(body.encode("utf-16-be")) // 2, 70, 67
    return 1 if size <= single else -(-size // part)


def error(status: int, code: int, message: str) -> JSONResponse:
    """Twilio's error answer: ``{code, message, more_info, status}``."""
    body = {"code": code, "message": message, "more_info": f"{ERRORS_URL}{code}", "status": status}
    return JSONResponse(body, status_code=status)


def sign(auth_token: str, url: str, params: Sequence[tuple[str, str]]) -> str:
    """``X-Twilio-Signature``: base64 HMAC-SHA1 of the URL and the sorted ``name + value``."""
    data = url + "".join(name + value for name, value in sorted(params))
    mac = hmac.new(auth_token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """The user and password of an ``Authorization: Basic`` header."""
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except ValueError:
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None


async def fault_answer(fault: Fault | None) -> Response | None:
    """The answer a synchronous fault plays, if any (a timeout hangs first)."""
    if fault is None:
        return None
    if fault.kind == "server_error":
        return error(500, 20500, "An internal server error has occurred")
    if fault.kind == "timeout":
        await asyncio.sleep(fault.seconds)
        return error(503, 20503, "Service unavailable")
    if fault.kind == "rate_limit":
        return error(429, 20429, "Too Many Requests")
    if fault.kind == "permanent":
        return error(
            400,
            21408,
            "Permission to send an SMS has not been enabled for the region indicated by "
            "the 'To' number",
        )
    if fault.kind == "invalid_recipient":
        return error(400, 21614, "'To' number is not a valid mobile number")
    return None
