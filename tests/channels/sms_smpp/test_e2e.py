"""End to end over SMPP: ``chatgate serve`` against the SMSC of ``chatgate emulate``.

The end-to-end suite of ``tests/e2e`` compares HTTP calls with golden requests and reads
platforms' webhooks; SMPP has neither, so its end-to-end checks live here: two real
processes on loopback, the gateway's worker bound to the emulator's SMSC over TCP.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.world import LOOPBACK, SERVE_SETTINGS, _create_tenant, _wait_until_up
from tests.processes import chatgate_env, free_port, processes
from tests.support import auth, until, wait_for_status

pytestmark = pytest.mark.slow

SYSTEM_ID = "e2e-esme"
PASSWORD = "pw-e2e"
SOURCE = "+14155550100"
_USERS = itertools.count(1)


@dataclass
class World:
    api_url: str
    emulator_url: str
    secret: str
    log_dir: Path

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in sorted(self.log_dir.glob("*.log"))
        )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[World]:
    """``emulate`` and ``serve`` on free ports; an SMPP channel bound to the emulator's SMSC."""
    folder = tmp_path_factory.mktemp("smpp-e2e")
    database = folder / "chatgate.db"
    database.write_bytes(sqlite_template.read_bytes())
    database_url = f"sqlite:///{database}"
    secret = _create_tenant(database_url)
    api_port, emulator_port = free_port(), free_port()
    api_url = f"http://{LOOPBACK}:{api_port}"
    env = chatgate_env(
        database_url, public_url=api_url, media_path=folder / "media", **SERVE_SETTINGS
    )
    env = {name: value for name, value in env.items() if not name.lower().endswith("_proxy")}
    with processes(folder) as running:
        running.start(["emulate", "--host", LOOPBACK, "--port", str(emulator_port)], env, "emulate")
        running.start(
            ["serve", "--host", LOOPBACK, "--port", str(api_port), "--no-migrate"], env, "serve"
        )
        found = World(api_url, f"http://{LOOPBACK}:{emulator_port}", secret, folder)
        _wait_until_up(running, found.emulator_url, "/_emulator/smpp/server", folder)
        _wait_until_up(running, api_url, "/readyz", folder)
        with httpx.Client(trust_env=False, timeout=10.0) as http:
            control = f"{found.emulator_url}/_emulator/smpp"
            port = http.get(f"{control}/server").json()["port"]
            account = {"system_id": SYSTEM_ID, "password": PASSWORD}
            http.post(f"{control}/accounts", json=account).raise_for_status()
            credentials = {"provider": "smpp", "host": LOOPBACK, "port": port, **account}
            created = http.post(
                f"{api_url}/v1/channels",
                headers=auth(secret),
                json={
                    "type": "sms",
                    "name": "smsc-e2e",
                    "credentials": {**credentials, "source_addr": SOURCE},
                },
            )
            assert created.status_code == 201, created.text
        yield found
        for child in running.children:
            running.stop(child)


@dataclass
class Clients:
    world: World
    api: httpx.AsyncClient
    emulator: httpx.AsyncClient

    async def send(self, user: str, text: str) -> dict[str, Any]:
        body = {"channel": "sms", "to": user, "content": {"type": "text", "text": text}}
        response = await self.api.post("/v1/messages", json=body, headers=auth(self.world.secret))
        assert response.status_code == 202, response.text
        found: dict[str, Any] = response.json()
        return found

    async def reaches(self, message_id: str, status: str) -> dict[str, Any]:
        try:
            return await wait_for_status(self.api, self.world.secret, message_id, status, 15.0)
        except TimeoutError:
            raise AssertionError(f"{message_id} never {status}\n{self.world.logs()}") from None

    async def submits(self, user: str) -> list[dict[str, Any]]:
        response = await self.emulator.get("/_emulator/smpp/received")
        return [c for c in response.json() if c["recipient"] == user.lstrip("+")]


@pytest.fixture
async def clients(world: World) -> AsyncIterator[Clients]:
    async with (
        httpx.AsyncClient(base_url=world.api_url, trust_env=False, timeout=10.0) as api,
        httpx.AsyncClient(base_url=world.emulator_url, trust_env=False, timeout=10.0) as emu,
    ):
        yield Clients(world, api, emu)


def new_user() -> str:
    return f"+1415557{next(_USERS):04d}"


