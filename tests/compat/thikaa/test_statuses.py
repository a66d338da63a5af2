"""Every status of the page's table (and 400 for bad input), each reached on purpose, in
Thikaa's error body ``{"ok": false, "error": {"code", "message"}}``."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from chatgate.domain.dialects import Dialect
from chatgate.domain.keys import KeyMode
from chatgate.storage.tables import audit_log
from tests.compat.thikaa.conftest import (
    WA_USER,
    Instance,
    make_instance,
    refused,
    top_up,
    user_writes,
)
from tests.support import auth, gateway, make_key

SEND = "?action=send"
SHIPPED = {"channel": "wa", "to": WA_USER, "message": "Your order has shipped 🚚✅"}


async def test_400_names_the_field_of_bad_input(
    client: httpx.AsyncClient, instance: Instance
) -> None:
    headers = auth(instance.test)
    url = instance.base
    no_action = await client.post(url, json=SHIPPED, headers=headers)
    assert refused(no_action, 400, "invalid_request").startswith("action:")
    unknown = await client.post(f"{url}?action=launch", json=SHIPPED, headers=headers)
    assert refused(unknown, 400, "invalid_request").startswith("action:")
    status_by_post = await client.post(f"{url}?action=status", json=SHIPPED, headers=headers)
    assert refused(status_by_post, 400, "invalid_request").startswith("action:")
    nothing = await client.post(
        f"{url}{SEND}", json={"channel": "wa", "to": WA_USER}, headers=headers
    )
    assert refused(nothing, 400, "invalid_request").startswith("message:")
    empty = {"channel": "wa", "to": WA_USER, "message": ""}
    assert refused(
        await client.post(f"{url}{SEND}", json=empty, headers=headers), 400, "invalid_request"
    ).startswith("message:")
    no_kind = {"channel": "wa", "to": WA_USER, "media_url": "https://you.com/download?id=7"}
    message = refused(
        await client.post(f"{url}{SEND}", json=no_kind, headers=headers), 400, "invalid_request"
    )
    assert message.startswith("media_type:")
    bad_type = {**no_kind, "media_type": "sticker"}
    assert refused(
        await client.post(f"{url}{SEND}", json=bad_type, headers=headers), 400, "invalid_request"
    ).startswith("media_type:")
    bad_channel = {**SHIPPED, "channel": "sms"}
    assert refused(
        await client.post(f"{url}{SEND}", json=bad_channel, headers=headers), 400, "invalid_request"
    ).startswith("channel:")
    placeholder = {**SHIPPED, "to": "0551234567"}  # not E.164
    assert refused(
        await client.post(f"{url}{SEND}", json=placeholder, headers=headers), 400, "invalid_address"
    ).startswith("to:")
    not_a_url = {"channel": "wa", "to": WA_USER, "media_url": "invoice.pdf"}
    assert refused(
        await client.post(f"{url}{SEND}", json=not_a_url, headers=headers), 400, "invalid_request"
    ).startswith("media_url:")
    broken = await client.post(
        f"{url}{SEND}", content=b"{", headers={**headers, "Content-Type": "application/json"}
    )
    refused(broken, 400, "invalid_json")


async def test_400_for_what_the_native_api_answers_404_405_or_415(
    client: httpx.AsyncClient, instance: Instance
) -> None:
    headers = auth(instance.test)
    refused(
        await client.get(f"/compat/thikaa/{instance.name}/api/other", headers=headers),
        400,
        "not_found",
    )
    wrong_method = await client.put(f"{instance.base}{SEND}", json=SHIPPED, headers=headers)
    refused(wrong_method, 400, "method_not_allowed")
    assert wrong_method.headers["allow"] == "GET, POST"
    form = await client.post(
        f"{instance.base}{SEND}",
        content=b"channel=wa",
        headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
    )
    refused(form, 400, "unsupported_media_type")


async def test_401_for_a_missing_invalid_revoked_or_native_key(
    app: FastAPI, client: httpx.AsyncClient, instance: Instance
) -> None:
    url = f"{instance.base}{SEND}"
    missing = await client.post(url, json=SHIPPED)
    assert "tk_live_" in refused(missing, 401, "unauthenticated")
    invalid = await client.post(url, json=SHIPPED, headers=auth("tk_live_" + "x" * 32))
    refused(invalid, 401, "unauthenticated")
    native = await client.post(url, json=SHIPPED, headers=auth(instance.native_live))
    assert "thikaa" in refused(native, 401, "unauthenticated")
    revoked = await client.delete(
        f"/v1/keys/{instance.test_id}", headers=auth(instance.native_test)
    )
    assert revoked.status_code == 200, revoked.text
    await gateway(app).key_cache.refresh()
    refused(
        await client.post(url, json=SHIPPED, headers=auth(instance.test)), 401, "unauthenticated"
    )


async def test_401_for_another_accounts_url_tells_nothing_of_that_account(
    app: FastAPI, client: httpx.AsyncClient, instance: Instance
) -> None:
    other = await make_instance(app)
    headers = auth(instance.test)
    existing = await client.get(f"{other.base}?action=status", headers=headers)
    missing = await client.get(
        "/compat/thikaa/no-such-shop/api/messaging/?action=status", headers=headers
    )
    assert refused(existing, 401, "unauthenticated") == refused(missing, 401, "unauthenticated")
    async with gateway(app).database.read() as conn:
        rows = (
            await conn.execute(
                select(audit_log.c.detail).where(audit_log.c.api_key_id == instance.test_id)
            )
        ).all()
    reasons = [(row.detail["reason"], row.detail.get("account")) for row in rows]
    assert ("wrong_account", other.name) in reasons
    assert ("wrong_account", "no-such-shop") in reasons


async def test_401_for_a_key_used_from_outside_its_ip_allowlist(
    app: FastAPI, client: httpx.AsyncClient, instance: Instance
) -> None:
    from ipaddress import ip_network

    _, secret = await make_key(
        app,
        instance.account_id,
        KeyMode.TEST,
        dialect=Dialect.THIKAA,
        ip_allowlist=(ip_network("203.0.113.0/24"),),
    )
    answer = await client.post(f"{instance.base}{SEND}", json=SHIPPED, headers=auth(secret))
    refused(answer, 401, "ip_not_allowed")


async def test_402_when_the_account_is_out_of_credit(
    app: FastAPI, client: httpx.AsyncClient, instance: Instance, whatsapp_channel: str
) -> None:
    answer = await client.post(f"{instance.base}{SEND}", json=SHIPPED, headers=auth(instance.live))
    assert "credit" in refused(answer, 402, "insufficient_credit")
    await top_up(app, client, instance, 2_000)
    paid = await client.post(f"{instance.base}{SEND}", json=SHIPPED, headers=auth(instance.live))
    assert paid.status_code == 200, paid.text
    again = await client.post(f"{instance.base}{SEND}", json=SHIPPED, headers=auth(instance.live))
    refused(again, 402, "insufficient_credit")


async def test_403_for_a_channel_the_key_may_not_use(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    whatsapp_only = await make_instance(app, allowed_channels=frozenset({"whatsapp_web"}))
    answer = await client.post(
        f"{whatsapp_only.base}{SEND}",
        json={"channel": "tg", "to": "7000000001", "message": "hi"},
        headers=auth(whatsapp_only.test),
    )
    assert refused(answer, 403, "channel_not_allowed").startswith("channel:")
    _, reader = await make_key(
        app,
        whatsapp_only.account_id,
        KeyMode.TEST,
        dialect=Dialect.THIKAA,
        scopes=frozenset({"account:read"}),
    )
    unscoped = await client.post(
        f"{whatsapp_only.base}{SEND}", json={**SHIPPED, "channel": "wd"}, headers=auth(reader)
    )
    assert "messages:send" in refused(unscoped, 403, "insufficient_scope")
    allowed = await client.post(
        f"{whatsapp_only.base}{SEND}",
        json={**SHIPPED, "channel": "wd"},
        headers=auth(whatsapp_only.test),
    )
    assert allowed.status_code == 200, allowed.text


async def test_409_when_the_channel_cannot_initiate(
    client: httpx.AsyncClient, instance: Instance
) -> None:
    for channel, user in (
        ("tg", "7000000002"),
        ("fb", "9900000000000002"),
        ("ig", "8800000000000002"),
    ):
        answer = await client.post(
            f"{instance.base}{SEND}",
            json={"channel": channel, "to": user, "message": "Hello 👋"},
            headers=auth(instance.test),
        )
        assert "write first" in refused(answer, 409, "channel_cannot_initiate")
    await user_writes(client, instance.native_test, "telegram", "7000000002", "hi")
    answer = await client.post(
        f"{instance.base}{SEND}",
        json={"channel": "tg", "to": "7000000002", "message": "Hello 👋"},
        headers=auth(instance.test),
    )
    assert answer.status_code == 200, answer.text


async def test_409_when_whatsapp_direct_is_not_connected(
    client: httpx.AsyncClient, instance: Instance, whatsapp_channel: str
) -> None:
    direct = {"channel": "wd", "to": "+966500000001", "message": "Your order has shipped 🚚✅"}
    answer = await client.post(f"{instance.base}{SEND}", json=direct, headers=auth(instance.live))
    assert refused(answer, 409, "wd_not_connected").startswith("channel:")
    # Any other channel without a connection is a rule refusal too.
    telegram = {"channel": "tg", "to": "7000000003", "message": "hi"}
    answer = await client.post(f"{instance.base}{SEND}", json=telegram, headers=auth(instance.live))
    refused(answer, 409, "channel_not_configured")


async def test_429_past_the_keys_rate_limit_with_retry_after(
    app: FastAPI, client: httpx.AsyncClient, instance: Instance
) -> None:
    _, secret = await make_key(
        app, instance.account_id, KeyMode.TEST, dialect=Dialect.THIKAA, rate_limit=2
    )
    url = f"{instance.base}?action=status"
    answers = [await client.get(url, headers=auth(secret)) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    refused(answers[2], 429, "rate_limited")
    assert int(answers[2].headers["Retry-After"]) >= 1


async def test_the_default_rate_limit_is_60_a_minute_per_key(
    app: FastAPI, client: httpx.AsyncClient, instance: Instance
) -> None:
    _, secret = await make_key(
        app, instance.account_id, KeyMode.TEST, dialect=Dialect.THIKAA, rate_limit=None
    )
    answer = await client.get(f"{instance.base}?action=status", headers=auth(secret))
    assert answer.status_code == 200, answer.text
    assert answer.headers["X-RateLimit-Limit"] == "60"
