"""NHN Cloud's KakaoTalk Bizmessage API (AlimTalk and brand messages), emulated.

Under ``/kakao`` (the adapter's ``api_base`` is ``{emulator}/kakao``):

- ``POST /alimtalk/v2.3/appkeys/{appKey}/messages`` (AlimTalk templates) and
  ``POST /brand-message/v1.0/appkeys/{appKey}/{freestyle,basic}-messages`` (brand
  messages) check ``X-Secret-Key``, the sender key and the body as NHN does (see
  :mod:`chatgate.emulators.kakao_checks`) and answer ``{header, message: {requestId,
  senderGroupingKey, sendResults: [{recipientSeq, recipientNo, resultCode,
  resultMessage, recipientGroupingKey}]}}``; refusals are ``isSuccessful: false`` with
  HTTP 200, as NHN answers them.
- Kakao's result comes ``delivered_after`` seconds later (``1000``, or the failure code of
  an ``invalid_recipient`` (3019) or ``async_failure`` (3018) fault): it is posted as a
  ``MESSAGE_RESULT_UPDATE`` webhook to the account's ``webhook_url`` with
  ``X-Toast-Webhook-Signature`` (the configured string), and is what
  ``GET .../messages/{requestId}/{recipientSeq}`` answers from then on. An account without
  a webhook URL plays NHN without webhooks configured: only the query tells.
- Faults answered at once: ``server_error`` HTTP 500 with NHN's internal error (-9999),
  ``rate_limit`` HTTP 429 (NHN documents no throttling answer; a ``Retry-After`` when the
  fault names one), ``permanent`` HTTP 400 with a parameter error (4), ``timeout`` a hang.
- No inbound: users cannot write to a business through this API, so the control API's
  ``inbound`` is refused.

Received calls are logged with the recipient as an E.164 number and the message id as the
adapter names it, ``"{requestId}:{recipientSeq}"``; result queries are logged without a
recipient.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from fastapi import APIRouter, Request, Response

from chatgate.emulators.core import Account, EmulatorState, Fault, PlatformEmulator, Received
from chatgate.emulators.kakao_checks import (
    Problem,
    answer,
    check_freestyle,
    check_template_send,
)

PREFIX = "/kakao"
ALIMTALK = "/alimtalk/v2.3/appkeys/{app_key}"
BRAND = "/brand-message/v1.0/appkeys/{app_key}"
SIGNATURE_HEADER = "X-Toast-Webhook-Signature"
DELIVERED = "1000"
# Kakao's result codes of the faults reported after the send.
LATE_FAILURES = {
    "invalid_recipient": ("3019", "NoSendAvailableException"),
    "async_failure": ("3018", "NoSendAvailableException"),
}
KST = timezone(timedelta(hours=9))
MESSAGE_TYPES = {
    "alimtalk": "ALIMTALK_NORMAL",
    "brand": "BRAND_MESSAGE_NORMAL",
}


def _kst(at: float | None = None) -> str:
    moment = datetime.fromtimestamp(time.time() if at is None else at, UTC).astimezone(KST)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def e164(number: str) -> str:
    """A ``recipientNo`` as the gateway addresses it: domestic Korean numbers get +82."""
    return "+82" + number[1:] if number.startswith("0") else "+" + number


@dataclass
class Result:
    """One recipient of one accepted request, and what Kakao said of it (once it has)."""

    product: str
    account: str
    request_id: str
    seq: int
    body: dict[str, Any]
    recipient: dict[str, Any]
    requested: float = field(default_factory=time.time)
    result_code: str | None = None
    result_name: str | None = None
    received: float | None = None

    def query(self, sender_key: str) -> dict[str, Any]:
        """The ``message`` of a result query's answer."""
        done = self.result_code is not None
        return {
            "requestId": self.request_id,
            "recipientSeq": self.seq,
            "senderKey": sender_key,
            "templateCode": self.body.get("templateCode"),
            "recipientNo": self.recipient["recipientNo"],
            "content": self.body.get("content"),
            "requestDate": _kst(self.requested),
            "createDate": _kst(self.requested),
            "receiveDate": _kst(self.received) if self.received else None,
            "resendStatus": "RSC01",
            "resendStatusName": "No target of resending",
            # NHN's documented states are COMPLETED, FAILED and CANCEL; before Kakao answers
            # the emulator says SENDING (an in-between state NHN's list does not name).
            "messageStatus": (
                "SENDING"
                if not done
                else "COMPLETED"
                if self.result_code == DELIVERED
                else "FAILED"
            ),
            "resultCode": self.result_code,
            "resultCodeName": self.result_name,
            "senderGroupingKey": self.body.get("senderGroupingKey"),
            "recipientGroupingKey": self.recipient.get("recipientGroupingKey"),
        }

    def hook(self) -> dict[str, Any]:
        """One ``hooks`` item of a ``MESSAGE_RESULT_UPDATE`` webhook."""
        return {
            "kakaoMessageType": MESSAGE_TYPES[self.product],
            "requestId": self.request_id,
            "recipientSeq": self.seq,
            "requestDate": _kst(self.requested),
            "createDate": _kst(self.requested),
            "receiveDate": _kst(self.received),
            "recipientNo": self.recipient["recipientNo"],
            "resultCode": self.result_code,
            "senderGroupingKey": self.body.get("senderGroupingKey"),
            "recipientGroupingKey": self.recipient.get("recipientGroupingKey"),
            "_links": {"self": {"href": self.href}},
            "hookId": secrets.token_hex(12),
        }

    @property
    def href(self) -> str:
        """The result query's path, as the webhook links it."""
        base = (ALIMTALK if self.product == "alimtalk" else BRAND).format(app_key=self.account)
        return f"{base}/messages/{self.request_id}/{self.seq}"


