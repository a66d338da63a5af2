"""Queries on API keys and on the version counter that tells processes to drop cached keys."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from ipaddress import ip_network
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.domain.dialects import Dialect
from chatgate.domain.keys import KeyMode
from chatgate.domain.records import ApiKey
from chatgate.storage.tables import accounts, api_keys, cache_versions

KEYS_CACHE = "api_keys"


def _key(mapping: Any) -> ApiKey:
    channels = mapping["allowed_channels"]
    return ApiKey(
        id=mapping["id"],
        account_id=mapping["account_id"],
        name=mapping["name"],
        mode=KeyMode(mapping["mode"]),
        display_prefix=mapping["display_prefix"],
        scopes=frozenset(mapping["scopes"]),
        ip_allowlist=tuple(ip_network(cidr) for cidr in mapping["ip_allowlist"]),
        allowed_channels=frozenset(channels) if channels is not None else None,
        rate_limit=mapping["rate_limit"],
        created_at=mapping["created_at"],
        revoked_at=mapping["revoked_at"],
        dialect=Dialect(mapping["dialect"]) if mapping["dialect"] else None,
        # Keys stored before the setting existed (null) track links, as they always did.
        track_links=mapping["track_links"] is not False,
    )


async def insert_key(conn: AsyncConnection, key: ApiKey, secret_hash: str) -> None:
    """Store ``key`` under the hash of its secret and tell every cache."""
    await conn.execute(
        insert(api_keys).values(
            id=key.id,
            account_id=key.account_id,
            name=key.name,
            mode=key.mode.value,
            secret_hash=secret_hash,
            display_prefix=key.display_prefix,
            scopes=sorted(key.scopes),
            ip_allowlist=[str(network) for network in key.ip_allowlist],
            allowed_channels=sorted(key.allowed_channels)
            if key.allowed_channels is not None
            else None,
            rate_limit=key.rate_limit,
            created_at=key.created_at,
            revoked_at=None,
            dialect=key.dialect.value if key.dialect else None,
            track_links=key.track_links,
        )
    )
    await bump_cache_version(conn, KEYS_CACHE)


async def find_key_by_hash(conn: AsyncConnection, secret_hash: str) -> ApiKey | None:
    """The key stored under ``secret_hash``, revoked or not, with its account's plan."""
    row = (
        await conn.execute(
            select(api_keys, accounts.c.plan)
            .join(accounts, accounts.c.id == api_keys.c.account_id)
            .where(api_keys.c.secret_hash == secret_hash)
        )
    ).first()
    return replace(_key(row._mapping), plan=row.plan) if row else None


async def get_key(conn: AsyncConnection, account_id: str, key_id: str) -> ApiKey | None:
    """The key ``key_id`` of ``account_id``, if any."""
    row = (
        await conn.execute(
            select(api_keys).where(api_keys.c.id == key_id, api_keys.c.account_id == account_id)
        )
    ).first()
    return _key(row._mapping) if row else None


async def list_keys(conn: AsyncConnection, account_id: str) -> list[ApiKey]:
    """Every key of ``account_id``, oldest first."""
    rows = await conn.execute(
        select(api_keys).where(api_keys.c.account_id == account_id).order_by(api_keys.c.id)
    )
    return [_key(row._mapping) for row in rows]


async def revoke_key(conn: AsyncConnection, account_id: str, key_id: str, at: datetime) -> bool:
    """Revoke the key; ``False`` if it does not exist or was revoked already."""
    result = await conn.execute(
        update(api_keys)
        .where(
            api_keys.c.id == key_id,
            api_keys.c.account_id == account_id,
            api_keys.c.revoked_at.is_(None),
        )
        .values(revoked_at=at)
    )
    if result.rowcount:
        await bump_cache_version(conn, KEYS_CACHE)
    return bool(result.rowcount)


async def bump_cache_version(conn: AsyncConnection, name: str) -> None:
    """Move the named cache's version on, inside the caller's transaction."""
    await conn.execute(
        update(cache_versions)
        .where(cache_versions.c.name == name)
        .values(version=cache_versions.c.version + 1)
    )


async def read_cache_version(conn: AsyncConnection, name: str) -> int:
    """The named cache's current version (0 when never bumped)."""
    value = await conn.scalar(
        select(func.coalesce(func.max(cache_versions.c.version), 0)).where(
            cache_versions.c.name == name
        )
    )
    return int(value or 0)


async def get_key_by_id(conn: AsyncConnection, key_id: str) -> ApiKey | None:
    """The key ``key_id`` of whichever account (operator use only)."""
    row = (await conn.execute(select(api_keys).where(api_keys.c.id == key_id))).first()
    return _key(row._mapping) if row else None
