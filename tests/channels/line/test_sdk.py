"""The LINE emulator judged by LINE's own SDK (line-bot-sdk, ``linebot.v3``).

Every request Chatgate's adapter builds is read into the SDK's own models and sent by the
SDK's ``MessagingApi`` to ``chatgate emulate`` on a loopback port; the answers come back as
the SDK's types, refusals as its exceptions, and the webhooks the emulator posts are checked
and read by the SDK's ``WebhookParser`` and ``WebhookHandler``.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import pytest_asyncio
from linebot.v3 import WebhookHandler, WebhookParser
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.messaging import (
    ApiClient,
    ApiException,
    Configuration,
    ErrorResponse,
    MessagingApi,
    MessagingApiBlob,
    PushMessageRequest,
    ReplyMessageRequest,
    TextMessage,
)
from linebot.v3.messaging.exceptions import UnauthorizedException
from linebot.v3.webhooks import (
    FollowEvent,
    GroupSource,
    ImageMessageContent,
    LocationMessageContent,
    MessageEvent,
    PostbackEvent,
    StickerMessageContent,
    TextMessageContent,
    UnfollowEvent,
    UserSource,
)

from chatgate.channels.base import InboundMessage, RawRequest
from tests.channels import contract as samples
from tests.channels.line import contract
from tests.channels.sdk import ServedEmulator, blocking, sendable_cases

GROUP_ID = "C" + "0123456789abcdef" * 2
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(32))


# One emulator for the module: every test runs in the module's loop.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module")
async def emulator(sdk_emulator: ServedEmulator) -> ServedEmulator:
    """The emulator afresh with the test channel, its webhooks going to the catcher."""
    await sdk_emulator.fresh()
    await sdk_emulator.register("line", contract.emulator_account(sdk_emulator.hook_url))
    return sdk_emulator


@contextmanager
def messaging(
    served: ServedEmulator, token: str = contract.CHANNEL_ACCESS_TOKEN
) -> Iterator[ApiClient]:
    """The SDK's client, its host (both of LINE's API hosts) the emulator's ``/line``."""
    configuration = Configuration(host=f"{served.base_url}/line", access_token=token)
    with ApiClient(configuration) as client:
        yield client


async def _user(served: ServedEmulator, **payload: Any) -> tuple[dict[str, Any], RawRequest]:
    return await served.user(
        "line", bot_user_id=contract.BOT_USER_ID, **{"from": contract.USER_ID, **payload}
    )


def _parse(hook: RawRequest) -> list[Any]:
    """The SDK's reading of a webhook, its signature checked with the channel secret."""
    parser = WebhookParser(contract.CHANNEL_SECRET)
    return list(parser.parse(hook.body.decode("utf-8"), hook.headers["x-line-signature"]))


def _kept(ours: Any, theirs: Any) -> bool:
    """Whether the SDK's model kept every field we wrote, as we wrote it (it adds defaults)."""
    if isinstance(ours, dict):
        return isinstance(theirs, dict) and all(
            name in theirs and _kept(value, theirs[name]) for name, value in ours.items()
        )
    if isinstance(ours, list):
        return (
            isinstance(theirs, list)
            and len(ours) == len(theirs)
            and all(_kept(a, b) for a, b in zip(ours, theirs, strict=True))
        )
    return bool(ours == theirs)


@pytest.mark.parametrize(
    "case", sendable_cases(contract.make_adapter("http://emulator/line"), contract.USER_ID)
)
async def test_every_kind_chatgate_sends_is_pushed_by_the_sdk(
    emulator: ServedEmulator, case: str
) -> None:
    adapter = contract.make_adapter(f"{emulator.base_url}/line")
    built = adapter.build_request(samples.outbound(case, contract.USER_ID))
    # The SDK's models read what the adapter builds: a shape LINE does not define fails here.
    request = PushMessageRequest.from_dict(built.json)
    assert _kept(built.json, request.to_dict())
    with messaging(emulator) as client:
        answer = await blocking(
            MessagingApi(client).push_message, request, x_line_retry_key=str(uuid.uuid4())
        )
    messages = built.json["messages"]
    assert len(answer.sent_messages) == len(messages)
    for sent, message in zip(answer.sent_messages, messages, strict=True):
        assert sent.id.isdigit()
        # LINE gives a quote token for the messages a user can quote.
        quotable = message["type"] in ("text", "sticker", "image", "video")
        assert (sent.quote_token is not None) is quotable, message["type"]


