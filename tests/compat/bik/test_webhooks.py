"""The ``bik`` webhook format: status updates and link clicks of a Bik message, each with
its callbackData exactly as the send gave it, signed with the Standard Webhooks headers."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import httpx

from chatgate.storage.database import Database
from tests.compat.bik.conftest import PAGE_SAMPLE, bik_send
from tests.compat.messagehub.conftest import user_writes
from tests.compat.messagehub.test_webhook_format import database, receiver
from tests.support import Tenant, auth
from tests.webhooks.receiver import Receiver, verify_officially

__all__ = ["database", "receiver"]  # the module's fixtures
USER = "+919900990090"
# JSON as a client wrote it: spacing, key order and escapes a re-serialisation would change.
CALLBACK_DATA = '{ "order_id" : "ORD123",\t"note": "caf\\u00e9 ✓", "n": 1.50 }'
SHOP = "https://shop.example.com/orders/ORD123?utm=bik"


async def _endpoint(client: httpx.AsyncClient, tenant: Tenant, url: str) -> str:
    made = await client.post(
        "/v1/webhooks", json={"url": url, "format": "bik"}, headers=auth(tenant.test)
    )
    assert made.status_code == 201, made.text
    assert made.json()["format"] == "bik"
    secret: str = made.json()["secret"]
    return secret


async def test_status_updates_and_a_click_echo_the_callback_data_byte_exact(
    client: httpx.AsyncClient,
    tenant: Tenant,
    bik_test: str,
    receiver: Receiver,
    database: Database,
) -> None:
    secret = await _endpoint(client, tenant, receiver.url("/bik"))
    await user_writes(client, tenant, "whatsapp", USER)
    body = {
        **PAGE_SAMPLE,
        "payload": {"message": f"Your order: {SHOP}"},
        "callbackData": CALLBACK_DATA,
    }
    sent = await bik_send(client, bik_test, body)
    assert sent.status_code == 200, sent.text
    message_id = sent.json()["data"]["id"]
    updates = [verify_officially(secret, r) for r in await receiver.wait_for("/bik", 4)]
    assert sorted(u["data"]["status"] for u in updates) == ["delivered", "queued", "read", "sent"]
    for update in updates:
        assert update["event"] == "message.status"
        data: dict[str, Any] = update["data"]
        assert list(data) == [
            "id",
            "status",
            "contactIdentifier",
            "medium",
            "timestamp",
            "callbackData",
        ]
        assert (data["id"], data["contactIdentifier"], data["medium"]) == (
            message_id,
            USER,
            "whatsapp",
        )
        assert data["callbackData"] == CALLBACK_DATA
        assert datetime.fromisoformat(data["timestamp"]).utcoffset() is not None
    # The link the user got is tracked; following it is a click, reported with the data.
    shown = await client.get(f"/v1/messages/{message_id}", headers=auth(tenant.test))
    [code] = re.findall(r"/l/([A-Za-z0-9_-]+)", shown.json()["content"]["text"])
    followed = await client.get(f"/l/{code}")
    assert followed.status_code in (302, 307), followed.text
    assert followed.headers["location"] == SHOP
    click = (await receiver.wait_for("/bik", 5))[4]
    clicked = verify_officially(secret, click)
    assert clicked == {
        "event": "message.link_clicked",
        "data": {
            "id": message_id,
            "url": SHOP,
            "contactIdentifier": USER,
            "timestamp": clicked["data"]["timestamp"],
            "callbackData": CALLBACK_DATA,
        },
    }
    # Byte-exact: the delivered JSON holds the very characters the send gave.
    assert CALLBACK_DATA.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t") in (
        click.body.decode()
    )


async def test_a_message_without_callback_data_reports_null_and_inbound_is_not_sent(
    client: httpx.AsyncClient,
    tenant: Tenant,
    bik_test: str,
    receiver: Receiver,
    database: Database,
) -> None:
    secret = await _endpoint(client, tenant, receiver.url("/plain"))
    await user_writes(client, tenant, "whatsapp", USER)
    body = {key: value for key, value in PAGE_SAMPLE.items() if key != "callbackData"}
    sent = await bik_send(client, bik_test, body)
    assert sent.status_code == 200, sent.text
    updates = [verify_officially(secret, r) for r in await receiver.wait_for("/plain", 4)]
    assert {u["data"]["callbackData"] for u in updates} == {None}
    # The user's own message (written before) has no Bik shape: only the four updates came.
    assert {u["event"] for u in updates} == {"message.status"}
    assert {u["data"]["id"] for u in updates} == {sent.json()["data"]["id"]}
