"""The Messenger adapter receiving: signatures, the subscription check, parsing, media.

The code Messenger and Instagram share is tested through Messenger; the Instagram tests cover
what differs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from chatgate.channels import meta
from chatgate.channels.base import (
    ChannelSettings,
    InboundMessage,
    ProviderError,
    RawRequest,
    SignatureError,
    StatusUpdate,
    UnknownEvent,
)
from chatgate.channels.messenger import MessengerAdapter
from chatgate.channels.meta_messaging import MAX_MEDIA_BYTES
from chatgate.domain.status import Status
from tests.channels.messenger import contract


def adapter() -> MessengerAdapter:
    return MessengerAdapter(contract.credentials(), ChannelSettings())


# -- signatures and the subscription check ----------------------------------------------------


def raw(
    body: bytes, headers: dict[str, str] | None = None, query: dict[str, str] | None = None
) -> RawRequest:
    return RawRequest("POST", "https://gw.example/webhooks", headers or {}, query or {}, body)


BODY = b'{"object":"page","entry":[{"id":"1","time":1,"messaging":[]}]}'


def test_signature_accepts_upper_case_hex() -> None:
    signature = meta.sign(contract.APP_SECRET, BODY)
    adapter().verify(
        raw(BODY, {"x-hub-signature-256": signature.upper().replace("SHA256", "sha256")})
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"x-hub-signature-256": ""},
        # The legacy SHA-1 header alone is not enough.
        {"x-hub-signature": "sha1=0123456789abcdef0123456789abcdef01234567"},
        {"x-hub-signature-256": meta.sign(contract.APP_SECRET, BODY).removeprefix("sha256=")},
    ],
)
def test_signature_refusals(headers: dict[str, str]) -> None:
    with pytest.raises(SignatureError):
        adapter().verify(raw(BODY, headers))


def test_signature_is_over_the_bytes_not_the_json() -> None:
    # Meta escapes non-ASCII and slashes; the same JSON written differently does not verify.
    sent = b'{"text":"caf\\u00e9 https:\\/\\/x"}'
    rewritten = json.dumps(json.loads(sent), ensure_ascii=False).encode()
    headers = {"x-hub-signature-256": meta.sign(contract.APP_SECRET, sent)}
    adapter().verify(raw(sent, headers))
    with pytest.raises(SignatureError):
        adapter().verify(raw(rewritten, headers))


# -- parsing edge cases -----------------------------------------------------------------------


def parse(body: Any) -> list[Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return adapter().parse(raw(data))


def page(*events: Any) -> dict[str, Any]:
    return {"object": "page", "entry": [{"id": contract.PAGE_ID, "time": 1, "messaging": events}]}


def from_user(**event: Any) -> dict[str, Any]:
    return {
        "sender": {"id": contract.PSID},
        "recipient": {"id": contract.PAGE_ID},
        "timestamp": 1718111000123,
        **event,
    }


def test_malformed_json_is_an_error() -> None:
    with pytest.raises(ValueError, match="Expecting"):
        parse(b"{not json")


@pytest.mark.parametrize(
    "body",
    [
        {"object": "instagram", "entry": []},
        {"object": "page"},
        ["not", "an", "object"],
        {"object": "page", "entry": ["not an entry"]},
        {"object": "page", "entry": [{"id": "1", "time": 1}]},
    ],
)
def test_unknown_shapes_are_kept(body: Any) -> None:
    events = parse(body)
    assert len(events) == 1
    assert isinstance(events[0], UnknownEvent)


def test_one_malformed_event_does_not_cost_the_others() -> None:
    events = parse(
        page(
            {"recipient": {"id": contract.PAGE_ID}, "message": {"mid": "m_x", "text": "no sender"}},
            "not an event",
            from_user(message={"text": "no mid"}),
            from_user(message={"mid": "m_ok", "text": "fine"}),
        )
    )
    assert [e.kind for e in events] == ["malformed", "malformed", "malformed", "message"]
    assert isinstance(events[-1], InboundMessage)
    assert events[-1].provider_message_id == "m_ok"


def test_times_are_milliseconds_or_seconds() -> None:
    events = parse(
        page(
            from_user(message={"mid": "m_1", "text": "ms"}),
            {**from_user(postback={"payload": "P", "title": "T"}), "timestamp": "1527459824"},
        )
    )
    assert [e.at for e in events] == [
        datetime(2024, 6, 11, 13, 3, 20, 123000, tzinfo=UTC),
        datetime(2018, 5, 27, 22, 23, 44, tzinfo=UTC),
    ]


def test_a_postback_from_a_user_ref_and_without_payload() -> None:
    with_ref = {
        "sender": {"user_ref": "USER-REF-ID"},
        "recipient": {"id": contract.PAGE_ID},
        "timestamp": 1527459824000,
        "postback": {"mid": "m_pb", "title": "Go", "payload": "GO"},
    }
    no_payload = from_user(postback={"mid": "m_pb2", "title": "Go"})
    events = parse(page(with_ref, no_payload))
    assert isinstance(events[0], InboundMessage)
    assert events[0].sender == "USER-REF-ID"
    assert events[1] == UnknownEvent(kind="postback", raw=no_payload)


def test_the_legacy_location_attachment() -> None:
    location = {
        "type": "location",
        "title": "Tour Eiffel",
        "url": "https://l.facebook.com/l.php?u=https%3A%2F%2Fwww.bing.com%2Fmaps",
        "payload": {"coordinates": {"lat": 48.8584, "long": 2.2945}},
    }
    (event,) = parse(page(from_user(message={"mid": "m_loc", "attachments": [location]})))
    assert isinstance(event, InboundMessage)
    assert event.content == {
        "type": "location",
        "location": {"latitude": 48.8584, "longitude": 2.2945, "name": "Tour Eiffel"},
    }


def test_text_with_an_attachment_gives_both() -> None:
    image = {"type": "image", "payload": {"url": "https://cdn.example.com/1.jpg"}}
    events = parse(page(from_user(message={"mid": "m_2", "text": "look", "attachments": [image]})))
    assert [(e.provider_message_id, e.content["type"]) for e in events] == [
        ("m_2", "text"),
        ("m_2#1", "media"),
    ]


def test_a_reaction_without_emoji_uses_its_name() -> None:
    (event,) = parse(page(from_user(reaction={"mid": "m_3", "action": "react", "reaction": "wow"})))
    assert event.content == {"type": "reaction", "reaction": {"message_id": "m_3", "emoji": "😮"}}


def test_a_delivery_watermark_without_mids() -> None:
    (status,) = parse(page(from_user(delivery={"watermark": 1718111000000})))
    assert isinstance(status, StatusUpdate)
    assert (status.status, status.platform_status) == (Status.DELIVERED, "delivery")
    assert status.at == datetime(2024, 6, 11, 13, 3, 20, 123000, tzinfo=UTC)
    assert status.up_to == datetime(2024, 6, 11, 13, 3, 20, tzinfo=UTC)


# -- media ------------------------------------------------------------------------------------


def serving(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def test_media_is_fetched_without_credentials() -> None:
    seen: list[httpx.Request] = []

    def cdn(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"\xff\xd8jpeg", headers={"content-type": "image/jpeg"})

    async with serving(cdn) as http:
        media = await adapter().fetch_media("https://scontent.xx.fbcdn.net/v/1.jpg?oh=1", http)
    assert (media.content, media.mime_type) == (b"\xff\xd8jpeg", "image/jpeg")
    assert "authorization" not in seen[0].headers


async def test_media_follows_redirects() -> None:
    def cdn(request: httpx.Request) -> httpx.Response:
        if request.url.host == "lookaside.fbsbx.com":
            return httpx.Response(302, headers={"location": "https://scontent.xx.fbcdn.net/2.png"})
        return httpx.Response(200, content=b"png", headers={"content-type": "image/png"})

    async with serving(cdn) as http:
        media = await adapter().fetch_media(
            "https://lookaside.fbsbx.com/ig_messaging_cdn/?a=1", http
        )
    assert media.content == b"png"


async def test_media_over_25_mb_is_refused() -> None:
    chunk = b"\0" * (1024 * 1024)

    async def endless() -> Any:
        for _ in range(MAX_MEDIA_BYTES // len(chunk) + 1):
            yield chunk

    def undeclared(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=endless())

    def declared(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"x", headers={"content-length": str(26 * 2**20)})

    for handler in (undeclared, declared):
        async with serving(handler) as http:
            with pytest.raises(ProviderError) as raised:
                await adapter().fetch_media("https://scontent.xx.fbcdn.net/v/big.mp4", http)
        assert (raised.value.code, raised.value.retryable) == ("media_too_large", False)


@pytest.mark.parametrize(
    ("status", "retryable"), [(302, False), (403, False), (404, False), (503, True)]
)
async def test_media_download_failures(status: int, retryable: bool) -> None:
    async with serving(lambda request: httpx.Response(status)) as http:
        with pytest.raises(ProviderError) as raised:
            await adapter().fetch_media("https://scontent.xx.fbcdn.net/v/expired.jpg", http)
    assert (raised.value.status_code, raised.value.retryable) == (status, retryable)


async def test_a_media_reference_must_be_a_url() -> None:
    async with serving(lambda request: httpx.Response(200)) as http:
        with pytest.raises(ProviderError) as raised:
            await adapter().fetch_media("file:///etc/passwd", http)
    assert raised.value.code == "invalid_reference"
