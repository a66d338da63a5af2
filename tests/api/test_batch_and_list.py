"""POST /v1/messages/batch (partial success) and GET /v1/messages (filters, cursor)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from tests.api.test_validation import assert_envelope
from tests.support import Tenant, auth, text_message, wait_for_status


async def test_batch_accepts_valid_items_and_names_each_bad_one(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    items = [
        text_message(text="one"),
        text_message(to="12345"),
        {**text_message(), "content": {"type": "nope"}},
        text_message(text="four 🎉"),
        {**text_message(), "channel": "telegram", "to": "123456789"},  # cannot initiate
    ]
    response = await client.post(
        "/v1/messages/batch", json={"messages": items}, headers=auth(tenant.test)
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (2, 3)
    results = body["results"]
    assert [r["index"] for r in results] == [0, 1, 2, 3, 4]
    assert [r["status"] for r in results] == [
        "accepted",
        "rejected",
        "rejected",
        "accepted",
        "rejected",
    ]
    assert results[1]["error"]["field"] == "to"
    assert results[2]["error"]["field"] == "content.type"
    assert results[4]["error"]["code"] == "channel_cannot_initiate"
    assert results[3]["message"]["content"]["text"] == "four 🎉"
    for index in (0, 3):
        await wait_for_status(client, tenant.test, results[index]["message"]["id"], "delivered")


async def test_batch_of_1000_is_accepted_and_1001_refused(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    items = [text_message(text=f"n{i}") for i in range(1000)]
    response = await client.post(
        "/v1/messages/batch", json={"messages": items}, headers=auth(tenant.test)
    )
    assert response.status_code == 202
    assert response.json()["accepted"] == 1000
    too_many = await client.post(
        "/v1/messages/batch", json={"messages": [*items, text_message()]}, headers=auth(tenant.test)
    )
    assert_envelope(too_many, 422, "invalid_request", "messages")
    empty = await client.post(
        "/v1/messages/batch", json={"messages": []}, headers=auth(tenant.test)
    )
    assert_envelope(empty, 422, "invalid_request", "messages")


async def test_list_filters_and_pages_newest_first(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    ids = []
    for index in range(5):
        to = "+14155550123" if index % 2 == 0 else "+14155550124"
        response = await client.post(
            "/v1/messages", json=text_message(to=to, text=str(index)), headers=auth(tenant.test)
        )
        ids.append(response.json()["id"])
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/v1/messages", params=params, headers=auth(tenant.test))).json()
        seen.extend(message["id"] for message in page["data"])
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        cursor = page["next_cursor"]
    assert seen == list(reversed(ids))

    to_one = await client.get(
        "/v1/messages", params={"to": "+14155550124"}, headers=auth(tenant.test)
    )
    assert [m["id"] for m in to_one.json()["data"]] == [ids[3], ids[1]]
    none_inbound = await client.get(
        "/v1/messages", params={"direction": "inbound"}, headers=auth(tenant.test)
    )
    assert none_inbound.json()["data"] == []
    by_channel = await client.get(
        "/v1/messages", params={"channel": "whatsapp"}, headers=auth(tenant.test)
    )
    assert by_channel.json()["data"] == []


async def test_list_filters_by_status_and_time(client: httpx.AsyncClient, tenant: Tenant) -> None:
    failing = text_message(metadata={"sandbox": {"fail": "rejected"}})
    failed_id = (await client.post("/v1/messages", json=failing, headers=auth(tenant.test))).json()[
        "id"
    ]
    await wait_for_status(client, tenant.test, failed_id, "failed")
    ok_id = (
        await client.post("/v1/messages", json=text_message(), headers=auth(tenant.test))
    ).json()["id"]
    failed = await client.get(
        "/v1/messages", params={"status": "failed"}, headers=auth(tenant.test)
    )
    assert [m["id"] for m in failed.json()["data"]] == [failed_id]

    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert (
        await client.get(
            "/v1/messages", params={"created_after": future}, headers=auth(tenant.test)
        )
    ).json()["data"] == []
    recent = await client.get(
        "/v1/messages", params={"created_after": past}, headers=auth(tenant.test)
    )
    assert {m["id"] for m in recent.json()["data"]} == {failed_id, ok_id}
    older = await client.get(
        "/v1/messages", params={"created_before": past}, headers=auth(tenant.test)
    )
    assert older.json()["data"] == []
