"""The send methods of the Telegram emulator: their checks and the messages they make.

Each ``send*`` method is validated as Telegram validates it (the same error texts) and
answered with the ``Message`` it created: ``message_id`` (numbered per chat), ``from`` (the
bot), ``chat``, ``date`` and the content fields. Files are read as
:mod:`chatgate.emulators.telegram_files` describes (uploads, ``attach://``, URLs, file
ids) and reported with their real size when the emulator has their bytes. A document by
URL must be a GIF, PDF or ZIP file as on Telegram, judged by its content type when the
emulator downloaded it, else by the URL's extension. Texts and captions carry the
entities :mod:`chatgate.emulators.telegram_text` finds.
"""

from __future__ import annotations

import posixpath
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from chatgate.channels.telegram_build import ALLOWED_REACTIONS, MAX_CALLBACK_DATA
from chatgate.emulators.core import EmulatorState
from chatgate.emulators.telegram_files import FileSource, document_like, photo_sizes, read_file
from chatgate.emulators.telegram_text import with_entities
from chatgate.emulators.telegram_wire import BotState, as_float, as_int, bad_request, is_true, now

MAX_TEXT = 4096
MAX_CAPTION = 1024
# What Telegram will take a document from a URL as: by content type, or by extension.
_URL_DOCUMENT_TYPES = frozenset({"application/pdf", "application/zip", "image/gif"})
_URL_DOCUMENTS = frozenset({".gif", ".pdf", ".zip"})

Content = dict[str, Any]


@dataclass(frozen=True)
class Sending:
    """One send call being answered: its parameters, the bot, and where files are kept."""

    state: EmulatorState
    bot: BotState
    params: dict[str, Any]

    async def file(self, name: str) -> FileSource:
        """The file parameter ``name``, read (a URL on loopback is downloaded)."""
        return await read_file(self.params, name, self.bot, self.state.http)

    def int_param(self, name: str, default: int) -> int:
        """A whole-number parameter the sender may set (a duration, a width...)."""
        value = as_int(self.params.get(name))
        return default if value is None or value < 0 else value


async def text_content(call: Sending) -> Content:
    """``sendMessage``: 1-4096 characters of text, once surrounding blanks are trimmed."""
    text = call.params.get("text")
    if not isinstance(text, str) or not text.strip():
        raise bad_request("message text is empty")
    if len(text) > MAX_TEXT:
        raise bad_request("message is too long")
    content = with_entities("text", text, call.params.get("entities"))
    preview = call.params.get("link_preview_options")
    if isinstance(preview, dict) and is_true(preview.get("is_disabled")):
        content["link_preview_options"] = {"is_disabled": True}
    return content


def caption_of(params: dict[str, Any]) -> Content:
    """The ``caption`` of a media message, with its entities (checked before the file)."""
    caption = params.get("caption")
    if caption is None or caption == "":
        return {}
    if len(str(caption)) > MAX_CAPTION:
        raise bad_request("message caption is too long")
    return with_entities("caption", str(caption), params.get("caption_entities"))


async def photo_content(call: Sending) -> Content:
    """``sendPhoto``: Telegram answers with the sizes it made of the picture."""
    caption = caption_of(call.params)
    source = await call.file("photo")
    return {"photo": photo_sizes(call.state, call.bot, source, "AgACAgIAAxkDAAI"), **caption}


async def document_content(call: Sending) -> Content:
    """``sendDocument``: by URL only a GIF, PDF or ZIP file."""
    caption = caption_of(call.params)
    source = await call.file("document")
    if source.url is not None and not _document_by_url(source):
        raise bad_request("wrong type of the web page content")
    document = document_like(call.state, call.bot, source, "BQACAgIAAxkDAAI", "documents")
    return {"document": document, **caption}


def _document_by_url(source: FileSource) -> bool:
    if source.content is not None:
        return source.mime_type in _URL_DOCUMENT_TYPES
    extension = posixpath.splitext(source.filename or "")[1].lower()
    return not extension or extension in _URL_DOCUMENTS


async def video_content(call: Sending) -> Content:
    """``sendVideo``: the sender's duration and size, else those of a short HD clip."""
    caption = caption_of(call.params)
    source = await call.file("video")
    video = document_like(call.state, call.bot, source, "BAACAgIAAxkDAAI", "videos")
    video.update(
        duration=call.int_param("duration", 12),
        width=call.int_param("width", 1280),
        height=call.int_param("height", 720),
    )
    return {"video": video, **caption}


async def audio_content(call: Sending) -> Content:
    """``sendAudio``: with the sender's duration, performer and title."""
    caption = caption_of(call.params)
    source = await call.file("audio")
    audio = document_like(call.state, call.bot, source, "CQACAgIAAxkDAAI", "music")
    audio["duration"] = call.int_param("duration", 185)
    for name in ("performer", "title"):
        if call.params.get(name):
            audio[name] = str(call.params[name])
    return {"audio": audio, **caption}


async def voice_content(call: Sending) -> Content:
    """``sendVoice``: a voice note has no file name, and is OGG/Opus unless told otherwise."""
    caption = caption_of(call.params)
    source = await call.file("voice")
    voice = document_like(call.state, call.bot, source, "AwACAgIAAxkDAAI", "voice")
    voice.pop("file_name", None)
    voice["mime_type"] = source.mime_type or "audio/ogg"
    voice["duration"] = call.int_param("duration", 4)
    return {"voice": voice, **caption}


