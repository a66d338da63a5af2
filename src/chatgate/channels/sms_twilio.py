"""SMS (and MMS) over Twilio's Messages API: the ``twilio`` provider of the ``sms`` channel.

- Send: ``POST {api_base}/2010-04-01/Accounts/{AccountSid}/Messages.json``, form-encoded,
  HTTP Basic with the account SID and auth token: ``To``, ``From``, ``Body``, ``MediaUrl``
  (an MMS attachment, which Twilio fetches itself) and ``StatusCallback`` (the connection's
  inbound URL, so that statuses come back to the gateway). Twilio answers ``201`` with the
  message resource; its ``sid`` (``SM…``, ``MM…`` for MMS) names the message.
- Text goes as it is: Twilio picks GSM-7 or UCS-2 and splits it into segments itself.
- A message resource takes no idempotency key (``I-Twilio-Idempotency-Token`` is a header
  Twilio sets on its own webhooks; ``IdempotencyKey`` belongs to other resources, such as a
  call's payments): a try repeated after a lost answer can reach the user twice.
- Errors are ``{code, message, more_info, status}`` with a real HTTP status: 429 (Twilio's
  20429) and 5xx are worth another try; the rest (21211 invalid ``To``, 21610 unsubscribed
  recipient, 21614 not a mobile number, 21408 region not enabled, 21608 unverified number on
  a trial account...) are final, and the error's code is Twilio's.
- Webhooks (incoming messages and status callbacks) are form-encoded and signed with
  ``X-Twilio-Signature`` over the URL Twilio was given: the connection's inbound URL. They
  are answered with an empty TwiML ``<Response/>``, so that Twilio sends nothing back.
  See :mod:`chatgate.channels.sms_twilio_wire`.
- Media of an incoming MMS is downloaded from its ``MediaUrl`` with HTTP Basic (needed when
  the account protects its media); the answer redirects to Twilio's CDN.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx

from chatgate.channels.base import (
    ChannelAdapter,
    InboundEvent,
    MediaInfo,
    MediaSink,
    OutboundMessage,
    ProviderError,
    ProviderRequest,
    RawRequest,
    SendResult,
    SignatureError,
    UnsupportedContent,
    error_from_status,
    error_from_transport,
    media_limit,
)
from chatgate.channels.media_stream import stream_download
from chatgate.channels.sms import SmsCredentials
from chatgate.channels.sms_twilio_wire import (
    MEDIA_REFERENCE,
    SIGNATURE_HEADER,
    parse_webhook,
    signature_matches,
)
from chatgate.domain import capabilities as cap
from chatgate.domain.status import Status

CHANNEL = "sms"
API_VERSION = "2010-04-01"
# The longest body Twilio takes (it splits it into up to 10 segments itself).
MAX_BODY = 1600
# Twilio's limit on an MMS's media, which bounds what a user can send us too.
MAX_MEDIA_BYTES = 5 * 1024 * 1024
# An empty TwiML answer: Twilio sends no reply message.
EMPTY_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'
# Codes Twilio answers when it is overloaded: worth another try whatever the HTTP status.
RETRYABLE_CODES = frozenset({20429, 20500, 20503})


class TwilioSmsAdapter(ChannelAdapter[SmsCredentials]):
    """One sending number of a Twilio account."""

    name = CHANNEL
    credentials_model = SmsCredentials
    default_api_base = "https://api.twilio.com"
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {
            cap.TEXT,
            # MMS: Twilio fetches the file from its URL; the text goes with it.
            cap.MEDIA_IMAGE,
            cap.MEDIA_VIDEO,
            cap.MEDIA_AUDIO,
            cap.MEDIA_DOCUMENT,
            cap.MEDIA_CAPTION,
        }
    )
    status_map: ClassVar[Mapping[str, Status]] = {
        "accepted": Status.QUEUED,
        "queued": Status.QUEUED,
        "scheduled": Status.SCHEDULED,
        # Handed to the carrier, not yet taken by it.
        "sending": Status.QUEUED,
        "sent": Status.SENT,
        "delivered": Status.DELIVERED,
        # WhatsApp through Twilio only; an SMS is never read as far as Twilio knows.
        "read": Status.READ,
        # The carrier could not deliver it: as final as a refusal.
        "undelivered": Status.FAILED,
        "failed": Status.FAILED,
        "canceled": Status.CANCELED,
    }

    @property
    def account_sid(self) -> str:
        """The account's SID (``AC…``)."""
        return self.credentials.secret("account_sid")

    def _auth(self) -> httpx.BasicAuth:
        return httpx.BasicAuth(self.account_sid, self.credentials.secret("auth_token"))

    def _account_url(self, path: str) -> str:
        return f"{self.api_base}/{API_VERSION}/Accounts/{self.account_sid}/{path}"

    def build_request(self, message: OutboundMessage) -> ProviderRequest:
        """The ``Messages.json`` call; raises ``UnsupportedContent`` for what SMS cannot carry.

        Interactive messages, templates, locations, contacts, reactions, voice notes and
        replies to a message have no SMS or MMS form (``degrade`` renders them as text);
        a body over 1600 characters is more than Twilio takes.
        """
        missing = cap.missing_features(
            message.content, self.capabilities, reply_to=message.reply_to is not None
        )
        if missing:
            raise UnsupportedContent(CHANNEL, missing[0])
        content = message.content
        form: dict[str, str] = {
            "To": message.recipient,
            "From": self.credentials.secret("from_number"),
        }
        if content["type"] == "text":
            form["Body"] = str(content["text"])
        else:  # media: what the capabilities let through
            media = content["media"]
            if media.get("caption"):
                form["Body"] = str(media["caption"])
            form["MediaUrl"] = str(media["url"])
        if len(form.get("Body", "")) > MAX_BODY:
            # Twilio refuses it (21617): better a 422 at accept than a failure at send.
            raise UnsupportedContent(CHANNEL, f"text longer than {MAX_BODY} characters")
        if self.inbound_url is not None:
            form["StatusCallback"] = self.inbound_url
        return ProviderRequest(
            method="POST",
            url=self._account_url("Messages.json"),
            # The credentials are added at send time, so that a built request never holds them.
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            data=form,
        )

    async def send(self, request: ProviderRequest, http: httpx.AsyncClient) -> SendResult:
        """Make the call; the ``sid`` of the created message."""
        try:
            response = await http.request(
                request.method,
                request.url,
                data=dict(request.data or {}),
                headers=dict(request.headers),
                auth=self._auth(),
            )
        except httpx.TransportError as exc:
            raise error_from_transport(exc) from exc
        if response.status_code >= 400:
            raise twilio_error(response)
        answer = _json_or_none(response)
        sid = answer.get("sid") if isinstance(answer, dict) else None
        if not isinstance(sid, str) or not sid:
            # Accepted but unnamed: trying again could send the message twice.
            raise ProviderError("bad_response", "the answer names no message sid", retryable=False)
        return SendResult(provider_message_id=sid)

    def _signed_url(self, request: RawRequest) -> str:
        """The URL Twilio signed: the connection's inbound URL as configured (with the
        request's query string), or, without one, the URL the request reached."""
        if self.inbound_url is None:
            return request.url
        query = urlsplit(request.url).query
        return f"{self.inbound_url}?{query}" if query else self.inbound_url

    def verify(self, request: RawRequest) -> None:
        """Check ``X-Twilio-Signature`` with the auth token, as Twilio computes it."""
        given = request.headers.get(SIGNATURE_HEADER)
        if not given:
            raise SignatureError(f"missing {SIGNATURE_HEADER}")
        token = self.credentials.secret("auth_token")
        try:
            matches = signature_matches(token, self._signed_url(request), request.body, given)
        except ValueError:  # a body that is not UTF-8 was never signed by Twilio
            matches = False
        if not matches:
            raise SignatureError(f"{SIGNATURE_HEADER} does not match the request")

    def parse(self, request: RawRequest) -> list[InboundEvent]:
        """Incoming messages and status callbacks; raises ``ValueError`` on an unreadable body."""
        return parse_webhook(request.body, self.status_map)

    def webhook_answer(self) -> tuple[bytes, str] | None:
        """An empty TwiML response: accepted, and nothing to send back."""
        return EMPTY_TWIML, "text/xml"

    async def download_media(
        self,
        reference: str,
        http: httpx.AsyncClient,
        sink: MediaSink,
        *,
        max_bytes: int | None = None,
    ) -> MediaInfo:
        """Stream an MMS attachment (``{MessageSid}/{MediaSid}``) into ``sink`` (≤ 5 MB).

        The media URL is built on the connection's ``api_base``, never taken from the
        webhook, so that the credentials only go to Twilio (or the emulator).
        """
        found = MEDIA_REFERENCE.fullmatch(reference)
        if found is None:
            raise ProviderError(
                "invalid_reference", "not a Twilio media reference", retryable=False
            )
        url = self._account_url(f"Messages/{found['message']}/Media/{found['media']}")
        limit = media_limit(MAX_MEDIA_BYTES, max_bytes)
        mime_type = await self._stream(url, http, sink, limit)
        return MediaInfo(mime_type=mime_type)

    async def _stream(
        self, url: str, http: httpx.AsyncClient, sink: MediaSink, limit: int
    ) -> str | None:
        """Follow Twilio's redirect to its CDN (HTTPS only; the credentials stay with the
        first host) and stream the file; its content type."""

        def https_off_host(hop: str, own: bool) -> None:
            if not own and urlsplit(hop).scheme != "https":
                raise ProviderError(
                    "media_host_refused", "a media redirect must be HTTPS", retryable=False
                )

        async def refusal(response: httpx.Response) -> ProviderError:
            return twilio_error(response)

        return await stream_download(
            url, http, sink, limit=limit, check=https_off_host, refusal=refusal, auth=self._auth()
        )


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def twilio_error(response: httpx.Response) -> ProviderError:
    """Classify a refused call: 429 (20429) and 5xx are retryable, the rest are final.

    The code is Twilio's (``"21211"``) and the message its ``message`` (or, in the newer
    problem-details shape, ``detail``); a ``Retry-After`` header is the retry hint.
    """
    status = response.status_code
    answer = _json_or_none(response)
    code = answer.get("code") if isinstance(answer, dict) else None
    if not isinstance(code, int):
        text = response.text[:200] or response.reason_phrase
        return error_from_status(status, f"http_{status}", text, headers=response.headers)
    message = str(
        answer.get("message")
        or answer.get("detail")
        or answer.get("title")
        or response.reason_phrase
    )
    error = error_from_status(status, str(code), message, headers=response.headers)
    if code in RETRYABLE_CODES and not error.retryable:
        return ProviderError(str(code), message, retryable=True, status_code=status)
    return error
