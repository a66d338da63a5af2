"""The LINE emulator, driven through its control API and the LINE adapter.

Each test gets the emulator in process with the test channel, its webhooks caught raw.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chatgate.channels.base import InboundMessage, OutboundMessage, RawRequest, UnknownEvent
from chatgate.channels.line import LineAdapter
from chatgate.emulators.app import control_router
from chatgate.emulators.core import EmulatorState
from chatgate.emulators.line import LineEmulator
from tests.channels.catcher import Catcher
from tests.channels.line import contract
from tests.support import until

API_BASE = "http://emulator/line"
PUSH = "/line/v2/bot/message/push"
REPLY = "/line/v2/bot/message/reply"
AUTH = {"Authorization": f"Bearer {contract.CHANNEL_ACCESS_TOKEN}"}
HELLO = [{"type": "text", "text": "Hello 👋"}]


@dataclass
class World:
    """The emulator, a client of it, the test channel's adapter and the webhook catcher."""

    client: httpx.AsyncClient
    adapter: LineAdapter
    catcher: Catcher

    async def user(self, **payload: Any) -> tuple[dict[str, Any], list[Any]]:
        """The test user does something; the control API's answer and the parsed events."""
        count = len(self.catcher.requests)
        body = {"bot_user_id": contract.BOT_USER_ID, "from": contract.USER_ID, **payload}
        response = await self.client.post("/_emulator/line/inbound", json=body)
        assert response.status_code == 200, response.text

        async def arrived() -> bool:
            return len(self.catcher.requests) > count

        await until(arrived, limit=5.0)
        hook: RawRequest = self.catcher.requests[count]
        self.adapter.verify(hook)
        answer: dict[str, Any] = response.json()
        return answer, self.adapter.parse(hook)

    async def send(self, text: str, reply_to: str | None = None, message_id: str = "msg_1") -> str:
        """Send a text to the test user through the adapter; the send's id."""
        message = OutboundMessage(
            id=message_id,
            channel="line",
            sender=None,
            recipient=contract.USER_ID,
            content={"type": "text", "text": text},
            reply_to=reply_to,
            metadata=None,
        )
        result = await self.adapter.send(self.adapter.build_request(message), self.client)
        return result.provider_message_id

    async def received(self) -> list[dict[str, Any]]:
        """What the emulator logged."""
        log: list[dict[str, Any]] = (await self.client.get("/_emulator/line/received")).json()
        return log


@pytest.fixture
async def world() -> AsyncIterator[World]:
    """The test channel registered, its webhooks going to a catcher."""
    catcher = Catcher("/webhooks/line")
    state = EmulatorState(http=httpx.AsyncClient(transport=httpx.ASGITransport(catcher.app())))
    emulator = LineEmulator(state)
    app = FastAPI()
    app.include_router(control_router(state, {"line": emulator}))
    app.include_router(emulator.router())
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://emulator", timeout=5.0
    )
    try:
        account = contract.emulator_account("http://catcher/webhooks/line")
        response = await client.post("/_emulator/line/accounts", json=account)
        assert response.status_code == 201, response.text
        adapter = contract.make_adapter(API_BASE)
        assert isinstance(adapter, LineAdapter)
        yield World(client, adapter, catcher)
    finally:
        await state.close()
        await client.aclose()


async def test_calls_need_the_channels_token(world: World) -> None:
    body = {"to": contract.USER_ID, "messages": HELLO}
    for headers in ({}, {"Authorization": "Bearer someone-else"}):
        response = await world.client.post(PUSH, json=body, headers=headers)
        assert response.status_code == 401, response.text
        assert response.json()["message"].startswith("Authentication failed")
        assert response.headers["x-line-request-id"]


@pytest.mark.parametrize(
    ("body", "message", "detail"),
    [
        ({"to": "someone", "messages": HELLO}, "The property, 'to'", None),
        ({"to": contract.USER_ID, "messages": []}, "1 error(s)", "messages"),
        ({"to": contract.USER_ID, "messages": HELLO * 6}, "1 error(s)", "messages"),
        (
            {"to": contract.USER_ID, "messages": [{"type": "text", "text": ""}]},
            "1 error(s)",
            "messages[0].text",
        ),
        (
            {
                "to": contract.USER_ID,
                "messages": [
                    {
                        "type": "image",
                        "originalContentUrl": "http://cdn.example.com/a.png",
                        "previewImageUrl": "https://cdn.example.com/a.png",
                    }
                ],
            },
            "1 error(s)",
            "messages[0].originalContentUrl",
        ),
        (
            {"to": contract.USER_ID, "messages": [{"type": "sticker", "packageId": "446"}]},
            "1 error(s)",
            "messages[0].stickerId",
        ),
        (
            {
                "to": contract.USER_ID,
                "messages": [{"type": "sticker", "packageId": "abc", "stickerId": "1988"}],
            },
            "1 error(s)",
            "messages[0].packageId",
        ),
    ],
    ids=[
        "bad_to",
        "no_messages",
        "six_messages",
        "empty_text",
        "http_image",
        "sticker_without_id",
        "sticker_bad_package",
    ],
)
async def test_a_malformed_push_is_refused_as_line_refuses_it(
    world: World, body: dict[str, Any], message: str, detail: str | None
) -> None:
    response = await world.client.post(PUSH, json=body, headers=AUTH)
    assert response.status_code == 400, response.text
    answer = response.json()
    assert message in answer["message"]
    if detail is not None:
        assert answer["details"][0]["property"] == detail
    [call] = await world.received()
    assert (call["status"], call["message_id"]) == (400, None)


