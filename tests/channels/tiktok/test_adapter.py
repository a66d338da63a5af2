"""The TikTok adapter against scripted answers: bodies, the upload, errors, signatures."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from chatgate.channels import tiktok_wire
from chatgate.channels.base import (
    ChannelSettings,
    OutboundMessage,
    ProviderError,
    RawRequest,
    SignatureError,
    UnknownEvent,
    UnsupportedContent,
)
from chatgate.channels.tiktok import MAX_IMAGE, TikTokAdapter
from chatgate.channels.tiktok_build import IMAGE_URL
from chatgate.guarded_http import guarded_client
from chatgate.net_guard import NetworkPolicy
from tests.channels.tiktok.contract import (
    ACCESS_TOKEN,
    BUSINESS_ID,
    CLIENT_SECRET,
    CONVERSATION_ID,
    credentials,
    envelope,
    signature,
)

API = "http://127.0.0.1:9"
SEND_URL = f"{API}/open_api/v1.3/business/message/send/"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

Handler = Callable[[httpx.Request], httpx.Response]


def _adapter(api_base: str | None = API) -> TikTokAdapter:
    return TikTokAdapter(credentials(), ChannelSettings(api_base=api_base))


def _message(content: dict[str, Any], reply_to: str | None = None) -> OutboundMessage:
    return OutboundMessage(
        id="msg_01JTIKTOK000000000000000000",
        channel="tiktok",
        sender=None,
        recipient=CONVERSATION_ID,
        content=content,
        reply_to=reply_to,
        metadata=None,
    )


def _image(url: str = f"{API}/files/cat.png") -> dict[str, Any]:
    return {"type": "media", "media": {"kind": "image", "url": url}}


def _ok(data: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json={"code": 0, "message": "OK", "request_id": "r1", "data": data})


def _refused(code: int, message: str) -> httpx.Response:
    return httpx.Response(200, json={"code": code, "message": message, "data": {}})


def _client(handler: Handler) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


# -- building -------------------------------------------------------------------------------


def test_a_text_longer_than_tiktok_takes_is_refused() -> None:
    with pytest.raises(UnsupportedContent) as refused:
        _adapter().build_request(_message({"type": "text", "text": "x" * 6001}))
    assert refused.value.feature == "text"
    # 6000 characters, emoji counted as one each, still go.
    _adapter().build_request(_message({"type": "text", "text": "😊" * 6000}))


def test_an_image_waits_for_its_upload() -> None:
    request = _adapter().build_request(_message(_image()))
    assert request.json == {
        "business_id": BUSINESS_ID,
        "recipient_type": "CONVERSATION",
        "recipient": CONVERSATION_ID,
        "message_type": "IMAGE",
    }
    assert request.context == {IMAGE_URL: f"{API}/files/cat.png"}
    # The token is added at send, so a built request can be shown.
    assert ACCESS_TOKEN not in json.dumps(dict(request.headers))


@pytest.mark.parametrize(
    ("media", "reply_to", "feature"),
    [
        ({"kind": "image", "url": "https://x.test/a.jpg", "caption": "hi"}, None, "media.caption"),
        ({"kind": "image", "url": "https://x.test/a.jpg"}, "earlier", "reply_to"),
        ({"kind": "audio", "url": "https://x.test/a.ogg", "voice": True}, None, "media.voice"),
        ({"kind": "document", "url": "https://x.test/a.pdf"}, None, "media.document"),
    ],
)
def test_what_an_image_cannot_be(media: dict[str, Any], reply_to: str | None, feature: str) -> None:
    with pytest.raises(UnsupportedContent) as refused:
        _adapter().build_request(_message({"type": "media", "media": media}, reply_to))
    assert (refused.value.channel, refused.value.feature) == ("tiktok", feature)


def test_the_api_version_is_a_setting() -> None:
    adapter = TikTokAdapter(credentials(), ChannelSettings(api_base=API, api_version="v1.4"))
    request = adapter.build_request(_message({"type": "text", "text": "hi"}))
    assert request.url == f"{API}/open_api/v1.4/business/message/send/"
    default = _adapter(None).build_request(_message({"type": "text", "text": "hi"}))
    assert default.url == "https://business-api.tiktok.com/open_api/v1.3/business/message/send/"


# -- sending --------------------------------------------------------------------------------


async def test_a_text_is_sent_with_the_token_header() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _ok({"message": {"message_id": "b2Nm4kLo6pQr8sTu0vWx2yZa4Bc="}})

    adapter = _adapter()
    request = adapter.build_request(_message({"type": "text", "text": "Hi 👋"}))
    async with _client(answer) as http:
        result = await adapter.send(request, http)
    assert result.provider_message_id == "b2Nm4kLo6pQr8sTu0vWx2yZa4Bc="
    [call] = seen
    assert str(call.url) == SEND_URL
    assert call.headers["access-token"] == ACCESS_TOKEN
    assert "authorization" not in call.headers
    assert json.loads(call.content) == request.json


@pytest.mark.parametrize(
    ("code", "retryable", "retry_after"),
    [
        (40100, True, tiktok_wire.THROTTLE_FLOOR),
        (51065, True, None),
        (50000, True, None),
        (40064, False, None),
        (40002, False, None),
        (40105, False, None),
        (40001, False, None),
    ],
)
async def test_refusals_come_as_200_with_a_code(
    code: int, retryable: bool, retry_after: float | None
) -> None:
    adapter = _adapter()
    request = adapter.build_request(_message({"type": "text", "text": "hi"}))
    async with _client(lambda _: _refused(code, f"refused {code}")) as http:
        with pytest.raises(ProviderError) as refused:
            await adapter.send(request, http)
    error = refused.value
    assert (error.code, error.message, error.retryable, error.retry_after) == (
        str(code),
        f"refused {code}",
        retryable,
        retry_after,
    )


@pytest.mark.parametrize(
    ("response", "code", "retryable"),
    [
        (httpx.Response(502, text="Bad Gateway"), "http_502", True),
        (httpx.Response(404, text="Not Found"), "http_404", False),
        (httpx.Response(200, text="<html>"), "bad_response", True),
        (_ok({}), "bad_response", True),
    ],
)
async def test_answers_without_a_usable_envelope(
    response: httpx.Response, code: str, retryable: bool
) -> None:
    adapter = _adapter()
    request = adapter.build_request(_message({"type": "text", "text": "hi"}))
    async with _client(lambda _: response) as http:
        with pytest.raises(ProviderError) as refused:
            await adapter.send(request, http)
    assert (refused.value.code, refused.value.retryable) == (code, retryable)


async def test_a_network_failure_is_retryable() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    adapter = _adapter()
    request = adapter.build_request(_message({"type": "text", "text": "hi"}))
    async with _client(fail) as http:
        with pytest.raises(ProviderError) as refused:
            await adapter.send(request, http)
    assert (refused.value.code, refused.value.retryable) == ("network_error", True)


def _image_host(
    image: httpx.Response, calls: list[httpx.Request], upload: httpx.Response | None = None
) -> Handler:
    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        path = request.url.path
        if path.startswith("/files/"):
            return image
        if path.endswith("/media/upload/"):
            return upload or _ok({"media_id": "v1cafe"})
        return _ok({"message": {"message_id": "img-1"}})

    return answer


async def test_an_image_is_fetched_uploaded_then_sent_by_media_id() -> None:
    calls: list[httpx.Request] = []
    image = httpx.Response(200, content=PNG, headers={"content-type": "image/png"})
    adapter = _adapter()
    request = adapter.build_request(_message(_image()))
    async with _client(_image_host(image, calls)) as http:
        result = await adapter.send(request, http)
    assert result.provider_message_id == "img-1"
    fetch, upload, send = calls
    assert (fetch.method, fetch.url.path, fetch.headers["host"]) == (
        "GET",
        "/files/cat.png",
        "127.0.0.1:9",
    )
    # The image host never sees the token.
    assert "access-token" not in fetch.headers
    assert upload.url.path == "/open_api/v1.3/business/message/media/upload/"
    assert upload.headers["access-token"] == ACCESS_TOKEN
    form = upload.content
    assert b'name="business_id"\r\n\r\n' + BUSINESS_ID.encode() in form
    assert b'name="media_type"\r\n\r\nIMAGE' in form
    assert b'name="file"; filename="cat.png"' in form
    assert PNG in form
    assert json.loads(send.content) == {**request.json, "image": {"media_id": "v1cafe"}}


@pytest.mark.parametrize(
    ("image", "code"),
    [
        (
            httpx.Response(200, content=b"GIF89a", headers={"content-type": "image/gif"}),
            "unsupported_media_type",
        ),
        (
            httpx.Response(
                200, content=b"\xff" * (MAX_IMAGE + 1), headers={"content-type": "image/jpeg"}
            ),
            "media_too_large",
        ),
        (httpx.Response(404), "media_unreachable"),
        (httpx.Response(302, headers={"location": "http://10.0.0.1/x.png"}), "media_redirected"),
    ],
)
async def test_an_image_tiktok_would_not_take_is_refused_before_upload(
    image: httpx.Response, code: str
) -> None:
    calls: list[httpx.Request] = []
    adapter = _adapter()
    async with _client(_image_host(image, calls)) as http:
        with pytest.raises(ProviderError) as refused:
            await adapter.send(adapter.build_request(_message(_image())), http)
    assert (refused.value.code, refused.value.retryable) == (code, False)
    assert [call.url.path for call in calls] == ["/files/cat.png"]


async def test_an_image_at_a_private_address_is_never_fetched() -> None:
    adapter = _adapter()
    request = adapter.build_request(_message(_image("http://10.1.2.3/cat.png")))
    # The gateway's own client: its connections go only where the network policy allows.
    async with guarded_client(NetworkPolicy(), timeout=httpx.Timeout(5.0)) as http:
        with pytest.raises(ProviderError) as refused:
            await adapter.send(request, http)
    assert (refused.value.code, refused.value.retryable) == ("address_refused", False)


async def test_a_refused_upload_fails_the_send() -> None:
    calls: list[httpx.Request] = []
    image = httpx.Response(200, content=PNG, headers={"content-type": "image/png"})
    upload = _refused(40908, "Unsupported file")
    adapter = _adapter()
    async with _client(_image_host(image, calls, upload)) as http:
        with pytest.raises(ProviderError) as refused:
            await adapter.send(adapter.build_request(_message(_image())), http)
    assert (refused.value.code, refused.value.retryable) == ("40908", False)
    assert len(calls) == 2  # no send after the refused upload


# -- signatures -----------------------------------------------------------------------------


def _webhook(body: bytes, headers: dict[str, str]) -> RawRequest:
    return RawRequest("POST", "http://gateway/inbound/ch_1", headers, {}, body)


BODY = json.dumps(envelope("im_send_msg", {"conversation_id": CONVERSATION_ID})).encode()


@pytest.mark.parametrize("age", [0, 299, -299])
def test_a_signature_within_five_minutes_is_accepted(age: int) -> None:
    _adapter().verify(_webhook(BODY, signature(BODY, at=int(time.time()) - age)))


@pytest.mark.parametrize("age", [301, -301, 86_400])
def test_a_stale_or_future_signature_is_refused(age: int) -> None:
    # Right for the body, but signed too long ago (or ahead): a replay.
    with pytest.raises(SignatureError, match="too old"):
        _adapter().verify(_webhook(BODY, signature(BODY, at=int(time.time()) - age)))


@pytest.mark.parametrize(
    "header",
    ["", "s=abc", "t=abc,s=abc", "t=1733130000", "v1=deadbeef", "t=1733130000,s="],
)
def test_a_malformed_signature_is_refused(header: str) -> None:
    with pytest.raises(SignatureError):
        _adapter().verify(_webhook(BODY, {"tiktok-signature": header}))


def test_the_signature_covers_the_time() -> None:
    now = int(time.time())
    signed = signature(BODY, at=now)["tiktok-signature"]
    moved = signed.replace(f"t={now}", f"t={now - 1}")
    with pytest.raises(SignatureError, match="does not match"):
        _adapter().verify(_webhook(BODY, {"tiktok-signature": moved}))


def test_the_signature_is_hmac_sha256_of_time_dot_body() -> None:
    expected = hmac.new(b"secret", b"1700000000.{}", hashlib.sha256).hexdigest()
    assert tiktok_wire.sign("secret", b"{}", 1700000000) == f"t=1700000000,s={expected}"


# -- parsing --------------------------------------------------------------------------------


def test_content_that_is_not_json_is_kept_as_malformed() -> None:
    body = {**envelope("im_receive_msg", {}), "content": "{not json"}
    raw = json.dumps(body).encode()
    assert _adapter().parse(_webhook(raw, {})) == [UnknownEvent(kind="malformed", raw=body)]


def test_a_message_missing_its_ids_is_kept_as_malformed() -> None:
    body = envelope("im_receive_msg", {"type": "text", "text": {"body": "hi"}})
    [event] = _adapter().parse(_webhook(json.dumps(body).encode(), {}))
    assert event == UnknownEvent(kind="malformed", raw=body)


def test_a_body_that_is_not_json_is_an_error() -> None:
    with pytest.raises(ValueError, match="Expecting value"):
        _adapter().parse(_webhook(b"not json", {}))


# -- inbound media --------------------------------------------------------------------------

REFERENCE = f"IMAGE:{CONVERSATION_ID}:p9Kd0aQe7mWkXc1Ln4ZsTb2RyHg=:v0abc"


def _media_host(content: bytes, calls: list[httpx.Request]) -> Handler:
    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if request.url.path.endswith("/media/download/"):
            return _ok({"download_url": "https://cdn.tiktok.test/obj/abc?x-expires=1"})
        return httpx.Response(200, content=content, headers={"content-type": "image/jpeg"})

    return answer


async def test_an_inbound_image_is_downloaded_through_its_download_url() -> None:
    calls: list[httpx.Request] = []
    async with _client(_media_host(b"JPEGDATA", calls)) as http:
        file = await _adapter().fetch_media(REFERENCE, http)
    assert (file.content, file.mime_type) == (b"JPEGDATA", "image/jpeg")
    ask, fetch = calls
    assert ask.headers["access-token"] == ACCESS_TOKEN
    assert json.loads(ask.content) == {
        "business_id": BUSINESS_ID,
        "conversation_id": CONVERSATION_ID,
        "message_id": "p9Kd0aQe7mWkXc1Ln4ZsTb2RyHg=",
        "media_id": "v0abc",
        "media_type": "IMAGE",
    }
    assert fetch.url.host == "cdn.tiktok.test"
    assert "access-token" not in fetch.headers


async def test_a_download_past_the_limit_is_refused() -> None:
    calls: list[httpx.Request] = []
    async with _client(_media_host(b"x" * 1000, calls)) as http:
        with pytest.raises(ProviderError) as refused:
            await _adapter().fetch_media(REFERENCE, http, max_bytes=100)
    assert (refused.value.code, refused.value.retryable) == ("media_too_large", False)


@pytest.mark.parametrize("reference", ["v0abc", "AUDIO:a:b:c", "IMAGE:a::c", "https://x.test/a"])
async def test_a_reference_of_no_tiktok_shape_is_refused(reference: str) -> None:
    async with _client(lambda _: _ok({})) as http:
        with pytest.raises(ProviderError) as refused:
            await _adapter().fetch_media(reference, http)
    assert refused.value.code == "invalid_reference"


def test_credentials_are_the_issues_names() -> None:
    fields = set(credentials().model_dump())
    assert fields == {"access_token", "business_id", "client_secret"}
    assert ACCESS_TOKEN not in repr(credentials())
    assert CLIENT_SECRET not in repr(credentials())
