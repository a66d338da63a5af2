"""Creating, listing and revoking API keys: a key acts only on keys within what it holds.

Every creation and revocation is audited in its own transaction; the audit entry names the
key and what it may do, never its secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.domain.dialects import Dialect, secret_prefix
from chatgate.domain.ids import new_id
from chatgate.domain.keys import KeyMode, display_prefix, generate_secret, hash_secret, ungranted
from chatgate.domain.records import ApiKey
from chatgate.errors import Forbidden, NotFound
from chatgate.services.audit import Actor, record
from chatgate.storage import keys as key_store
from chatgate.storage.database import Database
from chatgate.storage.types import utcnow


@dataclass(frozen=True, slots=True)
class KeySpec:
    """What a key is, or a new one should be."""

    name: str
    mode: KeyMode
    scopes: frozenset[str]
    ip_allowlist: tuple[IPv4Network | IPv6Network, ...] = ()
    allowed_channels: frozenset[str] | None = None
    rate_limit: int | None = None
    # The vendor API whose routes accept the key; None: the native API.
    dialect: Dialect | None = None
    # Whether links in the key's dialect messages are tracked (Bik).
    track_links: bool = True

    @classmethod
    def of(cls, key: ApiKey) -> KeySpec:
        """What an existing key is."""
        return cls(
            key.name,
            key.mode,
            key.scopes,
            key.ip_allowlist,
            key.allowed_channels,
            key.rate_limit,
            key.dialect,
            key.track_links,
        )


def check_within(manager: ApiKey, spec: KeySpec, action: str) -> None:
    """Refuse to ``action`` (create, revoke) a key holding more than ``manager`` does.

    A key could otherwise reach past its own scopes through another key: grant itself more,
    or take away the keys of those who hold more (a ``*`` key revoking the ``admin`` keys
    it could never create).
    """
    if manager.mode is KeyMode.TEST and spec.mode is KeyMode.LIVE:
        raise Forbidden(f"a test key cannot {action} live keys", field="mode")
    extra = ungranted(manager.scopes, spec.scopes)
    if extra:
        raise Forbidden(
            f"cannot {action} a key with scopes this key does not hold: {extra}", field="scopes"
        )
    if manager.allowed_channels is not None:
        wider = (
            spec.allowed_channels is None or not spec.allowed_channels <= manager.allowed_channels
        )
        if wider:
            raise Forbidden(
                f"cannot {action} a key allowed channels this key is not allowed",
                field="allowed_channels",
            )


async def create_key(conn: AsyncConnection, actor: Actor, spec: KeySpec) -> tuple[ApiKey, str]:
    """Create a key of ``actor``'s account in the caller's transaction, audited; returns it
    with its secret (never again)."""
    prefix = secret_prefix(spec.dialect, spec.mode)
    secret = generate_secret(prefix)
    key = ApiKey(
        id=new_id("key"),
        account_id=actor.account_id,
        name=spec.name,
        mode=spec.mode,
        display_prefix=display_prefix(secret, prefix),
        scopes=spec.scopes,
        ip_allowlist=spec.ip_allowlist,
        allowed_channels=spec.allowed_channels,
        rate_limit=spec.rate_limit,
        created_at=utcnow(),
        revoked_at=None,
        dialect=spec.dialect,
        track_links=spec.track_links,
    )
    await key_store.insert_key(conn, key, hash_secret(secret))
    await record(conn, actor, "key.created", key.id, _created_detail(key))
    return key, secret


def _created_detail(key: ApiKey) -> dict[str, Any]:
    # What the key may do, and from where; its secret and hash never enter the log.
    return {
        "name": key.name,
        "mode": key.mode.value,
        "scopes": sorted(key.scopes),
        "allowed_channels": sorted(key.allowed_channels)
        if key.allowed_channels is not None
        else None,
        "ip_allowlist": [str(network) for network in key.ip_allowlist],
        "rate_limit": key.rate_limit,
        "dialect": key.dialect.value if key.dialect else None,
        "track_links": key.track_links,
    }


async def list_keys(database: Database, account_id: str) -> list[ApiKey]:
    """The account's keys, revoked ones included."""
    async with database.read() as conn:
        return await key_store.list_keys(conn, account_id)


async def _revoke(conn: AsyncConnection, actor: Actor, key_id: str) -> ApiKey | None:
    """Revoke the actor's account's key, audited when this call revoked it (revoking a key
    again changes nothing, so it is not logged twice); the key as it is now."""
    revoked = await key_store.revoke_key(conn, actor.account_id, key_id, utcnow())
    key = await key_store.get_key(conn, actor.account_id, key_id)
    if revoked and key is not None:
        await record(conn, actor, "key.revoked", key_id, {"name": key.name, "mode": key.mode.value})
    return key


async def revoke_key(database: Database, actor: Actor, revoker: ApiKey, key_id: str) -> ApiKey:
    """Revoke a key of the actor's account that holds no more than ``revoker``; every process
    refuses it within a second."""
    async with database.write() as conn:
        target = await key_store.get_key(conn, actor.account_id, key_id)
        if target is None:
            raise NotFound(f"no key {key_id}", field="id")
        check_within(revoker, KeySpec.of(target), "revoke")
        key = await _revoke(conn, actor, key_id)
    assert key is not None
    return key


async def revoke_key_by_id(database: Database, key_id: str) -> ApiKey:
    """Revoke a key by id alone, whatever it holds (the operator's, from the CLI: audited as
    its account, with no key and no address)."""
    async with database.write() as conn:
        found = await key_store.get_key_by_id(conn, key_id)
        if found is None:
            raise NotFound(f"no key {key_id}", field="id")
        revoked = await _revoke(conn, Actor(found.account_id), key_id)
    assert revoked is not None
    return revoked
