"""The WhatsApp emulator behaves like Cloud API: checks, answers, rules, faults, webhooks."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import httpx
import pytest

from chatgate.channels.base import (
    InboundMessage,
    OutboundMessage,
    ProviderError,
    RawRequest,
    StatusUpdate,
)
from chatgate.domain.status import Status
from chatgate.emulators.core import Timing
from chatgate.emulators.whatsapp import meta_json
from tests.channels.whatsapp import contract
from tests.channels.whatsapp.world import World, world

MESSAGES = f"/graph/v21.0/{contract.PHONE_NUMBER_ID}/messages"
AUTH = {"Authorization": f"Bearer {contract.ACCESS_TOKEN}"}


def _outbound(content: dict[str, Any], message_id: str = "msg_01TEST") -> OutboundMessage:
    return OutboundMessage(
        id=message_id,
        channel="whatsapp",
        sender=None,
        recipient=contract.RECIPIENT,
        content=content,
        reply_to=None,
        metadata=None,
    )


TEXT = {"type": "text", "text": "Olá 👋"}
TEMPLATE = {"type": "template", "template": {"name": "order_update", "language": "en_US"}}


async def _send(w: World, content: dict[str, Any] = TEXT, message_id: str = "msg_01TEST") -> str:
    async with w.http() as http:
        result = await w.adapter.send(w.adapter.build_request(_outbound(content, message_id)), http)
    return result.provider_message_id


def _statuses(w: World) -> list[StatusUpdate]:
    found: list[StatusUpdate] = []
    for request in w.catcher.requests:
        w.adapter.verify(request)
        found.extend(e for e in w.adapter.parse(request) if isinstance(e, StatusUpdate))
    return found


async def _post(w: World, body: dict[str, Any], headers: dict[str, str] = AUTH) -> httpx.Response:
    return await w.client.post(MESSAGES, json=body, headers=headers)


# -- success and status webhooks ------------------------------------------------------------


async def test_accepted_message_gets_signed_sent_delivered_read() -> None:
    async with world() as w:
        await w.user_writes(text="oi")
        wamid = await _send(w, message_id="msg_01ECHO")
        assert wamid.startswith("wamid.")
        requests = await w.webhooks(4)  # the user's message, then three statuses
        statuses = _statuses(w)
        assert sorted(s.status for s in statuses) == sorted(
            [Status.SENT, Status.DELIVERED, Status.READ]
        )
        assert {s.provider_message_id for s in statuses} == {wamid}
        assert {s.recipient for s in statuses} == {contract.RECIPIENT}
        for status in statuses:
            assert status.raw["biz_opaque_callback_data"] == "msg_01ECHO"
        # Meta's serialisation: ASCII only, "/" escaped, signed over exactly these bytes.
        for request in requests:
            request.body.decode("ascii")
            assert b"/" not in request.body.replace(b"\\/", b"")
            assert request.headers["x-hub-signature"].startswith("sha1=")


async def test_success_body_is_cloud_apis() -> None:
    async with world() as w:
        await w.user_writes(text="oi")
        body = {
            "messaging_product": "whatsapp",
            "to": "+14155550123",
            "type": "text",
            "text": {"body": "hi"},
        }
        answer = (await _post(w, body)).json()
        assert answer["messaging_product"] == "whatsapp"
        assert answer["contacts"] == [{"input": "+14155550123", "wa_id": "14155550123"}]
        assert answer["messages"][0]["id"].startswith("wamid.")
        received = w.state.received[-1]
        assert (received.platform, received.recipient, received.status) == (
            "whatsapp",
            contract.RECIPIENT,
            200,
        )
        assert received.message_id == answer["messages"][0]["id"]


async def test_mark_as_read() -> None:
    async with world() as w:
        read = {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.X"}
        response = await _post(w, read)
        assert (response.status_code, response.json()) == (200, {"success": True})


async def test_no_timing_means_no_status_webhooks() -> None:
    silent = Timing(sent_after=None, delivered_after=None, read_after=None)
    async with world(silent) as w:
        await w.user_writes(text="oi")
        await _send(w)
        # The inbound webhook is the only one; pending tasks would show as scheduled work.
        assert len(w.catcher.requests) == 1
        assert not w.state._tasks


# -- the 24-hour window -------------------------------------------------------------------


async def test_free_form_outside_the_window_is_accepted_then_fails_131047() -> None:
    async with world() as w:
        wamid = await _send(w)
        await w.webhooks(1)
        [failed] = _statuses(w)
        assert (failed.status, failed.provider_message_id) == (Status.FAILED, wamid)
        assert failed.error_code == "131047"
        assert failed.error_message is not None
        assert failed.error_message.startswith("Re-engagement message")


async def test_window_closes_after_24_hours() -> None:
    async with world() as w:
        wrote = await w.user_writes(text="oi")
        # The window is the user's (their BSUID's), however a send names them.
        key = ("whatsapp", contract.PHONE_NUMBER_ID, wrote["user_id"])
        w.state.last_inbound[key] -= 24 * 3600 + 1
        await _send(w)
        await w.webhooks(2)
        assert [s.error_code for s in _statuses(w)] == ["131047"]


async def test_templates_go_outside_the_window() -> None:
    async with world() as w:
        wamid = await _send(w, TEMPLATE)
        await w.webhooks(3)
        statuses = _statuses(w)
        assert {s.status for s in statuses} == {Status.SENT, Status.DELIVERED, Status.READ}
        assert {s.provider_message_id for s in statuses} == {wamid}
        sent = next(s for s in statuses if s.status is Status.SENT)
        assert sent.raw["pricing"]["category"] == "utility"


# -- request checks ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (
            {"to": "14155550123", "type": "text", "text": {"body": "x"}},
            100,
            "(#100) The parameter messaging_product is required.",
        ),
        (
            {"messaging_product": "whatsapp", "to": "14155550123", "type": "text", "text": {}},
            100,
            "(#100) The parameter text['body'] is required.",
        ),
        (
            {"messaging_product": "whatsapp", "type": "text", "text": {"body": "x"}},
            100,
            "(#100) The parameter to is required.",
        ),
        (
            {"messaging_product": "whatsapp", "to": "14155550123", "type": "image", "image": {}},
            100,
            "(#100) The parameter image['link'] or image['id'] is required.",
        ),
        (
            {"messaging_product": "whatsapp", "to": "14155550123", "type": "poll", "poll": {}},
            100,
            None,
        ),
        (
            {
                "messaging_product": "whatsapp",
                "to": "14155550123",
                "type": "interactive",
                "interactive": {
                    "type": "button",
                    "body": {"text": "Pick"},
                    "action": {
                        "buttons": [
                            {"type": "reply", "reply": {"id": str(i), "title": f"B{i}"}}
                            for i in range(4)
                        ]
                    },
                },
            },
            131009,
            "(#131009) Parameter value is not valid",
        ),
        (
            {
                "messaging_product": "whatsapp",
                "to": "14155550123",
                "type": "template",
                "template": {"name": "hello", "language": {}},
            },
            100,
            "(#100) The parameter template['language']['code'] is required.",
        ),
    ],
)
async def test_malformed_requests_are_refused_like_cloud_api(
    body: dict[str, Any], code: int, message: str | None
) -> None:
    async with world() as w:
        response = await _post(w, body)
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == code
        assert error["type"] == "OAuthException"
        assert error["message"].startswith(f"(#{code}) ")
        if message is not None:
            assert error["message"] == message
        assert w.state.received[-1].status == 400


async def test_wrong_token_and_unknown_number() -> None:
    async with world() as w:
        body = {"messaging_product": "whatsapp", "to": "1415", "text": {"body": "x"}}
        wrong = await _post(w, body, {"Authorization": "Bearer nope"})
        assert (wrong.status_code, wrong.json()["error"]["code"]) == (401, 190)
        other = await w.client.post("/graph/v21.0/999/messages", json=body, headers=AUTH)
        assert (other.status_code, other.json()["error"]["code"]) == (400, 100)


async def test_every_golden_request_passes_the_emulators_checks() -> None:
    from tests.channels.contract import REPLY_SAMPLES, SAMPLES, outbound

    async with world() as w:
        await w.user_writes(text="oi")
        for case in [*SAMPLES, *REPLY_SAMPLES]:
            # What WhatsApp cannot carry is refused before any call (its golden file says so).
            if case in ("buttons_call", "cards", "sticker"):
                continue
            request = w.adapter.build_request(outbound(case, contract.RECIPIENT))
            response = await _post(w, request.json)
            assert response.status_code == 200, (case, response.text)


# -- faults -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "code", "retryable", "retry_after"),
    [
        ({"kind": "server_error"}, "131000", True, None),
        ({"kind": "rate_limit"}, "130429", True, 1.0),
        ({"kind": "rate_limit", "retry_after": 90}, "130429", True, 120.0),
        ({"kind": "rate_limit", "code": 80007, "retry_after": 90}, "80007", True, 120.0),
        ({"kind": "rate_limit", "code": 131056}, "131056", True, 6.0),
        ({"kind": "permanent"}, "100", False, None),
        ({"kind": "timeout", "seconds": 0}, "131016", True, None),
    ],
)
async def test_faults_fail_the_send(
    fault: dict[str, Any], code: str, retryable: bool, retry_after: float | None
) -> None:
    async with world() as w:
        await w.user_writes(text="oi")
        await w.fault(**fault)
        with pytest.raises(ProviderError) as raised:
            await _send(w)
        error = raised.value
        assert (error.code, error.retryable) == (code, retryable)
        if retry_after is not None:
            assert error.retry_after == retry_after
        # The fault was used up: the next send goes through.
        assert (await _send(w)).startswith("wamid.")


async def test_timeout_fault_hangs() -> None:
    async with world() as w:
        await w.user_writes(text="oi")
        await w.fault(kind="timeout", seconds=30)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await _send(w)


async def test_faults_only_hit_their_recipient() -> None:
    async with world() as w:
        await w.user_writes(text="oi")
        await w.fault(kind="permanent", recipient="+19998887777")
        assert (await _send(w)).startswith("wamid.")
        assert w.state.faults["whatsapp"]


@pytest.mark.parametrize("kind", ["invalid_recipient", "async_failure"])
async def test_delivery_failures_come_by_webhook(kind: str) -> None:
    async with world() as w:
        await w.user_writes(text="oi")
        await w.fault(kind=kind)
        wamid = await _send(w)
        await w.webhooks(2)
        [failed] = _statuses(w)
        assert (failed.status, failed.provider_message_id, failed.error_code) == (
            Status.FAILED,
            wamid,
            "131026",
        )


# -- inbound ----------------------------------------------------------------------------------


async def test_injected_text_is_the_webhook_meta_sends() -> None:
    async with world() as w:
        answer = await w.user_writes(text="Olá, tudo bem? 🙂", name="José", context_id="wamid.P")
        [request] = await w.webhooks(1)
        w.adapter.verify(request)
        assert request.body == meta_json(answer["body"])
        assert b"\\u00e1" in request.body  # "á", escaped as Meta escapes it
        [event] = w.adapter.parse(request)
        assert isinstance(event, InboundMessage)
        assert event.provider_message_id == answer["id"]
        assert (event.sender, event.recipient) == (contract.RECIPIENT, "+15550783881")
        assert (event.sender_name, event.reply_to) == ("José", "wamid.P")
        assert event.content == {"type": "text", "text": "Olá, tudo bem? 🙂"}


@pytest.mark.parametrize(
    ("payload", "content"),
    [
        (
            {"location": {"latitude": 48.85, "longitude": 2.35, "name": "Paris"}},
            {
                "type": "location",
                "location": {"latitude": 48.85, "longitude": 2.35, "name": "Paris"},
            },
        ),
        (
            {"reply": {"id": "yes", "title": "Sim"}},
            {"type": "reply", "reply": {"id": "yes", "title": "Sim"}},
        ),
        (
            {"reply": {"id": "am", "title": "Manhã", "kind": "list_reply"}},
            {"type": "reply", "reply": {"id": "am", "title": "Manhã"}},
        ),
        (
            {"reply": {"id": "TRACK", "title": "Track", "kind": "button"}},
            {"type": "reply", "reply": {"id": "TRACK", "title": "Track"}},
        ),
        (
            {"reaction": {"message_id": "wamid.A", "emoji": "👍"}},
            {"type": "reaction", "reaction": {"message_id": "wamid.A", "emoji": "👍"}},
        ),
    ],
)
async def test_injected_kinds_parse_to_our_content(
    payload: dict[str, Any], content: dict[str, Any]
) -> None:
    async with world() as w:
        await w.user_writes(**payload)
        [request] = await w.webhooks(1)
        [event] = w.adapter.parse(request)
        assert isinstance(event, InboundMessage)
        assert event.content == content


async def test_inbound_media_downloads_through_fetch_media() -> None:
    picture = bytes(range(256)) * 40
    async with world() as w:
        media = {
            "kind": "image",
            "content_base64": base64.b64encode(picture).decode(),
            "mime_type": "image/png",
            "caption": "Recibo",
        }
        answer = await w.user_writes(media=media)
        [request] = await w.webhooks(1)
        [event] = w.adapter.parse(request)
        assert isinstance(event, InboundMessage)
        assert event.content["media"]["reference"] == answer["media_id"]
        assert event.content["media"]["caption"] == "Recibo"
        async with w.http() as http:
            file = await w.adapter.fetch_media(answer["media_id"], http)
        assert (file.content, file.mime_type) == (picture, "image/png")


async def test_voice_note_is_flagged() -> None:
    async with world() as w:
        media = {"kind": "audio", "content_base64": "T2dnUw==", "mime_type": "audio/ogg"}
        await w.user_writes(media={**media, "voice": True})
        [request] = await w.webhooks(1)
        [event] = w.adapter.parse(request)
        assert isinstance(event, InboundMessage)
        assert event.content["media"]["voice"] is True


async def test_media_needs_the_token_at_both_steps() -> None:
    async with world() as w:
        media = {"kind": "document", "content_base64": "JVBERi0=", "mime_type": "application/pdf"}
        answer = await w.user_writes(media=media)
        path = f"/graph/v21.0/{answer['media_id']}"
        refused = await w.client.get(path, headers={"Authorization": "Bearer nope"})
        assert refused.status_code == 401
        described = (await w.client.get(path, headers=AUTH)).json()
        assert described["file_size"] == 5
        assert described["messaging_product"] == "whatsapp"
        assert (await w.client.get(described["url"])).status_code == 401
        downloaded = await w.client.get(described["url"], headers=AUTH)
        assert downloaded.content == b"%PDF-"
        wrong_token = w.adapter_with(access_token="nope")
        async with w.http() as http:
            with pytest.raises(ProviderError) as raised:
                await wrong_token.fetch_media(answer["media_id"], http)
        assert (raised.value.code, raised.value.retryable) == ("190", False)


async def test_control_api_refuses_incomplete_payloads() -> None:
    async with world() as w:
        account = await w.client.post("/_emulator/whatsapp/accounts", json={"phone_number_id": "1"})
        assert account.status_code == 422
        assert "access_token" in account.json()["detail"]
        nothing = await w.client.post(
            "/_emulator/whatsapp/inbound", json={"phone_number_id": contract.PHONE_NUMBER_ID}
        )
        assert nothing.status_code == 422
        stranger = await w.client.post(
            "/_emulator/whatsapp/inbound", json={"phone_number_id": "42", "text": "hi"}
        )
        assert stranger.status_code == 422


async def test_inbound_without_webhook_url_is_still_answered() -> None:
    async with world() as w:
        account = contract.emulator_account()
        response = await w.client.post("/_emulator/whatsapp/accounts", json=account)
        assert response.json()["webhook_url"] is None
        answer = await w.user_writes(text="oi")
        assert json.loads(meta_json(answer["body"]))["entry"][0]["id"] == contract.WABA_ID
        assert w.catcher.requests == []
        raw = RawRequest("POST", "/", {}, {}, meta_json(answer["body"]))
        [event] = w.adapter.parse(raw)
        assert isinstance(event, InboundMessage)


# -- business-scoped user ids ----------------------------------------------------------------


async def test_a_username_only_user_writes_with_no_phone_and_is_answered_by_recipient() -> None:
    async with world() as w:
        wrote = await w.user_writes(
            text="oi", **{"from": None, "username": "joana.s", "country": "BR"}
        )
        [webhook] = await w.webhooks(1)
        value = json.loads(webhook.body)["entry"][0]["changes"][0]["value"]
        assert value["contacts"] == [
            {"profile": {"name": "", "username": "joana.s"}, "user_id": wrote["user_id"]}
        ]
        assert "from" not in value["messages"][0]
        assert value["messages"][0]["from_user_id"] == wrote["user_id"]
        body = {
            "messaging_product": "whatsapp",
            "recipient": wrote["user_id"],
            "type": "text",
            "text": {"body": "Olá"},
        }
        answer = (await _post(w, body)).json()
        assert answer["contacts"] == [{"input": wrote["user_id"], "user_id": wrote["user_id"]}]
        await w.webhooks(4)
        statuses = [s for s in _statuses(w) if s.status is Status.SENT]
        assert statuses[0].recipient_user_id == wrote["user_id"]
        assert statuses[0].recipient == wrote["user_id"]


async def test_a_malformed_recipient_is_refused() -> None:
    async with world() as w:
        body = {"messaging_product": "whatsapp", "recipient": "br.1", "type": "text"}
        refused = await _post(w, {**body, "text": {"body": "x"}})
        assert refused.status_code == 400
        assert refused.json()["error"]["error_data"]["details"] == (
            "Invalid business-scoped user ID"
        )


async def test_131062_is_played_by_a_permanent_fault_with_its_code() -> None:
    async with world() as w:
        await w.fault(kind="permanent", code=131062)
        body = {"messaging_product": "whatsapp", "recipient": "BR.15025763", "type": "text"}
        refused = await _post(w, {**body, "text": {"body": "x"}})
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == 131062
