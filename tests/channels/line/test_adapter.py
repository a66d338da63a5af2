"""The LINE adapter on its own: credentials, signatures, reply tokens, errors, downloads.

The wire is played by ``httpx.MockTransport``; what the emulator does is in
``test_emulator.py`` and the shared contract suite.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from chatgate.channels.base import (
    ChannelSettings,
    OutboundMessage,
    ProviderError,
    RawRequest,
    SignatureError,
    UnsupportedContent,
)
from chatgate.channels.line import LineAdapter, LineCredentials
from chatgate.channels.line_build import (
    MAX_REFERENCE,
    REPLY_TOKEN_SECONDS,
    message_reference,
    parse_reference,
)
from chatgate.domain import capabilities as cap
from chatgate.domain.degrade import render_down
from tests.channels.contract import SAMPLES
from tests.channels.line import contract

EVENT_MS = 1_732_966_800_000
REPLY_TOKEN = "757913772c4646b784d4b7ce46d12671"
QUOTE_TOKEN = "yHAz4Ua2wx7-Kz_Lm"
REFERENCE = message_reference("533240116913160364", EVENT_MS, REPLY_TOKEN, QUOTE_TOKEN)

Handler = Callable[[httpx.Request], httpx.Response]


def _adapter(api_base: str | None = "http://emulator/line") -> LineAdapter:
    return LineAdapter(contract.credentials(), ChannelSettings(api_base=api_base))


def _message(content: dict[str, Any], reply_to: str | None = None) -> OutboundMessage:
    return OutboundMessage(
        id="msg_01JLINE00000000000000000000",
        channel="line",
        sender=None,
        recipient=contract.USER_ID,
        content=content,
        reply_to=reply_to,
        metadata=None,
    )


def _at(monkeypatch: pytest.MonkeyPatch, seconds_after_event: float) -> None:
    moment = EVENT_MS / 1000 + seconds_after_event
    monkeypatch.setattr(LineAdapter, "clock", staticmethod(lambda: moment))


def _client(handler: Handler) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


# -- credentials and signatures --------------------------------------------------------------


def test_a_channel_secret_is_32_hex_digits_and_never_echoed() -> None:
    with pytest.raises(ValidationError) as refused:
        LineCredentials.model_validate(
            {"channel_access_token": "token", "channel_secret": "not-a-secret-XYZ"}
        )
    assert "not-a-secret-XYZ" not in str(refused.value)
    with pytest.raises(ValidationError):
        LineCredentials.model_validate(
            {"channel_access_token": "has space", "channel_secret": "a" * 32}
        )


def _signed(body: bytes, secret: str = contract.CHANNEL_SECRET) -> RawRequest:
    # LINE's own recipe: base64 of HMAC-SHA256 of the body, keyed with the channel secret.
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    headers = {"x-line-signature": base64.b64encode(digest).decode()}
    return RawRequest("POST", "http://gateway/inbound", headers, {}, body)


def test_the_signature_is_checked_over_the_raw_bytes() -> None:
    # Non-ASCII text and spacing as LINE wrote them: re-serialising would change the bytes.
    body = '{"destination":"U1", "events":[{"type":"message","text":"café 👋"}]}'.encode()
    adapter = _adapter()
    signed = _signed(body)
    adapter.verify(signed)
    with pytest.raises(SignatureError):
        adapter.verify(RawRequest("POST", signed.url, signed.headers, {}, body + b" "))
    with pytest.raises(SignatureError):
        adapter.verify(_signed(body, "f" * 32))


def test_a_body_that_is_not_json_is_an_error_to_parse() -> None:
    with pytest.raises(json.JSONDecodeError):
        _adapter().parse(_signed(b"not json"))


# -- references and reply tokens -------------------------------------------------------------


def test_a_reference_carries_the_tokens_and_a_bare_id_carries_none() -> None:
    parts = parse_reference(REFERENCE)
    assert (parts.message_id, parts.at_ms, parts.reply_token, parts.quote_token) == (
        "533240116913160364",
        EVENT_MS,
        REPLY_TOKEN,
        QUOTE_TOKEN,
    )
    assert parse_reference("533240116913160364").reply_token is None
    assert message_reference("42", EVENT_MS, None, None) == "42"
    # A quote token too long for what the gateway stores is left out; the reply token stays.
    long = message_reference("42", EVENT_MS, REPLY_TOKEN, "q" * 300)
    assert len(long) <= MAX_REFERENCE
    assert parse_reference(long).reply_token == REPLY_TOKEN
    assert parse_reference(long).quote_token is None


def test_a_reply_within_the_tokens_life_uses_the_reply_api(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _at(monkeypatch, REPLY_TOKEN_SECONDS - 1)
    request = _adapter().build_request(_message({"type": "text", "text": "Sure 👍"}, REFERENCE))
    assert request.url == "http://emulator/line/v2/bot/message/reply"
    assert request.json == {
        "replyToken": REPLY_TOKEN,
        "messages": [{"type": "text", "text": "Sure 👍", "quoteToken": QUOTE_TOKEN}],
    }
    assert "X-Line-Retry-Key" not in request.headers
    assert request.headers["Authorization"] == f"Bearer {contract.CHANNEL_ACCESS_TOKEN}"


def test_a_late_reply_is_a_push_that_still_quotes(monkeypatch: pytest.MonkeyPatch) -> None:
    _at(monkeypatch, REPLY_TOKEN_SECONDS + 1)
    request = _adapter().build_request(_message({"type": "text", "text": "Sorry, late"}, REFERENCE))
    assert request.url == "http://emulator/line/v2/bot/message/push"
    assert request.json == {
        "to": contract.USER_ID,
        "messages": [{"type": "text", "text": "Sorry, late", "quoteToken": QUOTE_TOKEN}],
    }
    # Every try of one message carries the same retry key.
    again = _adapter().build_request(_message({"type": "text", "text": "Sorry, late"}, REFERENCE))
    assert request.headers["X-Line-Retry-Key"] == again.headers["X-Line-Retry-Key"]


def test_an_image_reply_is_not_quoted(monkeypatch: pytest.MonkeyPatch) -> None:
    _at(monkeypatch, 1)
    image = {"type": "media", "media": {"url": "https://cdn.example.com/a.png", "kind": "image"}}
    request = _adapter().build_request(_message(image, REFERENCE))
    assert request.json["messages"] == [
        {
            "type": "image",
            "originalContentUrl": "https://cdn.example.com/a.png",
            "previewImageUrl": "https://cdn.example.com/a.png",
        }
    ]


def test_a_sticker_is_lines_sticker_message_and_a_reply_quotes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _at(monkeypatch, REPLY_TOKEN_SECONDS + 1)
    sticker = {"type": "sticker", "sticker": {"package_id": "11537", "sticker_id": "52002734"}}
    assert _adapter().build_request(_message(sticker)).json["messages"] == [
        {"type": "sticker", "packageId": "11537", "stickerId": "52002734"}
    ]
    # LINE quotes from a sticker message as from a text one.
    assert _adapter().build_request(_message(sticker, REFERENCE)).json["messages"] == [
        {
            "type": "sticker",
            "packageId": "11537",
            "stickerId": "52002734",
            "quoteToken": QUOTE_TOKEN,
        }
    ]
    assert cap.STICKER in LineAdapter.capabilities


# -- what LINE's limits refuse ---------------------------------------------------------------


def _buttons(*titles: str, body: str = "Pick one") -> dict[str, Any]:
    buttons = [{"type": "reply", "id": f"b{n}", "title": title} for n, title in enumerate(titles)]
    return {
        "type": "interactive",
        "interactive": {"kind": "buttons", "body": body, "buttons": buttons},
    }


@pytest.mark.parametrize(
    ("content", "feature"),
    [
        (_buttons("A label longer than twenty"), cap.BUTTONS_REPLY),
        (_buttons("1", "2", "3", "4", "5"), cap.BUTTONS_REPLY),
        (_buttons("Yes", body="x" * 161), cap.BUTTONS_REPLY),
        (
            {
                "type": "interactive",
                "interactive": {
                    "kind": "cards",
                    "body": "Picks",
                    "cards": [
                        {"title": "A", "buttons": [{"type": "reply", "id": "a", "title": "A"}]},
                        {"title": "B", "buttons": []},
                    ],
                },
            },
            cap.CARDS,
        ),
        (
            {
                "type": "location",
                "location": {"latitude": 1.0, "longitude": 2.0, "name": "n" * 101},
            },
            cap.LOCATION,
        ),
        # 2,600 emoji are 5,200 UTF-16 units: more than LINE's 5,000, within our 4,096.
        ({"type": "text", "text": "😀" * 2600}, cap.TEXT),
    ],
    ids=["label", "five_buttons", "long_text", "uneven_cards", "long_title", "emoji_text"],
)
def test_what_line_would_refuse_is_refused_here(content: dict[str, Any], feature: str) -> None:
    with pytest.raises(UnsupportedContent) as refused:
        _adapter().build_request(_message(content))
    assert (refused.value.channel, refused.value.feature) == ("line", feature)


def test_a_pin_without_a_name_is_titled_by_its_address_or_point() -> None:
    request = _adapter().build_request(
        _message({"type": "location", "location": {"latitude": 35.6586, "longitude": 139.7454}})
    )
    [pin] = request.json["messages"]
    assert (pin["title"], pin["address"]) == ("35.6586,139.7454", "35.6586,139.7454")


# -- answers ---------------------------------------------------------------------------------


def _answer(status: int, body: Any, headers: dict[str, str] | None = None) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body, headers=headers)

    return handle


async def _send(handler: Handler, reply_to: str | None = None) -> str:
    adapter = _adapter()
    request = adapter.build_request(_message({"type": "text", "text": "hi"}, reply_to))
    async with _client(handler) as http:
        return (await adapter.send(request, http)).provider_message_id


async def test_the_first_sent_message_names_the_send() -> None:
    sent = {"sentMessages": [{"id": "461230966842064897", "quoteToken": "IStG5h1"}, {"id": "2"}]}
    assert await _send(_answer(200, sent)) == "461230966842064897"


async def test_a_repeated_push_is_the_first_ones_outcome() -> None:
    answer = {"message": "The retry key is already accepted", "sentMessages": [{"id": "77"}]}
    assert await _send(_answer(409, answer, {"X-Line-Accepted-Request-Id": "abc"})) == "77"


@pytest.mark.parametrize(
    ("status", "body", "retryable", "message"),
    [
        (429, {"message": "The API rate limit has been exceeded. Try again later."}, True, "rate"),
        (500, {"message": "An error occurred in the server."}, True, "server"),
        (
            400,
            {
                "message": "The request body has 1 error(s)",
                "details": [{"message": "May not be empty", "property": "messages[0].text"}],
            },
            False,
            "(messages[0].text)",
        ),
        (401, {"message": "Authentication failed."}, False, "Authentication"),
    ],
)
async def test_errors_are_classified(
    status: int, body: dict[str, Any], retryable: bool, message: str
) -> None:
    with pytest.raises(ProviderError) as refused:
        await _send(_answer(status, body))
    assert refused.value.code == str(status)
    assert refused.value.retryable is retryable
    # LINE names no time to wait.
    assert refused.value.retry_after is None
    assert message in refused.value.message


async def test_a_refused_reply_token_falls_back_to_a_push(monkeypatch: pytest.MonkeyPatch) -> None:
    _at(monkeypatch, 1)
    calls: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if request.url.path.endswith("/reply"):
            return httpx.Response(400, json={"message": "Invalid reply token"})
        return httpx.Response(200, json={"sentMessages": [{"id": "99"}]})

    assert await _send(handle, REFERENCE) == "99"
    assert [call.url.path for call in calls] == [
        "/line/v2/bot/message/reply",
        "/line/v2/bot/message/push",
    ]
    push = json.loads(calls[1].content)
    assert push["to"] == contract.USER_ID
    assert push["messages"][0]["quoteToken"] == QUOTE_TOKEN
    assert calls[1].headers["X-Line-Retry-Key"]


async def test_a_network_failure_is_retryable() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(ProviderError) as refused:
        await _send(handle)
    assert (refused.value.code, refused.value.retryable) == ("network_error", True)


# -- downloads -------------------------------------------------------------------------------


async def test_media_comes_from_the_content_host_with_the_token() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"\x89PNG", headers={"content-type": "image/png"})

    async with _client(handle) as http:
        file = await _adapter(None).fetch_media("533240116913160368", http)
    assert (file.content, file.mime_type) == (b"\x89PNG", "image/png")
    assert str(seen[0].url) == "https://api-data.line.me/v2/bot/message/533240116913160368/content"
    assert seen[0].headers["authorization"] == f"Bearer {contract.CHANNEL_ACCESS_TOKEN}"


async def test_external_media_is_fetched_without_the_token() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"jpeg", headers={"content-type": "image/jpeg"})

    async with _client(handle) as http:
        await _adapter().fetch_media("https://images.example.com/original.jpg", http)
    assert str(seen[0].url) == "https://images.example.com/original.jpg"
    assert "authorization" not in seen[0].headers


async def test_media_past_the_limit_is_refused_for_good() -> None:
    handler = _answer(200, None, {"content-length": "2048"})
    async with _client(handler) as http:
        with pytest.raises(ProviderError) as refused:
            await _adapter().fetch_media("1", http, max_bytes=1024)
    assert (refused.value.code, refused.value.retryable) == ("media_too_large", False)


async def test_missing_media_is_lines_404() -> None:
    async with _client(_answer(404, {"message": "Not found"})) as http:
        with pytest.raises(ProviderError) as refused:
            await _adapter().fetch_media("1", http)
    assert (refused.value.code, refused.value.retryable) == ("404", False)


# -- degrade -----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["voice", "document", "list", "contact"])
def test_what_line_lacks_degrades_to_what_it_carries(case: str) -> None:
    adapter = _adapter()
    with pytest.raises(UnsupportedContent):
        adapter.build_request(_message(SAMPLES[case]))
    rendered = render_down(SAMPLES[case], adapter.capabilities, reply_to=False)
    assert rendered.features
    request = adapter.build_request(_message(rendered.content))
    kinds = [message["type"] for message in request.json["messages"]]
    assert kinds == (["audio"] if case == "voice" else ["text"])
