"""Live keys' sends through a session: accepted as native ``whatsapp_web`` messages from the
session, counted against the plan's messages a day (429 with ``Retry-After`` past them)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from chatgate.compat.wasessions.ids import from_uuid
from chatgate.config import PlanLimits, Settings
from tests.compat.wasessions.conftest import BASE, PHONE, refused, working_session
from tests.support import Tenant, auth, settings_for

TEXT = {"to": PHONE, "message": "Hello!"}


@pytest.fixture
def settings(database_url: str) -> Settings:
    """New accounts are on a plan of two live messages a day."""
    plans = {"tiny": PlanLimits(rate_limit=600, daily_messages=2, sessions=10)}
    return settings_for(database_url, plans=plans, default_plan="tiny")


async def test_a_live_send_goes_from_the_session_and_counts_against_the_day(
    app: FastAPI, client: httpx.AsyncClient, was_live: str, tenant: Tenant
) -> None:
    session = await working_session(app, client, was_live)
    sent = []
    for _ in range(2):
        answer = await client.post(f"{BASE}/messages", json=TEXT, headers=auth(was_live))
        assert answer.status_code == 202, answer.text
        sent.append(answer.json())
    native = await client.get(
        f"/v1/messages/{from_uuid('msg', sent[0]['id'])}", headers=auth(tenant.live)
    )
    assert native.status_code == 200, native.text
    assert (native.json()["channel"], native.json()["from"]) == (
        "whatsapp_web",
        from_uuid("ses", session["id"]),
    )
    over = await client.post(f"{BASE}/messages", json=TEXT, headers=auth(was_live))
    refused(over, 429, "quota_exceeded", None)
    assert int(over.headers["retry-after"]) >= 1
