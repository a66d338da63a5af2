"""The TikTok emulator, driven through the adapter on a loopback socket.

A real socket, because an image send makes the gateway fetch the image itself: through the
address check, which needs an address (the emulator's own host is allowed).
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from chatgate.channels.base import (
    ChannelSettings,
    InboundMessage,
    OutboundMessage,
    ProviderError,
    RawRequest,
    StatusUpdate,
    UnknownEvent,
)
from chatgate.channels.tiktok import MESSAGES_PER_USER_MESSAGE, TikTokAdapter
from chatgate.domain.status import Status
from chatgate.emulators.app import create_emulator_app
from chatgate.emulators.core import EmulatorState, Timing
from tests.channels.tiktok import contract
from tests.support import served_in_this_loop, until

PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 200
TEXT = {"type": "text", "text": "Your mug ships today 📦"}


@dataclass
class World:
    """The emulator on loopback, the test account's adapter, and the webhooks it sent."""

    base: str
    client: httpx.AsyncClient
    adapter: TikTokAdapter
    state: EmulatorState
    hooks: list[RawRequest]

    async def control(self, action: str, payload: dict[str, Any]) -> httpx.Response:
        return await self.client.post(f"{self.base}/_emulator/tiktok/{action}", json=payload)

    async def inbound(self, **content: Any) -> dict[str, Any]:
        payload = {**contract.SPEC.user_writes, **content}
        if "text" not in content:
            payload.pop("text")
        answer = await self.control("inbound", payload)
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    async def send(self, content: dict[str, Any] = TEXT, reply_to: str | None = None) -> str:
        message = OutboundMessage(
            id="msg_1",
            channel="tiktok",
            sender=None,
            recipient=contract.CONVERSATION_ID,
            content=content,
            reply_to=reply_to,
            metadata=None,
        )
        result = await self.adapter.send(self.adapter.build_request(message), self.client)
        return result.provider_message_id

    async def webhooks(self, count: int) -> list[RawRequest]:
        async def arrived() -> bool:
            return len(self.hooks) >= count

        await until(arrived, limit=5.0)
        return self.hooks

    async def received(self) -> list[dict[str, Any]]:
        log: list[dict[str, Any]] = (
            await self.client.get(f"{self.base}/_emulator/tiktok/received")
        ).json()
        return log


@asynccontextmanager
async def world(timing: Timing | None = None) -> AsyncIterator[World]:
    hooks: list[RawRequest] = []

    async def catch(request: httpx.Request) -> httpx.Response:
        headers = {name.lower(): value for name, value in request.headers.items()}
        hooks.append(RawRequest("POST", str(request.url), headers, {}, await request.aread()))
        return httpx.Response(200)

    state = EmulatorState(http=httpx.AsyncClient(transport=httpx.MockTransport(catch)))
    state.timing = timing or Timing(sent_after=None, delivered_after=None, read_after=None)
    async with (
        served_in_this_loop(create_emulator_app(state)) as base,
        httpx.AsyncClient(trust_env=False, timeout=5.0) as client,
    ):
        adapter = TikTokAdapter(contract.credentials(), ChannelSettings(api_base=f"{base}/tiktok"))
        w = World(base, client, adapter, state, hooks)
        answer = await w.control("accounts", contract.emulator_account("http://gateway/tiktok"))
        assert answer.status_code == 201, answer.text
        yield w
    await state.close()


async def test_registration_needs_the_three_credentials() -> None:
    async with world() as w:
        answer = await w.control("accounts", {"business_id": "b1", "access_token": "t"})
        assert answer.status_code == 422
        assert "client_secret" in answer.text


async def test_a_business_cannot_write_first() -> None:
    async with world() as w:
        with pytest.raises(ProviderError) as refused:
            await w.send()
        assert (refused.value.code, refused.value.retryable) == ("40002", False)
        [call] = await w.received()
        assert (call["status"], call["recipient"]) == (400, contract.CONVERSATION_ID)


