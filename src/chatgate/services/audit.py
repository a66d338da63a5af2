"""The audit log: who changed keys, channels, webhooks, templates, contacts, plans and
balances, and every refused authentication.

A change is recorded in the transaction that makes it, so that the log never names a
change that did not happen nor misses one that did. A refusal has no transaction of its
own to join: it is written in one of its own (group-committed on SQLite).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.domain.ids import new_id
from chatgate.domain.records import ApiKey
from chatgate.storage import audit as audit_store
from chatgate.storage.audit import AuditEntry, AuditFilter
from chatgate.storage.database import Database
from chatgate.storage.types import utcnow

log = structlog.get_logger(__name__)

SUCCEEDED = "succeeded"
REFUSED = "refused"
# The action of every refused authentication; ``detail.reason`` says which refusal.
AUTH_REFUSED = "auth.refused"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: an account, through one of its keys (none from the command line), from an
    address (none from the command line)."""

    account_id: str
    key_id: str | None = None
    source_ip: str | None = None

    @classmethod
    def of(cls, key: ApiKey, source_ip: str | None) -> Actor:
        """The actor behind a request made with ``key`` from ``source_ip``."""
        return cls(key.account_id, key.id, source_ip)


def _entry(
    account_id: str | None,
    key_id: str | None,
    source_ip: str | None,
    action: str,
    target: str | None,
    outcome: str,
    detail: dict[str, Any] | None,
) -> AuditEntry:
    return AuditEntry(
        id=new_id("aud"),
        account_id=account_id,
        api_key_id=key_id,
        source_ip=source_ip,
        action=action,
        target=target,
        outcome=outcome,
        detail=detail,
        created_at=utcnow(),
    )


async def record(
    conn: AsyncConnection,
    actor: Actor,
    action: str,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Record a change ``actor`` makes in ``conn``'s transaction (``action`` such as
    ``template.created``; ``target`` the id of what changed; ``detail`` never a secret)."""
    entry = _entry(
        actor.account_id, actor.key_id, actor.source_ip, action, target, SUCCEEDED, detail
    )
    await audit_store.insert_entries(conn, [entry])


async def record_refusal(
    database: Database,
    *,
    reason: str,
    source_ip: str | None,
    key: ApiKey | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Record a refused authentication or authorisation (``reason``: its error code).

    Without a known key the entry belongs to no account: only the operator sees it.
    A failure to write it is logged, never turned into a different answer to the caller.
    """
    entry = _entry(
        key.account_id if key else None,
        key.id if key else None,
        source_ip,
        AUTH_REFUSED,
        key.id if key else None,
        REFUSED,
        {"reason": reason, **(detail or {})},
    )

    async def write(conn: AsyncConnection) -> None:
        await audit_store.insert_entries(conn, [entry])

    try:
        await database.transact(write)
    except Exception:
        log.exception("audit.refusal_not_recorded", reason=reason)


async def list_entries(
    database: Database, account_id: str, filters: AuditFilter, *, before: str | None, limit: int
) -> tuple[list[AuditEntry], bool]:
    """A page of the account's log, newest first, and whether older entries remain."""
    async with database.read() as conn:
        found = await audit_store.list_entries(
            conn, account_id, filters, before=before, limit=limit + 1
        )
    return found[:limit], len(found) > limit
