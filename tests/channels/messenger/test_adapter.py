"""The Messenger adapter sending: bodies, and how the platform's answers are classified.

The code Messenger and Instagram share is tested through Messenger; the Instagram tests cover
what differs. Webhooks and media are in ``test_inbound``.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from chatgate.channels.base import (
    ChannelSettings,
    OutboundMessage,
    ProviderError,
    UnsupportedContent,
)
from chatgate.channels.messenger import MessengerAdapter
from tests.channels.messenger import contract

URL = f"https://graph.facebook.com/v21.0/{contract.PAGE_ID}/messages"


def adapter(**settings: Any) -> MessengerAdapter:
    return MessengerAdapter(contract.credentials(), ChannelSettings(**settings))


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


TEXT = {"type": "text", "text": "Salut 👋"}


# -- building -------------------------------------------------------------------------------


def test_text_goes_to_the_page_messages_edge() -> None:
    request = adapter().build_request(outbound(TEXT))
    assert (request.method, request.url) == ("POST", URL)
    assert request.json == {
        "recipient": {"id": contract.PSID},
        "messaging_type": "RESPONSE",
        "message": {"text": "Salut 👋"},
    }


def test_settings_move_the_host_and_the_version() -> None:
    request = adapter(api_base="http://127.0.0.1:9000/graph/", api_version="v19.0").build_request(
        outbound(TEXT)
    )
    assert request.url == f"http://127.0.0.1:9000/graph/v19.0/{contract.PAGE_ID}/messages"


def test_human_agent_tag_sends_a_message_tag() -> None:
    body = adapter().build_request(outbound(TEXT, options={"tag": "HUMAN_AGENT"})).json
    assert (body["messaging_type"], body["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")


@pytest.mark.parametrize(
    "tag", ["CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE", "ACCOUNT_UPDATE"]
)
def test_retired_tags_are_refused_for_good(tag: str) -> None:
    with pytest.raises(ProviderError, match="retired") as raised:
        adapter().build_request(outbound(TEXT, options={"tag": tag}))
    assert (raised.value.code, raised.value.retryable) == ("invalid_tag", False)


def test_unknown_tag_is_refused() -> None:
    with pytest.raises(ProviderError, match="HUMAN_AGENT") as raised:
        adapter().build_request(outbound(TEXT, options={"tag": "CUSTOMER_FEEDBACK"}))
    assert raised.value.retryable is False


def test_empty_emoji_takes_the_reaction_back() -> None:
    content = {"type": "reaction", "reaction": {"message_id": "m_1", "emoji": ""}}
    assert adapter().build_request(outbound(content)).json == {
        "recipient": {"id": contract.PSID},
        "sender_action": "unreact",
        "payload": {"message_id": "m_1"},
    }


def test_a_reaction_ignores_reply_to_and_tags() -> None:
    content = {"type": "reaction", "reaction": {"message_id": "m_1", "emoji": "🎉"}}
    body = (
        adapter()
        .build_request(outbound(content, reply_to="m_0", options={"tag": "HUMAN_AGENT"}))
        .json
    )
    assert body == {
        "recipient": {"id": contract.PSID},
        "sender_action": "react",
        "payload": {"message_id": "m_1", "reaction": "🎉"},
    }


def test_reply_to_quotes_any_content() -> None:
    media = {"type": "media", "media": {"url": "https://cdn.example.com/a.png", "kind": "image"}}
    body = adapter().build_request(outbound(media, reply_to="m_quoted")).json
    assert body["reply_to"] == {"mid": "m_quoted"}
    assert body["message"]["attachment"]["type"] == "image"


def test_cards_without_extras_keep_only_the_title() -> None:
    content = {
        "type": "interactive",
        "interactive": {"kind": "cards", "body": "Picks", "cards": [{"title": "Mug"}]},
    }
    payload = adapter().build_request(outbound(content)).json["message"]["attachment"]["payload"]
    assert payload == {"template_type": "generic", "elements": [{"title": "Mug"}]}


@pytest.mark.parametrize(
    ("content", "feature"),
    [
        (
            {
                "type": "media",
                "media": {"url": "https://x.example/a.ogg", "kind": "audio", "voice": True},
            },
            "media.voice",
        ),
        (
            {
                "type": "media",
                "media": {"url": "https://x.example/a.jpg", "kind": "image", "caption": "hi"},
            },
            "media.caption",
        ),
        ({"type": "location", "location": {"latitude": 1.0, "longitude": 2.0}}, "location"),
    ],
)
def test_what_messenger_cannot_carry(content: dict[str, Any], feature: str) -> None:
    with pytest.raises(UnsupportedContent) as raised:
        adapter().build_request(outbound(content))
    assert (raised.value.channel, raised.value.feature) == ("messenger", feature)


def test_secrets_stay_out_of_built_requests_and_reprs() -> None:
    messenger = adapter()
    request = messenger.build_request(outbound(TEXT))
    for text in (repr(request), repr(messenger.credentials), str(messenger.credentials)):
        assert contract.PAGE_ACCESS_TOKEN not in text
        assert contract.APP_SECRET not in text


# -- sending and error classification ---------------------------------------------------------


def answering(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    """A client whose every call gets this answer (JSON unless ``body`` is bytes)."""

    def handle(request: httpx.Request) -> httpx.Response:
        if isinstance(body, bytes):
            return httpx.Response(status, content=body, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return httpx.AsyncClient(transport=httpx.MockTransport(handle))


def graph_error(code: int, message: str, subcode: int | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": {**error, "fbtrace_id": "AX7LwGmBMuz"}}


def usage(minutes: int) -> dict[str, str]:
    entry = {"type": "messenger", "call_count": 100, "estimated_time_to_regain_access": minutes}
    return {"X-Business-Use-Case-Usage": json.dumps({contract.PAGE_ID: [entry]})}


@pytest.mark.parametrize(
    ("status", "body", "headers", "code", "retryable", "retry_after"),
    [
        (400, graph_error(10, "(#10) This message is sent outside of allowed window.", 2018278),
         None, "10/2018278", False, None),
        (400, graph_error(100, "(#100) No matching user found", 2018001),
         None, "100/2018001", False, None),
        (400, graph_error(551, "This person isn't available right now.", 1545041),
         None, "551/1545041", False, None),
        (401, graph_error(190, "Invalid OAuth access token."), None, "190", False, None),
        (400, graph_error(613, "(#613) Calls to this api have exceeded the rate limit."),
         None, "613", True, 60.0),
        (400, graph_error(613, "(#613) Calls to this api have exceeded the rate limit."),
         usage(3), "613", True, 180.0),
        (400, graph_error(4, "(#4) Application request limit reached"), None, "4", True, 60.0),
        (500, graph_error(2, "(#2) Service temporarily unavailable"), None, "2", True, None),
        (502, b"<html>Bad Gateway</html>", None, "http_502", True, None),
    ],
)  # fmt: skip
async def test_errors_are_classified(
    status: int,
    body: Any,
    headers: dict[str, str] | None,
    code: str,
    retryable: bool,
    retry_after: float | None,
) -> None:
    messenger = adapter()
    async with answering(status, body, headers) as http:
        with pytest.raises(ProviderError) as raised:
            await messenger.send(messenger.build_request(outbound(TEXT)), http)
    error = raised.value
    assert (error.code, error.retryable, error.retry_after) == (code, retryable, retry_after)
    assert error.status_code == status
    assert contract.PAGE_ACCESS_TOKEN not in str(error)


async def test_an_unreachable_platform_is_worth_another_try() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    messenger = adapter()
    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as http:
        with pytest.raises(ProviderError) as raised:
            await messenger.send(messenger.build_request(outbound(TEXT)), http)
    assert (raised.value.code, raised.value.retryable) == ("network_error", True)


async def test_send_authenticates_and_returns_the_message_id() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"recipient_id": contract.PSID, "message_id": "m_AG5Hz"})

    messenger = adapter()
    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as http:
        result = await messenger.send(messenger.build_request(outbound(TEXT)), http)
    assert result.provider_message_id == "m_AG5Hz"
    assert result.receipts == ()
    assert seen[0].headers["authorization"] == f"Bearer {contract.PAGE_ACCESS_TOKEN}"
    assert json.loads(seen[0].content)["message"] == {"text": "Salut 👋"}


async def test_a_reaction_answered_without_message_id_gets_an_id_of_its_own() -> None:
    content = {"type": "reaction", "reaction": {"message_id": "m_target", "emoji": "👍"}}
    messenger = adapter()
    async with answering(200, {"recipient_id": contract.PSID}) as http:
        result = await messenger.send(messenger.build_request(outbound(content)), http)
    assert result.provider_message_id.startswith("react.m_target.")


async def test_a_message_accepted_without_id_is_not_sent_again() -> None:
    messenger = adapter()
    async with answering(200, {"recipient_id": contract.PSID}) as http:
        with pytest.raises(ProviderError) as raised:
            await messenger.send(messenger.build_request(outbound(TEXT)), http)
    assert (raised.value.code, raised.value.retryable) == ("bad_response", False)
