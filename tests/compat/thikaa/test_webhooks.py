"""The ``thikaa`` webhook format: what an endpoint bound to a Thikaa key receives, checked
exactly as the page's PHP snippet checks it, and attachments fetched without a key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from chatgate.domain.dialects import Dialect
from chatgate.domain.keys import KeyMode
from chatgate.services.media_links import MediaLinks
from chatgate.storage.types import utcnow
from tests.api.test_media import PUBLIC_URL, rig
from tests.channels.whatsapp import contract as whatsapp
from tests.compat.thikaa.conftest import Instance, thikaa_endpoint, user_writes
from tests.support import auth, gateway, make_key, until
from tests.webhooks.conftest import clear_webhooks
from tests.webhooks.receiver import Received, Receiver, serving_receiver, verify_officially

# A voice note, small and unlike any other file of the suite.
VOICE = b"OggS" + bytes(range(200, 256)) * 9


def php_signature_ok(secret: str, received: Received) -> bool:
    """The page's PHP, line for line:

    $body = file_get_contents('php://input');
    $ok = hash_equals('sha256=' . hash_hmac('sha256', $body, $secret),
                      $_SERVER['HTTP_X_THIKAA_SIGNATURE'] ?? '');
    """
    body = received.body
    expected = "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, received.headers.get("x-thikaa-signature", ""))


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """The customer's receiver on a loopback port."""
    async with serving_receiver() as serving:
        yield serving


async def test_an_inbound_emoji_text_arrives_signed_as_the_php_snippet_checks_it(
    app: FastAPI, client: httpx.AsyncClient, instance: Instance, receiver: Receiver
) -> None:
    await clear_webhooks(gateway(app).database)
    secret = await thikaa_endpoint(
        client, instance.native_test, instance.test_id, receiver.url("/hook")
    )
    wrote = await user_writes(
        client, instance.native_test, "whatsapp_web", "+966500000001", "شكراً 🌹"
    )
    photo = await client.post(
        "/v1/sandbox/inbound",
        json={
            "channel": "telegram",
            "from": "7000000009",
            "content": {"type": "media", "media": {"url": "https://cdn.example/p.jpg"}},
        },
        headers=auth(instance.native_test),
    )
    assert photo.status_code == 201, photo.text
    # Deliveries are concurrent: they may arrive in any order.
    arrived = await receiver.wait_for("/hook", 2)
    [delivered] = [d for d in arrived if json.loads(d.body)["data"]["channel"] == "wd"]
    [with_photo] = [d for d in arrived if json.loads(d.body)["data"]["channel"] == "tg"]
    assert php_signature_ok(secret, with_photo)
    assert json.loads(with_photo.body)["data"] == {
        "channel": "tg",
        "from": "7000000009",
        "text": "",
        "attachments": [{"type": "image", "url": "https://cdn.example/p.jpg"}],
        "message_id": photo.json()["id"],
    }
    assert php_signature_ok(secret, delivered)
    assert not php_signature_ok(secret + "x", delivered)
    assert delivered.headers["x-thikaa-event"] == "message.received"
    # The Standard Webhooks headers ride along, as on every endpoint.
    assert verify_officially(secret, delivered) == json.loads(delivered.body)
    assert "شكراً 🌹".encode() in delivered.body  # raw UTF-8, not escaped
    assert json.loads(delivered.body) == {
        "event": "message.received",
        "instance_id": "inst_" + instance.test_id.removeprefix("key_"),
        "data": {
            "channel": "wd",
            "from": "+966500000001",
            "text": "شكراً 🌹",
            "attachments": [],
            "message_id": wrote,
        },
    }


