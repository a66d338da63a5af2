"""Twilio's Messages API, emulated under ``/twilio``: the ``sms`` channel's provider.

- ``POST /twilio/2010-04-01/Accounts/{AccountSid}/Messages.json`` (form-encoded, HTTP Basic
  with the account SID and auth token; ``401`` / 20003 otherwise) checks the parameters as
  Twilio does (21604 no ``To``, 21603 no ``From``, 21602 no ``Body`` nor ``MediaUrl``, 21211
  a ``To`` that is not E.164, 21606 a ``From`` that is not the account's, 21617 a body over
  1600 characters, 21620 a media URL that is not HTTP(S), 21610 a user who texted STOP) and
  answers ``201`` with the message resource (``SM…``, or ``MM…`` with media; ``num_segments``
  counted GSM-7 or UCS-2). The message then moves to ``sent`` and ``delivered`` at the
  state's timing (``read_after`` is not used: SMS has no read receipts) and, when the send
  named a ``StatusCallback``, each move is posted there, signed with ``X-Twilio-Signature``
  over that URL.
- ``GET .../Messages/{MessageSid}.json`` and ``GET .../Messages.json`` fetch and list the
  account's messages, sent and received (see ``twilio_messages``). Any other resource or
  method is answered as Twilio answers a resource it does not have: ``404`` / 20404.
- A user's message is posted to the number's webhook URL, form-encoded and signed the same
  way; MMS media are served at their ``MediaUrl`` path (HTTP Basic, then a redirect to the
  emulated CDN), as on ``api.twilio.com``.
- Faults: ``server_error`` 500 / 20500; ``timeout`` hangs, then 503 / 20503; ``rate_limit``
  429 / 20429 (Twilio names no retry delay); ``permanent`` 400 / 21408 (region not
  enabled); ``invalid_recipient`` 400 / 21614 (not a mobile number); ``async_failure`` is
  accepted, then reported ``undelivered`` with 30003 (unreachable handset).

Control API: ``register`` takes ``{account_sid, auth_token, phone_number, webhook_url?}``
(one sending number of an account); ``inject_inbound`` takes ``{to, from, text?, media?}``
where ``media`` is one or a list of ``{content_base64, mime_type}``.
"""

from __future__ import annotations

import base64
import re
import time
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from chatgate.emulators.core import Account, Fault, PlatformEmulator, Received
from chatgate.emulators.twilio_messages import (
    fetch,
    keep,
    message_resource,
    move,
    not_found,
    page,
    status_callback,
)
from chatgate.emulators.twilio_wire import (
    API_VERSION,
    MAX_BODY,
    TWILIO_HOST,
    basic_credentials,
    error,
    fault_answer,
    new_sid,
    segments,
    sign,
)

PREFIX = "/twilio"
CDN_PATH = f"{PREFIX}/_cdn"
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
# An account's resources: ``{version}/Accounts/{AccountSid}/...`` (Basic auth first).
_ACCOUNT_PATH = re.compile(r"[^/]+/Accounts/(?P<sid>[^/]+)/.+")
# Twilio's default opt-out and opt-in keywords (a message of that one word).
OPT_OUT = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
OPT_IN = frozenset({"START", "YES", "UNSTOP"})
UNREACHABLE = (30003, "Unreachable destination handset")


