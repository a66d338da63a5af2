"""``chatgate channels``: connect, list and remove an account's platforms, and re-encrypt
every channel's credentials after a key rotation."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from chatgate.cli.common import JsonFlag, console, emit, id_table, with_database
from chatgate.config import Settings
from chatgate.storage.database import Database

channels_app = typer.Typer(help="Connect platforms.", no_args_is_help=True)


def _channel_row(view: Any) -> dict[str, Any]:
    return {
        "id": view.id,
        "type": view.type,
        "name": view.name,
        "default": view.is_default,
        "settings": view.settings,
        "credentials_set": view.credentials_set,
        "inbound_url": view.inbound_url,
    }


def _public_base(settings: Settings) -> str:
    """The gateway's address as the platforms reach it, as the server builds it:
    ``CHATGATE_PUBLIC_URL``, else the address it serves on by the same settings."""
    return settings.public_url or f"http://{settings.host}:{settings.port}"


def _say_where_urls_point(settings: Settings, as_json: bool) -> None:
    """Say, when CHATGATE_PUBLIC_URL is unset, which address the inbound URLs assume.

    The command does not know where the server runs: without the variable it assumes the
    host and port of its own environment, which are wrong whenever the server was started
    elsewhere, on another port, or behind a proxy. With ``--json`` the note goes to stderr,
    so the JSON on stdout stays whole.
    """
    if settings.public_url:
        return
    note = (
        f"CHATGATE_PUBLIC_URL is not set, so the inbound URLs assume the gateway at "
        f"{_public_base(settings)}; set it to the gateway's address as the platforms reach it "
        "whenever the gateway is not on that address (another host or port, or a proxy)."
    )
    if as_json:
        typer.echo(note, err=True)
    else:
        console.print(note, style="yellow", highlight=False)


def _channel_service(settings: Settings) -> Any:
    from chatgate.crypto import credential_box
    from chatgate.net_guard import NetworkPolicy
    from chatgate.services.channels import ChannelService

    return ChannelService(
        credential_box(settings),
        _public_base(settings),
        NetworkPolicy(allow_private=settings.allow_private_api_base),
    )


@channels_app.command("add")
def channels_add(
    channel_type: Annotated[str, typer.Argument(metavar="TYPE", help="whatsapp, telegram, …")],
    name: Annotated[str, typer.Argument(help="a name unique in the account")],
    account: Annotated[str, typer.Option(envvar="CHATGATE_ACCOUNT", help="the account's name")],
    credential: Annotated[
        list[str], typer.Option("--credential", "-c", help="FIELD=VALUE, repeated")
    ],
    setting: Annotated[
        list[str] | None, typer.Option("--setting", "-s", help="FIELD=VALUE, repeated")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Connect a platform to an account (credentials are stored encrypted)."""
    from chatgate.services.accounts import get_account_by_name
    from chatgate.services.audit import Actor
    from chatgate.storage.types import utcnow

    def pairs(items: list[str], option: str) -> dict[str, Any]:
        parsed: dict[str, Any] = {}
        for item in items:
            field, sep, value = item.partition("=")
            if not sep:
                raise typer.BadParameter(f"{item!r} is not FIELD=VALUE", param_hint=option)
            parsed[field.strip()] = value
        return parsed

    settings = Settings()
    service = _channel_service(settings)

    credentials = pairs(credential, "--credential")
    channel_settings = pairs(setting or [], "--setting")

    async def work(database: Database) -> Any:
        found = await get_account_by_name(database, account)
        await service.check_reach(channel_type, credentials, channel_settings)
        async with database.write() as conn:
            stored = await service.create(
                conn,
                Actor(found.id),
                channel_type=channel_type,
                name=name,
                credentials=credentials,
                settings=channel_settings,
                is_default=None,
                now=utcnow(),
            )
        return service.view(stored)

    view = with_database(settings, work)
    if as_json:
        emit(_channel_row(view))
    else:
        console.print(f"connected {view.type} channel {view.name} ({view.id})")
        console.print(f"webhook URL for the platform: {view.inbound_url}", highlight=False)
    _say_where_urls_point(settings, as_json)


@channels_app.command("list")
def channels_list(
    account: Annotated[str, typer.Option(envvar="CHATGATE_ACCOUNT", help="the account's name")],
    as_json: JsonFlag = False,
) -> None:
    """List an account's channels (never their credentials)."""
    from chatgate.services.accounts import get_account_by_name
    from chatgate.storage.channels import list_connections

    settings = Settings()
    service = _channel_service(settings)

    async def work(database: Database) -> list[Any]:
        found = await get_account_by_name(database, account)
        async with database.read() as conn:
            return [service.view(c) for c in await list_connections(conn, found.id)]

    rows = [_channel_row(view) for view in with_database(settings, work)]
    if as_json:
        emit(rows)
    else:
        cells = ((r["id"], r["type"], r["name"], str(r["default"]), r["inbound_url"]) for r in rows)
        console.print(id_table(("id", "type", "name", "default", "inbound url"), cells))
    if rows:
        _say_where_urls_point(settings, as_json)


@channels_app.command("remove")
def channels_remove(
    channel_id: Annotated[str, typer.Argument(help="the channel's id, ch_…")],
    account: Annotated[str, typer.Option(envvar="CHATGATE_ACCOUNT", help="the account's name")],
    as_json: JsonFlag = False,
) -> None:
    """Remove a channel from an account."""
    from chatgate.services.accounts import get_account_by_name
    from chatgate.services.audit import Actor

    settings = Settings()
    service = _channel_service(settings)

    async def work(database: Database) -> None:
        found = await get_account_by_name(database, account)
        async with database.write() as conn:
            await service.remove(conn, Actor(found.id), channel_id)

    with_database(settings, work)
    if as_json:
        emit({"id": channel_id, "removed": True})
    else:
        console.print(f"removed {channel_id}")


@channels_app.command("reencrypt")
def channels_reencrypt() -> None:
    """Re-encrypt every channel's credentials with the first CHATGATE_SECRET_KEY (rotation)."""
    settings = Settings()
    service = _channel_service(settings)

    async def work(database: Database) -> int:
        async with database.write() as conn:
            count: int = await service.reencrypt_all(conn)
            return count

    console.print(f"re-encrypted {with_database(settings, work)} channel(s)")
