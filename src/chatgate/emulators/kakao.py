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
- A send names itself with ``X-NC-API-IDEMPOTENCY-KEY``: a key the app accepted a send with
  less than ten minutes earlier (on the emulator's clock, ``time.time``) is refused with
  ``-1005``, "The same 'X-NC-API-IDEMPOTENCY-KEY' was used within the last 10 minute.",
  on both products' sends. Only an accepted send holds its key: NHN does not say whether a
  refused one does.
- ``GET .../messages`` (List Messages, both products) answers ``{header,
  messageSearchResultResponse: {messages, totalCount}}`` for a ``requestId`` or a span of
  request dates (see :mod:`chatgate.emulators.kakao_checks` for its refusals), filtered by
  ``recipientGroupingKey``, ``recipientNo``, ``senderKey``, ``templateCode``,
  ``senderGroupingKey``, ``messageStatus`` and ``resultCode``, a page at a time.
- Faults answered at once: ``server_error`` HTTP 500 with NHN's internal error (-9999),
  ``rate_limit`` HTTP 429 (NHN documents no throttling answer; a ``Retry-After`` when the
  fault names one), ``permanent`` HTTP 400 with a parameter error (4), ``timeout`` a hang;
  ``answer_lost`` is accepted, its answer replaced by the edge's 502.
- No inbound: users cannot write to a business through this API, so the control API's
  ``inbound`` is refused.

Received calls are logged with the recipient as an E.164 number and the message id as the
adapter names it, ``"{requestId}:{recipientSeq}"``; result queries and lists are logged
without a recipient.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response

from chatgate.channels.kakao_parse import KST
from chatgate.emulators.core import Account, Fault, PlatformEmulator, Received
from chatgate.emulators.kakao_checks import (
    DEFAULT_PAGE_SIZE,
    Problem,
    answer,
    check_freestyle,
    check_list_query,
    check_template_send,
    list_span,
    page_of,
)
from chatgate.emulators.kakao_results import ALIMTALK, BRAND, DELIVERED, AppState, Result, search

PREFIX = "/kakao"
SIGNATURE_HEADER = "X-Toast-Webhook-Signature"
IDEMPOTENCY_HEADER = "x-nc-api-idempotency-key"
# Kakao's result codes of the faults reported after the send.
LATE_FAILURES = {
    "invalid_recipient": ("3019", "NoSendAvailableException"),
    "async_failure": ("3018", "NoSendAvailableException"),
}


def e164(number: str) -> str:
    """A ``recipientNo`` as the gateway addresses it: domestic Korean numbers get +82."""
    return "+82" + number[1:] if number.startswith("0") else "+" + number


class KakaoEmulator(PlatformEmulator):
    """NHN Cloud KakaoTalk Bizmessage apps (one per app key)."""

    name = "kakao"

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
            extra={"templates": templates, "app": AppState()},
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

        @router.get(ALIMTALK + "/messages")
        async def alimtalk_list(app_key: str, request: Request) -> Response:
            return self._list("alimtalk", app_key, request)

        @router.get(BRAND + "/messages")
        async def brand_list(app_key: str, request: Request) -> Response:
            return self._list("brand", app_key, request)

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
        app: AppState = account.extra["app"]
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key and app.holds(key):
            self._log(account.id, path, body, recipient=recipient, status=200)
            return answer(
                -1005, "The same 'X-NC-API-IDEMPOTENCY-KEY' was used within the last 10 minute."
            )
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
            app.results[(request_id, seq)] = result
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
        if key:
            app.keys[key] = time.time()
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
        result = account.extra["app"].results.get((request_id, seq))
        if result is None or result.product != product:
            # NHN names no error for a request id it does not know: no message.
            return answer()
        return answer(body=result.query(account.secrets["sender_key"]))

    def _list(self, product: str, app_key: str, request: Request) -> Response:
        """List Messages: a page of the product's messages the query selects."""
        account, refusal = self._authorized(app_key, request)
        self._log(app_key, request.url.path, None, status=200)
        if account is None or refusal is not None:
            return refusal or answer(-1000, "Invalid appKey.")
        query = dict(request.query_params)
        alimtalk = product == "alimtalk"
        problem = check_list_query(query, create_dates=alimtalk)
        if problem is not None:
            return answer(*problem)
        app: AppState = account.extra["app"]
        results = [result for result in app.results.values() if result.product == product]
        span = list_span(query, create_dates=alimtalk)
        found = search(results, query, span, account.secrets["sender_key"])
        number, size = page_of(query) or (1, DEFAULT_PAGE_SIZE)
        shown = found[(number - 1) * size : number * size]
        listed = {"messages": shown, "totalCount": len(found)}
        return answer(body=listed, name="messageSearchResultResponse")

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
