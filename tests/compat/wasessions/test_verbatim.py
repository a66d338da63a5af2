"""Every request of the WhatsApp-sessions page, as printed, and each of its error codes.

Only the base URL (``https://api.yoursite.com/api/v1`` is ``/compat/wasessions/api/v1``),
the key (``YOUR_API_KEY`` is a ``was_…`` key), the placeholders a client fills in (the
Quick Start's ``+237XXXXXXXXX``, a session's ``{id}``) and the files' URLs (a loopback
server's, the file names kept) are changed. A session is made working as its runner would
report it; the pairing through the emulated phone is in ``test_pairing``.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx
from fastapi import FastAPI

from chatgate.compat.wasessions.ids import as_uuid, from_uuid
from chatgate.domain.dialects import Dialect
from chatgate.domain.keys import KeyMode
from chatgate.storage.types import utcnow
from tests.compat.wasessions.conftest import (
    BASE,
    PHONE,
    Files,
    create_session,
    refused,
    set_state,
    working_session,
)
from tests.support import (
    SseSeen,
    Tenant,
    auth,
    gateway,
    make_key,
    read_sse,
    until,
)

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
JSON = {"Content-Type": "application/json"}


def page_headers(secret: str) -> dict[str, str]:
    """The page's headers: ``Authorization: Bearer YOUR_API_KEY`` and JSON."""
    return {"Authorization": f"Bearer {secret}", **JSON}


async def post(client: httpx.AsyncClient, secret: str, path: str, body: str) -> httpx.Response:
    """POST the page's body, as its text, to ``path`` under the base URL."""
    return await client.post(f"{BASE}{path}", content=body, headers=page_headers(secret))


def accepted(answer: httpx.Response, kind: str) -> dict[str, Any]:
    """The page's 202: ``{"id": "<uuid>", "toPhone", "type", "status": "pending"}``."""
    assert answer.status_code == 202, answer.text
    body: dict[str, Any] = answer.json()
    assert set(body) == {"id", "toPhone", "type", "status"}
    assert UUID.match(body["id"]), body
    assert (body["toPhone"], body["type"], body["status"]) == (PHONE, kind, "pending")
    return body


async def test_quick_start_sends_the_first_message(
    app: FastAPI, client: httpx.AsyncClient, was_test: str
) -> None:
    await working_session(app, client, was_test)
    # curl -X POST https://api.yoursite.com/api/v1/messages -H "Authorization: Bearer …"
    #   -H "Content-Type: application/json" -d '{"to": "+237XXXXXXXXX", "message": "Hello!"}'
    answer = await post(
        client, was_test, "/messages", '{"to": "+237612345678", "message": "Hello!"}'
    )
    accepted(answer, "text")


async def test_send_text_message(app: FastAPI, client: httpx.AsyncClient, was_test: str) -> None:
    session = await working_session(app, client, was_test)
    body = '{\n"to": "+237612345678",\n"message": "Hello from WhatsApp API!"\n}'
    sent = accepted(await post(client, was_test, "/messages", body), "text")
    # The UUID and Chatgate's own id are the same message.
    ours = from_uuid("msg", sent["id"])
    for given in (sent["id"], ours):
        shown = await client.get(f"{BASE}/messages/{given}", headers=auth(was_test))
        assert shown.status_code == 200, shown.text
        found = shown.json()
        assert (found["id"], found["message"], found["sessionId"]) == (
            sent["id"],
            "Hello from WhatsApp API!",
            session["id"],
        )
    native = await client.get(f"/v1/messages/{ours}", headers=auth(await _native(app, was_test)))
    assert native.json()["channel"] == "whatsapp_web"
    assert native.json()["from"] == from_uuid("ses", session["id"])


async def _native(app: FastAPI, dialect_secret: str) -> str:
    """A native test key of the same account as ``dialect_secret``."""
    key = await gateway(app).key_cache.lookup(dialect_secret)
    assert key is not None
    _, secret = await make_key(app, key.account_id, KeyMode.TEST)
    return secret


