"""``messages/batch``, ``content/distribute`` and smart fallback: each the native service."""

from __future__ import annotations

from typing import Any

import httpx

from chatgate.compat.messagehub.requests import SendRequest
from chatgate.compat.messagehub.translate import send_command
from chatgate.domain.fallback import Trigger
from chatgate.domain.status import Status
from tests.compat.messagehub.conftest import hub_post, user_writes
from tests.support import Tenant, auth, until, wait_for_status

# The sandbox fails a send to this number at once (a Twilio-style magic number).
FAILS = "+15005550001"


async def test_a_batch_answers_each_message_on_its_own_in_order(
    client: httpx.AsyncClient, tenant: Tenant, hub_key: str
) -> None:
    messages: list[Any] = [
        {"to": "+14155550123", "channel": "sms", "content": "one"},
        {"to": "+14155550123", "channel": "sms"},
        "not an object",
        {"to": "+14155550124", "channel": "viber", "content": "x"},
        {"to": "+14155550125", "channel": "sms", "content": "three 🚚"},
    ]
    answer = await hub_post(client, hub_key, "messages/batch", {"messages": messages})
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert len(data) == 5
    assert data[0]["messageId"].startswith("msg_")
    assert (data[0]["channel"], data[0]["status"]) == ("sms", "queued")
    assert data[1] == {
        "error": {"code": "invalid_request", "message": "is required", "field": "content"},
        "index": 1,
    }
    assert data[2]["index"] == 2
    assert data[2]["error"]["code"] == "invalid_request"
    assert data[3]["index"] == 3
    assert data[3]["error"]["field"] == "to"
    assert set(data[4]) == {"messageId", "channel", "status"}
    listed = await client.get(
        "/v1/messages", params={"to": "+14155550125"}, headers=auth(tenant.test)
    )
    assert [m["id"] for m in listed.json()["data"]] == [data[4]["messageId"]]


async def test_a_batch_is_one_to_a_thousand_messages(
    client: httpx.AsyncClient, hub_key: str
) -> None:
    empty = await hub_post(client, hub_key, "messages/batch", {"messages": []})
    assert empty.status_code == 400
    assert empty.json()["error"]["field"] == "messages"
    item = {"to": "+14155550123", "channel": "sms", "content": "x"}
    over = await hub_post(client, hub_key, "messages/batch", {"messages": [item] * 1001})
    assert over.status_code == 400
    assert over.json()["error"]["field"] == "messages"


async def test_content_is_distributed_to_recipients_and_contacts_through_distributions(
    client: httpx.AsyncClient, tenant: Tenant, hub_key: str
) -> None:
    contact = await client.post(
        "/v1/contacts",
        json={"name": "Asha", "identities": [{"channel": "sms", "id": "+14155550177"}]},
        headers=auth(tenant.test),
    )
    assert contact.status_code == 201, contact.text
    body = {
        "content": "Sale starts now 🎉",
        "recipients": [
            {"to": "+14155550123", "channel": "sms"},
            {"to": "nobody", "channel": "sms"},
        ],
        "contactIds": [contact.json()["id"]],
    }
    answer = await hub_post(client, hub_key, "content/distribute", body)
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert data["distributionId"].startswith("dst_")
    assert (data["accepted"], data["rejected"]) == (2, 1)
    first, refused, to_contact = data["results"]
    assert first["index"] == 0
    assert first["messageId"].startswith("msg_")
    assert (first["to"], first["channel"], first["status"]) == ("+14155550123", "sms", "queued")
    assert refused["index"] == 1
    assert refused["error"]["field"] == "recipients.1.to"
    assert (to_contact["to"], to_contact["channel"]) == ("+14155550177", "sms")
    native = await client.get(
        f"/v1/distributions/{data['distributionId']}", headers=auth(tenant.test)
    )
    assert native.status_code == 200, native.text
    assert native.json()["accepted"] == 2
    nobody = await hub_post(client, hub_key, "content/distribute", {"content": "x"})
    assert nobody.status_code == 400
    assert nobody.json()["error"]["field"] == "recipients"


