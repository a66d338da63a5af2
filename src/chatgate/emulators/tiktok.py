"""The TikTok Business Messaging API emulator, under ``/tiktok``.

Routes, as on ``business-api.tiktok.com`` (any ``v1.x`` version), all authenticated with
the ``Access-Token`` header and answered with TikTok's ``{"code", "message",
"request_id", "data"}`` envelope, HTTP 200 even for refusals:

- ``POST /tiktok/open_api/{version}/business/message/send/``: ``TEXT`` (1-6000
  characters, optionally quoting a message of the conversation) or ``IMAGE`` (an uploaded
  ``media_id``) to a ``CONVERSATION``; answers ``data.message.message_id``, then sends the
  ``im_send_msg`` echo and the user's ``im_mark_read_msg`` at the state's timing (TikTok
  has no delivery receipts). A conversation the user never started is ``40002``; after 48
  hours without a user message, or past :data:`MESSAGES_PER_USER_MESSAGE` business messages
  since the user's last one, ``40064``.
- ``POST .../business/message/media/upload/``: multipart ``business_id``, ``media_type``
  (``IMAGE``) and ``file`` (JPG or PNG, at most 3 MB; else ``40908``); answers
  ``data.media_id``.
- ``POST .../business/message/media/download/``: the ``download_url`` of a user's
  attachment, served (without a token, as a CDN would) at ``/tiktok/_download/{id}``.

A wrong token is ``40105``, a business the token does not own ``40001``. Faults (sends
only): ``server_error`` 51065; ``rate_limit`` 40100 (TikTok names no delay);
``permanent`` 40002; ``invalid_recipient`` 40002 (no such conversation); ``async_failure``
40064 (TikTok reports no failure later: a blocked message is refused at once); ``timeout``
hangs. Since every answer is HTTP 200, the log of calls records a refusal with the HTTP
status it stands for (400, 429 or 500), so that refusals read the same for every platform.

Control API: ``register`` takes ``{business_id, access_token, client_secret,
webhook_url?}``; ``inject_inbound`` takes ``{business_id, from, user_id?, username?}`` with
the content of :func:`chatgate.emulators.tiktok_webhooks.user_message`, where ``from`` is
the conversation the user writes in (what the business answers to).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from chatgate.channels import tiktok_wire as wire
from chatgate.channels.tiktok import MAX_IMAGE, MESSAGES_PER_USER_MESSAGE
from chatgate.channels.tiktok_build import MAX_TEXT
from chatgate.emulators.core import Account, EmulatorState, Fault, PlatformEmulator, Received
from chatgate.emulators.multipart import read_form
from chatgate.emulators.tiktok_webhooks import (
    Conversation,
    echo,
    new_message_id,
    read_receipt,
    serialize,
    user_message,
)

PREFIX = "/tiktok"
WINDOW_SECONDS = 48 * 3600
_IMAGE_TYPES = ("image/jpeg", "image/png")
# The HTTP status a refusal stands for in the log of calls.
_LOGGED_STATUS = {wire.RATE_LIMITED: 429, wire.SYSTEM_ERROR: 500}

# An API call once authenticated: its ``data``, or a :class:`Refusal`.
Handler = Callable[[Account, Request, Received], Awaitable[dict[str, Any]]]

__all__ = ["MESSAGES_PER_USER_MESSAGE", "TikTokEmulator"]


class Refusal(Exception):
    """A call TikTok refuses: answered HTTP 200 with ``code`` and ``message``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _answer(code: int, message: str, data: dict[str, Any] | None = None) -> JSONResponse:
    return JSONResponse(
        {"code": code, "message": message, "request_id": secrets.token_hex(16), "data": data or {}}
    )


