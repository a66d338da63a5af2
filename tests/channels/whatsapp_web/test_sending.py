"""Sending and receiving through a session, end to end: the gateway (API, worker, webhooks)
runs a session on the emulated WhatsApp Web, served on loopback with a customer's file host
and webhook receiver."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.channels.whatsapp_web.support import CONTROL, PHONE, paired_session
from tests.support import Tenant, auth, served_in_this_loop, until, wait_for_status
from tests.webhooks.receiver import Receiver

USER = "+237699000111"
# Sessions in these tests send as fast as a session may, so that a test is not paced.
FAST_PACING = {"messages_per_minute": 600}
FILES: dict[str, tuple[bytes, str]] = {
    "photo.jpg": (b"\xff\xd8\xff\xe0" + b"jpeg" * 64, "image/jpeg"),
    "clip.mp4": (b"\x00\x00\x00\x18ftypmp42" + b"v" * 200, "video/mp4"),
    "terms.pdf": (b"%PDF-1.4 terms", "application/pdf"),
    "song.mp3": (b"ID3" + b"m" * 300, "audio/mpeg"),
    "note.ogg": (b"OggS" + b"o" * 120, "audio/ogg"),
}


@pytest.fixture
async def files() -> AsyncIterator[str]:
    """A customer's file host on loopback (the gateway may reach it: tests allow private
    addresses)."""

    async def serve(request: Request) -> Response:
        content, mime_type = FILES[request.path_params["name"]]
        return Response(content, media_type=mime_type)

    async with served_in_this_loop(Starlette(routes=[Route("/{name}", serve)])) as url:
        yield url


async def _send(client: httpx.AsyncClient, secret: str, **body: Any) -> dict[str, Any]:
    message = {"channel": "whatsapp_web", "to": USER, **body}
    response = await client.post("/v1/messages", json=message, headers=auth(secret))
    assert response.status_code == 202, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def _hook(client: httpx.AsyncClient, secret: str, receiver: Receiver, *types: str) -> None:
    body = {"url": receiver.url("/hooks"), "event_types": list(types)}
    created = await client.post("/v1/webhooks", json=body, headers=auth(secret))
    assert created.status_code == 201, created.text


def _events(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in receiver.at("/hooks")]


async def test_every_kind_reaches_the_phone_as_the_platforms_kind_and_is_read(
    client: httpx.AsyncClient,
    tenant: Tenant,
    phone: httpx.AsyncClient,
    files: str,
    receiver: Receiver,
) -> None:
    await _hook(client, tenant.live, receiver, "message.status")
    await paired_session(client, tenant.live, phone, "desk", **FAST_PACING)
    first = await _send(
        client, tenant.live, **{"from": "desk"}, content={"type": "text", "text": "Hello 👋"}
    )
    first = await wait_for_status(client, tenant.live, first["id"], "read")
    media = {
        "image": {"url": f"{files}/photo.jpg", "caption": "our shop"},
        "video": {"url": f"{files}/clip.mp4"},
        "document": {"url": f"{files}/terms.pdf", "filename": "Terms.pdf"},
        "audio": {"url": f"{files}/song.mp3"},
        "voice": {"url": f"{files}/note.ogg", "voice": True},
    }
    contents: list[dict[str, Any]] = [
        *({"type": "media", "media": part} for part in media.values()),
        {"type": "location", "location": {"latitude": 4.05, "longitude": 9.7, "name": "Douala"}},
        {"type": "contact", "contacts": [{"name": "Ada", "phones": ["+237612000000"]}]},
        {
            "type": "reaction",
            "reaction": {"message_id": first["provider_message_id"], "emoji": "👍"},
        },
    ]
    # No ``from``: the account's only working session carries them.
    sent = [await _send(client, tenant.live, content=content) for content in contents]
    reply = await _send(
        client, tenant.live, content={"type": "text", "text": "as I said"}, reply_to=first["id"]
    )
    ids = [first["id"], *(m["id"] for m in sent), reply["id"]]
    platform_ids = []
    for message_id in ids:
        shown = await wait_for_status(client, tenant.live, message_id, "read", limit=30)
        assert shown["status"] == "read"
        platform_ids.append(shown["provider_message_id"])

    received = (await phone.get(f"{CONTROL}/received")).json()
    assert {r["account"] for r in received} == {PHONE}
    by_id = {r["message_id"]: r["body"] for r in received if r["status"] == 200}
    bodies = [by_id[platform_id] for platform_id in platform_ids]
    assert [b["kind"] for b in bodies] == [
        "text",
        "image",
        "video",
        "document",
        "audio",
        "audio",
        "location",
        "contact",
        "reaction",
        "text",
    ]
    text, image, video, document, song, voice, place, card, reaction, answer = bodies
    assert text["text"] == "Hello 👋"
    assert (image["caption"], image["mime_type"]) == ("our shop", "image/jpeg")
    assert image["media"]["size"] == len(FILES["photo.jpg"][0])
    assert video["mime_type"] == "video/mp4"
    assert (document["filename"], document["mime_type"]) == ("Terms.pdf", "application/pdf")
    assert (song["ptt"], voice["ptt"]) == (False, True)
    assert voice["media"]["size"] == len(FILES["note.ogg"][0])
    assert (place["latitude"], place["longitude"], place["name"]) == (4.05, 9.7, "Douala")
    assert card["contacts"][0].startswith("BEGIN:VCARD")
    assert "FN:Ada" in card["contacts"][0]
    assert reaction["message_id"] == first["provider_message_id"]
    assert reaction["emoji"] == "👍"
    assert (answer["text"], answer["quoted"]) == ("as I said", first["provider_message_id"])

    async def every_read_webhooked() -> bool:
        read = {e["data"]["message_id"] for e in _events(receiver) if e["data"]["status"] == "read"}
        return read >= set(ids)

    await until(every_read_webhooked, limit=15)
    # Every ack was webhooked (deliveries run concurrently: in any order).
    for message_id in ids:
        steps = {
            e["data"]["status"] for e in _events(receiver) if e["data"]["message_id"] == message_id
        }
        assert steps >= {"sent", "delivered", "read"}


async def test_users_messages_text_media_and_voice_are_stored_rehosted_and_webhooked(
    client: httpx.AsyncClient, tenant: Tenant, phone: httpx.AsyncClient, receiver: Receiver
) -> None:
    await _hook(client, tenant.live, receiver, "message.received")
    session_id = await paired_session(client, tenant.live, phone, "desk")
    photo = b"\x89PNG\r\n\x1a\n" + b"p" * 64
    voice = b"OggS" + b"v" * 90
    inbound = [
        {"kind": "text", "text": "Is the shop open?"},
        {"kind": "image", "mime_type": "image/png", "caption": "this one", "photo": photo},
        {"kind": "voice", "voice": voice},
    ]
    for one in inbound:
        content = one.pop("photo", None) or one.pop("voice", None)
        if isinstance(content, bytes):
            one["content_base64"] = base64.b64encode(content).decode()
        injected = await phone.post(
            f"{CONTROL}/inbound", json={"phone": PHONE, "from": USER, **one}
        )
        assert injected.status_code < 300, injected.text

    async def all_webhooked() -> bool:
        return len(_events(receiver)) >= 3

    await until(all_webhooked, limit=15)
    listed = await client.get(
        "/v1/messages",
        params={"direction": "inbound", "channel": "whatsapp_web"},
        headers=auth(tenant.live),
    )
    messages = sorted(listed.json()["data"], key=lambda m: m["id"])
    assert [(m["from"], m["to"]) for m in messages] == [(USER, PHONE)] * 3
    text, image, note = (m["content"] for m in messages)
    assert text == {"type": "text", "text": "Is the shop open?"}
    assert (image["media"]["kind"], image["media"]["caption"]) == ("image", "this one")
    assert (note["media"]["kind"], note["media"]["voice"]) == ("audio", True)
    # The files are re-hosted: the gateway downloaded them through the session's device.
    for part, expected in ((image["media"], photo), (note["media"], voice)):
        media_path = f"/v1/media/{part['media_id']}"

        async def stored(path: str = media_path) -> bool:
            found = await client.get(path, headers=auth(tenant.live))
            return found.status_code == 200

        await until(stored, limit=15)
        downloaded = await client.get(media_path, headers=auth(tenant.live))
        assert downloaded.content == expected
    hooked = [e["data"] for e in _events(receiver) if e["type"] == "message.received"]
    assert {d["message_id"] for d in hooked} == {m["id"] for m in messages}
    assert {d["channel"] for d in hooked} == {"whatsapp_web"}
    # The session's channel connection (its id is the session's) received them.
    channels = await client.get("/v1/channels", headers=auth(tenant.live))
    [connection] = [c for c in channels.json()["data"] if c["type"] == "whatsapp_web"]
    assert (connection["id"], connection["name"]) == (session_id, "desk")
