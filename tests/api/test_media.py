"""Inbound media end to end, against the platform emulators, on each store.

A user sends a file; the emulator posts the platform's webhook to the gateway, which stores
the message with the file's URL and acknowledges at once; the worker downloads the file
through the platform's API (WhatsApp: media id, then its URL with the token; Telegram:
``getFile``, then the file path) into the media folder; ``GET /v1/media/{id}`` serves it to
the owning account only. The gateway reaches the emulator through a transport that can
hold or fail chosen downloads, to show what happens meanwhile.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import select

from chatgate.api.app import create_app
from chatgate.domain.keys import KeyMode
from chatgate.emulators.app import create_emulator_app
from chatgate.emulators.core import EmulatorState
from chatgate.storage.tables import jobs, media
from tests.api.test_validation import assert_envelope
from tests.channels.telegram import contract as telegram
from tests.channels.whatsapp import contract as whatsapp
from tests.support import Tenant, auth, gateway, make_key, make_tenant, settings_for, until

PUBLIC_URL = "https://gw.example"
MAX_BYTES = 4096
# Small, but no two alike: a served file that matches proves it is this test's file.
PICTURE = bytes(range(256)) * 6
LOOKASIDE = "/_lookaside/whatsapp_business/attachments"


@dataclass
class PlatformLink(httpx.AsyncBaseTransport):
    """The emulator as the gateway reaches it; it can fail or hold the calls it is told to."""

    emulator: FastAPI
    # Path fragment -> statuses to answer, one per matching call, before passing through.
    failures: dict[str, list[int]] = field(default_factory=dict)
    # Path fragment -> an event matching calls wait for.
    holds: dict[str, asyncio.Event] = field(default_factory=dict)
    failed: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.inner = httpx.ASGITransport(app=self.emulator)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Play a queued failure or wait for a hold; otherwise ask the emulator."""
        path = request.url.path
        for fragment, statuses in self.failures.items():
            if fragment in path and statuses:
                status = statuses.pop(0)
                self.failed.append(status)
                return httpx.Response(status, content=b"not now")
        for fragment, released in self.holds.items():
            if fragment in path:
                await released.wait()
        return await self.inner.handle_async_request(request)


@dataclass
class Rig:
    """A running gateway wired to the emulators both ways, and a tenant of it."""

    app: FastAPI
    client: httpx.AsyncClient
    control: httpx.AsyncClient
    link: PlatformLink
    state: EmulatorState
    tenant: Tenant
    media_path: Path

    async def create_channel(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a connection for the tenant; its view."""
        response = await self.client.post("/v1/channels", json=body, headers=auth(self.tenant.live))
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def user_sends(self, platform: str, payload: dict[str, Any]) -> None:
        """The emulator's user sends something; the gateway has acknowledged it on return."""
        response = await self.control.post(f"/_emulator/{platform}/inbound", json=payload)
        assert response.status_code == 200, response.text
        assert [d.status for d in self.state.deliveries][-1] == 200

    async def inbound_media(self) -> dict[str, Any]:
        """The ``media`` part of the tenant's only inbound message."""
        listed = await self.client.get(
            "/v1/messages", params={"direction": "inbound"}, headers=auth(self.tenant.live)
        )
        [message] = listed.json()["data"]
        assert message["content"]["type"] == "media"
        part: dict[str, Any] = message["content"]["media"]
        return part

    async def settled(self, media_id: str, secret: str | None = None) -> httpx.Response:
        """``GET /v1/media/{id}`` once it no longer answers ``media_pending``."""
        answer: list[httpx.Response] = []

        async def done() -> bool:
            response = await self.get(media_id, secret)
            answer[:] = [response]
            return response.status_code != 409

        await until(done)
        return answer[0]

    async def get(self, media_id: str, secret: str | None = None) -> httpx.Response:
        """``GET /v1/media/{id}`` with the tenant's live key (or ``secret``)."""
        return await self.client.get(
            f"/v1/media/{media_id}", headers=auth(secret or self.tenant.live)
        )

    def files_on_disk(self) -> list[Path]:
        """Every file under the media folder, temporary ones included."""
        return sorted(p for p in self.media_path.rglob("*") if p.is_file())


@asynccontextmanager
async def rig(database_url: str, tmp_path: Path, **overrides: Any) -> AsyncIterator[Rig]:
    """A gateway whose platform calls reach the emulator and whose webhooks come from it."""
    values: dict[str, Any] = {
        "public_url": PUBLIC_URL,
        "media_path": str(tmp_path / "media"),
        "media_max_bytes": MAX_BYTES,
        "retry_base_seconds": 0.01,
        "retry_cap_seconds": 0.05,
        "worker_poll_seconds": 0.05,
        **overrides,
    }
    app = create_app(settings_for(database_url, **values))
    to_gateway = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), timeout=10.0)
    state = EmulatorState(http=to_gateway)
    emulator = create_emulator_app(state)
    link = PlatformLink(emulator)
    # Before the lifespan starts, so that the worker it builds calls through the link.
    await gateway(app).http.aclose()
    gateway(app).http = httpx.AsyncClient(transport=link, timeout=10.0)
    try:
        async with (
            LifespanManager(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://testserver"
            ) as client,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=emulator), base_url="http://emulator"
            ) as control,
        ):
            tenant = await make_tenant(app)
            yield Rig(app, client, control, link, state, tenant, tmp_path / "media")
            for hold in link.holds.values():
                hold.set()
    finally:
        await state.close()
        await to_gateway.aclose()