class TwilioEmulator(PlatformEmulator):
    """Twilio phone numbers, their messages and their webhooks."""

    name: ClassVar[str] = "sms"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # (number, user) pairs where the user texted STOP.
        self._opted_out: set[tuple[str, str]] = set()
        self._media_ids: set[str] = set()

    # -- control API ----------------------------------------------------------------------

    def register(self, payload: dict[str, Any]) -> Account:
        """A number from ``{account_sid, auth_token, phone_number, webhook_url?}``."""
        sid, token, number = (payload.get(k) for k in ("account_sid", "auth_token", "phone_number"))
        if not isinstance(sid, str) or not _ACCOUNT_SID.fullmatch(sid):
            raise ValueError("account_sid: AC followed by 32 hexadecimal digits")
        if not isinstance(token, str) or not token:
            raise ValueError("auth_token: the account's auth token")
        if not isinstance(number, str) or not _E164.fullmatch(number):
            raise ValueError("phone_number: the number in E.164 (+14155550100)")
        account = Account(
            id=number,
            secrets={"account_sid": sid, "auth_token": token},
            webhook_url=payload.get("webhook_url"),
        )
        self.state.add_account(self.name, account)
        return account

    async def inject_inbound(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A user texts a number: the incoming-message webhook is posted now."""
        account = self.accounts().get(str(payload.get("to")))
        if account is None:
            raise ValueError(f"to: no number {payload.get('to')!r} is registered")
        user = str(payload.get("from", ""))
        if not _E164.fullmatch(user):
            raise ValueError("from: the user's number in E.164 (+14155550100)")
        text = str(payload.get("text") or "")
        media = payload.get("media") or []
        media = [media] if isinstance(media, dict) else media
        sid = new_sid("MM" if media else "SM")
        params = self._incoming(account, user, sid, text, media)
        resource = message_resource(
            account.secrets["account_sid"],
            sid,
            sender=user,
            recipient=account.id,
            body=text,
            media_count=len(media),
            inbound=True,
        )
        keep(account, self.state.next_number(), resource)
        self._opt(account, user, text)
        self.state.user_wrote(self.name, account.id, user)
        if account.webhook_url is not None:
            await self._post(account, account.webhook_url, params)
        return {"id": sid, "body": dict(params)}

    def _incoming(
        self, account: Account, user: str, sid: str, text: str, media: list[Any]
    ) -> list[tuple[str, str]]:
        """The parameters of an incoming-message webhook, as Twilio orders them."""
        account_sid = account.secrets["account_sid"]
        params = [
            ("ToCountry", "US"),
            ("ToState", ""),
            ("SmsMessageSid", sid),
            ("NumMedia", str(len(media))),
            ("ToCity", ""),
            ("FromZip", ""),
            ("SmsSid", sid),
            ("FromState", ""),
            ("SmsStatus", "received"),
            ("FromCity", ""),
            ("Body", text),
            ("FromCountry", "US"),
            ("To", account.id),
            ("ToZip", ""),
            ("NumSegments", str(segments(text))),
            ("MessageSid", sid),
            ("AccountSid", account_sid),
            ("From", user),
            ("ApiVersion", API_VERSION),
        ]
        for index, item in enumerate(media):
            if not isinstance(item, dict):
                raise ValueError("media: {content_base64, mime_type} (or a list of them)")
            content = base64.b64decode(str(item.get("content_base64", "")), validate=True)
            mime_type = str(item.get("mime_type") or "application/octet-stream")
            media_sid = new_sid("ME")
            self.state.media[media_sid] = (content, mime_type)
            self._media_ids.add(media_sid)
            url = f"{TWILIO_HOST}/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}"
            url += f"/Media/{media_sid}"
            params += [(f"MediaContentType{index}", mime_type), (f"MediaUrl{index}", url)]
        return params

    def _opt(self, account: Account, user: str, text: str) -> None:
        word = text.strip().upper()
        if word in OPT_OUT:
            self._opted_out.add((account.id, user))
        elif word in OPT_IN:
            self._opted_out.discard((account.id, user))

    async def _post(self, account: Account, url: str, params: list[tuple[str, str]]) -> None:
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": sign(account.secrets["auth_token"], url, params),
            "I-Twilio-Idempotency-Token": new_sid(""),
            "User-Agent": "TwilioProxy/1.1",
        }
        await self.state.post_webhook(self.name, url, urlencode(params).encode("ascii"), headers)

    # -- the REST API -----------------------------------------------------------------------

    def router(self) -> APIRouter:
        """``Messages.json``, media downloads, and the CDN they redirect to."""
        router = APIRouter(prefix=PREFIX, include_in_schema=False)

        @router.post("/{version}/Accounts/{account_sid}/Messages.json")
        async def create(version: str, account_sid: str, request: Request) -> Response:
            return await self._create(version, account_sid, request)

        @router.get("/{version}/Accounts/{account_sid}/Messages.json")
        async def listing(version: str, account_sid: str, request: Request) -> Response:
            numbers = self._authenticated(account_sid, request)
            if numbers is None:
                return error(401, 20003, "Authenticate")
            if version != API_VERSION:
                return not_found(_twilio_path(request))
            return page(numbers, account_sid, request.query_params)

        @router.get("/{version}/Accounts/{account_sid}/Messages/{message_sid}.json")
        async def message(
            version: str, account_sid: str, message_sid: str, request: Request
        ) -> Response:
            numbers = self._authenticated(account_sid, request)
            if numbers is None:
                return error(401, 20003, "Authenticate")
            if version != API_VERSION:
                return not_found(_twilio_path(request))
            return fetch(numbers, message_sid, _twilio_path(request))

        @router.get("/{version}/Accounts/{account_sid}/Messages/{message_sid}/Media/{media_sid}")
        async def media(
            version: str, account_sid: str, message_sid: str, media_sid: str, request: Request
        ) -> Response:
            if self._authenticated(account_sid, request) is None:
                return error(401, 20003, "Authenticate")
            if media_sid not in self._media_ids:
                return not_found(_twilio_path(request))
            return RedirectResponse(f"{CDN_PATH}/{media_sid}", status_code=307)

        @router.get("/_cdn/{media_sid}")
        async def cdn(media_sid: str) -> Response:
            answer = self.state.media_answer(media_sid) if media_sid in self._media_ids else None
            return Response(status_code=404) if answer is None else answer

        # Last: whatever the routes above do not name, Twilio does not have.
        @router.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
        async def unknown(path: str, request: Request) -> Response:
            account = _ACCOUNT_PATH.fullmatch(path)
            if account is not None and self._authenticated(account["sid"], request) is None:
                return error(401, 20003, "Authenticate")
            return not_found(_twilio_path(request))

        return router

    def _authenticated(self, account_sid: str, request: Request) -> list[Account] | None:
        """The numbers of the account the Basic credentials prove, if they match the path."""
        given = basic_credentials(request.headers.get("authorization"))
        if given is None or given[0] != account_sid:
            return None
        numbers = [
            account
            for account in self.accounts().values()
            if account.secrets["account_sid"] == account_sid
            and account.secrets["auth_token"] == given[1]
        ]
        return numbers or None

    async def _create(self, version: str, account_sid: str, request: Request) -> Response:
        pairs = parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
        # A repeated parameter (MediaUrl) is a list; the others are their one value.
        form: dict[str, Any] = {}
        for name, value in pairs:
            prior = form.get(name)
            if prior is None:
                form[name] = value
            else:
                form[name] = [*prior, value] if isinstance(prior, list) else [prior, value]
        media = [v for n, v in pairs if n == "MediaUrl"]
        to = str(form["To"]) if "To" in form else None
        if version != API_VERSION:
            self._record(account_sid, form, to, 404)
            return not_found(_twilio_path(request))
        numbers = self._authenticated(account_sid, request)
        if numbers is None:
            self._record(account_sid, form, to, 401)
            return error(401, 20003, "Authenticate")
        refusal = self._check(numbers, form, media)
        if refusal is None:
            fault = self.state.take_fault(self.name, to)
            refusal = await fault_answer(fault)
        else:
            fault = None
        if refusal is not None:
            self._record(account_sid, form, to, refusal.status_code)
            return refusal
        sid = new_sid("MM" if media else "SM")
        self._record(account_sid, form, to, 201, sid)
        number = next(n for n in numbers if n.id == form["From"])
        resource = message_resource(
            account_sid,
            sid,
            sender=str(form["From"]),
            recipient=str(form["To"]),
            body=str(form.get("Body") or ""),
            media_count=len(media),
        )
        keep(number, self.state.next_number(), resource)
        callback = form.get("StatusCallback")
        self._follow_up(number, callback if isinstance(callback, str) else "", resource, fault)
        return JSONResponse(resource, status_code=201)

    def _check(
        self, numbers: list[Account], form: dict[str, Any], media: list[str]
    ) -> Response | None:
        """Twilio's refusal of the parameters, if any."""
        to, sender, body = form.get("To"), form.get("From"), form.get("Body")
        if not to:
            return error(400, 21604, "A 'To' phone number is required.")
        if not sender:
            return error(400, 21603, "A 'From' phone number is required.")
        if not body and not media:
            return error(400, 21602, "Message body is required.")
        if not isinstance(to, str) or not _E164.fullmatch(to):
            return error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if not isinstance(sender, str) or sender not in {number.id for number in numbers}:
            return error(
                400,
                21606,
                f"The 'From' phone number provided ({sender}) is not a valid message-capable "
                "Twilio phone number for this destination/account",
            )
        if isinstance(body, str) and len(body) > MAX_BODY:
            return error(
                400, 21617, "The concatenated message body exceeds the 1600 character limit"
            )
        if any(urlsplit(url).scheme not in ("http", "https") for url in media):
            return error(400, 21620, "Invalid media URL(s)")
        if (sender, to) in self._opted_out:
            return error(400, 21610, "Attempt to send to unsubscribed recipient")
        return None

    def _record(
        self,
        account_sid: str,
        form: dict[str, Any],
        to: str | None,
        status: int,
        sid: str | None = None,
    ) -> None:
        self.state.record(
            Received(
                platform=self.name,
                account=account_sid,
                path=f"{PREFIX}/{API_VERSION}/Accounts/{account_sid}/Messages.json",
                body=form,
                at=time.time(),
                message_id=sid,
                recipient=to,
                # The log speaks of accepted calls as 200, as every platform's does.
                status=200 if status == 201 else status,
            )
        )

    def _follow_up(
        self, number: Account, url: str, resource: dict[str, Any], fault: Fault | None
    ) -> None:
        """Move an accepted message on at the state's timing, posting each move to ``url``
        (the send's ``StatusCallback``; none when empty)."""
        timing = self.state.timing
        steps: list[tuple[float, str, tuple[int, str] | None]] = []
        if fault is not None and fault.kind == "async_failure":
            delay = next(
                (d for d in (timing.sent_after, timing.delivered_after) if d is not None), 0.0
            )
            steps.append((delay, "undelivered", UNREACHABLE))
        else:
            for name, after in (("sent", timing.sent_after), ("delivered", timing.delivered_after)):
                if after is not None:
                    steps.append((after, name, None))
        for delay, status, failure in steps:

            async def step(status: str = status, failure: tuple[int, str] | None = failure) -> None:
                move(resource, status, failure)
                if url:
                    await self._post(number, url, status_callback(resource))

            self.state.later(delay, step)


def _twilio_path(request: Request) -> str:
    """The request's path as Twilio names it: without the emulator's prefix."""
    return request.url.path.removeprefix(PREFIX)
