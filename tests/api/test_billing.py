"""Credit, plans and the ledger: live sends against the WhatsApp emulator, on both stores.

The WhatsApp emulator is served in the test's own loop, without a webhook, so that a send
it accepts stays ``sent`` and a fault makes it ``failed``.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chatgate.config import Settings
from chatgate.domain.keys import KeyMode
from chatgate.domain.records import Message
from chatgate.errors import RateLimited
from chatgate.services.billing import Billing, Charges
from chatgate.storage import accounts as account_store
from chatgate.storage import keys as key_store
from tests.api.conftest import PRICE, USER, priced_settings, top_up
from tests.api.test_validation import assert_envelope
from tests.support import (
    Tenant,
    auth,
    gateway,
    make_key,
    queued_sms,
    until,
    wait_for_status,
)


@pytest.fixture
def settings(database_url: str) -> Settings:
    """WhatsApp messages cost ``PRICE``; the ``tiny`` plan allows 3 a day."""
    return priced_settings(database_url)


def _text(text: str = "hello", **extra: Any) -> dict[str, Any]:
    return {"channel": "whatsapp", "to": USER, "content": {"type": "text", "text": text}, **extra}


async def _account(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get("/v1/account", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _ledger(client: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = await client.get("/v1/account/ledger", headers=headers)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["data"]
    return entries


async def _settled(client: httpx.AsyncClient, headers: dict[str, str], kind: str) -> None:
    async def done() -> bool:
        return any(entry["kind"] == kind for entry in await _ledger(client, headers))

    await until(done)


async def test_the_account_shows_plan_credit_usage_and_channels(
    client: httpx.AsyncClient, tenant: Tenant, live: dict[str, str], admin: dict[str, str]
) -> None:
    await top_up(client, admin, tenant, 2_500_000)
    account = await _account(client, live)
    assert account["plan"] == {
        "name": "unlimited",
        "rate_limit": None,
        "daily_messages": None,
        "sessions": None,
    }
    assert account["credit"] == {
        "currency": "USD",
        "balance": 2_500_000,
        "held": 0,
        "display": "2.500000 USD",
    }
    assert account["usage"]["messages_today"] == 0
    assert [(c["type"], c["name"], c["status"]) for c in account["channels"]] == [
        ("whatsapp", "shop", "connected")
    ]


async def test_a_live_send_reserves_its_price_and_settles_once_sent(
    client: httpx.AsyncClient, tenant: Tenant, live: dict[str, str], admin: dict[str, str]
) -> None:
    await top_up(client, admin, tenant, 10_000)
    accepted = await client.post("/v1/messages", json=_text(), headers=live)
    assert accepted.status_code == 202, accepted.text
    message_id = accepted.json()["id"]
    credit = (await _account(client, live))["credit"]
    assert (credit["balance"], credit["held"]) in {(10_000 - PRICE, PRICE), (10_000 - PRICE, 0)}

    await wait_for_status(client, tenant.live, message_id, "sent")
    await _settled(client, live, "settle")
    credit = (await _account(client, live))["credit"]
    assert (credit["balance"], credit["held"]) == (10_000 - PRICE, 0)
    entries = await _ledger(client, live)
    assert [(e["kind"], e["amount"], e["message_id"]) for e in entries] == [
        ("settle", 0, message_id),
        ("reserve", -PRICE, message_id),
        ("topup", 10_000, None),
    ]
    assert entries[1]["key_id"] is not None
    # Counted on a plan without a quota too (the default, unlimited one).
    assert (await _account(client, live))["usage"]["messages_today"] == 1


async def test_a_failed_message_is_refunded(
    client: httpx.AsyncClient,
    tenant: Tenant,
    live: dict[str, str],
    admin: dict[str, str],
    emulator: str,
) -> None:
    await top_up(client, admin, tenant, 10_000)
    async with httpx.AsyncClient(base_url=emulator) as http:
        fault = await http.post("/_emulator/whatsapp/faults", json={"kind": "permanent"})
        assert fault.status_code == 201, fault.text
    accepted = await client.post("/v1/messages", json=_text(), headers=live)
    assert accepted.status_code == 202, accepted.text
    await wait_for_status(client, tenant.live, accepted.json()["id"], "failed")
    await _settled(client, live, "refund")
    credit = (await _account(client, live))["credit"]
    assert (credit["balance"], credit["held"]) == (10_000, 0)
    kinds = [entry["kind"] for entry in await _ledger(client, live)]
    assert kinds == ["refund", "reserve", "topup"]


async def test_a_canceled_message_is_refunded(
    client: httpx.AsyncClient, tenant: Tenant, live: dict[str, str], admin: dict[str, str]
) -> None:
    await top_up(client, admin, tenant, 10_000)
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    accepted = await client.post("/v1/messages", json=_text(schedule_at=later), headers=live)
    assert accepted.status_code == 202, accepted.text
    assert (await _account(client, live))["credit"]["balance"] == 10_000 - PRICE
    canceled = await client.delete(f"/v1/messages/{accepted.json()['id']}", headers=live)
    assert canceled.status_code == 200, canceled.text
    await _settled(client, live, "refund")
    credit = (await _account(client, live))["credit"]
    assert (credit["balance"], credit["held"]) == (10_000, 0)


async def test_out_of_credit_is_402_and_writes_nothing(
    client: httpx.AsyncClient, tenant: Tenant, live: dict[str, str], admin: dict[str, str]
) -> None:
    await top_up(client, admin, tenant, PRICE - 1)
    refused = await client.post("/v1/messages", json=_text(), headers=live)
    assert_envelope(refused, 402, "insufficient_credit", None)
    assert refused.json()["error"]["details"] == {"price": PRICE, "currency": "USD"}
    listed = await client.get("/v1/messages", headers=live)
    assert listed.json()["data"] == []
    assert [entry["kind"] for entry in await _ledger(client, live)] == ["topup"]
    assert (await _account(client, live))["credit"]["balance"] == PRICE - 1
    assert (await _account(client, live))["usage"]["messages_today"] == 0  # taken back


async def test_test_keys_cost_nothing(client: httpx.AsyncClient, tenant: Tenant) -> None:
    body = {"channel": "sms", "to": USER, "content": {"type": "text", "text": "free"}}
    accepted = await client.post("/v1/messages", json=body, headers=auth(tenant.test))
    assert accepted.status_code == 202, accepted.text
    assert await _ledger(client, auth(tenant.test)) == []


async def test_a_batch_refuses_only_what_the_credit_cannot_cover(
    client: httpx.AsyncClient, tenant: Tenant, live: dict[str, str], admin: dict[str, str]
) -> None:
    await top_up(client, admin, tenant, 2 * PRICE)
    batch = {"messages": [_text(f"n{n}") for n in range(3)]}
    answer = await client.post("/v1/messages/batch", json=batch, headers=live)
    assert answer.status_code == 202, answer.text
    results = answer.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "accepted", "rejected"]
    assert results[2]["error"]["code"] == "insufficient_credit"
    account = await _account(client, live)
    assert (account["credit"]["balance"], account["usage"]["messages_today"]) == (0, 2)


async def test_concurrent_sends_never_overdraw_the_balance(
    client: httpx.AsyncClient, tenant: Tenant, live: dict[str, str], admin: dict[str, str]
) -> None:
    affordable = 5
    await top_up(client, admin, tenant, affordable * PRICE)
    answers = await asyncio.gather(
        *(client.post("/v1/messages", json=_text(f"race {n}"), headers=live) for n in range(30))
    )
    codes = sorted(answer.status_code for answer in answers)
    assert codes == [202] * affordable + [402] * (30 - affordable)
    credit = (await _account(client, live))["credit"]
    assert credit["balance"] == 0
    reserves = [e for e in await _ledger(client, live) if e["kind"] == "reserve"]
    assert len(reserves) == affordable
    assert all(entry["balance_after"] >= 0 for entry in reserves)


async def test_the_daily_quota_answers_429_with_its_reset_time(
    client: httpx.AsyncClient,
    tenant: Tenant,
    live: dict[str, str],
    admin: dict[str, str],
    app: FastAPI,
) -> None:
    await top_up(client, admin, tenant, 100 * PRICE)
    changed = await client.patch(
        f"/v1/admin/accounts/{tenant.account_id}", json={"plan": "tiny"}, headers=admin
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["plan"]["daily_messages"] == 3
    # The plan's rate limit (2 a minute) applies only to keys without one of their own.
    for n in range(3):
        answer = await client.post("/v1/messages", json=_text(f"n{n}"), headers=live)
        assert answer.status_code == 202, answer.text
    over = await client.post("/v1/messages", json=_text("one too many"), headers=live)
    assert_envelope(over, 429, "quota_exceeded", None)
    resets_at = datetime.fromisoformat(over.json()["error"]["details"]["resets_at"])
    assert resets_at > datetime.now(UTC)
    assert resets_at.time().isoformat() == "00:00:00"
    assert 0 < int(over.headers["Retry-After"]) <= 86_400
    usage = (await _account(client, live))["usage"]
    assert (usage["messages_today"], usage["daily_limit"]) == (3, 3)
    # Refused on quota, nothing was reserved for it.
    assert (await _account(client, live))["credit"]["balance"] == 97 * PRICE


async def test_the_quota_starts_afresh_each_utc_day(
    app: FastAPI, tenant: Tenant, settings: Settings
) -> None:
    database = gateway(app).database
    key_id, _ = await make_key(app, tenant.account_id, KeyMode.LIVE)
    async with database.write() as conn:
        await account_store.set_billing(conn, tenant.account_id, plan="tiny")
        key = await key_store.get_key_by_id(conn, key_id)
    assert key is not None
    billing = Billing(settings)
    day_one = datetime(2026, 3, 1, 23, 59, tzinfo=UTC)

    def sms_at(at: datetime) -> Message:
        return replace(queued_sms(tenant.account_id, "x"), mode=KeyMode.LIVE, created_at=at)

    async with database.write() as conn:
        for _ in range(3):
            await billing.charge(conn, key, sms_at(day_one), Charges())
        with pytest.raises(RateLimited) as refused:
            await billing.charge(conn, key, sms_at(day_one), Charges())
        assert refused.value.details["resets_at"] == "2026-03-02T00:00:00+00:00"
        charged = await billing.charge(conn, key, sms_at(day_one + timedelta(minutes=1)), Charges())
    assert charged.price is None  # SMS has no price here: counted, not charged


async def test_a_key_without_a_rate_limit_of_its_own_has_its_plans(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI, admin: dict[str, str]
) -> None:
    path = f"/v1/admin/accounts/{tenant.account_id}"
    assert (await client.patch(path, json={"plan": "tiny"}, headers=admin)).status_code == 200
    _, secret = await make_key(app, tenant.account_id, KeyMode.TEST, rate_limit=None)
    answers = [(await client.get("/v1/account", headers=auth(secret))) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[0].headers["X-RateLimit-Limit"] == "2"
    assert_envelope(answers[2], 429, "rate_limited", None)


async def test_only_an_admin_key_can_credit_or_change_a_plan(
    client: httpx.AsyncClient, tenant: Tenant, admin: dict[str, str]
) -> None:
    everything = auth(tenant.live)
    path = f"/v1/admin/accounts/{tenant.account_id}"
    refused = await client.post(f"{path}/credit", json={"amount": 5}, headers=everything)
    assert_envelope(refused, 403, "insufficient_scope", None)
    refused = await client.patch(path, json={"plan": "tiny"}, headers=everything)
    assert_envelope(refused, 403, "insufficient_scope", None)
    escalation = await client.post(
        "/v1/keys", json={"name": "sneaky", "scopes": ["admin"]}, headers=everything
    )
    assert_envelope(escalation, 403, "forbidden", "scopes")
    unknown = await client.patch(path, json={"plan": "platinum"}, headers=admin)
    assert_envelope(unknown, 422, "unknown_plan", "plan")
    missing = await client.post(
        "/v1/admin/accounts/acc_01JD5Z6Q2N3F4X8Y9Z0A1B2C3D/credit",
        json={"amount": 5},
        headers=admin,
    )
    assert_envelope(missing, 404, "not_found", "account_id")
    overdraw = await client.post(f"{path}/credit", json={"amount": -5}, headers=admin)
    assert_envelope(overdraw, 422, "insufficient_credit", "amount")


async def test_changes_to_credit_and_plan_are_audited(
    client: httpx.AsyncClient, tenant: Tenant, admin: dict[str, str]
) -> None:
    await top_up(client, admin, tenant, 7_000)
    path = f"/v1/admin/accounts/{tenant.account_id}"
    assert (await client.patch(path, json={"plan": "tiny"}, headers=admin)).status_code == 200
    audit = await client.get("/v1/audit", headers=auth(tenant.live))
    assert audit.status_code == 200, audit.text
    entries = audit.json()["data"]
    assert [e["action"] for e in entries[:2]] == ["account.plan_changed", "account.credited"]
    assert entries[1]["detail"]["amount"] == 7_000
    assert all(e["outcome"] == "succeeded" and e["source_ip"] for e in entries[:2])
