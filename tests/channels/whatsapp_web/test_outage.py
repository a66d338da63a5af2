"""A session that drops keeps its messages queued until it is back, and refuses new ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from chatgate.storage.tables import jobs
from tests.channels.whatsapp_web.support import (
    CONTROL,
    FAST,
    PHONE,
    paired_session,
    session_state,
)
from tests.support import Tenant, auth, gateway, until, wait_for_status

USERS = [f"+23769900011{i}" for i in range(3)]


async def _platform(phone: httpx.AsyncClient, *, reachable: bool) -> None:
    timing = {**FAST, "qr_interval": 2.0, "reachable": reachable}
    assert (await phone.put(f"{CONTROL}/settings", json=timing)).status_code == 200


async def _jobs(app: FastAPI, message_ids: list[str]) -> list[Any]:
    async with gateway(app).database.read() as conn:
        found = await conn.execute(select(jobs).where(jobs.c.message_id.in_(message_ids)))
        return list(found)


async def test_messages_queued_while_the_session_is_away_are_sent_once_it_is_back(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, phone: httpx.AsyncClient
) -> None:
    session_id = await paired_session(client, tenant.live, phone, "desk", messages_per_minute=600)
    due = datetime.now(UTC) + timedelta(seconds=1)
    accepted = []
    for user in USERS:
        body = {
            "channel": "whatsapp_web",
            "from": "desk",
            "to": user,
            "content": {"type": "text", "text": "your order shipped"},
            "schedule_at": due.isoformat(),
        }
        response = await client.post("/v1/messages", json=body, headers=auth(tenant.live))
        assert response.status_code == 202, response.text
        accepted.append(response.json()["id"])
    # The platform goes away and the connection drops before the messages are due.
    await _platform(phone, reachable=False)
    assert (await phone.post(f"{CONTROL}/drop", json={"phone": PHONE})).status_code == 200

    async def away() -> bool:
        return await session_state(client, tenant.live, session_id) == "starting"

    await until(away)
    # Meanwhile a new send is refused at once, naming the session and its state.
    refused = await client.post(
        "/v1/messages",
        json={"channel": "whatsapp_web", "to": USERS[0], "content": {"type": "text", "text": "x"}},
        headers=auth(tenant.live),
    )
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert (error["code"], error["field"]) == ("session_not_connected", "from")
    assert "'desk'" in error["message"]
    assert "starting" in error["message"]
    assert error["details"]["session_id"] == session_id

    async def tried_and_waiting() -> bool:
        # Each send came due, found no connected device and waits: no attempt spent.
        found = await _jobs(app, accepted)
        return len(found) == 3 and all(
            job.run_at > due and job.attempts == 0 and job.locked_by is None for job in found
        )

    await until(tried_and_waiting)
    for message_id in accepted:
        shown = await client.get(f"/v1/messages/{message_id}", headers=auth(tenant.live))
        assert shown.json()["status"] in ("scheduled", "queued")

    await _platform(phone, reachable=True)
    for message_id in accepted:
        shown = await wait_for_status(client, tenant.live, message_id, "read", limit=30)
        assert shown["error"] is None
        assert "failed" not in {e.get("status") for e in shown["events"]}
    received = (await phone.get(f"{CONTROL}/received")).json()
    assert sorted(r["recipient"] for r in received if r["status"] == 200) == USERS
