"""Inbound media below the API: the media folder's cap, the adapters' caps, the handler.

The end-to-end path (webhook, job, ``GET /v1/media``) is in ``tests/api/test_media.py``;
here are the pieces it relies on, each alone: a download is written whole or not at all,
the cap holds even for a file of undeclared size, and a job whose file was already dealt
with (or whose channel is gone) does not download anything.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from chatgate.channels.base import ChannelSettings, MediaInfo, MediaSink, ProviderError
from chatgate.channels.messenger import MessengerAdapter
from chatgate.channels.telegram import MAX_DOWNLOAD
from chatgate.domain.status import Status
from chatgate.engine.retry import RetryPolicy
from chatgate.services.job_kinds import MEDIA_FETCH_JOB
from chatgate.services.media import clean_filename, clean_mime_type, media_url
from chatgate.services.media_fetch import MediaFetcher
from chatgate.services.media_files import MediaFolder
from chatgate.storage import jobs as job_store
from chatgate.storage import media as media_store
from chatgate.storage.database import Database
from chatgate.storage.media import MediaStatus, StoredMedia
from chatgate.storage.tables import jobs
from chatgate.storage.types import utcnow
from tests.channels.messenger import contract as messenger
from tests.channels.telegram import contract as telegram
from tests.channels.whatsapp import contract as whatsapp
from tests.engine.conftest import store_message
from tests.support import channel_service

CAP = 4096


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def _chunks(count: int, size: int = 1024) -> tuple[Callable[[MediaSink], Any], list[int]]:
    """A download of ``count`` chunks, and the list of chunks it got to hand over."""
    handed: list[int] = []

    async def download(sink: MediaSink) -> MediaInfo:
        for index in range(count):
            handed.append(index)
            await sink(bytes([index % 256]) * size)
        return MediaInfo(mime_type="image/png", filename="a.png")

    return download, handed


# -- the media folder ---------------------------------------------------------------------------


async def test_a_download_is_put_in_place_whole_with_its_digest(tmp_path: Path) -> None:
    folder = MediaFolder(tmp_path, max_bytes=3 * 1024 * 1024)
    # Over one write block, so that the file is written in several pieces.
    download, _ = _chunks(2100)
    written, info = await folder.write("acc_1", "med_1", download)
    expected = b"".join(bytes([i % 256]) * 1024 for i in range(2100))
    assert (written.path, written.size) == ("acc_1/med_1", len(expected))
    assert written.sha256 == hashlib.sha256(expected).hexdigest()
    assert info == MediaInfo(mime_type="image/png", filename="a.png")
    assert _files(tmp_path) == [tmp_path / "acc_1" / "med_1"]
    assert (tmp_path / "acc_1" / "med_1").read_bytes() == expected


async def test_the_cap_stops_a_download_of_undeclared_size(tmp_path: Path) -> None:
    folder = MediaFolder(tmp_path, max_bytes=CAP)
    download, handed = _chunks(1000)
    with pytest.raises(ProviderError) as refused:
        await folder.write("acc_1", "med_1", download)
    assert (refused.value.code, refused.value.retryable) == ("media_too_large", False)
    assert len(handed) == CAP // 1024 + 1  # stopped at the first chunk past the cap
    assert _files(tmp_path) == []


async def test_a_failed_download_leaves_nothing(tmp_path: Path) -> None:
    folder = MediaFolder(tmp_path, max_bytes=10 * 1024 * 1024)

    async def download(sink: MediaSink) -> MediaInfo:
        await sink(b"x" * (2 * 1024 * 1024))  # some of it already written to disk
        raise ProviderError("network_error", "reset", retryable=True)

    with pytest.raises(ProviderError) as failed:
        await folder.write("acc_1", "med_1", download)
    assert failed.value.code == "network_error"
    assert _files(tmp_path) == []


async def test_a_cancelled_download_leaves_nothing(tmp_path: Path) -> None:
    folder = MediaFolder(tmp_path, max_bytes=10 * 1024 * 1024)
    started = asyncio.Event()

    async def download(sink: MediaSink) -> MediaInfo:
        await sink(b"x" * (2 * 1024 * 1024))
        started.set()
        await asyncio.Event().wait()  # never finishes
        raise AssertionError("unreachable")

    task = asyncio.create_task(folder.write("acc_1", "med_1", download))
    async with asyncio.timeout(5):
        await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _files(tmp_path) == []


# -- each adapter holds the caller's cap ------------------------------------------------------


async def _endless(chunk: bytes, count: int, served: list[int]) -> AsyncIterator[bytes]:
    for index in range(count):
        served.append(index)
        yield chunk


def _whatsapp_host(file_size: int | None, served: list[int]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/1478298263174930"):
            answer: dict[str, Any] = {"url": "https://lookaside.fbsbx.com/m?mid=1", "id": "1"}
            if file_size is not None:
                answer["file_size"] = file_size
            return httpx.Response(200, json=answer)
        # No Content-Length: the size shows only as the bytes arrive.
        return httpx.Response(200, content=_endless(b"z" * 1024, 100, served))

    return httpx.MockTransport(handler)


def test_leftovers_of_killed_downloads_are_swept_but_not_fresh_ones(tmp_path: Path) -> None:
    folder = MediaFolder(tmp_path, max_bytes=1024)
    account = tmp_path / "acc_1"
    account.mkdir()
    stale, fresh, stored = (
        account / ".med_1.ab12cd34.part",
        account / ".med_2.ef56ab78.part",
        account / "med_3",
    )
    for path in (stale, fresh, stored):
        path.write_bytes(b"x")
    hour_ago = time.time() - 3600
    os.utime(stale, (hour_ago, hour_ago))
    os.utime(stored, (hour_ago, hour_ago))
    assert folder.sweep_leftovers(older_than_seconds=600) == 1
    assert sorted(p.name for p in account.iterdir()) == [".med_2.ef56ab78.part", "med_3"]
    assert MediaFolder(tmp_path / "none", max_bytes=1).sweep_leftovers(600) == 0


async def test_whatsapp_stops_reading_past_the_callers_cap() -> None:
    served: list[int] = []
    adapter = whatsapp.make_adapter("https://graph.facebook.com")
    async with httpx.AsyncClient(transport=_whatsapp_host(None, served)) as http:
        with pytest.raises(ProviderError) as refused:
            await adapter.fetch_media("1478298263174930", http, max_bytes=CAP)
    assert refused.value.code == "media_too_large"
    assert len(served) < 10


async def test_whatsapp_refuses_a_declared_size_over_the_cap_before_downloading() -> None:
    served: list[int] = []
    adapter = whatsapp.make_adapter("https://graph.facebook.com")
    async with httpx.AsyncClient(transport=_whatsapp_host(CAP + 1, served)) as http:
        with pytest.raises(ProviderError) as refused:
            await adapter.fetch_media("1478298263174930", http, max_bytes=CAP)
    assert (refused.value.code, served) == ("media_too_large", [])


@pytest.mark.parametrize(("max_bytes", "code"), [(CAP, "media_too_large"), (None, "file_too_big")])
async def test_telegram_names_whose_limit_a_file_passes(max_bytes: int | None, code: str) -> None:
    size = CAP + 1 if max_bytes else MAX_DOWNLOAD + 1

    def handler(request: httpx.Request) -> httpx.Response:
        file = {"file_id": "F", "file_unique_id": "U", "file_size": size, "file_path": "a.pdf"}
        return httpx.Response(200, json={"ok": True, "result": file})

    adapter = telegram.make_adapter("https://api.telegram.org")
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        with pytest.raises(ProviderError) as refused:
            await adapter.fetch_media("F", http, max_bytes=max_bytes)
    assert (refused.value.code, refused.value.retryable) == (code, False)


async def test_messenger_stops_reading_past_the_callers_cap() -> None:
    served: list[int] = []

    def cdn(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=_endless(b"m" * 1024, 100, served))

    adapter = MessengerAdapter(messenger.credentials(), ChannelSettings())
    async with httpx.AsyncClient(transport=httpx.MockTransport(cdn)) as http:
        with pytest.raises(ProviderError) as refused:
            await adapter.fetch_media("https://scontent.xx.fbcdn.net/v/a.jpg", http, max_bytes=CAP)
    assert refused.value.code == "media_too_large"
    assert len(served) < 10


# -- names and addresses --------------------------------------------------------------------


def test_media_urls_are_absolute_only_under_a_public_url() -> None:
    assert media_url("https://gw.example/", "med_1") == "https://gw.example/v1/media/med_1"
    assert media_url(None, "med_1") == "/v1/media/med_1"


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("Fatura-março.pdf", "Fatura-março.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\a\\photo.jpg", "photo.jpg"),
        ("evil\r\nX-Header: 1.txt", "evilX-Header: 1.txt"),
        ("", None),
        (None, None),
        ("x" * 300, "x" * 255),
    ],
)
def test_file_names_are_cleaned(given: object, kept: str | None) -> None:
    assert clean_filename(given) == kept


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("image/JPEG", "image/jpeg"),
        ("audio/ogg; codecs=opus", "audio/ogg"),
        ("text/html\r\nSet-Cookie: a=b", None),
        ("nonsense", None),
        (None, None),
    ],
)
def test_media_types_are_cleaned(given: object, kept: str | None) -> None:
    assert clean_mime_type(given) == kept


# -- the handler --------------------------------------------------------------------------


async def _run_media_job(
    database: Database, tmp_path: Path, status: MediaStatus, connection_id: str
) -> tuple[StoredMedia, bool]:
    """Run the job of a new message's media row; the row after, and whether the job is left."""
    now = utcnow()
    message = await store_message(database, Status.RECEIVED, now)
    item = StoredMedia(
        id=f"med_{message.id[4:]}",
        account_id=message.account_id,
        mode=message.mode,
        message_id=message.id,
        connection_id=connection_id,
        reference="1478298263174930",
        status=status,
        mime_type=None,
        size=None,
        sha256=None,
        filename=None,
        path=None,
        error_code=None,
        error_message=None,
        created_at=now,
        stored_at=None,
    )
    async with database.write() as conn:
        await media_store.insert_media(conn, item)
        row = job_store.job_row(
            MEDIA_FETCH_JOB, now, message_id=message.id, payload={"media_id": item.id}
        )
        await job_store.enqueue(conn, [row])
        [job] = await job_store.claim_due_jobs(
            conn, "test", now=now, lease=timedelta(seconds=30), limit=10
        )

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"no download was expected: {request.url.path}")

    async with httpx.AsyncClient(transport=httpx.MockTransport(unreachable)) as http:
        fetcher = MediaFetcher(
            database,
            http,
            channel_service(),
            MediaFolder(tmp_path / "media", CAP),
            RetryPolicy(),
            clock=utcnow,
        )
        outcomes = await fetcher.handle([job])
    async with database.write() as conn:
        for outcome in outcomes:
            await outcome(conn)
        left = await conn.scalar(select(jobs.c.id).where(jobs.c.id == job.id))
        found = await media_store.get_media(conn, item.id, item.account_id, item.mode)
    assert found is not None
    return found, left is not None


async def test_a_job_for_a_removed_channel_fails_without_downloading(
    database: Database, tmp_path: Path
) -> None:
    found, job_left = await _run_media_job(
        database, tmp_path, MediaStatus.PENDING, "ch_01JD5Z6Q2N3F4X8Y9Z0A1B2C3D"
    )
    assert (found.status, found.error_code) == (MediaStatus.FAILED, "channel_not_configured")
    assert not job_left
    assert _files(tmp_path / "media") == []


async def test_a_job_whose_file_is_already_stored_does_nothing(
    database: Database, tmp_path: Path
) -> None:
    found, job_left = await _run_media_job(
        database, tmp_path, MediaStatus.STORED, "ch_01JD5Z6Q2N3F4X8Y9Z0A1B2C3D"
    )
    assert (found.status, found.error_code) == (MediaStatus.STORED, None)
    assert not job_left
