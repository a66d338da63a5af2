"""The page's requests, exactly as the page shows them, against a real ``chatgate serve``.

Only the base URL (``https://thikaa.com/<your-account>/api/messaging/``), the account and
the key are substituted. The curl command runs through the real ``curl``; the media
example's body is sent byte for byte as printed. Test keys (``tk_test_…``) reach the
sandbox; a live key's ``wd`` reaches a linked-device session on the emulated WhatsApp Web
of ``chatgate emulate``; the live key reaches a WhatsApp Cloud number there too, from which
an inbound voice note arrives at the customer's receiver as the page's webhook shows it,
its attachment fetched over HTTP without a key.

The page's recipient ``+9665XXXXXXXX`` is a placeholder, like its key: the client puts a
real number there, so the tests put the Saudi mobile number +966599999999 in its place
(Chatgate refuses letters in a phone number rather than reading them as a keypad does).
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatgate.config import Settings
from chatgate.domain.dialects import Dialect
from chatgate.domain.keys import KeyMode
from chatgate.services.accounts import create_account
from chatgate.services.audit import Actor
from chatgate.services.keys import KeySpec, create_key
from chatgate.storage.database import Database
from tests.channels.whatsapp import contract as whatsapp
from tests.compat.thikaa.conftest import thikaa_endpoint, user_writes
from tests.compat.thikaa.test_webhooks import php_signature_ok
from tests.e2e.world import _wait_until_up
from tests.processes import chatgate_env, free_port, processes
from tests.support import TEST_SECRET_KEY, auth, until
from tests.webhooks.receiver import Receiver, serving_receiver

ACCOUNT = "acme-store"
PAGE_BASE = "https://thikaa.com/<your-account>/api/messaging/"
PAGE_KEY = "tk_live_xxxx"
# Section 2 of the page, as printed.
CURL = """curl -X POST 'https://thikaa.com/<your-account>/api/messaging/?action=send' \\
  -H 'Authorization: Bearer tk_live_xxxx' \\
  -H 'Content-Type: application/json' \\
  -d '{
    "channel": "wd",
    "to": "+9665XXXXXXXX",
    "message": "Your order has shipped 🚚✅"
  }'"""
# Section 3 of the page, as printed.
MEDIA_BODY = """{ "channel":"wd", "to":"+9665XXXXXXXX",
  "message":"فاتورتك 📄", "media_url":"https://you.com/invoice.pdf", "media_type":"document" }"""
PAGE_NUMBER = "+966599999999"
PAGE_PLACEHOLDER = "+9665XXXXXXXX"
VOICE = b"OggS" + bytes(range(100, 200)) * 5


@dataclass(frozen=True)
class Stack:
    """``serve`` and ``emulate`` running, and the account's keys."""

    api_url: str
    emulator_url: str
    thikaa_live: str
    thikaa_live_id: str
    thikaa_test: str
    thikaa_test_id: str
    native_live: str
    native_test: str
    log_dir: Path
    database_url: str = ""

    @property
    def base(self) -> str:
        """The Thikaa base URL of the account on this gateway."""
        return f"{self.api_url}/compat/thikaa/{ACCOUNT}/api/messaging/"

    def logs(self) -> str:
        """What the processes printed, for failure messages."""
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in self.log_dir.glob("*.log"))


def _keys(database_url: str, account_name: str = ACCOUNT) -> dict[str, tuple[str, str]]:
    async def create() -> dict[str, tuple[str, str]]:
        database = Database(Settings(database_url=database_url))
        made: dict[str, tuple[str, str]] = {}
        try:
            account = await create_account(database, account_name)
            async with database.write() as conn:
                for name, mode, dialect in (
                    ("thikaa_live", KeyMode.LIVE, Dialect.THIKAA),
                    ("thikaa_test", KeyMode.TEST, Dialect.THIKAA),
                    ("native_live", KeyMode.LIVE, None),
                    ("native_test", KeyMode.TEST, None),
                ):
                    key, secret = await create_key(
                        conn,
                        Actor(account.id),
                        KeySpec(name, mode, frozenset({"*"}), dialect=dialect),
                    )
                    made[name] = (key.id, secret)
        finally:
            await database.dispose()
        return made

    return asyncio.run(create())


