"""``chatgate keys``: create, list and revoke an account's API keys."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from chatgate.cli.common import JsonFlag, console, emit, id_table, with_database
from chatgate.config import Settings
from chatgate.domain.channels import ChannelType
from chatgate.domain.dialects import Dialect
from chatgate.domain.keys import KeyMode, Scope
from chatgate.storage.database import Database

keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)


def _parse_names(raw: str, known: set[str], what: str) -> frozenset[str]:
    """The comma-separated names in ``raw``, each one of ``known``."""
    names = frozenset(part.strip() for part in raw.split(",") if part.strip())
    unknown = sorted(names - known)
    if unknown or not names:
        raise typer.BadParameter(f"unknown {what} {unknown}; known: {', '.join(sorted(known))}")
    return names


def _parse_scopes(raw: str) -> frozenset[str]:
    return _parse_names(raw, {scope.value for scope in Scope}, "scopes")


def _parse_channels(raw: str | None) -> frozenset[str] | None:
    if raw is None:
        return None
    return _parse_names(raw, {channel.value for channel in ChannelType}, "channels")


@keys_app.command("create")
def keys_create(
    account: Annotated[str, typer.Option(envvar="CHATGATE_ACCOUNT", help="the account's name")],
    mode: Annotated[KeyMode, typer.Option(envvar="CHATGATE_KEY_MODE")] = KeyMode.LIVE,
    scopes: Annotated[
        str, typer.Option(envvar="CHATGATE_KEY_SCOPES", help="comma-separated")
    ] = "*",
    rate_limit: Annotated[
        int | None,
        typer.Option(envvar="CHATGATE_KEY_RATE_LIMIT", min=1, help="requests per minute"),
    ] = None,
    name: Annotated[str, typer.Option(envvar="CHATGATE_KEY_NAME")] = "cli key",
    channels: Annotated[
        str | None,
        typer.Option(help="comma-separated channels the key may send on (default: all)"),
    ] = None,
    dialect: Annotated[
        Dialect | None,
        typer.Option(help="a vendor API's key (its prefix), accepted on that API's routes only"),
    ] = None,
    track_links: Annotated[
        bool,
        typer.Option(
            "--track-links/--no-track-links",
            help="track links in the key's dialect messages (Bik); off: links sent untouched",
        ),
    ] = True,
    as_json: JsonFlag = False,
) -> None:
    """Create an API key; its secret is printed this once."""
    from chatgate.services.accounts import get_account_by_name
    from chatgate.services.audit import Actor
    from chatgate.services.keys import KeySpec, create_key

    spec = KeySpec(
        name=name,
        mode=mode,
        scopes=_parse_scopes(scopes),
        allowed_channels=_parse_channels(channels),
        rate_limit=rate_limit,
        dialect=dialect,
        track_links=track_links,
    )

    async def work(database: Database) -> tuple[Any, str]:
        found = await get_account_by_name(database, account)
        async with database.write() as conn:
            # Audited as the account itself: the command line has no key and no address.
            return await create_key(conn, Actor(found.id), spec)

    key, secret = with_database(Settings(), work)
    if as_json:
        emit(
            {
                "id": key.id,
                "key": secret,
                "account_id": key.account_id,
                "mode": key.mode.value,
                "scopes": sorted(key.scopes),
                "dialect": key.dialect.value if key.dialect else None,
                "track_links": key.track_links,
            }
        )
    else:
        kind = f"{key.dialect.value} {key.mode.value}" if key.dialect else key.mode.value
        console.print(f"created {kind} key {key.id} for {account}:")
        console.print(secret, markup=False, highlight=False, soft_wrap=True)
        console.print("[dim]store it now: it is not shown again[/dim]")


@keys_app.command("list")
def keys_list(
    account: Annotated[str, typer.Option(envvar="CHATGATE_ACCOUNT", help="the account's name")],
    as_json: JsonFlag = False,
) -> None:
    """List an account's keys (never their secrets)."""
    from chatgate.services.accounts import get_account_by_name
    from chatgate.services.keys import list_keys

    async def work(database: Database) -> list[Any]:
        found = await get_account_by_name(database, account)
        return await list_keys(database, found.id)

    found = with_database(Settings(), work)
    rows = [
        {
            "id": key.id,
            "name": key.name,
            "mode": key.mode.value,
            "dialect": key.dialect.value if key.dialect else None,
            "prefix": key.display_prefix,
            "scopes": sorted(key.scopes),
            "rate_limit": key.rate_limit,
            "track_links": key.track_links,
            "created_at": key.created_at.isoformat(),
            "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
        }
        for key in found
    ]
    if as_json:
        emit(rows)
        return
    console.print(
        id_table(
            ("id", "name", "mode", "prefix", "scopes", "revoked"),
            (
                (
                    r["id"],
                    r["name"],
                    r["mode"],
                    r["prefix"],
                    ",".join(r["scopes"]),
                    r["revoked_at"] or "",
                )
                for r in rows
            ),
        )
    )


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="the key's id, key_…")],
    as_json: JsonFlag = False,
) -> None:
    """Revoke a key; every process refuses it within a second."""
    from chatgate.services.keys import revoke_key_by_id

    key = with_database(Settings(), lambda db: revoke_key_by_id(db, key_id))
    if as_json:
        emit({"id": key.id, "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None})
    else:
        console.print(f"revoked {key.id}")
