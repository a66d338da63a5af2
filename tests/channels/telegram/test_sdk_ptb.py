"""python-telegram-bot judges the emulator: every kind Chatgate sends, the answers parsed
into its types, its own errors, and the emulator's webhooks received by its own webhook
server (which checks the secret token and parses each Update with ``Update.de_json``).

python-telegram-bot sends form-encoded calls, files as multipart parts of their own name,
and the files of an album as ``attach://``.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    KeyboardButton,
    LinkPreviewOptions,
    MessageEntity,
    ReplyKeyboardMarkup,
    ReplyParameters,
    Update,
)
from telegram.error import BadRequest, EndPointNotFound, Forbidden, InvalidToken, RetryAfter
from telegram.ext import Application

from tests.channels.telegram import contract
from tests.channels.telegram.served import FILES, TEXT, USER, Served, adapter_reads
from tests.processes import free_port


def ptb_bot(emulator: Served, token: str = contract.BOT_TOKEN) -> Bot:
    """A python-telegram-bot ``Bot`` whose Bot API server is the emulator."""
    return Bot(
        token,
        base_url=f"{emulator.api_base}/bot",
        base_file_url=f"{emulator.api_base}/file/bot",
    )


@pytest.fixture
async def bot(emulator: Served) -> AsyncIterator[Bot]:
    """The test bot, initialized (its ``getMe`` answered by the emulator)."""
    async with ptb_bot(emulator) as client:
        yield client


# -- what Chatgate sends -------------------------------------------------------------------


async def test_initialize_and_the_webhook_chatgate_sets(bot: Bot) -> None:
    assert (bot.id, bot.username) == (123456, "chatgate_test_bot")
    url = "http://127.0.0.1:9/inbound/ch_1"
    allowed = ["message", "callback_query", "message_reaction"]
    assert await bot.set_webhook(url, secret_token=contract.SECRET_TOKEN, allowed_updates=allowed)
    info = await bot.get_webhook_info()
    assert (info.url, info.allowed_updates) == (url, tuple(allowed))
    assert await bot.delete_webhook()


async def test_text_with_the_entities_telegram_finds(bot: Bot) -> None:
    first = await bot.send_message(
        USER, TEXT, link_preview_options=LinkPreviewOptions(is_disabled=True)
    )
    assert first.from_user is not None
    assert (first.text, first.chat_id, first.from_user.id) == (TEXT, USER, 123456)
    assert list(first.parse_entities().items()) == [
        (MessageEntity("url", 12, 29), "https://chatgate.example/docs"),
        (MessageEntity("bot_command", 50, 5), "/help"),
        (MessageEntity("mention", 57, 17), "@chatgate_support"),
    ]
    reply = await bot.send_message(
        USER, "plain", reply_parameters=ReplyParameters(first.message_id)
    )
    assert reply.entities == ()
    assert reply.reply_to_message is not None
    assert reply.reply_to_message.message_id == first.message_id


async def test_media_by_url_and_by_upload(emulator: Served, bot: Bot) -> None:
    document = await bot.send_document(USER, emulator.file_url("report.pdf"), caption="#invoice")
    assert document.document is not None
    assert (
        document.document.file_name,
        document.document.mime_type,
        document.document.file_size,
    ) == ("report.pdf", "application/pdf", len(FILES["report.pdf"][0]))
    assert document.parse_caption_entities() == {MessageEntity("hashtag", 0, 8): "#invoice"}
    photo = await bot.send_photo(USER, FILES["cat.jpg"][0], caption="upload")
    assert (photo.photo[-1].file_size, photo.caption) == (len(FILES["cat.jpg"][0]), "upload")
    video = await bot.send_video(USER, emulator.file_url("clip.mp4"))
    assert video.video is not None
    assert video.video.file_size == len(FILES["clip.mp4"][0])
    audio = await bot.send_audio(USER, FILES["song.mp3"][0], filename="song.mp3", title="Song")
    assert audio.audio is not None
    assert (audio.audio.file_size, audio.audio.title) == (len(FILES["song.mp3"][0]), "Song")
    voice = await bot.send_voice(USER, emulator.file_url("note.ogg"))
    assert voice.voice is not None
    assert voice.voice.file_size == len(FILES["note.ogg"][0])
    file = await bot.get_file(photo.photo[-1].file_id)
    assert await file.download_as_bytearray() == bytearray(FILES["cat.jpg"][0])


async def test_location_venue_and_contact(bot: Bot) -> None:
    location = await bot.send_location(USER, 38.7223, -9.1393)
    assert location.location is not None
    assert (location.location.latitude, location.location.longitude) == (38.7223, -9.1393)
    venue = await bot.send_venue(USER, 38.7, -9.1, "Chatgate HQ", "Rua Augusta 1")
    assert venue.venue is not None
    assert (venue.venue.title, venue.venue.address) == ("Chatgate HQ", "Rua Augusta 1")
    contact = await bot.send_contact(USER, "+351912345678", "Ada", last_name="Lovelace")
    assert contact.contact is not None
    assert (contact.contact.phone_number, contact.contact.last_name) == (
        "+351912345678",
        "Lovelace",
    )


async def test_inline_and_reply_keyboards(bot: Bot) -> None:
    inline = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("Yes ✓", callback_data="yes")],
            [InlineKeyboardButton("Docs", url="https://chatgate.example/docs")],
        ]
    )
    buttons = await bot.send_message(USER, "Continue?", reply_markup=inline)
    assert buttons.reply_markup == inline
    quick = ReplyKeyboardMarkup(
        [[KeyboardButton("Red")], [KeyboardButton("Blue")]],
        one_time_keyboard=True,
        resize_keyboard=True,
    )
    chosen = await bot.send_message(USER, "Pick a colour", reply_markup=quick)
    assert (chosen.text, chosen.reply_markup) == ("Pick a colour", None)


async def test_album_chat_action_edits_and_deletion(emulator: Served, bot: Bot) -> None:
    assert await bot.send_chat_action(USER, "upload_photo")
    album = await bot.send_media_group(
        USER,
        [InputMediaPhoto(FILES["cat.jpg"][0]), InputMediaPhoto(emulator.file_url("cat.jpg"))],
        caption="Two cats",
    )
    assert [message.caption for message in album] == ["Two cats", None]
    assert album[0].media_group_id is not None
    assert album[0].media_group_id == album[1].media_group_id
    sent = await bot.send_message(USER, "Draft")
    edited = await bot.edit_message_text("Final", chat_id=USER, message_id=sent.message_id)
    assert not isinstance(edited, bool)
    assert (edited.text, edited.edit_date is not None) == ("Final", True)
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("Final", chat_id=USER, message_id=sent.message_id)
    assert await bot.delete_message(USER, sent.message_id)
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(USER, sent.message_id)


# -- errors, as python-telegram-bot raises them ---------------------------------------------


async def test_a_wrong_token_is_an_invalid_token(emulator: Served) -> None:
    with pytest.raises(InvalidToken, match="rejected by the server"):
        async with ptb_bot(emulator, "123456:not-the-token"):
            pass


async def test_an_unknown_method_is_an_endpoint_not_found(bot: Bot) -> None:
    # Telegram answers an unknown method 404 Not Found, as it answers a malformed token:
    # once the token is known good, the library reads it as the method missing.
    with pytest.raises(EndPointNotFound, match="sendTelepathy"):
        await bot.do_api_request("send_telepathy", api_kwargs={"chat_id": USER})


async def test_throttling_is_a_retry_after(
    emulator: Served, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    await emulator.fault(kind="rate_limit", retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(USER, "hi")
    assert caught.value.retry_after == dtm.timedelta(seconds=7)


async def test_a_user_who_never_wrote_is_forbidden(bot: Bot) -> None:
    with pytest.raises(Forbidden, match="can't initiate conversation"):
        await bot.send_message(5550001111, "hello?")


# -- webhooks, received by python-telegram-bot's own server ---------------------------------


@asynccontextmanager
async def ptb_webhook(
    emulator: Served, secret: str, *, set_webhook: bool
) -> AsyncIterator[Webhook]:
    """PTB's webhook server on a loopback port, checking ``secret``; with ``set_webhook``
    PTB itself points the emulator at it (``setWebhook``)."""
    application = (
        Application.builder()
        .token(contract.BOT_TOKEN)
        .base_url(f"{emulator.api_base}/bot")
        .base_file_url(f"{emulator.api_base}/file/bot")
        .build()
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}/webhook"
    async with application:
        await application.updater.start_webhook(
            listen="127.0.0.1",
            port=port,
            url_path="webhook",
            webhook_url=url if set_webhook else None,
            secret_token=secret,
            allowed_updates=["message", "callback_query"],
        )
        try:
            yield Webhook(url, application.update_queue)
        finally:
            await application.updater.stop()


@dataclass
class Webhook:
    """Where PTB's webhook server listens, and the queue it puts parsed updates in."""

    url: str
    queue: asyncio.Queue[object]

    def updates(self) -> list[object]:
        """Every update queued so far."""
        return [self.queue.get_nowait() for _ in range(self.queue.qsize())]


