"""A session paired through the dialect end to end: the gateway's worker runs it on the
emulated WhatsApp Web, the dialect's stream shows the QR code, the phone scans it, the
stream says ``connected``, and the session sends; a logout from the phone is the stream's
``error``."""

from __future__ import annotations

import httpx

from tests.channels.whatsapp_web import conftest as linked_device
from tests.channels.whatsapp_web.support import CONTROL
from tests.compat.wasessions.conftest import BASE, PHONE
from tests.support import SseSeen, auth, read_sse, until

# The emulated phone, and a gateway whose worker runs sessions on it.
emulator_url = linked_device.emulator_url
settings = linked_device.settings


async def test_a_session_pairs_over_the_stream_and_sends(
    client: httpx.AsyncClient, was_test: str, served: str, emulator_url: str
) -> None:
    made = await client.post(
        f"{BASE}/sessions", json={"session_key": "my-session"}, headers=auth(was_test)
    )
    assert made.status_code == 201, made.text
    session = made.json()
    path = f"{BASE}/sessions/{session['id']}/stream"
    async with (
        httpx.AsyncClient(base_url=served, timeout=20) as http,
        httpx.AsyncClient(base_url=emulator_url) as phone,
    ):
        seen: SseSeen = []
        [(_, event, qr)] = await read_sse(http, path, was_test, 1, found=seen)
        assert (event, qr["sessionId"]) == ("qr", session["id"])
        assert qr["image"].startswith("data:image/png;base64,")
        scanned = await phone.post(
            f"{CONTROL}/scan", json={"code": qr["qr"], "phone": PHONE, "name": "Ada"}
        )
        assert scanned.status_code == 200, scanned.text
        # Resumed after the code: the next of the page's events is connected.
        [connected] = await read_sse(http, path, was_test, 1, last=seen[0][0])
        assert connected[1:] == (
            "connected",
            {"sessionId": session["id"], "status": "connected", "phone": PHONE, "pushName": "Ada"},
        )
        shown = await http.get(f"{BASE}/sessions/{session['id']}", headers=auth(was_test))
        assert (shown.json()["status"], shown.json()["phone"]) == ("connected", PHONE)

        text = {"to": "+237612345678", "message": "Hello from WhatsApp API!"}
        sent = await http.post(f"{BASE}/messages", json=text, headers=auth(was_test))
        assert sent.status_code == 202, sent.text
        assert sent.json()["status"] == "pending"

        # The phone logs the device out: the session ends in error, without a loop.
        logged_out = await phone.post(f"{CONTROL}/logout", json={"phone": PHONE})
        assert logged_out.status_code == 200, logged_out.text
        [error] = await read_sse(http, path, was_test, 1, last=connected[0])
        assert error[1:] == (
            "error",
            {"sessionId": session["id"], "status": "error", "reason": "logged_out"},
        )

        async def in_error() -> bool:
            found = await http.get(f"{BASE}/sessions/{session['id']}", headers=auth(was_test))
            return bool(found.json()["status"] == "error")

        await until(in_error)
