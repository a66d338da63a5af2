"""The Messenger emulator: its rules, its answers and its webhooks, driven through the adapter."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest

from chatgate.channels.base import (
    InboundMessage,
    OutboundMessage,
    ProviderError,
    StatusUpdate,
)
from chatgate.domain.status import Status
from tests.channels.messenger import contract
from tests.channels.messenger.world import MESSENGER, World, world

DAY = 86_400


def outbound(content: dict[str, Any], **fields: Any) -> OutboundMessage:
    values: dict[str, Any] = {
        "id": "msg_1",
        "channel": "messenger",
        "sender": None,
        "recipient": contract.PSID,
        "content": content,
        "reply_to": None,
        "metadata": None,
    }
    values.update(fields)
    return OutboundMessage(**values)


TEXT = {"type": "text", "text": "Votre commande est partie 🚚"}


async def send(w: World, content: dict[str, Any] = TEXT, **fields: Any) -> str:
    request = w.adapter.build_request(outbound(content, **fields))
    result = await w.adapter.send(request, w.client)
    return result.provider_message_id


async def refused(w: World, content: dict[str, Any] = TEXT, **fields: Any) -> ProviderError:
    with pytest.raises(ProviderError) as raised:
        await send(w, content, **fields)
    return raised.value


# -- conversation rules -----------------------------------------------------------------------


async def test_nobody_can_be_messaged_before_writing() -> None:
    async with world(MESSENGER) as w:
        error = await refused(w)
        assert (error.code, error.retryable) == ("100/2018001", False)
        assert "No matching user found" in error.message


async def test_the_24_hour_window() -> None:
    async with world(MESSENGER) as w:
        await w.inbound(text="Bonjour")
        assert (await send(w)).startswith("m_")
        w.user_wrote_ago(DAY + 60)
        error = await refused(w)
        assert (error.code, error.retryable) == ("10/2018278", False)
        # A human agent may still answer, for seven days.
        assert await send(w, options={"tag": "HUMAN_AGENT"})
        w.user_wrote_ago(7 * DAY)
        assert (await refused(w, options={"tag": "HUMAN_AGENT"})).code == "10/2018278"


async def test_any_user_action_reopens_the_window() -> None:
    async with world(MESSENGER) as w:
        await w.inbound(text="Bonjour")
        w.user_wrote_ago(2 * DAY)
        await w.inbound(postback={"payload": "GET_STARTED", "title": "Démarrer"})
        assert await send(w)


async def test_calls_are_recorded_refused_or_not() -> None:
    async with world(MESSENGER) as w:
        await refused(w)
        await w.inbound(text="Bonjour")
        mid = await send(w)
        received = [(r.status, r.message_id, r.recipient) for r in w.state.received]
        assert received == [(400, None, contract.PSID), (200, mid, contract.PSID)]
        assert w.state.received[1].body["message"] == {"text": TEXT["text"]}
        assert w.state.received[1].path == f"/graph/v21.0/{contract.PAGE_ID}/messages"


# -- request checks ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"message": {"text": "x"}}, "The parameter recipient is required"),
        ({"recipient": {"id": contract.PSID}}, "Must send either message or state"),
        (
            {"recipient": {"id": contract.PSID}, "message": {"text": "x" * 2001}},
            "must be less than or equal to 2000",
        ),
        (
            {
                "recipient": {"id": contract.PSID},
                "messaging_type": "MESSAGE_TAG",
                "tag": "ACCOUNT_UPDATE",
                "message": {"text": "x"},
            },
            "Param tag",
        ),
        (
            {
                "recipient": {"id": contract.PSID},
                "message": {
                    "attachment": {
                        "type": "template",
                        "payload": {
                            "template_type": "button",
                            "text": "Choose",
                            "buttons": [
                                {"type": "postback", "title": str(n), "payload": str(n)}
                                for n in range(4)
                            ],
                        },
                    }
                },
            },
            "1 to 3 buttons",
        ),
        (
            {"recipient": {"id": contract.PSID}, "sender_action": "react", "payload": {}},
            "payload[message_id]",
        ),
    ],
)
async def test_malformed_sends_are_refused(body: dict[str, Any], message: str) -> None:
    async with world(MESSENGER) as w:
        await w.inbound(text="Bonjour")
        response = await w.graph(body)
        assert response.status_code == 400
        error = response.json()["error"]
        assert (error["code"], error["type"]) == (100, "OAuthException")
        assert message in error["message"]


async def test_2000_characters_are_fine() -> None:
    async with world(MESSENGER) as w:
        await w.inbound(text="Bonjour")
        assert await send(w, {"type": "text", "text": "é" * 2000})


async def test_the_token_is_checked() -> None:
    async with world(MESSENGER) as w:
        response = await w.graph({"recipient": {"id": contract.PSID}}, token="wrong")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == 190


async def test_a_reaction_is_answered_with_the_recipient_only() -> None:
    async with world(MESSENGER) as w:
        await w.inbound(text="Bonjour")
        body = {
            "recipient": {"id": contract.PSID},
            "sender_action": "react",
            "payload": {"message_id": "m_1", "reaction": "😊"},
        }
        response = await w.graph(body)
        assert (response.status_code, response.json()) == (200, {"recipient_id": contract.PSID})


# -- faults -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "code", "retryable", "retry_after"),
    [
        ({"kind": "server_error"}, "2", True, None),
        ({"kind": "timeout", "seconds": 0}, "2", True, None),
        ({"kind": "rate_limit"}, "613", True, 60.0),
        ({"kind": "rate_limit", "retry_after": 90}, "613", True, 120.0),
        ({"kind": "permanent"}, "100", False, None),
        ({"kind": "invalid_recipient"}, "100/2018001", False, None),
        ({"kind": "async_failure"}, "100", False, None),
    ],
)
async def test_faults(
    fault: dict[str, Any], code: str, retryable: bool, retry_after: float | None
) -> None:
    async with world(MESSENGER) as w:
        await w.inbound(text="Bonjour")
        await w.fault(**fault)
        error = await refused(w)
        assert (error.code, error.retryable, error.retry_after) == (code, retryable, retry_after)
        assert await send(w)  # the fault was used up


async def test_a_timeout_fault_hangs() -> None:
    async with world(MESSENGER) as w:
        await w.inbound(text="Bonjour")
        await w.fault(kind="timeout", seconds=30)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await send(w)


async def test_faults_can_target_one_recipient() -> None:
    async with world(MESSENGER) as w:
        await w.inbound(text="Bonjour")
        await w.fault(kind="server_error", recipient="someone-else")
        assert await send(w)


# -- webhooks ---------------------------------------------------------------------------------


async def test_a_send_is_followed_by_delivery_and_read() -> None:
    async with world(MESSENGER) as w:
        await w.inbound(text="Bonjour")
        mid = await send(w)
        hooks = await w.webhooks(3)
        events = []
        for hook in hooks[1:]:
            w.adapter.verify(hook)
            events.extend(w.adapter.parse(hook))
        delivered, read = events
        assert isinstance(delivered, StatusUpdate)
        assert (delivered.status, delivered.provider_message_id) == (Status.DELIVERED, mid)
        assert delivered.recipient == contract.PSID
        assert isinstance(read, StatusUpdate)
        assert (read.status, read.provider_message_id, read.recipient) == (
            Status.READ,
            None,
            contract.PSID,
        )
        assert read.up_to is not None
        assert read.up_to >= delivered.at


async def test_webhooks_are_written_and_signed_as_meta_does() -> None:
    async with world(MESSENGER) as w:
        answer = await w.inbound(text="Ça marche ? https://exemple.fr/a 👍")
        (hook,) = await w.webhooks(1)
        # ASCII only, slashes escaped: re-serializing would break the signature.
        assert hook.body.isascii()
        assert b"\\u00c7a marche" in hook.body
        assert b"https:\\/\\/exemple.fr\\/a" in hook.body
        assert hook.headers["x-hub-signature"].startswith("sha1=")
        w.adapter.verify(hook)
        assert json.loads(hook.body) == answer["body"]
        (message,) = w.adapter.parse(hook)
        assert isinstance(message, InboundMessage)
        assert message.content == {"type": "text", "text": "Ça marche ? https://exemple.fr/a 👍"}
        assert (message.provider_message_id, message.sender) == (answer["id"], contract.PSID)


async def test_no_receipts_without_timing() -> None:
    async with world(MESSENGER) as w:
        w.state.timing = w.state.timing.model_copy(
            update={"delivered_after": None, "read_after": None}
        )
        await w.inbound(text="Bonjour")
        await send(w)
        # Receipts would come within milliseconds: a second message's webhook comes after.
        await w.inbound(text="Encore moi")
        hooks = await w.webhooks(2)
        assert [json.loads(h.body)["entry"][0]["messaging"][0]["sender"]["id"] for h in hooks] == [
            contract.PSID,
            contract.PSID,
        ]
        assert all("message" in json.loads(h.body)["entry"][0]["messaging"][0] for h in hooks)


@pytest.mark.parametrize(
    ("payload", "content"),
    [
        (
            {"quick_reply": {"payload": "m", "title": "Moyen"}},
            {"type": "reply", "reply": {"id": "m", "title": "Moyen"}},
        ),
        (
            {"postback": {"payload": "more_mug", "title": "Plus comme ça"}},
            {"type": "reply", "reply": {"id": "more_mug", "title": "Plus comme ça"}},
        ),
        (
            {"reaction": {"mid": "m_sent", "emoji": "❤️"}},
            {"type": "reaction", "reaction": {"message_id": "m_sent", "emoji": "❤️"}},
        ),
        (
            {"reaction": {"mid": "m_sent", "emoji": ""}},
            {"type": "reaction", "reaction": {"message_id": "m_sent", "emoji": ""}},
        ),
        (
            {"media": {"kind": "sticker", "url": "https://cdn.example.com/s.png"}},
            {
                "type": "media",
                "media": {"kind": "sticker", "reference": "https://cdn.example.com/s.png"},
            },
        ),
    ],
)
async def test_injected_events_parse_back(payload: dict[str, Any], content: dict[str, Any]) -> None:
    async with world(MESSENGER) as w:
        await w.inbound(**payload)
        (hook,) = await w.webhooks(1)
        w.adapter.verify(hook)
        (event,) = w.adapter.parse(hook)
        assert isinstance(event, InboundMessage)
        assert event.content == content


async def test_a_reply_names_the_quoted_message() -> None:
    async with world(MESSENGER) as w:
        await w.inbound(text="Oui", reply_to="m_quoted")
        (hook,) = await w.webhooks(1)
        (event,) = w.adapter.parse(hook)
        assert isinstance(event, InboundMessage)
        assert event.reply_to == "m_quoted"


async def test_injected_media_is_downloaded_through_its_url() -> None:
    async with world(MESSENGER) as w:
        photo = b"\x89PNG\r\n\x1a\n fake"
        payload = {
            "kind": "image",
            "content_base64": base64.b64encode(photo).decode(),
            "mime_type": "image/png",
        }
        await w.inbound(media=payload)
        (hook,) = await w.webhooks(1)
        (event,) = w.adapter.parse(hook)
        assert isinstance(event, InboundMessage)
        reference = event.content["media"]["reference"]
        assert reference.startswith("http://emulator/fbcdn/v/messaging?asset_id=")
        media = await w.adapter.fetch_media(reference, w.client)
        assert (media.content, media.mime_type) == (photo, "image/png")
        # A link with a wrong signature is refused, as an expired one is.
        forged = reference.split("&signature=")[0] + "&signature=forged"
        with pytest.raises(ProviderError) as raised:
            await w.adapter.fetch_media(forged, w.client)
        assert (raised.value.status_code, raised.value.retryable) == (403, False)


async def test_inbound_needs_a_known_account_and_something_said() -> None:
    async with world(MESSENGER) as w:
        unknown = await w.client.post(
            "/_emulator/messenger/inbound", json={"page_id": "1", "from": "2", "text": "x"}
        )
        empty = await w.client.post(
            "/_emulator/messenger/inbound", json={"page_id": contract.PAGE_ID, "from": "2"}
        )
        assert (unknown.status_code, empty.status_code) == (422, 422)


async def test_registration_needs_the_secrets() -> None:
    async with world(MESSENGER) as w:
        response = await w.client.post("/_emulator/messenger/accounts", json={"page_id": "123"})
        assert response.status_code == 422
        assert "page_access_token" in response.text
