"""A status that arrives before its message's platform id is stored is matched later."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from chatgate.channels.base import StatusUpdate
from chatgate.channels.meta import sign
from chatgate.domain.status import Status
from chatgate.services.job_kinds import STATUS_MATCH_JOB
from chatgate.services.status_match import MATCH_AGAIN_AFTER, StatusMatcher, match_later
from chatgate.storage import channels as channel_store
from chatgate.storage import jobs as job_store
from chatgate.storage import messages as message_store
from chatgate.storage.jobs import Job
from chatgate.storage.tables import inbound_log, jobs
from chatgate.storage.types import utcnow
from tests.channels.whatsapp import contract as wa
from tests.support import Tenant, auth, gateway, until

TEMPLATE = {"type": "template", "template": {"name": "hello_world", "language": "en_US"}}


async def _connect(client: httpx.AsyncClient, tenant: Tenant) -> str:
    created = await client.post(
        "/v1/channels",
        json={
            "type": "whatsapp",
            "name": "line",
            "credentials": {
                "access_token": wa.ACCESS_TOKEN,
                "phone_number_id": wa.PHONE_NUMBER_ID,
                "app_secret": wa.APP_SECRET,
                "verify_token": wa.VERIFY_TOKEN,
            },
            # Loopback, nothing listening: the worker's sends fail and are retried later.
            "settings": {"api_base": "http://127.0.0.1:9"},
        },
        headers=auth(tenant.live),
    )
    assert created.status_code == 201, created.text
    channel_id: str = created.json()["id"]
    return channel_id


async def _status_webhook(
    client: httpx.AsyncClient, channel_id: str, name: str, wamid: str
) -> None:
    body = wa.SPEC.serialize(wa.status_webhook(name, wamid))
    answer = await client.post(
        f"/inbound/{channel_id}",
        content=body,
        headers={"X-Hub-Signature-256": sign(wa.APP_SECRET, body)},
    )
    assert answer.status_code == 200, answer.text


async def test_a_status_before_the_send_outcome_lands_once_the_id_is_stored(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    channel_id = await _connect(client, tenant)
    accepted = await client.post(
        "/v1/messages",
        json={"channel": "whatsapp", "to": wa.RECIPIENT, "content": TEMPLATE},
        headers=auth(tenant.live),
    )
    assert accepted.status_code == 202, accepted.text
    message_id = accepted.json()["id"]
    wamid = "wamid.HBgLMTQxNTU1NTAxMjMVAgARGBJFQVJMWV9TVEFUVVNfMDAx"

    # The platform's receipt comes first: it names an id nothing carries yet.
    await _status_webhook(client, channel_id, "delivered", wamid)
    database = gateway(app).database
    async with database.read() as conn:
        waiting = (await conn.execute(select(jobs.c.kind))).scalars().all()
    assert STATUS_MATCH_JOB in waiting

    # Then the send's outcome is stored, as the worker would after the platform's answer.
    async with database.write() as conn:
        await message_store.set_status(
            conn, message_id, Status.SENT, utcnow(), provider_message_id=wamid
        )

    async def delivered() -> bool:
        shown = await client.get(f"/v1/messages/{message_id}", headers=auth(tenant.live))
        return bool(shown.json()["status"] == "delivered")

    await until(delivered, limit=10)


async def test_a_status_that_never_matches_is_tried_again_then_logged(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    channel_id = await _connect(client, tenant)
    database = gateway(app).database
    now = utcnow()
    async with database.read() as conn:
        connection = await channel_store.get_connection(conn, channel_id)
    assert connection is not None
    update = StatusUpdate(
        status=Status.READ,
        platform_status="read",
        at=now,
        raw={"id": "wamid.NOT_OURS", "status": "read"},
        provider_message_id="wamid.NOT_OURS",
    )
    row = match_later(connection, update, now)
    async with database.write() as conn:
        await job_store.enqueue(conn, [row])
        job_id = await conn.scalar(select(jobs.c.id).where(jobs.c.kind == STATUS_MATCH_JOB))
    assert job_id is not None
    matcher = StatusMatcher(database, clock=lambda: now)

    def claimed(attempts: int) -> Job:
        return Job(job_id, STATUS_MATCH_JOB, None, row["payload"], now, attempts)

    # Early attempts put the job back, each a little later.
    [again] = await matcher.handle([claimed(1)])
    async with database.write() as conn:
        await again(conn)
        run_at = await conn.scalar(select(jobs.c.run_at).where(jobs.c.id == job_id))
    assert run_at is not None
    waited = run_at.replace(tzinfo=now.tzinfo) - now
    assert waited == timedelta(seconds=MATCH_AGAIN_AFTER[1] - MATCH_AGAIN_AFTER[0])
    # The last one gives up: the status is kept in the inbound log, the job is gone.
    [last] = await matcher.handle([claimed(len(MATCH_AGAIN_AFTER))])
    async with database.write() as conn:
        await last(conn)
    async with database.read() as conn:
        left = await conn.scalar(select(jobs.c.id).where(jobs.c.id == job_id))
        logged = await conn.execute(
            select(inbound_log.c.kind).where(inbound_log.c.connection_id == channel_id)
        )
        kinds = logged.scalars().all()
    assert left is None
    assert kinds == ["unmatched_status"]
