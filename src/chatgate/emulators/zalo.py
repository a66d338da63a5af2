"""The Zalo Official Account API emulator, under ``/zalo``.

Routes, as on Zalo's two hosts (both under the one prefix):

- ``POST /zalo/v3.0/oa/message/{cs|transaction|promotion}``: a send, authenticated by the
  ``access_token`` header. Answers are HTTP 200 with ``error`` in the body, as on Zalo:
  ``-216`` for an unknown or spent token, ``-201`` for invalid parameters, ``-233`` for an
  unsupported message type, ``-230`` for a consultation to a user who has not interacted
  with the OA in the last 7 days, ``-213`` for a transaction or promotion to a user the OA
  has never seen. Accepted sends are followed by ``user_received_message`` and
  ``user_seen_message`` webhooks after the configured delays.
- ``POST /zalo/v2.0/oa/upload/file``: a document (multipart ``file``, PDF, DOC or DOCX up
  to 5 MB, else ``-201``), authenticated as a send is; answers ``data.token``. A file
  message (``attachment: {type: "file", payload: {token}}``) is taken only with a token
  this OA was given. Uploads are logged without recipient; faults apply to sends only.
- ``POST /zalo/v4/oa/access_token``: the OAuth v4 refresh (form ``refresh_token``,
  ``app_id``, ``grant_type=refresh_token``; header ``secret_key``); both tokens are
  replaced and the old ones stop working.
- ``GET /zalo/cdn/{media_id}``: inbound attachments, without auth as on Zalo's CDN (the
  webhooks name them by path, ``/cdn/{media_id}``, relative to the API base).

The call log records a refusal with the HTTP status it stands for (400, 401 or 429), so a
refused call can be told from an accepted one although Zalo answered 200.

Faults (sends only): ``server_error`` a real 502 from Zalo's front; ``rate_limit`` ``-32``
(no retry hint: Zalo gives none); ``permanent`` ``-201``; ``invalid_recipient`` ``-213``;
``async_failure`` ``-227`` at once (Zalo reports no failure later); ``timeout`` hangs.

Control API: ``register`` takes ``{oa_id, app_id, access_token, refresh_token, app_secret,
oa_secret_key, webhook_url?}`` (registering again with another ``access_token`` plays the
old token's expiry); ``inject_inbound`` takes ``{oa_id, from}`` and one of ``text``,
``media`` ``{kind: image|gif|file|audio|video|sticker, content_base64, mime_type?,
filename?, caption?}``, ``location`` ``{latitude, longitude}`` or ``event`` (``follow`` or
``unfollow``).
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
from typing import Any, ClassVar
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from chatgate.emulators.core import Account, Fault, PlatformEmulator, Received
from chatgate.emulators.zalo_wire import (
    ZaloError,
    check_send,
    check_upload,
    event,
    file_token,
    invalid,
    now_ms,
    read_upload,
    signed_headers,
    success,
    webhook_body,
)

PREFIX = "/zalo"
INTERACTION_SECONDS = 7 * 24 * 3600
_SECRETS = ("access_token", "refresh_token", "app_secret", "oa_secret_key")
_MEDIA_EVENTS = {
    "image": ("user_send_image", "image"),
    "gif": ("user_send_gif", "gif"),
    "file": ("user_send_file", "file"),
    "audio": ("user_send_audio", "audio"),
    "video": ("user_send_video", "video"),
    "sticker": ("user_send_sticker", "sticker"),
}


class ZaloEmulator(PlatformEmulator):
    """Zalo's OA API for the Official Accounts registered through the control API."""

    name: ClassVar[str] = "zalo"

    # -- control API --------------------------------------------------------------------

    def register(self, payload: dict[str, Any]) -> Account:
        """An OA from ``{oa_id, app_id, access_token, refresh_token, app_secret, ...}``."""
        for name in ("oa_id", "app_id", *_SECRETS):
            if not isinstance(payload.get(name), str) or not payload[name]:
                raise ValueError(f"{name}: required")
        if not payload["oa_id"].isdigit() or not payload["app_id"].isdigit():
            raise ValueError("oa_id and app_id: Zalo ids are digits")
        previous = self.accounts().get(payload["oa_id"])
        account = Account(
            id=payload["oa_id"],
            secrets={name: payload[name] for name in _SECRETS},
            webhook_url=payload.get("webhook_url"),
            extra={
                "app_id": payload["app_id"],
                # Users who follow the OA (may get transaction and promotion messages).
                "followers": previous.extra["followers"] if previous else set(),
                # Tokens of the files uploaded by this OA: a file message must name one.
                "file_tokens": previous.extra["file_tokens"] if previous else set(),
            },
        )
        self.state.add_account(self.name, account)
        return account

    async def inject_inbound(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A user writes to (or follows) an OA: the event is posted to its webhook."""
        account = self.accounts().get(str(payload.get("oa_id", "")))
        if account is None:
            raise ValueError("oa_id: no such OA is registered")
        user = str(payload.get("from", ""))
        if not user.isdigit():
            raise ValueError("from: the user's id, digits")
        app_id = account.extra["app_id"]
        if payload.get("event") in ("follow", "unfollow"):
            name = str(payload["event"])
            # A follow names the OA and the follower, not a sender and a recipient.
            body = {
                "oa_id": account.id,
                "follower": {"id": user},
                "user_id_by_app": user,
                "event_name": name,
                "source": "oa_profile",
                "app_id": app_id,
                "timestamp": now_ms(),
            }
            followers: set[str] = account.extra["followers"]
            (followers.add if name == "follow" else followers.discard)(user)
            await self._deliver(account, body)
            return {"id": None, "body": body}
        message_id = secrets.token_hex(16)
        name, message = self._message(payload, message_id)
        body = event(app_id, account.id, name, user, account.id, message=message)
        self.state.user_wrote(self.name, account.id, user)
        await self._deliver(account, body)
        return {"id": message_id, "body": body}

    def _message(self, payload: dict[str, Any], message_id: str) -> tuple[str, dict[str, Any]]:
        if isinstance(payload.get("text"), str):
            return "user_send_text", {"msg_id": message_id, "text": payload["text"]}
        if isinstance(payload.get("location"), dict):
            point = payload["location"]
            coordinates = {
                "latitude": str(point["latitude"]),
                "longitude": str(point["longitude"]),
            }
            attachment = {"type": "location", "payload": {"coordinates": coordinates}}
            return "user_send_location", {"msg_id": message_id, "attachments": [attachment]}
        if isinstance(payload.get("media"), dict):
            return self._media(payload["media"], message_id)
        raise ValueError("give one of text, media, location or event")

    def _media(self, media: dict[str, Any], message_id: str) -> tuple[str, dict[str, Any]]:
        kind = str(media.get("kind"))
        if kind not in _MEDIA_EVENTS:
            raise ValueError(f"media.kind: one of {sorted(_MEDIA_EVENTS)}")
        name, attachment_type = _MEDIA_EVENTS[kind]
        content = base64.b64decode(media.get("content_base64") or "", validate=True)
        media_id = secrets.token_hex(12)
        self.state.media[media_id] = (content, str(media.get("mime_type") or "image/jpeg"))
        # Zalo's CDN URLs are absolute; the emulator does not know where it is reached
        # from, so its are relative to the API base (the adapter resolves them there).
        url = f"/cdn/{media_id}"
        attachment_payload: dict[str, Any] = {"url": url}
        if kind in ("image", "gif", "video"):
            attachment_payload["thumbnail"] = url
        if kind == "file":
            attachment_payload.update(name=media.get("filename") or "file", size=str(len(content)))
        if kind == "sticker":
            attachment_payload["id"] = media_id
        message: dict[str, Any] = {
            "msg_id": message_id,
            "attachments": [{"type": attachment_type, "payload": attachment_payload}],
        }
        if media.get("caption"):
            message["text"] = media["caption"]
        return name, message

    async def _deliver(self, account: Account, body: dict[str, Any]) -> None:
        if account.webhook_url is None:
            return
        raw = webhook_body(body)
        headers = signed_headers(
            account.extra["app_id"], raw, body["timestamp"], account.secrets["oa_secret_key"]
        )
        await self.state.post_webhook(self.name, account.webhook_url, raw, headers)

    # -- the OA API ---------------------------------------------------------------------

    def router(self) -> APIRouter:
        """The message, token and CDN routes under ``/zalo``."""
        router = APIRouter(prefix=PREFIX, include_in_schema=False)

        @router.post("/v3.0/oa/message/{kind}")
        async def send(kind: str, request: Request) -> Response:
            return await self._send(kind, request)

        @router.post("/v2.0/oa/upload/file")
        async def upload(request: Request) -> Response:
            return await self._upload(request)

        @router.post("/v4/oa/access_token")
        async def refresh(request: Request) -> Response:
            # A urlencoded form, read by hand: the emulator needs no multipart parser.
            form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
            return JSONResponse(self._refresh(form, request))

        @router.get("/cdn/{media_id}")
        async def download(media_id: str) -> Response:
            answer = self.state.media_answer(media_id)
            return PlainTextResponse("Not Found", 404) if answer is None else answer

        return router

    def _account_by_token(self, token: str | None) -> Account | None:
        for account in self.accounts().values():
            if token and account.secrets["access_token"] == token:
                return account
        return None

    async def _send(self, kind: str, request: Request) -> Response:
        path = f"{PREFIX}/v3.0/oa/message/{kind}"
        try:
            body: Any = await request.json()
        except ValueError:
            body = None
        account = self._account_by_token(request.headers.get("access_token"))
        user = _recipient(body)
        try:
            if account is None:
                raise ZaloError(-216, "Access token is invalid")
            if kind not in ("cs", "transaction", "promotion"):
                raise ZaloError(-233, "The type of message is not supported")
            fault = self.state.take_fault(self.name, user)
            if fault is not None:
                refused = await _play(fault)
                if refused is not None:
                    self._record(account, path, body, user, None, 502)
                    return refused
            user = check_send(kind, body)
            token = file_token(body["message"])
            if token is not None and token not in account.extra["file_tokens"]:
                raise invalid("message.attachment.payload.token: no such uploaded file")
            self._check_reachable(account, kind, user)
        except ZaloError as error:
            self._record(account, path, body, user, None, error.logged_status)
            return JSONResponse(error.body())
        message_id = secrets.token_hex(16)
        self._record(account, path, body, user, message_id, 200)
        self._schedule_receipts(account, user, message_id)
        return JSONResponse(success(message_id, user))

    async def _upload(self, request: Request) -> Response:
        path = f"{PREFIX}/v2.0/oa/upload/file"
        account = self._account_by_token(request.headers.get("access_token"))
        described: dict[str, Any] | None = None
        try:
            if account is None:
                raise ZaloError(-216, "Access token is invalid")
            file = read_upload(await request.body(), request.headers.get("content-type", ""))
            described = {"file": file.described()}
            check_upload(file)
        except ZaloError as error:
            self._record(account, path, described, None, None, error.logged_status)
            return JSONResponse(error.body())
        token = secrets.token_urlsafe(24)
        account.extra["file_tokens"].add(token)
        self._record(account, path, described, None, None, 200)
        return JSONResponse({"error": 0, "message": "Success", "data": {"token": token}})

    def _check_reachable(self, account: Account, kind: str, user: str) -> None:
        since = self.state.seconds_since_user_wrote(self.name, account.id, user)
        if kind == "cs":
            if since is None or since > INTERACTION_SECONDS:
                raise ZaloError(-230, "User has not interacted with the OA in the past 7 days")
        elif since is None and user not in account.extra["followers"]:
            raise ZaloError(-213, "User has not followed the OA")

    def _record(
        self,
        account: Account | None,
        path: str,
        body: Any,
        user: str | None,
        message_id: str | None,
        status: int,
    ) -> None:
        self.state.record(
            Received(
                platform=self.name,
                account=account.id if account else "",
                path=path,
                body=body,
                at=time.time(),
                message_id=message_id,
                recipient=user,
                status=status,
            )
        )

    def _schedule_receipts(self, account: Account, user: str, message_id: str) -> None:
        timing = self.state.timing
        app_id = account.extra["app_id"]

        async def received() -> None:
            # On receipts Zalo names the OA as sender and the user as recipient.
            body = event(
                app_id, account.id, "user_received_message", account.id, user,
                message={"msg_id": message_id},
            )  # fmt: skip
            await self._deliver(account, body)

        async def seen() -> None:
            body = event(
                app_id, account.id, "user_seen_message", account.id, user,
                message={"msg_ids": [message_id]},
            )  # fmt: skip
            await self._deliver(account, body)

        if timing.delivered_after is not None:
            self.state.later(timing.delivered_after, received)
        if timing.read_after is not None:
            self.state.later(timing.read_after, seen)

    def _refresh(self, form: dict[str, Any], request: Request) -> dict[str, Any]:
        app_id = str(form.get("app_id") or "")
        accounts = [a for a in self.accounts().values() if a.extra["app_id"] == app_id]
        if not accounts:
            return _oauth_error(-14001, "Invalid app_id")
        if form.get("grant_type") != "refresh_token":
            return _oauth_error(-14007, "Invalid grant_type")
        account = next(
            (a for a in accounts if a.secrets["refresh_token"] == form.get("refresh_token")),
            None,
        )
        if account is None:
            return _oauth_error(-14014, "Invalid refresh token")
        if request.headers.get("secret_key") != account.secrets["app_secret"]:
            return _oauth_error(-14002, "Invalid secret key")
        account.secrets["access_token"] = secrets.token_urlsafe(32)
        account.secrets["refresh_token"] = secrets.token_urlsafe(32)
        return {
            "access_token": account.secrets["access_token"],
            "refresh_token": account.secrets["refresh_token"],
            # Zalo writes the lifetime in seconds, as a string.
            "expires_in": "90000",
        }


def _recipient(body: Any) -> str | None:
    recipient = body.get("recipient") if isinstance(body, dict) else None
    user = recipient.get("user_id") if isinstance(recipient, dict) else None
    return str(user) if user is not None else None


def _oauth_error(code: int, name: str) -> dict[str, Any]:
    return {
        "error_name": name,
        "error_reason": name,
        "ref_doc": "https://developers.zalo.me/docs/official-account/bat-dau/xac-thuc-va-uy-quyen-cho-ung-dung-new",
        "error_description": name,
        "error": code,
    }


async def _play(fault: Fault) -> Response | None:
    """Fail the call as ``fault`` says: a 502 answer, or a :class:`ZaloError` raised.

    A timeout only delays the call, which then goes on as usual.
    """
    if fault.kind == "timeout":
        await asyncio.sleep(fault.seconds)
        return None
    if fault.kind == "server_error":
        return PlainTextResponse("502 Bad Gateway", status_code=502)
    if fault.kind == "rate_limit":
        raise ZaloError(-32, "The OA has exceeded the API call rate limit")
    if fault.kind == "invalid_recipient":
        raise ZaloError(-213, "User has not followed the OA")
    if fault.kind == "async_failure":
        # Zalo reports no failure after accepting: the refusal comes at once.
        raise ZaloError(-227, "User is banned or has been inactive for more than 45 days")
    raise ZaloError(-201, "Parameters are invalid")