def _connect_whatsapp(stack: Stack) -> None:
    """The account's WhatsApp Cloud number on the emulator, its webhooks to the gateway."""
    with httpx.Client(trust_env=False, timeout=10.0) as http:
        created = http.post(
            f"{stack.api_url}/v1/channels",
            headers=auth(stack.native_live),
            json=whatsapp.channel_body(f"{stack.emulator_url}/graph", "store"),
        )
        assert created.status_code == 201, created.text
        account = whatsapp.emulator_account(created.json()["inbound_url"])
        registered = http.post(f"{stack.emulator_url}/_emulator/whatsapp/accounts", json=account)
        assert registered.status_code == 201, registered.text


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Stack]:
    """``chatgate serve`` and ``chatgate emulate`` on loopback, one account with keys."""
    folder = tmp_path_factory.mktemp("thikaa-verbatim")
    database = folder / "chatgate.db"
    database.write_bytes(sqlite_template.read_bytes())
    database_url = f"sqlite:///{database}"
    keys = _keys(database_url)
    api_port, emulator_port = free_port(), free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    env = chatgate_env(
        database_url,
        public_url=api_url,
        media_path=folder / "media",
        secret_key=TEST_SECRET_KEY,
        allow_private_webhooks=True,
        worker_poll_seconds=0.1,
        key_cache_refresh_seconds=0.1,
        sandbox_delivered_after=0.05,
        sandbox_read_after=0.1,
        # The worker runs linked-device sessions on the emulated WhatsApp Web.
        whatsapp_web_driver="emulated",
        whatsapp_web_emulator_url=f"http://127.0.0.1:{emulator_port}",
    )
    env = {name: value for name, value in env.items() if not name.lower().endswith("_proxy")}
    with processes(folder) as running:
        running.start(
            ["emulate", "--host", "127.0.0.1", "--port", str(emulator_port)], env, "emulate"
        )
        running.start(
            ["serve", "--host", "127.0.0.1", "--port", str(api_port), "--no-migrate"], env, "serve"
        )
        emulator_url = f"http://127.0.0.1:{emulator_port}"
        _wait_until_up(running, emulator_url, "/_emulator/whatsapp/received", folder)
        _wait_until_up(running, api_url, "/readyz", folder)
        stack = Stack(
            api_url,
            emulator_url,
            keys["thikaa_live"][1],
            keys["thikaa_live"][0],
            keys["thikaa_test"][1],
            keys["thikaa_test"][0],
            keys["native_live"][1],
            keys["native_test"][1],
            folder,
            database_url,
        )
        _connect_whatsapp(stack)
        yield stack
        for child in running.children:
            running.stop(child)


