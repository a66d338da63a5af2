"""Reading messages back: one with its history, or a filtered page."""

from __future__ import annotations

from chatgate.domain.records import ApiKey, Message, MessageEvent
from chatgate.errors import NotFound
from chatgate.storage import messages as message_store
from chatgate.storage.database import Database
from chatgate.storage.messages import MessageFilter


async def get_message(
    database: Database, key: ApiKey, message_id: str
) -> tuple[Message, list[MessageEvent]]:
    """A message of the key's account and mode, with its events."""
    async with database.read() as conn:
        message = await message_store.get_message(conn, key.account_id, key.mode, message_id)
        if message is None:
            raise NotFound(f"no message {message_id}", field="id")
        return message, await message_store.list_events(conn, message.id)


async def list_messages(
    database: Database, key: ApiKey, filters: MessageFilter, *, cursor: str | None, limit: int
) -> tuple[list[Message], bool]:
    """A page of messages newest first, and whether more follow."""
    async with database.read() as conn:
        found = await message_store.list_messages(
            conn, key.account_id, key.mode, filters, before_id=cursor, limit=limit + 1
        )
    return found[:limit], len(found) > limit
