"""The Telegram emulator's view of the Bot API wire: errors, request parameters, objects.

Telegram takes a method's parameters from the query string and from the body, which may be
JSON, ``application/x-www-form-urlencoded`` or ``multipart/form-data``; in the last two,
object parameters (``reply_markup``...) are JSON text. Answers are ``{"ok": true, "result":
...}`` or ``{"ok": false, "error_code", "description", "parameters"?}`` with the HTTP status
equal to ``error_code``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.responses import JSONResponse

from chatgate.emulators.core import Account, Fault
from chatgate.emulators.multipart import read_form

# Parameters that are objects; in a form or a query string they arrive as JSON text.
_OBJECT_PARAMS = {
    "reply_markup": "reply keyboard markup",
    "reply_parameters": "reply parameters",
    "link_preview_options": "link preview options",
    "reaction": "reaction types",
    "allowed_updates": "allowed updates",
    "media": "media",
    "entities": "entities",
    "caption_entities": "caption entities",
}
# Update kinds Telegram leaves out unless ``allowed_updates`` names them.
OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


class ApiError(Exception):
    """A refused call, answered as Telegram answers it."""

    def __init__(self, code: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def response(self) -> JSONResponse:
        """The error answer: ``ok: false`` with the same code as the HTTP status."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return JSONResponse(body, status_code=self.code)


def not_found() -> ApiError:
    """What Telegram answers for an unknown method or a malformed token."""
    return ApiError(404, "Not Found")


def bad_request(reason: str) -> ApiError:
    """A 400 with Telegram's ``Bad Request:`` prefix."""
    return ApiError(400, f"Bad Request: {reason}")


@dataclass(frozen=True)
class Upload:
    """A file part of a ``multipart/form-data`` call, as the bot uploaded it."""

    filename: str
    content: bytes
    content_type: str | None

    def logged(self) -> dict[str, Any]:
        """How the call log shows it: its name and size, not its bytes."""
        return {"upload": self.filename, "size": len(self.content)}


@dataclass
class StoredFile:
    """A file of a chat (a user's or the bot's), which ``file_id`` names from then on.

    ``file_path`` and ``file_size`` are ``None`` for a file the emulator never had the
    bytes of (sent by a URL it did not fetch): ``getFile`` then gives no path to download.
    """

    file_id: str
    file_unique_id: str
    file_path: str | None
    file_size: int | None
    # Not part of a File object, but of the message a file_id sends again.
    file_name: str | None = None
    mime_type: str | None = None

    def as_file(self) -> dict[str, Any]:
        """The Bot API ``File`` object."""
        file: dict[str, Any] = {"file_id": self.file_id, "file_unique_id": self.file_unique_id}
        if self.file_size is not None:
            file["file_size"] = self.file_size
        if self.file_path is not None:
            file["file_path"] = self.file_path
        return file


@dataclass
class BotState:
    """What the emulator remembers of one bot: its chats, messages, files and webhook."""

    bot_id: int
    username: str
    first_name: str
    secret_token: str | None = None
    allowed_updates: list[str] | None = None
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    files: dict[str, StoredFile] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)
    callbacks: set[str] = field(default_factory=set)
    reactions: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)
    _last_message: dict[str, int] = field(default_factory=dict)
    _updates: itertools.count[int] = field(default_factory=lambda: itertools.count(700_000_001))

    def next_message_id(self, chat: str) -> int:
        """Telegram numbers the messages of a chat, both sides together, from 1."""
        self._last_message[chat] = self._last_message.get(chat, 0) + 1
        return self._last_message[chat]

    def next_update_id(self) -> int:
        """Update ids increase by one per update."""
        return next(self._updates)

    def user(self) -> dict[str, Any]:
        """The bot as a ``User`` (the ``from`` of what it sends)."""
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.first_name,
            "username": self.username,
        }

    def chat(self, chat: str) -> dict[str, Any]:
        """The private ``Chat`` with a user who wrote to the bot."""
        user = self.users.get(chat, {"id": as_int(chat) or chat, "first_name": "User"})
        keys = ("id", "first_name", "last_name", "username")
        found: dict[str, Any] = {key: user[key] for key in keys if key in user}
        return {**found, "type": "private"}

    def store(self, chat: str, message: dict[str, Any]) -> None:
        """Keep a message, for replies, reactions and callback queries to name it."""
        self.messages[(chat, message["message_id"])] = message

    def message(self, chat: str, message_id: int) -> dict[str, Any] | None:
        """A message of the chat, without the message it replied to (as Telegram nests)."""
        found = self.messages.get((chat, message_id))
        if found is None:
            return None
        return {key: value for key, value in found.items() if key != "reply_to_message"}


