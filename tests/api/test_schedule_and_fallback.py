"""Scheduling, canceling (both sides of the race with a worker) and fallback chains."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from chatgate.storage import jobs as job_store
from chatgate.storage.tables import jobs
from chatgate.storage.types import utcnow
from tests.api.test_validation import assert_envelope
from tests.support import Tenant, auth, gateway, text_message, until, wait_for_status


def _in(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def _send(client: httpx.AsyncClient, tenant: Tenant, body: dict[str, Any]) -> httpx.Response:
    return await client.post("/v1/messages", json=body, headers=auth(tenant.test))


async def test_a_scheduled_message_waits_for_its_time(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    # Far enough ahead that a loaded machine still accepts it before it is due.
    response = await _send(client, tenant, text_message(schedule_at=_in(2)))
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "scheduled"
    assert body["schedule_at"] is not None
    sent = await wait_for_status(client, tenant.test, body["id"], "delivered")
    statuses = [e["status"] for e in sent["events"]]
    assert statuses[:3] == ["scheduled", "sent", "delivered"]
    sent_at = datetime.fromisoformat(sent["events"][1]["at"])
    assert sent_at >= datetime.fromisoformat(body["schedule_at"])


async def test_a_past_time_sends_now(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await _send(client, tenant, text_message(schedule_at=_in(-3600)))
    assert response.json()["status"] == "queued"
    assert response.json()["schedule_at"] is None
    await wait_for_status(client, tenant.test, response.json()["id"], "delivered")


BAD_SCHEDULES: dict[str, Callable[[], Any]] = {
    "more than 90 days ahead": lambda: _in(91 * 86400),
    "no offset": lambda: "2030-01-01T10:00:00",
    "not a date": lambda: "tomorrow",
    "a Unix time": lambda: 1893456000,
}


@pytest.mark.parametrize("case", sorted(BAD_SCHEDULES))
async def test_bad_schedules_are_named(
    client: httpx.AsyncClient, tenant: Tenant, case: str
) -> None:
    response = await _send(client, tenant, text_message(schedule_at=BAD_SCHEDULES[case]()))
    # How far ahead is measured from now, which no schema states: a code of its own.
    code = "schedule_too_far" if case == "more than 90 days ahead" else "invalid_request"
    assert_envelope(response, 422, code, "schedule_at")


async def test_cancel_before_the_worker_claims(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await _send(client, tenant, text_message(schedule_at=_in(60)))
    message_id = response.json()["id"]
    canceled = await client.delete(f"/v1/messages/{message_id}", headers=auth(tenant.test))
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["status"] == "canceled"
    assert canceled.json()["events"][-1]["detail"]["reason"] == "canceled by request"
    again = await client.delete(f"/v1/messages/{message_id}", headers=auth(tenant.test))
    assert again.json()["status"] == "canceled"


async def test_cancel_after_the_worker_claimed_is_409(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    """A worker holds the send job (claimed first): cancel must refuse, the send goes on."""
    response = await _send(client, tenant, text_message(schedule_at=_in(2)))
    message_id = response.json()["id"]
    database = gateway(app).database
    async with database.write() as conn:
        held = await job_store.claim_due_jobs(
            conn,
            "racing-worker",
            now=utcnow() + timedelta(seconds=5),
            lease=timedelta(seconds=60),
            limit=100,
        )
    assert message_id in {job.message_id for job in held}
    refused = await client.delete(f"/v1/messages/{message_id}", headers=auth(tenant.test))
    assert_envelope(refused, 409, "not_cancelable", "id")
    # The holder finishes; the message is not canceled.
    async with database.write() as conn:
        await job_store.release_jobs(conn, "racing-worker", [job.id for job in held])
    await wait_for_status(client, tenant.test, message_id, "delivered")


async def test_cancel_of_a_sent_message_is_409(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await _send(client, tenant, text_message())
    await wait_for_status(client, tenant.test, response.json()["id"], "delivered")
    refused = await client.delete(
        f"/v1/messages/{response.json()['id']}", headers=auth(tenant.test)
    )
    assert_envelope(refused, 409, "not_cancelable", "id")


async def test_fallback_on_failure(client: httpx.AsyncClient, tenant: Tenant) -> None:
    body = text_message(
        to="+15005550001",  # the sandbox refuses it: invalid recipient
        metadata={"order": 7},
        fallback=[
            {
                "channel": "whatsapp",
                "on": "failed",
                "content": {
                    "type": "template",
                    "template": {"name": "order_update", "language": "en"},
                },
            }
        ],
    )
    first = (await _send(client, tenant, body)).json()
    assert first["chain_id"] == first["id"]
    failed = await wait_for_status(client, tenant.test, first["id"], "failed")
    fallback = [e for e in failed["events"] if e["type"] == "message.fallback"]
    assert len(fallback) == 1
    assert fallback[0]["detail"]["reason"] == "failed"
    second_id = fallback[0]["detail"]["message_id"]
    second = await wait_for_status(client, tenant.test, second_id, "failed")  # same magic number
    assert second["channel"] == "whatsapp"
    assert second["to"] == "+15005550001"
    assert second["metadata"] == {"order": 7}
    assert second["chain_id"] == first["id"]
    chain = second["chain"]
    assert [(s["step"], s["message_id"]) for s in chain["steps"]] == [
        (0, first["id"]),
        (1, second_id),
    ]
    assert chain["pending"] == 0


async def test_fallback_when_not_delivered_in_time(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    body = text_message(
        metadata={"sandbox": {"delivered_after": 30}},  # far too slow
        fallback=[
            {
                "channel": "whatsapp",
                "content": {"type": "template", "template": {"name": "t"}},
                "on": {"not": "delivered", "within": "1s"},
            },
        ],
    )
    first = (await _send(client, tenant, body)).json()
    detail = await _wait_for_fallback(client, tenant, first["id"])
    assert detail["reason"] == "not delivered within 1s"
    # The step inherits the metadata (so the sandbox is as slow for it): it is sent.
    second = await wait_for_status(client, tenant.test, detail["message_id"], "sent")
    assert second["metadata"]["sandbox"] == {"delivered_after": 30}
    view = (await client.get(f"/v1/messages/{first['id']}", headers=auth(tenant.test))).json()
    assert view["status"] == "sent"  # its receipt is still to come, and will be recorded
    assert [s["step"] for s in view["chain"]["steps"]] == [0, 1]


async def test_a_step_that_gets_there_stops_the_chain(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    # The window is wide enough for a loaded machine's sandbox to deliver within it.
    body = text_message(
        fallback=[
            {
                "channel": "whatsapp",
                "content": {"type": "template", "template": {"name": "t"}},
                "on": {"not": "delivered", "within": "5s"},
            },
        ],
    )
    first = (await _send(client, tenant, body)).json()
    await wait_for_status(client, tenant.test, first["id"], "read")

    async def check_has_run() -> bool:
        async with gateway(app).database.read() as conn:
            pending = await conn.scalar(
                select(func.count()).select_from(jobs).where(jobs.c.message_id == first["id"])
            )
        return pending == 0

    await until(check_has_run)
    view = (await client.get(f"/v1/messages/{first['id']}", headers=auth(tenant.test))).json()
    assert view["chain"]["pending"] == 1
    assert [e for e in view["events"] if e["type"] == "message.fallback"] == []


async def test_every_step_is_checked_at_accept(client: httpx.AsyncClient, tenant: Tenant) -> None:
    telegram = text_message(fallback=[{"channel": "telegram"}])
    # The message's `to` is an address, but no Telegram one.
    assert_envelope(await _send(client, tenant, telegram), 422, "invalid_address", "fallback.0.to")
    cannot = text_message(fallback=[{"channel": "telegram", "to": "123456789"}])
    assert_envelope(
        await _send(client, tenant, cannot), 409, "channel_cannot_initiate", "fallback.0.to"
    )
    window = text_message(fallback=[{"channel": "whatsapp"}])
    assert_envelope(
        await _send(client, tenant, window), 409, "outside_service_window", "fallback.0.content"
    )
    bad_time = text_message(
        fallback=[{"channel": "sms", "on": {"not": "delivered", "within": "8d"}}]
    )
    assert_envelope(
        await _send(client, tenant, bad_time), 422, "invalid_request", "fallback.0.on.within"
    )
    live = await client.post(
        "/v1/messages", json=text_message(fallback=[{"channel": "sms"}]), headers=auth(tenant.live)
    )
    assert_envelope(live, 422, "channel_not_configured", "channel")


async def _wait_for_fallback(
    client: httpx.AsyncClient, tenant: Tenant, message_id: str
) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    async def moved_on() -> bool:
        view = (await client.get(f"/v1/messages/{message_id}", headers=auth(tenant.test))).json()
        found.extend(e["detail"] for e in view["events"] if e["type"] == "message.fallback")
        return bool(found)

    await until(moved_on, limit=15)
    return found[0]


async def test_a_late_receipt_after_fallback_is_recorded(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    body = text_message(
        metadata={"sandbox": {"delivered_after": 2, "read_after": 60}},
        fallback=[
            {"channel": "sms", "to": "+14155550199", "on": {"not": "delivered", "within": "1s"}}
        ],
    )
    first = (await _send(client, tenant, body)).json()
    detail = await _wait_for_fallback(client, tenant, first["id"])
    late = await wait_for_status(client, tenant.test, first["id"], "delivered")
    kinds = [(e["type"], e["status"]) for e in late["events"]]
    assert kinds.index(("message.fallback", None)) < kinds.index(("message.status", "delivered"))
    second = await wait_for_status(client, tenant.test, detail["message_id"], "delivered")
    assert second["to"] == "+14155550199"


async def test_fallback_when_not_read_in_time(client: httpx.AsyncClient, tenant: Tenant) -> None:
    """Delivered but never read within the time: the next step goes out."""
    body = text_message(
        metadata={"sandbox": {"delivered_after": 0, "read_after": 60}},
        fallback=[{"channel": "sms", "to": "+14155550142", "on": {"not": "read", "within": "1s"}}],
    )
    first = (await _send(client, tenant, body)).json()
    detail = await _wait_for_fallback(client, tenant, first["id"])
    assert detail["reason"] == "not read within 1s"
    view = (await client.get(f"/v1/messages/{first['id']}", headers=auth(tenant.test))).json()
    assert view["status"] == "delivered"
    second = await wait_for_status(client, tenant.test, detail["message_id"], "sent")
    assert second["to"] == "+14155550142"