async def test_a_reply_uses_the_events_reply_token_once_and_quotes_it(
    emulator: ServedEmulator,
) -> None:
    _, hook = await _user(emulator, text="Where is my parcel?")
    (event,) = _parse(hook)
    assert isinstance(event, MessageEvent)
    assert isinstance(event.message, TextMessageContent)
    assert event.message.text == "Where is my parcel?"
    assert isinstance(event.source, UserSource)
    assert event.source.user_id == contract.USER_ID
    # Chatgate's reference to the message carries the tokens a reply needs.
    adapter = contract.make_adapter(f"{emulator.base_url}/line")
    (inbound,) = adapter.parse(hook)
    assert isinstance(inbound, InboundMessage)
    built = adapter.build_request(
        samples.outbound("reply_to_text", contract.USER_ID, earlier=inbound.provider_message_id)
    )
    assert built.json["replyToken"] == event.reply_token
    assert built.json["messages"][0]["quoteToken"] == event.message.quote_token
    request = ReplyMessageRequest.from_dict(built.json)
    with messaging(emulator) as client:
        api = MessagingApi(client)
        answer = await blocking(api.reply_message, request)
        assert len(answer.sent_messages) == 1
        with pytest.raises(ApiException) as refused:
            await blocking(api.reply_message, request)
    assert refused.value.status == 400
    assert json.loads(refused.value.body) == {"message": "Invalid reply token"}


@pytest.mark.parametrize(
    ("action", "event_type", "content_type"),
    [
        ({"text": "Hello 👋"}, MessageEvent, TextMessageContent),
        ({"location": {"latitude": 35.66, "longitude": 139.7, "name": "Shibuya"}}, MessageEvent,
         LocationMessageContent),
        ({"sticker": {"package_id": "446", "sticker_id": "1988"}}, MessageEvent,
         StickerMessageContent),
        ({"postback": {"data": "order=1042"}}, PostbackEvent, None),
        ({"follow": True}, FollowEvent, None),
        ({"unfollow": True}, UnfollowEvent, None),
        ({"text": "Hi all", "group_id": GROUP_ID}, MessageEvent, TextMessageContent),
    ],
)  # fmt: skip
async def test_every_webhook_is_verified_and_read_by_the_sdks_parser(
    emulator: ServedEmulator, action: dict[str, Any], event_type: type, content_type: type | None
) -> None:
    _, hook = await _user(emulator, **action)
    payload = WebhookParser(contract.CHANNEL_SECRET).parse(
        hook.body.decode("utf-8"), hook.headers["x-line-signature"], as_payload=True
    )
    assert payload.destination == contract.BOT_USER_ID
    (event,) = payload.events
    # An event the SDK cannot read comes back as its UnknownEvent: the type is the check.
    assert type(event) is event_type
    assert event.webhook_event_id
    assert event.delivery_context.is_redelivery is False
    if content_type is not None:
        assert type(event.message) is content_type
    if "group_id" in action:
        assert isinstance(event.source, GroupSource)
        assert (event.source.group_id, event.source.user_id) == (GROUP_ID, contract.USER_ID)


async def test_a_redelivered_event_reaches_the_sdks_handler_marked_so(
    emulator: ServedEmulator,
) -> None:
    await _user(emulator, sticker={"package_id": "446", "sticker_id": "1988"})
    _, hook = await emulator.user("line", bot_user_id=contract.BOT_USER_ID, redeliver=True)
    handler = WebhookHandler(contract.CHANNEL_SECRET)
    handled: list[MessageEvent] = []

    @handler.add(MessageEvent, message=StickerMessageContent)
    def on_sticker(event: MessageEvent) -> None:
        handled.append(event)

    handler.handle(hook.body.decode("utf-8"), hook.headers["x-line-signature"])
    (event,) = handled
    assert event.delivery_context.is_redelivery is True
    assert event.message.package_id == "446"