def bot_state(account: Account) -> BotState:
    """The emulator's memory of the bot ``account`` is."""
    state: BotState = account.extra["bot"]
    return state


def ok(result: Any, description: str | None = None) -> dict[str, Any]:
    """A success answer."""
    answer: dict[str, Any] = {"ok": True, "result": result}
    if description is not None:
        answer["description"] = description
    return answer


def now() -> int:
    """Unix time, as Telegram dates everything."""
    return int(time.time())


def new_file_id(prefix: str) -> tuple[str, str]:
    """A ``file_id`` and a ``file_unique_id`` looking like Telegram's (opaque base64url)."""
    return f"{prefix}{secrets.token_urlsafe(48)}", f"AQAD{secrets.token_urlsafe(12)}"


async def read_params(request: Request) -> dict[str, Any]:
    """A call's parameters: the query string, then the body in any of its three encodings."""
    params: dict[str, Any] = dict(request.query_params)
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    if body:
        if content_type.startswith("application/json"):
            try:
                decoded = json.loads(body)
            except ValueError as exc:
                raise bad_request("can't parse JSON object") from exc
            if not isinstance(decoded, dict):
                raise bad_request("can't parse JSON object")
            params.update(decoded)
        elif content_type.startswith("multipart/form-data"):
            params.update(_multipart(body, content_type))
        else:
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    for name, what in _OBJECT_PARAMS.items():
        if isinstance(params.get(name), str):
            try:
                params[name] = json.loads(params[name])
            except ValueError as exc:
                raise bad_request(f"can't parse {what} JSON object") from exc
    return params


def _multipart(body: bytes, content_type: str) -> dict[str, Any]:
    """Fields of a multipart body: text, or an :class:`Upload` for a file part."""
    try:
        parts = read_form(body, content_type)
    except ValueError as exc:
        raise bad_request("can't parse multipart/form-data body") from exc
    return {
        part.name: part.text()
        if part.filename is None
        else Upload(part.filename, part.content, part.content_type)
        for part in parts
    }


async def play_fault(fault: Fault, method: str) -> None:
    """Fail the call as ``fault`` says (a timeout only delays it)."""
    if fault.kind == "timeout":
        await asyncio.sleep(fault.seconds)
    elif fault.kind == "server_error":
        raise ApiError(502, "Bad Gateway")
    elif fault.kind == "rate_limit":
        seconds = 3 if fault.retry_after is None else math.ceil(fault.retry_after)
        raise ApiError(429, f"Too Many Requests: retry after {seconds}", retry_after=seconds)
    elif fault.kind == "invalid_recipient":
        raise bad_request("chat not found")
    elif method in ("sendmessage", "setmessagereaction"):
        # Telegram refuses at once or not at all: an asynchronous failure is a refusal too.
        raise bad_request("not enough rights to send text messages to the chat")
    else:
        raise bad_request("wrong file identifier/HTTP URL specified")


def as_int(value: Any) -> int | None:
    """An integer parameter, given as a number or as text (``None`` if it is neither)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def as_float(value: Any) -> float | None:
    """A number parameter, given as a number or as text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value) if isinstance(value, str) and value.strip() else None
    except ValueError:
        return None


def is_true(value: Any) -> bool:
    """A boolean parameter: JSON ``true`` or the text ``true``/``1`` from a form."""
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1"))


def webhook_body(update: dict[str, Any]) -> bytes:
    """An update as Telegram posts it: compact JSON, UTF-8 left unescaped."""
    return json.dumps(update, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
