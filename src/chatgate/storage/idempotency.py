"""Stored idempotency keys: who holds one, and the response to replay."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.storage.tables import idempotency_keys
from chatgate.storage.upsert import insert_or_ignore


@dataclass(frozen=True, slots=True)
class StoredRequest:
    """What is known of an earlier request under the same key."""

    fingerprint: str
    response_status: int | None
    response_body: str | None
    locked_until: datetime | None
    expires_at: datetime


async def claim_key(
    conn: AsyncConnection,
    account_id: str,
    key: str,
    fingerprint: str,
    *,
    now: datetime,
    lock_until: datetime,
    expires_at: datetime,
) -> StoredRequest | None:
    """Take ``key`` for a new request; return the earlier request instead if there is one.

    An expired record, or an unfinished one whose lock ran out (its process died before it
    committed anything), is taken over as if it did not exist.
    """
    values = {
        "account_id": account_id,
        "key": key,
        "fingerprint": fingerprint,
        "response_status": None,
        "response_body": None,
        "locked_until": lock_until,
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
    earlier = StoredRequest(
        fingerprint=row.fingerprint,
        response_status=row.response_status,
        response_body=row.response_body,
        locked_until=row.locked_until,
        expires_at=row.expires_at,
    )
    abandoned = earlier.response_status is None and (
        earlier.locked_until is None or earlier.locked_until <= now
    )
    if earlier.expires_at <= now or abandoned:
        await conn.execute(update(idempotency_keys).where(*where).values(**values))
        return None
    return earlier


_COMPLETE = (
    update(idempotency_keys)
    .where(
        idempotency_keys.c.account_id == bindparam("b_account"),
        idempotency_keys.c.key == bindparam("b_key"),
    )
    .values(
        response_status=bindparam("b_status"), response_body=bindparam("b_body"), locked_until=None
    )
)


async def complete_key(
    conn: AsyncConnection, account_id: str, key: str, status: int, body: str
) -> None:
    """Record the response of the request holding ``key`` (in that request's transaction)."""
    await conn.execute(
        _COMPLETE, {"b_account": account_id, "b_key": key, "b_status": status, "b_body": body}
    )


async def release_key(conn: AsyncConnection, account_id: str, key: str) -> None:
    """Forget an unfinished key whose request failed, so that a retry can run."""
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