class TikTokEmulator(PlatformEmulator):
    """TikTok business accounts registered through the control API."""

    name: ClassVar[str] = "tiktok"

    def __init__(self, state: EmulatorState) -> None:
        super().__init__(state)
        self._media_ids: set[str] = set()
        self._uploads: dict[str, str] = {}  # media id -> business id
        # Signs download URLs, so that only URLs the download call gave work.
        self._url_key = secrets.token_bytes(16)

    # -- control API --------------------------------------------------------------------

    def register(self, payload: dict[str, Any]) -> Account:
        """A business account from ``{business_id, access_token, client_secret, webhook_url?}``."""
        missing = [
            k for k in ("business_id", "access_token", "client_secret") if not payload.get(k)
        ]
        if missing:
            raise ValueError(f"missing {', '.join(missing)}")
        account = Account(
            id=str(payload["business_id"]),
            secrets={
                "access_token": str(payload["access_token"]),
                "client_secret": str(payload["client_secret"]),
            },
            webhook_url=payload.get("webhook_url"),
            extra={"conversations": {}},
        )
        self.state.add_account(self.name, account)
        return account

    async def inject_inbound(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A user writes in conversation ``from``: ``im_receive_msg`` is posted now."""
        account = self.accounts().get(str(payload.get("business_id")))
        if account is None:
            raise ValueError(f"no TikTok business {payload.get('business_id')!r}")
        conversation_id = str(payload.get("from") or "")
        if not conversation_id or ":" in conversation_id:
            raise ValueError("from: the conversation id (no colon)")
        conversations: dict[str, Conversation] = account.extra["conversations"]
        conversation = conversations.get(conversation_id)
        if conversation is None:
            user_id = str(payload.get("user_id") or f"-{secrets.randbelow(10**18):018d}")
            username = str(payload.get("username") or f"user{user_id[-6:]}")
            conversation = conversations[conversation_id] = Conversation(
                conversation_id, user_id, username
            )
        message_id, body = user_message(account.id, conversation, payload, self._keep_media)
        conversation.message_ids.add(message_id)
        conversation.sent_since_user = 0
        self.state.user_wrote(self.name, account.id, conversation_id)
        await self._post(account, body)
        return {"id": message_id, "body": body}

    def _keep_media(self, content: bytes, mime_type: str) -> str:
        media_id = f"v0{secrets.token_hex(16)}"
        self.state.media[media_id] = (content, mime_type)
        self._media_ids.add(media_id)
        return media_id

    async def _post(self, account: Account, body: dict[str, Any]) -> None:
        if account.webhook_url is None:
            return
        raw = serialize(body)
        signature = wire.sign(account.secrets["client_secret"], raw, int(time.time()))
        await self.state.post_webhook(
            self.name, account.webhook_url, raw, {"TikTok-Signature": signature}
        )

    # -- the Business API ---------------------------------------------------------------

    def router(self) -> APIRouter:
        """Send, upload, download and the download URLs."""
        router = APIRouter(prefix=PREFIX, include_in_schema=False)

        @router.post("/open_api/{version}/business/message/send/")
        async def send(version: str, request: Request) -> Response:
            return await self._guarded(request, self._send)

        @router.post("/open_api/{version}/business/message/media/upload/")
        async def upload(version: str, request: Request) -> Response:
            return await self._guarded(request, self._upload)

        @router.post("/open_api/{version}/business/message/media/download/")
        async def download(version: str, request: Request) -> Response:
            return await self._guarded(request, self._download)

        @router.get("/_download/{media_id}")
        async def file(media_id: str, signature: str = "") -> Response:
            signed = hmac.compare_digest(signature, self._sign_media(media_id))
            answer = self.state.media_answer(media_id) if signed else None
            return Response(status_code=403) if answer is None else answer

        return router

    def _sign_media(self, media_id: str) -> str:
        return hmac.new(self._url_key, media_id.encode(), hashlib.sha256).hexdigest()[:32]

    async def _guarded(self, request: Request, handler: Handler) -> Response:
        """Authenticate, run ``handler``, answer TikTok's envelope and log the call."""
        entry = Received(self.name, "", request.url.path, None, time.time())
        try:
            account = self._account(request)
            entry.account = account.id
            data = await handler(account, request, entry)
        except Refusal as refusal:
            entry.status = _LOGGED_STATUS.get(refusal.code, 400)
            self.state.record(entry)
            return _answer(refusal.code, refusal.message)
        self.state.record(entry)
        return _answer(wire.OK, "OK", data)

    def _account(self, request: Request) -> Account:
        token = request.headers.get("access-token", "")
        for account in self.accounts().values():
            if token and hmac.compare_digest(account.secrets["access_token"], token):
                return account
        raise Refusal(wire.TOKEN_INVALID, "Access token is incorrect or has been revoked.")

    def _owned(self, account: Account, business_id: Any) -> None:
        if str(business_id) != account.id:
            raise Refusal(wire.NO_PERMISSION, "No permission to operate this business account.")

    async def _send(self, account: Account, request: Request, entry: Received) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError as exc:
            raise Refusal(wire.INVALID_PARAMETER, "The request body is not JSON.") from exc
        entry.body = body
        if not isinstance(body, dict):
            raise Refusal(wire.INVALID_PARAMETER, "The request body must be an object.")
        self._owned(account, body.get("business_id"))
        if body.get("recipient_type") != "CONVERSATION":
            raise Refusal(wire.INVALID_PARAMETER, "recipient_type: must be CONVERSATION.")
        entry.recipient = str(body.get("recipient") or "")
        fault = self.state.take_fault(self.name, entry.recipient)
        if fault is not None:
            await _play(fault)
        conversation = self._conversation(account, entry.recipient)
        _check_content(body, conversation, account.id, self._uploads)
        conversation.sent_since_user += 1
        message_id = new_message_id()
        conversation.message_ids.add(message_id)
        entry.message_id = message_id
        self._follow_up(account, conversation, message_id, body)
        return {"message": {"message_id": message_id}}

    def _conversation(self, account: Account, conversation_id: str) -> Conversation:
        conversation: Conversation | None = account.extra["conversations"].get(conversation_id)
        if conversation is None:
            raise Refusal(wire.INVALID_PARAMETER, "recipient: the conversation does not exist.")
        since = self.state.seconds_since_user_wrote(self.name, account.id, conversation_id)
        if since is None or since > WINDOW_SECONDS:
            raise Refusal(
                wire.MESSAGE_LIMIT,
                "The user has not written in 48 hours: the conversation is closed.",
            )
        if conversation.sent_since_user >= MESSAGES_PER_USER_MESSAGE:
            raise Refusal(
                wire.MESSAGE_LIMIT,
                f"At most {MESSAGES_PER_USER_MESSAGE} messages can be sent until the user "
                "writes again.",
            )
        return conversation

    def _follow_up(
        self, account: Account, conversation: Conversation, message_id: str, body: dict[str, Any]
    ) -> None:
        timing = self.state.timing
        echoed = echo(account.id, conversation, message_id, body)
        if timing.sent_after is not None:
            self.state.later(timing.sent_after, lambda: self._post(account, echoed))
        if timing.read_after is not None:

            async def read() -> None:
                await self._post(account, read_receipt(account.id, conversation))

            self.state.later(timing.read_after, read)

    async def _upload(self, account: Account, request: Request, entry: Received) -> dict[str, Any]:
        fields, file = _form(await request.body(), request.headers.get("content-type", ""))
        described: dict[str, Any] = dict(fields)
        if file is not None:
            described["file"] = {
                "filename": file.filename,
                "content_type": file.content_type,
                "size": len(file.content),
            }
        entry.body = described
        self._owned(account, fields.get("business_id"))
        if fields.get("media_type") != "IMAGE":
            raise Refusal(wire.INVALID_PARAMETER, "media_type: only IMAGE can be uploaded.")
        if file is None:
            raise Refusal(wire.INVALID_PARAMETER, "file: a file is required.")
        if file.content_type not in _IMAGE_TYPES:
            raise Refusal(wire.UNSUPPORTED_FILE, "Unsupported file: only JPG and PNG images.")
        if len(file.content) > MAX_IMAGE:
            raise Refusal(wire.INVALID_PARAMETER, "file: images are at most 3 MB.")
        media_id = f"v1{secrets.token_hex(16)}"
        self._uploads[media_id] = account.id
        return {"media_id": media_id}

    async def _download(
        self, account: Account, request: Request, entry: Received
    ) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError as exc:
            raise Refusal(wire.INVALID_PARAMETER, "The request body is not JSON.") from exc
        entry.body = body
        self._owned(account, body.get("business_id"))
        media_id = str(body.get("media_id") or "")
        conversation = account.extra["conversations"].get(str(body.get("conversation_id")))
        known = conversation is not None and str(body.get("message_id")) in conversation.message_ids
        if not known or media_id not in self._media_ids:
            raise Refusal(wire.INVALID_PARAMETER, "The media does not exist.")
        url = (
            f"{str(request.base_url).rstrip('/')}{PREFIX}/_download/{media_id}"
            f"?signature={self._sign_media(media_id)}"
        )
        return {"download_url": url}


@dataclass(frozen=True)
class _File:
    filename: str | None
    content_type: str
    content: bytes


def _form(body: bytes, content_type: str) -> tuple[dict[str, str], _File | None]:
    """The text fields of a ``multipart/form-data`` body, and its ``file`` part."""
    try:
        parts = read_form(body, content_type)
    except ValueError as exc:
        raise Refusal(wire.INVALID_PARAMETER, "The upload must be multipart/form-data.") from exc
    fields = {part.name: part.text() for part in parts if part.name != "file"}
    file = next(
        (
            _File(part.filename, part.content_type or "text/plain", part.content)
            for part in parts
            if part.name == "file"
        ),
        None,
    )
    return fields, file


def _check_content(
    body: dict[str, Any], conversation: Conversation, business_id: str, uploads: dict[str, str]
) -> None:
    """Refuse a message TikTok would refuse (40002)."""
    kind = body.get("message_type")
    if kind == "TEXT":
        text = body.get("text")
        value = text.get("body") if isinstance(text, dict) else None
        if not isinstance(value, str) or not value:
            raise Refusal(wire.INVALID_PARAMETER, "text.body: required.")
        if len(value) > MAX_TEXT:
            raise Refusal(wire.INVALID_PARAMETER, f"text.body: at most {MAX_TEXT} characters.")
    elif kind == "IMAGE":
        image = body.get("image")
        media_id = image.get("media_id") if isinstance(image, dict) else None
        if uploads.get(str(media_id)) != business_id:
            raise Refusal(wire.INVALID_PARAMETER, "image.media_id: no such uploaded image.")
        if "text" in body:
            raise Refusal(wire.INVALID_PARAMETER, "A message cannot have both text and image.")
    else:
        raise Refusal(wire.INVALID_PARAMETER, f"message_type: {kind!r} is not supported.")
    quoted = body.get("referenced_message_info")
    if quoted is not None:
        if kind != "TEXT":
            raise Refusal(wire.INVALID_PARAMETER, "Only text messages can quote a message.")
        target = quoted.get("referenced_message_id") if isinstance(quoted, dict) else None
        if str(target) not in conversation.message_ids:
            raise Refusal(wire.INVALID_PARAMETER, "referenced_message_id: no such message.")


async def _play(fault: Fault) -> None:
    """Refuse the call as ``fault`` says (a timeout only delays it)."""
    if fault.kind == "timeout":
        await asyncio.sleep(fault.seconds)
    elif fault.kind == "server_error":
        raise Refusal(wire.SYSTEM_ERROR, "System error, please retry the call.")
    elif fault.kind == "rate_limit":
        raise Refusal(wire.RATE_LIMITED, "Requests made too frequently.")
    elif fault.kind == "invalid_recipient":
        raise Refusal(wire.INVALID_PARAMETER, "recipient: the conversation does not exist.")
    elif fault.kind == "async_failure":
        raise Refusal(wire.MESSAGE_LIMIT, "You are sending messages too fast. Take a rest.")
    else:
        raise Refusal(wire.INVALID_PARAMETER, "Invalid parameter.")
