"""The Viber emulator judged by Viber's own SDK (viberbot).

Every body Chatgate's adapter builds is read into the SDK's message types and sent by the
SDK's ``Api`` to ``chatgate emulate`` on a loopback port; refusals come back as the SDK's
errors, and every callback the emulator posts is checked with ``Api.verify_signature`` and
read by ``Api.parse_request``.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
import pytest_asyncio
from requests import HTTPError
from viberbot import Api
from viberbot.api.api_request_sender import ApiRequestSender
from viberbot.api.bot_configuration import BotConfiguration
from viberbot.api.consts import VIBER_BOT_USER_AGENT
from viberbot.api.message_sender import MessageSender
from viberbot.api.messages import (
    ContactMessage,
    FileMessage,
    KeyboardMessage,
    LocationMessage,
    PictureMessage,
    RichMediaMessage,
    StickerMessage,
    TextMessage,
    URLMessage,
    VideoMessage,
    get_message,
)
from viberbot.api.messages.data_types.location import Location
from viberbot.api.viber_requests import (
    ViberConversationStartedRequest,
    ViberDeliveredRequest,
    ViberFailedRequest,
    ViberMessageRequest,
    ViberSeenRequest,
    ViberSubscribedRequest,
    ViberUnsubscribedRequest,
)
from viberbot.api.viber_requests.viber_request import ViberRequest

from chatgate.channels.base import RawRequest
from tests.channels import contract as samples
from tests.channels.sdk import ServedEmulator, blocking, sendable_cases
from tests.channels.viber import contract

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(32))
KEYBOARD = {
    "Type": "keyboard",
    "DefaultHeight": False,
    "Buttons": [
        {"Columns": 3, "Rows": 1, "ActionType": "reply", "ActionBody": "yes", "Text": "Yes"},
        {"Columns": 3, "Rows": 1, "ActionType": "reply", "ActionBody": "no", "Text": "No"},
    ],
}

# One emulator for the module: every test runs in the module's loop.
pytestmark = pytest.mark.asyncio(loop_scope="module")


class EmulatedApi(Api):  # type: ignore[misc]
    """The SDK's ``Api``, its requests going to the emulator instead of chatapi.viber.com."""

    def __init__(self, configuration: BotConfiguration, api_url: str) -> None:
        super().__init__(configuration)
        self._request_sender = ApiRequestSender(
            self._logger, api_url, configuration, VIBER_BOT_USER_AGENT
        )
        self._message_sender = MessageSender(self._logger, self._request_sender, configuration)


@pytest_asyncio.fixture(loop_scope="module")
async def emulator(sdk_emulator: ServedEmulator) -> ServedEmulator:
    """The emulator afresh with the test bot; the test user has subscribed by writing."""
    await sdk_emulator.fresh()
    await sdk_emulator.register("viber", contract.emulator_account(sdk_emulator.hook_url))
    await _user(sdk_emulator, text="Hi")
    sdk_emulator.catcher.requests.clear()
    return sdk_emulator


def _api(
    served: ServedEmulator, token: str = contract.AUTH_TOKEN, avatar: str | None = None
) -> Api:
    configuration = BotConfiguration(auth_token=token, name="Chatgate Test Bot", avatar=avatar)
    return EmulatedApi(configuration, f"{served.base_url}/viber/pa")


async def _user(served: ServedEmulator, **payload: Any) -> tuple[dict[str, Any], RawRequest]:
    return await served.user(
        "viber", auth_token=contract.AUTH_TOKEN, **{"from": contract.USER_ID, **payload}
    )


def _read(api: Api, hook: RawRequest) -> ViberRequest:
    """The SDK's reading of a callback, once its signature checks out."""
    assert api.verify_signature(hook.body, hook.headers["x-viber-content-signature"])
    return api.parse_request(hook.body)


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


@pytest.mark.parametrize(
    "case", sendable_cases(contract.make_adapter("http://emulator/viber"), contract.USER_ID)
)
async def test_every_kind_chatgate_sends_is_sent_by_the_sdk(
    emulator: ServedEmulator, case: str
) -> None:
    adapter = contract.make_adapter(f"{emulator.base_url}/viber")
    built = adapter.build_request(samples.outbound(case, contract.USER_ID)).json
    message = get_message(built)
    assert message.validate(), case
    (token,) = await blocking(_api(emulator).send_messages, contract.USER_ID, [message])
    assert isinstance(token, int)
    (call,) = await emulator.received("viber")
    assert (call["status"], call["message_id"]) == (200, str(token))
    # What the SDK put on the wire is what the adapter would have sent, but for the sender
    # (the SDK's configuration), the token it carries in the body and the nulls it writes.
    sent = {k: v for k, v in call["body"].items() if k not in ("auth_token", "sender")}
    assert _without_nulls(sent) == {k: v for k, v in built.items() if k != "sender"}


