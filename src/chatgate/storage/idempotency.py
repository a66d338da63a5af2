"""Stored idempotency keys: who holds one, and the response to replay."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.storage.staged import staged
from chatgate.storage.tables import idempotency_keys
from chatgate.storage.upsert import insert_or_ignore


@dataclass(frozen=True, slots=True)
class StoredRequest:
    """What is known of an earlier request under the same key."""

    fingerprint: str
    response_status: int
    response_body: str
    expires_at: datetime


async def claim_key(
    conn: AsyncConnection,
    account_id: str,
    key: str,
    fingerprint: str,
    *,
    now: datetime,
    expires_at: datetime,
) -> StoredRequest | None:
    """Take ``key`` for a new request; return the earlier request instead if there is one.

    Call it in the transaction that does the request's work and then ``complete_key``s it:
    a record is only ever seen finished. On PostgreSQL a concurrent claim of the same key
    waits for this transaction and then sees its answer. An expired record is taken over
    as if it did not exist.
    """
    values = {
        "account_id": account_id,
        "key": key,
        "fingerprint": fingerprint,
        "response_status": None,
        "response_body": None,
        "created_at": now,
        "expires_at": expires_at,
    }
    if await insert_or_ignore(conn, idempotency_keys, values):
        return None
    where = (idempotency_keys.c.account_id == account_id, idempotency_keys.c.key == key)
    row = (await conn.execute(select(idempotency_keys).where(*where))).first()
    if row is None:  # deleted in between by the purge: take it now
        await insert_or_ignore(conn, idempotency_keys, values)
        return None
    if row.expires_at <= now or row.response_status is None:
        await conn.execute(update(idempotency_keys).where(*where).values(**values))
        return None
    return StoredRequest(
        fingerprint=row.fingerprint,
        response_status=row.response_status,
        response_body=row.response_body,
        expires_at=row.expires_at,
    )


_COMPLETE = (
    update(idempotency_keys)
    .where(
        idempotency_keys.c.account_id == bindparam("b_account"),
        idempotency_keys.c.key == bindparam("b_key"),
    )
    .values(response_status=bindparam("b_status"), response_body=bindparam("b_body"))
)


def complete_key(conn: AsyncConnection, account_id: str, key: str, status: int, body: str) -> None:
    """Record the response of the request holding ``key``, staged in that request's transaction.

    A claimer waiting on the key (PostgreSQL) sees the answer, since both commit together.
    """
    staged(conn).add(
        _COMPLETE, [{"b_account": account_id, "b_key": key, "b_status": status, "b_body": body}]
    )


async def release_key(conn: AsyncConnection, account_id: str, key: str) -> None:
    """Forget the key of a request that was refused, so that a retry runs afresh."""
    await conn.execute(
        delete(idempotency_keys).where(
            idempotency_keys.c.account_id == account_id,
            idempotency_keys.c.key == key,
            idempotency_keys.c.response_status.is_(None),
        )
    )


async def purge_expired(conn: AsyncConnection, now: datetime) -> int:
    """Delete records past their 24-hour life; returns how many."""
    result = await conn.execute(
        delete(idempotency_keys).where(idempotency_keys.c.expires_at <= now)
    )
    return int(result.rowcount or 0)
