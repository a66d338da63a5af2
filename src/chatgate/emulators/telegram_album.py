"""``sendMediaGroup`` in the Telegram emulator: an album of 1-10 photos, videos, documents or
audio files.

``media`` is an array of InputMedia ``{type, media, caption?, ...}``, each ``media`` a URL,
a ``file_id`` or ``attach://<part>``. The whole album is checked before any file is read,
with the errors of Telegram's Bot API server and TDLib: documents go only with documents
and audio files only with audio files; a refused album sends and keeps nothing. An album
of one item is sent as one message outside any album, as TDLib sends it; the messages of a
larger one share a ``media_group_id``.
"""

from __future__ import annotations

from typing import Any

from chatgate.emulators.telegram_send import (
    Content,
    ContentBuilder,
    Sending,
    audio_content,
    document_content,
    photo_content,
    video_content,
)
from chatgate.emulators.telegram_wire import Upload, bad_request

MAX_ALBUM = 10
_KINDS: dict[str, ContentBuilder] = {
    "photo": photo_content,
    "video": video_content,
    "document": document_content,
    "audio": audio_content,
}
# What an item may say of itself besides its file; the rest of the call is not its own.
_ITEM_FIELDS = ("caption", "caption_entities", "duration", "width", "height", "performer", "title")
_ALONE = ("document", "audio")


async def album_contents(call: Sending) -> list[Content]:
    """The content of each message of the album, in order (files read only once all is valid)."""
    items = _items(call.params)
    kinds = [item["type"] for item in items]
    for kind in _ALONE:
        if kind in kinds and any(other != kind for other in kinds):
            raise bad_request(f"{kind} can't be mixed with other media types")
    uploads = {name: value for name, value in call.params.items() if isinstance(value, Upload)}
    contents = []
    for item in items:
        fields = {name: item[name] for name in _ITEM_FIELDS if name in item}
        params = {**uploads, **fields, item["type"]: item["media"]}
        contents.append(await _KINDS[item["type"]](Sending(call.state, call.bot, params)))
    return contents


def _items(params: dict[str, Any]) -> list[dict[str, Any]]:
    media = params.get("media")
    if media is None or media == "":
        raise bad_request('parameter "media" is required')
    if not isinstance(media, list):
        raise bad_request("expected an Array of InputMedia")
    if not media:
        raise bad_request("there are no messages to send")
    for item in media:
        _check_item(item, params)
    if len(media) > MAX_ALBUM:
        raise bad_request("too many messages to send as an album")
    return media


def _check_item(item: Any, params: dict[str, Any]) -> None:
    if not isinstance(item, dict):
        raise _unreadable("expected an Object")
    kind = item.get("type")
    if not isinstance(kind, str):
        raise _unreadable('Can\'t find field "type"')
    media = item.get("media")
    if not isinstance(media, str) or not media:
        raise _unreadable("media not found")
    if media.startswith("attach://") and not isinstance(
        params.get(media.removeprefix("attach://")), Upload
    ):
        raise _unreadable("media not found")
    if kind == "animation":
        raise _unreadable('type "animation" can\'t be used in sendMediaGroup')
    if kind not in _KINDS:
        raise _unreadable(f'type "{kind}" is unsupported')


def _unreadable(reason: str) -> Exception:
    return bad_request(f"can't parse InputMedia: {reason}")