def _point(params: dict[str, Any]) -> Content:
    point: Content = {}
    for name in ("latitude", "longitude"):
        value = as_float(params.get(name))
        if value is None:
            raise bad_request(f"{name} is empty")
        point[name] = value
    return point


async def location_content(call: Sending) -> Content:
    """``sendLocation``."""
    return {"location": _point(call.params)}


async def venue_content(call: Sending) -> Content:
    """``sendVenue``: the message has both ``venue`` and ``location``."""
    point = _point(call.params)
    venue = {
        "location": point,
        "title": str(call.params.get("title") or ""),
        "address": str(call.params.get("address") or ""),
    }
    return {"venue": venue, "location": point}


async def contact_content(call: Sending) -> Content:
    """``sendContact``: a phone number and a first name are required."""
    params = call.params
    contact: Content = {}
    for name in ("phone_number", "first_name"):
        if not params.get(name):
            raise bad_request(f'parameter "{name}" is required')
        contact[name] = str(params[name])
    for name in ("last_name", "vcard"):
        if params.get(name):
            contact[name] = str(params[name])
    return {"contact": contact}


ContentBuilder = Callable[[Sending], Awaitable[Content]]
SEND_METHODS: dict[str, ContentBuilder] = {
    "sendmessage": text_content,
    "sendphoto": photo_content,
    "senddocument": document_content,
    "sendvideo": video_content,
    "sendaudio": audio_content,
    "sendvoice": voice_content,
    "sendlocation": location_content,
    "sendvenue": venue_content,
    "sendcontact": contact_content,
}


def new_message(
    bot: BotState,
    chat: str,
    content: Content,
    replied: dict[str, Any] | None,
    markup: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A message the bot sends to ``chat``, kept for replies, edits and reactions."""
    message: dict[str, Any] = {
        "message_id": bot.next_message_id(chat),
        "from": bot.user(),
        "chat": bot.chat(chat),
        "date": now(),
    }
    if replied is not None:
        message["reply_to_message"] = replied
    message.update(content)
    if markup is not None:
        message["reply_markup"] = markup
    bot.store(chat, message)
    return message


def inline_keyboard(params: dict[str, Any]) -> dict[str, Any] | None:
    """The inline keyboard to attach to the message (checked); reply keyboards are not shown.

    A reply keyboard is checked too, but a ``Message`` only ever shows an inline keyboard.
    """
    markup = params.get("reply_markup")
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        for button in _buttons(markup["inline_keyboard"], "inline keyboard"):
            _check_inline(button)
        return {"inline_keyboard": markup["inline_keyboard"]}
    if "keyboard" in markup:
        for button in _buttons(markup["keyboard"], "keyboard"):
            text = button if isinstance(button, str) else button.get("text")
            if not isinstance(text, str) or not text:
                raise bad_request("can't parse keyboard button: Text must be non-empty")
        return None
    if is_true(markup.get("remove_keyboard")) or is_true(markup.get("force_reply")):
        return None
    raise bad_request("can't parse reply keyboard markup JSON object")


def _buttons(rows: Any, what: str) -> list[Any]:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(f"can't parse reply keyboard markup JSON object: {what} must be an Array")
    return [button for row in rows for button in row]


def _check_inline(button: Any) -> None:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise bad_request("can't parse inline keyboard button: Text must be a String")
    if "callback_data" in button:
        data = button["callback_data"]
        size = len(data.encode("utf-8")) if isinstance(data, str) else 0
        if not 1 <= size <= MAX_CALLBACK_DATA:
            raise bad_request("BUTTON_DATA_INVALID")
    elif "url" in button:
        if urlsplit(str(button["url"])).scheme not in ("http", "https", "tg"):
            raise bad_request("BUTTON_URL_INVALID")
    else:
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )


def reply_target(params: dict[str, Any], bot: BotState, chat: str) -> dict[str, Any] | None:
    """The message being answered (``reply_parameters`` or the older ``reply_to_message_id``)."""
    parameters = params.get("reply_parameters")
    if parameters is None and params.get("reply_to_message_id") is not None:
        parameters = {"message_id": params["reply_to_message_id"]}
    if parameters is None:
        return None
    if not isinstance(parameters, dict):
        raise bad_request("can't parse reply parameters JSON object")
    message_id = as_int(parameters.get("message_id"))
    target = bot.message(chat, message_id) if message_id is not None else None
    if target is None and not is_true(parameters.get("allow_sending_without_reply")):
        raise bad_request("message to be replied not found")
    return target


def reaction_types(params: dict[str, Any]) -> list[dict[str, Any]]:
    """``setMessageReaction``'s ``reaction``: at most one, from Telegram's emoji list."""
    reaction = params.get("reaction", [])
    if not isinstance(reaction, list):
        raise bad_request("can't parse reaction types JSON object")
    for item in reaction:
        if not isinstance(item, dict) or item.get("type") != "emoji":
            raise bad_request("REACTION_INVALID")
        if item.get("emoji") not in ALLOWED_REACTIONS:
            raise bad_request("REACTION_INVALID")
    if len(reaction) > 1:
        raise bad_request("REACTIONS_TOO_MANY")
    return [{"type": "emoji", "emoji": item["emoji"]} for item in reaction]