async def _whatsapp(r: Rig) -> None:
    """A WhatsApp number connected to the tenant, its webhooks pointed at the gateway."""
    created = await r.create_channel(
        {
            "type": "whatsapp",
            "name": "support",
            "credentials": {
                "access_token": whatsapp.ACCESS_TOKEN,
                "phone_number_id": whatsapp.PHONE_NUMBER_ID,
                "app_secret": whatsapp.APP_SECRET,
                "verify_token": whatsapp.VERIFY_TOKEN,
            },
            # An address, not a name: a connection's host is checked, and tests look
            # nothing up in the DNS (the link reaches the emulator whatever the host).
            "settings": {"api_base": "http://127.0.0.1/graph"},
        }
    )
    account = whatsapp.emulator_account(created["inbound_url"])
    response = await r.control.post("/_emulator/whatsapp/accounts", json=account)
    assert response.status_code == 201, response.text


async def _whatsapp_image(r: Rig, content: bytes = PICTURE) -> dict[str, Any]:
    await _whatsapp(r)
    media = {
        "kind": "image",
        "content_base64": base64.b64encode(content).decode(),
        "mime_type": "image/png",
        "caption": "Recibo",
    }
    payload = {"phone_number_id": whatsapp.PHONE_NUMBER_ID, "from": whatsapp.RECIPIENT}
    await r.user_sends("whatsapp", {**payload, "media": media})
    return await r.inbound_media()


async def _telegram(r: Rig) -> None:
    """The test bot connected to the tenant: the gateway sets its webhook itself."""
    response = await r.control.post(
        "/_emulator/telegram/accounts", json=telegram.emulator_account()
    )
    assert response.status_code == 201, response.text
    created = await r.create_channel(
        {
            "type": "telegram",
            "name": "bot",
            "credentials": {"bot_token": telegram.BOT_TOKEN, "secret_token": telegram.SECRET_TOKEN},
            "settings": {"api_base": "http://127.0.0.1/telegram"},
        }
    )
    assert created["webhook_registered"] is True


async def _telegram_document(r: Rig, content: bytes, filename: str) -> dict[str, Any]:
    await _telegram(r)
    media = {
        "kind": "document",
        "mime_type": "application/pdf",
        "filename": filename,
        "content_base64": base64.b64encode(content).decode(),
    }
    payload = {"bot_token": telegram.BOT_TOKEN, "chat_id": telegram.USER_ID, "first_name": "Zoë"}
    await r.user_sends("telegram", {**payload, "media": media})
    return await r.inbound_media()


