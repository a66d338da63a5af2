"""Every schema of WhautoChat's page, sent as printed to its route on a real ``chatgate
serve``, with ``chatgate emulate`` standing for WhatsApp, Messenger, Instagram and Telegram.

The key is a live one made by ``chatgate keys create --dialect whautochat``. Only the base
URL, the key and the placeholders a client fills in are changed: the ids (contact and
workspace), the phone number, the media file's URL and type, and the time; a text, a
template name or a card's title is sent as the page prints it (``"string"``). Each message
must arrive at the emulated platform in the platform's own format; the WhatsApp routes are
run with ``contact`` (option 1) and with ``recepient`` (option 2).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.compat.whautochat.page import ENDPOINTS, MESSAGE_RESPONSE, filled, option
from tests.e2e.world import PLATFORMS, Session, Stack, running_stack, session_on
from tests.processes import chatgate_env
from tests.support import TEST_SECRET_KEY, auth

pytestmark = pytest.mark.slow

MEDIA_URL = "https://cdn.example.com/catalog/blue-shirt"
MIME_TYPE = "image/jpeg"
CHATGATE = (sys.executable, "-m", "chatgate")


@dataclass(frozen=True)
class Wac:
    """The running stack, WhautoChat's base URL on it, the live key and the workspace."""

    stack: Stack
    base: str
    key: str
    workspace: str


