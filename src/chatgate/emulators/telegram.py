"""The Telegram Bot API emulator, under ``/telegram``.

Routes, as on ``api.telegram.org``: ``/telegram/bot{token}/{method}`` (GET or POST, JSON,
form or multipart parameters; method names in any case) and
``/telegram/file/bot{token}/{file_path}`` for downloads.

- A malformed token or an unknown method is ``404 Not Found`` (as ``api.telegram.org``
  answers both); a well-formed token of no registered bot is ``401 Unauthorized``.
- Methods: ``getMe``, ``setWebhook``, ``deleteWebhook``, ``getWebhookInfo``, ``getFile``,
  the ``send*`` methods of :mod:`~chatgate.emulators.telegram_send` and ``sendMediaGroup``,
  ``setMessageReaction``, ``answerCallbackQuery``, and those of
  :mod:`~chatgate.emulators.telegram_edits` (``sendChatAction``, ``editMessageText``,
  ``editMessageReplyMarkup``, ``deleteMessage``).
- A bot may only write to users who wrote to it first (``403 Forbidden: bot can't initiate
  conversation with a user``); a chat that is not a user's (a group id, ``@username``) and
  was never seen is ``400 Bad Request: chat not found``. Telegram has no time window.
- Telegram has no delivery or read receipts and no asynchronous failures: the only webhooks
  are user updates, posted to the ``setWebhook`` URL with ``X-Telegram-Bot-Api-Secret-Token``
  and only for the update kinds ``allowed_updates`` lets through.
- Faults (``send*`` and ``setMessageReaction`` only): ``server_error`` 502 Bad Gateway;
  ``rate_limit`` 429 "Too Many Requests: retry after N" with ``parameters.retry_after``;
  ``permanent`` and ``async_failure`` a 400; ``invalid_recipient`` 400 "chat not found";
  ``timeout`` hangs.

Control API: ``register`` takes ``{bot_token, username?, first_name?, webhook_url?,
secret_token?, allowed_updates?}`` (a webhook URL given here stands for a ``setWebhook``
call); ``inject_inbound`` takes ``{bot_token | bot_id, chat_id, first_name?, last_name?,
username?, reply_to?}`` with one of ``text``, ``media`` ``{kind, content_base64, mime_type,
filename?, caption?, voice?}``, ``location`` ``{latitude, longitude, name?, address?}``,
``contact`` ``{phone_number, first_name, last_name?, vcard?}``, ``callback`` ``{data,
message_id?}`` or ``reaction`` ``{message_id, emoji}``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from chatgate.emulators.core import Account, EmulatorState, PlatformEmulator, Received
from chatgate.emulators.telegram_album import album_contents
from chatgate.emulators.telegram_edits import (
    check_chat_action,
    delete_message,
    edit_reply_markup,
    edit_text,
)
from chatgate.emulators.telegram_inbound import (
    callback_update,
    message_update,
    reaction_update,
    user_of,
)
from chatgate.emulators.telegram_send import (
    SEND_METHODS,
    Sending,
    inline_keyboard,
    new_message,
    reaction_types,
    reply_target,
)
from chatgate.emulators.telegram_wire import (
    OPT_IN_UPDATES,
    ApiError,
    BotState,
    Upload,
    as_int,
    bad_request,
    bot_state,
    not_found,
    now,
    ok,
    play_fault,
    read_params,
    webhook_body,
)

PREFIX = "/telegram"
MAX_DOWNLOAD = 20 * 1024 * 1024
_TOKEN = re.compile(r"[0-9]{1,20}:[A-Za-z0-9_-]{1,200}")
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_USER_CHAT = re.compile(r"[0-9]{1,20}")

Params = dict[str, Any]
Handler = Callable[[Account, BotState, Params], Awaitable[dict[str, Any]]]


class TelegramEmulator(PlatformEmulator):
    """Telegram's Bot API for the bots registered through the control API."""

    name: ClassVar[str] = "telegram"

    def __init__(self, state: EmulatorState) -> None:
        super().__init__(state)
        self._methods: dict[str, Handler] = {
            "getme": self._get_me,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "getfile": self._get_file,
            "answercallbackquery": self._answer_callback_query,
            "setmessagereaction": self._set_message_reaction,
            "sendmediagroup": self._send_media_group,
            "sendchataction": self._send_chat_action,
            "editmessagetext": self._edit_message_text,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "deletemessage": self._delete_message,
            **{method: self._sender(method) for method in SEND_METHODS},
        }

    # -- control API --------------------------------------------------------------------

    def register(self, payload: dict[str, Any]) -> Account:
        """A bot from ``{bot_token, username?, first_name?, webhook_url?, ...}``."""
        token = payload.get("bot_token")
        if not isinstance(token, str) or not _TOKEN.fullmatch(token):
            raise ValueError('bot_token: a bot token looks like "<bot id>:<secret>"')
        secret = payload.get("secret_token")
        if secret is not None and not (isinstance(secret, str) and _SECRET.fullmatch(secret)):
            raise ValueError("secret_token: 1-256 characters of A-Z, a-z, 0-9, _ and -")
        allowed = payload.get("allowed_updates")
        if allowed is not None and not _is_names(allowed):
            raise ValueError("allowed_updates: a list of update kinds")
        bot_id = token.split(":", 1)[0]
        bot = BotState(
            bot_id=int(bot_id),
            username=str(payload.get("username") or f"chatgate_{bot_id}_bot"),
            first_name=str(payload.get("first_name") or "Chatgate Test Bot"),
            secret_token=secret,
            allowed_updates=allowed,
        )
        account = Account(
            id=bot_id,
            secrets={"bot_token": token},
            webhook_url=payload.get("webhook_url"),
            extra={"bot": bot},
        )
        self.state.add_account(self.name, account)
        return account

    async def inject_inbound(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A user writes to a bot: the Update is posted to the bot's webhook."""
        account = self._account_of(payload)
        bot = bot_state(account)
        chat = str(payload.get("chat_id", ""))
        if not _USER_CHAT.fullmatch(chat):
            raise ValueError("chat_id: the user's id, a positive number")
        user = bot.users[chat] = user_of(chat, payload)
        if isinstance(payload.get("callback"), dict):
            update, reference = callback_update(self.state, bot, chat, user, payload["callback"])
        elif isinstance(payload.get("reaction"), dict):
            update, reference = reaction_update(bot, chat, user, payload["reaction"])
        else:
            update, reference = message_update(self.state, bot, chat, user, payload)
        self.state.user_wrote(self.name, account.id, chat)
        await self._deliver(account, bot, update)
        return {"id": reference, "body": update}

    def _account_of(self, payload: dict[str, Any]) -> Account:
        token = payload.get("bot_token")
        bot_id = str(token).split(":", 1)[0] if token else str(payload.get("bot_id", ""))
        account = self.accounts().get(bot_id)
        if account is None or (token and account.secrets["bot_token"] != token):
            raise ValueError("bot_token or bot_id: no such bot is registered")
        return account

    async def _deliver(self, account: Account, bot: BotState, update: dict[str, Any]) -> None:
        kind = next(key for key in update if key != "update_id")
        # An empty or missing allowed_updates means every kind but the opt-in ones.
        wanted = kind in bot.allowed_updates if bot.allowed_updates else kind not in OPT_IN_UPDATES
        if account.webhook_url is None or not wanted:
            return
        headers = {}
        if bot.secret_token is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = bot.secret_token
        await self.state.post_webhook(self.name, account.webhook_url, webhook_body(update), headers)

    # -- the Bot API --------------------------------------------------------------------

    def router(self) -> APIRouter:
        """``/telegram/bot{token}/{method}`` and ``/telegram/file/bot{token}/{path}``."""
        router = APIRouter(prefix=PREFIX, include_in_schema=False)

        @router.api_route("/bot{token}/{method}", methods=["GET", "POST"])
        async def call(token: str, method: str, request: Request) -> Response:
            return await self._call(token, method, request)

        @router.get("/file/bot{token}/{file_path:path}")
        async def download(token: str, file_path: str) -> Response:
            account = self._account_by_token(token)
            file_id = bot_state(account).paths.get(file_path) if account else None
            answer = self.state.media_answer(file_id)
            return not_found().response() if answer is None else answer

        return router

    def _account_by_token(self, token: str) -> Account | None:
        account = self.accounts().get(token.split(":", 1)[0])
        if account is None or account.secrets.get("bot_token") != token:
            return None
        return account

    async def _call(self, token: str, method: str, request: Request) -> Response:
        params: Params = {}
        try:
            if not _TOKEN.fullmatch(token):
                raise not_found()
            account = self._account_by_token(token)
            if account is None:
                raise ApiError(401, "Unauthorized")
            handler = self._methods.get(method.lower())
            if handler is None:
                raise not_found()
            params = await read_params(request)
            answer = await handler(account, bot_state(account), params)
        except ApiError as error:
            self._record(token, method, params, error.code, None)
            return error.response()
        self._record(token, method, params, 200, answer["result"])
        return JSONResponse(answer)

    def _record(self, token: str, method: str, params: Params, status: int, result: Any) -> None:
        chat = str(params["chat_id"]) if params.get("chat_id") is not None else None
        message_id = None
        if isinstance(result, list) and result:
            result = result[0]  # an album is named after its first message
        if isinstance(result, dict) and "message_id" in result:
            message_id = f"{result['chat']['id']}:{result['message_id']}"
        elif method.lower() == "setmessagereaction" and status == 200:
            message_id = f"{chat}:{params.get('message_id')}:reaction"
        self.state.record(
            Received(
                platform=self.name,
                account=token.split(":", 1)[0],
                # The path without the token's secret half: the log is shown to anyone.
                path=f"{PREFIX}/bot{token.split(':', 1)[0]}/{method}",
                body={k: v.logged() if isinstance(v, Upload) else v for k, v in params.items()},
                at=now(),
                message_id=message_id,
                recipient=chat,
                status=status,
            )
        )

    # -- methods --------------------------------------------------------------------------

    async def _get_me(self, account: Account, bot: BotState, params: Params) -> dict[str, Any]:
        return ok(
            {
                **bot.user(),
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
                "can_connect_to_business": False,
                "has_main_web_app": False,
            }
        )

    async def _set_webhook(self, account: Account, bot: BotState, params: Params) -> dict[str, Any]:
        url = str(params.get("url") or "")
        if not url:
            return await self._delete_webhook(account, bot, params)
        secret = params.get("secret_token")
        if secret is not None and not (isinstance(secret, str) and _SECRET.fullmatch(secret)):
            raise bad_request("secret token contains unallowed characters")
        allowed = params.get("allowed_updates")
        if allowed is not None and not _is_names(allowed):
            raise bad_request("can't parse allowed updates JSON object")
        unchanged = (account.webhook_url, bot.secret_token) == (url, secret)
        account.webhook_url = url
        bot.secret_token = secret
        if allowed is not None:
            bot.allowed_updates = allowed
        return ok(True, "Webhook is already set" if unchanged else "Webhook was set")

    async def _delete_webhook(
        self, account: Account, bot: BotState, params: Params
    ) -> dict[str, Any]:
        had = account.webhook_url is not None
        account.webhook_url = None
        bot.secret_token = None
        return ok(True, "Webhook was deleted" if had else "Webhook is already deleted")

    async def _get_webhook_info(
        self, account: Account, bot: BotState, params: Params
    ) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": account.webhook_url or "",
            "has_custom_certificate": False,
            "pending_update_count": 0,
        }
        if account.webhook_url:
            info["max_connections"] = 40
            info["ip_address"] = "127.0.0.1"
            if bot.allowed_updates:
                info["allowed_updates"] = bot.allowed_updates
        return ok(info)

    async def _get_file(self, account: Account, bot: BotState, params: Params) -> dict[str, Any]:
        stored = bot.files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise bad_request("invalid file_id")
        if (stored.file_size or 0) > MAX_DOWNLOAD:
            raise bad_request("file is too big")
        return ok(stored.as_file())

    async def _answer_callback_query(
        self, account: Account, bot: BotState, params: Params
    ) -> dict[str, Any]:
        query_id = str(params.get("callback_query_id") or "")
        if query_id not in bot.callbacks:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        bot.callbacks.discard(query_id)
        return ok(True)

    def _sender(self, method: str) -> Handler:
        async def send(account: Account, bot: BotState, params: Params) -> dict[str, Any]:
            return await self._send(method, account, bot, params)

        return send

    async def _send(
        self, method: str, account: Account, bot: BotState, params: Params
    ) -> dict[str, Any]:
        chat = await self._chat_for_send(account, method, params)
        content = await SEND_METHODS[method](Sending(self.state, bot, params))
        markup = inline_keyboard(params)
        replied = reply_target(params, bot, chat)
        return ok(new_message(bot, chat, content, replied, markup))

    async def _send_media_group(
        self, account: Account, bot: BotState, params: Params
    ) -> dict[str, Any]:
        chat = await self._chat_for_send(account, "sendmediagroup", params)
        contents = await album_contents(Sending(self.state, bot, params))
        replied = reply_target(params, bot, chat)
        group = {"media_group_id": str(10**17 + self.state.next_number())}
        grouped = group if len(contents) > 1 else {}
        return ok([new_message(bot, chat, {**c, **grouped}, replied) for c in contents])

    async def _send_chat_action(
        self, account: Account, bot: BotState, params: Params
    ) -> dict[str, Any]:
        check_chat_action(params)
        self._known_chat(account, params)
        return ok(True)

    async def _edit_message_text(
        self, account: Account, bot: BotState, params: Params
    ) -> dict[str, Any]:
        return ok(await edit_text(self.state, bot, self._known_chat(account, params), params))

    async def _edit_message_reply_markup(
        self, account: Account, bot: BotState, params: Params
    ) -> dict[str, Any]:
        return ok(edit_reply_markup(bot, self._known_chat(account, params), params))

    async def _delete_message(
        self, account: Account, bot: BotState, params: Params
    ) -> dict[str, Any]:
        return ok(delete_message(bot, self._known_chat(account, params), params))

    async def _set_message_reaction(
        self, account: Account, bot: BotState, params: Params
    ) -> dict[str, Any]:
        chat = await self._chat_for_send(account, "setmessagereaction", params)
        message_id = as_int(params.get("message_id"))
        if message_id is None or message_id <= 0 or bot.message(chat, message_id) is None:
            raise bad_request("message to react not found")
        reaction_types(params)
        return ok(True)

    async def _chat_for_send(self, account: Account, method: str, params: Params) -> str:
        """The chat to send to, once a queued fault was played and the chat is allowed."""
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise bad_request("chat_id is empty")
        fault = self.state.take_fault(self.name, str(raw))
        if fault is not None:
            await play_fault(fault, method)
        return self._known_chat(account, params)

    def _known_chat(self, account: Account, params: Params) -> str:
        """The chat named by ``chat_id``, if the bot may write to it."""
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise bad_request("chat_id is empty")
        chat = str(raw)
        if self.state.seconds_since_user_wrote(self.name, account.id, chat) is None:
            if _USER_CHAT.fullmatch(chat):
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
            raise bad_request("chat not found")
        return chat


def _is_names(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)
