"""``POST webhooks/delivery?connection=ch_…``: what ``/inbound/ch_…`` does, on a real
``chatgate serve``: the platform's signature checked, nothing stored without it."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.channels.telegram import contract as telegram
from tests.compat.messagehub.processes import Hub, hub, session
from tests.e2e.world import PLATFORMS, Session
from tests.support import auth, until

pytestmark = pytest.mark.slow
__all__ = ["hub", "session"]  # the module's fixtures

TELEGRAM = PLATFORMS["telegram"]
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def _update(user: int, text: str) -> dict[str, Any]:
    """A Telegram update: ``user`` wrote ``text`` to the bot."""
    return {
        "update_id": user % 1_000_000,
        "message": {
            "message_id": user % 1000 + 1,
            "from": {"id": user, "is_bot": False, "first_name": "Zoë"},
            "chat": {"id": user, "type": "private", "first_name": "Zoë"},
            "date": int(time.time()),
            "text": text,
        },
    }


async def _inbound_from(session: Session, hub: Hub, user: int) -> list[dict[str, Any]]:
    listed = await session.api.get(
        "/v1/messages",
        params={"direction": "inbound", "channel": "telegram", "limit": 100},
        headers=auth(hub.stack.secret),
    )
    assert listed.status_code == 200, listed.text
    return [m for m in listed.json()["data"] if m["from"] == str(user)]


async def test_a_signed_platform_webhook_is_stored_as_on_inbound(
    hub: Hub, session: Session
) -> None:
    connection = hub.stack.channels["telegram"]["id"]
    user = 7100000001
    answer = await session.api.post(
        f"{hub.base}/webhooks/delivery",
        params={"connection": connection},
        json=_update(user, "Привет 👋"),
        headers={SECRET_HEADER: telegram.SECRET_TOKEN},
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["X-RateLimit-Limit"] == "60"  # public: the address's limit
    found: list[dict[str, Any]] = []

    async def stored() -> bool:
        found[:] = await _inbound_from(session, hub, user)
        return bool(found)

    await until(stored)
    assert found[0]["content"] == {"type": "text", "text": "Привет 👋"}


async def test_without_the_platforms_signature_nothing_is_stored(
    hub: Hub, session: Session
) -> None:
    connection = hub.stack.channels["telegram"]["id"]
    user = 7100000002
    for headers in ({SECRET_HEADER: "not-the-secret"}, {}):
        answer = await session.api.post(
            f"{hub.base}/webhooks/delivery",
            params={"connection": connection},
            json=_update(user, "forged"),
            headers=headers,
        )
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"]["code"] == "invalid_signature"
    # A platform that posts a form (Twilio) is checked too, not refused for its body type.
    form = await session.api.post(
        f"{hub.base}/webhooks/delivery",
        params={"connection": hub.stack.channels["sms"]["id"]},
        content=b"From=%2B14155550100&Body=forged",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 401, form.text
    assert form.json()["error"]["code"] == "invalid_signature"
    assert await _inbound_from(session, hub, user) == []


@pytest.mark.parametrize(
    "params", [{"connection": "ch_01JD5Z6Q2N3F4X8Y9Z0A1B2C3D"}, {}, {"connection": "nope"}]
)
async def test_without_a_known_connection_the_answer_is_404(
    hub: Hub, session: Session, params: dict[str, str]
) -> None:
    answer = await session.api.post(
        f"{hub.base}/webhooks/delivery", params=params, json=_update(7100000003, "x")
    )
    assert answer.status_code == 404, answer.text
    assert answer.json() == {
        "error": {
            "code": "not_found",
            "message": answer.json()["error"]["message"],
            "field": "connection",
        }
    }


async def test_the_handshake_of_a_platform_is_answered_there_too(
    hub: Hub, session: Session
) -> None:
    connection = hub.stack.channels["whatsapp"]["id"]
    query = {
        "connection": connection,
        "hub.mode": "subscribe",
        "hub.verify_token": PLATFORMS["whatsapp"].credentials["verify_token"],
        "hub.challenge": "1158201444",
    }
    answer = await session.api.get(f"{hub.base}/webhooks/delivery", params=query)
    assert answer.status_code == 200, answer.text
    assert answer.text == "1158201444"
