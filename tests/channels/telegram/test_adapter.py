"""The Telegram adapter alone: credentials, requests, error classification, webhooks."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from chatgate.channels.base import (
    InboundMessage,
    OutboundMessage,
    ProviderError,
    RawRequest,
    SignatureError,
    UnknownEvent,
    UnsupportedContent,
)
from chatgate.channels.telegram import MAX_DOWNLOAD, TelegramAdapter, TelegramCredentials
from tests.channels.telegram import contract

API = "https://api.telegram.org"


def _adapter() -> TelegramAdapter:
    return TelegramAdapter(contract.credentials())


def _build(
    content: dict[str, Any],
    *,
    recipient: str = contract.USER_ID,
    reply_to: str | None = None,
    options: dict[str, Any] | None = None,
) -> tuple[str, dict[str, Any]]:
    """The method called and its JSON body."""
    message = OutboundMessage(
        id="msg_1",
        channel="telegram",
        sender=None,
        recipient=recipient,
        content=content,
        reply_to=reply_to,
        metadata=None,
        options=options or {},
    )
    request = _adapter().build_request(message)
    assert request.method == "POST"
    prefix = f"{API}/bot{contract.BOT_TOKEN}/"
    assert request.url.startswith(prefix)
    body: dict[str, Any] = request.json
    return request.url.removeprefix(prefix), body


def _unsupported(content: dict[str, Any]) -> str:
    with pytest.raises(UnsupportedContent) as caught:
        _build(content)
    assert caught.value.channel == "telegram"
    return caught.value.feature


TEXT = {"type": "text", "text": "hi"}


def _buttons(*buttons: dict[str, Any], kind: str = "buttons") -> dict[str, Any]:
    return {
        "type": "interactive",
        "interactive": {"kind": kind, "body": "Pick", "buttons": buttons},
    }


# -- credentials ----------------------------------------------------------------------------


def test_credentials_keep_their_secrets_out_of_reprs() -> None:
    credentials = contract.credentials()
    assert credentials.bot_id == contract.BOT_ID
    for shown in (repr(credentials), str(credentials), repr(_adapter().credentials)):
        assert "TEST-token" not in shown
        assert contract.SECRET_TOKEN not in shown


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("bot_token", "no-colon-here"),
        ("bot_token", "abc:def"),
        ("bot_token", "123:with space"),
        ("secret_token", ""),
        ("secret_token", "has spaces"),
        ("secret_token", "x" * 257),
        ("secret_token", "ünïcode"),
    ],
)
def test_credentials_refuse_malformed_values_without_echoing_them(field: str, value: str) -> None:
    values = {"bot_token": contract.BOT_TOKEN, "secret_token": contract.SECRET_TOKEN, field: value}
    with pytest.raises(ValidationError) as caught:
        TelegramCredentials.model_validate(values)
    if value:
        assert value not in str(caught.value)
    assert field in str(caught.value)


# -- building requests ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reference", "expected"),
    [("6061234567:42", 42), ("42", 42), ("-1001234567890:7", 7), ("not-a-number", "not-a-number")],
)
def test_reply_to_takes_the_message_number(reference: str, expected: int | str) -> None:
    _, body = _build(TEXT, reply_to=reference)
    assert body["reply_parameters"] == {"message_id": expected}


@pytest.mark.parametrize(
    ("recipient", "chat_id"),
    [
        ("6061234567", 6061234567),
        ("-1001234567890", -1001234567890),
        ("@chatgate_news", "@chatgate_news"),
    ],
)
def test_chat_ids_are_numbers_and_channel_usernames_text(
    recipient: str, chat_id: int | str
) -> None:
    assert _build(TEXT, recipient=recipient)[1]["chat_id"] == chat_id


def test_only_known_options_of_the_right_type_are_passed() -> None:
    options = {"disable_notification": True, "protect_content": "yes", "tag": "HUMAN_AGENT"}
    _, body = _build(TEXT, options=options)
    assert body["disable_notification"] is True
    assert "protect_content" not in body
    assert "tag" not in body


@pytest.mark.parametrize(
    ("emoji", "sent"),
    [("👍", "👍"), ("❤️", "❤"), ("❤", "❤"), ("❤️‍🔥", "❤‍🔥"), ("🤷‍♂️", "🤷‍♂")],
)
def test_reactions_use_telegrams_spelling_of_allowed_emoji(emoji: str, sent: str) -> None:
    method, body = _build(
        {"type": "reaction", "reaction": {"message_id": "6061234567:12", "emoji": emoji}},
        reply_to="6061234567:3",
    )
    assert method == "setMessageReaction"
    assert body == {
        "chat_id": 6061234567,
        "message_id": 12,
        "reaction": [{"type": "emoji", "emoji": sent}],
    }


def test_an_empty_emoji_removes_the_reaction() -> None:
    _, body = _build({"type": "reaction", "reaction": {"message_id": "12", "emoji": ""}})
    assert body["reaction"] == []


@pytest.mark.parametrize("emoji", ["🦖", "👍🏽", "😀", "ok"])
def test_emoji_outside_telegrams_list_are_unsupported(emoji: str) -> None:
    content = {"type": "reaction", "reaction": {"message_id": "12", "emoji": emoji}}
    assert _unsupported(content) == "reaction"


def test_a_reaction_is_named_after_the_message_it_is_on() -> None:
    content = {"type": "reaction", "reaction": {"message_id": "6061234567:12", "emoji": "🔥"}}
    message = OutboundMessage("msg_1", "telegram", None, contract.USER_ID, content, None, None)
    request = _adapter().build_request(message)
    assert request.context["provider_message_id"] == "6061234567:12:reaction"


def test_call_buttons_are_unsupported_even_among_others() -> None:
    content = _buttons(
        {"type": "reply", "id": "a", "title": "A"},
        {"type": "call", "title": "Call", "phone": "+14155550100"},
    )
    assert _unsupported(content) == "interactive.buttons.call"


def test_reply_ids_longer_than_64_bytes_are_unsupported() -> None:
    fits = _buttons({"type": "reply", "id": "é" * 32, "title": "A"})
    assert _build(fits)[1]["reply_markup"]["inline_keyboard"] == [
        [{"text": "A", "callback_data": "é" * 32}]
    ]
    too_long = _buttons({"type": "reply", "id": "é" * 33, "title": "A"})
    assert _unsupported(too_long) == "interactive.buttons.reply"


def test_buttons_of_one_row_number_share_a_row_of_the_keyboard() -> None:
    content = _buttons(
        {"type": "reply", "id": "y", "title": "Yes", "row": 1},
        {"type": "url", "title": "Site", "url": "https://example.com/", "row": 0},
        {"type": "reply", "id": "n", "title": "No", "row": 1},
        {"type": "reply", "id": "h", "title": "Help"},
    )
    assert _build(content)[1]["reply_markup"]["inline_keyboard"] == [
        [{"text": "Yes", "callback_data": "y"}, {"text": "No", "callback_data": "n"}],
        [{"text": "Site", "url": "https://example.com/"}],
        [{"text": "Help", "callback_data": "h"}],
    ]


def test_list_rows_with_long_ids_are_unsupported() -> None:
    content = {
        "type": "interactive",
        "interactive": {
            "kind": "list",
            "body": "Pick",
            "button_text": "Open",
            "sections": [{"rows": [{"id": "x" * 65, "title": "Row"}]}],
        },
    }
    assert _unsupported(content) == "interactive.list"


def test_list_rows_of_every_section_become_rows_of_buttons() -> None:
    content = {
        "type": "interactive",
        "interactive": {
            "kind": "list",
            "body": "Pick",
            "button_text": "Open",
            "footer": "Thanks",
            "sections": [
                {"title": "A", "rows": [{"id": "a1", "title": "One", "description": "first"}]},
                {"title": "B", "rows": [{"id": "b1", "title": "Two"}]},
            ],
        },
    }
    _, body = _build(content)
    assert body["text"] == "Pick\n\nThanks"
    assert body["reply_markup"] == {
        "inline_keyboard": [
            [{"text": "One", "callback_data": "a1"}],
            [{"text": "Two", "callback_data": "b1"}],
        ]
    }


def test_a_location_with_only_a_name_is_a_plain_location() -> None:
    content = {"type": "location", "location": {"latitude": 1.5, "longitude": 2.5, "name": "Here"}}
    method, body = _build(content)
    assert method == "sendLocation"
    assert body == {"chat_id": 6061234567, "latitude": 1.5, "longitude": 2.5}


@pytest.mark.parametrize(
    "contacts",
    [
        [{"name": "A", "phones": ["+1"]}, {"name": "B", "phones": ["+2"]}],
        [{"name": "Only Mail", "emails": ["a@example.com"]}],
    ],
)
def test_contacts_telegram_cannot_carry(contacts: list[dict[str, Any]]) -> None:
    assert _unsupported({"type": "contact", "contacts": contacts}) == "contact"


def test_a_plain_contact_has_no_vcard() -> None:
    method, body = _build({"type": "contact", "contacts": [{"name": "Cher", "phones": ["+331"]}]})
    assert method == "sendContact"
    assert body == {"chat_id": 6061234567, "phone_number": "+331", "first_name": "Cher"}


def test_vcard_values_are_escaped_and_hold_every_phone() -> None:
    card = {"name": "Jean Dupont, Jr.", "phones": ["+331", "+332"], "organization": "A;B"}
    _, body = _build({"type": "contact", "contacts": [card]})
    assert body["first_name"] == "Jean"
    assert body["last_name"] == "Dupont, Jr."
    assert body["vcard"].split("\r\n") == [
        "BEGIN:VCARD",
        "VERSION:3.0",
        "N:Dupont\\, Jr.;Jean;;;",
        "FN:Jean Dupont\\, Jr.",
        "ORG:A\\;B",
        "TEL:+331",
        "TEL:+332",
        "END:VCARD",
    ]


def test_voice_notes_and_captions() -> None:
    media = {"url": "https://x.example/n.ogg", "kind": "audio", "voice": True, "caption": "listen"}
    method, body = _build({"type": "media", "media": media})
    assert method == "sendVoice"
    assert body == {"chat_id": 6061234567, "voice": "https://x.example/n.ogg", "caption": "listen"}


# -- sending and errors ---------------------------------------------------------------------


async def _send_with(
    handler: Callable[[httpx.Request], httpx.Response],
    content: dict[str, Any] | None = None,
) -> str:
    message = OutboundMessage(
        "msg_1", "telegram", None, contract.USER_ID, content or TEXT, None, None
    )
    adapter = _adapter()
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        result = await adapter.send(adapter.build_request(message), http)
    assert result.receipts == ()
    return result.provider_message_id


def _answer(status: int, body: Any) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(body, str):
            return httpx.Response(status, text=body)
        return httpx.Response(status, json=body)

    return handler


async def test_a_sent_message_is_named_chat_and_number() -> None:
    message = {
        "message_id": 77,
        "chat": {"id": 6061234567, "type": "private"},
        "date": 1,
        "text": "hi",
    }
    assert await _send_with(_answer(200, {"ok": True, "result": message})) == "6061234567:77"


async def test_a_reaction_is_acknowledged_with_true() -> None:
    content = {"type": "reaction", "reaction": {"message_id": "6061234567:5", "emoji": "👍"}}
    sent = await _send_with(_answer(200, {"ok": True, "result": True}), content)
    assert sent == "6061234567:5:reaction"


async def test_ok_without_a_message_is_a_bad_response() -> None:
    with pytest.raises(ProviderError) as caught:
        await _send_with(_answer(200, {"ok": True, "result": True}))
    assert caught.value.code == "bad_response"


def _error(code: int, description: str, **parameters: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return body


HTML_502 = "<html><body>502 Bad Gateway</body></html>"
ERRORS = [
    # (HTTP status, answer, code, retryable, retry hint); the message is the description.
    (400, _error(400, "Bad Request: chat not found"), "400", False, None),
    (400, _error(400, "Bad Request: message is too long"), "400", False, None),
    (403, _error(403, "Forbidden: bot was blocked by the user"), "403", False, None),
    (401, _error(401, "Unauthorized"), "401", False, None),
    (404, _error(404, "Not Found"), "404", False, None),
    (409, _error(409, "Conflict: terminated by other getUpdates request"), "409", False, None),
    (429, _error(429, "Too Many Requests: retry after 7", retry_after=7), "429", True, 7.0),
    (500, _error(500, "Internal Server Error"), "500", True, None),
    (502, _error(502, "Bad Gateway"), "502", True, None),
    (502, HTML_502, "502", True, None),
    (200, _error(400, "Bad Request: odd but possible"), "400", False, None),
]


@pytest.mark.parametrize(("status", "body", "code", "retryable", "retry_after"), ERRORS)
async def test_errors_are_classified(
    status: int, body: Any, code: str, retryable: bool, retry_after: float | None
) -> None:
    with pytest.raises(ProviderError) as caught:
        await _send_with(_answer(status, body))
    error = caught.value
    message = body["description"] if isinstance(body, dict) else body
    assert (error.code, error.retryable, error.retry_after, error.message) == (
        code,
        retryable,
        retry_after,
        message,
    )
    assert "TEST-token" not in str(error)


async def test_a_migrated_group_is_a_permanent_error() -> None:
    body = _error(
        400, "Bad Request: group chat was upgraded to a supergroup chat", migrate_to_chat_id=-1001
    )
    with pytest.raises(ProviderError) as caught:
        await _send_with(_answer(400, body))
    assert not caught.value.retryable


@pytest.mark.parametrize(
    ("exception", "code"),
    [(httpx.ConnectError("refused"), "network_error"), (httpx.ReadTimeout("slow"), "timeout")],
)
async def test_network_failures_are_retryable(exception: Exception, code: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exception

    with pytest.raises(ProviderError) as caught:
        await _send_with(handler)
    assert (caught.value.code, caught.value.retryable) == (code, True)
    assert "TEST-token" not in str(caught.value)


async def test_register_webhook_sets_our_secret_and_updates() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200, json={"ok": True, "result": True, "description": "Webhook was set"}
        )

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        assert await _adapter().register_webhook("https://gw.example/in/tg_1", http)
    assert str(seen[0].url) == f"{API}/bot{contract.BOT_TOKEN}/setWebhook"
    assert json.loads(seen[0].content) == {
        "url": "https://gw.example/in/tg_1",
        "secret_token": contract.SECRET_TOKEN,
        "allowed_updates": [
            "message",
            "edited_message",
            "callback_query",
            "message_reaction",
            "my_chat_member",
        ],
    }


# -- media downloads ----------------------------------------------------------------------


def _files(
    file: dict[str, Any], content: bytes = b"data", content_type: str = "application/octet-stream"
) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/getFile"):
            assert json.loads(request.content) == {"file_id": "FILE"}
            return httpx.Response(200, json={"ok": True, "result": file})
        assert request.url.path == f"/file/bot{contract.BOT_TOKEN}/{file['file_path']}"
        return httpx.Response(200, content=content, headers={"content-type": content_type})

    return handler


async def _fetch(handler: Callable[[httpx.Request], httpx.Response]) -> Any:
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        return await _adapter().fetch_media("FILE", http)


async def test_fetch_media_guesses_a_type_telegram_does_not_give() -> None:
    file = {
        "file_id": "FILE",
        "file_unique_id": "U",
        "file_size": 4,
        "file_path": "documents/file_3.pdf",
    }
    media = await _fetch(_files(file))
    assert (media.content, media.mime_type, media.filename) == (
        b"data",
        "application/pdf",
        "file_3.pdf",
    )


async def test_fetch_media_refuses_files_over_20_mb_before_downloading() -> None:
    file = {
        "file_id": "FILE",
        "file_unique_id": "U",
        "file_size": MAX_DOWNLOAD + 1,
        "file_path": "videos/a.mp4",
    }
    with pytest.raises(ProviderError) as caught:
        await _fetch(_files(file))
    assert (caught.value.code, caught.value.retryable) == ("file_too_big", False)


async def test_fetch_media_stops_reading_past_20_mb() -> None:
    file = {"file_id": "FILE", "file_unique_id": "U", "file_path": "videos/a.mp4"}
    with pytest.raises(ProviderError) as caught:
        await _fetch(_files(file, content=b"x" * (MAX_DOWNLOAD + 1)))
    assert caught.value.code == "file_too_big"


async def test_fetch_media_without_a_path_is_unavailable() -> None:
    with pytest.raises(ProviderError) as caught:
        await _fetch(_files({"file_id": "FILE", "file_unique_id": "U"}))
    assert caught.value.code == "file_unavailable"


async def test_fetch_media_of_an_unknown_file() -> None:
    with pytest.raises(ProviderError) as caught:
        await _fetch(_answer(400, _error(400, "Bad Request: invalid file_id")))
    assert (caught.value.code, caught.value.message) == ("400", "Bad Request: invalid file_id")


# -- webhooks -------------------------------------------------------------------------------


def _raw(body: Any, headers: dict[str, str] | None = None) -> RawRequest:
    data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return RawRequest("POST", "https://gw.example/in/tg_1", headers or {}, {}, data)


@pytest.mark.parametrize(
    "headers",
    [
        {"x-telegram-bot-api-secret-token": ""},
        {"x-telegram-bot-api-secret-token": "tg-webhook-secret_012"},
        {"x-telegram-bot-api-secret-token": "tg-webhook-secret_01234"},
        {"x-telegram-bot-api-secret-token": "TG-WEBHOOK-SECRET_0123"},
        {"x-telegram-bot-api-secret-token": "tg-webhook-secret_0123é"},
        {"authorization": "tg-webhook-secret_0123"},
    ],
)
def test_verify_refuses_any_other_token(headers: dict[str, str]) -> None:
    with pytest.raises(SignatureError):
        _adapter().verify(_raw({"update_id": 1}, headers))


def test_parse_refuses_a_body_that_is_not_json() -> None:
    with pytest.raises(ValueError, match="Expecting value"):
        _adapter().parse(_raw(b"<xml/>"))


def _parse(body: Any) -> Any:
    events = _adapter().parse(_raw(body))
    assert len(events) == 1
    return events[0]


GAME = {"id": "9", "from": {"id": 5}, "game_short_name": "g"}
BAD_POINT = {"message_id": 3, "chat": {"id": 5}, "location": {"latitude": "x"}}


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ([{"update_id": 1}], "unknown"),
        ({"update_id": 1}, "unknown"),
        ({"update_id": 1, "message": {"message_id": 3, "date": 1, "text": "no chat"}}, "message"),
        ({"update_id": 1, "message": "not an object"}, "message"),
        ({"update_id": 1, "channel_post": {"message_id": 1}}, "channel_post"),
        ({"update_id": 1, "callback_query": GAME}, "callback_query"),
        ({"update_id": 1, "message": BAD_POINT}, "message"),
    ],
)
def test_what_cannot_be_read_is_an_unknown_event(body: Any, kind: str) -> None:
    event = _parse(body)
    assert isinstance(event, UnknownEvent)
    assert event.kind == kind
    assert event.raw == body


def test_a_group_message_comes_from_the_group_with_the_writers_name() -> None:
    body = {
        "update_id": 1,
        "message": {
            "message_id": 9,
            "from": {"id": 5, "is_bot": False, "first_name": "Ana", "last_name": "Lima"},
            "chat": {"id": -1001234567890, "title": "Equipe", "type": "supergroup"},
            "date": 1735732800,
            "text": "oi",
        },
    }
    event = _parse(body)
    assert isinstance(event, InboundMessage)
    assert (event.sender, event.sender_name, event.provider_message_id) == (
        "-1001234567890",
        "Ana Lima",
        "-1001234567890:9",
    )
    assert event.at.timestamp() == 1735732800


def test_a_callback_on_a_message_without_buttons_has_no_title() -> None:
    body = {
        "update_id": 1,
        "callback_query": {
            "id": "77",
            "from": {"id": 5, "first_name": "Ana"},
            # An inaccessible message: only its chat, id and a zero date are known.
            "message": {"chat": {"id": 5, "type": "private"}, "message_id": 4, "date": 0},
            "chat_instance": "1",
            "data": "pay",
        },
    }
    event = _parse(body)
    assert isinstance(event, InboundMessage)
    assert event.content == {"type": "reply", "reply": {"id": "pay"}}
    assert (event.sender, event.reply_to) == ("5", "5:4")


def _reaction(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> Any:
    body = {
        "update_id": 31,
        "message_reaction": {
            "chat": {"id": 5, "type": "private"},
            "message_id": 4,
            "user": {"id": 5, "first_name": "Ana"},
            "date": 1735732800,
            "old_reaction": old,
            "new_reaction": new,
        },
    }
    return _parse(body)


def _emoji(emoji: str) -> dict[str, str]:
    return {"type": "emoji", "emoji": emoji}


@pytest.mark.parametrize(
    ("old", "new", "emoji"),
    [
        ([_emoji("👍")], [_emoji("🔥")], "🔥"),
        ([_emoji("👍")], [_emoji("👍"), _emoji("🎉")], "🎉"),
        ([_emoji("👍"), _emoji("🎉")], [_emoji("👍")], "👍"),
        ([_emoji("👍")], [], ""),
    ],
)
def test_a_reaction_reports_the_emoji_that_changed(
    old: list[dict[str, Any]], new: list[dict[str, Any]], emoji: str
) -> None:
    event = _reaction(old, new)
    assert isinstance(event, InboundMessage)
    assert event.content == {"type": "reaction", "reaction": {"message_id": "5:4", "emoji": emoji}}
    assert event.provider_message_id == "reaction:31"


def test_a_custom_emoji_reaction_is_unknown() -> None:
    event = _reaction([], [{"type": "custom_emoji", "custom_emoji_id": "5368324170671202286"}])
    assert isinstance(event, UnknownEvent)
    assert event.kind == "message_reaction"


def test_a_pressed_button_carries_the_query_to_answer() -> None:
    fixtures = Path(__file__).parent / "fixtures"
    fixture = json.loads((fixtures / "callback_query.json").read_text())
    adapter = contract.make_adapter("https://api.telegram.org")
    [event] = adapter.parse(_raw(fixture["body"]))
    assert isinstance(event, InboundMessage)
    assert event.ack_token == "4382301939523764735"
