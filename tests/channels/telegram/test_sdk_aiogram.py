"""aiogram, a Telegram bot framework, judges the emulator: every kind Chatgate sends, the
answers parsed into aiogram's types, its own errors, and the emulator's webhooks verified and
dispatched by aiogram's own webhook handler.

aiogram sends every call as ``multipart/form-data`` and every file as ``attach://``: what
the emulator accepts from it, Telegram accepts.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.filters import CommandStart
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaDocument,
    InputMediaPhoto,
    KeyboardButton,
    LinkPreviewOptions,
    Message,
    ReplyKeyboardMarkup,
    ReplyParameters,
)
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from tests.channels.telegram import contract
from tests.channels.telegram.served import FILES, TEXT, USER, Served, adapter_reads


def aiogram_bot(emulator: Served, token: str = contract.BOT_TOKEN) -> Bot:
    """An aiogram bot whose API server is the emulator."""
    api = TelegramAPIServer.from_base(emulator.api_base)
    return Bot(token, session=AiohttpSession(api=api))


@pytest.fixture
async def bot(emulator: Served) -> AsyncIterator[Bot]:
    """The test bot, through aiogram."""
    client = aiogram_bot(emulator)
    try:
        yield client
    finally:
        await client.session.close()


def _plain(markup: InlineKeyboardMarkup | None) -> dict[str, Any] | None:
    # Parsed objects hold the bot that received them: compare what they say.
    return None if markup is None else markup.model_dump(exclude_none=True)


# -- what Chatgate sends -------------------------------------------------------------------


async def test_get_me_and_the_webhook_chatgate_sets(bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (123456, True, "chatgate_test_bot")
    url = "http://127.0.0.1:9/inbound/ch_1"
    allowed = ["message", "callback_query", "message_reaction"]
    secret = contract.SECRET_TOKEN
    assert await bot.set_webhook(url, secret_token=secret, allowed_updates=allowed)
    info = await bot.get_webhook_info()
    assert (info.url, info.allowed_updates, info.pending_update_count) == (url, allowed, 0)
    assert await bot.delete_webhook()
    assert (await bot.get_webhook_info()).url == ""


async def test_text_with_the_entities_telegram_finds(bot: Bot) -> None:
    first = await bot.send_message(
        USER, TEXT, link_preview_options=LinkPreviewOptions(is_disabled=True)
    )
    assert first.from_user is not None
    assert (first.text, first.chat.id, first.from_user.id) == (TEXT, USER, 123456)
    found = [(entity.type, entity.extract_from(TEXT)) for entity in first.entities or []]
    assert found == [
        ("url", "https://chatgate.example/docs"),
        ("bot_command", "/help"),
        ("mention", "@chatgate_support"),
    ]
    assert first.link_preview_options is not None
    assert first.link_preview_options.is_disabled is True
    reply = await bot.send_message(
        USER, "plain", reply_parameters=ReplyParameters(message_id=first.message_id)
    )
    assert reply.entities is None
    assert reply.reply_to_message is not None
    assert reply.reply_to_message.message_id == first.message_id


async def test_media_by_url_reports_what_was_fetched(emulator: Served, bot: Bot) -> None:
    caption = "Your #invoice"
    document = await bot.send_document(USER, emulator.file_url("report.pdf"), caption=caption)
    assert document.document is not None
    assert (document.document.file_name, document.document.mime_type) == (
        "report.pdf",
        "application/pdf",
    )
    assert document.document.file_size == len(FILES["report.pdf"][0])
    assert document.caption_entities is not None
    assert document.caption_entities[0].extract_from(caption) == "#invoice"
    photo = await bot.send_photo(USER, emulator.file_url("cat.jpg"))
    assert photo.photo is not None
    assert photo.photo[-1].file_size == len(FILES["cat.jpg"][0])
    video = await bot.send_video(USER, emulator.file_url("clip.mp4"), caption="clip")
    assert video.video is not None
    assert (video.video.file_size, video.video.mime_type, video.caption) == (
        len(FILES["clip.mp4"][0]),
        "video/mp4",
        "clip",
    )
    audio = await bot.send_audio(USER, emulator.file_url("song.mp3"))
    assert audio.audio is not None
    assert audio.audio.file_size == len(FILES["song.mp3"][0])
    voice = await bot.send_voice(USER, emulator.file_url("note.ogg"))
    assert voice.voice is not None
    assert (voice.voice.file_size, voice.voice.mime_type) == (
        len(FILES["note.ogg"][0]),
        "audio/ogg",
    )


async def test_a_url_telegram_cannot_use_is_refused(emulator: Served, bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="wrong type of the web page content"):
        await bot.send_document(USER, emulator.file_url("page.html"))
    with pytest.raises(TelegramBadRequest, match="failed to get HTTP URL content"):
        await bot.send_photo(USER, emulator.file_url("missing.jpg"))


async def test_a_url_off_loopback_is_not_fetched_and_has_no_size(bot: Bot) -> None:
    # The emulator reaches no network but loopback: this address is never called.
    sent = await bot.send_document(USER, "https://cdn.example.com/terms.pdf")
    assert sent.document is not None
    assert (sent.document.file_name, sent.document.file_size) == ("terms.pdf", None)


async def test_uploads_by_attach_round_trip_through_get_file(bot: Bot) -> None:
    content = b"quarterly numbers\n" * 40
    sent = await bot.send_document(USER, BufferedInputFile(content, "numbers.txt"))
    assert sent.document is not None
    assert (sent.document.file_name, sent.document.mime_type, sent.document.file_size) == (
        "numbers.txt",
        "text/plain",
        len(content),
    )
    file = await bot.get_file(sent.document.file_id)
    assert file.file_path is not None
    assert file.file_size == len(content)
    downloaded = await bot.download(file)
    assert downloaded is not None
    assert downloaded.read() == content
    again = await bot.send_document(USER, sent.document.file_id)
    assert again.document is not None
    assert again.document.file_unique_id == sent.document.file_unique_id
    assert again.document.file_name == "numbers.txt"


async def test_location_venue_and_contact(bot: Bot) -> None:
    location = await bot.send_location(USER, 38.7223, -9.1393)
    assert location.location is not None
    assert (location.location.latitude, location.location.longitude) == (38.7223, -9.1393)
    venue = await bot.send_venue(USER, 38.7, -9.1, "Chatgate HQ", "Rua Augusta 1")
    assert venue.venue is not None
    assert (venue.venue.title, venue.venue.address) == ("Chatgate HQ", "Rua Augusta 1")
    vcard = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada Lovelace\r\nEMAIL:ada@example.com\r\nEND:VCARD"
    contact = await bot.send_contact(
        USER, "+351912345678", "Ada", last_name="Lovelace", vcard=vcard
    )
    assert contact.contact is not None
    assert (contact.contact.phone_number, contact.contact.vcard) == ("+351912345678", vcard)


async def test_inline_and_reply_keyboards(bot: Bot) -> None:
    inline = InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text="Yes ✓", callback_data="yes")],
            [InlineKeyboardButton(text="Docs", url="https://chatgate.example/docs")],
        ]
    )
    buttons = await bot.send_message(USER, "Continue?", reply_markup=inline)
    assert _plain(buttons.reply_markup) == _plain(inline)
    quick = ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text="Red")], [KeyboardButton(text="Blue")]],
        one_time_keyboard=True,
        resize_keyboard=True,
    )
    chosen = await bot.send_message(USER, "Pick a colour", reply_markup=quick)
    # A message shows only inline keyboards: a reply keyboard is on the user's side.
    assert (chosen.text, chosen.reply_markup) == ("Pick a colour", None)


async def test_album_chat_action_edits_and_deletion(emulator: Served, bot: Bot) -> None:
    assert await bot.send_chat_action(USER, "typing")
    album = await bot.send_media_group(
        USER,
        [
            InputMediaPhoto(media=BufferedInputFile(FILES["cat.jpg"][0], "cat.jpg"), caption="1"),
            InputMediaPhoto(media=emulator.file_url("cat.jpg")),
        ],
    )
    assert [m.caption for m in album] == ["1", None]
    assert album[0].media_group_id is not None
    assert album[0].media_group_id == album[1].media_group_id
    with pytest.raises(TelegramBadRequest, match="document can't be mixed"):
        await bot.send_media_group(
            USER,
            [
                InputMediaPhoto(media=emulator.file_url("cat.jpg")),
                InputMediaDocument(media=emulator.file_url("report.pdf")),
            ],
        )
    sent = await bot.send_message(USER, "Draft")
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Ok", callback_data="ok")]]
    )
    edited = await bot.edit_message_text(
        "Final /help", chat_id=USER, message_id=sent.message_id, reply_markup=markup
    )
    assert isinstance(edited, Message)
    assert (edited.text, _plain(edited.reply_markup)) == ("Final /help", _plain(markup))
    assert edited.edit_date is not None
    assert [entity.type for entity in edited.entities or []] == ["bot_command"]
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(
            "Final /help", chat_id=USER, message_id=sent.message_id, reply_markup=markup
        )
    cleared = await bot.edit_message_reply_markup(chat_id=USER, message_id=sent.message_id)
    assert isinstance(cleared, Message)
    assert cleared.reply_markup is None
    assert await bot.delete_message(USER, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(USER, sent.message_id)


# -- errors, as aiogram raises them ---------------------------------------------------------


async def test_a_wrong_token_is_aiograms_unauthorized_error(emulator: Served) -> None:
    stranger = aiogram_bot(emulator, "123456:not-the-token")
    try:
        with pytest.raises(TelegramUnauthorizedError, match="Unauthorized"):
            await stranger.get_me()
    finally:
        await stranger.session.close()


async def test_throttling_is_aiograms_retry_error(emulator: Served, bot: Bot) -> None:
    await emulator.fault(kind="rate_limit", retry_after=7)
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(USER, "hi")
    assert caught.value.retry_after == 7
    assert (await bot.send_message(USER, "hi")).text == "hi"


async def test_a_user_who_never_wrote_is_forbidden(bot: Bot) -> None:
    with pytest.raises(TelegramForbiddenError, match="can't initiate conversation"):
        await bot.send_message(5550001111, "hello?")


# -- webhooks, received by aiogram's own handler ------------------------------------------


@asynccontextmanager
async def aiogram_webhook(bot: Bot, dispatcher: Dispatcher, secret: str) -> AsyncIterator[str]:
    """aiogram's webhook handler on a loopback port (it checks the secret token); its URL."""
    app = web.Application()
    SimpleRequestHandler(dispatcher, bot, handle_in_background=False, secret_token=secret).register(
        app, path="/webhook"
    )
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/webhook"
    finally:
        await runner.cleanup()