async def test_send_image_or_video(
    app: FastAPI, client: httpx.AsyncClient, was_test: str, files: Files
) -> None:
    await working_session(app, client, was_test)
    body = (
        '{\n"to": "+237612345678",\n"mediaUrl": "https://example.com/image.jpg",\n'
        '"mediaType": "image",\n"caption": "Check this out!"\n}'
    ).replace("https://example.com", files.base + "/plain")
    sent = accepted(await post(client, was_test, "/messages/media", body), "image")
    shown = (await client.get(f"{BASE}/messages/{sent['id']}", headers=auth(was_test))).json()
    assert (shown["mediaUrl"], shown["caption"]) == (files.url("image.jpg"), "Check this out!")
    video = {"to": PHONE, "mediaUrl": files.url("clip.mp4"), "mediaType": "video"}
    accepted(await post(client, was_test, "/messages/media", json.dumps(video)), "video")


async def test_send_audio_or_voice_note(
    app: FastAPI, client: httpx.AsyncClient, was_test: str, files: Files
) -> None:
    await working_session(app, client, was_test)
    body = '{\n"to": "+237612345678",\n"audioUrl": "https://example.com/voice.ogg",\n"ptt": true\n}'
    body = body.replace("https://example.com", files.base + "/plain")
    voice = accepted(await post(client, was_test, "/messages/audio", body), "audio")
    song = {"to": PHONE, "audioUrl": files.url("song.mp3"), "ptt": False}
    audio = accepted(await post(client, was_test, "/messages/audio", json.dumps(song)), "audio")
    native = await _native(app, was_test)
    for sent, ptt, mime_type in ((voice, True, "audio/ogg"), (audio, False, "audio/mpeg")):
        shown = (await client.get(f"{BASE}/messages/{sent['id']}", headers=auth(was_test))).json()
        assert shown["ptt"] is ptt
        stored = await client.get(
            f"/v1/messages/{from_uuid('msg', sent['id'])}", headers=auth(native)
        )
        media = stored.json()["content"]["media"]
        assert (media["kind"], media["voice"], media["mime_type"]) == ("audio", ptt, mime_type)


async def test_session_management(app: FastAPI, client: httpx.AsyncClient, was_test: str) -> None:
    # 1. Create Session: POST /api/v1/sessions { "session_key": "my-session" }
    made = await post(client, was_test, "/sessions", '{ "session_key": "my-session" }')
    assert made.status_code == 201, made.text
    session = made.json()
    assert set(session) == {
        "id",
        "sessionKey",
        "status",
        "phone",
        "pushName",
        "reason",
        "createdAt",
        "updatedAt",
    }
    assert UUID.match(session["id"])
    assert (session["sessionKey"], session["status"], session["phone"]) == (
        "my-session",
        "connecting",
        None,
    )
    url = f"{BASE}/sessions/{session['id']}"
    listed = await client.get(f"{BASE}/sessions", headers=auth(was_test))
    assert [s["id"] for s in listed.json()["data"]] == [session["id"]]
    await set_state(app, session["id"], "working")
    shown = await client.get(url, headers=auth(was_test))
    assert (shown.json()["status"], shown.json()["phone"]) == ("connected", PHONE)
    # ses_… names it too.
    again = await client.get(
        f"{BASE}/sessions/{from_uuid('ses', session['id'])}", headers=auth(was_test)
    )
    assert again.json() == shown.json()

    renamed = await client.patch(url, json={"session_key": "front-desk"}, headers=auth(was_test))
    assert (renamed.status_code, renamed.json()["sessionKey"]) == (200, "front-desk")
    stopped = await client.patch(url, json={"status": "disconnected"}, headers=auth(was_test))
    assert stopped.json()["status"] == "disconnected"
    started = await client.patch(url, json={"status": "connecting"}, headers=auth(was_test))
    assert started.json()["status"] == "connecting"

    deleted = await client.delete(url, headers=auth(was_test))
    assert deleted.status_code == 204
    refused(await client.get(url, headers=auth(was_test)), 404, "not_found", "id")


