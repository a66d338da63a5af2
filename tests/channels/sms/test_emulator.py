"""The Twilio emulator behaves like the Messages API: auth, checks, segments, callbacks, media."""

from __future__ import annotations

import base64
from dataclasses import replace
from typing import Any

import httpx
import pytest

from chatgate.channels.base import InboundMessage, ProviderError, SignatureError, StatusUpdate
from chatgate.domain.status import Status
from chatgate.emulators.core import Timing
from chatgate.emulators.twilio_wire import segments
from tests.channels.sms import contract
from tests.channels.sms.world import World, params_of, world

USER = contract.USER_NUMBER
FROM = contract.FROM_NUMBER


def _error(response: httpx.Response) -> tuple[int, int]:
    body = response.json()
    assert body["status"] == response.status_code
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{body['code']}"
    assert body["message"]
    return response.status_code, body["code"]


async def _received(w: World) -> list[dict[str, Any]]:
    response = await w.client.get("/_emulator/sms/received")
    assert response.status_code == 200
    found: list[dict[str, Any]] = response.json()
    return found


# -- auth and parameters ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "auth",
    [None, (contract.ACCOUNT_SID, "wrong-token"), ("AC" + "f" * 32, contract.AUTH_TOKEN)],
)
async def test_basic_auth_is_required(auth: Any) -> None:
    async with world() as w:
        response = await w.create({"To": USER, "From": FROM, "Body": "hi"}, auth=auth)
        assert _error(response) == (401, 20003)


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"From": FROM, "Body": "hi"}, 21604),
        ({"To": USER, "Body": "hi"}, 21603),
        ({"To": USER, "From": FROM}, 21602),
        ({"To": "0041 79 123", "From": FROM, "Body": "hi"}, 21211),
        ({"To": USER, "From": "+15005550001", "Body": "hi"}, 21606),
        ({"To": USER, "From": FROM, "Body": "x" * 1601}, 21617),
        ({"To": USER, "From": FROM, "MediaUrl": "ftp://files.example/a.jpg"}, 21620),
    ],
)
async def test_parameters_are_checked_as_twilio_checks_them(
    form: dict[str, str], code: int
) -> None:
    async with world() as w:
        assert _error(await w.create(form)) == (400, code)
        [call] = await _received(w)
        assert call["status"] == 400


async def test_a_created_message_is_the_resource_twilio_answers() -> None:
    async with world() as w:
        response = await w.create({"To": USER, "From": FROM, "Body": "Hello"})
        assert response.status_code == 201
        message = response.json()
        assert message["sid"].startswith("SM")
        assert len(message["sid"]) == 34
        assert (message["status"], message["direction"]) == ("queued", "outbound-api")
        assert (message["to"], message["from"], message["body"]) == (USER, FROM, "Hello")
        assert (message["num_segments"], message["num_media"]) == ("1", "0")
        [call] = await _received(w)
        assert (call["message_id"], call["recipient"]) == (message["sid"], USER)


async def test_an_mms_is_named_mm_and_counts_its_media() -> None:
    async with world() as w:
        form = {
            "To": USER,
            "From": FROM,
            "MediaUrl": ["https://x.example/a.jpg", "https://x.example/b.png"],
        }
        response = await w.create(form)
        assert response.status_code == 201
        assert response.json()["sid"].startswith("MM")
        assert response.json()["num_media"] == "2"
        [call] = await _received(w)
        assert call["body"]["MediaUrl"] == form["MediaUrl"]


# -- segments: GSM-7 160/153, UCS-2 70/67 ---------------------------------------------------


@pytest.mark.parametrize(
    ("body", "count"),
    [
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),  # an extension character takes two septets
        ("€" * 81, 2),
        ("ü" * 160, 1),  # in GSM-7's basic set
        ("ł" * 70, 1),  # not in GSM-7: UCS-2
        ("ł" * 71, 2),
        ("👋" * 35, 1),  # an emoji is two UTF-16 units
        ("👋" * 36, 2),
    ],
)
def test_segments_are_counted_as_carriers_count_them(body: str, count: int) -> None:
    assert segments(body) == count


async def test_the_resource_reports_its_segments() -> None:
    async with world() as w:
        response = await w.create({"To": USER, "From": FROM, "Body": "Hello 👋 " * 10})
        assert response.json()["num_segments"] == "2"


# -- opt-out ----------------------------------------------------------------------------------