async def test_a_tampered_webhook_fails_the_sdks_signature_check(
    emulator: ServedEmulator,
) -> None:
    _, hook = await _user(emulator, text="Hello")
    tampered = hook.body.decode("utf-8").replace("Hello", "Hallo")
    with pytest.raises(InvalidSignatureError):
        WebhookParser(contract.CHANNEL_SECRET).parse(tampered, hook.headers["x-line-signature"])


async def test_a_file_a_user_sent_downloads_through_the_blob_api(
    emulator: ServedEmulator,
) -> None:
    media = {
        "kind": "image",
        "content_base64": base64.b64encode(PNG).decode(),
        "mime_type": "image/png",
    }
    _, hook = await _user(emulator, media=media)
    (event,) = _parse(hook)
    assert isinstance(event.message, ImageMessageContent)
    assert event.message.content_provider.type == "line"
    with messaging(emulator) as client:
        content = await blocking(MessagingApiBlob(client).get_message_content, event.message.id)
        with pytest.raises(ApiException) as missing:
            await blocking(MessagingApiBlob(client).get_message_content, "1" * 18)
    assert bytes(content) == PNG
    assert missing.value.status == 404


async def test_a_wrong_token_raises_the_sdks_unauthorized_error(emulator: ServedEmulator) -> None:
    request = PushMessageRequest(to=contract.USER_ID, messages=[TextMessage(text="Hello")])
    with (
        messaging(emulator, token="not-the-channels-token") as client,
        pytest.raises(UnauthorizedException) as refused,
    ):
        await blocking(MessagingApi(client).push_message, request)
    assert refused.value.status == 401
    assert json.loads(refused.value.body)["message"].startswith("Authentication failed")


async def test_throttling_is_a_429_with_no_retry_hint(emulator: ServedEmulator) -> None:
    await emulator.fault("line", kind="rate_limit", retry_after=30)
    request = PushMessageRequest(to=contract.USER_ID, messages=[TextMessage(text="Hello")])
    with messaging(emulator) as client, pytest.raises(ApiException) as throttled:
        await blocking(MessagingApi(client).push_message, request)
    # The SDK has no error of its own for throttling; LINE's answer names no time to wait.
    assert throttled.value.status == 429
    assert json.loads(throttled.value.body) == {
        "message": "The API rate limit has been exceeded. Try again later."
    }
    assert "retry-after" not in {name.lower() for name in throttled.value.headers}


async def test_a_repeated_retry_key_is_a_409_naming_the_accepted_push(
    emulator: ServedEmulator,
) -> None:
    request = PushMessageRequest(to=contract.USER_ID, messages=[TextMessage(text="Once")])
    key = str(uuid.uuid4())
    with messaging(emulator) as client:
        api = MessagingApi(client)
        first = await blocking(api.push_message_with_http_info, request, x_line_retry_key=key)
        with pytest.raises(ApiException) as repeated:
            await blocking(api.push_message, request, x_line_retry_key=key)
    assert repeated.value.status == 409
    assert (
        repeated.value.headers["X-Line-Accepted-Request-Id"] == first.headers["X-Line-Request-Id"]
    )
    error = ErrorResponse.from_json(repeated.value.body)
    assert error.sent_messages == first.data.sent_messages


async def test_a_malformed_message_is_refused_with_details_the_sdk_reads(
    emulator: ServedEmulator,
) -> None:
    request = PushMessageRequest(to=contract.USER_ID, messages=[TextMessage(text="")])
    with messaging(emulator) as client, pytest.raises(ApiException) as refused:
        await blocking(MessagingApi(client).push_message, request)
    assert refused.value.status == 400
    error = ErrorResponse.from_json(refused.value.body)
    assert error.message == "The request body has 1 error(s)"
    assert [(d.var_property, d.message) for d in error.details] == [
        ("messages[0].text", "May not be empty")
    ]
