"""The Telegram emulator served on loopback for the SDK tests, with a file server of its own.

aiogram and python-telegram-bot make their own HTTP connections, so the emulator runs on a
real socket (uvicorn, in the test's event loop). Beside it a small file server holds the
media Chatgate would send by URL: the emulator downloads loopback URLs as Telegram
downloads URLs, so the sizes and types it reports are those of real bytes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI, Response

from chatgate.channels.base import InboundMessage, RawRequest
from chatgate.channels.telegram import SECRET_HEADER
from chatgate.emulators.app import create_emulator_app
from chatgate.emulators.core import EmulatorState
from tests.channels.telegram import contract
from tests.support import served_in_this_loop, until

USER = int(contract.USER_ID)
# A text as Chatgate sends it (no parse mode), with entities Telegram finds by itself.
TEXT = "Olá 👋 read https://chatgate.example/docs or type /help, @chatgate_support"
# What the test's file server holds: name -> (bytes, content type).
FILES: dict[str, tuple[bytes, str]] = {
    "report.pdf": (b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n", "application/pdf"),
    "cat.jpg": (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(200)), "image/jpeg"),
    "clip.mp4": (b"\x00\x00\x00\x18ftypmp42" + b"\x01" * 300, "video/mp4"),
    "song.mp3": (b"ID3\x04\x00" + b"\x02" * 420, "audio/mpeg"),
    "note.ogg": (b"OggS\x00\x02" + b"\x03" * 77, "audio/ogg"),
    "page.html": (b"<html><body>not a document</body></html>", "text/html"),
}


def file_server() -> FastAPI:
    """An app serving :data:`FILES` under ``/files/{name}``."""
    app = FastAPI()

    @app.get("/files/{name}")
    async def serve(name: str) -> Response:
        if name not in FILES:
            return Response(status_code=404)
        content, content_type = FILES[name]
        return Response(content=content, media_type=content_type)

    return app


@dataclass
class Served:
    """The emulator's base URL, a client of its control API, and the file server's URL."""

    url: str
    control: httpx.AsyncClient
    files_url: str

    @property
    def api_base(self) -> str:
        """Where the Bot API is: ``{api_base}/bot{token}/{method}``."""
        return f"{self.url}/telegram"

    def file_url(self, name: str) -> str:
        """The loopback URL of one of :data:`FILES`."""
        return f"{self.files_url}/files/{name}"

    async def register(self, **account: Any) -> None:
        """Register the test bot (the contract's account, changed by ``account``)."""
        payload = {**contract.emulator_account(), **account}
        response = await self.control.post("/_emulator/telegram/accounts", json=payload)
        assert response.status_code == 201, response.text

    async def user_writes(self, **payload: Any) -> dict[str, Any]:
        """The test user writes to the bot (text, media, a pressed button...)."""
        body = {"bot_token": contract.BOT_TOKEN, "chat_id": contract.USER_ID, **payload}
        response = await self.control.post("/_emulator/telegram/inbound", json=body)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def fault(self, **fault: Any) -> None:
        """Queue a fault for the next send."""
        response = await self.control.post("/_emulator/telegram/faults", json=fault)
        assert response.status_code == 201, response.text

    async def deliveries(self, count: int) -> list[dict[str, Any]]:
        """Wait until the emulator posted ``count`` webhooks; all of them."""
        found: list[dict[str, Any]] = []

        async def delivered() -> bool:
            nonlocal found
            found = (await self.control.get("/_emulator/deliveries")).json()
            return len(found) >= count

        await until(delivered, limit=5.0)
        return found


@asynccontextmanager
async def served(**account: Any) -> AsyncIterator[Served]:
    """The emulator and the file server on loopback, the test bot registered."""
    state = EmulatorState(http=httpx.AsyncClient(timeout=5.0, trust_env=False))
    async with AsyncExitStack() as stack:
        url = await stack.enter_async_context(served_in_this_loop(create_emulator_app(state)))
        files_url = await stack.enter_async_context(served_in_this_loop(file_server()))
        # Closed before the servers stop, so that no kept-alive connection holds them up.
        stack.push_async_callback(state.close)
        control = await stack.enter_async_context(
            httpx.AsyncClient(base_url=url, trust_env=False, timeout=5.0)
        )
        emulator = Served(url, control, files_url)
        await emulator.register(**account)
        yield emulator


def adapter_reads(delivery: dict[str, Any]) -> InboundMessage:
    """What Chatgate's adapter reads from a webhook the emulator delivered (verified first)."""
    adapter = contract.make_adapter("http://127.0.0.1:9/telegram")
    headers = {SECRET_HEADER: contract.SECRET_TOKEN}
    raw = RawRequest("POST", delivery["url"], headers, {}, delivery["body"].encode("utf-8"))
    adapter.verify(raw)
    [event] = adapter.parse(raw)
    assert isinstance(event, InboundMessage)
    return event