def _run_curl(stack: Stack, key: str, base: str | None = None) -> dict[str, Any]:
    """The page's curl command with the base URL (the stack's account's unless ``base``)
    and key substituted; its JSON answer."""
    base = base or stack.base
    command = (
        CURL.replace(PAGE_BASE, base).replace(PAGE_KEY, key).replace(PAGE_PLACEHOLDER, PAGE_NUMBER)
    )
    assert command.count(base) == 1
    done = subprocess.run(
        ["bash", "-c", command],
        capture_output=True,
        timeout=30,
        check=False,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr.decode()
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def queued_on_wd(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer a send of the page's example has when it was queued (with its id)."""
    return {
        "ok": True,
        "message_id": answer["message_id"],
        "status": "queued",
        "channel": "wd",
        "to": PAGE_NUMBER,
    }


async def _message(http: httpx.AsyncClient, secret: str, message_id: str) -> dict[str, Any]:
    found = await http.get(f"/v1/messages/{message_id}", headers=auth(secret))
    assert found.status_code == 200, found.text
    body: dict[str, Any] = found.json()
    return body


async def test_the_curl_send_with_a_test_key_is_queued_in_the_sandbox(stack: Stack) -> None:
    answer = _run_curl(stack, stack.thikaa_test)
    assert answer == queued_on_wd(answer)
    async with httpx.AsyncClient(base_url=stack.api_url, trust_env=False) as http:
        message = await _message(http, stack.native_test, answer["message_id"])
    assert message["content"]["text"] == "Your order has shipped 🚚✅"
    assert message["channel"] == "whatsapp_web"


def test_the_curl_send_with_a_live_key_says_whatsapp_direct_is_not_connected(
    stack: Stack,
) -> None:
    answer = _run_curl(stack, stack.thikaa_live)
    assert answer["ok"] is False
    assert answer["error"]["code"] == "wd_not_connected"


async def test_the_media_example_is_sent_byte_exact(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api_url, trust_env=False) as http:
        answer = await http.post(
            f"{stack.base}?action=send",
            content=MEDIA_BODY.replace(PAGE_PLACEHOLDER, PAGE_NUMBER).encode("utf-8"),
            headers={**auth(stack.thikaa_test), "Content-Type": "application/json"},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["to"] == PAGE_NUMBER
        found = await http.get(
            f"/v1/messages/{answer.json()['message_id']}", headers=auth(stack.native_test)
        )
    media = found.json()["content"]["media"]
    assert media["caption"].encode("utf-8") == "فاتورتك 📄".encode()
    assert (media["url"], media["kind"]) == ("https://you.com/invoice.pdf", "document")
    assert "فاتورتك 📄".encode() in found.content  # raw UTF-8 on the wire, not escaped


async def test_the_status_action_shows_the_instance(stack: Stack) -> None:
    async with httpx.AsyncClient(trust_env=False) as http:
        answer = await http.get(f"{stack.base}?action=status", headers=auth(stack.thikaa_live))
    assert answer.status_code == 200, answer.text
    status = answer.json()
    assert status["ok"] is True
    assert status["instance_id"] == "inst_" + stack.thikaa_live_id.removeprefix("key_")
    assert {c["channel"]: c["connected"] for c in status["channels"]} == {
        "wd": False,
        "wa": True,
        "tg": False,
        "fb": False,
        "ig": False,
        "tt": False,
    }
    assert status["balance"] == {"amount": 0.0, "currency": "USD"}


async def test_the_webhooks_verify_as_the_php_snippet_and_the_voice_note_downloads(
    stack: Stack,
) -> None:
    async with (
        serving_receiver() as receiver,
        httpx.AsyncClient(base_url=stack.api_url, trust_env=False, timeout=10.0) as http,
    ):
        test_secret = await thikaa_endpoint(
            http, stack.native_test, stack.thikaa_test_id, receiver.url("/test")
        )
        live_secret = await thikaa_endpoint(
            http, stack.native_live, stack.thikaa_live_id, receiver.url("/live")
        )
        await user_writes(http, stack.native_test, "whatsapp_web", PAGE_NUMBER, "شكراً 🌹")
        voice = {
            "kind": "audio",
            "content_base64": base64.b64encode(VOICE).decode(),
            "mime_type": "audio/ogg",
            "voice": True,
        }
        user = "+14155550177"
        sent = await http.post(
            f"{stack.emulator_url}/_emulator/whatsapp/inbound",
            json={"phone_number_id": whatsapp.PHONE_NUMBER_ID, "from": user, "media": voice},
        )
        assert sent.status_code == 200, sent.text
        text = await _received(receiver, "/test", stack)
        audio = await _received(receiver, "/live", stack)
        assert php_signature_ok(test_secret, text[0])
        assert php_signature_ok(live_secret, audio[0])
        assert json.loads(text[0].body)["data"]["text"] == "شكراً 🌹"
        page_shape = {"event", "instance_id", "data"}
        assert set(json.loads(text[0].body)) == page_shape
        data = json.loads(audio[0].body)["data"]
        assert {"channel", "from", "text", "attachments"} <= set(data)
        assert (data["channel"], data["from"]) == ("wa", user)
        [attachment] = data["attachments"]
        assert attachment["type"] == "audio"
        assert attachment["url"].startswith(f"{stack.api_url}/media-links/")
        fetched: list[httpx.Response] = []

        async with httpx.AsyncClient(trust_env=False) as stranger:  # no key, no base URL

            async def downloaded() -> bool:
                fetched[:] = [await stranger.get(attachment["url"])]
                return fetched[0].status_code != 409

            await until(downloaded)
        assert fetched[0].status_code == 200, fetched[0].text
        assert fetched[0].content == VOICE


async def _received(receiver: Receiver, path: str, stack: Stack) -> list[Any]:
    """The ``message.received`` webhooks at ``path``, once one has come. The endpoint takes
    every event of its key from its creation on, so a late status of an earlier test's
    message may come first: it is not what this test waits for."""

    def users_messages() -> list[Any]:
        return [
            delivery
            for delivery in receiver.at(path)
            if json.loads(delivery.body)["event"] == "message.received"
        ]

    async def arrived() -> bool:
        return bool(users_messages())

    try:
        await until(arrived, limit=15.0)
    except TimeoutError:
        raise AssertionError(f"no message webhook at {path}\n{stack.logs()}") from None
    return users_messages()


def wait_for(condition: Callable[[], bool], stack: Stack | None = None, limit: float = 15) -> None:
    """Poll ``condition`` (from this thread) until it holds; fail after ``limit`` seconds,
    with the processes' logs when ``stack`` is given."""
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, stack.logs() if stack else "timed out"
        time.sleep(0.05)


def _paired_session(http: httpx.Client, native_live: str, emulator_url: str) -> str:
    """A session of the key's account, paired by the emulated phone scanning its code."""
    created = http.post("/v1/sessions", json={"name": "desk"}, headers=auth(native_live))
    assert created.status_code == 201, created.text
    session_id: str = created.json()["id"]

    def codes() -> list[str]:
        found = http.get(
            "/v1/events", params={"type": "session.qr"}, headers=auth(native_live)
        ).json()["data"]
        return [e["data"]["qr"] for e in found if e["data"]["session_id"] == session_id]

    def state() -> str:
        found: str = http.get(f"/v1/sessions/{session_id}", headers=auth(native_live)).json()[
            "state"
        ]
        return found

    wait_for(lambda: bool(codes()))
    scan = {"code": codes()[-1], "phone": "+966511111111", "name": "Acme"}
    scanned = http.post(f"{emulator_url}/_emulator/whatsapp_web/scan", json=scan)
    assert scanned.status_code == 200, scanned.text
    wait_for(lambda: state() == "working")
    return session_id


def test_the_curl_send_with_a_live_key_goes_through_the_accounts_session(stack: Stack) -> None:
    # An account of its own, so that the other tests see one without a session.
    keys = _keys(stack.database_url, "acme-direct")
    base = f"{stack.api_url}/compat/thikaa/acme-direct/api/messaging/"
    native, thikaa = keys["native_live"][1], keys["thikaa_live"][1]
    with httpx.Client(base_url=stack.api_url, trust_env=False, timeout=10.0) as http:
        wait_for(lambda: http.get("/v1/sessions", headers=auth(native)).status_code == 200)
        session_id = _paired_session(http, native, stack.emulator_url)
        status = http.get(f"{base}?action=status", headers=auth(thikaa)).json()
        assert {c["channel"]: c["connected"] for c in status["channels"]}["wd"] is True

        answer = _run_curl(stack, thikaa, base)
        assert answer == queued_on_wd(answer)

        def read() -> bool:
            found = http.get(f"/v1/messages/{answer['message_id']}", headers=auth(native))
            return bool(found.json()["status"] == "read")

        wait_for(read, stack)
        received = http.get(f"{stack.emulator_url}/_emulator/whatsapp_web/received").json()
        [arrived] = [r for r in received if r["recipient"] == PAGE_NUMBER]
        assert (arrived["account"], arrived["body"]["kind"]) == ("+966511111111", "text")
        assert arrived["body"]["text"] == "Your order has shipped 🚚✅"

        # The session stopped: the same send is refused in Thikaa's shape, naming it.
        stopped = http.post(f"/v1/sessions/{session_id}/stop", headers=auth(native))
        assert stopped.status_code == 200, stopped.text
        body = CURL.split("-d '", 1)[1].rstrip("'").replace(PAGE_PLACEHOLDER, PAGE_NUMBER)
        refused = http.post(
            f"{base}?action=send",
            content=body.encode("utf-8"),
            headers={**auth(thikaa), "Content-Type": "application/json"},
        )
    assert refused.status_code == 409, refused.text
    assert refused.json()["ok"] is False
    error = refused.json()["error"]
    assert error["code"] == "wd_not_connected"
    assert "'desk'" in error["message"]
    assert "stopped" in error["message"]