async def test_a_reply_token_serves_one_reply_then_the_adapter_pushes(world: World) -> None:
    answer, [event] = await world.user(text="Can I get help?")
    assert isinstance(event, InboundMessage)
    assert event.provider_message_id == answer["id"]
    first = await world.send("Of course", reply_to=event.provider_message_id, message_id="msg_a")
    second = await world.send(
        "Anything else?", reply_to=event.provider_message_id, message_id="msg_b"
    )
    calls = await world.received()
    assert [(c["path"], c["status"]) for c in calls] == [(REPLY, 200), (REPLY, 400), (PUSH, 200)]
    assert [c["recipient"] for c in calls] == [contract.USER_ID] * 3
    assert (calls[0]["message_id"], calls[2]["message_id"]) == (first, second)
    # Both quote the user's message.
    quote = event.raw["message"]["quoteToken"]
    assert calls[0]["body"]["messages"][0]["quoteToken"] == quote
    assert calls[2]["body"]["messages"][0]["quoteToken"] == quote


async def test_a_push_tried_again_is_not_sent_twice(world: World) -> None:
    first = await world.send("Your order shipped", message_id="msg_same")
    again = await world.send("Your order shipped", message_id="msg_same")
    calls = await world.received()
    assert [c["status"] for c in calls] == [200, 409]
    assert first == again


async def test_a_users_file_downloads_with_the_token(world: World) -> None:
    content = b"%PDF-1.7 invoice"
    media = {
        "kind": "document",
        "content_base64": base64.b64encode(content).decode(),
        "mime_type": "application/pdf",
        "filename": "invoice-42.pdf",
    }
    _, [event] = await world.user(media=media)
    assert isinstance(event, InboundMessage)
    assert event.content["media"]["kind"] == "document"
    assert event.content["media"]["filename"] == "invoice-42.pdf"
    file = await world.adapter.fetch_media(event.content["media"]["reference"], world.client)
    assert (file.content, file.mime_type) == (content, "application/pdf")
    refused = await world.client.get(
        f"/line/v2/bot/message/{event.content['media']['reference']}/content"
    )
    assert refused.status_code == 401


@pytest.mark.parametrize(
    ("payload", "kind", "content"),
    [
        ({"postback": {"data": "yes"}}, "message", {"type": "reply", "reply": {"id": "yes"}}),
        (
            {"sticker": {"package_id": "446", "sticker_id": "1988"}},
            "message",
            {
                "type": "media",
                "media": {"kind": "sticker", "package_id": "446", "sticker_id": "1988"},
            },
        ),
        (
            {"location": {"latitude": 35.6586, "longitude": 139.7454, "name": "Tokyo Tower"}},
            "message",
            {
                "type": "location",
                "location": {"latitude": 35.6586, "longitude": 139.7454, "name": "Tokyo Tower"},
            },
        ),
        ({"follow": True}, "follow", None),
        ({"unfollow": True}, "unfollow", None),
    ],
    ids=["postback", "sticker", "location", "follow", "unfollow"],
)
async def test_each_event_kind_arrives_signed_and_parses(
    world: World, payload: dict[str, Any], kind: str, content: dict[str, Any] | None
) -> None:
    _, [event] = await world.user(**payload)
    assert event.kind == kind
    if content is None:
        assert isinstance(event, UnknownEvent)
    else:
        assert isinstance(event, InboundMessage)
        assert event.content == content
        assert event.sender == contract.USER_ID
        assert event.recipient == contract.BOT_USER_ID


async def test_a_redelivered_event_is_the_same_event_and_names_the_same_message(
    world: World,
) -> None:
    first, [original] = await world.user(text="Did you get this?")
    again, [redelivered] = await world.user(redeliver=True)
    assert isinstance(original, InboundMessage)
    assert isinstance(redelivered, InboundMessage)
    assert original.raw["deliveryContext"] == {"isRedelivery": False}
    assert redelivered.raw["deliveryContext"] == {"isRedelivery": True}
    # The same reference: the gateway stores the message once.
    assert redelivered.provider_message_id == original.provider_message_id
    assert again["id"] == first["id"] == original.provider_message_id
    assert redelivered.raw["webhookEventId"] == original.raw["webhookEventId"]


async def test_the_control_api_refuses_what_line_would_not_have(world: World) -> None:
    for payload in (
        {"bot_user_id": "Unope", "from": contract.USER_ID, "text": "hi"},
        {"bot_user_id": contract.BOT_USER_ID, "from": "nobody", "text": "hi"},
        {"bot_user_id": contract.BOT_USER_ID, "from": contract.USER_ID},
    ):
        response = await world.client.post("/_emulator/line/inbound", json=payload)
        assert response.status_code == 422, response.text
    bad = {**contract.emulator_account(), "channel_secret": "short"}
    assert (await world.client.post("/_emulator/line/accounts", json=bad)).status_code == 422
