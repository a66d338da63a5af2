"""The Zalo emulator behaves like the OA API: auth, the 7-day rule, templates, token
refresh, receipts and signed webhooks, file uploads and the file messages that name them."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from chatgate.channels.base import (
    ChannelSettings,
    InboundMessage,
    OutboundMessage,
    ProviderError,
    RawRequest,
    StatusUpdate,
    UnknownEvent,
)
from chatgate.channels.zalo import ZaloAdapter, ZaloCredentials
from chatgate.channels.zalo_build import MAX_FILE
from chatgate.domain.status import Status
from chatgate.emulators.app import control_router
from chatgate.emulators.core import EmulatorState, Timing
from chatgate.emulators.zalo import ZaloEmulator
from tests.channels.zalo import contract
from tests.support import until

BASE = "http://emulator"
HOOK = "http://gateway/inbound/ch_zalo"
TEXT = {"type": "text", "text": "Cảm ơn bạn 🙏"}
ORDER = {
    "type": "template",
    "template": {
        "name": "transaction_order",
        "language": "vi",
        "variables": {"Mã đơn": "#1042"},
    },
}
WEEK = 7 * 24 * 3600


@dataclass
class World:
    """The emulator in process, its webhooks caught, and the test OA's adapter."""

    state: EmulatorState
    client: httpx.AsyncClient
    adapter: ZaloAdapter
    webhooks: list[RawRequest]

    async def control(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        response = await self.client.post(f"/_emulator/zalo/{action}", json=payload)
        assert response.is_success, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def user_writes(self, user: str = contract.USER_ID, **payload: Any) -> dict[str, Any]:
        body = payload or {"text": "Xin chào"}
        return await self.control("inbound", {"oa_id": contract.OA_ID, "from": user, **body})

    async def send(self, content: dict[str, Any], user: str = contract.USER_ID) -> str:
        message = OutboundMessage("msg_01A", "zalo", None, user, content, None, None)
        result = await self.adapter.send(self.adapter.build_request(message), self.client)
        return result.provider_message_id

    def events(self) -> list[Any]:
        found: list[Any] = []
        for hook in self.webhooks:
            self.adapter.verify(hook)
            found.extend(self.adapter.parse(hook))
        return found

    async def log(self) -> list[dict[str, Any]]:
        response = await self.client.get("/_emulator/zalo/received")
        calls: list[dict[str, Any]] = response.json()
        return calls


@pytest.fixture
async def w() -> AsyncIterator[World]:
    webhooks: list[RawRequest] = []

    async def catch(request: httpx.Request) -> httpx.Response:
        headers = {name.lower(): value for name, value in request.headers.items()}
        webhooks.append(RawRequest("POST", str(request.url), headers, {}, await request.aread()))
        return httpx.Response(200)

    state = EmulatorState(http=httpx.AsyncClient(transport=httpx.MockTransport(catch)))
    state.timing = Timing(sent_after=None, delivered_after=None, read_after=None)
    emulator = ZaloEmulator(state)
    app = FastAPI()
    app.include_router(control_router(state, {"zalo": emulator}))
    app.include_router(emulator.router())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE, timeout=5.0) as client:
        adapter = ZaloAdapter(contract.credentials(), ChannelSettings(api_base=f"{BASE}/zalo"))
        world = World(state, client, adapter, webhooks)
        await world.control("accounts", contract.emulator_account(HOOK))
        yield world
    await state.close()


def _wrote_ago(w: World, seconds: float, user: str = contract.USER_ID) -> None:
    w.state.last_inbound[("zalo", contract.OA_ID, user)] = time.time() - seconds


async def test_a_user_message_arrives_signed_and_parsed(w: World) -> None:
    sent = await w.user_writes(text="Xin chào 👋")
    [event] = w.events()
    assert isinstance(event, InboundMessage)
    assert (event.provider_message_id, event.sender, event.recipient) == (
        sent["id"],
        contract.USER_ID,
        contract.OA_ID,
    )
    assert event.content == {"type": "text", "text": "Xin chào 👋"}
    assert w.webhooks[0].url == HOOK


async def test_a_text_is_sent_then_delivered_and_seen(w: World) -> None:
    await w.user_writes()
    w.state.timing = Timing(sent_after=None, delivered_after=0.0, read_after=0.01)
    message_id = await w.send(TEXT)

    async def both() -> bool:
        return len(w.webhooks) >= 3

    await until(both, limit=5.0)
    statuses = [e for e in w.events() if isinstance(e, StatusUpdate)]
    assert [(s.status, s.provider_message_id, s.recipient) for s in statuses] == [
        (Status.DELIVERED, message_id, contract.USER_ID),
        (Status.READ, message_id, contract.USER_ID),
    ]
    [call] = await w.log()
    assert (call["status"], call["path"], call["message_id"]) == (
        200,
        "/zalo/v3.0/oa/message/cs",
        message_id,
    )


