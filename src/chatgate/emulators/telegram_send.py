"""The send methods of the Telegram emulator: their checks and the messages they make.

Each ``send*`` method is validated as Telegram validates it (the same error texts) and
answered with the ``Message`` it created: ``message_id`` (numbered per chat), ``from`` (the
bot), ``chat``, ``date`` and the content fields. Files given by URL are not fetched; a
document by URL must be a GIF, PDF or ZIP file as on Telegram, judged by the URL's
extension since the emulator has no network.
"""

from __future__ import annotations

import mimetypes
import posixpath
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from chatgate.channels.telegram_build import ALLOWED_REACTIONS, MAX_CALLBACK_DATA
from chatgate.emulators.telegram_wire import (
    BotState,
    as_float,
    as_int,
    bad_request,
    is_true,
    new_file_id,
)

MAX_TEXT = 4096
MAX_CAPTION = 1024
# Extensions Telegram will take a document from a URL for.
_URL_DOCUMENTS = frozenset({".gif", ".pdf", ".zip"})

Content = dict[str, Any]


def text_content(params: dict[str, Any], bot: BotState) -> Content:
    """``sendMessage``: 1-4096 characters of text, once surrounding blanks are trimmed."""
    text = params.get("text")
    if not isinstance(text, str) or not text.strip():
        raise bad_request("message text is empty")
    if len(text) > MAX_TEXT:
        raise bad_request("message is too long")
    content: Content = {"text": text}
    preview = params.get("link_preview_options")
    if isinstance(preview, dict) and is_true(preview.get("is_disabled")):
        content["link_preview_options"] = {"is_disabled": True}
    return content


def _file(params: dict[str, Any], bot: BotState, name: str) -> tuple[str | None, Any]:
    """The file parameter ``name``: a URL, a known ``file_id`` or an upload."""
    value = params.get(name)
    if value is None or value == "":
        raise bad_request(f"there is no {name} in the request")
    if isinstance(value, dict) and "upload" in value:
        return str(value["upload"]), value
    if isinstance(value, str) and urlsplit(value).scheme in ("http", "https"):
        return posixpath.basename(urlsplit(value).path) or None, value
    if isinstance(value, str) and value in bot.files:
        return posixpath.basename(bot.files[value].file_path), value
    raise bad_request("wrong file identifier/HTTP URL specified")


def _caption(params: dict[str, Any]) -> Content:
    caption = params.get("caption")
    if caption is None or caption == "":
        return {}
    if len(str(caption)) > MAX_CAPTION:
        raise bad_request("message caption is too long")
    return {"caption": str(caption)}


def _described(prefix: str, filename: str | None, **extra: Any) -> Content:
    file_id, unique_id = new_file_id(prefix)
    described: Content = {**extra}
    if filename:
        described["file_name"] = filename
        mime_type = mimetypes.guess_type(filename)[0]
        if mime_type:
            described["mime_type"] = mime_type
    return {**described, "file_id": file_id, "file_unique_id": unique_id, "file_size": 48_213}


def photo_content(params: dict[str, Any], bot: BotState) -> Content:
    """``sendPhoto``: Telegram answers with the sizes it made of the picture."""
    _file(params, bot, "photo")
    sizes = []
    for width, height in ((90, 67), (320, 240), (800, 600)):
        file_id, unique_id = new_file_id("AgACAgIAAxkDAAI")
        sizes.append(
            {
                "file_id": file_id,
                "file_unique_id": unique_id,
                "file_size": width * height // 10,
                "width": width,
                "height": height,
            }
        )
    return {"photo": sizes, **_caption(params)}


def document_content(params: dict[str, Any], bot: BotState) -> Content:
    """``sendDocument``: by URL only a GIF, PDF or ZIP file."""
    filename, value = _file(params, bot, "document")
    if isinstance(value, str) and value not in bot.files:
        extension = posixpath.splitext(filename or "")[1].lower()
        if extension and extension not in _URL_DOCUMENTS:
            raise bad_request("wrong type of the web page content")
    return {"document": _described("BQACAgIAAxkDAAI", filename), **_caption(params)}


def video_content(params: dict[str, Any], bot: BotState) -> Content:
    """``sendVideo``."""
    filename, _ = _file(params, bot, "video")
    described = _described("BAACAgIAAxkDAAI", filename, duration=12, width=1280, height=720)
    return {"video": described, **_caption(params)}


def audio_content(params: dict[str, Any], bot: BotState) -> Content:
    """``sendAudio``."""
    filename, _ = _file(params, bot, "audio")
    return {"audio": _described("CQACAgIAAxkDAAI", filename, duration=185), **_caption(params)}


def voice_content(params: dict[str, Any], bot: BotState) -> Content:
    """``sendVoice``: a voice note has no file name, and is OGG/Opus."""
    _file(params, bot, "voice")
    voice = {**_described("AwACAgIAAxkDAAI", None, duration=4), "mime_type": "audio/ogg"}
    return {"voice": voice, **_caption(params)}


def _point(params: dict[str, Any]) -> Content:
    point: Content = {}
    for name in ("latitude", "longitude"):
        value = as_float(params.get(name))
        if value is None:
            raise bad_request(f"{name} is empty")
        point[name] = value
    return point


def location_content(params: dict[str, Any], bot: BotState) -> Content:
    """``sendLocation``."""
    return {"location": _point(params)}


def venue_content(params: dict[str, Any], bot: BotState) -> Content:
    """``sendVenue``: the message has both ``venue`` and ``location``."""
    point = _point(params)
    venue = {
        "location": point,
        "title": str(params.get("title") or ""),
        "address": str(params.get("address") or ""),
    }
    return {"venue": venue, "location": point}


def contact_content(params: dict[str, Any], bot: BotState) -> Content:
    """``sendContact``: a phone number and a first name are required."""
    contact: Content = {}
    for name in ("phone_number", "first_name"):
        if not params.get(name):
            raise bad_request(f'parameter "{name}" is required')
        contact[name] = str(params[name])
    for name in ("last_name", "vcard"):
        if params.get(name):
            contact[name] = str(params[name])
    return {"contact": contact}


SEND_METHODS: dict[str, Callable[[dict[str, Any], BotState], Content]] = {
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
