"""The Viber adapter alone: credentials, requests, error classification, callbacks, media."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from chatgate.channels.base import (
    ChannelSettings,
    InboundMessage,
    OutboundMessage,
    ProviderError,
    RawRequest,
    SignatureError,
    StatusUpdate,
    UnsupportedContent,
)
from chatgate.channels.viber import ERRORS, ViberAdapter, ViberCredentials, sign
from chatgate.domain.degrade import render_down
from chatgate.domain.status import Status
from tests.channels.viber import contract

API = "https://chatapi.viber.com"
TEXT = {"type": "text", "text": "hi"}


def _adapter(**settings: Any) -> ViberAdapter:
    return ViberAdapter(contract.credentials(), ChannelSettings(**settings))


def _message(content: dict[str, Any], reply_to: str | None = None) -> OutboundMessage:
    return OutboundMessage(
        id="msg_1",
        channel="viber",
        sender=None,
        recipient=contract.USER_ID,
        content=content,
        reply_to=reply_to,
        metadata=None,
    )


def _body(content: dict[str, Any], **settings: Any) -> dict[str, Any]:
    request = _adapter(**settings).build_request(_message(content))
    assert (request.method, request.url) == ("POST", f"{API}/pa/send_message")
    body: dict[str, Any] = request.json
    return body


def _unsupported(content: dict[str, Any], reply_to: str | None = None) -> str:
    with pytest.raises(UnsupportedContent) as caught:
        _adapter().build_request(_message(content, reply_to))
    assert caught.value.channel == "viber"
    return caught.value.feature


def _media(kind: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "media",
        "media": {"url": "https://cdn.example.com/f.bin", "kind": kind, **extra},
    }


# -- credentials and settings -----------------------------------------------------------------


def test_the_token_stays_out_of_reprs_and_built_requests() -> None:
    adapter = _adapter()
    request = adapter.build_request(_message(TEXT))
    for shown in (repr(contract.credentials()), repr(adapter.credentials), repr(request)):
        assert contract.AUTH_TOKEN not in shown
    assert contract.AUTH_TOKEN not in json.dumps(request.json)
    assert "X-Viber-Auth-Token" not in request.headers


@pytest.mark.parametrize("value", ["", "with space", "tab\there", "x" * 201, "ünïcode"])
def test_malformed_tokens_are_refused_without_echoing_them(value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ViberCredentials.model_validate({"auth_token": value})
    if value:
        assert value not in str(caught.value)
    assert "auth_token" in str(caught.value)


def test_the_sender_is_the_channels_name_and_avatar_setting() -> None:
    assert _body(TEXT)["sender"] == {"name": "Chatgate"}
    avatar = "https://cdn.example.com/bot.jpg"
    body = _body(TEXT, sender_name="Café Olé", sender_avatar=avatar)
    assert body["sender"] == {"name": "Café Olé", "avatar": avatar}


def test_a_sender_name_longer_than_vibers_28_characters_is_refused() -> None:
    with pytest.raises(ValidationError):
        ChannelSettings(sender_name="x" * 29)


# -- building requests ----------------------------------------------------------------------


def test_a_picture_without_caption_has_an_empty_text() -> None:
    assert _body(_media("image"))["text"] == ""


def test_picture_captions_past_512_characters_are_unsupported() -> None:
    assert _body(_media("image", caption="x" * 512))["text"] == "x" * 512
    assert _unsupported(_media("image", caption="x" * 513)) == "media.caption"


@pytest.mark.parametrize("kind", ["video", "document", "audio"])
def test_captions_exist_on_pictures_only(kind: str) -> None:
    assert _unsupported(_media(kind, caption="look")) == "media.caption"


def test_a_file_is_named_after_its_url_without_a_filename() -> None:
    content = {
        "type": "media",
        "media": {"url": "https://cdn.example.com/a/Rechnung%2042.pdf?x=1", "kind": "document"},
    }
    body = _body(content)
    assert (body["type"], body["file_name"], body["size"]) == ("file", "Rechnung 42.pdf", 0)


def test_replies_cannot_be_threaded() -> None:
    assert _unsupported(TEXT, reply_to="5897334563466712066") == "reply_to"


def test_several_contact_cards_or_none_with_a_phone_are_unsupported() -> None:
    card = {"name": "Ada", "phones": ["+447700900123"]}
    assert _unsupported({"type": "contact", "contacts": [card, card]}) == "contact"
    no_phone = {"name": "Ada", "emails": ["ada@example.com"]}
    assert _unsupported({"type": "contact", "contacts": [no_phone]}) == "contact"


def test_reply_choices_travel_in_tracking_data_and_links_do_not() -> None:
    content = {
        "type": "interactive",
        "interactive": {
            "kind": "buttons",
            "body": "Pick",
            "buttons": [
                {"type": "reply", "id": "ja", "title": "Ja ✓"},
                {"type": "url", "title": "Web", "url": "https://example.com"},
            ],
        },
    }
    body = _body(content)
    assert json.loads(body["tracking_data"]) == {"replies": {"ja": "Ja ✓"}}
    assert [b["ActionType"] for b in body["keyboard"]["Buttons"]] == ["reply", "open-url"]
    only_links = {**content, "interactive": {**content["interactive"]}}
    only_links["interactive"]["buttons"] = [content["interactive"]["buttons"][1]]
    assert "tracking_data" not in _body(only_links)


def test_reply_choices_too_many_for_tracking_data_are_left_out() -> None:
    rows = [{"id": f"{n:0>200}", "title": f"Row {n}"} for n in range(20)]
    content = {
        "type": "interactive",
        "interactive": {
            "kind": "list",
            "body": "Pick",
            "button_text": "Open",
            "sections": [{"rows": rows[:10]}, {"rows": rows[10:]}],
        },
    }
    body = _body(content)
    assert len(body["keyboard"]["Buttons"]) == 20
    assert "tracking_data" not in body


# -- sending and errors -------------------------------------------------------------------


def _answering(status: int, body: Any) -> httpx.AsyncClient:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if isinstance(body, bytes):
            return httpx.Response(status, content=body)
        return httpx.Response(status, json=body)

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    client.seen = seen  # type: ignore[attr-defined]
    return client


async def test_a_send_carries_the_token_in_its_header_and_returns_the_token() -> None:
    adapter = _adapter()
    answer = {"status": 0, "status_message": "ok", "message_token": 5741311803571721087}
    async with _answering(200, answer) as http:
        result = await adapter.send(adapter.build_request(_message(TEXT)), http)
        [request] = http.seen  # type: ignore[attr-defined]
    assert result.provider_message_id == "5741311803571721087"
    assert request.headers["x-viber-auth-token"] == contract.AUTH_TOKEN


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(1, False), (2, False), (3, False), (4, False), (5, False), (6, False), (7, False),
     (8, False), (9, False), (10, True), (11, False), (12, True), (13, False), (99, True)],
)  # fmt: skip
async def test_each_status_is_classified_with_its_number_kept(status: int, retryable: bool) -> None:
    name = ERRORS.get(status, ("somethingElse", True))[0]
    adapter = _adapter()
    async with _answering(200, {"status": status, "status_message": name}) as http:
        with pytest.raises(ProviderError) as refused:
            await adapter.send(adapter.build_request(_message(TEXT)), http)
    error = refused.value
    assert (error.code, error.message, error.retryable, error.retry_after) == (
        str(status),
        name,
        retryable,
        None,
    )


@pytest.mark.parametrize(
    ("status", "body", "code", "retryable"),
    [
        (200, {"status": 0, "status_message": "ok"}, "bad_response", False),
        (200, b"<html>oops</html>", "bad_response", True),
        (503, b"Service Unavailable", "http_503", True),
        (404, b"Not Found", "http_404", False),
    ],
)
async def test_odd_answers_are_classified(
    status: int, body: Any, code: str, retryable: bool
) -> None:
    adapter = _adapter()
    async with _answering(status, body) as http:
        with pytest.raises(ProviderError) as refused:
            await adapter.send(adapter.build_request(_message(TEXT)), http)
    assert (refused.value.code, refused.value.retryable) == (code, retryable)


async def test_register_webhook_asks_for_the_callbacks_we_read() -> None:
    adapter = _adapter()
    answer = {"status": 0, "status_message": "ok", "event_types": ["delivered"]}
    async with _answering(200, answer) as http:
        assert await adapter.register_webhook("https://gw.example.com/inbound/ch_1", http)
        [request] = http.seen  # type: ignore[attr-defined]
    assert str(request.url) == f"{API}/pa/set_webhook"
    body = json.loads(request.content)
    assert body["url"] == "https://gw.example.com/inbound/ch_1"
    assert {"delivered", "seen", "failed"} <= set(body["event_types"])
    async with _answering(200, {"status": 1, "status_message": "invalidUrl"}) as http:
        with pytest.raises(ProviderError) as refused:
            await adapter.register_webhook("https://gw.example.com/x", http)
    assert refused.value.code == "1"


# -- callbacks ------------------------------------------------------------------------------


def _callback(body: bytes, signature: str | None) -> RawRequest:
    headers = {} if signature is None else {"x-viber-content-signature": signature}
    return RawRequest("POST", "https://gw.example.com/inbound/ch_1", headers, {}, body)


def test_the_signature_is_the_hex_hmac_of_the_exact_bytes() -> None:
    body = b'{"event":"webhook","timestamp":1,"message_token":2}'
    good = sign(contract.AUTH_TOKEN, body).decode()
    _adapter().verify(_callback(body, good))
    # Viber writes lowercase hex; the same digest in capitals is the same signature.
    _adapter().verify(_callback(body, good.upper()))
    for wrong in (None, "", good[:-1] + ("0" if good[-1] != "0" else "1"), "ü" * 64):
        with pytest.raises(SignatureError):
            _adapter().verify(_callback(body, wrong))
    with pytest.raises(SignatureError):
        _adapter().verify(_callback(body + b" ", good))


def test_a_typed_text_equal_to_no_choice_stays_text() -> None:
    body = {
        "event": "message",
        "timestamp": 1735732900123,
        "message_token": 1,
        "sender": {"id": contract.USER_ID, "name": "Zoë"},
        "message": {"type": "text", "text": "maybe", "tracking_data": '{"replies":{"yes":"Yes"}}'},
    }
    raw = json.dumps(body).encode()
    [event] = _adapter().parse(_callback(raw, None))
    assert isinstance(event, InboundMessage)
    assert event.content == {"type": "text", "text": "maybe"}
    assert event.sender_name == "Zoë"
    assert event.at.year == 2025


def test_a_failed_callback_keeps_vibers_description() -> None:
    body = contract.status_webhook("failed", "4912661846655238146")
    [event] = _adapter().parse(_callback(json.dumps(body).encode(), None))
    assert isinstance(event, StatusUpdate)
    assert (event.status, event.error_code, event.error_message) == (
        Status.FAILED,
        "failed",
        "failure desc",
    )


def test_a_body_that_is_not_json_raises_value_error() -> None:
    with pytest.raises(json.JSONDecodeError):
        _adapter().parse(_callback(b"not json", None))


# -- media ----------------------------------------------------------------------------------


async def test_media_are_downloaded_from_viber_hosts_without_a_token() -> None:
    url = "https://dl-media.viber.com/1/share/2/long/vibes/icon/image/0x0/95e0/cat.jpg"
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"\xff\xd8jpeg", headers={"content-type": "image/jpeg"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        file = await _adapter().fetch_media(url, http)
    assert (file.content, file.mime_type) == (b"\xff\xd8jpeg", "image/jpeg")
    assert "x-viber-auth-token" not in seen[0].headers


@pytest.mark.parametrize(
    "url",
    [
        "http://dl-media.viber.com/cat.jpg",
        "https://viber.com.evil.example/cat.jpg",
        "https://169.254.169.254/latest/meta-data",
        "file:///etc/passwd",
    ],
)
async def test_media_off_vibers_hosts_are_refused_before_any_request(url: str) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"no request should be made, got {request.url}")

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        with pytest.raises(ProviderError) as refused:
            await _adapter().fetch_media(url, http)
    assert (refused.value.code, refused.value.retryable) == ("media_host_refused", False)


async def test_media_larger_than_the_limit_are_refused() -> None:
    url = "https://dl-media.viber.com/big.bin"

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"x" * 2048)

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        with pytest.raises(ProviderError) as refused:
            await _adapter().fetch_media(url, http, max_bytes=1024)
    assert (refused.value.code, refused.value.retryable) == ("media_too_large", False)


# -- capabilities and degrade ---------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        {
            "type": "interactive",
            "interactive": {
                "kind": "cards",
                "body": "Our picks",
                "cards": [
                    {
                        "title": "Blue mug",
                        "buttons": [{"type": "reply", "id": "m", "title": "More"}],
                    }
                ],
            },
        },
        {
            "type": "media",
            "media": {"url": "https://cdn.example.com/n.ogg", "kind": "audio", "voice": True},
        },
        {
            "type": "interactive",
            "interactive": {
                "kind": "buttons",
                "body": "Talk to us",
                "buttons": [{"type": "call", "title": "Call", "phone": "+14155550100"}],
            },
        },
    ],
)
def test_what_viber_lacks_is_rendered_down_to_what_it_carries(content: dict[str, Any]) -> None:
    adapter = _adapter()
    with pytest.raises(UnsupportedContent):
        adapter.build_request(_message(content))
    rendered = render_down(content, adapter.capabilities, reply_to=True)
    assert rendered.features
    assert not rendered.keeps_reply_to
    body = adapter.build_request(_message(rendered.content)).json
    assert body["type"] in ("text", "file")