class KakaoEmulator(PlatformEmulator):
    """NHN Cloud KakaoTalk Bizmessage apps (one per app key)."""

    name = "kakao"

    def __init__(self, state: EmulatorState) -> None:
        super().__init__(state)
        self._results: dict[tuple[str, str, int], Result] = {}

    # -- control API ----------------------------------------------------------------------

    def register(self, payload: dict[str, Any]) -> Account:
        """An app from ``{app_key, secret_key, sender_key, webhook_secret, webhook_url?,
        templates?: {code: approved text with #{parameters}}}``."""
        needed = ("app_key", "secret_key", "sender_key", "webhook_secret")
        missing = [key for key in needed if not payload.get(key)]
        if missing:
            raise ValueError(f"missing {', '.join(missing)}")
        templates = payload.get("templates")
        if templates is not None and not isinstance(templates, dict):
            raise ValueError("templates: an object of template code -> text")
        account = Account(
            id=str(payload["app_key"]),
            secrets={key: str(payload[key]) for key in needed[1:]},
            webhook_url=payload.get("webhook_url"),
            extra={"templates": templates},
        )
        self.state.add_account(self.name, account)
        return account

    async def inject_inbound(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Refused: AlimTalk and brand messages are one-way."""
        raise ValueError(
            "KakaoTalk business messages are one-way: users cannot write to a business "
            "through NHN's API"
        )

    # -- NHN's API ----------------------------------------------------------------------

    def router(self) -> APIRouter:
        """The send and result-query endpoints of both products."""
        router = APIRouter(prefix=PREFIX, include_in_schema=False)

        @router.post(ALIMTALK + "/messages")
        async def alimtalk(app_key: str, request: Request) -> Response:
            return await self._send("alimtalk", app_key, request, check=self._template_check)

        @router.post(BRAND + "/basic-messages")
        async def brand_template(app_key: str, request: Request) -> Response:
            return await self._send("brand", app_key, request, check=self._template_check)

        @router.post(BRAND + "/freestyle-messages")
        async def brand_freestyle(app_key: str, request: Request) -> Response:
            return await self._send(
                "brand", app_key, request, check=lambda _, body, __: check_freestyle(body)
            )

        @router.get(ALIMTALK + "/messages/{request_id}/{seq}")
        async def alimtalk_result(
            app_key: str, request_id: str, seq: int, request: Request
        ) -> Response:
            return self._query("alimtalk", app_key, request_id, seq, request)

        @router.get(BRAND + "/messages/{request_id}/{seq}")
        async def brand_result(
            app_key: str, request_id: str, seq: int, request: Request
        ) -> Response:
            return self._query("brand", app_key, request_id, seq, request)

        return router

    def _template_check(
        self, account: Account, body: dict[str, Any], product: str
    ) -> Problem | None:
        return check_template_send(body, account.extra.get("templates"), brand=product == "brand")

    def _authorized(self, app_key: str, request: Request) -> tuple[Account | None, Response | None]:
        account = self.accounts().get(app_key)
        if account is None:
            return None, answer(-1000, "Invalid appKey.")
        if request.headers.get("x-secret-key") != account.secrets["secret_key"]:
            return None, answer(-1001, "Invalid secretKey.")
        return account, None

    async def _send(self, product: str, app_key: str, request: Request, *, check: Any) -> Response:
        account, refusal = self._authorized(app_key, request)
        raw = await request.body()
        try:
            # NHN reads UTF-8; the parsed body keeps every string exactly as it was sent.
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            body = None
        path = request.url.path
        if account is None or refusal is not None:
            self._log(app_key, path, body, status=200)
            return refusal or answer(-1000, "Invalid appKey.")
        if not isinstance(body, dict):
            self._log(account.id, path, body, status=200)
            return answer(4, "Parameter validation failed: body")
        problem: Problem | None
        if body.get("senderKey") != account.secrets["sender_key"]:
            problem = (-2017, "Not exist plus friend.")
        else:
            problem = check(account, body, product)
        if problem is not None:
            self._log(account.id, path, body, status=200)
            return answer(*problem)
        # Faults and the log name the first recipient, as the gateway addresses users.
        recipient = e164(body["recipientList"][0]["recipientNo"])
        fault = self.state.take_fault(self.name, recipient)
        played = await self._fault_answer(fault)
        if played is not None:
            self._log(account.id, path, body, recipient=recipient, status=played.status_code)
            return played
        request_id = (
            datetime.now(KST).strftime("%Y%m%d%H%M%S%f")[:17] + secrets.token_urlsafe(8)[:10]
        )
        results = []
        for seq, item in enumerate(body["recipientList"], start=1):
            result = Result(product, account.id, request_id, seq, body, item)
            self._results[(account.id, request_id, seq)] = result
            self._follow_up(account, result, fault)
            results.append(
                {
                    "recipientSeq": seq,
                    "recipientNo": item["recipientNo"],
                    "resultCode": 0,
                    "resultMessage": "SUCCESS",
                    "recipientGroupingKey": item.get("recipientGroupingKey"),
                }
            )
        self._log(account.id, path, body, recipient=recipient, message_id=f"{request_id}:1")
        sent = {
            "requestId": request_id,
            "senderGroupingKey": body.get("senderGroupingKey"),
            "sendResults": results,
        }
        return answer(body=sent)

    async def _fault_answer(self, fault: Fault | None) -> Response | None:
        if fault is None:
            return None
        if fault.kind == "server_error":
            return answer(-9999, "Internal server error.", status=500)
        if fault.kind == "timeout":
            await asyncio.sleep(fault.seconds)
            return answer(-9999, "Internal server error.", status=504)
        if fault.kind == "rate_limit":
            response = answer(429, "Too many requests.", status=429)
            if fault.retry_after is not None:
                response.headers["Retry-After"] = str(int(fault.retry_after))
            return response
        if fault.kind == "permanent":
            return answer(4, "Parameter validation failed: recipientNo", status=400)
        return None

    def _follow_up(self, account: Account, result: Result, fault: Fault | None) -> None:
        """Kakao's result, after the state's timing: stored, and posted where configured."""
        failure = LATE_FAILURES.get(fault.kind) if fault is not None else None
        timing = self.state.timing
        if failure is None:
            after = timing.delivered_after
            if after is None:
                return  # no result: the message stays on its way
        else:
            after = next(
                (d for d in (timing.sent_after, timing.delivered_after) if d is not None), 0.0
            )
        code, name = failure or (DELIVERED, "Success")

        async def report() -> None:
            result.result_code, result.result_name = code, name
            result.received = time.time()
            await self._post_result(account, result)

        self.state.later(after, report)

    async def _post_result(self, account: Account, result: Result) -> None:
        if not account.webhook_url:
            return
        body = {
            "hooksId": datetime.now(KST).strftime("%Y%m%d%H%M%S") + secrets.token_hex(8),
            "webhookConfigId": f"wh-{account.id}",
            "productName": "KakaoTalk Bizmessage",
            "appKey": account.id,
            "event": "MESSAGE_RESULT_UPDATE",
            "hooks": [result.hook()],
        }
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        headers = {SIGNATURE_HEADER: account.secrets["webhook_secret"]}
        await self.state.post_webhook(self.name, account.webhook_url, raw, headers)

    def _query(
        self, product: str, app_key: str, request_id: str, seq: int, request: Request
    ) -> Response:
        account, refusal = self._authorized(app_key, request)
        self._log(app_key, request.url.path, None, status=200)
        if account is None or refusal is not None:
            return refusal or answer(-1000, "Invalid appKey.")
        result = self._results.get((account.id, request_id, seq))
        if result is None or result.product != product:
            # NHN names no error for a request id it does not know: no message.
            return answer()
        return answer(body=result.query(account.secrets["sender_key"]))

    def _log(
        self,
        account: str,
        path: str,
        body: Any,
        *,
        recipient: str | None = None,
        message_id: str | None = None,
        status: int = 200,
    ) -> None:
        self.state.record(
            Received(self.name, account, path, body, time.time(), message_id, recipient, status)
        )