async def test_a_user_who_texted_stop_cannot_be_sent_to_until_start() -> None:
    async with world() as w:
        await w.user_writes(text="STOP")
        with pytest.raises(ProviderError) as refused:
            await w.send({"type": "text", "text": "Your order shipped"})
        assert (refused.value.code, refused.value.retryable) == ("21610", False)
        await w.user_writes(text="start")
        assert await w.send({"type": "text", "text": "Your order shipped"})


# -- webhooks ----------------------------------------------------------------------------------


async def test_status_callbacks_are_signed_and_reach_delivered() -> None:
    timing = Timing(sent_after=0.0, delivered_after=0.01, read_after=0.0)
    async with world(timing) as w:
        sid = await w.send({"type": "text", "text": "Hi"})
        hooks = await w.webhooks(2)
        events = []
        for hook in hooks:
            assert hook.headers["content-type"] == "application/x-www-form-urlencoded"
            w.adapter.verify(hook)
            events += w.adapter.parse(hook)
        assert all(isinstance(event, StatusUpdate) for event in events)
        assert [(e.provider_message_id, e.status) for e in events] == [  # type: ignore[union-attr]
            (sid, Status.SENT),
            (sid, Status.DELIVERED),
        ]
        # SMS has no read receipt: nothing follows delivered.
        assert len(w.catcher.requests) == 2


async def test_an_undelivered_message_is_reported_with_its_error() -> None:
    timing = Timing(sent_after=0.0, delivered_after=0.0, read_after=None)
    async with world(timing) as w:
        await w.fault(kind="async_failure")
        sid = await w.send({"type": "text", "text": "Hi"})
        [hook] = await w.webhooks(1)
        w.adapter.verify(hook)
        [event] = w.adapter.parse(hook)
        assert isinstance(event, StatusUpdate)
        assert (event.provider_message_id, event.status, event.platform_status) == (
            sid,
            Status.FAILED,
            "undelivered",
        )
        assert (event.error_code, event.error_message) == (
            "30003",
            "Unreachable destination handset",
        )


async def test_a_users_text_is_signed_parsed_and_keeps_its_emoji() -> None:
    async with world() as w:
        answer = await w.user_writes(text="Merci 👍 café")
        [hook] = await w.webhooks(1)
        w.adapter.verify(hook)
        params = params_of(hook)
        assert (params["SmsStatus"], params["NumMedia"], params["AccountSid"]) == (
            "received",
            "0",
            contract.ACCOUNT_SID,
        )
        [message] = w.adapter.parse(hook)
        assert isinstance(message, InboundMessage)
        assert (message.provider_message_id, message.sender, message.recipient) == (
            answer["id"],
            USER,
            FROM,
        )
        assert message.content == {"type": "text", "text": "Merci 👍 café"}


async def test_an_mms_is_parsed_and_its_media_downloaded_with_the_credentials() -> None:
    image = b"\x89PNG\r\n\x1a\n" + b"pixels" * 20
    async with world() as w:
        media = {"content_base64": base64.b64encode(image).decode(), "mime_type": "image/png"}
        await w.user_writes(text="Look", media=[media])
        [hook] = await w.webhooks(1)
        w.adapter.verify(hook)
        [message] = w.adapter.parse(hook)
        assert isinstance(message, InboundMessage)
        assert message.provider_message_id.startswith("MM")
        found = message.content["media"]
        assert (found["kind"], found["mime_type"], found["caption"]) == (
            "image",
            "image/png",
            "Look",
        )
        media_url = params_of(hook)["MediaUrl0"]
        assert media_url.startswith(
            f"https://api.twilio.com/2010-04-01/Accounts/{contract.ACCOUNT_SID}/"
        )
        downloaded = await w.adapter.fetch_media(found["reference"], w.client)
        assert (downloaded.content, downloaded.mime_type) == (image, "image/png")
        # Without the credentials, Twilio refuses the media of an account that protects it.
        path = media_url.removeprefix("https://api.twilio.com")
        assert _error(await w.client.get(f"/twilio{path}")) == (401, 20003)


async def test_a_webhook_changed_on_the_way_is_refused() -> None:
    async with world() as w:
        await w.user_writes(text="hello")
        [hook] = await w.webhooks(1)
        w.adapter.verify(hook)
        tampered = replace(hook, body=hook.body + b"&x=1")
        with pytest.raises(SignatureError, match="does not match"):
            w.adapter.verify(tampered)