async def test_consultation_needs_an_interaction_in_the_last_7_days(w: World) -> None:
    with pytest.raises(ProviderError) as never:
        await w.send(TEXT)
    assert (never.value.code, never.value.retryable) == ("-230", False)
    _wrote_ago(w, WEEK + 60)
    with pytest.raises(ProviderError) as late:
        await w.send(TEXT)
    assert late.value.code == "-230"
    _wrote_ago(w, WEEK - 60)
    assert await w.send(TEXT)
    assert [call["status"] for call in await w.log()] == [400, 400, 200]


async def test_a_transaction_goes_outside_the_7_days_but_not_to_strangers(w: World) -> None:
    _wrote_ago(w, 30 * 24 * 3600)
    assert await w.send(ORDER)
    with pytest.raises(ProviderError) as stranger:
        await w.send(ORDER, user="6418340393291799999")
    assert stranger.value.code == "-213"


async def test_a_follower_may_get_a_promotion(w: World) -> None:
    follower = "6418340393291700001"
    await w.user_writes(follower, event="follow")
    assert [e.kind for e in w.events()] == ["follow"]
    promotion = {
        "type": "template",
        "template": {"name": "promotion", "language": "en", "variables": ["50% off today"]},
    }
    assert await w.send(promotion, user=follower)
    [call] = await w.log()
    assert call["path"] == "/zalo/v3.0/oa/message/promotion"


async def test_a_template_on_the_wrong_endpoint_is_invalid(w: World) -> None:
    await w.user_writes()
    request = w.adapter.build_request(
        OutboundMessage("m", "zalo", None, contract.USER_ID, ORDER, None, None)
    )
    wrong = request.url.replace("/transaction", "/promotion")
    headers = {"access_token": contract.ACCESS_TOKEN}
    answer = await w.client.post(wrong, json=request.json, headers=headers)
    assert answer.status_code == 200
    assert answer.json()["error"] == -201


async def test_an_unknown_token_is_refused_as_zalo_does(w: World) -> None:
    answer = await w.client.post(
        "/zalo/v3.0/oa/message/cs",
        json={"recipient": {"user_id": contract.USER_ID}, "message": {"text": "hi"}},
        headers={"access_token": "not-a-token"},
    )
    assert (answer.status_code, answer.json()["error"]) == (200, -216)
    [call] = await w.log()
    assert call["status"] == 401


async def test_an_expired_token_is_refreshed_and_the_new_tokens_kept(w: World) -> None:
    await w.user_writes()
    kept: list[BaseModel] = []

    async def keep(credentials: BaseModel) -> None:
        kept.append(credentials)

    w.adapter.credentials_listener = keep
    # Zalo issued another token since: the adapter's has expired.
    await w.control("accounts", {**contract.emulator_account(HOOK), "access_token": "newer"})
    assert await w.send(TEXT)
    [fresh] = kept
    assert isinstance(fresh, ZaloCredentials)
    account = w.state.accounts["zalo"][contract.OA_ID]
    assert fresh.access_token.get_secret_value() == account.secrets["access_token"]
    assert fresh.refresh_token.get_secret_value() == account.secrets["refresh_token"]
    assert fresh.refresh_token.get_secret_value() != contract.REFRESH_TOKEN
    # The old refresh token is spent.
    spent = await w.client.post(
        "/zalo/v4/oa/access_token",
        data={
            "refresh_token": contract.REFRESH_TOKEN,
            "app_id": contract.APP_ID,
            "grant_type": "refresh_token",
        },
        headers={"secret_key": contract.APP_SECRET},
    )
    assert spent.json()["error"] == -14014


async def test_a_refresh_with_the_wrong_app_secret_is_refused(w: World) -> None:
    answer = await w.client.post(
        "/zalo/v4/oa/access_token",
        data={
            "refresh_token": contract.REFRESH_TOKEN,
            "app_id": contract.APP_ID,
            "grant_type": "refresh_token",
        },
        headers={"secret_key": "wrong"},
    )
    assert answer.json()["error"] == -14002


async def test_inbound_media_is_downloaded_through_the_adapter(w: World) -> None:
    content = base64.b64encode(b"\x89PNG fake").decode()
    await w.user_writes(
        media={
            "kind": "image",
            "content_base64": content,
            "mime_type": "image/png",
            "caption": "Ảnh",
        }
    )
    [event] = w.events()
    assert isinstance(event, InboundMessage)
    media = event.content["media"]
    assert (media["kind"], media["caption"]) == ("image", "Ảnh")
    found = await w.adapter.fetch_media(media["reference"], w.client)
    assert (found.content, found.mime_type) == (b"\x89PNG fake", "image/png")


