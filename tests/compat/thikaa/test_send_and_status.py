"""``POST ?action=send`` and ``GET ?action=status`` in-process, on both stores: what is
sent is an ordinary message, text and emoji byte-exact to the platform."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI

from tests.compat.thikaa.conftest import WA_USER, Instance, make_instance, top_up
from tests.support import auth, until, wait_for_status

SEND = "?action=send"
SHIPPED = "Your order has shipped 🚚✅"


async def _message(client: httpx.AsyncClient, secret: str, message_id: str) -> dict[str, object]:
    found = await client.get(f"/v1/messages/{message_id}", headers=auth(secret))
    assert found.status_code == 200, found.text
    body: dict[str, object] = found.json()
    return body


async def test_a_send_is_an_ordinary_message_listed_at_v1_messages(
    client: httpx.AsyncClient, instance: Instance
) -> None:
    body = {"channel": "wd", "to": "+966500000001", "message": SHIPPED}
    answer = await client.post(f"{instance.base}{SEND}", json=body, headers=auth(instance.test))
    assert answer.status_code == 200, answer.text
    sent = answer.json()
    assert sent == {
        "ok": True,
        "message_id": sent["message_id"],
        "status": "queued",
        "channel": "wd",
        "to": "+966500000001",
    }
    assert re.fullmatch(r"msg_[0-9A-Z]{26}", sent["message_id"])
    message = await wait_for_status(client, instance.native_test, sent["message_id"], "delivered")
    assert message["channel"] == "whatsapp_web"
    assert message["content"] == {"type": "text", "text": SHIPPED, "preview_url": False}
    listed = await client.get(
        "/v1/messages", params={"channel": "whatsapp_web"}, headers=auth(instance.native_test)
    )
    assert [m["id"] for m in listed.json()["data"]] == [sent["message_id"]]


async def test_media_takes_its_type_from_media_type_or_the_urls_extension(
    client: httpx.AsyncClient, instance: Instance
) -> None:
    invoice = {
        "channel": "wd",
        "to": "+966500000001",
        "message": "فاتورتك 📄",
        "media_url": "https://you.com/invoice.pdf",
        "media_type": "document",
    }
    photo = {"channel": "wd", "to": "+966500000001", "media_url": "https://you.com/a/b.JPG?v=2"}
    typed = {**photo, "media_url": "https://you.com/get?id=9", "media_type": "video"}
    contents = []
    for body in (invoice, photo, typed):
        answer = await client.post(f"{instance.base}{SEND}", json=body, headers=auth(instance.test))
        assert answer.status_code == 200, answer.text
        message = await _message(client, instance.native_test, answer.json()["message_id"])
        contents.append(message["content"])
    assert contents[0] == {
        "type": "media",
        "media": {
            "url": "https://you.com/invoice.pdf",
            "kind": "document",
            "caption": "فاتورتك 📄",
            "voice": False,
        },
    }
    assert contents[1] == {
        "type": "media",
        "media": {"url": "https://you.com/a/b.JPG?v=2", "kind": "image", "voice": False},
    }
    assert contents[2]["media"]["kind"] == "video"  # type: ignore[index]


async def test_text_and_emoji_reach_the_platform_byte_exact(
    app: FastAPI, client: httpx.AsyncClient, instance: Instance, whatsapp_channel: str
) -> None:
    await top_up(app, client, instance, 1_000_000)
    body = {"channel": "wa", "to": WA_USER, "message": "شكراً 🌹 " + SHIPPED}
    answer = await client.post(f"{instance.base}{SEND}", json=body, headers=auth(instance.live))
    assert answer.status_code == 200, answer.text
    assert answer.json()["channel"] == "wa"
    calls: list[dict[str, object]] = []

    async def arrived() -> bool:
        async with httpx.AsyncClient(base_url=whatsapp_channel) as emulator:
            received = await emulator.get("/_emulator/whatsapp/received")
        calls[:] = received.json()
        return bool(calls)

    await until(arrived)
    [call] = calls
    assert call["body"]["text"]["body"] == "شكراً 🌹 " + SHIPPED  # type: ignore[index]
    message = await wait_for_status(
        client, instance.native_live, answer.json()["message_id"], "sent"
    )
    assert message["price"] is not None


async def test_the_url_without_its_trailing_slash_and_unknown_fields(
    client: httpx.AsyncClient, instance: Instance
) -> None:
    body = {"channel": "wd", "to": "+966500000001", "message": "hi", "priority": "high"}
    bare = instance.base.rstrip("/")
    answer = await client.post(f"{bare}{SEND}", json=body, headers=auth(instance.test))
    assert answer.status_code == 200, answer.text
    status = await client.get(f"{bare}?action=status", headers=auth(instance.test))
    assert status.status_code == 200, status.text


async def test_an_idempotency_key_replays_the_first_answer(
    client: httpx.AsyncClient, instance: Instance
) -> None:
    body = {"channel": "wd", "to": "+966500000001", "message": "once"}
    headers = {**auth(instance.test), "Idempotency-Key": "order-42"}
    first = await client.post(f"{instance.base}{SEND}", json=body, headers=headers)
    second = await client.post(f"{instance.base}{SEND}", json=body, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert second.headers["Idempotency-Replayed"] == "true"


async def test_status_shows_the_instance_its_channels_and_the_balance(
    app: FastAPI, client: httpx.AsyncClient, instance: Instance, whatsapp_channel: str
) -> None:
    await top_up(app, client, instance, 12_500_000)
    live = await client.get(f"{instance.base}?action=status", headers=auth(instance.live))
    assert live.status_code == 200, live.text
    assert live.json() == {
        "ok": True,
        "instance_id": "inst_" + instance.live_id.removeprefix("key_"),
        "mode": "live",
        "channels": [
            {"channel": "wd", "connected": False, "status": "not_connected"},
            {"channel": "wa", "connected": True, "status": "connected"},
            {"channel": "tg", "connected": False, "status": "not_connected"},
            {"channel": "fb", "connected": False, "status": "not_connected"},
            {"channel": "ig", "connected": False, "status": "not_connected"},
            {"channel": "tt", "connected": False, "status": "not_connected"},
        ],
        "balance": {"amount": 12.5, "currency": "USD"},
    }
    test = (await client.get(f"{instance.base}?action=status", headers=auth(instance.test))).json()
    assert test["mode"] == "test"
    assert test["instance_id"] == "inst_" + instance.test_id.removeprefix("key_")
    assert {c["status"] for c in test["channels"]} == {"sandbox"}
    again = await client.get(f"{instance.base}?action=status", headers=auth(instance.live))
    assert again.json()["instance_id"] == live.json()["instance_id"]  # stable


async def test_status_lists_only_the_keys_own_channels(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    restricted = await make_instance(app, allowed_channels=frozenset({"telegram", "tiktok", "sms"}))
    answer = await client.get(f"{restricted.base}?action=status", headers=auth(restricted.test))
    assert [c["channel"] for c in answer.json()["channels"]] == ["tg", "tt"]
