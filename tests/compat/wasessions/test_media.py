"""The page's formats and limits, checked before a file is sent: the type and size learned
from the file's server (HEAD, else the first byte of a ranged GET, else counted up to the
limit), never the whole file, through the gateway's guarded client."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chatgate.guarded_http import guarded_client
from chatgate.net_guard import NetworkPolicy
from tests.compat.wasessions.conftest import (
    BASE,
    MB,
    PHONE,
    Files,
    refused,
    working_session,
)
from tests.support import auth, gateway


async def _media(
    client: httpx.AsyncClient, secret: str, url: str, kind: str = "image"
) -> httpx.Response:
    body = {"to": PHONE, "mediaUrl": url, "mediaType": kind}
    return await client.post(f"{BASE}/messages/media", json=body, headers=auth(secret))


async def _audio(client: httpx.AsyncClient, secret: str, url: str) -> httpx.Response:
    body = {"to": PHONE, "audioUrl": url, "ptt": True}
    return await client.post(f"{BASE}/messages/audio", json=body, headers=auth(secret))


@pytest.fixture
async def sender(app: FastAPI, client: httpx.AsyncClient, was_test: str) -> str:
    """The test key, its account with a working session."""
    await working_session(app, client, was_test)
    return was_test


@pytest.mark.parametrize("mode", ["plain", "nohead", "silent", "unsized"])
async def test_a_file_within_the_limits_is_sent_however_its_server_answers(
    client: httpx.AsyncClient, sender: str, files: Files, mode: str
) -> None:
    for name, kind in (("photo.jpg", "image"), ("clip.mov", "video")):
        answer = await _media(client, sender, files.url(name, mode), kind)
        assert answer.status_code == 202, answer.text
    # The whole file was read only where the server said nothing of its size.
    whole = 2048 + 1024
    read = {"plain": 0, "nohead": 2, "silent": whole, "unsized": 2 + whole}
    assert files.server.sent == read[mode]


async def test_the_size_is_learned_without_downloading_the_file(
    client: httpx.AsyncClient, sender: str, files: Files
) -> None:
    ok = await _media(client, sender, files.url("clip.mp4", "nohead"), "video")
    assert ok.status_code == 202, ok.text
    assert files.server.requests == [("HEAD", "/nohead/clip.mp4"), ("GET", "/nohead/clip.mp4")]
    assert files.server.sent == 1  # 40 MB, of which the first byte


@pytest.mark.parametrize(
    ("name", "kind", "mode", "said"),
    [
        ("big.png", "image", "plain", "is 17.0 MB, past the limit of images"),
        ("big.png", "image", "nohead", "is 17.0 MB, past the limit of images"),
        ("huge.png", "image", "silent", "is larger than 16 MB, past the limit of images"),
        ("huge.webm", "video", "plain", "is 65.0 MB, past the limit of videos"),
    ],
)
async def test_a_file_past_its_limit_is_refused_naming_the_limit(
    client: httpx.AsyncClient,
    sender: str,
    files: Files,
    name: str,
    kind: str,
    mode: str,
    said: str,
) -> None:
    body = refused(
        await _media(client, sender, files.url(name, mode), kind),
        400,
        "media_too_large",
        "mediaUrl",
    )
    assert body["message"].startswith(said), body
    limit = "JPEG, PNG, WebP, GIF (16 MB)" if kind == "image" else "MP4, 3GPP, MOV, WebM (64 MB)"
    assert body["message"].endswith(limit)
    # Read no further than the limit and one byte, even from a server that says nothing of
    # the size (the server gets ahead of the reader by what the sockets buffer, no more).
    assert files.server.sent < 40 * MB


async def test_a_voice_note_past_16_mb_is_refused(
    client: httpx.AsyncClient, sender: str, files: Files
) -> None:
    body = refused(
        await _audio(client, sender, files.url("long.wav")), 400, "media_too_large", "audioUrl"
    )
    assert body["message"].endswith("MP3, OGG, AAC, WAV, Opus (16 MB)")


@pytest.mark.parametrize(
    ("send", "name", "shown"),
    [
        ("image", "photo.bmp", "is image/bmp; images may be JPEG, PNG, WebP, GIF (16 MB)"),
        ("image", "page.jpg", "is text/html; images may be JPEG, PNG, WebP, GIF (16 MB)"),
        ("video", "photo.jpg", "is image/jpeg; videos may be MP4, 3GPP, MOV, WebM (64 MB)"),
        ("audio", "song.flac", "is audio/flac; audio may be MP3, OGG, AAC, WAV, Opus (16 MB)"),
        ("audio", "clip.mov", "is video/quicktime; audio may be MP3, OGG, AAC, WAV, Opus (16 MB)"),
    ],
)
async def test_a_file_of_another_type_is_refused_naming_the_formats(
    client: httpx.AsyncClient, sender: str, files: Files, send: str, name: str, shown: str
) -> None:
    if send == "audio":
        answer, field = await _audio(client, sender, files.url(name)), "audioUrl"
    else:
        answer, field = await _media(client, sender, files.url(name), send), "mediaUrl"
    assert refused(answer, 400, "unsupported_format", field)["message"] == shown


async def test_a_file_served_without_a_type_is_known_by_its_extension(
    client: httpx.AsyncClient, sender: str, files: Files
) -> None:
    answer = await _audio(client, sender, files.url("song.mp3"))
    assert answer.status_code == 202, answer.text


@pytest.mark.parametrize(
    ("mode", "code", "said"),
    [
        ("missing", "media_unreachable", "the URL answered 404"),
        ("redirect", "media_redirected", "the URL answered 302 (a redirect): give the file's"),
    ],
)
async def test_a_url_that_does_not_serve_the_file_is_refused(
    client: httpx.AsyncClient, sender: str, files: Files, mode: str, code: str, said: str
) -> None:
    body = refused(
        await _media(client, sender, files.url("photo.jpg", mode)), 400, code, "mediaUrl"
    )
    assert body["message"].startswith(said)


async def test_a_server_that_cannot_be_reached_is_refused(
    client: httpx.AsyncClient, sender: str, files: Files
) -> None:
    # The discard port: nothing listens there on a test machine.
    answer = await _media(client, sender, "http://127.0.0.1:9/photo.jpg")
    refused(answer, 400, "media_unreachable", "mediaUrl")


async def test_private_addresses_are_refused_by_the_guard(
    app: FastAPI, client: httpx.AsyncClient, sender: str, files: Files
) -> None:
    served = gateway(app)
    guarded = served.http
    served.http = guarded_client(NetworkPolicy(allow_private=False), timeout=httpx.Timeout(5.0))
    try:
        answer = await _media(client, sender, files.url("photo.jpg"))
    finally:
        await served.http.aclose()
        served.http = guarded
    body: dict[str, Any] = refused(answer, 400, "address_not_allowed", "mediaUrl")
    assert files.server.requests == []  # nothing reached the file server
    assert body["message"].startswith("the file cannot be fetched")
