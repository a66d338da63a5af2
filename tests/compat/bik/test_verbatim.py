"""The page's request, exactly as printed, against a real ``chatgate serve`` with
``chatgate emulate`` as WhatsApp; then one request of each ``type`` with a live key, each
arriving at the emulator as Cloud API's message of that kind.

Only the base URL (``https://bikapi.bikayi.app/``) and ``AUTH_TOKEN`` are substituted: the
page's number, +919900990090, is a real Indian mobile number, and it is the user who writes
first (so that WhatsApp's 24-hour window is open for free-form messages).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.compat.bik.conftest import basic
from tests.compat.stack import dialect_key
from tests.e2e.world import PLATFORMS, Session, Stack, running_stack, session_on

pytestmark = pytest.mark.slow

PAGE_BASE = "https://bikapi.bikayi.app/"
# "Sample request" of the page, as printed.
CURL = (
    "curl --location 'https://bikapi.bikayi.app/integrations/"
    "bikPlatformFunctions-messages/v2/sendMessage' \\\n"
    """--header 'Authorization: Basic AUTH_TOKEN' \\
--header 'Content-Type: application/json' \\
--data-raw '{
"contactIdentifier": "+919900990090",
"medium": "whatsapp",
"type": "text",
"payload": {
"message": "This is a test message."
},
"callbackData": "{\\"order_id\\":\\"ORD123\\",\\"campaign\\":\\"summer_sale\\"}"
}'"""
)
PAGE_USER = "+919900990090"
PATH = "integrations/bikPlatformFunctions-messages/v2/sendMessage"
WHATSAPP = PLATFORMS["whatsapp"]
CATALOG = "194836987003835"
SHOP = "https://shop.example.com/orders/ORD123?utm=bik"
# One request per type (the payload), and the Cloud API message it arrives as:
# (type, interactive type or None).
PAYLOADS: dict[str, tuple[dict[str, Any], str, str | None]] = {
    "text": ({"message": "Your order has shipped 🚚"}, "text", None),
    "image": ({"url": "https://cdn.example.com/cat.jpg", "caption": "A cat"}, "image", None),
    "video": ({"url": "https://cdn.example.com/clip.mp4"}, "video", None),
    "document": (
        {"url": "https://cdn.example.com/invoice.pdf", "filename": "invoice.pdf"},
        "document",
        None,
    ),
    "options": (
        {
            "message": "Choose a delivery slot",
            "buttonText": "Slots",
            "sections": [{"title": "Tomorrow", "rows": [{"id": "am", "title": "Morning"}]}],
        },
        "interactive",
        "list",
    ),
    "buttons": (
        {
            "message": "Did it arrive?",
            "buttons": [{"id": "y", "title": "Yes"}, {"id": "n", "title": "No"}],
        },
        "interactive",
        "button",
    ),
    "address": (
        {"message": "Where should we deliver?", "country": "IN", "values": {"city": "Pune"}},
        "interactive",
        "address_message",
    ),
    "single_product": (
        {"message": "Back in stock", "catalogId": CATALOG, "productId": "MUG-1"},
        "interactive",
        "product",
    ),
    "multiple_product": (
        {
            "header": "Our mugs",
            "message": "Pick one",
            "catalogId": CATALOG,
            "sections": [{"title": "Blue", "productIds": ["MUG-1", "MUG-2"]}],
        },
        "interactive",
        "product_list",
    ),
}


@dataclass(frozen=True)
class BikStack:
    """The running stack, Bik's base URL on it and a live key of the dialect."""

    stack: Stack
    base: str
    live: str