async def test_messages_are_listed_newest_first_a_page_at_a_time(
    app: FastAPI, client: httpx.AsyncClient, was_test: str
) -> None:
    await working_session(app, client, was_test)
    sent = [
        accepted(
            await post(client, was_test, "/messages", json.dumps({"to": PHONE, "message": t})),
            "text",
        )["id"]
        for t in ("one", "two", "three")
    ]
    first = await client.get(f"{BASE}/messages", params={"limit": 2}, headers=auth(was_test))
    assert first.status_code == 200, first.text
    page = first.json()
    assert [m["id"] for m in page["data"]] == sent[:0:-1]
    assert page["hasMore"] is True
    rest = await client.get(
        f"{BASE}/messages", params={"cursor": page["nextCursor"]}, headers=auth(was_test)
    )
    assert [m["id"] for m in rest.json()["data"]] == sent[:1]
    assert rest.json()["hasMore"] is False


async def test_api_keys(app: FastAPI, client: httpx.AsyncClient, was_test: str) -> None:
    made = await client.post(f"{BASE}/keys", json={"name": "backend"}, headers=auth(was_test))
    assert made.status_code == 201, made.text
    created = made.json()
    assert created["key"].startswith("was_test_")
    assert UUID.match(created["id"])
    assert (created["name"], created["mode"], created["revokedAt"]) == ("backend", "test", None)
    # The new key works on this API's routes.
    works = await client.get(f"{BASE}/sessions", headers=auth(created["key"]))
    assert works.status_code == 200, works.text

    listed = await client.get(f"{BASE}/keys", headers=auth(was_test))
    assert listed.status_code == 200
    keys = listed.json()["data"]
    assert created["id"] in [k["id"] for k in keys]
    assert all("key" not in k for k in keys)  # a secret shows once

    revoked = await client.delete(f"{BASE}/keys/{created['id']}", headers=auth(was_test))
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revokedAt"] is not None

    async def refused_now() -> bool:
        answer = await client.get(f"{BASE}/sessions", headers=auth(created["key"]))
        return answer.status_code == 401

    await until(refused_now)


async def test_keys_of_other_apis_are_not_this_apis(
    app: FastAPI, client: httpx.AsyncClient, was_test: str, tenant: Tenant
) -> None:
    native_id, _ = await make_key(app, tenant.account_id, KeyMode.TEST)
    listed = await client.get(f"{BASE}/keys", headers=auth(was_test))
    assert as_uuid(native_id) not in [k["id"] for k in listed.json()["data"]]
    gone = await client.delete(f"{BASE}/keys/{as_uuid(native_id)}", headers=auth(was_test))
    refused(gone, 404, "not_found", "id")


async def test_scan_qr_code_over_the_stream(
    app: FastAPI, client: httpx.AsyncClient, was_test: str, served: str
) -> None:
    session = await create_session(client, was_test)
    ours = from_uuid("ses", session["id"])
    service, database = gateway(app).sessions, gateway(app).database
    async with database.write() as conn:
        await service.show_qr(conn, ours, "2@first,code", utcnow())
    path = f"{BASE}/sessions/{session['id']}/stream"
    async with httpx.AsyncClient(base_url=served, timeout=20) as http:
        seen: SseSeen = []
        reader = asyncio.create_task(read_sse(http, path, was_test, 3, found=seen))

        async def opened() -> bool:
            return bool(seen)  # the stream opens with the code shown now

        await until(opened)
        async with database.write() as conn:
            await service.show_qr(conn, ours, "2@second,code", utcnow())
        await set_state(app, session["id"], "working")
        opening, rotated, connected = await reader
        assert (opening[1], opening[2]["qr"], opening[2]["sessionId"]) == (
            "qr",
            "2@first,code",
            session["id"],
        )
        assert opening[2]["image"].startswith("data:image/png;base64,")
        assert (rotated[1], rotated[2]["qr"]) == ("qr", "2@second,code")
        assert connected[1:] == (
            "connected",
            {"sessionId": session["id"], "status": "connected", "phone": PHONE, "pushName": "Ada"},
        )
        # A connection lost and made again is no event of the page's; a logout is its error.
        await set_state(app, session["id"], "starting", reason="connection_lost")
        await set_state(app, session["id"], "failed", reason="logged_out")
        [error] = await read_sse(http, path, was_test, 1, last=connected[0])
        assert error[1:] == (
            "error",
            {"sessionId": session["id"], "status": "error", "reason": "logged_out"},
        )
        assert error[0] is not None
        unknown = await http.get(
            path, headers={**auth(was_test), "Last-Event-ID": "evt_01JD5Z6Q2N3F4X8Y9Z0A1B2C3D"}
        )
        refused(unknown, 404, "not_found", "Last-Event-ID")