@pytest.mark.parametrize(
    "message",
    [
        URLMessage(media="https://example.com/t/1042"),
        StickerMessage(sticker_id=40100),
        VideoMessage(media="https://cdn.example.com/clip.mp4", size=21499, duration=12),
        FileMessage(media="https://cdn.example.com/a.pdf", size=1024, file_name="a.pdf"),
        ContactMessage().from_dict(
            {"contact": {"name": "Ada Lovelace", "phone_number": "+447700900123"}}
        ),
        LocationMessage(location=Location(lat=48.8584, lon=2.2945)),
        PictureMessage(media="https://cdn.example.com/cat.jpg", text="A cat"),
        TextMessage(text="Pick one", keyboard=KEYBOARD, tracking_data="order=1042"),
        RichMediaMessage(
            min_api_version=2,
            alt_text="Our picks",
            rich_media={
                "Type": "rich_media",
                "ButtonsGroupColumns": 6,
                "ButtonsGroupRows": 2,
                "Buttons": [
                    {"Columns": 6, "Rows": 2, "ActionType": "open-url",
                     "ActionBody": "https://shop.example.com/mug", "Text": "Blue mug"},
                ],
            },
        ),
    ],
    ids=lambda message: type(message).__name__,
)  # fmt: skip
async def test_every_message_type_of_the_sdk_is_accepted(
    emulator: ServedEmulator, message: Any
) -> None:
    (token,) = await blocking(_api(emulator).send_messages, contract.USER_ID, [message])
    assert isinstance(token, int)


async def test_a_keyboard_alone_is_a_message_viber_accepts(emulator: ServedEmulator) -> None:
    # Viber documents that a keyboard "can be attached to any message type or sent on its
    # own": the SDK's KeyboardMessage is a body with no ``type``.
    message = KeyboardMessage(keyboard=KEYBOARD, min_api_version=3, tracking_data="menu")
    (token,) = await blocking(_api(emulator).send_messages, contract.USER_ID, [message])
    assert isinstance(token, int)
    (call,) = await emulator.received("viber")
    assert "type" not in call["body"]
    assert call["body"]["keyboard"] == KEYBOARD


async def test_a_keyboard_alone_is_still_checked(emulator: ServedEmulator) -> None:
    message = KeyboardMessage(keyboard={"Type": "keyboard", "Buttons": []})
    with pytest.raises(Exception, match=r"failed with status: 3, message: badData"):
        await blocking(_api(emulator).send_messages, contract.USER_ID, [message])


async def test_a_sender_without_an_avatar_is_accepted(emulator: ServedEmulator) -> None:
    # The SDK writes ``"avatar": null`` for a bot configured without one.
    api = _api(emulator, avatar=None)
    (token,) = await blocking(api.send_messages, contract.USER_ID, [TextMessage(text="Hi")])
    assert isinstance(token, int)
    (call,) = await emulator.received("viber")
    assert call["body"]["sender"] == {"name": "Chatgate Test Bot", "avatar": None}


async def test_delivered_and_seen_callbacks_are_read_by_the_sdk(emulator: ServedEmulator) -> None:
    await emulator.timing(delivered_after=0.01, read_after=0.02)
    api = _api(emulator, avatar="https://cdn.example.com/bot.png")
    (token,) = await blocking(api.send_messages, contract.USER_ID, [TextMessage(text="Hello")])
    delivered, seen = _read(api, await emulator.webhook(0)), _read(api, await emulator.webhook(1))
    assert isinstance(delivered, ViberDeliveredRequest)
    assert isinstance(seen, ViberSeenRequest)
    for callback in (delivered, seen):
        assert (callback.message_token, callback.user_id) == (token, contract.USER_ID)


async def test_a_failure_after_acceptance_is_a_failed_callback(emulator: ServedEmulator) -> None:
    await emulator.timing(delivered_after=0.01)
    await emulator.fault("viber", kind="async_failure")
    api = _api(emulator)
    (token,) = await blocking(api.send_messages, contract.USER_ID, [TextMessage(text="Hello")])
    failed = _read(api, await emulator.webhook(0))
    assert isinstance(failed, ViberFailedRequest)
    assert (failed.message_token, failed.user_id) == (token, contract.USER_ID)
    assert failed.desc