async def _chain(
    client: httpx.AsyncClient, tenant: Tenant, message_id: str, steps: int
) -> list[dict[str, Any]]:
    """The message's fallback chain, once it has ``steps`` steps."""
    chain: list[dict[str, Any]] = []

    async def grown() -> bool:
        found = await client.get(f"/v1/messages/{message_id}", headers=auth(tenant.test))
        chain[:] = (found.json().get("chain") or {}).get("steps") or []
        return len(chain) >= steps

    await until(grown)
    return chain


async def test_fallback_as_channels_moves_on_when_a_step_fails(
    client: httpx.AsyncClient, tenant: Tenant, hub_key: str
) -> None:
    await user_writes(client, tenant, "whatsapp", FAILS)
    body = {
        "to": FAILS,
        "channel": "whatsapp",
        "content": "Your code is 1234",
        "fallback": {"channels": ["sms"], "on": "failed"},
    }
    answer = await hub_post(client, hub_key, "messages/send", body)
    assert answer.status_code == 200, answer.text
    first = answer.json()["data"]["messageId"]
    await wait_for_status(client, tenant.test, first, "failed")
    steps = await _chain(client, tenant, first, 2)
    assert [(s["channel"], s["to"]) for s in steps] == [("whatsapp", FAILS), ("sms", FAILS)]


async def test_fallback_as_steps_names_each_steps_recipient(
    client: httpx.AsyncClient, tenant: Tenant, hub_key: str
) -> None:
    await user_writes(client, tenant, "whatsapp", FAILS)
    await user_writes(client, tenant, "telegram", "555000111")
    body = {
        "to": FAILS,
        "channel": "whatsapp",
        "content": "Your code is 1234",
        "fallback": [
            {"channel": "telegram", "to": "555000111"},
            {"channel": "sms", "to": "+14155550123"},
        ],
    }
    answer = await hub_post(client, hub_key, "messages/send", body)
    assert answer.status_code == 200, answer.text
    first = answer.json()["data"]["messageId"]
    await wait_for_status(client, tenant.test, first, "failed")
    steps = await _chain(client, tenant, first, 2)
    assert (steps[1]["channel"], steps[1]["to"]) == ("telegram", "555000111")


async def test_a_step_that_cannot_reach_the_messages_to_is_refused_naming_it(
    client: httpx.AsyncClient, hub_key: str
) -> None:
    body = {
        "to": "+919876543210",
        "channel": "sms",
        "content": "x",
        "fallback": {"channels": ["sms", "telegram"]},
    }
    answer = await hub_post(client, hub_key, "messages/send", body)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["field"] == "fallback.channels.1"
    assert "telegram" in error["message"]
    listed = await hub_post(
        client, hub_key, "messages/send", {**body, "fallback": [{"channel": "line"}]}
    )
    assert listed.json()["error"]["field"] == "fallback.0.to"
    late = await hub_post(
        client, hub_key, "messages/send", {**body, "fallback": {"channels": ["sms"], "timeout": 0}}
    )
    assert late.json()["error"]["field"] == "fallback.timeout"


def test_undelivered_waits_for_delivery_the_timeout_given_or_90_seconds() -> None:
    def steps(fallback: Any) -> list[Trigger]:
        body = {"to": "+14155550123", "channel": "whatsapp", "content": "x", "fallback": fallback}
        return [step.on for step in send_command(SendRequest.model_validate(body)).fallback]

    within = {"channels": ["sms", "viber"], "on": "undelivered", "timeout": 30}
    assert [(t.goal, t.within and t.within.total_seconds()) for t in steps(within)] == [
        (Status.DELIVERED, 30),
        (Status.DELIVERED, 30),
    ]
    [default] = steps({"channels": ["sms"], "on": "undelivered"})
    assert default.within is not None
    assert default.within.total_seconds() == 90
    [failed] = steps([{"channel": "sms", "timeout": 30}])
    assert failed.on_failure_only
