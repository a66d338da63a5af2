"""Engine tests own the jobs table: each starts with none pending."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from sqlalchemy import delete

from chatgate.config import Settings
from chatgate.domain.keys import KeyMode
from chatgate.domain.records import Message
from chatgate.domain.status import Status
from chatgate.services.accounts import create_account
from chatgate.services.job_kinds import SEND_JOB
from chatgate.storage import jobs as job_store
from chatgate.storage import messages as message_store
from chatgate.storage.database import Database
from chatgate.storage.tables import jobs


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    """The store, with no jobs left over from earlier tests on the same PostgreSQL."""
    db = Database(settings)
    async with db.write() as conn:
        await conn.execute(delete(jobs))
    yield db
    await db.dispose()


async def store_message(
    database: Database, status: Status, at: datetime, *, with_send_job: bool = False
) -> Message:
    """An outbound SMS of a new account, stored with its first event (and its send job)."""
    account = await create_account(database, f"acct-{uuid.uuid4().hex[:12]}")
    message = Message.new(
        account_id=account.id,
        mode=KeyMode.LIVE,
        direction="outbound",
        channel="sms",
        sender=None,
        recipient="+14155550123",
        content={"type": "text", "text": "x"},
        status=status,
        at=at,
    )
    async with database.write() as conn:
        await message_store.insert_messages(conn, [message_store.message_row(message, None)])
        await message_store.insert_event_rows(conn, [message_store.first_event_row(message)])
        if with_send_job:
            await job_store.enqueue(conn, [job_store.job_row(SEND_JOB, at, message_id=message.id)])
    return message
