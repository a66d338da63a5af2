"""Conversation threads as the API shows them: the service window each channel's rules
give, the last message, unread counts, and a thread's messages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from chatgate.domain.channels import CHANNEL_RULES, ChannelType
from chatgate.domain.records import ApiKey, Message
from chatgate.errors import NotFound
from chatgate.storage import conversations as thread_store
from chatgate.storage import messages as message_store
from chatgate.storage.conversations import Thread, ThreadFilter
from chatgate.storage.database import Database


@dataclass(frozen=True, slots=True)
class ServiceWindow:
    """Whether free-form messages may go to the peer now, and until when.

    ``hours`` is ``None`` on a channel without a window (anything may be sent at any time);
    ``open_until`` is ``None`` when the peer has never written.
    """

    hours: int | None
    open_until: datetime | None

    def is_open(self, now: datetime) -> bool:
        """Whether the window is open at ``now``."""
        if self.hours is None:
            return True
        return self.open_until is not None and now < self.open_until


def service_window(thread: Thread) -> ServiceWindow:
    """The window the thread's channel rules give after the peer last wrote."""
    try:
        rules = CHANNEL_RULES[ChannelType(thread.channel)]
    except (ValueError, KeyError):
        return ServiceWindow(None, None)
    hours = rules.service_window_hours
    if hours is None:
        return ServiceWindow(None, None)
    wrote = thread.last_inbound_at
    return ServiceWindow(hours, wrote + timedelta(hours=hours) if wrote else None)


@dataclass(frozen=True, slots=True)
class ThreadView:
    """A thread with its last message and its window."""

    thread: Thread
    last_message: Message | None
    window: ServiceWindow


async def list_threads(
    database: Database, key: ApiKey, filters: ThreadFilter, *, cursor: str | None, limit: int
) -> tuple[list[ThreadView], bool]:
    """A page of the key's threads, the most recently active first, and whether more follow."""
    async with database.read() as conn:
        before = None
        if cursor is not None:
            before = await thread_store.get_thread(conn, key.account_id, key.mode.value, cursor)
            if before is None:
                raise NotFound(f"no conversation {cursor}", field="cursor")
        found = await thread_store.list_threads(
            conn, key.account_id, key.mode.value, filters, before=before, limit=limit + 1
        )
        page = found[:limit]
        last = await message_store.get_messages_by_ids(
            conn, [t.last_message_id for t in page if t.last_message_id]
        )
    views = [ThreadView(t, last.get(t.last_message_id or ""), service_window(t)) for t in page]
    return views, len(found) > limit


async def get_thread(database: Database, key: ApiKey, thread_id: str) -> ThreadView:
    """One thread of the key's account and mode."""
    async with database.read() as conn:
        thread = await thread_store.get_thread(conn, key.account_id, key.mode.value, thread_id)
        if thread is None:
            raise NotFound(f"no conversation {thread_id}", field="id")
        last = await message_store.get_messages_by_ids(
            conn, [thread.last_message_id] if thread.last_message_id else []
        )
    return ThreadView(thread, last.get(thread.last_message_id or ""), service_window(thread))


async def thread_messages(
    database: Database, key: ApiKey, thread_id: str, *, cursor: str | None, limit: int
) -> tuple[list[Message], bool]:
    """A page of the thread's messages, newest first, and whether older ones remain."""
    async with database.read() as conn:
        thread = await thread_store.get_thread(conn, key.account_id, key.mode.value, thread_id)
        if thread is None:
            raise NotFound(f"no conversation {thread_id}", field="id")
        ids = await thread_store.thread_messages(conn, thread, before=cursor, limit=limit + 1)
        found = await message_store.get_messages_by_ids(conn, ids[:limit])
    return [found[i] for i in ids[:limit] if i in found], len(ids) > limit


async def mark_read(database: Database, key: ApiKey, thread_id: str) -> ThreadView:
    """Mark every message of the thread read (its unread count becomes zero)."""
    async with database.write() as conn:
        if not await thread_store.mark_read(conn, key.account_id, key.mode.value, thread_id):
            raise NotFound(f"no conversation {thread_id}", field="id")
    return await get_thread(database, key, thread_id)