async def _row(r: Rig, media_id: str) -> dict[str, Any]:
    async with gateway(r.app).database.read() as conn:
        row = (await conn.execute(select(media).where(media.c.id == media_id))).one()
    return dict(row._mapping)


# -- WhatsApp: media id -> URL -> download with the token -----------------------------------


async def test_a_whatsapp_image_is_downloaded_stored_and_served(
    database_url: str, tmp_path: Path
) -> None:
    async with rig(database_url, tmp_path) as r:
        part = await _whatsapp_image(r)
        media_id = part["media_id"]
        assert media_id.startswith("med_")
        assert part["url"] == f"{PUBLIC_URL}/v1/media/{media_id}"
        assert (part["kind"], part["caption"]) == ("image", "Recibo")
        assert part["reference"].isdigit()  # the platform's media id is kept too

        served = await r.settled(media_id)
        assert served.status_code == 200, served.text
        assert served.content == PICTURE
        assert served.headers["content-type"] == "image/png"
        assert served.headers["content-disposition"] == "attachment"
        assert served.headers["cache-control"].startswith("private")
        assert served.headers["x-content-type-options"] == "nosniff"
        row = await _row(r, media_id)
        assert (row["status"], row["size"]) == ("stored", len(PICTURE))
        assert row["sha256"] == hashlib.sha256(PICTURE).hexdigest()
        assert r.files_on_disk() == [r.media_path / r.tenant.account_id / media_id]
        # An operator who removes the file gets a clear answer, not a server error.
        r.files_on_disk()[0].unlink()
        assert_envelope(await r.get(media_id), 410, "media_unavailable", "id")


async def test_media_is_only_for_the_owning_account_with_a_reading_key(
    database_url: str, tmp_path: Path
) -> None:
    async with rig(database_url, tmp_path) as r:
        media_id = (await _whatsapp_image(r))["media_id"]
        assert (await r.settled(media_id)).status_code == 200
        stranger = await make_tenant(r.app)
        assert_envelope(await r.get(media_id, stranger.live), 404, "not_found", "id")
        # A test key of the same account sees the sandbox, not live traffic.
        assert_envelope(await r.get(media_id, r.tenant.test), 404, "not_found", "id")
        _, sender = await make_key(
            r.app, r.tenant.account_id, KeyMode.LIVE, scopes=frozenset({"messages:send"})
        )
        assert_envelope(await r.get(media_id, sender), 403, "insufficient_scope", None)
        anonymous = await r.client.get(f"/v1/media/{media_id}")
        assert_envelope(anonymous, 401, "unauthenticated", "Authorization")
        unknown = await r.get("med_01JD5Z6Q2N3F4X8Y9Z0A1B2C3D")
        assert_envelope(unknown, 404, "not_found", "id")


async def test_the_webhook_is_acknowledged_before_the_download(
    database_url: str, tmp_path: Path
) -> None:
    async with rig(database_url, tmp_path) as r:
        released = r.link.holds[LOOKASIDE] = asyncio.Event()
        # user_sends returns once the gateway answered 200: the download is still held.
        part = await _whatsapp_image(r)
        pending = await r.get(part["media_id"])
        assert_envelope(pending, 409, "media_pending", "id")
        final = r.media_path / r.tenant.account_id / part["media_id"]
        assert not final.exists()
        released.set()
        served = await r.settled(part["media_id"])
        assert served.content == PICTURE


async def test_a_transient_download_error_is_retried(database_url: str, tmp_path: Path) -> None:
    async with rig(database_url, tmp_path) as r:
        r.link.failures[LOOKASIDE] = [503, 502]
        part = await _whatsapp_image(r)
        served = await r.settled(part["media_id"])
        assert served.status_code == 200, served.text
        assert served.content == PICTURE
        assert r.link.failed == [503, 502]