@pytest.mark.parametrize(
    ("action", "message_type"),
    [
        ({"text": "Hello 👋"}, TextMessage),
        ({"reply": {"id": "yes"}}, TextMessage),
        ({"media": {"kind": "image", "mime_type": "image/png", "caption": "Look"}},
         PictureMessage),
        ({"media": {"kind": "video", "mime_type": "video/mp4"}}, VideoMessage),
        ({"media": {"kind": "document", "mime_type": "application/pdf", "filename": "a.pdf"}},
         FileMessage),
        ({"location": {"latitude": 48.8584, "longitude": 2.2945}}, LocationMessage),
        ({"contact": {"name": "Ada", "phone_number": "+447700900123"}}, ContactMessage),
        ({"sticker_id": 40100}, StickerMessage),
    ],
)  # fmt: skip
async def test_every_user_message_is_verified_and_read_by_the_sdk(
    emulator: ServedEmulator, action: dict[str, Any], message_type: type
) -> None:
    if "media" in action:
        action["media"]["content_base64"] = base64.b64encode(PNG).decode()
    _, hook = await _user(emulator, name="Ada", **action)
    request = _read(_api(emulator), hook)
    assert isinstance(request, ViberMessageRequest)
    assert type(request.message) is message_type
    assert (request.sender.id, request.sender.name) == (contract.USER_ID, "Ada")
    assert isinstance(request.message_token, int)


@pytest.mark.parametrize(
    ("event", "request_type"),
    [
        ("subscribed", ViberSubscribedRequest),
        ("unsubscribed", ViberUnsubscribedRequest),
        ("conversation_started", ViberConversationStartedRequest),
    ],
)
async def test_every_user_event_is_verified_and_read_by_the_sdk(
    emulator: ServedEmulator, event: str, request_type: type
) -> None:
    _, hook = await _user(emulator, event=event)
    request = _read(_api(emulator), hook)
    assert type(request) is request_type
    user_id = request.user_id if event == "unsubscribed" else request.user.id
    assert user_id == contract.USER_ID


async def test_a_tampered_callback_fails_the_sdks_signature_check(
    emulator: ServedEmulator,
) -> None:
    _, hook = await _user(emulator, text="Hello")
    signature = hook.headers["x-viber-content-signature"]
    api = _api(emulator)
    assert not api.verify_signature(hook.body.replace(b"Hello", b"Hallo"), signature)
    assert not _api(emulator, token="someone-elses-token").verify_signature(hook.body, signature)


async def test_the_sdk_sets_the_webhook_after_viber_checks_it(emulator: ServedEmulator) -> None:
    api = _api(emulator)
    events = await blocking(api.set_webhook, emulator.hook_url, ["delivered", "seen", "failed"])
    assert events == ["delivered", "seen", "failed"]
    check = _read(api, await emulator.webhook(0))
    assert check.event_type == "webhook"
    info = await blocking(api.get_account_info)
    assert (info["status"], info["webhook"], info["event_types"]) == (0, emulator.hook_url, events)
    assert info["subscribers_count"] == 1


async def test_a_wrong_token_is_refused_with_status_2(emulator: ServedEmulator) -> None:
    api = _api(emulator, token="not-the-bots-token")
    # viberbot has no error type of its own: it raises Exception with Viber's status.
    with pytest.raises(Exception, match=r"failed with status: 2, message: invalidAuthToken"):
        await blocking(api.send_messages, contract.USER_ID, [TextMessage(text="Hello")])


async def test_throttling_is_status_12_with_no_retry_hint(emulator: ServedEmulator) -> None:
    await emulator.fault("viber", kind="rate_limit", retry_after=30)
    with pytest.raises(Exception, match=r"failed with status: 12, message: Too many requests"):
        await blocking(_api(emulator).send_messages, contract.USER_ID, [TextMessage(text="Hi")])


async def test_a_server_error_is_the_http_error_of_vibers_front(emulator: ServedEmulator) -> None:
    await emulator.fault("viber", kind="server_error")
    with pytest.raises(HTTPError) as failed:
        await blocking(_api(emulator).send_messages, contract.USER_ID, [TextMessage(text="Hi")])
    assert failed.value.response.status_code == 502