async def test_401_invalid_or_missing_api_key(
    client: httpx.AsyncClient, tenant: Tenant, was_test: str
) -> None:
    body = '{"to": "+237612345678", "message": "Hello!"}'
    missing = await client.post(f"{BASE}/messages", content=body, headers=JSON)
    refused(missing, 401, "unauthenticated", "Authorization")
    invalid = await post(client, "was_live_not-a-key-at-all", "/messages", body)
    refused(invalid, 401, "unauthenticated", "Authorization")
    # A native key (or another dialect's) is not this API's.
    native = await post(client, tenant.live, "/messages", body)
    refused(native, 401, "unauthenticated", "Authorization")
    assert missing.headers["www-authenticate"] == "Bearer"


async def test_404_session_or_resource_not_found(
    app: FastAPI, client: httpx.AsyncClient, was_test: str
) -> None:
    unknown = "0191e6a2-7b3c-7d4e-8f5a-6b7c8d9e0f1a"
    for path in (f"/sessions/{unknown}", f"/messages/{unknown}", "/sessions/nope"):
        refused(await client.get(f"{BASE}{path}", headers=auth(was_test)), 404, "not_found", "id")
    # No session at all to send from; then a session named that does not exist.
    text = {"to": PHONE, "message": "Hello!"}
    none = await post(client, was_test, "/messages", json.dumps(text))
    refused(none, 404, "not_found", "session")
    await working_session(app, client, was_test)
    named = await post(client, was_test, "/messages", json.dumps({**text, "session": "other"}))
    refused(named, 404, "not_found", "session")
    by_id = await post(client, was_test, "/messages", json.dumps({**text, "sessionId": unknown}))
    refused(by_id, 404, "not_found", "sessionId")


async def test_409_session_not_connected(
    app: FastAPI, client: httpx.AsyncClient, was_test: str, was_live: str
) -> None:
    pairing = await create_session(client, was_test, "pairing")
    text = {"to": PHONE, "message": "Hello!"}
    for secret in (was_test, was_live):
        # The only session shows a QR code: the default session is not connected.
        default = await post(client, secret, "/messages", json.dumps(text))
        body = refused(default, 409, "session_not_connected", "session")
        assert "pairing" in body["message"]
    working = await working_session(app, client, was_test, "working")
    for field, given in (("session", "pairing"), ("sessionId", pairing["id"])):
        named = await post(client, was_test, "/messages", json.dumps({**text, field: given}))
        refused(named, 409, "session_not_connected", field)
    # Without a name, the working one sends; named, too.
    accepted(await post(client, was_test, "/messages", json.dumps(text)), "text")
    by_id = {**text, "sessionId": working["id"]}
    accepted(await post(client, was_test, "/messages", json.dumps(by_id)), "text")


async def test_429_rate_limit_exceeded(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    _, limited = await make_key(
        app, tenant.account_id, KeyMode.TEST, dialect=Dialect.WASESSIONS, rate_limit=1
    )
    first = await client.get(f"{BASE}/sessions", headers=auth(limited))
    assert first.status_code == 200, first.text
    over = await client.get(f"{BASE}/sessions", headers=auth(limited))
    refused(over, 429, "rate_limited", None)
    assert int(over.headers["retry-after"]) >= 1