async def test_a_wrong_token_or_business_is_refused() -> None:
    async with world() as w:
        await w.inbound(text="hi")
        stranger = TikTokAdapter(
            contract.credentials().model_copy(update={"business_id": "-000someoneelse"}),
            w.adapter.settings,
        )
        request = stranger.build_request(
            OutboundMessage("m", "tiktok", None, contract.CONVERSATION_ID, TEXT, None, None)
        )
        with pytest.raises(ProviderError) as not_theirs:
            await stranger.send(request, w.client)
        assert not_theirs.value.code == "40001"
        forged = contract.credentials().model_copy(update={"access_token": SecretStr("act.x")})
        with pytest.raises(ProviderError) as forged_token:
            await TikTokAdapter(forged, w.adapter.settings).send(request, w.client)
        assert (forged_token.value.code, forged_token.value.retryable) == ("40105", False)


async def test_ten_messages_per_user_message_then_40064_until_the_user_writes() -> None:
    async with world() as w:
        await w.inbound(text="hi")
        sent = [await w.send() for _ in range(MESSAGES_PER_USER_MESSAGE)]
        assert len(set(sent)) == MESSAGES_PER_USER_MESSAGE
        with pytest.raises(ProviderError) as capped:
            await w.send()
        assert (capped.value.code, capped.value.retryable) == ("40064", False)
        await w.inbound(text="and one more thing")
        assert await w.send()


async def test_the_window_closes_48_hours_after_the_users_message() -> None:
    async with world() as w:
        await w.inbound(text="hi")
        key = ("tiktok", contract.BUSINESS_ID, contract.CONVERSATION_ID)
        w.state.last_inbound[key] = time.time() - 47 * 3600
        assert await w.send()
        w.state.last_inbound[key] = time.time() - 49 * 3600
        with pytest.raises(ProviderError) as closed:
            await w.send()
        assert (closed.value.code, closed.value.retryable) == ("40064", False)


async def test_a_quote_names_a_message_of_the_conversation() -> None:
    async with world() as w:
        written = await w.inbound(text="which colours?")
        assert await w.send(reply_to=written["id"])
        with pytest.raises(ProviderError) as unknown:
            await w.send(reply_to="bm9zdWNobWVzc2FnZQ==")
        assert unknown.value.code == "40002"


async def test_the_users_message_arrives_signed_and_parses() -> None:
    async with world() as w:
        written = await w.inbound(text="Is it dishwasher safe? 🍽", reply_to=None)
        [hook] = await w.webhooks(1)
        assert hook.headers["tiktok-signature"].startswith("t=")
        w.adapter.verify(hook)
        [message] = w.adapter.parse(hook)
        assert isinstance(message, InboundMessage)
        assert (message.provider_message_id, message.sender, message.recipient) == (
            written["id"],
            contract.CONVERSATION_ID,
            contract.BUSINESS_ID,
        )
        assert message.content == {"type": "text", "text": "Is it dishwasher safe? 🍽"}
        assert message.sender_name == contract.USERNAME


async def test_a_send_is_echoed_then_read() -> None:
    timing = Timing(sent_after=0.0, delivered_after=None, read_after=0.05)
    async with world(timing) as w:
        await w.inbound(text="hi")
        before = time.time()
        message_id = await w.send()
        _, echo, read = await w.webhooks(3)
        for hook in (echo, read):
            w.adapter.verify(hook)
        [echoed] = w.adapter.parse(echo)
        assert isinstance(echoed, UnknownEvent)
        assert echoed.kind == "echo"
        assert message_id in echo.body.decode()
        [receipt] = w.adapter.parse(read)
        assert isinstance(receipt, StatusUpdate)
        assert (receipt.status, receipt.recipient, receipt.provider_message_id) == (
            Status.READ,
            contract.CONVERSATION_ID,
            None,
        )
        assert receipt.up_to is not None
        assert receipt.up_to.timestamp() >= before


