"""Every request of MessageHub's page, run as written against ``chatgate serve``, with
``chatgate emulate`` standing for WhatsApp and Kakao (NHN Cloud): only the base URL and the
key are changed. Live keys reach the emulated platforms; a test key, the sandbox."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.compat.messagehub.page import (
    ALIMTALK_PARAMETERS,
    BRAND_TEXT,
    CURL_SEND,
    CURL_STATUS,
    KAKAO,
    NODE_EPILOGUE,
    NODE_PRELUDE,
    NODE_SEND,
    PYTHON_SEND,
    WHATSAPP_TEMPLATE,
    substituted,
)
from tests.compat.messagehub.processes import Hub, hub, session
from tests.e2e.world import PLATFORMS, Session
from tests.support import auth, until

pytestmark = pytest.mark.slow

USER = "+919876543210"
KAKAO_USER = "+821012345678"
WHATSAPP = PLATFORMS["whatsapp"]
KAKAO_PLATFORM = PLATFORMS["kakao"]
RUN_LIMIT = 30.0
__all__ = ["hub", "session"]  # the module's fixtures


def _run(args: list[str], tmp_path: Path) -> str:
    """Run a page's snippet; what it printed. Loopback never goes through a proxy."""
    env = {"PATH": "/usr/bin:/bin", "NO_PROXY": "*", "HOME": str(tmp_path)}
    done = subprocess.run(
        args, capture_output=True, text=True, timeout=RUN_LIMIT, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _curl(snippet: str, hub: Hub, key: str, tmp_path: Path) -> dict[str, Any]:
    """The curl command as the page writes it (plus -sS, the headers to a file and the
    status on a line of its own, to see what it got); its status, headers and body."""
    dumped = tmp_path / "headers.txt"
    observe = f" -sS -D {dumped} -w '\\n%{{http_code}}'"
    printed = _run(["bash", "-c", substituted(snippet, hub.base, key) + observe], tmp_path)
    body, status = printed.rsplit("\n", 1)
    lines = dumped.read_text(encoding="utf-8").splitlines()[1:]
    headers = dict(line.lower().split(": ", 1) for line in lines if ": " in line)
    return {"status": int(status), "headers": headers, "body": json.loads(body)}


def _node(snippet: str, hub: Hub, tmp_path: Path) -> tuple[str, list[dict[str, Any]]]:
    """The JavaScript as the page writes it, run by Node: what it printed, and the answer
    of each of its fetch calls."""
    script = tmp_path / "page.mjs"
    script.write_text(
        NODE_PRELUDE + substituted(snippet, hub.base, hub.live) + NODE_EPILOGUE, encoding="utf-8"
    )
    printed = _run(["node", str(script)], tmp_path)
    own, recorded = printed.rstrip("\n").rsplit("\n", 1)
    answers: list[dict[str, Any]] = json.loads(recorded)
    return own, answers


async def _user_writes_on_whatsapp(session: Session, user: str) -> None:
    """The user writes first, so that the 24-hour window is open for free text."""
    await session.user_writes(WHATSAPP, user, "Hi, where is my order?")


def _sent(answer: dict[str, Any], channel: str) -> str:
    """The documented answer of a send: ``{"data": {"messageId", "channel", "status"}}``."""
    assert answer["status"] == 200, answer
    data = answer["body"]["data"]
    assert set(data) == {"messageId", "channel", "status"}
    assert data["messageId"].startswith("msg_")
    assert data["channel"] == channel
    assert data["status"] in ("queued", "sent", "delivered", "read")
    for name in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"):
        assert answer["headers"][name].isdigit()
    message_id: str = data["messageId"]
    return message_id


async def _status(hub: Hub, session: Session, message_id: str, wanted: set[str]) -> dict[str, Any]:
    """``GET messages/{id}`` until the status is one of ``wanted``."""
    found: dict[str, Any] = {}

    async def reached() -> bool:
        answer = await session.api.get(f"{hub.base}/messages/{message_id}", headers=auth(hub.live))
        assert answer.status_code == 200, answer.text
        found.update(answer.json())
        return found["data"]["status"] in wanted

    await until(reached, limit=15.0)
    return found


async def test_the_curl_send_and_the_status_check(
    hub: Hub, session: Session, tmp_path: Path
) -> None:
    await _user_writes_on_whatsapp(session, USER)
    message_id = _sent(_curl(CURL_SEND, hub, hub.live, tmp_path), "whatsapp")
    [call] = await session.calls_for(WHATSAPP, USER, 1)
    assert call["body"]["text"]["body"] == "Hello from MessageHub API!"
    # The status check, with the id the send answered in place of the page's msg_abc123.
    checked = await _status(hub, session, message_id, {"delivered", "read"})
    assert {"id", "status", "channel"} <= set(checked["data"])
    assert (checked["data"]["id"], checked["data"]["channel"]) == (message_id, "whatsapp")
    # And exactly as written: msg_abc123 is no message here.
    literal = _curl(CURL_STATUS, hub, hub.live, tmp_path)
    assert literal["status"] == 404
    assert literal["body"]["error"]["code"] == "not_found"
    assert literal["headers"]["x-ratelimit-remaining"].isdigit()


async def test_the_curl_send_with_a_test_key_reaches_the_sandbox_only(
    hub: Hub, session: Session, tmp_path: Path
) -> None:
    opened = await session.api.post(
        "/v1/sandbox/inbound",
        json={"channel": "whatsapp", "from": USER, "content": {"type": "text", "text": "hi"}},
        headers=auth(hub.native_test),
    )
    assert opened.status_code == 201, opened.text
    before = len(await session.received(WHATSAPP, USER))
    message_id = _sent(_curl(CURL_SEND, hub, hub.test, tmp_path), "whatsapp")
    found = await session.api.get(f"/v1/messages/{message_id}", headers=auth(hub.native_test))
    assert found.status_code == 200, found.text
    assert found.json()["content"]["text"] == "Hello from MessageHub API!"
    assert len(await session.received(WHATSAPP, USER)) == before


async def test_the_node_example(hub: Hub, session: Session, tmp_path: Path) -> None:
    await _user_writes_on_whatsapp(session, USER)
    before = len(await session.received(WHATSAPP, USER))
    printed, [answer] = _node(NODE_SEND, hub, tmp_path)
    message_id = _sent(answer, "whatsapp")
    assert f"messageId: '{message_id}'" in printed  # console.log(data)
    calls = await session.calls_for(WHATSAPP, USER, before + 1)
    assert calls[-1]["body"]["text"]["body"] == "Hello! Your order #1234 has been shipped."


async def test_the_python_example(hub: Hub, session: Session, tmp_path: Path) -> None:
    await _user_writes_on_whatsapp(session, USER)
    before = len(await session.received(WHATSAPP, USER))
    script = tmp_path / "page.py"
    script.write_text(substituted(PYTHON_SEND, hub.base, hub.live), encoding="utf-8")
    printed = _run([sys.executable, str(script)], tmp_path)
    answer = ast.literal_eval(printed.strip())  # print(response.json())
    message_id = answer["data"]["messageId"]
    assert answer == {"data": {"messageId": message_id, "channel": "whatsapp", "status": "queued"}}
    calls = await session.calls_for(WHATSAPP, USER, before + 1)
    assert calls[-1]["body"]["text"]["body"] == "Hello! Your order #1234 has been shipped."


async def test_the_whatsapp_template_goes_by_name_with_named_parameters(
    hub: Hub, session: Session, tmp_path: Path
) -> None:
    user = "+919876543211"  # no conversation: a template may start one
    _, [answer] = _node(WHATSAPP_TEMPLATE.replace(USER, user), hub, tmp_path)
    message_id = _sent(answer, "whatsapp")
    [call] = await session.calls_for(WHATSAPP, user, 1)
    template = call["body"]["template"]
    assert template["name"] == "order_confirmation"
    [body] = template["components"]
    assert body["type"] == "body"
    assert body["parameters"] == [
        {"type": "text", "parameter_name": "customer_name", "text": "Rajesh"},
        {"type": "text", "parameter_name": "order_id", "text": "1234"},
        {"type": "text", "parameter_name": "delivery_date", "text": "2026-02-15"},
    ]
    await _status(hub, session, message_id, {"delivered", "read"})


async def test_kakao_alimtalk_arrives_byte_exact_and_the_brand_message_as_one(
    hub: Hub, session: Session, tmp_path: Path
) -> None:
    _, [alimtalk, brand] = _node(KAKAO, hub, tmp_path)
    alimtalk_id = _sent(alimtalk, "kakao")
    brand_id = _sent(brand, "kakao")
    calls = await session.calls_for(KAKAO_PLATFORM, KAKAO_USER, 2)
    by_path = {call["path"].rsplit("/", 1)[-1]: call for call in calls}
    [recipient] = by_path["messages"]["body"]["recipientList"]
    assert by_path["messages"]["body"]["templateCode"] == "order_confirm_001"
    # The page's Korean names and values, byte for byte, as NHN received them.
    received = recipient["templateParameter"]
    assert received == ALIMTALK_PARAMETERS
    assert [name.encode() for name in received] == [name.encode() for name in ALIMTALK_PARAMETERS]
    assert [v.encode() for v in received.values()] == [
        v.encode() for v in ALIMTALK_PARAMETERS.values()
    ]
    assert by_path["freestyle-messages"]["body"]["content"].encode() == BRAND_TEXT.encode()
    for message_id in (alimtalk_id, brand_id):
        await _status(hub, session, message_id, {"delivered"})
