"""Every route of WhautoChat's page: its bodies become ordinary messages, with their content
as the native API would build it, to a contact or (WhatsApp) to a phone number."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.compat.messagehub.conftest import user_writes
from tests.compat.whautochat.conftest import contact_on, wac_key, wac_post
from tests.support import Tenant, auth

__all__ = ["wac_key"]  # the module's fixtures

PHONE = "+14155550123"
PSID = "990000000000077"
IG_ID = "880000000000077"
CHAT = "700000077"


async def _native(client: httpx.AsyncClient, tenant: Tenant, answer: httpx.Response) -> Any:
    """The message a 200 answer names, as the native API shows it."""
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body == {"id": body["id"], "status": "queued", "error": None}
    found = await client.get(f"/v1/messages/{body['id']}", headers=auth(tenant.test))
    assert found.status_code == 200, found.text
    return found.json()


@pytest.fixture
async def contact(client: httpx.AsyncClient, tenant: Tenant) -> str:
    """A contact reachable on all four channels, each of whose conversations is open."""
    identities = {"whatsapp": PHONE, "messenger": PSID, "instagram": IG_ID, "telegram": CHAT}
    made = await contact_on(
        client, tenant.test, [{"channel": c, "id": i} for c, i in identities.items()]
    )
    for channel, user in identities.items():
        await user_writes(client, tenant, channel, user)  # found as the contact
    return made


CARDS = [
    {
        "title": "Blue shirt",
        "subtitle": "M, cotton",
        "image_url": "https://shop.example.com/blue.jpg",
        "default_action": {"type": "web_url", "url": "https://shop.example.com/blue"},
        "buttons": [
            {"type": "web_url", "url": "https://shop.example.com/buy", "title": "Buy"},
            {"type": "postback", "title": "More", "payload": "MORE_BLUE"},
        ],
    }
]
NATIVE_CARDS = [
    {
        "title": "Blue shirt",
        "subtitle": "M, cotton",
        "image_url": "https://shop.example.com/blue.jpg",
        "url": "https://shop.example.com/blue",
        "buttons": [
            {"type": "url", "title": "Buy", "url": "https://shop.example.com/buy"},
            {"type": "reply", "title": "More", "id": "MORE_BLUE"},
        ],
    }
]


@pytest.mark.parametrize(
    ("route", "fields", "channel", "content"),
    [
        (
            "whatsapp/sendtext",
            {"textMessage": "Order #1042 shipped 🚚"},
            "whatsapp",
            {"type": "text", "text": "Order #1042 shipped 🚚", "preview_url": False},
        ),
        (
            "whatsapp/sendmedia",
            {"mediaUrl": "https://cdn.example.com/i/1042", "mimeType": "application/pdf"},
            "whatsapp",
            {
                "type": "media",
                "media": {
                    "url": "https://cdn.example.com/i/1042",
                    "kind": "document",
                    "mime_type": "application/pdf",
                    "voice": False,
                },
            },
        ),
        (
            "whatsapp/sendtemplate",
            {"template": {"name": "order_shipped", "language": "en_US"}},
            "whatsapp",
            {
                "type": "template",
                "template": {
                    "name": "order_shipped",
                    "language": "en_US",
                    "variables": {},
                    "buttons": [],
                },
            },
        ),
        (
            "messenger/sendtext",
            {"textMessage": "مرحبا 👋"},
            "messenger",
            {"type": "text", "text": "مرحبا 👋", "preview_url": False},
        ),
        (
            "messenger/sendmedia",
            {"mediaUrl": "https://cdn.example.com/v", "mimeType": "video/quicktime"},
            "messenger",
            {
                "type": "media",
                "media": {
                    "url": "https://cdn.example.com/v",
                    "kind": "video",
                    "mime_type": "video/quicktime",
                    "voice": False,
                },
            },
        ),
        (
            "messenger/sendtemplate",
            {"elements": CARDS},
            "messenger",
            {
                "type": "interactive",
                "interactive": {"kind": "cards", "body": "Blue shirt", "cards": NATIVE_CARDS},
            },
        ),
        (
            "instagram/sendtext",
            {"textMessage": "hi"},
            "instagram",
            {"type": "text", "text": "hi", "preview_url": False},
        ),
        (
            "instagram/sendtemplate",
            {"elements": CARDS},
            "instagram",
            {
                "type": "interactive",
                "interactive": {"kind": "cards", "body": "Blue shirt", "cards": NATIVE_CARDS},
            },
        ),
        (
            "telegram/sendtemplate",
            {"textMessage": "Pick one", "buttons": []},
            "telegram",
            {"type": "text", "text": "Pick one", "preview_url": False},
        ),
    ],
)
async def test_every_route_sends_an_ordinary_message_to_the_contact(
    client: httpx.AsyncClient,
    tenant: Tenant,
    wac_key: str,
    contact: str,
    route: str,
    fields: dict[str, Any],
    channel: str,
    content: dict[str, Any],
) -> None:
    body = {"contact": {"id": contact}, "workspace": {"id": tenant.account_id}, **fields}
    native = await _native(client, tenant, await wac_post(client, wac_key, route, body))
    assert native["channel"] == channel
    assert native["contact_id"] == contact
    assert native["to"] == {"whatsapp": PHONE, "messenger": PSID, "instagram": IG_ID}.get(
        channel, CHAT
    )
    shown = {
        name: value for name, value in native["content"].items() if value not in (None, [], {})
    }
    expected = {name: value for name, value in content.items() if value not in (None, [], {})}
    assert _pruned(shown) == _pruned(expected)


def _pruned(value: Any) -> Any:
    """``value`` without empty and default fields, which the native API adds."""
    if isinstance(value, dict):
        return {
            name: _pruned(item)
            for name, item in value.items()
            if item not in (None, [], {}) and (name, item) != ("voice", False)
        }
    if isinstance(value, list):
        return [_pruned(item) for item in value]
    return value


@pytest.mark.parametrize("spelling", ["recepient", "recipient"])
@pytest.mark.parametrize(
    ("route", "fields"),
    [
        ("whatsapp/sendtext", {"textMessage": "hello"}),
        ("whatsapp/sendmedia", {"mediaUrl": "https://cdn.example.com/a", "mimeType": "image/png"}),
        ("whatsapp/sendtemplate", {"template": "order_shipped"}),
    ],
)  # fmt: skip
async def test_whatsapp_routes_send_to_a_phone_number_in_either_spelling(
    client: httpx.AsyncClient,
    tenant: Tenant,
    wac_key: str,
    spelling: str,
    route: str,
    fields: dict[str, Any],
) -> None:
    await user_writes(client, tenant, "whatsapp", PHONE)
    body = {spelling: {"phoneNumber": PHONE}, "workspace": {"id": tenant.account_id}, **fields}
    native = await _native(client, tenant, await wac_post(client, wac_key, route, body))
    assert (native["channel"], native["to"], native["contact_id"]) == ("whatsapp", PHONE, None)
    if route.endswith("template"):
        # A bare name is the template in English.
        assert native["content"]["template"]["name"] == "order_shipped"
        assert native["content"]["template"]["language"] == "en"


async def test_a_phone_number_without_its_plus_is_read_as_e164(
    client: httpx.AsyncClient, tenant: Tenant, wac_key: str
) -> None:
    await user_writes(client, tenant, "whatsapp", PHONE)
    body = {
        "recepient": {"phoneNumber": PHONE.lstrip("+")},
        "workspace": {"id": tenant.account_id},
        "textMessage": "hello",
    }
    native = await _native(
        client, tenant, await wac_post(client, wac_key, "whatsapp/sendtext", body)
    )
    assert native["to"] == PHONE


@pytest.mark.parametrize(
    ("rows", "keyboard"),
    [
        # A flat list is one row.
        (
            [{"text": "Yes", "callback_data": "y"}, {"text": "Site", "url": "https://example.com/"}],
            [0, 0],
        ),
        # A list of lists is rows.
        (
            [[{"text": "Yes", "callback_data": "y"}], [{"text": "Site", "url": "https://example.com/"}]],
            [0, 1],
        ),
    ],
)  # fmt: skip
async def test_telegram_buttons_keep_their_rows(
    client: httpx.AsyncClient,
    tenant: Tenant,
    wac_key: str,
    contact: str,
    rows: list[Any],
    keyboard: list[int],
) -> None:
    body = {
        "contact": {"id": contact},
        "workspace": {"id": tenant.account_id},
        "textMessage": "Pick one",
        "buttons": rows,
    }
    native = await _native(
        client, tenant, await wac_post(client, wac_key, "telegram/sendtemplate", body)
    )
    interactive = native["content"]["interactive"]
    assert (interactive["kind"], interactive["body"]) == ("buttons", "Pick one")
    assert [button["row"] for button in interactive["buttons"]] == keyboard
    assert [(b["type"], b["title"]) for b in interactive["buttons"]] == [
        ("reply", "Yes"),
        ("url", "Site"),
    ]
    assert interactive["buttons"][0]["id"] == "y"


async def test_a_schedule_keeps_the_message_scheduled_and_a_time_without_offset_is_utc(
    client: httpx.AsyncClient, tenant: Tenant, wac_key: str, contact: str
) -> None:
    later = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    body = {
        "contact": {"id": contact},
        "workspace": {"id": tenant.account_id},
        "textMessage": "see you tomorrow",
        "scheduleDateTime": later.replace(tzinfo=None).isoformat(),
    }
    answer = await wac_post(client, wac_key, "messenger/sendtext", body)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"id": answer.json()["id"], "status": "scheduled", "error": None}
    found = await client.get(f"/v1/messages/{answer.json()['id']}", headers=auth(tenant.test))
    assert found.json()["status"] == "scheduled"
    assert datetime.fromisoformat(found.json()["schedule_at"]) == later
    # With an offset, the time it names.
    offset = {**body, "scheduleDateTime": later.replace(tzinfo=None).isoformat() + "+02:00"}
    with_offset = await wac_post(client, wac_key, "messenger/sendtext", offset)
    assert with_offset.status_code == 200, with_offset.text
    shown = await client.get(f"/v1/messages/{with_offset.json()['id']}", headers=auth(tenant.test))
    assert datetime.fromisoformat(shown.json()["schedule_at"]) == later - timedelta(hours=2)


async def test_the_idempotency_key_replays_the_first_answer(
    client: httpx.AsyncClient, tenant: Tenant, wac_key: str, contact: str
) -> None:
    body = {"contact": {"id": contact}, "workspace": {"id": tenant.account_id}, "textMessage": "x"}
    headers = {"x-api-key": wac_key, "Idempotency-Key": "order-1042"}
    first = await client.post(
        "/compat/whautochat/v1/messages/instagram/sendtext", json=body, headers=headers
    )
    again = await client.post(
        "/compat/whautochat/v1/messages/instagram/sendtext", json=body, headers=headers
    )
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert again.headers["Idempotency-Replayed"] == "true"


async def test_a_contact_made_with_the_native_api_is_reached(
    client: httpx.AsyncClient, tenant: Tenant, wac_key: str
) -> None:
    made = await contact_on(client, tenant.test, [{"channel": "telegram", "id": "700000078"}])
    await user_writes(client, tenant, "telegram", "700000078")
    body = {
        "contact": {"id": made, "name": "Ada"},  # WhautoChat's other contact fields: ignored
        "workspace": {"id": tenant.account_id, "name": "Shop"},
        "textMessage": "hello",
        "buttons": [{"text": "Hi", "callback_data": "hi"}],
    }
    answer = await wac_post(client, wac_key, "telegram/sendtemplate", body)
    native = await _native(client, tenant, answer)
    assert native["to"] == "700000078"


async def test_a_mime_type_with_parameters_is_the_type_it_names(
    client: httpx.AsyncClient, tenant: Tenant, wac_key: str
) -> None:
    await user_writes(client, tenant, "whatsapp", PHONE)
    body = {
        "recepient": {"phoneNumber": PHONE},
        "workspace": {"id": tenant.account_id},
        "mediaUrl": "https://cdn.example.com/voice/1",
        "mimeType": "audio/OGG; codecs=opus",
    }
    answer = await wac_post(client, wac_key, "whatsapp/sendmedia", body)
    native = await _native(client, tenant, answer)
    media = native["content"]["media"]
    assert (media["kind"], media["mime_type"]) == ("audio", "audio/ogg")
