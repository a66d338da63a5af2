"""Reading messages back (one with its history and chain, or a filtered page) and canceling."""

from __future__ import annotations

from dataclasses import dataclass

from chatgate.domain.records import ApiKey, Message, MessageEvent
from chatgate.domain.status import UNSENT, Status
from chatgate.errors import Conflict, NotFound
from chatgate.services.delivery import apply_status
from chatgate.services.job_kinds import SEND_JOB
from chatgate.storage import jobs as job_store
from chatgate.storage import messages as message_store
from chatgate.storage.database import Database
from chatgate.storage.messages import MessageFilter
from chatgate.storage.types import utcnow


@dataclass(frozen=True, slots=True)
class MessageView:
    """A message, its history, and the steps of its fallback chain (if any)."""

    message: Message
    events: list[MessageEvent]
    chain: list[Message]


async def get_message(database: Database, key: ApiKey, message_id: str) -> MessageView:
    """A message of the key's account and mode, with its events and chain."""
    async with database.read() as conn:
        message = await message_store.get_message(conn, key.account_id, key.mode, message_id)
        if message is None:
            raise NotFound(f"no message {message_id}", field="id")
        events = await message_store.list_events(conn, message.id)
        chain = await message_store.list_chain(conn, message.chain_id) if message.chain_id else []
    return MessageView(message, events, chain)


async def list_messages(
    database: Database, key: ApiKey, filters: MessageFilter, *, cursor: str | None, limit: int
) -> tuple[list[Message], bool]:
    """A page of messages newest first, and whether more follow."""
    async with database.read() as conn:
        found = await message_store.list_messages(
            conn, key.account_id, key.mode, filters, before_id=cursor, limit=limit + 1
        )
    return found[:limit], len(found) > limit


async def cancel_message(database: Database, key: ApiKey, message_id: str) -> MessageView:
    """Cancel a message that has not started sending; 409 once a worker holds it.

    The send job is removed only while no worker has claimed it, in the same transaction
    that marks the message canceled; a worker that claimed it first wins, and this refuses.
    Canceling a canceled message again answers with it as it is.
    """
    async with database.write() as conn:
        message = await message_store.get_message(conn, key.account_id, key.mode, message_id)
        if message is None:
            raise NotFound(f"no message {message_id}", field="id")
        if message.status is not Status.CANCELED:
            if message.status not in UNSENT:
                raise Conflict(
                    f"the message is {message.status.value}: it can no longer be canceled",
                    code="not_cancelable",
                    field="id",
                )
            if not await job_store.remove_unclaimed(conn, message.id, SEND_JOB):
                raise Conflict(
                    "the message is being sent: it can no longer be canceled",
                    code="not_cancelable",
                    field="id",
                )
            detail = {"reason": "canceled by request", "key_id": key.id}
            await apply_status(conn, message, Status.CANCELED, detail, utcnow())
    return await get_message(database, key, message_id)
