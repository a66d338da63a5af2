"""The Viber emulator behaves like the REST Bot API: auth, checks, rules, callbacks, media."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chatgate.channels.base import (
    InboundMessage,
    OutboundMessage,
    ProviderError,
    RawRequest,
    StatusUpdate,
    UnknownEvent,
)
from chatgate.channels.viber import ViberAdapter
from chatgate.domain.status import Status
from chatgate.emulators.app import control_router
from chatgate.emulators.core import EmulatorState, Timing
from chatgate.emulators.viber import UNANSWERED_LIMIT, ViberEmulator
from tests.channels.catcher import Catcher
from tests.channels.viber import contract
from tests.support import until

WEBHOOK_URL = "http://gateway/webhooks/viber"
SEND = "/viber/pa/send_message"
AUTH = {"X-Viber-Auth-Token": contract.AUTH_TOKEN}
USER = contract.USER_ID


@dataclass
class World:
    """The emulator, a client of it, the test bot's adapter, and the webhook catcher."""

    state: EmulatorState
    client: httpx.AsyncClient
    adapter: ViberAdapter
    catcher: Catcher

    async def control(self, action: str, **payload: Any) -> dict[str, Any]:
        response = await self.client.post(f"/_emulator/viber/{action}", json=payload)
        assert response.is_success, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def user_writes(self, user: str = USER, **payload: Any) -> dict[str, Any]:
        if not payload:
            payload = {"text": "Hi"}
        return await self.control(
            "inbound", auth_token=contract.AUTH_TOKEN, **{"from": user}, **payload
        )

    async def call(
        self, endpoint: str, body: Any, headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        response = await self.client.post(
            f"/viber/pa/{endpoint}", json=body, headers=AUTH if headers is None else headers
        )
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def send(self, content: dict[str, Any], user: str = USER) -> str:
        message = OutboundMessage("msg_1", "viber", None, user, content, None, None)
        result = await self.adapter.send(self.adapter.build_request(message), self.client)
        return result.provider_message_id

    async def webhooks(self, count: int) -> list[RawRequest]:
        async def arrived() -> bool:
            return len(self.catcher.requests) >= count

        await until(arrived, limit=5.0)
        return list(self.catcher.requests)

    def events(self, hook: RawRequest) -> list[Any]:
        self.adapter.verify(hook)
        return self.adapter.parse(hook)

    async def received(self) -> list[dict[str, Any]]:
        response = await self.client.get("/_emulator/viber/received")
        found: list[dict[str, Any]] = response.json()
        return found


@asynccontextmanager
async def world(timing: Timing | None = None, **account: Any) -> AsyncIterator[World]:
    """The test bot registered, its webhook set to a :class:`Catcher`."""
    catcher = Catcher("/webhooks/viber")
    state = EmulatorState(http=httpx.AsyncClient(transport=httpx.ASGITransport(catcher.app())))
    state.timing = timing or Timing(sent_after=None, delivered_after=None, read_after=None)
    emulator = ViberEmulator(state)
    app = FastAPI()
    app.include_router(control_router(state, {"viber": emulator}))
    app.include_router(emulator.router())
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://emulator", timeout=5.0
    )
    try:
        payload = {
            **contract.emulator_account(WEBHOOK_URL),
            "public_url": "http://emulator",
            **account,
        }
        assert (await client.post("/_emulator/viber/accounts", json=payload)).status_code == 201
        adapter = contract.make_adapter("http://emulator/viber")
        assert isinstance(adapter, ViberAdapter)
        yield World(state, client, adapter, catcher)
    finally:
        await state.close()
        await client.aclose()


def _text(**extra: Any) -> dict[str, Any]:
    return {"receiver": USER, "sender": {"name": "Bot"}, "type": "text", "text": "hi", **extra}


# -- auth and checks --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "body", "message"),
    [
        ({}, _text(), "missing_auth_token"),
        ({"X-Viber-Auth-Token": "not-the-token"}, _text(), "invalidAuthToken"),
        ({}, {**_text(), "auth_token": "not-the-token"}, "invalidAuthToken"),
    ],
)
async def test_tokens_are_checked(headers: dict[str, str], body: Any, message: str) -> None:
    async with world() as w:
        assert await w.call("send_message", body, headers) == {
            "status": 2,
            "status_message": message,
        }


async def test_the_token_may_come_in_the_body_as_old_sdks_send_it() -> None:
    async with world() as w:
        await w.user_writes()
        answer = await w.call("send_message", {**_text(), "auth_token": contract.AUTH_TOKEN}, {})
        assert answer["status"] == 0


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({**_text(), "receiver": ""}, 4),
        ({**_text(), "sender": {}}, 4),
        ({**_text(), "sender": {"name": "x" * 29}}, 3),
        ({**_text(), "text": "x" * 7001}, 3),
        ({**_text(), "type": "hologram"}, 3),
        ({**_text(), "type": "video", "media": "https://cdn.example.com/v.mp4"}, 4),
        ({**_text(), "keyboard": {"Type": "keyboard", "Buttons": []}}, 3),
        ({**_text(), "keyboard": {"Type": "keyboard", "Buttons": [{"ActionType": "fly",
                                                                   "ActionBody": "x"}]}}, 3),
    ],
)  # fmt: skip
async def test_malformed_sends_are_refused_and_logged_as_refused(body: Any, status: int) -> None:
    async with world() as w:
        await w.user_writes()
        assert (await w.call("send_message", body))["status"] == status
        [call] = await w.received()
        assert (call["status"], call["message_id"]) == (400, None)


# -- who the bot may write to -----------------------------------------------------------------


