"""The ``media_fetch`` job handler: download an inbound attachment into the media folder.

The download goes through the connection's adapter (a WhatsApp media id becomes a URL,
fetched with the token; a Telegram ``file_id`` goes through ``getFile``) and streams to disk
under the size cap. Like every handler, the network work happens outside any transaction
and the outcome (stored, retried later, or failed for good) is written by the worker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.channels.base import MediaInfo, ProviderError
from chatgate.engine.clock import Clock
from chatgate.engine.retry import RetryPolicy
from chatgate.engine.worker import JobHandler, Outcome, finish
from chatgate.services.channels import ChannelService
from chatgate.services.job_kinds import MEDIA_FETCH_JOB
from chatgate.services.media import clean_filename, clean_mime_type
from chatgate.services.media_files import MediaFolder, WrittenFile
from chatgate.storage import channels as channel_store
from chatgate.storage import jobs as job_store
from chatgate.storage import media as media_store
from chatgate.storage.channels import StoredConnection
from chatgate.storage.database import Database
from chatgate.storage.jobs import Job
from chatgate.storage.media import MediaStatus, StoredMedia

log = structlog.get_logger(__name__)

# Downloads at once per worker process: they share the HTTP pool with sends, which must not
# wait behind a burst of large files.
DOWNLOAD_SLOTS = 4
# A batch's outcomes are written together, so one download must not hold them for long.
DOWNLOAD_DEADLINE_SECONDS = 300.0


class MediaFetcher:
    """Downloads inbound attachments for the worker."""

    def __init__(
        self,
        database: Database,
        http: httpx.AsyncClient,
        channels: ChannelService,
        folder: MediaFolder,
        retry: RetryPolicy,
        *,
        clock: Clock,
        deadline_seconds: float = DOWNLOAD_DEADLINE_SECONDS,
    ) -> None:
        self.database = database
        self.http = http
        self.channels = channels
        self.folder = folder
        self.retry = retry
        self.clock = clock
        self.deadline_seconds = deadline_seconds
        self._slots = asyncio.Semaphore(DOWNLOAD_SLOTS)

    def handlers(self) -> dict[str, JobHandler]:
        """Job kind -> handler, for the worker."""
        return {MEDIA_FETCH_JOB: self.handle}

    async def handle(self, batch: Sequence[Job]) -> Sequence[Outcome]:
        """Download each job's attachment, several at once."""
        ids = [str((job.payload or {}).get("media_id", "")) for job in batch]
        async with self.database.read() as conn:
            found = await media_store.get_media_by_ids(conn, [i for i in ids if i])
            connections = {
                connection_id: await channel_store.get_connection(conn, connection_id)
                for connection_id in sorted({item.connection_id for item in found.values()})
            }
        return await asyncio.gather(
            *(
                self._fetch(job, found.get(media_id), connections)
                for job, media_id in zip(batch, ids, strict=True)
            )
        )

    async def _fetch(
        self,
        job: Job,
        item: StoredMedia | None,
        connections: dict[str, StoredConnection | None],
    ) -> Outcome:
        if item is None or item.status is not MediaStatus.PENDING:
            return finish(job)
        connection = connections.get(item.connection_id)
        if connection is None:
            removed = ProviderError(
                "channel_not_configured",
                "the channel the media came through was removed",
                retryable=False,
            )
            return self._failed(job, item, removed)
        try:
            async with self._slots, asyncio.timeout(self.deadline_seconds):
                written, info = await self._download(item, connection)
        except ProviderError as error:
            return self._after_error(job, item, error)
        except TimeoutError:
            slow = ProviderError(
                "timeout",
                f"the download took longer than {self.deadline_seconds:g} s",
                retryable=True,
            )
            return self._after_error(job, item, slow)
        except Exception as exc:  # a bug in an adapter must not wedge the queue
            log.exception("media.fetch_crashed", media_id=item.id)
            crash = ProviderError("internal_error", type(exc).__name__, retryable=True)
            return self._after_error(job, item, crash)
        return self._stored(job, item, written, info)

    async def _download(
        self, item: StoredMedia, connection: StoredConnection
    ) -> tuple[WrittenFile, MediaInfo]:
        adapter = self.channels.adapter(connection)
        return await self.folder.write(
            item.account_id,
            item.id,
            lambda sink: adapter.download_media(
                item.reference, self.http, sink, max_bytes=self.folder.max_bytes
            ),
        )

    def _after_error(self, job: Job, item: StoredMedia, error: ProviderError) -> Outcome:
        if error.retryable and self.retry.should_retry(job.attempts):
            return self._retry_later(job, item, error)
        return self._failed(job, item, error)

    def _stored(
        self, job: Job, item: StoredMedia, written: WrittenFile, info: MediaInfo
    ) -> Outcome:
        # The webhook's file name is the user's own; the platform's may be a storage name.
        filename = item.filename or clean_filename(info.filename)
        mime_type = clean_mime_type(info.mime_type) or item.mime_type

        async def write(conn: AsyncConnection) -> None:
            await media_store.mark_stored(
                conn,
                item.id,
                path=written.path,
                size=written.size,
                sha256=written.sha256,
                mime_type=mime_type,
                filename=filename,
                at=self.clock(),
            )
            await job_store.finish_jobs(conn, [job.id])

        return write

    def _failed(self, job: Job, item: StoredMedia, error: ProviderError) -> Outcome:
        async def write(conn: AsyncConnection) -> None:
            await media_store.mark_failed(conn, item.id, code=error.code, message=error.message)
            await job_store.finish_jobs(conn, [job.id])
            log.warning(
                "media.fetch_failed", media_id=item.id, code=error.code, attempts=job.attempts
            )

        return write

    def _retry_later(self, job: Job, item: StoredMedia, error: ProviderError) -> Outcome:
        delay = self.retry.delay(job.attempts, error.retry_after)

        async def write(conn: AsyncConnection) -> None:
            await job_store.reschedule_job(conn, job.id, self.clock() + timedelta(seconds=delay))
            log.info(
                "media.retry_scheduled",
                media_id=item.id,
                code=error.code,
                attempts=job.attempts,
                delay=round(delay, 3),
            )

        return write