async def test_status_events_of_the_keys_own_messages_only(
    app: FastAPI, client: httpx.AsyncClient, instance: Instance, receiver: Receiver
) -> None:
    await clear_webhooks(gateway(app).database)
    secret = await thikaa_endpoint(
        client, instance.native_test, instance.test_id, receiver.url("/hook")
    )
    base = f"{instance.base}?action=send"
    ok = await client.post(
        base,
        json={"channel": "wd", "to": "+966500000001", "message": "🚚"},
        headers=auth(instance.test),
    )
    # The sandbox's magic number: sent, then reported undeliverable.
    failing = await client.post(
        base,
        json={"channel": "wa", "to": "+15005550002", "message": "x"},
        headers=auth(instance.test),
    )
    assert failing.status_code == 409  # WhatsApp Cloud's window is closed: never sent
    await user_writes(client, instance.native_test, "whatsapp", "+15005550002", "hi")
    failing = await client.post(
        base,
        json={"channel": "wa", "to": "+15005550002", "message": "x"},
        headers=auth(instance.test),
    )
    assert (ok.status_code, failing.status_code) == (200, 200), failing.text
    # A message of another key (a native one) is not this instance's.
    native = await client.post(
        "/v1/messages",
        json={
            "channel": "whatsapp_web",
            "to": "+966500000001",
            "content": {"type": "text", "text": "n"},
        },
        headers=auth(instance.native_test),
    )
    assert native.status_code == 202, native.text

    def statuses(message_id: str) -> list[dict[str, Any]]:
        found = [json.loads(r.body) for r in receiver.at("/hook")]
        return [
            body["data"]
            for body in found
            if body["event"] == "message.status" and body["data"]["message_id"] == message_id
        ]

    ok_id, failing_id = ok.json()["message_id"], failing.json()["message_id"]

    async def settled() -> bool:
        # Every status must have arrived, not only the last: deliveries run concurrently.
        seen = {d["status"] for d in statuses(ok_id)}
        return seen >= {"queued", "sent", "delivered", "read"} and any(d["status"] == "failed" for d in statuses(failing_id))

    await until(settled)
    # Deliveries are concurrent: they may arrive in any order.
    assert sorted(d["status"] for d in statuses(ok_id)) == ["delivered", "queued", "read", "sent"]
    assert next(d for d in statuses(ok_id) if d["status"] == "queued") == {
        "channel": "wd",
        "message_id": ok_id,
        "status": "queued",
        "to": "+966500000001",
    }
    [failed] = [d for d in statuses(failing_id) if d["status"] == "failed"]
    assert failed["channel"] == "wa"
    assert failed["error"]["code"] == "undeliverable"
    assert failed["error"]["message"]
    assert statuses(native.json()["id"]) == []
    for delivered in receiver.at("/hook"):
        assert php_signature_ok(secret, delivered)
        assert delivered.headers["x-thikaa-event"] == json.loads(delivered.body)["event"]


async def test_an_inbound_file_is_a_signed_link_fetched_without_a_key(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    async with rig(database_url, tmp_path, allow_private_webhooks=True) as r:
        await clear_webhooks(gateway(r.app).database)
        key_id, _ = await make_key(r.app, r.tenant.account_id, KeyMode.LIVE, dialect=Dialect.THIKAA)
        secret = await thikaa_endpoint(r.client, r.tenant.live, key_id, receiver.url("/hook"))
        created = await r.create_channel(whatsapp.channel_body("http://127.0.0.1/graph"))
        account = whatsapp.emulator_account(created["inbound_url"])
        assert (
            await r.control.post("/_emulator/whatsapp/accounts", json=account)
        ).status_code == 201
        voice = {
            "kind": "audio",
            "content_base64": base64.b64encode(VOICE).decode(),
            "mime_type": "audio/ogg",
            "voice": True,
        }
        await r.user_sends(
            "whatsapp",
            {
                "phone_number_id": whatsapp.PHONE_NUMBER_ID,
                "from": whatsapp.RECIPIENT,
                "media": voice,
            },
        )
        [delivered] = await receiver.wait_for("/hook", 1)
        assert php_signature_ok(secret, delivered)
        data = json.loads(delivered.body)["data"]
        assert (data["channel"], data["from"], data["text"]) == ("wa", whatsapp.RECIPIENT, "")
        [attachment] = data["attachments"]
        assert attachment["type"] == "audio"
        url = attachment["url"]
        assert url.startswith(f"{PUBLIC_URL}/media-links/med_")
        path = urlsplit(url).path

        # No key: the link is the authority. It answers once the file is downloaded.
        fetched: list[httpx.Response] = []

        async def downloaded() -> bool:
            fetched[:] = [await r.client.get(path)]
            return fetched[0].status_code != 409

        await until(downloaded)
        assert fetched[0].status_code == 200, fetched[0].text
        assert fetched[0].content == VOICE
        assert fetched[0].headers["content-type"] == "audio/ogg"

        # Forged or altered: unknown. Expired: gone.
        forged = path[:-4] + ("AAAA" if not path.endswith("AAAA") else "BBBB")
        assert (await r.client.get(forged)).status_code == 404
        media_id = path.rsplit("/", 1)[1].split(".", 1)[0]
        other_key = MediaLinks([b"not the server's key"], "", 3600).token(media_id, utcnow())
        assert (await r.client.get(f"/media-links/{other_key}")).status_code == 404
        links = MediaLinks.of(gateway(r.app).settings)
        expired = links.token(media_id, utcnow() - timedelta(days=8))
        gone = await r.client.get(f"/media-links/{expired}")
        assert gone.status_code == 410
        assert gone.json()["error"]["code"] == "link_expired"
        assert (await r.client.get("/media-links/med_x.1.y")).status_code == 404
