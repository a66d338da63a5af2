"""The ``sms`` channel's Twilio provider: credentials, signatures, sends, errors, media."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
from pydantic import ValidationError

from chatgate.channels.base import (
    ChannelSettings,
    OutboundMessage,
    ProviderError,
    RawRequest,
    SignatureError,
    UnknownEvent,
    UnsupportedContent,
)
from chatgate.channels.registry import adapter_class
from chatgate.channels.sms import SmsAdapter, SmsCredentials
from chatgate.channels.sms_twilio import EMPTY_TWIML, TwilioSmsAdapter
from chatgate.channels.sms_twilio_wire import compute_signature, signature_matches
from chatgate.domain.degrade import render_down
from chatgate.errors import InvalidRequest
from chatgate.services.channels import validate_credentials
from tests.channels.sms import contract

API_BASE = "https://api.twilio.com"
MESSAGES = f"{API_BASE}/2010-04-01/Accounts/{contract.ACCOUNT_SID}/Messages.json"
PUBLIC_URL = "https://chat.example.com/inbound/ch_01JTWILIO00000000000000000"
MM = "MM" + "c3" * 16
ME = "ME" + "e5" * 16


def _adapter(inbound_url: str | None = PUBLIC_URL) -> SmsAdapter:
    return SmsAdapter(contract.credentials(), ChannelSettings(), inbound_url=inbound_url)


def _message(content: dict[str, Any], reply_to: str | None = None) -> OutboundMessage:
    return OutboundMessage(
        id="msg_01TEST",
        channel="sms",
        sender=None,
        recipient=contract.USER_NUMBER,
        content=content,
        reply_to=reply_to,
        metadata=None,
    )


TEXT = _message({"type": "text", "text": "Your code is 1234 ✓"})

# -- credentials --------------------------------------------------------------------------

TWILIO = {
    "provider": "twilio",
    "account_sid": contract.ACCOUNT_SID,
    "auth_token": contract.AUTH_TOKEN,
    "from_number": contract.FROM_NUMBER,
}


def test_the_registry_names_the_sms_adapter_and_it_delegates_to_twilio() -> None:
    assert adapter_class("sms") is SmsAdapter
    adapter = _adapter()
    assert isinstance(adapter.provider, TwilioSmsAdapter)
    assert adapter.capabilities == TwilioSmsAdapter.capabilities == SmsAdapter.capabilities
    assert adapter.status_map == TwilioSmsAdapter.status_map
    assert adapter.api_base == API_BASE


def test_twilio_credentials_keep_the_token_secret() -> None:
    credentials = SmsCredentials.model_validate(TWILIO)
    assert credentials.provider == "twilio"
    assert contract.AUTH_TOKEN not in repr(credentials)
    assert credentials.plain() == TWILIO


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"provider": "smpp"}, "account_sid", "not a credential of provider smpp"),
        ({"provider": "carrier-pigeon"}, "provider", "'twilio' or 'smpp'"),
        ({"account_sid": None}, "account_sid", "required with provider twilio"),
        ({"auth_token": None}, "auth_token", "required with provider twilio"),
        ({"from_number": None}, "from_number", "required with provider twilio"),
        ({"account_sid": "AC123"}, "account_sid", "32 hexadecimal digits"),
        ({"from_number": "+1 (415) 555"}, "from_number", "E.164"),
        ({"host": "smsc.example.com"}, "host", "not a credential of provider twilio"),
    ],
)
def test_credentials_are_refused_naming_the_field(
    change: dict[str, Any], field: str, says: str
) -> None:
    values = {k: v for k, v in {**TWILIO, **change}.items() if v is not None}
    with pytest.raises(ValidationError) as refused:
        SmsCredentials.model_validate(values)
    first = refused.value.errors()[0]
    assert first["loc"] == (field,)
    assert says in first["msg"]
    # A refused secret is never printed back.
    assert contract.AUTH_TOKEN not in str(refused.value)


def test_smpp_credentials_are_taken_at_channel_creation() -> None:
    smpp = {
        "provider": "smpp",
        "host": "smsc.example.com",
        "port": 2775,
        "system_id": "chatgate",
        "password": "secret",
        "source_addr": "Chatgate",
    }
    taken = validate_credentials("sms", smpp)
    assert isinstance(taken, SmsCredentials)
    assert taken.plain() == smpp
    with pytest.raises(InvalidRequest) as refused:
        validate_credentials("sms", {**smpp, "port": 0})
    assert refused.value.field == "credentials.port"


# -- building requests ----------------------------------------------------------------------


def test_a_text_goes_as_it_is_with_the_status_callback() -> None:
    request = _adapter().build_request(TEXT)
    assert (request.method, request.url, request.json) == ("POST", MESSAGES, None)
    assert request.data == {
        "To": contract.USER_NUMBER,
        "From": contract.FROM_NUMBER,
        "Body": "Your code is 1234 ✓",
        "StatusCallback": PUBLIC_URL,
    }
    # The built request never holds the credentials.
    assert contract.AUTH_TOKEN not in repr(request) + str(request.headers)


def test_without_an_inbound_url_no_status_callback_is_asked_for() -> None:
    request = _adapter(inbound_url=None).build_request(TEXT)
    assert request.data is not None
    assert "StatusCallback" not in request.data


def test_api_base_replaces_twilios_host() -> None:
    adapter = SmsAdapter(
        contract.credentials(), ChannelSettings(api_base="http://127.0.0.1:9/twilio")
    )
    url = adapter.build_request(TEXT).url
    assert (
        url == f"http://127.0.0.1:9/twilio/2010-04-01/Accounts/{contract.ACCOUNT_SID}/Messages.json"
    )


@pytest.mark.parametrize(
    ("content", "reply_to", "feature"),
    [
        ({"type": "location", "location": {"latitude": 1.0, "longitude": 2.0}}, None, "location"),
        ({"type": "reaction", "reaction": {"message_id": "SM1", "emoji": "👍"}}, None, "reaction"),
        (
            {
                "type": "media",
                "media": {"url": "https://x.example/n.ogg", "kind": "audio", "voice": True},
            },
            None,
            "media.voice",
        ),
        ({"type": "text", "text": "yes"}, "SM" + "0" * 32, "reply_to"),
    ],
)
def test_what_sms_cannot_carry_is_refused(
    content: dict[str, Any], reply_to: str | None, feature: str
) -> None:
    with pytest.raises(UnsupportedContent) as refused:
        _adapter().build_request(_message(content, reply_to))
    assert (refused.value.channel, refused.value.feature) == ("sms", feature)


def test_a_body_twilio_would_refuse_for_its_length_is_refused_at_build() -> None:
    assert _adapter().build_request(_message({"type": "text", "text": "a" * 1600}))
    with pytest.raises(UnsupportedContent) as refused:
        _adapter().build_request(_message({"type": "text", "text": "a" * 1601}))
    assert refused.value.feature == "text longer than 1600 characters"


def test_degrade_renders_a_location_down_to_a_text_sms_carries() -> None:
    location = {
        "type": "location",
        "location": {"latitude": 48.8584, "longitude": 2.2945, "name": "Tour Eiffel"},
    }
    rendered = render_down(location, _adapter().capabilities, reply_to=True)
    assert rendered.content["type"] == "text"
    assert not rendered.keeps_reply_to
    request = _adapter().build_request(_message(rendered.content))
    assert request.data is not None
    assert "Tour Eiffel" in request.data["Body"]


# -- sending --------------------------------------------------------------------------------


def _answer(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.MockTransport:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.Response(status, content=content, headers=headers)

    transport = httpx.MockTransport(handle)
    transport.seen = seen  # type: ignore[attr-defined]
    return transport


async def test_a_send_is_form_encoded_with_basic_auth_and_named_by_its_sid() -> None:
    sid = "SM" + "ab" * 16
    transport = _answer(201, {"sid": sid, "status": "queued", "num_segments": "1"})
    adapter = _adapter()
    async with httpx.AsyncClient(transport=transport) as http:
        result = await adapter.send(adapter.build_request(TEXT), http)
    assert result.provider_message_id == sid
    [request] = transport.seen  # type: ignore[attr-defined]
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    token = base64.b64encode(f"{contract.ACCOUNT_SID}:{contract.AUTH_TOKEN}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {token}"
    assert dict(parse_qsl(request.content.decode())) == adapter.build_request(TEXT).data


def _twilio_error(status: int, code: int, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


@pytest.mark.parametrize(
    ("status", "code", "retryable"),
    [
        (400, 21211, False),  # invalid To
        (400, 21610, False),  # the user texted STOP
        (400, 21614, False),  # not a mobile number
        (400, 21408, False),  # region not enabled
        (400, 21608, False),  # unverified number on a trial account
        (401, 20003, False),  # wrong credentials
        (429, 20429, True),  # too many requests
        (500, 20500, True),
        (503, 20503, True),
    ],
)
async def test_errors_keep_twilios_code_and_are_classified(
    status: int, code: int, retryable: bool
) -> None:
    transport = _answer(status, _twilio_error(status, code, f"error {code}"))
    adapter = _adapter()
    async with httpx.AsyncClient(transport=transport) as http:
        with pytest.raises(ProviderError) as refused:
            await adapter.send(adapter.build_request(TEXT), http)
    error = refused.value
    assert (error.code, error.message, error.retryable, error.status_code) == (
        str(code),
        f"error {code}",
        retryable,
        status,
    )


async def test_a_retry_after_header_is_the_hint() -> None:
    transport = _answer(429, _twilio_error(429, 20429, "Too Many Requests"), {"Retry-After": "7"})
    adapter = _adapter()
    async with httpx.AsyncClient(transport=transport) as http:
        with pytest.raises(ProviderError) as refused:
            await adapter.send(adapter.build_request(TEXT), http)
    assert (refused.value.retryable, refused.value.retry_after) == (True, 7.0)


async def test_a_gateway_error_without_twilios_body_is_retryable() -> None:
    adapter = _adapter()
    async with httpx.AsyncClient(transport=_answer(502, b"<html>Bad Gateway</html>")) as http:
        with pytest.raises(ProviderError) as refused:
            await adapter.send(adapter.build_request(TEXT), http)
    assert (refused.value.code, refused.value.retryable) == ("http_502", True)


async def test_an_answer_without_a_sid_is_not_retried() -> None:
    adapter = _adapter()
    async with httpx.AsyncClient(transport=_answer(201, {"status": "queued"})) as http:
        with pytest.raises(ProviderError) as refused:
            await adapter.send(adapter.build_request(TEXT), http)
    # Twilio took the message: another try could send it twice.
    assert (refused.value.code, refused.value.retryable) == ("bad_response", False)


async def test_a_network_failure_is_retryable() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    adapter = _adapter()
    async with httpx.AsyncClient(transport=httpx.MockTransport(fail)) as http:
        with pytest.raises(ProviderError) as refused:
            await adapter.send(adapter.build_request(TEXT), http)
    assert (refused.value.code, refused.value.retryable) == ("network_error", True)


# -- X-Twilio-Signature: Twilio's own vectors (twilio-python's request validator tests) --------

VECTOR_TOKEN = "12345"
VECTOR_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
VECTOR_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
    "Caller": "+14158675309",
}
VECTOR_BODY = urlencode(VECTOR_PARAMS).encode()


def test_the_signature_is_twilios_for_its_documented_vector() -> None:
    params = list(VECTOR_PARAMS.items())
    assert compute_signature(VECTOR_TOKEN, VECTOR_URL, params) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_repeated_parameters_are_signed_with_their_values_sorted() -> None:
    params = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234")]
    assert compute_signature(VECTOR_TOKEN, VECTOR_URL, params) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="


@pytest.mark.parametrize(
    ("url", "signature"),
    [
        (VECTOR_URL, "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
        # A port in the URL: Twilio may have signed it without...
        (VECTOR_URL.replace(".com", ".com:1234"), "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
        # ... or with it.
        (
            VECTOR_URL.replace(".com", ".com:1234").replace("https", "http"),
            "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=",
        ),
        # No port in the URL: Twilio may have signed it with the default one.
        (VECTOR_URL, "kvajT1Ptam85bY51eRf/AJRuM3w="),
        (VECTOR_URL.replace("https", "http"), "0ZXoZLH/DfblKGATFgpif+LLRf4="),
    ],
)
def test_the_signature_is_checked_with_and_without_the_port(url: str, signature: str) -> None:
    assert signature_matches(VECTOR_TOKEN, url, VECTOR_BODY, signature)


def test_a_json_body_is_signed_through_its_hash_in_the_url() -> None:
    body = b'{"property": "value", "boolean": true}'
    body_hash = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
    url = f"{VECTOR_URL}&bodySHA256={body_hash}"
    assert signature_matches(VECTOR_TOKEN, url, body, "a9nBmqA0ju/hNViExpshrM61xv4=")
    assert not signature_matches(VECTOR_TOKEN, url, body + b" ", "a9nBmqA0ju/hNViExpshrM61xv4=")


def test_a_changed_parameter_or_another_token_is_refused() -> None:
    signature = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    changed = urlencode({**VECTOR_PARAMS, "Digits": "9999"}).encode()
    assert not signature_matches(VECTOR_TOKEN, VECTOR_URL, changed, signature)
    assert not signature_matches("54321", VECTOR_URL, VECTOR_BODY, signature)


def _webhook(url: str, params: dict[str, str], signed_url: str, token: str) -> RawRequest:
    signature = contract.twilio_signature(token, signed_url, list(params.items()))
    body = urlencode(params).encode()
    return RawRequest("POST", url, {"x-twilio-signature": signature}, {}, body)


STATUS = {"MessageSid": "SM" + "0f" * 16, "MessageStatus": "delivered", "To": "+14155550123"}


def test_the_signed_url_is_the_public_inbound_url_not_the_one_behind_a_proxy() -> None:
    behind_proxy = "http://10.0.0.5:8000/inbound/ch_01JTWILIO00000000000000000"
    adapter = _adapter()
    adapter.verify(_webhook(behind_proxy, STATUS, PUBLIC_URL, contract.AUTH_TOKEN))
    with pytest.raises(SignatureError):
        adapter.verify(_webhook(behind_proxy, STATUS, behind_proxy, contract.AUTH_TOKEN))


def test_the_query_string_twilio_requested_is_signed_too() -> None:
    adapter = _adapter()
    request = _webhook(
        "http://10.0.0.5:8000/inbound/ch_01JTWILIO00000000000000000?retry=1",
        STATUS,
        f"{PUBLIC_URL}?retry=1",
        contract.AUTH_TOKEN,
    )
    adapter.verify(request)


def test_without_an_inbound_url_the_url_reached_is_the_signed_one() -> None:
    url = "https://gw.example.com/inbound/ch_01JTWILIO00000000000000000"
    _adapter(inbound_url=None).verify(_webhook(url, STATUS, url, contract.AUTH_TOKEN))


def test_a_body_that_is_not_utf8_is_refused() -> None:
    request = RawRequest("POST", PUBLIC_URL, {"x-twilio-signature": "AAAA"}, {}, b"Body=\xff\xfe")
    with pytest.raises(SignatureError):
        _adapter().verify(request)


# -- webhooks: the answer, JSON bodies ---------------------------------------------------------


def test_webhooks_are_answered_with_empty_twiml() -> None:
    body, media_type = _adapter().webhook_answer() or (b"", "")
    assert (body, media_type) == (EMPTY_TWIML, "text/xml")
    assert body.endswith(b"<Response/>")


def test_a_json_body_is_kept_unknown() -> None:
    request = RawRequest("POST", PUBLIC_URL, {}, {}, b'{"event": "something else"}')
    assert _adapter().parse(request) == [
        UnknownEvent(kind="unknown", raw={"event": "something else"})
    ]


def test_an_unreadable_body_is_a_value_error() -> None:
    with pytest.raises(UnicodeDecodeError):
        _adapter().parse(RawRequest("POST", PUBLIC_URL, {}, {}, b"Body=\xff"))


# -- media of an incoming MMS ---------------------------------------------------------------


def _media_host(image: bytes, cdn: str = "https://media.twiliocdn.com") -> httpx.MockTransport:
    seen: list[httpx.Request] = []
    media_path = f"/2010-04-01/Accounts/{contract.ACCOUNT_SID}/Messages/{MM}/Media/{ME}"

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == media_path:
            if "authorization" not in request.headers:
                return httpx.Response(401)
            return httpx.Response(307, headers={"location": f"{cdn}/{ME}?sig=1"})
        return httpx.Response(200, content=image, headers={"content-type": "image/jpeg"})

    transport = httpx.MockTransport(handle)
    transport.seen = seen  # type: ignore[attr-defined]
    return transport


async def test_media_is_downloaded_with_basic_auth_which_stays_with_twilio() -> None:
    image = b"\xff\xd8\xff" + b"0" * 100
    transport = _media_host(image)
    async with httpx.AsyncClient(transport=transport) as http:
        found = await _adapter().fetch_media(f"{MM}/{ME}", http)
    assert (found.content, found.mime_type) == (image, "image/jpeg")
    first, second = transport.seen  # type: ignore[attr-defined]
    assert first.url.host == "api.twilio.com"
    assert "authorization" in first.headers
    assert second.url.host == "media.twiliocdn.com"
    assert "authorization" not in second.headers


async def test_media_larger_than_asked_is_refused() -> None:
    async with httpx.AsyncClient(transport=_media_host(b"0" * 500)) as http:
        with pytest.raises(ProviderError) as refused:
            await _adapter().fetch_media(f"{MM}/{ME}", http, max_bytes=100)
    assert (refused.value.code, refused.value.retryable) == ("media_too_large", False)


async def test_a_redirect_to_plain_http_elsewhere_is_refused() -> None:
    async with httpx.AsyncClient(transport=_media_host(b"x", cdn="http://10.0.0.9")) as http:
        with pytest.raises(ProviderError) as refused:
            await _adapter().fetch_media(f"{MM}/{ME}", http)
    assert refused.value.code == "media_host_refused"


@pytest.mark.parametrize(
    "reference", ["https://evil.example/steal", f"{MM}/{ME}/../x", "MM123/ME456"]
)
async def test_a_reference_that_is_not_twilios_is_refused_before_any_call(reference: str) -> None:
    transport = _media_host(b"x")
    async with httpx.AsyncClient(transport=transport) as http:
        with pytest.raises(ProviderError) as refused:
            await _adapter().fetch_media(reference, http)
    assert refused.value.code == "invalid_reference"
    assert transport.seen == []  # type: ignore[attr-defined]