@pytest.fixture(scope="module")
def bik(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[BikStack]:
    """One ``serve`` and one ``emulate`` for the module, and a live Bik key."""
    with running_stack(tmp_path_factory.mktemp("bik"), sqlite_template) as stack:
        with httpx.Client(base_url=stack.api_url, trust_env=False, timeout=10.0) as http:
            live = dialect_key(http, stack, dialect="bik", rate_limit=100_000)
        assert live.startswith("bik_live_")
        yield BikStack(stack, f"{stack.api_url}/compat/bik/", live)


@pytest.fixture
async def session(bik: BikStack) -> AsyncIterator[Session]:
    """Clients of both processes for one test."""
    async with session_on(bik.stack) as opened:
        yield opened


def _curl(bik: BikStack, tmp_path: Path) -> tuple[int, dict[str, Any]]:
    """The page's curl command with the base URL and token substituted (and -sS and the
    status on a line of its own); its status and body."""
    command = CURL.replace(PAGE_BASE, bik.base).replace("AUTH_TOKEN", bik.live)
    env = {"PATH": "/usr/bin:/bin", "NO_PROXY": "*", "HOME": str(tmp_path)}
    done = subprocess.run(
        ["bash", "-c", command + " -sS -w '\\n%{http_code}'"],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    body, status = done.stdout.rsplit("\n", 1)
    parsed: dict[str, Any] = json.loads(body)
    return int(status), parsed


async def test_the_pages_sample_request_runs_as_printed(
    bik: BikStack, session: Session, tmp_path: Path
) -> None:
    await session.user_writes(WHATSAPP, PAGE_USER, "Hi, where is my order?")
    status, answer = _curl(bik, tmp_path)
    assert status == 200, answer
    assert set(answer) == {"status", "success", "data"}
    assert (answer["status"], answer["success"]) == (200, True)
    message_id = answer["data"]["id"]
    assert message_id.startswith("msg_")
    [call] = await session.calls_for(WHATSAPP, PAGE_USER, 1)
    assert call["body"]["type"] == "text"
    assert call["body"]["text"]["body"] == "This is a test message."
    delivered = await session.reaches(message_id, "delivered")
    assert delivered["metadata"] == {
        "callbackData": '{"order_id":"ORD123","campaign":"summer_sale"}'
    }


async def test_one_request_per_type_arrives_as_cloud_apis_message(
    bik: BikStack, session: Session
) -> None:
    user = bik.stack.new_user(WHATSAPP)
    await session.user_writes(WHATSAPP, user, "Hello")
    for index, (kind, (payload, wire_type, interactive)) in enumerate(PAYLOADS.items()):
        body = {"contactIdentifier": user, "medium": "whatsapp", "type": kind, "payload": payload}
        answer = await session.api.post(f"{bik.base}{PATH}", json=body, headers=basic(bik.live))
        assert answer.status_code == 200, (kind, answer.text)
        calls = await session.calls_for(WHATSAPP, user, index + 1)
        sent = calls[index]["body"]
        assert sent["type"] == wire_type, (kind, sent)
        if interactive is not None:
            assert sent["interactive"]["type"] == interactive, (kind, sent)
        assert calls[index]["status"] == 200, (kind, calls[index])
        await session.reaches(answer.json()["data"]["id"], "delivered")


async def test_a_key_without_link_tracking_sends_links_untouched(
    bik: BikStack, session: Session
) -> None:
    """The default key's link arrives tracked (``/l/<code>``); a key made with
    ``track_links`` false sends the original URL, as written."""
    with httpx.Client(base_url=bik.stack.api_url, trust_env=False, timeout=10.0) as http:
        untracked = dialect_key(
            http, bik.stack, dialect="bik", rate_limit=100_000, track_links=False
        )
    user = bik.stack.new_user(WHATSAPP)
    await session.user_writes(WHATSAPP, user, "Hello")
    text = f"Your order: {SHOP}"
    body = {"contactIdentifier": user, "medium": "whatsapp", "type": "text"}
    for index, key in enumerate((bik.live, untracked)):
        answer = await session.api.post(
            f"{bik.base}{PATH}", json={**body, "payload": {"message": text}}, headers=basic(key)
        )
        assert answer.status_code == 200, answer.text
        await session.calls_for(WHATSAPP, user, index + 1)
    tracked_call, untouched_call = await session.calls_for(WHATSAPP, user, 2)
    tracked = tracked_call["body"]["text"]["body"]
    assert SHOP not in tracked
    assert re.fullmatch(r"Your order: \S+/l/[A-Za-z0-9_-]+", tracked), tracked
    assert untouched_call["body"]["text"]["body"] == text
