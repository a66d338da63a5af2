"""The Viber REST Bot API emulator, under ``/viber``.

Routes, as on ``chatapi.viber.com``: ``POST /viber/pa/send_message``, ``/pa/set_webhook``
and ``/pa/get_account_info``, authenticated by ``X-Viber-Auth-Token`` (or, as old SDKs
send it, ``auth_token`` in the body); files users sent are served (no token, like Viber's
media hosts) at ``/viber/dl-media/{id}``.

- Every answer is HTTP 200 with a ``status``: 0 and ``message_token`` on success, else the
  error's number and name (2 ``invalidAuthToken``, 3 ``badData``, 4 ``missingData``, 6
  ``receiverNotSubscribed``, 12 ``Too many requests``...). The log of received calls
  records a refusal with the HTTP status it stands for (400, 401 for a token, 429 for
  throttling), so that refused and accepted calls can be told apart there.
- A bot writes only to subscribed users: a user subscribes by writing (or by a
  ``subscribed`` event) and stops being one by unsubscribing (status 6 after that). At most
  100 messages go to a user within an hour without a reply (status 12).
- An accepted message is followed by ``delivered`` and ``seen`` callbacks at the state's
  ``delivered_after`` and ``read_after``, for the events ``set_webhook`` asked for.
- Faults (sends only): ``server_error`` an HTTP 502 from Viber's front; ``timeout`` hangs;
  ``rate_limit`` status 12 (Viber names no delay); ``permanent`` status 3;
  ``invalid_recipient`` status 6; ``async_failure`` accepted, then a ``failed`` callback.

Control API: ``register`` takes ``{auth_token, id?, name?, uri?, webhook_url?,
public_url?}`` (a webhook URL given here stands for a ``set_webhook`` call);
``inject_inbound`` takes ``{auth_token, from, name?, avatar?}`` with one of ``text``,
``reply`` ``{id}`` (a pressed keyboard button), ``media`` ``{kind, content_base64,
mime_type, filename?, caption?}``, ``location`` ``{latitude, longitude}``, ``contact``
``{name, phone_number}``, ``sticker_id`` or ``event`` (``subscribed``, ``unsubscribed``,
``conversation_started``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
from typing import Any, ClassVar

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from chatgate.emulators.core import Account, Fault, PlatformEmulator, Received
from chatgate.emulators.viber_inbound import (
    Users,
    user_event,
    user_message,
    users_of,
)
from chatgate.emulators.viber_wire import (
    CHAT_HOSTNAME,
    MAX_BODY,
    OPTIONAL_EVENTS,
    ViberError,
    bad_data,
    callback_bytes,
    check_send,
    new_token,
    now_ms,
    ok,
    signature,
    status_callback,
    user_of,
)

PREFIX = "/viber"
DEFAULT_PUBLIC_URL = "http://127.0.0.1:9000"
# Messages to one user within an hour without a reply.
UNANSWERED_LIMIT = 100
HOUR = 3600.0


class ViberEmulator(PlatformEmulator):
    """Viber's REST Bot API for the bots registered through the control API."""

    name: ClassVar[str] = "viber"

    # -- control API ----------------------------------------------------------------------

    def register(self, payload: dict[str, Any]) -> Account:
        """A bot from ``{auth_token, id?, name?, uri?, webhook_url?, public_url?}``."""
        token = payload.get("auth_token")
        if not isinstance(token, str) or not token or any(ch.isspace() for ch in token):
            raise ValueError("auth_token: the bot's token")
        # The id is not the token: the log of calls is shown to anyone.
        account_id = str(
            payload.get("id") or "pa:" + hashlib.sha256(token.encode()).hexdigest()[:16]
        )
        account = Account(
            id=account_id,
            secrets={"auth_token": token},
            webhook_url=payload.get("webhook_url"),
            extra={
                "name": str(payload.get("name") or "Chatgate Test Bot"),
                "uri": str(payload.get("uri") or "chatgatetestbot"),
                "event_types": list(OPTIONAL_EVENTS),
                "public_url": str(payload.get("public_url") or DEFAULT_PUBLIC_URL).rstrip("/"),
                "users": Users(),
            },
        )
        self.state.add_account(self.name, account)
        return account

    async def inject_inbound(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A user writes to a bot (or subscribes, unsubscribes, opens the chat)."""
        account = self._account_by_token(str(payload.get("auth_token") or ""))
        if account is None:
            raise ValueError("auth_token: no such bot is registered")
        user_id = payload.get("from")
        if not isinstance(user_id, str) or not user_id:
            raise ValueError("from: the user's Viber id")
        user = user_of(user_id, payload)
        users = users_of(account)
        token = new_token()
        event = payload.get("event")
        if event is not None:
            body = user_event(account, str(event), user, token)
        else:
            body = {
                "event": "message",
                "timestamp": now_ms(),
                "chat_hostname": CHAT_HOSTNAME,
                "message_token": token,
                "sender": user,
                "message": user_message(self.state, account, payload, user_id),
                "silent": False,
            }
            # A message subscribes the user and resets the count of unanswered messages.
            users.subscribed[user_id] = True
            users.unanswered.pop(user_id, None)
            self.state.user_wrote(self.name, account.id, user_id)
        await self._deliver(account, body)
        answer: dict[str, Any] = {"id": str(token), "body": body}
        media = body.get("message", {}).get("media")
        if isinstance(media, str):
            answer["media_url"] = media
        return answer

    async def _deliver(self, account: Account, body: dict[str, Any]) -> int | None:
        """POST one signed callback to the bot's webhook, if it has one and wants the event."""
        if account.webhook_url is None:
            return None
        event = body.get("event")
        if event in OPTIONAL_EVENTS and event not in account.extra["event_types"]:
            return None
        raw = callback_bytes(body)
        headers = {"X-Viber-Content-Signature": signature(account.secrets["auth_token"], raw)}
        return await self.state.post_webhook(self.name, account.webhook_url, raw, headers)

    # -- the Bot API ----------------------------------------------------------------------

    def router(self) -> APIRouter:
        """``/viber/pa/{endpoint}`` and the media downloads."""
        router = APIRouter(prefix=PREFIX, include_in_schema=False)

        @router.post("/pa/{endpoint}")
        async def call(endpoint: str, request: Request) -> Response:
            return await self._call(endpoint, request)

        @router.get("/dl-media/{media_id}")
        async def download(media_id: str) -> Response:
            answer = self.state.media_answer(media_id)
            return Response(status_code=404) if answer is None else answer

        return router

    def _account_by_token(self, token: str) -> Account | None:
        for account in self.accounts().values():
            if secrets.compare_digest(account.secrets["auth_token"].encode(), token.encode()):
                return account
        return None

    async def _call(self, endpoint: str, request: Request) -> Response:
        raw = await request.body()
        try:
            payload: Any = json.loads(raw) if raw else {}
        except ValueError:
            payload = None
        token = request.headers.get("x-viber-auth-token")
        if (
            token is None
            and isinstance(payload, dict)
            and isinstance(payload.get("auth_token"), str)
        ):
            token = payload["auth_token"]
        if token is None:
            return ViberError(2, "missing_auth_token").response()
        account = self._account_by_token(token)
        if account is None:
            return ViberError(2, "invalidAuthToken").response()
        if payload is None or len(raw) > MAX_BODY:
            return bad_data().response()
        if endpoint == "send_message":
            return await self._send(account, payload)
        if endpoint == "set_webhook":
            return await self._set_webhook(account, payload)
        if endpoint == "get_account_info":
            return JSONResponse(self._account_info(account))
        return Response(status_code=404)

    async def _send(self, account: Account, payload: Any) -> Response:
        receiver = payload.get("receiver") if isinstance(payload, dict) else None
        # Who the call names, even when it is refused (for the log).
        named = receiver if isinstance(receiver, str) and receiver else None
        try:
            recipient = check_send(payload)
            fault = self.state.take_fault(self.name, recipient)
            if fault is not None:
                refusal = await _play(fault)
                if refusal is not None:
                    self._record(account, payload, recipient, None, refusal.status_code)
                    return refusal
            self._check_may_write(account, recipient)
        except ViberError as error:
            self._record(account, payload, named, None, error.logged_status)
            return error.response()
        token = new_token()
        users = users_of(account)
        users.unanswered.setdefault(recipient, []).append(time.time())
        if isinstance(payload.get("tracking_data"), str):
            users.tracking[recipient] = payload["tracking_data"]
        else:
            users.tracking.pop(recipient, None)
        self._record(account, payload, recipient, str(token), 200)
        self._follow_up(account, token, recipient, fault)
        return JSONResponse(ok(message_token=token, chat_hostname=CHAT_HOSTNAME, billing_status=1))

    def _check_may_write(self, account: Account, user: str) -> None:
        users = users_of(account)
        if not users.subscribed.get(user, False):
            raise ViberError(6, "receiverNotSubscribed")
        recent = [at for at in users.unanswered.get(user, []) if time.time() - at < HOUR]
        users.unanswered[user] = recent
        if len(recent) >= UNANSWERED_LIMIT:
            raise ViberError(
                12, "Too many requests", message_token=new_token(), chat_hostname=CHAT_HOSTNAME
            )

    def _follow_up(self, account: Account, token: int, user: str, fault: Fault | None) -> None:
        """Schedule the callbacks of an accepted message."""
        timing = self.state.timing
        steps: list[tuple[float, dict[str, Any]]] = []
        if fault is not None and fault.kind == "async_failure":
            delay = next(
                (d for d in (timing.delivered_after, timing.sent_after) if d is not None), 0.0
            )
            failed = status_callback("failed", token, user, "The message could not be shown")
            steps.append((delay, failed))
        else:
            for event, after in (
                ("delivered", timing.delivered_after),
                ("seen", timing.read_after),
            ):
                if after is not None:
                    steps.append((after, status_callback(event, token, user)))
        for delay, body in steps:

            async def deliver(body: dict[str, Any] = body) -> None:
                await self._deliver(account, body)

            self.state.later(delay, deliver)

    async def _set_webhook(self, account: Account, payload: Any) -> Response:
        url = payload.get("url") if isinstance(payload, dict) else None
        if not isinstance(url, str):
            return ViberError(4, "missingData: url").response()
        if url == "":
            account.webhook_url = None
            return JSONResponse(ok())
        wanted = payload.get("event_types")
        if wanted is not None and not (
            isinstance(wanted, list) and all(isinstance(e, str) for e in wanted)
        ):
            return bad_data("badData: event_types").response()
        # Viber checks the URL first with a signed ``webhook`` callback, wanting a 200.
        previous = account.webhook_url
        account.webhook_url = url
        check = {"event": "webhook", "timestamp": now_ms(), "chat_hostname": CHAT_HOSTNAME}
        status = await self._deliver(account, {**check, "message_token": new_token()})
        if status != 200:
            account.webhook_url = previous
            return ViberError(1, f"invalidUrl: the webhook answered {status}").response()
        events = [e for e in OPTIONAL_EVENTS if wanted is None or e in wanted]
        account.extra["event_types"] = events
        return JSONResponse(ok(chat_hostname=CHAT_HOSTNAME, event_types=events))

    def _account_info(self, account: Account) -> dict[str, Any]:
        subscribers = sum(1 for yes in users_of(account).subscribed.values() if yes)
        return ok(
            id=account.id,
            name=account.extra["name"],
            uri=account.extra["uri"],
            webhook=account.webhook_url or "",
            event_types=account.extra["event_types"],
            subscribers_count=subscribers,
            members=[],
        )

    def _record(
        self, account: Account, body: Any, recipient: str | None, token: str | None, status: int
    ) -> None:
        self.state.record(
            Received(
                platform=self.name,
                account=account.id,
                path=f"{PREFIX}/pa/send_message",
                body=body,
                at=time.time(),
                message_id=token,
                recipient=recipient,
                status=status,
            )
        )


async def _play(fault: Fault) -> Response | None:
    """The answer a fault plays at send, or ``None`` to go on (a timeout only delays)."""
    if fault.kind == "timeout":
        await asyncio.sleep(fault.seconds)
        return None
    if fault.kind == "server_error":
        return Response("Bad Gateway", status_code=502, media_type="text/plain")
    if fault.kind == "rate_limit":
        raise ViberError(
            12, "Too many requests", message_token=new_token(), chat_hostname=CHAT_HOSTNAME
        )
    if fault.kind == "permanent":
        raise ViberError(3, "badData")
    if fault.kind == "invalid_recipient":
        raise ViberError(6, "receiverNotSubscribed")
    return None  # async_failure: accepted, then reported failed
