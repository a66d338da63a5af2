"""Webhooks refused for their signature: noted within a limit a minute, pruned after days."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import func, select

from chatgate.api.app import create_app
from chatgate.config import Settings
from chatgate.domain.ids import id_floor, new_id
from chatgate.engine.clock import FakeClock
from chatgate.services.audit import AUTH_REFUSED
from chatgate.services.inbound import SIGNATURE_REFUSED
from chatgate.services.retention import Retention
from chatgate.storage import audit as audit_store
from chatgate.storage import channels as channel_store
from chatgate.storage.audit import AuditEntry
from chatgate.storage.database import Database
from chatgate.storage.tables import audit_log, inbound_log
from chatgate.storage.types import utcnow
from tests.api.test_channels import create_whatsapp, wa_webhook
from tests.api.test_validation import assert_envelope
from tests.conftest import REDIS_URL
from tests.support import Tenant, gateway, until

LIMIT = Settings().inbound_refusals_logged_per_minute


async def _forge(client: httpx.AsyncClient, channel_id: str, times: int) -> None:
    """Post ``times`` webhooks with a wrong signature; each is refused alike."""
    body = wa_webhook("+14155550999", "wamid.forged", "hi")
    for _ in range(times):
        refused = await client.post(
            f"/inbound/{channel_id}",
            content=body,
            headers={"X-Hub-Signature-256": "sha256=" + "0" * 64},
        )
        assert_envelope(refused, 401, "invalid_signature", None)


async def _kept(database: Database, channel_id: str, kind: str = SIGNATURE_REFUSED) -> int:
    async with database.read() as conn:
        count = await conn.scalar(
            select(func.count())
            .select_from(inbound_log)
            .where(inbound_log.c.connection_id == channel_id, inbound_log.c.kind == kind)
        )
    return int(count or 0)


async def test_refusals_kept_are_limited_per_connection_and_minute(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    first = (await create_whatsapp(client, tenant))["id"]
    second = (await create_whatsapp(client, tenant, name="second line"))["id"]
    await _forge(client, first, LIMIT * 3)
    assert await _kept(gateway(app).database, first) == LIMIT
    # The other connection has a limit of its own, untouched by the first one's.
    await _forge(client, second, LIMIT + 2)
    assert await _kept(gateway(app).database, second) == LIMIT


@pytest.mark.skipif(not REDIS_URL, reason="set CHATGATE_TEST_REDIS_URL=redis://127.0.0.1:6379/0")
async def test_redis_shares_the_limit_between_processes(
    settings: Settings, client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    channel_id = (await create_whatsapp(client, tenant))["id"]
    shared = settings.model_copy(update={"redis_url": REDIS_URL, "worker_enabled": False})
    first, second = create_app(shared), create_app(shared)
    async with LifespanManager(first), LifespanManager(second):
        for target in (first, second):
            transport = httpx.ASGITransport(app=target)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                await _forge(http, channel_id, LIMIT)
    assert await _kept(gateway(app).database, channel_id) == LIMIT


async def _note(database: Database, channel_id: str, kind: str, age: timedelta) -> None:
    async with database.write() as conn:
        await channel_store.log_inbound(
            conn,
            entry_id=new_id("inb"),
            connection_id=channel_id,
            kind=kind,
            detail={"reason": "test"},
            at=utcnow() - age,
        )


async def test_retention_prunes_refusals_past_their_age_only(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    database = gateway(app).database
    channel_id = (await create_whatsapp(client, tenant))["id"]
    for days in (8, 6, 0):
        await _note(database, channel_id, SIGNATURE_REFUSED, timedelta(days=days))
    # What the platform sent and Chatgate did not understand is not the retention's.
    await _note(database, channel_id, "unknown", timedelta(days=30))
    clock = FakeClock()
    retention = Retention(
        database, clock, refused_webhook_days=7, unowned_refusal_days=30, every_seconds=3600
    )
    assert await retention.run_once() == 1
    assert await _kept(database, channel_id) == 2
    clock.advance(timedelta(days=2).total_seconds())
    assert await retention.run_once() == 1
    assert await _kept(database, channel_id) == 1
    assert await _kept(database, channel_id, "unknown") == 1


async def test_the_worker_prunes_on_its_schedule(settings: Settings, tenant: Tenant) -> None:
    often = settings.model_copy(
        update={"retention_every_seconds": 0.05, "inbound_refused_retention_days": 1}
    )
    application = create_app(often)
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            channel_id = (await create_whatsapp(http, tenant))["id"]
        database = gateway(application).database
        await _note(database, channel_id, SIGNATURE_REFUSED, timedelta(days=2))
        await _note(database, channel_id, SIGNATURE_REFUSED, timedelta(hours=1))

        async def pruned() -> bool:
            return await _kept(database, channel_id) == 1

        await until(pruned)


def _refusal_at(account_id: str | None, age: timedelta, number: int) -> AuditEntry:
    """A refused authentication of ``age`` ago (its id made then: ids sort by time)."""
    at = utcnow() - age
    return AuditEntry(
        id=f"{id_floor('aud', int(at.timestamp() * 1000))[:-4]}{number:04d}",
        account_id=account_id,
        api_key_id=None,
        source_ip="127.0.0.2",
        action=AUTH_REFUSED,
        target=None,
        outcome="refused",
        detail={"reason": "unknown_key"},
        created_at=at,
    )


async def test_retention_prunes_old_refusals_of_no_account_only(
    tenant: Tenant, app: FastAPI
) -> None:
    database = gateway(app).database
    entries = [
        _refusal_at(None, timedelta(days=40), 1),
        _refusal_at(None, timedelta(days=20), 2),
        _refusal_at(tenant.account_id, timedelta(days=40), 3),  # the account's own log
    ]
    async with database.write() as conn:
        await audit_store.insert_entries(conn, entries)
    retention = Retention(
        database, FakeClock(), refused_webhook_days=7, unowned_refusal_days=30, every_seconds=60
    )
    await retention.run_once()
    async with database.read() as conn:
        ids = {e.id for e in entries}
        kept = set(
            (await conn.execute(select(audit_log.c.id).where(audit_log.c.id.in_(ids)))).scalars()
        )
    assert kept == {entries[1].id, entries[2].id}
