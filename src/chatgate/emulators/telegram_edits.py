"""What a bot changes in a chat of the Telegram emulator: chat actions, edits and deletions.

- ``sendChatAction`` takes Telegram's action names (``typing``, ``upload_photo``...) in any
  case and answers ``true``; it shows nothing the emulator keeps.
- ``editMessageText`` and ``editMessageReplyMarkup`` change a message the bot sent and
  answer it with ``edit_date``; the inline keyboard is replaced by the one given, or taken
  away when none is. A message of the user cannot be edited, a media message has no text
  to edit, and an edit that changes nothing is refused, each with Telegram's error.
- ``deleteMessage`` removes a message of the chat (the bot's or, in a private chat, the
  user's) and answers ``true``.

Messages sent through an inline query (``inline_message_id``) do not exist here.
"""

from __future__ import annotations

from typing import Any

from chatgate.emulators.core import EmulatorState
from chatgate.emulators.telegram_send import Sending, inline_keyboard, text_content
from chatgate.emulators.telegram_wire import BotState, as_int, bad_request, now

# Telegram's Bot API server's names, some of them aliases of one action.
CHAT_ACTIONS = frozenset(
    {
        "cancel",
        "typing",
        "record_video",
        "upload_video",
        "record_audio",
        "record_voice",
        "upload_audio",
        "upload_voice",
        "upload_photo",
        "upload_document",
        "choose_sticker",
        "pick_up_location",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)

Message = dict[str, Any]


def check_chat_action(params: dict[str, Any]) -> None:
    """Refuse an action Telegram does not know (checked before the chat is)."""
    if str(params.get("action") or "").lower() not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")


async def edit_text(
    state: EmulatorState, bot: BotState, chat: str, params: dict[str, Any]
) -> Message:
    """``editMessageText``: the message with its new text, entities and keyboard."""
    content = await text_content(Sending(state, bot, params))
    message = _editable(bot, chat, params)
    if "text" not in message:
        raise bad_request("there is no text in the message to edit")
    markup = inline_keyboard(params)
    if (message["text"], message.get("reply_markup")) == (content["text"], markup):
        raise bad_request(NOT_MODIFIED)
    for name in ("text", "entities", "link_preview_options"):
        message.pop(name, None)
    message.update(content)
    return _edited(message, markup)


def edit_reply_markup(bot: BotState, chat: str, params: dict[str, Any]) -> Message:
    """``editMessageReplyMarkup``: the message with its new inline keyboard (or none)."""
    markup = inline_keyboard(params)
    message = _editable(bot, chat, params)
    if message.get("reply_markup") == markup:
        raise bad_request(NOT_MODIFIED)
    return _edited(message, markup)


def delete_message(bot: BotState, chat: str, params: dict[str, Any]) -> bool:
    """``deleteMessage``: the message is gone from the chat."""
    message_id = as_int(params.get("message_id"))
    if not message_id:
        raise bad_request("message identifier is not specified")
    if bot.messages.pop((chat, message_id), None) is None:
        raise bad_request("message to delete not found")
    return True


def _editable(bot: BotState, chat: str, params: dict[str, Any]) -> Message:
    message_id = as_int(params.get("message_id"))
    if not message_id:
        if params.get("inline_message_id"):
            raise bad_request("message to edit not found")
        raise bad_request("message identifier is not specified")
    message = bot.messages.get((chat, message_id))
    if message is None:
        raise bad_request("message to edit not found")
    if message["from"]["id"] != bot.bot_id:
        raise bad_request("message can't be edited")
    return message


def _edited(message: Message, markup: dict[str, Any] | None) -> Message:
    message.pop("reply_markup", None)
    if markup is not None:
        message["reply_markup"] = markup
    message["edit_date"] = now()
    return message