async def test_a_users_image_is_downloaded_and_sent_back() -> None:
    async with world() as w:
        await w.inbound(
            image={"content_base64": base64.b64encode(PNG).decode(), "mime_type": "image/png"}
        )
        [hook] = await w.webhooks(1)
        [message] = w.adapter.parse(hook)
        assert isinstance(message, InboundMessage)
        media = message.content["media"]
        assert media["kind"] == "image"
        file = await w.adapter.fetch_media(media["reference"], w.client)
        assert (file.content, file.mime_type) == (PNG, "image/png")
        # The business sends the same picture back: fetched from the emulator's own host
        # (a loopback address, allowed as the platform's), uploaded, sent by media id.
        download = (await w.received())[-1]
        url = await _download_url(w, download["body"])
        message_id = await w.send({"type": "media", "media": {"kind": "image", "url": url}})
        upload, send = (await w.received())[-2:]
        assert upload["path"].endswith("/business/message/media/upload/")
        assert upload["body"]["media_type"] == "IMAGE"
        assert upload["body"]["file"]["size"] == len(PNG)
        assert upload["recipient"] is None
        assert send["body"]["message_type"] == "IMAGE"
        assert send["message_id"] == message_id


async def _download_url(w: World, body: dict[str, Any]) -> str:
    answer = await w.client.post(
        f"{w.base}/tiktok/open_api/v1.3/business/message/media/download/",
        json=body,
        headers={"Access-Token": contract.ACCESS_TOKEN},
    )
    url: str = answer.json()["data"]["download_url"]
    return url


async def test_only_jpg_and_png_are_uploaded() -> None:
    async with world() as w:
        answer = await w.client.post(
            f"{w.base}/tiktok/open_api/v1.3/business/message/media/upload/",
            data={"business_id": contract.BUSINESS_ID, "media_type": "IMAGE"},
            files={"file": ("a.gif", b"GIF89a", "image/gif")},
            headers={"Access-Token": contract.ACCESS_TOKEN},
        )
        assert answer.status_code == 200  # TikTok refuses with HTTP 200 and a code
        assert answer.json()["code"] == 40908


async def test_a_download_url_needs_its_signature() -> None:
    async with world() as w:
        await w.inbound(image={"content_base64": base64.b64encode(PNG).decode()})
        [hook] = await w.webhooks(1)
        [message] = w.adapter.parse(hook)
        assert isinstance(message, InboundMessage)
        _, conversation, message_id, media_id = message.content["media"]["reference"].split(":")
        body = {
            "business_id": contract.BUSINESS_ID,
            "conversation_id": conversation,
            "message_id": message_id,
            "media_id": media_id,
            "media_type": "IMAGE",
        }
        url = await _download_url(w, body)
        assert (await w.client.get(url)).content == PNG
        forged = url.split("?", 1)[0] + "?signature=0000"
        assert (await w.client.get(forged)).status_code == 403


async def test_inbound_kinds_parse_as_the_adapter_reads_them() -> None:
    async with world() as w:
        first = await w.inbound(text="hi")
        await w.inbound(reaction={"message_id": first["id"], "emoji": "👍"})
        await w.inbound(video={"content_base64": base64.b64encode(b"mp4").decode()})
        await w.inbound(share_post={"video_id": "7441234567890123456"})
        hooks = await w.webhooks(4)
        events = [w.adapter.parse(hook)[0] for hook in hooks]
        reaction, video, shared = events[1:]
        assert isinstance(reaction, InboundMessage)
        assert reaction.content == {
            "type": "reaction",
            "reaction": {"message_id": first["id"], "emoji": "👍"},
        }
        assert isinstance(video, InboundMessage)
        assert video.content["media"]["reference"].startswith("VIDEO:")
        assert isinstance(shared, UnknownEvent)
        assert shared.kind == "message.share_post"