async def test_retries_end_in_a_failure_that_says_why(database_url: str, tmp_path: Path) -> None:
    async with rig(database_url, tmp_path, send_max_attempts=2) as r:
        r.link.failures[LOOKASIDE] = [503] * 5
        part = await _whatsapp_image(r)
        gone = await r.settled(part["media_id"])
        assert_envelope(gone, 410, "media_unavailable", "id")
        assert "http_503" in gone.json()["error"]["message"]
        assert r.link.failed == [503, 503]
        row = await _row(r, part["media_id"])
        assert (row["status"], row["error_code"]) == ("failed", "http_503")
        assert r.files_on_disk() == []
        async with gateway(r.app).database.read() as conn:
            left = await conn.scalar(
                select(jobs.c.id).where(jobs.c.message_id == row["message_id"])
            )
        assert left is None


async def test_a_permanent_refusal_is_not_retried(database_url: str, tmp_path: Path) -> None:
    async with rig(database_url, tmp_path) as r:
        r.link.failures[LOOKASIDE] = [404, 404]
        part = await _whatsapp_image(r)
        gone = await r.settled(part["media_id"])
        assert_envelope(gone, 410, "media_unavailable", "id")
        assert r.link.failed == [404]


async def test_a_file_over_the_cap_fails_and_leaves_nothing(
    database_url: str, tmp_path: Path
) -> None:
    async with rig(database_url, tmp_path) as r:
        part = await _whatsapp_image(r, content=b"\x89PNG" + b"\0" * MAX_BYTES)
        gone = await r.settled(part["media_id"])
        assert_envelope(gone, 410, "media_unavailable", "id")
        assert "media_too_large" in gone.json()["error"]["message"]
        row = await _row(r, part["media_id"])
        assert (row["status"], row["error_code"], row["path"]) == (
            "failed",
            "media_too_large",
            None,
        )
        assert r.files_on_disk() == []


# -- Telegram: getFile -> file path -----------------------------------------------------------


async def test_a_telegram_document_is_downloaded_with_its_name(
    database_url: str, tmp_path: Path
) -> None:
    document = b"%PDF-1.7 " + bytes(range(200))
    async with rig(database_url, tmp_path) as r:
        part = await _telegram_document(r, document, "Fatura-março.pdf")
        assert part["url"] == f"{PUBLIC_URL}/v1/media/{part['media_id']}"
        served = await r.settled(part["media_id"])
        assert served.status_code == 200, served.text
        assert served.content == document
        assert served.headers["content-type"] == "application/pdf"
        disposition = served.headers["content-disposition"]
        assert disposition.startswith("attachment;")
        assert "Fatura-mar%C3%A7o.pdf" in disposition
        assert r.files_on_disk() == [r.media_path / r.tenant.account_id / part["media_id"]]


async def test_telegram_retries_a_failed_get_file(database_url: str, tmp_path: Path) -> None:
    async with rig(database_url, tmp_path) as r:
        r.link.failures["/getFile"] = [502]
        part = await _telegram_document(r, b"%PDF-1.4 retry", "a.pdf")
        served = await r.settled(part["media_id"])
        assert served.status_code == 200, served.text
        assert served.content == b"%PDF-1.4 retry"
        assert r.link.failed == [502]


async def test_a_telegram_file_over_the_cap_fails_and_leaves_nothing(
    database_url: str, tmp_path: Path
) -> None:
    async with rig(database_url, tmp_path) as r:
        part = await _telegram_document(r, b"%PDF-" + b"x" * MAX_BYTES, "big.pdf")
        gone = await r.settled(part["media_id"])
        assert_envelope(gone, 410, "media_unavailable", "id")
        assert "media_too_large" in gone.json()["error"]["message"]
        assert r.files_on_disk() == []


async def test_without_a_public_url_the_media_url_is_relative(
    database_url: str, tmp_path: Path
) -> None:
    async with rig(database_url, tmp_path, public_url=None) as r:
        part = await _whatsapp_image(r)
        assert part["url"] == f"/v1/media/{part['media_id']}"
        assert (await r.settled(part["media_id"])).status_code == 200
        served = await r.client.get(part["url"], headers=auth(r.tenant.live))
        assert served.content == PICTURE
