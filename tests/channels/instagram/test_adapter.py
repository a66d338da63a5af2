"""The Instagram adapter: what differs from Messenger (the shared code is tested there)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from chatgate.channels.base import (
    ChannelSettings,
    InboundMessage,
    OutboundMessage,
    ProviderError,
    RawRequest,
    UnknownEvent,
    UnsupportedContent,
)
from chatgate.channels.instagram import InstagramAdapter
from tests.channels.instagram import contract


def adapter(**settings: Any) -> InstagramAdapter:
    return InstagramAdapter(contract.credentials(), ChannelSettings(**settings))


def outbound(content: dict[str, Any], **fields: Any) -> OutboundMessage:
    values: dict[str, Any] = {
        "id": "msg_1",
        "channel": "instagram",
        "sender": None,
        "recipient": contract.IGSID,
        "content": content,
        "reply_to": None,
        "metadata": None,
    }
    values.update(fields)
    return OutboundMessage(**values)


def reaction(emoji: str) -> dict[str, Any]:
    return {"type": "reaction", "reaction": {"message_id": "aWdfZAG1", "emoji": emoji}}


def test_instagram_login_host_by_default() -> None:
    request = adapter().build_request(outbound({"type": "text", "text": "Oi"}))
    assert request.url == f"https://graph.instagram.com/v21.0/{contract.IG_USER_ID}/messages"


@pytest.mark.parametrize("emoji", ["❤️", "❤"])
def test_a_heart_is_the_love_reaction(emoji: str) -> None:
    assert adapter().build_request(outbound(reaction(emoji))).json == {
        "recipient": {"id": contract.IGSID},
        "sender_action": "react",
        "payload": {"message_id": "aWdfZAG1", "reaction": "love"},
    }


@pytest.mark.parametrize("emoji", ["👍", "😂", "🩷", "❤️‍🔥"])
def test_other_reactions_cannot_be_sent(emoji: str) -> None:
    with pytest.raises(UnsupportedContent) as raised:
        adapter().build_request(outbound(reaction(emoji)))
    assert (raised.value.channel, raised.value.feature) == ("instagram", "reaction")


def test_unreact() -> None:
    body = adapter().build_request(outbound(reaction(""))).json
    assert body["sender_action"] == "unreact"
    assert body["payload"] == {"message_id": "aWdfZAG1"}


@pytest.mark.parametrize(
    "tag",
    ["CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE", "ACCOUNT_UPDATE", "human_agent", ["x"]],
)
def test_only_human_agent_is_a_tag(tag: Any) -> None:
    with pytest.raises(ProviderError) as raised:
        adapter().build_request(outbound({"type": "text", "text": "Oi"}, options={"tag": tag}))
    assert (raised.value.code, raised.value.retryable) == ("invalid_tag", False)
    body = (
        adapter()
        .build_request(outbound({"type": "text", "text": "Oi"}, options={"tag": "HUMAN_AGENT"}))
        .json
    )
    assert (body["messaging_type"], body["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")


def test_cards_cannot_call() -> None:
    content = {
        "type": "interactive",
        "interactive": {
            "kind": "cards",
            "body": "Lojas",
            "cards": [
                {
                    "title": "Loja Centro",
                    "buttons": [{"type": "call", "title": "Ligar", "phone": "+5511912345678"}],
                }
            ],
        },
    }
    with pytest.raises(UnsupportedContent) as raised:
        adapter().build_request(outbound(content))
    assert raised.value.feature == "interactive.buttons.call"


def test_media_is_sent_by_url_alone() -> None:
    content = {
        "type": "media",
        "media": {"url": "https://cdn.example.com/a.pdf", "kind": "document"},
    }
    message = adapter().build_request(outbound(content)).json["message"]
    assert message == {
        "attachment": {"type": "file", "payload": {"url": "https://cdn.example.com/a.pdf"}}
    }


def test_text_over_1000_bytes_is_left_to_the_platform() -> None:
    # 400 characters, 1200 bytes: Instagram refuses it, with a message that says why.
    text = "€" * 400
    assert adapter().build_request(outbound({"type": "text", "text": text})).json["message"] == {
        "text": text
    }


def test_webhooks_of_the_other_platform_are_unknown() -> None:
    body = json.dumps({"object": "page", "entry": []}).encode()
    events = adapter().parse(RawRequest("POST", "/", {}, {}, body))
    assert [type(e) for e in events] == [UnknownEvent]


def test_comments_come_as_changes() -> None:
    body = {
        "object": "instagram",
        "entry": [
            {
                "id": contract.IG_USER_ID,
                "time": 1718111000,
                "changes": [
                    {"field": "comments", "value": {"id": "17865799348089039", "text": "Lindo!"}}
                ],
            }
        ],
    }
    events = adapter().parse(RawRequest("POST", "/", {}, {}, json.dumps(body).encode()))
    assert [e.kind for e in events] == ["changes"]


def test_a_postback_without_mid_gets_a_stable_id() -> None:
    event = {
        "sender": {"id": contract.IGSID},
        "recipient": {"id": contract.IG_USER_ID},
        "timestamp": 1502905976377,
        "postback": {"title": "Ver produtos", "payload": "PRODUCTS"},
    }
    body = json.dumps(
        {
            "object": "instagram",
            "entry": [{"id": contract.IG_USER_ID, "time": 1, "messaging": [event]}],
        }
    ).encode()
    first = adapter().parse(RawRequest("POST", "/", {}, {}, body))
    again = adapter().parse(RawRequest("POST", "/", {}, {}, body))
    assert isinstance(first[0], InboundMessage)
    assert isinstance(again[0], InboundMessage)
    assert first[0].provider_message_id == again[0].provider_message_id
    assert first[0].provider_message_id == f"postback.{contract.IGSID}.1502905976377"


async def test_send_uses_the_instagram_user_token() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"recipient_id": contract.IGSID, "message_id": "aWdfZAG1x"})

    instagram = adapter()
    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as http:
        result = await instagram.send(
            instagram.build_request(outbound({"type": "text", "text": "Oi"})), http
        )
    assert result.provider_message_id == "aWdfZAG1x"
    assert seen[0].headers["authorization"] == f"Bearer {contract.ACCESS_TOKEN}"
