"""The Telegram emulator behaves like the Bot API: auth, checks, answers, rules, webhooks."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from chatgate.channels.base import InboundMessage, ProviderError
from tests.channels.telegram import contract
from tests.channels.telegram.world import BOT_API, World, world

TEXT = {"type": "text", "text": "Olá 👋"}
USER = int(contract.USER_ID)


def _error(response: httpx.Response) -> tuple[int, str]:
    body = response.json()
    assert body["ok"] is False
    assert body["error_code"] == response.status_code
    return response.status_code, body["description"]


async def _received(w: World) -> list[dict[str, Any]]:
    response = await w.client.get("/_emulator/telegram/received")
    assert response.status_code == 200
    found: list[dict[str, Any]] = response.json()
    return found


# -- auth and routing -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status", "description"),
    [
        ("/telegram/botnot-a-token/getMe", 404, "Not Found"),
        ("/telegram/bot123456:WRONG-secret/getMe", 401, "Unauthorized"),
        ("/telegram/bot999:TEST-token/getMe", 401, "Unauthorized"),
        (f"{BOT_API}/getUpdatez", 404, "Not Found"),
    ],
)
async def test_tokens_and_methods_are_checked(path: str, status: int, description: str) -> None:
    async with world() as w:
        assert _error(await w.client.post(path, json={})) == (status, description)


async def test_get_me_answers_in_any_case_and_by_get() -> None:
    async with world() as w:
        response = await w.client.get(f"{BOT_API}/GETME")
        assert response.status_code == 200
        me = response.json()["result"]
        assert (me["id"], me["is_bot"], me["username"]) == (123456, True, "chatgate_test_bot")


# -- conversation rules -------------------------------------------------------------------


async def test_a_bot_cannot_write_first() -> None:
    async with world() as w:
        response = await w.call("sendMessage", chat_id=USER, text="hi")
        assert _error(response) == (403, "Forbidden: bot can't initiate conversation with a user")
        with pytest.raises(ProviderError) as caught:
            await w.send(TEXT)
        assert (caught.value.code, caught.value.retryable) == ("403", False)
        await w.user_writes(text="/start")
        assert await w.send(TEXT) == f"{contract.USER_ID}:2"


@pytest.mark.parametrize("chat_id", ["-1001234567890", "@nowhere"])
async def test_unknown_groups_and_channels_are_not_found(chat_id: str) -> None:
    async with world() as w:
        response = await w.call("sendMessage", chat_id=chat_id, text="hi")
        assert _error(response) == (400, "Bad Request: chat not found")


async def test_message_ids_count_per_chat_for_both_sides() -> None:
    async with world() as w:
        first = await w.user_writes(text="one")
        sent = await w.send(TEXT)
        second = await w.user_writes(text="two", chat_id="5550001111")
        assert (first["id"], sent, second["id"]) == (
            f"{contract.USER_ID}:1",
            f"{contract.USER_ID}:2",
            "5550001111:1",
        )
        received = await _received(w)
        assert [(r["message_id"], r["recipient"], r["status"]) for r in received] == [
            (sent, contract.USER_ID, 200)
        ]


# -- validation ------------------------------------------------------------------------------


BUTTON = {"text": "A", "callback_data": "x" * 65}


@pytest.mark.parametrize(
    ("method", "params", "description"),
    [
        ("sendMessage", {"text": "   "}, "Bad Request: message text is empty"),
        ("sendMessage", {}, "Bad Request: message text is empty"),
        ("sendMessage", {"text": "x" * 4097}, "Bad Request: message is too long"),
        (
            "sendMessage",
            {"text": "hi", "reply_markup": {"inline_keyboard": [[BUTTON]]}},
            "Bad Request: BUTTON_DATA_INVALID",
        ),
        (
            "sendMessage",
            {"text": "hi", "reply_markup": {"inline_keyboard": [[{"text": "A"}]]}},
            "Bad Request: can't parse inline keyboard button: "
            "Text buttons are unallowed in the inline keyboard",
        ),
        (
            "sendMessage",
            {"text": "hi", "reply_parameters": {"message_id": 99}},
            "Bad Request: message to be replied not found",
        ),
        ("sendPhoto", {"caption": "no photo"}, "Bad Request: there is no photo in the request"),
        (
            "sendPhoto",
            {"photo": "not-a-file-id"},
            "Bad Request: wrong file identifier/HTTP URL specified",
        ),
        (
            "sendPhoto",
            {"photo": "https://cdn.example.com/a.jpg", "caption": "x" * 1025},
            "Bad Request: message caption is too long",
        ),
        (
            "sendDocument",
            {"document": "https://cdn.example.com/a.docx"},
            "Bad Request: wrong type of the web page content",
        ),
        ("sendLocation", {"longitude": 2.0}, "Bad Request: latitude is empty"),
        ("sendContact", {"phone_number": "+1"}, 'Bad Request: parameter "first_name" is required'),
        ("setMessageReaction", {"message_id": 99}, "Bad Request: message to react not found"),
        ("setMessageReaction", {"message_id": "x"}, "Bad Request: message to react not found"),
        (
            "setMessageReaction",
            {"message_id": 1, "reaction": [{"type": "emoji", "emoji": "🦖"}]},
            "Bad Request: REACTION_INVALID",
        ),
        ("sendMessage", {"chat_id": ""}, "Bad Request: chat_id is empty"),
    ],
)
async def test_calls_are_checked_as_telegram_checks_them(
    method: str, params: dict[str, Any], description: str
) -> None:
    async with world() as w:
        await w.user_writes(text="/start")
        response = await w.call(method, **{"chat_id": USER, **params})
        assert _error(response) == (400, description)
        assert (await _received(w))[-1]["status"] == 400


async def test_a_form_body_with_json_objects_is_understood() -> None:
    async with world() as w:
        await w.user_writes(text="/start")
        markup = {"inline_keyboard": [[{"text": "Yes ✓", "callback_data": "yes"}]]}
        form = {"chat_id": str(USER), "text": "Ça va ?", "reply_markup": json.dumps(markup)}
        response = await w.client.post(f"{BOT_API}/sendMessage", data=form)
        assert response.status_code == 200, response.text
        message = response.json()["result"]
        assert (message["text"], message["reply_markup"]) == ("Ça va ?", markup)


async def test_query_parameters_and_a_broken_json_body() -> None:
    async with world() as w:
        await w.user_writes(text="/start")
        response = await w.client.get(
            f"{BOT_API}/sendMessage", params={"chat_id": USER, "text": "q"}
        )
        assert response.json()["result"]["text"] == "q"
        broken = await w.client.post(
            f"{BOT_API}/sendMessage",
            content=b"{not json",
            headers={"content-type": "application/json"},
        )
        assert _error(broken) == (400, "Bad Request: can't parse JSON object")


async def test_a_multipart_upload_counts_as_a_photo() -> None:
    async with world() as w:
        await w.user_writes(text="/start")
        response = await w.client.post(
            f"{BOT_API}/sendPhoto",
            data={"chat_id": str(USER), "caption": "upload"},
            files={"photo": ("cat.jpg", b"\xff\xd8\xff", "image/jpeg")},
        )
        assert response.status_code == 200, response.text
        assert response.json()["result"]["caption"] == "upload"
        recorded = (await _received(w))[-1]["body"]
        assert recorded["photo"] == {"upload": "cat.jpg", "size": 3}


async def test_a_sent_message_is_a_full_message() -> None:
    async with world() as w:
        await w.user_writes(text="Olá", first_name="Zoë")
        response = await w.call(
            "sendMessage",
            chat_id=USER,
            text="Bem-vinda",
            link_preview_options={"is_disabled": True},
            reply_parameters={"message_id": 1},
            reply_markup={"inline_keyboard": [[{"text": "Site", "url": "https://example.com"}]]},
        )
        message = response.json()["result"]
        assert message["from"]["is_bot"] is True
        assert message["chat"] == {"id": USER, "first_name": "Zoë", "type": "private"}
        assert message["reply_to_message"]["text"] == "Olá"
        assert message["link_preview_options"] == {"is_disabled": True}
        assert message["reply_markup"]["inline_keyboard"][0][0]["url"] == "https://example.com"
        assert isinstance(message["date"], int)


async def test_a_reaction_on_a_message_of_the_chat() -> None:
    async with world() as w:
        written = await w.user_writes(text="Olá")
        content = {"type": "reaction", "reaction": {"message_id": written["id"], "emoji": "❤️"}}
        assert await w.send(content) == f"{written['id']}:reaction"
        assert (await _received(w))[-1]["body"]["reaction"] == [{"type": "emoji", "emoji": "❤"}]


# -- faults ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status", "description", "retry_after"),
    [
        ({"kind": "server_error"}, 502, "Bad Gateway", None),
        ({"kind": "rate_limit"}, 429, "Too Many Requests: retry after 3", 3),
        ({"kind": "rate_limit", "retry_after": 11}, 429, "Too Many Requests: retry after 11", 11),
        ({"kind": "invalid_recipient"}, 400, "Bad Request: chat not found", None),
        (
            {"kind": "permanent"},
            400,
            "Bad Request: not enough rights to send text messages to the chat",
            None,
        ),
        (
            {"kind": "async_failure"},
            400,
            "Bad Request: not enough rights to send text messages to the chat",
            None,
        ),
    ],
)
async def test_faults_answer_as_telegram_fails(
    fault: dict[str, Any], status: int, description: str, retry_after: int | None
) -> None:
    async with world() as w:
        await w.user_writes(text="/start")
        await w.fault(**fault)
        response = await w.call("sendMessage", chat_id=USER, text="hi")
        assert _error(response) == (status, description)
        assert response.json().get("parameters", {}).get("retry_after") == retry_after
        assert (await w.call("sendMessage", chat_id=USER, text="hi")).status_code == 200


async def test_the_adapter_reads_the_retry_hint() -> None:
    async with world() as w:
        await w.user_writes(text="/start")
        await w.fault(kind="rate_limit", retry_after=2.5)
        with pytest.raises(ProviderError) as caught:
            await w.send(TEXT)
        assert (caught.value.code, caught.value.retryable, caught.value.retry_after) == (
            "429",
            True,
            3.0,
        )


async def test_a_fault_for_one_recipient_spares_the_others() -> None:
    async with world() as w:
        await w.user_writes(text="/start")
        await w.user_writes(text="/start", chat_id="5550001111")
        await w.fault(kind="server_error", recipient="5550001111")
        assert (await w.call("sendMessage", chat_id=USER, text="hi")).status_code == 200
        refused = await w.call("sendMessage", chat_id=5550001111, text="hi")
        assert refused.status_code == 502


async def test_a_timeout_delays_the_answer() -> None:
    async with world() as w:
        await w.user_writes(text="/start")
        await w.fault(kind="timeout", seconds=0.01)
        assert await w.send(TEXT) == f"{contract.USER_ID}:2"


async def test_faults_leave_other_methods_alone() -> None:
    async with world() as w:
        await w.fault(kind="server_error")
        assert (await w.client.get(f"{BOT_API}/getMe")).status_code == 200
        assert (await w.client.get(f"{BOT_API}/getWebhookInfo")).status_code == 200


# -- webhooks --------------------------------------------------------------------------------


async def test_a_user_message_is_posted_with_the_secret_token() -> None:
    async with world() as w:
        written = await w.user_writes(text="Привет 👋", first_name="Зоя")
        (request,) = await w.webhooks(1)
        assert request.headers["x-telegram-bot-api-secret-token"] == contract.SECRET_TOKEN
        assert request.headers["content-type"] == "application/json"
        # Telegram sends UTF-8 as is, not as \\u escapes.
        assert "Привет 👋".encode() in request.body
        assert json.loads(request.body) == written["body"]
        w.adapter.verify(request)
        (event,) = w.adapter.parse(request)
        assert isinstance(event, InboundMessage)
        assert (event.provider_message_id, event.sender, event.recipient, event.sender_name) == (
            written["id"],
            contract.USER_ID,
            contract.BOT_ID,
            "Зоя",
        )
        assert event.content == {"type": "text", "text": "Привет 👋"}


async def test_update_ids_increase_by_one() -> None:
    async with world() as w:
        first = await w.user_writes(text="a")
        second = await w.user_writes(text="b")
        assert second["body"]["update_id"] == first["body"]["update_id"] + 1


async def test_reactions_are_only_posted_when_asked_for() -> None:
    async with world(allowed_updates=None) as w:
        written = await w.user_writes(text="a")
        reacted = await w.user_writes(reaction={"message_id": written["id"], "emoji": "👍"})
        assert reacted["id"] == f"reaction:{reacted['body']['update_id']}"
        assert [json.loads(r.body)["update_id"] for r in await w.webhooks(1)] == [
            written["body"]["update_id"]
        ]
    async with world() as w:
        written = await w.user_writes(text="a")
        await w.user_writes(reaction={"message_id": written["id"], "emoji": "👍"})
        removed = await w.user_writes(reaction={"message_id": written["id"], "emoji": ""})
        requests = await w.webhooks(3)
        assert json.loads(requests[-1].body) == removed["body"]
        (event,) = w.adapter.parse(requests[-1])
        assert isinstance(event, InboundMessage)
        assert event.content == {
            "type": "reaction",
            "reaction": {"message_id": written["id"], "emoji": ""},
        }


async def test_without_a_webhook_nothing_is_posted() -> None:
    async with world(webhook_url=None) as w:
        await w.user_writes(text="a")
        assert w.state.deliveries == []


async def test_register_webhook_points_updates_at_the_gateway() -> None:
    async with world(webhook_url=None, secret_token=None, allowed_updates=None) as w:
        assert await w.adapter.register_webhook("http://gateway/webhooks/telegram", w.client)
        info = (await w.client.get(f"{BOT_API}/getWebhookInfo")).json()["result"]
        assert info["url"] == "http://gateway/webhooks/telegram"
        assert "message_reaction" in info["allowed_updates"]
        written = await w.user_writes(text="a")
        await w.user_writes(reaction={"message_id": written["id"], "emoji": "🔥"})
        requests = await w.webhooks(2)
        for request in requests:
            w.adapter.verify(request)
        again = await w.call("setWebhook", url="http://gateway/webhooks/telegram")
        assert again.json()["description"] == "Webhook was set"
        deleted = await w.call("deleteWebhook")
        assert deleted.json() == {"ok": True, "result": True, "description": "Webhook was deleted"}


# -- buttons and media ---------------------------------------------------------------------


async def test_a_pressed_button_comes_back_with_its_title() -> None:
    async with world() as w:
        await w.user_writes(text="/start")
        content = {
            "type": "interactive",
            "interactive": {
                "kind": "buttons",
                "body": "Did it arrive? 📦",
                "buttons": [
                    {"type": "reply", "id": "yes", "title": "Sim ✓"},
                    {"type": "reply", "id": "no", "title": "Não"},
                ],
            },
        }
        sent = await w.send(content)
        pressed = await w.user_writes(callback={"data": "yes"})
        request = (await w.webhooks(2))[-1]
        (event,) = w.adapter.parse(request)
        assert isinstance(event, InboundMessage)
        assert event.provider_message_id == pressed["id"]
        assert event.content == {"type": "reply", "reply": {"id": "yes", "title": "Sim ✓"}}
        assert event.reply_to == sent
        query_id = pressed["body"]["callback_query"]["id"]
        answered = await w.call("answerCallbackQuery", callback_query_id=query_id)
        assert answered.json() == {"ok": True, "result": True}
        again = await w.call("answerCallbackQuery", callback_query_id=query_id)
        assert _error(again) == (
            400,
            "Bad Request: query is too old and response timeout expired or query ID is invalid",
        )


@pytest.mark.parametrize(
    ("media", "kind", "mime_type", "filename"),
    [
        # A photo carries no mime type; the download has one.
        ({"kind": "image", "mime_type": "image/jpeg"}, "image", None, None),
        (
            {"kind": "document", "mime_type": "application/pdf", "filename": "Fatura-março.pdf"},
            "document",
            "application/pdf",
            "Fatura-março.pdf",
        ),
        ({"kind": "audio", "mime_type": "audio/ogg", "voice": True}, "audio", "audio/ogg", None),
        ({"kind": "video", "mime_type": "video/mp4"}, "video", "video/mp4", None),
        ({"kind": "sticker", "mime_type": "image/webp"}, "sticker", "image/webp", None),
    ],
)
async def test_media_a_user_sends_can_be_downloaded(
    media: dict[str, Any], kind: str, mime_type: str | None, filename: str | None
) -> None:
    content = "🐱 bytes of the file".encode()
    async with world() as w:
        payload = {**media, "content_base64": base64.b64encode(content).decode(), "caption": "olha"}
        await w.user_writes(media=payload)
        (request,) = await w.webhooks(1)
        (event,) = w.adapter.parse(request)
        assert isinstance(event, InboundMessage)
        found = event.content["media"]
        assert (found["kind"], found.get("mime_type"), found.get("filename")) == (
            kind,
            mime_type,
            filename,
        )
        assert found["caption"] == "olha"
        downloaded = await w.adapter.fetch_media(found["reference"], w.client)
        assert (downloaded.content, downloaded.mime_type) == (content, media["mime_type"])


async def test_unknown_files_and_paths() -> None:
    async with world() as w:
        with pytest.raises(ProviderError) as caught:
            await w.adapter.fetch_media("AgACAgIAAxkBAAIunknown", w.client)
        assert caught.value.message == "Bad Request: invalid file_id"
        missing = await w.client.get(f"/telegram/file/bot{contract.BOT_TOKEN}/photos/file_0.jpg")
        assert _error(missing) == (404, "Not Found")