@pytest.mark.parametrize(
    ("text", "parts", "data_coding"),
    [
        ("G" * 160, 1, 0),  # GSM-7 in one part
        ("H" * 161, 2, 0),  # two parts with a concatenation header
        ("Thanks 🙏 see you", 1, 8),  # an emoji: UCS-2
    ],
    ids=["gsm7-160", "gsm7-161", "emoji-ucs2"],
)
async def test_texts_arrive_at_the_smsc_and_are_delivered(
    clients: Clients, text: str, parts: int, data_coding: int
) -> None:
    user = new_user()
    message = await clients.send(user, text)
    done = await clients.reaches(message["id"], "delivered")
    calls = await clients.submits(user)
    assert len(calls) == parts
    assert {c["body"]["data_coding"] for c in calls} == {data_coding}
    assert "".join(c["body"]["text"] for c in calls) == text
    assert done["provider_message_id"] == ",".join(c["message_id"] for c in calls)
    if parts > 1:
        headers = [bytes.fromhex(c["body"]["short_message"])[:6] for c in calls]
        assert [h[:3] for h in headers] == [b"\x05\x00\x03"] * 2
        assert headers[0][3] == headers[1][3]
        assert [h[4:] for h in headers] == [b"\x02\x01", b"\x02\x02"]
        assert {c["body"]["esm_class"] for c in calls} == {0x40}


async def test_a_throttled_smsc_is_waited_for(clients: Clients) -> None:
    user = new_user()
    fault = {"kind": "rate_limit", "count": 2, "recipient": user.lstrip("+")}
    assert (await clients.emulator.post("/_emulator/smpp/faults", json=fault)).status_code == 201
    message = await clients.send(user, "after the throttle")
    await clients.reaches(message["id"], "delivered")
    assert [c["status"] for c in await clients.submits(user)] == [0x58, 0x58, 0]


async def test_a_permanent_refusal_ends_failed(clients: Clients) -> None:
    user = new_user()
    fault = {"kind": "invalid_recipient", "recipient": user.lstrip("+")}
    assert (await clients.emulator.post("/_emulator/smpp/faults", json=fault)).status_code == 201
    message = await clients.send(user, "nobody home")
    failed = await clients.reaches(message["id"], "failed")
    assert failed["error"]["code"] == "invalid_recipient"
    assert [c["status"] for c in await clients.submits(user)] == [0x0B]


async def test_a_receipt_is_matched_after_a_reconnect(clients: Clients) -> None:
    receipts = {"delay": 1.0}
    assert (await clients.emulator.put("/_emulator/smpp/receipts", json=receipts)).is_success
    try:
        user = new_user()
        message = await clients.send(user, "receipt after a reconnect")
        await clients.reaches(message["id"], "sent")
        dropped = await clients.emulator.post(
            "/_emulator/smpp/drop", params={"system_id": SYSTEM_ID}
        )
        assert dropped.json()["dropped"] >= 1
        await clients.reaches(message["id"], "delivered")
        sessions = (await clients.emulator.get("/_emulator/smpp/sessions")).json()
        assert len([b for b in sessions["binds"] if b["status"] == 0]) >= 2
    finally:
        await clients.emulator.put("/_emulator/smpp/receipts", json={"delay": 0.05})


async def test_users_messages_arrive_long_ones_whole(clients: Clients) -> None:
    user = new_user()
    long_text = "Long reply: " + "é" * 10 + "z" * 300
    for text in ("short one", long_text):
        payload = {"system_id": SYSTEM_ID, "from": user, "to": SOURCE, "text": text}
        answer = await clients.emulator.post("/_emulator/smpp/inbound", json=payload)
        assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = []

    async def both() -> bool:
        response = await clients.api.get(
            "/v1/messages",
            params={"direction": "inbound", "channel": "sms", "limit": 100},
            headers=auth(clients.world.secret),
        )
        found[:] = [m for m in response.json()["data"] if m["from"] == user]
        return len(found) == 2

    await until(both, limit=15.0)
    assert sorted(m["content"]["text"] for m in found) == sorted(["short one", long_text])


async def test_a_failure_the_smsc_reports_later_ends_failed(clients: Clients) -> None:
    user = new_user()
    fault = {"kind": "async_failure", "recipient": user.lstrip("+")}
    assert (await clients.emulator.post("/_emulator/smpp/faults", json=fault)).status_code == 201
    message = await clients.send(user, "accepted, then undeliverable")
    failed = await clients.reaches(message["id"], "failed")
    assert failed["error"]["code"] == "001"
    statuses = [event["status"] for event in failed["events"] if event["status"]]
    assert statuses[:2] == ["queued", "sent"]
    assert [c["status"] for c in await clients.submits(user)] == [0]


async def test_a_server_error_is_retried_until_sent(clients: Clients) -> None:
    user = new_user()
    fault = {"kind": "server_error", "count": 2, "recipient": user.lstrip("+")}
    assert (await clients.emulator.post("/_emulator/smpp/faults", json=fault)).status_code == 201
    message = await clients.send(user, "third time lucky")
    await clients.reaches(message["id"], "delivered")
    assert [c["status"] for c in await clients.submits(user)] == [0x08, 0x08, 0]
