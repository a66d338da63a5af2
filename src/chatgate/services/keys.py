"""Creating, listing and revoking API keys, within what the creating key may grant."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network

from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.domain.ids import new_id
from chatgate.domain.keys import KeyMode, Scope, display_prefix, generate_secret, hash_secret
from chatgate.domain.records import ApiKey
from chatgate.errors import Forbidden, NotFound
from chatgate.storage import keys as key_store
from chatgate.storage.database import Database
from chatgate.storage.types import utcnow


@dataclass(frozen=True, slots=True)
class KeySpec:
    """What a new key should be."""

    name: str
    mode: KeyMode
    scopes: frozenset[str]
    ip_allowlist: tuple[IPv4Network | IPv6Network, ...] = ()
    allowed_channels: frozenset[str] | None = None
    rate_limit: int | None = None


def check_grantable(creator: ApiKey, spec: KeySpec) -> None:
    """Refuse a key that would hold more than the key creating it (no escalation)."""
    if creator.mode is KeyMode.TEST and spec.mode is KeyMode.LIVE:
        raise Forbidden("a test key cannot create live keys", field="mode")
    extra = sorted(s for s in spec.scopes - creator.scopes if not creator.grants(Scope(s)))
    if extra:
        raise Forbidden(f"cannot grant scopes this key does not hold: {extra}", field="scopes")
    if creator.allowed_channels is not None:
        wider = (
            spec.allowed_channels is None or not spec.allowed_channels <= creator.allowed_channels
        )
        if wider:
            raise Forbidden(
                "cannot allow channels this key is not allowed", field="allowed_channels"
            )


async def create_key(conn: AsyncConnection, account_id: str, spec: KeySpec) -> tuple[ApiKey, str]:
    """Create a key in the caller's transaction; returns it with its secret (never again)."""
    secret = generate_secret(spec.mode)
    key = ApiKey(
        id=new_id("key"),
        account_id=account_id,
        name=spec.name,
        mode=spec.mode,
        display_prefix=display_prefix(secret),
        scopes=spec.scopes,
        ip_allowlist=spec.ip_allowlist,
        allowed_channels=spec.allowed_channels,
        rate_limit=spec.rate_limit,
        created_at=utcnow(),
        revoked_at=None,
    )
    await key_store.insert_key(conn, key, hash_secret(secret))
    return key, secret


async def list_keys(database: Database, account_id: str) -> list[ApiKey]:
    """The account's keys, revoked ones included."""
    async with database.read() as conn:
        return await key_store.list_keys(conn, account_id)


async def revoke_key(database: Database, account_id: str, key_id: str) -> ApiKey:
    """Revoke a key of the account; every process refuses it within a second."""
    async with database.write() as conn:
        await key_store.revoke_key(conn, account_id, key_id, utcnow())
        key = await key_store.get_key(conn, account_id, key_id)
    if key is None:
        raise NotFound(f"no key {key_id}", field="id")
    return key


async def revoke_key_by_id(database: Database, key_id: str) -> ApiKey:
    """Revoke a key by id alone (operator use from the CLI)."""
    async with database.write() as conn:
        found = await key_store.get_key_by_id(conn, key_id)
        if found is None:
            raise NotFound(f"no key {key_id}", field="id")
        await key_store.revoke_key(conn, found.account_id, key_id, utcnow())
        revoked = await key_store.get_key(conn, found.account_id, key_id)
    assert revoked is not None
    return revoked
