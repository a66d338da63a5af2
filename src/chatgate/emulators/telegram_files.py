"""Files in the Telegram emulator: what a bot sends, what the chat keeps, how each is described.

A file parameter is read as Telegram's Bot API reads it: a file part of a multipart call
under the parameter's own name, ``attach://<name>`` naming another file part (how aiogram
sends every file), an HTTP(S) URL Telegram downloads itself, or the ``file_id`` of a file
the bot already has. Every file sent or received is kept under a ``file_id`` that sends it
again, and ``getFile`` gives the path to download it from.

The emulator downloads a URL only on loopback (a file server of the test's own): it
reaches no other network. A file sent by any other URL is taken on trust, its name and
type read from the URL and its size unknown, so its ``file_size`` is left out (the Bot API
makes it optional) and ``getFile`` gives no path for it.
"""

from __future__ import annotations

import ipaddress
import mimetypes
import posixpath
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from chatgate.emulators.core import EmulatorState
from chatgate.emulators.telegram_wire import BotState, StoredFile, Upload, bad_request, new_file_id

# Telegram downloads files of up to 20 MB from a URL (photos up to 5 MB).
MAX_URL_FILE = 20 * 1024 * 1024
_URL_TIMEOUT = 10.0

Described = dict[str, Any]


@dataclass(frozen=True)
class FileSource:
    """A file parameter, read: its bytes when the emulator has them, or a known file."""

    filename: str | None
    mime_type: str | None
    content: bytes | None = None
    known: StoredFile | None = None
    url: str | None = None


async def read_file(
    params: dict[str, Any], name: str, bot: BotState, http: httpx.AsyncClient
) -> FileSource:
    """The file parameter ``name`` of a call (an upload, ``attach://``, a URL or a file id)."""
    value = params.get(name)
    if isinstance(value, str) and value.startswith("attach://"):
        value = params.get(value.removeprefix("attach://"))
        if not isinstance(value, Upload):
            raise bad_request(f"there is no {name} in the request")
    if value is None or value == "":
        raise bad_request(f"there is no {name} in the request")
    if isinstance(value, Upload):
        if not value.content:
            raise bad_request("file must be non-empty")
        # Telegram types a file by its name; a part's own type says little (aiogram and
        # python-telegram-bot send application/octet-stream for every file).
        given = value.content_type if value.content_type != "application/octet-stream" else None
        mime_type = mimetypes.guess_type(value.filename)[0] or given
        return FileSource(value.filename, mime_type, content=value.content)
    if isinstance(value, str) and urlsplit(value).scheme in ("http", "https"):
        return await _from_url(value, http)
    if isinstance(value, str) and value in bot.files:
        known = bot.files[value]
        return FileSource(known.file_name, known.mime_type, known=known)
    raise bad_request("wrong file identifier/HTTP URL specified")


async def _from_url(url: str, http: httpx.AsyncClient) -> FileSource:
    filename = posixpath.basename(urlsplit(url).path) or None
    guessed = mimetypes.guess_type(filename)[0] if filename else None
    if not _on_loopback(url):
        return FileSource(filename, guessed, url=url)
    try:
        async with http.stream("GET", url, timeout=_URL_TIMEOUT) as response:
            if response.status_code >= 400:
                raise bad_request("failed to get HTTP URL content")
            received = bytearray()
            async for chunk in response.aiter_bytes():
                received += chunk
                if len(received) > MAX_URL_FILE:
                    raise bad_request("failed to get HTTP URL content")
            content = bytes(received)
            content_type = response.headers.get("content-type", "")
    except httpx.HTTPError as exc:
        raise bad_request("failed to get HTTP URL content") from exc
    if not content:
        raise bad_request("wrong type of the web page content")
    mime_type = content_type.split(";", 1)[0].strip().lower() or guessed
    return FileSource(filename, mime_type, content=content, url=url)


def _on_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def store_file(
    state: EmulatorState,
    bot: BotState,
    source: FileSource,
    prefix: str,
    folder: str,
) -> StoredFile:
    """Keep a new file of the chat under a fresh ``file_id`` (downloadable if it has bytes)."""
    file_id, unique_id = new_file_id(prefix)
    content, mime_type = source.content, source.mime_type
    path = None
    if content is not None:
        extension = ".oga" if mime_type == "audio/ogg" else ""
        extension = extension or mimetypes.guess_extension(mime_type or "") or ""
        path = f"{folder}/file_{state.next_number()}{extension}"
        bot.paths[path] = file_id
        state.media[file_id] = (content, mime_type or "application/octet-stream")
    size = None if content is None else len(content)
    stored = StoredFile(file_id, unique_id, path, size, source.filename, mime_type)
    bot.files[file_id] = stored
    return stored


def described(stored: StoredFile) -> Described:
    """The ids and size every file object of the Bot API carries."""
    fields: Described = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
    if stored.file_size is not None:
        fields["file_size"] = stored.file_size
    return fields


def photo_sizes(
    state: EmulatorState, bot: BotState, source: FileSource, prefix: str
) -> list[Described]:
    """The sizes Telegram offers of a photo, smallest first: a thumbnail and the photo.

    The emulator does not scale pictures: both sizes hold the photo's own bytes.
    """
    if source.known is not None:
        return [{**described(source.known), "width": 1280, "height": 1280}]
    sizes = []
    for side in (90, 1280):
        stored = store_file(state, bot, source, prefix, "photos")
        sizes.append({**described(stored), "width": side, "height": side})
    return sizes


def document_like(
    state: EmulatorState, bot: BotState, source: FileSource, prefix: str, folder: str
) -> Described:
    """A Document, Video, Audio or Voice object of a sent or received file (its common part)."""
    stored = source.known or store_file(state, bot, source, prefix, folder)
    fields = described(stored)
    if source.filename:
        fields["file_name"] = source.filename
    if source.mime_type:
        fields["mime_type"] = source.mime_type
    return fields