def _cli_key(stack: Stack) -> str:
    """A live WhautoChat key, made as the README says: ``chatgate keys create``."""
    env = chatgate_env(stack.database_url, secret_key=TEST_SECRET_KEY)
    create = ("keys", "create", "--account", "e2e", "--dialect", "whautochat", "--json")
    done = subprocess.run(
        [*CHATGATE, *create, "--rate-limit", "100000"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    secret: str = json.loads(done.stdout)["key"]
    return secret


@pytest.fixture(scope="module")
def wac(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Wac]:
    """One ``serve`` and one ``emulate`` for the module, every platform connected."""
    with running_stack(tmp_path_factory.mktemp("whautochat"), sqlite_template) as stack:
        key = _cli_key(stack)
        assert key.startswith("wac_live_")
        with httpx.Client(base_url=stack.api_url, trust_env=False, timeout=10.0) as http:
            account = http.get("/v1/account", headers=auth(stack.secret))
            assert account.status_code == 200, account.text
        yield Wac(stack, f"{stack.api_url}/compat/whautochat", key, account.json()["id"])


@pytest.fixture
async def session(wac: Wac) -> AsyncIterator[Session]:
    """Clients of both processes for one test."""
    async with session_on(wac.stack) as session:
        yield session


async def _contact(session: Session, channel: str, user: str) -> str:
    """The contact the gateway made when ``user`` wrote on ``channel``."""
    found = await session.api.get(
        "/v1/contacts",
        params={"channel": channel, "identity": user},
        headers=auth(session.stack.secret),
    )
    assert found.status_code == 200, found.text
    [contact] = found.json()["data"]
    contact_id: str = contact["id"]
    return contact_id


async def _send(wac: Wac, session: Session, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST ``body`` to the page's ``path``; the answer, checked to be the page's
    MessageResponse of an accepted message."""
    answer = await session.api.post(f"{wac.base}{path}", json=body, headers={"x-api-key": wac.key})
    assert answer.status_code == 200, answer.text
    shown: dict[str, Any] = answer.json()
    assert set(shown) == set(json.loads(MESSAGE_RESPONSE))
    assert shown["id"].startswith("msg_")
    assert shown["error"] is None
    return shown


def _values(wac: Wac, contact: str, phone: str) -> dict[str, str]:
    # A past time sends at once (and says that a time without an offset is read as UTC).
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - timedelta(minutes=1)
    return {
        "contact.id": contact,
        "workspace.id": wac.workspace,
        "recepient.phoneNumber": phone,
        "mediaUrl": MEDIA_URL,
        "mimeType": MIME_TYPE,
        "scheduleDateTime": now.isoformat(),
    }


def _arrived_as_the_platform_takes_it(channel: str, action: str, call: dict[str, Any]) -> None:
    """The platform's own format of the page's message on ``channel``."""
    body = call["body"]
    if channel == "whatsapp":
        assert body["messaging_product"] == "whatsapp"
        if action == "sendtext":
            assert (body["type"], body["text"]["body"]) == ("text", "string")
        elif action == "sendmedia":
            assert (body["type"], body["image"]["link"]) == ("image", MEDIA_URL)
        else:
            assert body["type"] == "template"
            assert body["template"]["name"] == "string"
            assert body["template"]["language"]["code"] == "en"
    elif channel == "telegram":
        assert call["path"].endswith("/sendMessage")
        assert body["text"] == "string"  # the page's buttons: [] (none)
        assert "reply_markup" not in body
    else:
        message = body["message"]
        if action == "sendtext":
            assert message == {"text": "string"}
        elif action == "sendmedia":
            attachment = message["attachment"]
            assert (attachment["type"], attachment["payload"]["url"]) == ("image", MEDIA_URL)
        else:
            payload = message["attachment"]["payload"]
            assert payload == {"template_type": "generic", "elements": [{"title": "string"}]}


@pytest.mark.parametrize(
    ("path", "schema"), ENDPOINTS, ids=[path.removeprefix("/v1/messages/") for path, _ in ENDPOINTS]
)
async def test_every_schema_of_the_page_arrives_at_its_platform(
    wac: Wac, session: Session, path: str, schema: str
) -> None:
    channel, action = path.rsplit("/", 2)[1:]
    platform = PLATFORMS[channel]
    options = (False, True) if channel == "whatsapp" else (False,)
    for by_phone in options:
        user = session.stack.new_user(platform)
        # Users write first: free-form messages answer them (a template needs no window).
        await session.user_writes(platform, user, "Hi, is the blue shirt in stock?")
        contact = await _contact(session, channel, user)
        body = filled(option(schema, recepient=by_phone), _values(wac, contact, user))
        assert ("recepient" in body) is by_phone
        sent = await _send(wac, session, path, body)
        assert sent["status"] == "queued"
        [call] = await session.calls_for(platform, user, 1)
        _arrived_as_the_platform_takes_it(channel, action, call)
        message = await session.message(sent["id"])
        assert message["channel"] == channel
        assert message["contact_id"] == (None if by_phone else contact)


async def test_telegram_buttons_arrive_as_an_inline_keyboard_in_their_rows(
    wac: Wac, session: Session
) -> None:
    platform = PLATFORMS["telegram"]
    user = session.stack.new_user(platform)
    await session.user_writes(platform, user, "menu?")
    contact = await _contact(session, "telegram", user)
    rows = [
        [{"text": "Yes", "callback_data": "yes"}, {"text": "No", "callback_data": "no"}],
        [{"text": "Shop", "url": "https://shop.example.com/"}],
    ]
    body = {
        "contact": {"id": contact},
        "workspace": {"id": wac.workspace},
        "buttons": rows,
        "textMessage": "Still want it?",
    }
    await _send(wac, session, "/v1/messages/telegram/sendtemplate", body)
    flat = {**body, "buttons": rows[0]}
    await _send(wac, session, "/v1/messages/telegram/sendtemplate", flat)
    first, second = await session.calls_for(platform, user, 2)
    assert first["body"]["reply_markup"] == {"inline_keyboard": rows}
    assert second["body"]["reply_markup"] == {"inline_keyboard": [rows[0]]}


async def test_a_future_schedule_keeps_the_message_scheduled(wac: Wac, session: Session) -> None:
    platform = PLATFORMS["whatsapp"]
    user = session.stack.new_user(platform)
    await session.user_writes(platform, user, "tomorrow?")
    later = datetime.now(UTC).replace(tzinfo=None, microsecond=0) + timedelta(days=1)
    body = filled(
        option(ENDPOINTS[0][1], recepient=True),
        {**_values(wac, "", user), "scheduleDateTime": later.isoformat()},
    )
    sent = await _send(wac, session, "/v1/messages/whatsapp/sendtext", body)
    assert sent["status"] == "scheduled"
    message = await session.message(sent["id"])
    assert message["status"] == "scheduled"
    assert datetime.fromisoformat(message["schedule_at"]) == later.replace(tzinfo=UTC)
    assert await session.received(platform, user) == []


async def test_the_served_routes_are_the_pages_and_others_are_404(
    wac: Wac, session: Session
) -> None:
    document = await session.api.get(f"{wac.base}/openapi.json")
    assert sorted(document.json()["paths"]) == sorted(path for path, _ in ENDPOINTS)
    other = await session.api.post(
        f"{wac.base}/v1/messages/instagram/sendmedia",
        json={"workspace": {"id": wac.workspace}},
        headers={"x-api-key": wac.key},
    )
    assert other.status_code == 404
    assert other.json()["id"] is None
