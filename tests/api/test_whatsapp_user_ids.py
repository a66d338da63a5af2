"""WhatsApp users known by business-scoped user id (BSUID), end to end through the emulator.

A username-only user (no phone in any webhook) writes: the message is stored with the
username and the BSUID, a thread opens, ``message.received`` reaches the customer's webhook,
and a reply to the BSUID reaches the emulator with ``recipient`` (and no ``to``). A user who
wrote with a phone and later without is one contact, one thread and one window.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from chatgate.api.app import create_app
from chatgate.emulators.app import create_emulator_app
from tests.channels.whatsapp import contract as whatsapp
from tests.support import (
    auth,
    make_tenant,
    served_in_this_loop,
    settings_for,
    until,
    wait_for_status,
)
from tests.webhooks.receiver import Receiver, serving_receiver

TEXT = {"type": "text", "text": "Sim, pode trocar 👍"}


@dataclass
class Rig:
    """A served gateway with a WhatsApp channel on a served emulator, and a receiver."""

    api: httpx.AsyncClient
    emulator: httpx.AsyncClient
    receiver: Receiver
    secret: str

    async def user_writes(self, **payload: Any) -> dict[str, Any]:
        """A user writes through the emulator's control API; its answer."""
        body = {"phone_number_id": whatsapp.PHONE_NUMBER_ID, "text": "Quero trocar", **payload}
        answer = await self.emulator.post("/_emulator/whatsapp/inbound", json=body)
        assert answer.status_code == 200, answer.text
        written: dict[str, Any] = answer.json()
        return written

    async def stored(self, wamid: str) -> dict[str, Any]:
        """The inbound message the gateway stored for ``wamid`` (waits for it)."""
        found: list[dict[str, Any]] = []

        async def listed() -> bool:
            page = await self.api.get(
                "/v1/messages", params={"direction": "inbound"}, headers=auth(self.secret)
            )
            found[:] = [m for m in page.json()["data"] if m["provider_message_id"] == wamid]
            return bool(found)

        await until(listed)
        return found[0]

    async def get(self, path: str, **params: Any) -> Any:
        """``GET`` on the API; the JSON answer."""
        response = await self.api.get(path, params=params, headers=auth(self.secret))
        assert response.status_code == 200, response.text
        return response.json()

    async def reply(self, to: str) -> str:
        """``POST /v1/messages`` of a text to ``to`` on WhatsApp; the accepted message's id."""
        response = await self.api.post(
            "/v1/messages",
            json={"channel": "whatsapp", "to": to, "content": TEXT},
            headers=auth(self.secret),
        )
        assert response.status_code == 202, response.text
        message_id: str = response.json()["id"]
        return message_id

    async def calls(self) -> list[dict[str, Any]]:
        """The sends the emulated WhatsApp received."""
        response = await self.emulator.get("/_emulator/whatsapp/received")
        calls: list[dict[str, Any]] = response.json()
        return calls


@pytest.fixture
async def rig(database_url: str) -> AsyncIterator[Rig]:
    """The gateway and the emulator on loopback ports, wired both ways."""
    settings = settings_for(database_url, allow_private_webhooks=True)
    app = create_app(settings)
    async with (
        LifespanManager(app),
        served_in_this_loop(app) as gateway_url,
        served_in_this_loop(create_emulator_app()) as emulator_url,
        serving_receiver() as receiver,
        httpx.AsyncClient(base_url=gateway_url) as api,
        httpx.AsyncClient(base_url=emulator_url) as emulator,
    ):
        tenant = await make_tenant(app)
        created = await api.post(
            "/v1/channels",
            headers=auth(tenant.live),
            json=whatsapp.channel_body(f"{emulator_url}/graph"),
        )
        assert created.status_code == 201, created.text
        inbound_url = f"{gateway_url}/inbound/{created.json()['id']}"
        account = whatsapp.emulator_account(inbound_url)
        registered = await emulator.post("/_emulator/whatsapp/accounts", json=account)
        assert registered.status_code == 201, registered.text
        hook = await api.post(
            "/v1/webhooks",
            json={"url": receiver.url("/hooks"), "event_types": ["message.received"]},
            headers=auth(tenant.live),
        )
        assert hook.status_code == 201, hook.text
        yield Rig(api, emulator, receiver, tenant.live)


async def test_a_username_only_user_is_stored_threaded_webhooked_and_answered(rig: Rig) -> None:
    written = await rig.user_writes(username="joana.s", name="Joana", country="BR")
    user_id = written["user_id"]
    assert user_id.startswith("BR.")
    # The webhook named the user by BSUID alone.
    value = written["body"]["entry"][0]["changes"][0]["value"]
    assert "wa_id" not in value["contacts"][0]
    assert "from" not in value["messages"][0]

    message = await rig.stored(written["id"])
    assert message["from"] == user_id
    assert message["sender_profile"] == {"user_id": user_id, "username": "joana.s"}

    [thread] = (await rig.get("/v1/conversations", channel="whatsapp"))["data"]
    assert thread["peer"] == user_id
    assert thread["window"]["open"] is True
    contact = await rig.get(f"/v1/contacts/{message['contact_id']}")
    assert contact["identities"] == [{"channel": "whatsapp", "id": user_id, "username": "joana.s"}]

    [delivery] = await rig.receiver.wait_for("/hooks", 1)
    event = json.loads(delivery.body)
    assert event["type"] == "message.received"
    assert event["data"]["from"] == user_id
    assert event["data"]["sender_profile"]["username"] == "joana.s"

    reply_id = await rig.reply(user_id)

    async def reached() -> bool:
        return any(call["recipient"] == user_id for call in await rig.calls())

    await until(reached)
    [call] = [c for c in await rig.calls() if c["recipient"] == user_id]
    assert call["body"]["recipient"] == user_id
    assert "to" not in call["body"]
    # Its statuses name the user by BSUID only (recipient_user_id) and still find it.
    await wait_for_status(rig.api, rig.secret, reply_id, "read")


async def test_a_user_seen_with_a_phone_and_then_without_is_one_contact_and_one_thread(
    rig: Rig,
) -> None:
    first = await rig.user_writes(**{"from": whatsapp.RECIPIENT, "username": "ze"})
    user_id = first["user_id"]
    await rig.stored(first["id"])
    # The user hides the phone: the next message names them by BSUID alone.
    later = await rig.user_writes(**{"from": whatsapp.RECIPIENT, "phone_hidden": True})
    assert later["user_id"] == user_id
    hidden = await rig.stored(later["id"])
    assert hidden["from"] == user_id
    shown = await rig.stored(first["id"])
    assert shown["from"] == whatsapp.RECIPIENT
    assert hidden["contact_id"] == shown["contact_id"]

    [thread] = (await rig.get("/v1/conversations", channel="whatsapp"))["data"]
    assert thread["peer"] == whatsapp.RECIPIENT
    listed = await rig.get(f"/v1/conversations/{thread['id']}/messages")
    assert {m["provider_message_id"] for m in listed["data"]} == {first["id"], later["id"]}
    contact = await rig.get(f"/v1/contacts/{hidden['contact_id']}")
    assert {(i["id"], i.get("username")) for i in contact["identities"]} == {
        (whatsapp.RECIPIENT, None),
        (user_id, "ze"),
    }

    # A send to the BSUID finds the user's window open and lands on the same thread.
    reply_id = await rig.reply(user_id)

    async def on_thread() -> bool:
        page = await rig.get(f"/v1/conversations/{thread['id']}/messages")
        return reply_id in {m["id"] for m in page["data"]}

    await until(on_thread)