async def test_updates_are_verified_and_dispatched_by_aiogram(emulator: Served, bot: Bot) -> None:
    dispatcher = Dispatcher()
    started: list[Message] = []
    documents: list[bytes] = []
    pressed: list[CallbackQuery] = []

    @dispatcher.message(CommandStart())
    async def start(message: Message) -> None:
        started.append(message)

    @dispatcher.message()
    async def document(message: Message, bot: Bot) -> None:
        assert message.document is not None
        downloaded = await bot.download(message.document)
        assert downloaded is not None
        documents.append(downloaded.read())

    @dispatcher.callback_query()
    async def press(query: CallbackQuery) -> None:
        pressed.append(query)
        assert await query.answer()

    async with aiogram_webhook(bot, dispatcher, contract.SECRET_TOKEN) as url:
        await emulator.register(webhook_url=url)
        await emulator.user_writes(text="/start", first_name="Zoë")
        content = b"%PDF-1.4 signed"
        await emulator.user_writes(
            media={
                "kind": "document",
                "content_base64": "JVBERi0xLjQgc2lnbmVk",
                "mime_type": "application/pdf",
                "filename": "signed.pdf",
            }
        )
        markup = InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="Yes", callback_data="yes")]]
        )
        await bot.send_message(USER, "Continue?", reply_markup=markup)
        await emulator.user_writes(callback={"data": "yes"})
        deliveries = await emulator.deliveries(3)
    assert [d["status"] for d in deliveries] == [200, 200, 200]
    assert [m.text for m in started] == ["/start"]
    assert started[0].from_user is not None
    assert started[0].from_user.first_name == "Zoë"
    assert documents == [content]
    assert [(q.data, q.message.message_id if q.message else None) for q in pressed] == [("yes", 3)]
    # Chatgate's adapter reads the same updates as aiogram does.
    read = [adapter_reads(delivery) for delivery in deliveries]
    assert read[0].content == {"type": "text", "text": "/start"}
    assert read[0].provider_message_id == f"{USER}:{started[0].message_id}"
    assert read[2].content == {"type": "reply", "reply": {"id": "yes", "title": "Yes"}}
    assert read[2].ack_token == pressed[0].id


async def test_a_wrong_secret_token_is_refused_by_aiogram(emulator: Served, bot: Bot) -> None:
    dispatcher = Dispatcher()
    handled: list[Message] = []

    @dispatcher.message()
    async def anything(message: Message) -> None:
        handled.append(message)

    async with aiogram_webhook(bot, dispatcher, "the-secret-aiogram-expects") as url:
        await emulator.register(webhook_url=url)
        await emulator.user_writes(text="hello")
        [delivery] = await emulator.deliveries(1)
    assert (delivery["status"], handled) == (401, [])
