"""The media folder: where downloaded attachments are written, capped, and found again.

A file is written under a temporary name in its final directory and renamed into place only
once it is whole and flushed to disk, so that a reader never sees half a file and a failed
or refused download leaves nothing behind. Blocking file calls run in a thread; writes are
gathered into blocks so that a download in small chunks does not cost a thread hop each.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar

from chatgate.channels.base import MediaSink, media_too_large

T = TypeVar("T")

# Bytes gathered before one write: few thread hops, little memory per download.
_BLOCK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class WrittenFile:
    """A file now in place: where (relative to the folder), how big, its SHA-256."""

    path: str
    size: int
    sha256: str


class _CappedWriter:
    """Takes a download's chunks: counts them against the cap, hashes and writes them."""

    def __init__(self, handle: BinaryIO, max_bytes: int) -> None:
        self.handle = handle
        self.max_bytes = max_bytes
        self.size = 0
        self.digest = hashlib.sha256()
        self._pending: list[bytes] = []
        self._pending_size = 0

    async def write(self, chunk: bytes) -> None:
        # The adapter stops at the cap too; this holds it whatever an adapter does.
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise media_too_large(self.max_bytes)
        self._pending.append(chunk)
        self._pending_size += len(chunk)
        if self._pending_size >= _BLOCK:
            await self.flush()

    async def flush(self) -> None:
        block, self._pending, self._pending_size = b"".join(self._pending), [], 0
        if block:
            self.digest.update(block)
            await asyncio.to_thread(self.handle.write, block)


def _sync_to_disk(handle: BinaryIO) -> None:
    handle.flush()
    os.fsync(handle.fileno())


class MediaFolder:
    """Attachments on local disk, one directory per account: ``<account_id>/<media_id>``."""

    def __init__(self, root: str | Path, max_bytes: int) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes

    def sweep_leftovers(self, older_than_seconds: float) -> int:
        """Delete temporary files left by downloads killed mid-way; how many went.

        Only files older than ``older_than_seconds`` (longer than any download may take), so
        that another process's download in progress is never touched.
        """
        if not self.root.is_dir():
            return 0
        cutoff = time.time() - older_than_seconds
        removed = 0
        for leftover in self.root.glob("*/.*.part"):
            with contextlib.suppress(FileNotFoundError):
                if leftover.stat().st_mtime < cutoff:
                    leftover.unlink()
                    removed += 1
        return removed

    def relative_path(self, account_id: str, media_id: str) -> str:
        """Where an attachment is kept, relative to the folder (as the store records it)."""
        return f"{account_id}/{media_id}"

    def locate(self, relative: str) -> Path:
        """The absolute path of a file the store names by its relative path."""
        return self.root / relative

    async def write(
        self,
        account_id: str,
        media_id: str,
        download: Callable[[MediaSink], Awaitable[T]],
    ) -> tuple[WrittenFile, T]:
        """Run ``download`` into a new file and put it in place; what the download returned.

        More than ``max_bytes`` raises the ``media_too_large`` refusal. If ``download``
        fails (or is cancelled), nothing is left on disk and the error propagates.
        """
        relative = self.relative_path(account_id, media_id)
        final = self.locate(relative)
        # Unique per attempt: two workers downloading the same file never share a temp file.
        temporary = final.with_name(f".{media_id}.{os.urandom(4).hex()}.part")
        await asyncio.to_thread(final.parent.mkdir, parents=True, exist_ok=True)
        handle = await asyncio.to_thread(temporary.open, "wb")
        try:
            writer = _CappedWriter(handle, self.max_bytes)
            result = await download(writer.write)
            await writer.flush()
            await asyncio.to_thread(_sync_to_disk, handle)
            await asyncio.to_thread(handle.close)
            # Atomic on one file system: a reader sees no file or the whole one.
            await asyncio.to_thread(os.replace, temporary, final)
        except BaseException:
            # In place, not in a thread: it must happen even when the task is cancelled.
            _discard(handle, temporary)
            raise
        return WrittenFile(relative, writer.size, writer.digest.hexdigest()), result


def _discard(handle: BinaryIO, temporary: Path) -> None:
    handle.close()
    temporary.unlink(missing_ok=True)
