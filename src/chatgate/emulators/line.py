"""The LINE Messaging API emulator, under ``/line``.

Routes, as on ``api.line.me`` and ``api-data.line.me`` (both under the one prefix):

- ``POST /line/v2/bot/message/push`` ``{to, messages}`` and ``POST /line/v2/bot/message/reply``
  ``{replyToken, messages}`` with ``Authorization: Bearer <channel access token>``; they
  answer ``200 {"sentMessages": [{"id", "quoteToken"?}]}`` and the ``X-Line-Request-Id``
  header. A missing or unknown token is ``401``; a malformed body ``400`` with ``details``
  (see ``line_checks``); a reply token that is unknown, used, or older than a minute
  ``400 {"message": "Invalid reply token"}``. A push repeated with an accepted
  ``X-Line-Retry-Key`` is ``409`` with ``X-Line-Accepted-Request-Id`` and the first push's
  ``sentMessages``.
- ``GET /line/v2/bot/message/{messageId}/content``: a file a user sent (Bearer token).
- LINE sends no delivery or read receipts and fails nothing later: the only webhooks are
  user events, signed with ``X-Line-Signature`` (base64 HMAC-SHA256 of the body, keyed with
  the channel secret).
- Faults (sends only): ``server_error`` 500; ``rate_limit`` 429 "The API rate limit has been
  exceeded" with no retry hint (LINE gives none); ``permanent``, ``invalid_recipient`` and
  ``async_failure`` a 400; ``timeout`` hangs, then the send goes ahead.

Control API: ``register`` takes ``{channel_access_token, channel_secret, bot_user_id,
webhook_url?}``; ``inject_inbound`` takes ``{bot_user_id, from, group_id?}``
with one of ``text``, ``media`` ``{kind, content_base64, mime_type, filename?}``,
``location`` ``{latitude, longitude, name?, address?}``, ``sticker`` ``{package_id,
sticker_id}``, ``postback`` ``{data}``, ``follow: true`` or ``unfollow: true``; or
``{bot_user_id, redeliver: true}`` to send the last event again, marked as redelivered.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any, ClassVar

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from chatgate.channels.line import signature
from chatgate.channels.line_build import message_reference
from chatgate.emulators.core import Account, Fault, PlatformEmulator, Received
from chatgate.emulators.line_checks import USER_ID, LineApiError, check_messages, invalid
from chatgate.emulators.line_inbound import (
    BotState,
    event_head,
    issue_reply_token,
    message_object,
    new_message_id,
    new_quote_token,
    source_of,
)

PREFIX = "/line"
# LINE honours a reply token for about a minute.
REPLY_TOKEN_SECONDS = 60.0
_QUOTABLE = frozenset({"text", "textV2", "sticker", "image", "video"})
_SECRET_CHARS = frozenset("0123456789abcdef")


def _unauthorized() -> LineApiError:
    return LineApiError(
        401,
        "Authentication failed. Confirm that the access token in the authorization header "
        "is valid.",
    )


class LineEmulator(PlatformEmulator):
    """LINE's Messaging API for the channels registered through the control API."""

    name: ClassVar[str] = "line"

    # -- control API --------------------------------------------------------------------

    def register(self, payload: dict[str, Any]) -> Account:
        """A channel from ``{channel_access_token, channel_secret, bot_user_id, webhook_url?}``."""
        token, secret = payload.get("channel_access_token"), payload.get("channel_secret")
        bot_user_id = payload.get("bot_user_id")
        if not isinstance(token, str) or not token:
            raise ValueError("channel_access_token: required")
        if not isinstance(secret, str) or len(secret) != 32 or set(secret) - _SECRET_CHARS:
            raise ValueError("channel_secret: 32 hexadecimal characters")
        if not isinstance(bot_user_id, str) or not USER_ID.fullmatch(bot_user_id):
            raise ValueError("bot_user_id: U followed by 32 hexadecimal characters")
        account = Account(
            id=bot_user_id,
            secrets={"channel_access_token": token, "channel_secret": secret},
            webhook_url=payload.get("webhook_url"),
            extra={"bot": BotState(bot_user_id)},
        )
        self.state.add_account(self.name, account)
        return account

    async def inject_inbound(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A user does something: the event is posted, signed, to the channel's webhook."""
        account = self.accounts().get(str(payload.get("bot_user_id") or ""))
        if account is None:
            raise ValueError("bot_user_id: no such channel is registered")
        bot: BotState = account.extra["bot"]
        if payload.get("redeliver") is True:
            return await self._redeliver(account, bot)
        if not USER_ID.fullmatch(str(payload.get("from") or "")):
            raise ValueError("from: a LINE user id, U followed by 32 hexadecimal characters")
        source, chat = source_of(payload)
        reference: str | None = None
        if payload.get("unfollow") is True:
            event = event_head("unfollow", source)
        elif payload.get("follow") is True:
            event = event_head("follow", source)
            event["replyToken"] = issue_reply_token(bot, chat)
            event["follow"] = {"isUnblocked": False}
        elif isinstance(payload.get("postback"), dict):
            event = event_head("postback", source)
            event["replyToken"] = issue_reply_token(bot, chat)
            event["postback"] = {"data": str(payload["postback"].get("data") or "")}
            reference = message_reference(
                f"postback-{event['webhookEventId']}",
                event["timestamp"],
                event["replyToken"],
                None,
            )
        else:
            message = message_object(self.state, bot, payload)
            event = event_head("message", source)
            event["replyToken"] = issue_reply_token(bot, chat)
            event["message"] = message
            reference = message_reference(
                message["id"], event["timestamp"], event["replyToken"], message.get("quoteToken")
            )
            self.state.user_wrote(self.name, account.id, chat)
        body = {"destination": account.id, "events": [event]}
        bot.last_event = (reference or event["webhookEventId"], event)
        await self._deliver(account, body)
        return {"id": reference or event["webhookEventId"], "body": body}

    async def _redeliver(self, account: Account, bot: BotState) -> dict[str, Any]:
        """LINE sends the last event again, as it does when a webhook was not acknowledged:
        the same event (ids, time, tokens), marked ``isRedelivery``."""
        if bot.last_event is None:
            raise ValueError("redeliver: no event to send again")
        reference, event = bot.last_event
        again = {**event, "deliveryContext": {"isRedelivery": True}}
        body = {"destination": account.id, "events": [again]}
        await self._deliver(account, body)
        return {"id": reference, "body": body}

    async def _deliver(self, account: Account, body: dict[str, Any]) -> None:
        if account.webhook_url is None:
            return
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        headers = {"X-Line-Signature": signature(account.secrets["channel_secret"], raw)}
        await self.state.post_webhook(self.name, account.webhook_url, raw, headers)

    # -- the Messaging API ----------------------------------------------------------------

    def router(self) -> APIRouter:
        """Push, reply and content download under ``/line``."""
        router = APIRouter(prefix=PREFIX, include_in_schema=False)

        @router.post("/v2/bot/message/push")
        async def push(request: Request) -> Response:
            return await self._send("push", request)

        @router.post("/v2/bot/message/reply")
        async def reply(request: Request) -> Response:
            return await self._send("reply", request)

        @router.get("/v2/bot/message/{message_id}/content")
        async def content(message_id: str, request: Request) -> Response:
            request_id = str(uuid.uuid4())
            account = self._account_by_token(request)
            if account is None:
                return _unauthorized().response(request_id)
            bot: BotState = account.extra["bot"]
            answer = self.state.media_answer(message_id) if message_id in bot.media else None
            if answer is None:
                return LineApiError(404, "Not found").response(request_id)
            return answer

        return router

    def _account_by_token(self, request: Request) -> Account | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        for account in self.accounts().values():
            if account.secrets["channel_access_token"] == token.strip():
                return account
        return None

    async def _send(self, kind: str, request: Request) -> Response:
        request_id = str(uuid.uuid4())
        account = self._account_by_token(request)
        body: Any = None
        recipient: str | None = None
        try:
            if account is None:
                raise _unauthorized()
            try:
                body = json.loads(await request.body())
            except ValueError:
                raise LineApiError(400, "The request body could not be parsed as JSON") from None
            if not isinstance(body, dict):
                raise LineApiError(400, "The request body could not be parsed as JSON")
            bot: BotState = account.extra["bot"]
            retry_key = request.headers.get("x-line-retry-key")
            if retry_key is not None and retry_key in bot.retry_keys:
                accepted_id, sent = bot.retry_keys[retry_key]
                raise LineApiError(
                    409,
                    "The retry key is already accepted",
                    extra={"sentMessages": sent},
                    headers={"X-Line-Accepted-Request-Id": accepted_id},
                )
            recipient = self._recipient(kind, body, bot)
            fault = self.state.take_fault(self.name, recipient)
            if fault is not None:
                await _play(fault)
            messages = check_messages(body.get("messages"))
            if kind == "reply":
                self._use_reply_token(bot, body["replyToken"])
            sent = [_sent(self, item) for item in messages]
            if retry_key is not None:
                bot.retry_keys[retry_key] = (request_id, sent)
        except LineApiError as error:
            self._record(account, kind, body, recipient, error.status, None)
            return error.response(request_id)
        self._record(account, kind, body, recipient, 200, sent[0]["id"])
        return JSONResponse({"sentMessages": sent}, headers={"X-Line-Request-Id": request_id})

    def _recipient(self, kind: str, body: dict[str, Any], bot: BotState) -> str:
        if kind == "push":
            to = body.get("to")
            if not isinstance(to, str) or not USER_ID.fullmatch(to):
                raise LineApiError(
                    400, "The property, 'to', in the request body is invalid (line 1, column 7)"
                )
            return to
        token = bot.reply_tokens.get(str(body.get("replyToken") or ""))
        if token is None:
            if not body.get("replyToken"):
                raise invalid("replyToken", "May not be empty")
            raise LineApiError(400, "Invalid reply token")
        return token.chat

    def _use_reply_token(self, bot: BotState, value: str) -> None:
        token = bot.reply_tokens[value]
        if token.used or time.time() - token.issued_at > REPLY_TOKEN_SECONDS:
            raise LineApiError(400, "Invalid reply token")
        token.used = True

    def _record(
        self,
        account: Account | None,
        kind: str,
        body: Any,
        recipient: str | None,
        status: int,
        message_id: str | None,
    ) -> None:
        self.state.record(
            Received(
                platform=self.name,
                account=account.id if account else "",
                path=f"{PREFIX}/v2/bot/message/{kind}",
                body=body,
                at=time.time(),
                message_id=message_id,
                recipient=recipient,
                status=status,
            )
        )


def _sent(emulator: LineEmulator, message: dict[str, Any]) -> dict[str, str]:
    sent = {"id": new_message_id(emulator.state)}
    if message["type"] in _QUOTABLE:
        sent["quoteToken"] = new_quote_token()
    return sent


async def _play(fault: Fault) -> None:
    """Fail the call as ``fault`` says (a timeout only delays it)."""
    if fault.kind == "timeout":
        await asyncio.sleep(fault.seconds)
    elif fault.kind == "server_error":
        raise LineApiError(500, "An error occurred in the server. Try again later.")
    elif fault.kind == "rate_limit":
        raise LineApiError(429, "The API rate limit has been exceeded. Try again later.")
    elif fault.kind == "invalid_recipient":
        raise LineApiError(
            400, "The property, 'to', in the request body is invalid (line 1, column 7)"
        )
    else:
        # LINE refuses at once or not at all: an asynchronous failure is a refusal too.
        raise invalid("messages[0]", "Failed to send messages")