async def test_only_subscribed_users_are_written_to() -> None:
    async with world() as w:
        with pytest.raises(ProviderError) as refused:
            await w.send({"type": "text", "text": "first?"})
        assert (refused.value.code, refused.value.message) == ("6", "receiverNotSubscribed")
        assert not refused.value.retryable
        await w.user_writes()
        assert await w.send({"type": "text", "text": "now"})
        await w.user_writes(event="unsubscribed")
        with pytest.raises(ProviderError) as again:
            await w.send({"type": "text", "text": "still there?"})
        assert again.value.code == "6"
        await w.user_writes(event="subscribed")
        assert await w.send({"type": "text", "text": "welcome back"})
        assert [c["status"] for c in await w.received()] == [400, 200, 400, 200]


async def test_a_hundred_unanswered_messages_an_hour_then_too_many_requests() -> None:
    async with world() as w:
        await w.user_writes()
        for n in range(UNANSWERED_LIMIT):
            await w.send({"type": "text", "text": f"#{n}"})
        with pytest.raises(ProviderError) as refused:
            await w.send({"type": "text", "text": "one more"})
        assert (refused.value.code, refused.value.retryable) == ("12", True)
        assert (await w.received())[-1]["status"] == 429
        # A reply resets the count.
        await w.user_writes(text="ok ok")
        assert await w.send({"type": "text", "text": "thanks"})


# -- callbacks ------------------------------------------------------------------------------


async def test_an_accepted_message_is_delivered_then_seen() -> None:
    timing = Timing(sent_after=None, delivered_after=0.0, read_after=0.01)
    async with world(timing) as w:
        await w.user_writes()
        token = await w.send({"type": "text", "text": "Your order 📦"})
        hooks = await w.webhooks(3)
        statuses = [e for hook in hooks[1:] for e in w.events(hook)]
        assert all(isinstance(e, StatusUpdate) for e in statuses)
        assert sorted((e.status, e.provider_message_id, e.recipient) for e in statuses) == [
            (Status.DELIVERED, token, USER),
            (Status.READ, token, USER),
        ]


async def test_an_async_failure_is_reported_by_a_failed_callback() -> None:
    async with world() as w:
        await w.user_writes()
        await w.control("faults", kind="async_failure")
        token = await w.send({"type": "text", "text": "doomed"})
        [event] = w.events((await w.webhooks(2))[1])
        assert isinstance(event, StatusUpdate)
        assert (event.status, event.provider_message_id, event.error_code) == (
            Status.FAILED,
            token,
            "failed",
        )


async def test_set_webhook_checks_the_url_and_filters_events() -> None:
    timing = Timing(sent_after=None, delivered_after=0.0, read_after=0.0)
    async with world(timing, webhook_url=None) as w:
        answer = await w.call(
            "set_webhook", {"url": WEBHOOK_URL, "event_types": ["failed", "subscribed"]}
        )
        assert (answer["status"], answer["event_types"]) == (0, ["failed", "subscribed"])
        [check] = await w.webhooks(1)
        [event] = w.events(check)
        assert isinstance(event, UnknownEvent)
        assert event.kind == "webhook"
        await w.user_writes()
        await w.send({"type": "text", "text": "no receipts asked for"})
        info = await w.call("get_account_info", {})
        assert (info["webhook"], info["subscribers_count"]) == (WEBHOOK_URL, 1)
        assert len(await w.webhooks(2)) == 2  # the check and the user's message only
        refused = await w.call("set_webhook", {"url": "http://gateway/nowhere"})
        assert refused["status"] == 1


async def test_register_webhook_points_the_bot_at_the_gateway() -> None:
    async with world(webhook_url=None) as w:
        assert await w.adapter.register_webhook(WEBHOOK_URL, w.client)
        info = await w.call("get_account_info", {})
        assert info["webhook"] == WEBHOOK_URL


# -- users writing --------------------------------------------------------------------------


async def test_a_pressed_keyboard_button_arrives_as_a_reply() -> None:
    async with world() as w:
        await w.user_writes()
        content = {
            "type": "interactive",
            "interactive": {
                "kind": "buttons",
                "body": "Did it arrive?",
                "buttons": [
                    {"type": "reply", "id": "yes", "title": "Yes"},
                    {"type": "reply", "id": "no", "title": "No"},
                ],
            },
        }
        await w.send(content)
        await w.user_writes(reply={"id": "no"})
        [event] = w.events((await w.webhooks(2))[1])
        assert isinstance(event, InboundMessage)
        assert event.content == {"type": "reply", "reply": {"id": "no", "title": "No"}}


async def test_a_users_file_is_downloaded_through_its_media_url() -> None:
    async with world() as w:
        pdf = b"%PDF-1.7 \xe2\x9c\x93"
        media = {
            "kind": "document",
            "content_base64": base64.b64encode(pdf).decode(),
            "mime_type": "application/pdf",
            "filename": "Rechnung.pdf",
        }
        sent = await w.user_writes(media=media)
        [event] = w.events((await w.webhooks(1))[0])
        assert isinstance(event, InboundMessage)
        assert event.provider_message_id == sent["id"]
        reference = event.content["media"]["reference"]
        assert event.content["media"]["filename"] == "Rechnung.pdf"
        file = await w.adapter.fetch_media(reference, w.client)
        assert (file.content, file.mime_type) == (pdf, "application/pdf")


@pytest.mark.parametrize("event", ["subscribed", "unsubscribed", "conversation_started"])
async def test_user_events_are_signed_callbacks_kept_as_unknown(event: str) -> None:
    async with world() as w:
        await w.user_writes(event=event)
        [hook] = await w.webhooks(1)
        [parsed] = w.events(hook)
        assert isinstance(parsed, UnknownEvent)
        assert parsed.kind == event
        assert json.loads(hook.body)["event"] == event
