"""Accounts and the demo account that ``make run`` creates on first start."""

from __future__ import annotations

from dataclasses import dataclass

from chatgate.domain.keys import KeyMode, Scope
from chatgate.domain.records import Account
from chatgate.errors import Conflict, NotFound
from chatgate.services.audit import Actor
from chatgate.services.keys import KeySpec, create_key
from chatgate.storage import accounts as account_store
from chatgate.storage.database import Database

DEMO_ACCOUNT = "demo"


async def create_account(database: Database, name: str) -> Account:
    """Create an account; its name must be new."""
    async with database.write() as conn:
        if await account_store.find_account_by_name(conn, name) is not None:
            raise Conflict(f"an account named {name!r} exists already", field="name")
        return await account_store.insert_account(conn, name)


async def get_account_by_name(database: Database, name: str) -> Account:
    """The account named ``name``."""
    async with database.read() as conn:
        account = await account_store.find_account_by_name(conn, name)
    if account is None:
        raise NotFound(f"no account named {name!r}", field="account")
    return account


async def get_account(database: Database, account_id: str) -> Account:
    """The account with ``account_id``."""
    async with database.read() as conn:
        account = await account_store.get_account(conn, account_id)
    if account is None:
        raise NotFound("no such account")
    return account


@dataclass(frozen=True, slots=True)
class DemoAccount:
    """The demo account and, when just created, the secrets of its two keys."""

    account: Account
    live_secret: str | None
    test_secret: str | None


async def ensure_demo_account(database: Database) -> DemoAccount:
    """Create the demo account with one live and one test key, unless it exists."""
    async with database.read() as conn:
        existing = await account_store.find_account_by_name(conn, DEMO_ACCOUNT)
    if existing is not None:
        return DemoAccount(existing, None, None)
    everything = frozenset({Scope.ALL.value})
    async with database.write() as conn:
        account = await account_store.insert_account(conn, DEMO_ACCOUNT)
        # Made by the gateway itself on first start: audited as the account, like the CLI.
        actor = Actor(account.id)
        _, live = await create_key(conn, actor, KeySpec("demo live", KeyMode.LIVE, everything))
        _, test = await create_key(conn, actor, KeySpec("demo test", KeyMode.TEST, everything))
    return DemoAccount(account, live, test)