async def test_location_and_files_arrive_as_zalo_writes_them(w: World) -> None:
    await w.user_writes(location={"latitude": 10.7769, "longitude": 106.7009})
    pdf = base64.b64encode(b"%PDF").decode()
    await w.user_writes(
        media={
            "kind": "file",
            "content_base64": pdf,
            "mime_type": "application/pdf",
            "filename": "a.pdf",
        }
    )
    location, document = w.events()
    assert isinstance(location, InboundMessage)
    assert isinstance(document, InboundMessage)
    assert location.content == {
        "type": "location",
        "location": {"latitude": 10.7769, "longitude": 106.7009},
    }
    assert document.content["media"]["kind"] == "document"
    assert document.content["media"]["filename"] == "a.pdf"


async def test_an_unfollow_is_kept_as_an_event(w: World) -> None:
    await w.user_writes(event="unfollow")
    [event] = w.events()
    assert isinstance(event, UnknownEvent)
    assert event.kind == "unfollow"


# -- documents -----------------------------------------------------------------------------

# The emulator at an address the adapter may fetch from: its own host, given as a literal.
LOCAL_API = "http://127.0.0.1:9/zalo"
UPLOAD = "/zalo/v2.0/oa/upload/file"


async def _a_file_on_the_cdn(w: World, content: bytes, mime_type: str, name: str) -> str:
    """A file the emulator serves (one a user sent); its URL at :data:`LOCAL_API`."""
    sent = await w.user_writes(
        user="5501",
        media={
            "kind": "file",
            "content_base64": base64.b64encode(content).decode(),
            "mime_type": mime_type,
            "filename": name,
        },
    )
    return LOCAL_API + str(sent["body"]["message"]["attachments"][0]["payload"]["url"])


async def test_a_document_is_uploaded_then_sent_as_a_file_message(w: World) -> None:
    await w.user_writes()
    url = await _a_file_on_the_cdn(w, b"%PDF-1.7 hoa don", "application/pdf", "hd.pdf")
    adapter = ZaloAdapter(contract.credentials(), ChannelSettings(api_base=LOCAL_API))
    document = {"type": "media", "media": {"url": url, "kind": "document", "filename": "hd.pdf"}}
    message = OutboundMessage("msg_01A", "zalo", None, contract.USER_ID, document, None, None)
    result = await adapter.send(adapter.build_request(message), w.client)
    upload, send = await w.log()
    assert (upload["path"], upload["status"], upload["recipient"]) == (UPLOAD, 200, None)
    assert upload["body"] == {
        "file": {"filename": "hd.pdf", "content_type": "application/pdf", "size": 16}
    }
    assert (send["path"], send["status"], send["message_id"]) == (
        "/zalo/v3.0/oa/message/cs",
        200,
        result.provider_message_id,
    )
    attachment = send["body"]["message"]["attachment"]
    assert attachment["type"] == "file"
    assert (
        attachment["payload"]["token"]
        in w.state.accounts["zalo"][contract.OA_ID].extra["file_tokens"]
    )


async def test_a_file_message_needs_a_token_the_oa_was_given(w: World) -> None:
    await w.user_writes()
    body = {
        "recipient": {"user_id": contract.USER_ID},
        "message": {"attachment": {"type": "file", "payload": {"token": "made-up"}}},
    }
    answer = await w.client.post(
        "/zalo/v3.0/oa/message/cs", json=body, headers={"access_token": contract.ACCESS_TOKEN}
    )
    assert answer.json()["error"] == -201
    [call] = await w.log()
    assert call["status"] == 400


@pytest.mark.parametrize(
    ("token", "file", "code"),
    [
        (contract.ACCESS_TOKEN, ("a.csv", b"a,b", "text/csv"), -201),
        (contract.ACCESS_TOKEN, ("a.pdf", b"%PDF" + b"0" * MAX_FILE, "application/pdf"), -201),
        ("not-a-token", ("a.pdf", b"%PDF", "application/pdf"), -216),
    ],
)
async def test_an_upload_zalo_would_refuse_is_refused(
    w: World, token: str, file: tuple[str, bytes, str], code: int
) -> None:
    answer = await w.client.post(
        "/zalo/v2.0/oa/upload/file", files={"file": file}, headers={"access_token": token}
    )
    assert answer.status_code == 200
    assert answer.json()["error"] == code
    assert w.state.accounts["zalo"][contract.OA_ID].extra["file_tokens"] == set()


async def test_an_upload_must_be_multipart_with_a_file(w: World) -> None:
    headers = {"access_token": contract.ACCESS_TOKEN}
    plain = await w.client.post("/zalo/v2.0/oa/upload/file", json={}, headers=headers)
    other = await w.client.post(
        "/zalo/v2.0/oa/upload/file", files={"document": ("a.pdf", b"%PDF")}, headers=headers
    )
    assert [plain.json()["error"], other.json()["error"]] == [-201, -201]
