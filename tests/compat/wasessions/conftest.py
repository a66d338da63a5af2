"""WhatsApp-sessions tests: keys of the dialect, sessions made working, and a loopback
server of files for the media checks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chatgate.compat.wasessions.ids import from_uuid
from chatgate.domain.dialects import Dialect
from chatgate.domain.keys import KeyMode
from chatgate.services.sessions import Pairing
from chatgate.storage.types import utcnow
from tests.support import Tenant, auth, gateway, make_key, served_in_this_loop

BASE = "/compat/wasessions/api/v1"
PHONE = "+237612345678"
MB = 1024 * 1024


@pytest.fixture
async def was_test(app: FastAPI, tenant: Tenant) -> str:
    """A test key of the dialect (``was_test_…``), every scope."""
    _, secret = await make_key(app, tenant.account_id, KeyMode.TEST, dialect=Dialect.WASESSIONS)
    return secret


@pytest.fixture
async def was_live(app: FastAPI, tenant: Tenant) -> str:
    """A live key of the dialect (``was_live_…``), every scope."""
    _, secret = await make_key(app, tenant.account_id, KeyMode.LIVE, dialect=Dialect.WASESSIONS)
    return secret


async def create_session(
    client: httpx.AsyncClient, secret: str, session_key: str = "my-session"
) -> dict[str, Any]:
    """A session made through the dialect, as created."""
    made = await client.post(
        f"{BASE}/sessions", json={"session_key": session_key}, headers=auth(secret)
    )
    assert made.status_code == 201, made.text
    created: dict[str, Any] = made.json()
    return created


async def set_state(app: FastAPI, session_uuid: str, state: str, **pairing: str) -> None:
    """Put a session in ``state`` as its runner would report it (a phone when working)."""
    found = Pairing(jid="237612345678@s.whatsapp.net", phone=PHONE, name="Ada", device_state=None)
    async with gateway(app).database.write() as conn:
        await gateway(app).sessions.change_state(
            conn,
            from_uuid("ses", session_uuid),
            state,  # type: ignore[arg-type]
            reason=pairing.get("reason"),
            now=utcnow(),
            pairing=found if state == "working" else None,
        )


async def working_session(
    app: FastAPI, client: httpx.AsyncClient, secret: str, session_key: str = "my-session"
) -> dict[str, Any]:
    """A session made through the dialect and then paired (its state set as a runner
    would), as created."""
    created = await create_session(client, secret, session_key)
    await set_state(app, created["id"], "working")
    return created


@pytest.fixture
async def served(app: FastAPI) -> AsyncIterator[str]:
    """``app`` on a loopback port: the in-process transport cannot stream."""
    async with served_in_this_loop(app) as base_url:
        yield base_url


@dataclass(frozen=True)
class File:
    """A file the loopback server serves: its type (``None``: no Content-Type) and size."""

    content_type: str | None
    size: int


# How the server answers, by the path's first part:
#   plain:    HEAD with Content-Length; GET the whole file.
#   nohead:   HEAD 405; GET honours Range (206 with Content-Range).
#   silent:   HEAD without Content-Length; GET ignores Range and streams with no length.
#   unsized:  HEAD 405; a ranged GET is 206 of an unknown total (bytes 0-0/*), a whole GET
#             streams with no length.
#   redirect: 302 to /plain/…; missing: 404.
FILES: dict[str, File] = {
    "image.jpg": File("image/jpeg", 2048),
    "photo.jpg": File("image/jpeg", 2048),
    "photo.bmp": File("image/bmp", 2048),
    "page.jpg": File("text/html", 512),
    "big.png": File("image/png", 17 * MB),
    "huge.png": File("image/png", 48 * MB),
    "clip.mp4": File("video/mp4", 40 * MB),
    "clip.mov": File("video/quicktime", 1024),
    "huge.webm": File("video/webm", 65 * MB),
    "voice.ogg": File("audio/ogg; codecs=opus", 4096),
    "song.mp3": File(None, 4096),
    "song.flac": File("audio/flac", 4096),
    "long.wav": File("audio/wav", 16 * MB + 1),
}


class FileServer:
    """A raw ASGI server of :data:`FILES`, counting the bytes of bodies it sent."""

    def __init__(self) -> None:
        self.sent = 0
        self.requests: list[tuple[str, str]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        method, path = scope["method"], scope["path"]
        self.requests.append((method, path))
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        _, mode, name = path.split("/", 2)
        found = FILES.get(name)
        if mode == "redirect":
            await self._answer(send, 302, [("location", f"/plain/{name}")])
            return
        if found is None or mode == "missing":
            await self._answer(send, 404, [], b"no such file")
            return
        typed = [("content-type", found.content_type)] if found.content_type else []
        if method == "HEAD":
            if mode in ("nohead", "unsized"):
                await self._answer(send, 405, [])
            elif mode == "silent":
                await self._answer(send, 200, typed)
            else:
                await self._answer(send, 200, [*typed, ("content-length", str(found.size))])
            return
        if mode in ("nohead", "unsized") and headers.get("range") == "bytes=0-0":
            total = found.size if mode == "nohead" else "*"
            ranged = [*typed, ("content-range", f"bytes 0-0/{total}")]
            self.sent += 1
            await self._answer(send, 206, [*ranged, ("content-length", "1")], b"x")
            return
        length = [] if mode in ("silent", "unsized") else [("content-length", str(found.size))]
        await send({"type": "http.response.start", "status": 200, "headers": _raw(typed + length)})
        chunk = b"x" * 65536
        left = found.size
        while left > 0:
            piece = chunk[: min(left, len(chunk))]
            left -= len(piece)
            self.sent += len(piece)
            await send({"type": "http.response.body", "body": piece, "more_body": left > 0})

    async def _answer(
        self, send: Any, status: int, headers: list[tuple[str, str]], body: bytes = b""
    ) -> None:
        if body:
            headers = [*headers, ("content-length", str(len(body)))]
        await send({"type": "http.response.start", "status": status, "headers": _raw(headers)})
        await send({"type": "http.response.body", "body": body})


def _raw(headers: list[tuple[str, str | None]]) -> list[tuple[bytes, bytes]]:
    return [(k.encode(), (v or "").encode()) for k, v in headers]


@dataclass(frozen=True)
class Files:
    """The running file server and how to name its files."""

    server: FileServer
    base: str

    def url(self, name: str, mode: str = "plain") -> str:
        """The URL of ``name`` served in ``mode``."""
        return f"{self.base}/{mode}/{name}"


@pytest.fixture
async def files() -> AsyncIterator[Files]:
    """The file server on a loopback port (the test gateway may reach loopback)."""
    server = FileServer()
    async with served_in_this_loop(server) as base:
        yield Files(server, base)


def refused(answer: httpx.Response, status: int, code: str, field: str | None) -> dict[str, Any]:
    """Assert the dialect's refusal body with ``status``, ``code`` and ``field``; the body."""
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    assert set(body) == {"statusCode", "error", "code", "message", "field"}, body
    assert (body["statusCode"], body["code"], body["field"]) == (status, code, field), body
    assert body["message"]
    return body
