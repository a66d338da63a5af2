"""KakaoTalk business messages (AlimTalk and brand messages) through NHN Cloud.

- Send: ``POST {api_base}/alimtalk/v2.3/appkeys/{appKey}/messages`` (AlimTalk templates) or
  ``POST {api_base}/brand-message/v1.0/appkeys/{appKey}/{freestyle,basic}-messages`` (brand
  messages), with ``X-Secret-Key``; which one, and how content maps to it, is described in
  :mod:`chatgate.channels.kakao_build`. The answer's ``message.requestId`` and the
  recipient's ``recipientSeq`` name the message: ``"{requestId}:{recipientSeq}"``.
- Repeated tries: every try of a message carries ``X-NC-API-IDEMPOTENCY-KEY``, derived from
  our message id (:func:`chatgate.channels.base.retry_key`). NHN refuses a key it saw in
  the last ten minutes with ``-1005``: an earlier try was accepted and its answer lost (a
  timeout, a crash before our commit). That try is the send's outcome, found by List
  Messages of the same product (``GET .../messages`` with ``startRequestDate``,
  ``endRequestDate`` and ``recipientGroupingKey``, our message id), so that the message
  keeps the platform id NHN's results name. A repeat whose earlier try is not listed (yet)
  is retryable, after :data:`UNLISTED_RETRY_SECONDS` at least: a repeat within the ten
  minutes finds it once listed, and one after them is sent afresh, which is right should
  the key be held by a try NHN did not keep (NHN does not say whether a refused try holds
  its key). NHN's brand-message guide shows the header on one of its reads rather than on
  its sends; it goes on both products' sends all the same.
- Errors live in ``header.isSuccessful`` / ``resultCode`` / ``resultMessage``, often with
  HTTP 200 (see :mod:`chatgate.channels.kakao_parse`); NHN documents no throttling answer
  and no retry hint, so a 429 is retried on our own schedule.
- Results: NHN posts ``MESSAGE_RESULT_UPDATE`` webhooks to the URL configured in its
  console, authenticated by ``X-Toast-Webhook-Signature``, which is the very string typed
  in the console (a shared secret, not a signature over the body): our ``webhook_secret``.
  Where no webhook is configured (or one is lost), the gateway asks the result endpoint
  (``GET .../messages/{requestId}/{recipientSeq}``) for a message still ``sent`` some
  time after the send: ``SendResult.poll_after`` (the ``result_poll_seconds`` setting,
  five minutes by default), then :meth:`KakaoAdapter.poll_status`.
- Inbound: none. AlimTalk and brand messages are one-way; a user's answers go to the
  channel's chat, which this API does not expose.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from chatgate.channels.base import (
    ChannelAdapter,
    InboundEvent,
    OutboundMessage,
    ProviderError,
    ProviderRequest,
    RawRequest,
    SendResult,
    SignatureError,
    StatusUpdate,
    error_from_transport,
    retry_key,
)
from chatgate.channels.kakao_build import ALIMTALK, build_call
from chatgate.channels.kakao_parse import (
    REPEATED_KEY,
    RESULT_STATUSES,
    header_error,
    is_success,
    kst_minute,
    listed_ref,
    parse_webhook,
    queried_update,
    sent_ref,
    split_ref,
)
from chatgate.domain import capabilities as cap
from chatgate.domain.json_body import load_json
from chatgate.domain.status import Status

SIGNATURE_HEADER = "x-toast-webhook-signature"
SECRET_KEY_HEADER = "X-Secret-Key"  # noqa: S105 - a header name
IDEMPOTENCY_HEADER = "X-NC-API-IDEMPOTENCY-KEY"
JSON_TYPE = "application/json;charset=UTF-8"
# The path of each product's API, after the host.
PRODUCT_PATHS = {ALIMTALK: "alimtalk/v2.3", "brand": "brand-message/v1.0"}
# How long after a send to ask for a result no webhook has brought, by default.
DEFAULT_POLL_SECONDS = 300.0
# NHN refuses a key seen in the last ten minutes: the accepted try is looked for over a
# wider span around now, for clocks that do not agree to the minute.
LOOKUP_BEFORE_SECONDS = 15 * 60.0
LOOKUP_AFTER_SECONDS = 5 * 60.0
# A refused repeat whose earlier try NHN does not list yet waits this long at least: time for
# the list to catch up, and (over a few tries) for a key held by a try NHN did not keep to
# lapse.
UNLISTED_RETRY_SECONDS = 120.0


class KakaoCredentials(BaseModel):
    """An NHN Cloud KakaoTalk Bizmessage app and the Kakao channel (sender) it sends as."""

    # A refused value would otherwise be printed back in the validation error.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    app_key: str = Field(pattern=r"^[A-Za-z0-9]{1,64}$", description="the NHN Cloud app key")
    secret_key: SecretStr = Field(min_length=1, max_length=256, description="X-Secret-Key")
    sender_key: str = Field(
        pattern=r"^[A-Za-z0-9]{1,64}$", description="the Kakao channel's sender key (40 chars)"
    )
    webhook_secret: SecretStr = Field(
        min_length=1,
        max_length=256,
        description="the signature typed in NHN's webhook settings (X-Toast-Webhook-Signature)",
    )


class KakaoAdapter(ChannelAdapter[KakaoCredentials]):
    """One Kakao channel's AlimTalk and brand messages through one NHN Cloud app."""

    name = "kakao"
    credentials_model = KakaoCredentials
    default_api_base = "https://kakaotalk-bizmessage.api.nhncloudservice.com"
    capabilities = frozenset(
        {cap.TEXT, cap.MEDIA_IMAGE, cap.MEDIA_CAPTION, cap.TEMPLATE, cap.BUTTONS_URL}
    )
    # Kakao's delivery result codes; there is no read receipt.
    status_map: ClassVar[dict[str, Status]] = dict(RESULT_STATUSES)
    # The span an accepted try is looked for in is judged against this clock.
    clock: ClassVar[Callable[[], float]] = staticmethod(time.time)

    def _url(self, product: str, path: str) -> str:
        return f"{self.api_base}/{PRODUCT_PATHS[product]}/appkeys/{self.credentials.app_key}/{path}"

    def build_request(self, message: OutboundMessage) -> ProviderRequest:
        """The send call for ``message``; see :mod:`chatgate.channels.kakao_build`."""
        call = build_call(message, self.credentials.sender_key)
        return ProviderRequest(
            method="POST",
            url=self._url(call.product, call.path),
            # The secret key is added at send time so that a built request never holds it.
            headers={"Content-Type": JSON_TYPE, IDEMPOTENCY_HEADER: retry_key(message.id)},
            json=call.body,
            context={"product": call.product, "message_id": message.id},
        )

    def _auth(self) -> dict[str, str]:
        return {SECRET_KEY_HEADER: self.credentials.secret_key.get_secret_value()}

    async def send(self, request: ProviderRequest, http: httpx.AsyncClient) -> SendResult:
        """Make the call; the message's ``"{requestId}:{recipientSeq}"``.

        A repeat NHN refuses as one (``-1005``) has the earlier, accepted try as its outcome.
        """
        # UTF-8 as given, no \\u escapes: the bytes NHN gets are the bytes we were given.
        body = json.dumps(request.json, ensure_ascii=False, separators=(",", ":"))
        headers = {**request.headers, **self._auth()}
        try:
            answer = await self._call(http, "POST", request.url, headers, body.encode("utf-8"))
            reference = sent_ref(answer)
        except ProviderError as error:
            if error.code != REPEATED_KEY:
                raise
            reference = await self._accepted_try(request.context, http)
        poll = self.settings.result_poll_seconds
        return SendResult(
            provider_message_id=reference,
            poll_after=DEFAULT_POLL_SECONDS if poll is None else poll,
        )

    async def _accepted_try(self, context: Mapping[str, Any], http: httpx.AsyncClient) -> str:
        """The platform id of the accepted try NHN lists for our message id."""
        now = type(self).clock()
        query = {
            "startRequestDate": kst_minute(now - LOOKUP_BEFORE_SECONDS),
            "endRequestDate": kst_minute(now + LOOKUP_AFTER_SECONDS),
            "recipientGroupingKey": context["message_id"],
        }
        headers = {"Content-Type": JSON_TYPE, **self._auth()}
        url = self._url(context["product"], "messages")
        answer = await self._call(http, "GET", url, headers, None, params=query)
        reference = listed_ref(answer)
        if reference is None:
            raise ProviderError(
                REPEATED_KEY,
                "NHN refused a repeated try of this message and does not list the earlier one yet",
                retryable=True,
                retry_after=UNLISTED_RETRY_SECONDS,
            )
        return reference

    async def poll_status(
        self, provider_message_id: str, http: httpx.AsyncClient
    ) -> StatusUpdate | None:
        """Ask NHN for the result of one recipient; ``None`` while it has none.

        The id does not say which product sent it: AlimTalk is asked first, then brand
        messages (a request id belongs to one of them only).
        """
        try:
            request_id, seq = split_ref(provider_message_id)
        except ValueError:
            return None
        headers = {"Content-Type": JSON_TYPE, **self._auth()}
        for product in PRODUCT_PATHS:
            url = self._url(product, f"messages/{request_id}/{seq}")
            try:
                answer = await self._call(http, "GET", url, headers, None)
            except ProviderError as error:
                if error.retryable:
                    raise
                continue  # not a request of this product: ask the other one
            if isinstance(answer, dict) and isinstance(answer.get("message"), dict):
                return queried_update(answer)
        return None

    async def _call(
        self,
        http: httpx.AsyncClient,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        *,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        try:
            response = await http.request(method, url, headers=headers, content=body, params=params)
        except httpx.TransportError as exc:
            raise error_from_transport(exc) from exc
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code < 400 and is_success(answer):
            return answer
        raise header_error(answer, response.status_code, response.headers)

    def verify(self, request: RawRequest) -> None:
        """Compare ``X-Toast-Webhook-Signature`` with our webhook secret, in constant time."""
        given = request.headers.get(SIGNATURE_HEADER)
        if given is None:
            raise SignatureError(f"missing {SIGNATURE_HEADER}")
        expected = self.credentials.webhook_secret.get_secret_value()
        if not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
            raise SignatureError(f"{SIGNATURE_HEADER} does not match")

    def parse(self, request: RawRequest) -> list[InboundEvent]:
        """The result statuses of one webhook; raises ``ValueError`` on a body that is not JSON."""
        return parse_webhook(load_json(request.body))