async def test_updates_are_verified_and_parsed_by_ptb(emulator: Served) -> None:
    place = {"latitude": 38.7, "longitude": -9.1, "name": "Cafe", "address": "Rua 1"}
    async with ptb_webhook(emulator, contract.SECRET_TOKEN, set_webhook=True) as webhook:
        await emulator.user_writes(text="/start", first_name="Zoë")
        await emulator.user_writes(location=place)
        deliveries = await emulator.deliveries(2)
        updates = webhook.updates()
    assert [d["status"] for d in deliveries] == [200, 200]
    assert all(isinstance(update, Update) for update in updates)
    start, venue = (update.message for update in updates if isinstance(update, Update))
    assert start is not None
    assert start.from_user is not None
    assert (start.text, start.from_user.first_name) == ("/start", "Zoë")
    assert start.parse_entities() == {MessageEntity("bot_command", 0, 6): "/start"}
    assert venue is not None
    assert venue.venue is not None
    assert (venue.venue.title, venue.venue.location.latitude) == ("Cafe", 38.7)
    # The same updates, parsed by Update.de_json and read by Chatgate's adapter.
    for update, delivery in zip(updates, deliveries, strict=True):
        assert isinstance(update, Update)
        assert Update.de_json(json.loads(delivery["body"]), update.get_bot()) == update
        assert update.message is not None
        event = adapter_reads(delivery)
        assert event.provider_message_id == f"{USER}:{update.message.message_id}"
    assert adapter_reads(deliveries[1]).content == {"type": "location", "location": place}


async def test_a_wrong_secret_token_is_refused_by_ptb(emulator: Served) -> None:
    async with ptb_webhook(emulator, "ptb-expects-this", set_webhook=False) as webhook:
        await emulator.register(webhook_url=webhook.url, secret_token="the-emulator-sends-this")
        await emulator.user_writes(text="hello")
        [delivery] = await emulator.deliveries(1)
        assert (delivery["status"], webhook.updates()) == (403, [])
