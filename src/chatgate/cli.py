"""The ``chatgate`` command: serve, worker, migrate, emulate, accounts, keys and channels.

Every flag also reads a ``CHATGATE_*`` variable, and the store is ``CHATGATE_DATABASE_URL``.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import uvicorn
from rich.console import Console
from rich.table import Table

from chatgate import event_loop
from chatgate.config import Settings
from chatgate.domain.billing import MICRO, format_amount
from chatgate.domain.keys import KeyMode, Scope
from chatgate.errors import ChatgateError
from chatgate.logging import configure_logging
from chatgate.storage.database import Database
from chatgate.storage.migrate import upgrade

app = typer.Typer(help="Chatgate, the self-hostable messaging gateway.", no_args_is_help=True)
accounts_app = typer.Typer(help="Manage accounts.", no_args_is_help=True)
keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
app.add_typer(accounts_app, name="accounts")
channels_app = typer.Typer(help="Connect platforms.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(channels_app, name="channels")

console = Console()
T = TypeVar("T")

JsonFlag = Annotated[bool, typer.Option("--json", help="print JSON", envvar="CHATGATE_JSON")]


def _with_database(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    async def main() -> T:
        database = Database(settings)
        try:
            return await work(database)
        finally:
            await database.dispose()

    try:
        return asyncio.run(main())
    except ChatgateError as error:
        console.print(f"[red]error:[/red] {error.message}")
        raise typer.Exit(1) from error


def _emit(payload: Any) -> None:
    typer.echo(json.dumps(payload, ensure_ascii=False, default=str))


@app.command()
def migrate() -> None:
    """Bring the database up to the newest schema."""
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    upgrade(settings)
    console.print("[green]database is up to date[/green]")


def _print_demo(settings: Settings, live: str, test: str) -> None:
    base = f"http://{settings.host}:{settings.port}"
    console.print("\n[bold green]Created the demo account[/bold green] (keys are shown only once):")
    console.print(f"  live key: [bold]{live}[/bold]")
    console.print(f"  test key: [bold]{test}[/bold]  (messages go to the sandbox)\n")
    body = (
        '{"channel": "sms", "to": "+14155550123", '
        '"content": {"type": "text", "text": "Hello from Chatgate 👋"}}'
    )
    console.print("Send a message through the sandbox:\n", style="bold")
    console.print(
        f"curl -sS {base}/v1/messages \\\n"
        f'  -H "Authorization: Bearer {test}" \\\n'
        '  -H "Content-Type: application/json" \\\n'
        f"  -d '{body}'\n",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        f'then: curl -sS {base}/v1/messages/<id> -H "Authorization: Bearer {test}"\n',
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def serve(
    host: Annotated[str, typer.Option(envvar="CHATGATE_HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="CHATGATE_PORT")] = 8000,
    worker: Annotated[
        bool,
        typer.Option(
            "--worker/--no-worker",
            envvar="CHATGATE_WORKER_ENABLED",
            help="run the worker in this process",
        ),
    ] = True,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo/--no-demo", envvar="CHATGATE_DEMO", help="create a demo account on first start"
        ),
    ] = False,
    migrate_first: Annotated[
        bool,
        typer.Option(
            "--migrate/--no-migrate",
            envvar="CHATGATE_MIGRATE",
            help="apply migrations before serving",
        ),
    ] = True,
) -> None:
    """Serve the API (and, unless --no-worker, deliver messages in the same process)."""
    from chatgate.api.app import create_app
    from chatgate.services.accounts import ensure_demo_account

    settings = Settings(host=host, port=port, worker_enabled=worker)
    configure_logging(settings.log_level, settings.log_format)
    if migrate_first:
        upgrade(settings)
    if demo:
        created = _with_database(settings, ensure_demo_account)
        if created.live_secret and created.test_secret:
            _print_demo(settings, created.live_secret, created.test_secret)
        else:
            console.print(
                "The demo account exists already; its keys were shown when it was created. "
                "Make a new one with: [bold]chatgate keys create --account demo --mode test[/bold]"
            )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        proxy_headers=True,
        access_log=False,
    )


@app.command("worker")
def run_worker(
    concurrency: Annotated[
        int,
        typer.Option(
            envvar="CHATGATE_WORKER_CONCURRENCY", min=1, max=64, help="claim loops side by side"
        ),
    ] = 2,
) -> None:
    """Deliver messages without serving the API; stops cleanly on SIGTERM.

    On SIGTERM it stops claiming, finishes the batches in hand (within
    CHATGATE_WORKER_DRAIN_SECONDS) and hands back anything unfinished.
    """
    from chatgate.api.app import build_gateway, running

    settings = Settings(worker_concurrency=concurrency)
    configure_logging(settings.log_level, settings.log_format)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        async with running(build_gateway(settings), with_worker=True):
            await stop.wait()

    # The loop ``serve`` runs on too (uvicorn picks uvloop where it is installed).
    event_loop.run(main())


@accounts_app.command("create")
def accounts_create(
    name: Annotated[str, typer.Argument(help="a unique name")],
    as_json: JsonFlag = False,
) -> None:
    """Create an account."""
    from chatgate.services.accounts import create_account

    account = _with_database(Settings(), lambda db: create_account(db, name))
    if as_json:
        _emit(
            {"id": account.id, "name": account.name, "created_at": account.created_at.isoformat()}
        )
    else:
        console.print(f"created account [bold]{account.name}[/bold] ({account.id})")


def _micro_units(raw: str) -> int:
    """``12.50`` (units of the account's currency) as micro-units."""
    try:
        amount = Decimal(raw) * MICRO
    except InvalidOperation:
        raise typer.BadParameter(f"{raw!r} is not an amount such as 12.50") from None
    if amount != amount.to_integral_value() or amount == 0:
        raise typer.BadParameter("must be non-zero, with at most 6 decimal places")
    return int(amount)


@accounts_app.command("credit")
def accounts_credit(
    name: Annotated[str, typer.Argument(help="the account's name")],
    amount: Annotated[
        str, typer.Argument(help="in units of its currency, e.g. 25 or 12.50; negative takes back")
    ],
    note: Annotated[str | None, typer.Option(help="why, for the ledger")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Add credit to an account (recorded in its ledger and audit log)."""
    from chatgate.services.accounts import get_account_by_name
    from chatgate.services.audit import Actor
    from chatgate.services.billing import Billing, top_up
    from chatgate.storage.types import utcnow

    micro = _micro_units(amount)
    settings = Settings()

    async def work(database: Database) -> tuple[int, str]:
        account = await get_account_by_name(database, name)
        async with database.write() as conn:
            entry = await top_up(conn, Actor(account.id), micro, utcnow(), note)
        return entry.balance_after, Billing(settings).terms_of(account).currency

    balance, currency = _with_database(settings, work)
    if as_json:
        _emit({"account": name, "amount": micro, "balance": balance, "currency": currency})
    else:
        console.print(f"[bold]{name}[/bold] now has {format_amount(balance, currency)}")


@accounts_app.command("plan")
def accounts_plan(
    name: Annotated[str, typer.Argument(help="the account's name")],
    plan: Annotated[str, typer.Argument(help="one of the plans (CHATGATE_PLANS)")],
) -> None:
    """Put an account on a plan: its keys' rate limit and its daily message quota."""
    from chatgate.services.accounts import get_account_by_name
    from chatgate.services.audit import Actor
    from chatgate.services.billing import change_terms

    settings = Settings()

    async def work(database: Database) -> None:
        account = await get_account_by_name(database, name)
        async with database.write() as conn:
            await change_terms(conn, Actor(account.id), settings, plan=plan, prices=None)

    _with_database(settings, work)
    limits = settings.plans[plan]
    console.print(
        f"[bold]{name}[/bold] is on the {plan} plan "
        f"({limits.rate_limit or 'unlimited'} requests/min per key, "
        f"{limits.daily_messages if limits.daily_messages is not None else 'unlimited'} "
        "messages/day)"
    )


def _parse_scopes(raw: str) -> frozenset[str]:
    scopes = frozenset(part.strip() for part in raw.split(",") if part.strip())
    known = {scope.value for scope in Scope}
    unknown = sorted(scopes - known)
    if unknown or not scopes:
        raise typer.BadParameter(f"unknown scopes {unknown}; known: {', '.join(sorted(known))}")
    return scopes


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
    as_json: JsonFlag = False,
) -> None:
    """Create an API key; its secret is printed this once."""
    from chatgate.services.accounts import get_account_by_name
    from chatgate.services.keys import KeySpec, create_key

    spec = KeySpec(name=name, mode=mode, scopes=_parse_scopes(scopes), rate_limit=rate_limit)

    async def work(database: Database) -> tuple[Any, str]:
        found = await get_account_by_name(database, account)
        async with database.write() as conn:
            return await create_key(conn, found.id, spec)

    key, secret = _with_database(Settings(), work)
    if as_json:
        _emit(
            {
                "id": key.id,
                "key": secret,
                "account_id": key.account_id,
                "mode": key.mode.value,
                "scopes": sorted(key.scopes),
            }
        )
    else:
        console.print(f"created {key.mode.value} key {key.id} for {account}:")
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

    found = _with_database(Settings(), work)
    rows = [
        {
            "id": key.id,
            "name": key.name,
            "mode": key.mode.value,
            "prefix": key.display_prefix,
            "scopes": sorted(key.scopes),
            "rate_limit": key.rate_limit,
            "created_at": key.created_at.isoformat(),
            "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
        }
        for key in found
    ]
    if as_json:
        _emit(rows)
        return
    table = Table("id", "name", "mode", "prefix", "scopes", "revoked")
    for row in rows:
        table.add_row(
            row["id"],
            row["name"],
            row["mode"],
            row["prefix"],
            ",".join(row["scopes"]),
            row["revoked_at"] or "",
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="the key's id, key_…")],
    as_json: JsonFlag = False,
) -> None:
    """Revoke a key; every process refuses it within a second."""
    from chatgate.services.keys import revoke_key_by_id

    key = _with_database(Settings(), lambda db: revoke_key_by_id(db, key_id))
    if as_json:
        _emit({"id": key.id, "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None})
    else:
        console.print(f"revoked {key.id}")


@app.command()
def emulate(
    host: Annotated[str, typer.Option(envvar="CHATGATE_EMULATOR_HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="CHATGATE_EMULATOR_PORT")] = 9000,
    gateway: Annotated[
        str | None,
        typer.Option(
            envvar="CHATGATE_EMULATOR_GATEWAY",
            help="the gateway's URL: accounts registered with a connection_id send their "
            "webhooks to its /inbound/{connection_id}",
        ),
    ] = None,
) -> None:
    """Serve local emulators of the platforms (WhatsApp, Telegram, Messenger, Instagram).

    Point a channel's ``settings.api_base`` at ``http://HOST:PORT/graph`` (Meta platforms)
    or ``http://HOST:PORT/telegram``; drive users and faults through ``/_emulator``.
    """
    from chatgate.emulators.app import create_emulator_app

    configure_logging("warning", "console")
    console.print(f"emulating the platforms at http://{host}:{port} (control API: /_emulator)")
    if gateway:
        console.print(f"webhooks of accounts registered by connection_id go to {gateway}")
    uvicorn.run(
        create_emulator_app(gateway_url=gateway),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
    )


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


def _channel_service(settings: Settings) -> Any:
    from chatgate.crypto import credential_box
    from chatgate.services.channels import ChannelService

    return ChannelService(
        credential_box(settings), settings.public_url or f"http://{settings.host}:{settings.port}"
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

    async def work(database: Database) -> Any:
        found = await get_account_by_name(database, account)
        async with database.write() as conn:
            stored = await service.create(
                conn,
                found.id,
                channel_type=channel_type,
                name=name,
                credentials=pairs(credential, "--credential"),
                settings=pairs(setting or [], "--setting"),
                is_default=None,
                now=utcnow(),
            )
        return service.view(stored)

    view = _with_database(settings, work)
    if as_json:
        _emit(_channel_row(view))
    else:
        console.print(f"connected {view.type} channel {view.name} ({view.id})")
        console.print(f"webhook URL for the platform: {view.inbound_url}", highlight=False)


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

    rows = [_channel_row(view) for view in _with_database(settings, work)]
    if as_json:
        _emit(rows)
        return
    table = Table("id", "type", "name", "default", "inbound url")
    for row in rows:
        table.add_row(row["id"], row["type"], row["name"], str(row["default"]), row["inbound_url"])
    console.print(table)


@channels_app.command("remove")
def channels_remove(
    channel_id: Annotated[str, typer.Argument(help="the channel's id, ch_…")],
    account: Annotated[str, typer.Option(envvar="CHATGATE_ACCOUNT", help="the account's name")],
    as_json: JsonFlag = False,
) -> None:
    """Remove a channel from an account."""
    from chatgate.services.accounts import get_account_by_name

    settings = Settings()
    service = _channel_service(settings)

    async def work(database: Database) -> None:
        found = await get_account_by_name(database, account)
        async with database.write() as conn:
            await service.remove(conn, found.id, channel_id)

    _with_database(settings, work)
    if as_json:
        _emit({"id": channel_id, "removed": True})
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

    console.print(f"re-encrypted {_with_database(settings, work)} channel(s)")


# Contacts: their own sub-command, kept together at the end of the file.
contacts_app = typer.Typer(help="Manage contacts.", no_args_is_help=True)
app.add_typer(contacts_app, name="contacts")


@contacts_app.command("import")
def contacts_import(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, readable=True, help="a CSV file with a header row"
        ),
    ],
    account: Annotated[str, typer.Option(envvar="CHATGATE_ACCOUNT", help="the account's name")],
    mode: Annotated[KeyMode, typer.Option(help="live or test contacts")] = KeyMode.LIVE,
    errors: Annotated[
        Path | None,
        typer.Option("--errors", dir_okay=False, help="also write the refused rows to this CSV"),
    ] = None,
    batch_size: Annotated[
        int, typer.Option(min=1, max=5000, help="rows written per transaction")
    ] = 250,
    as_json: JsonFlag = False,
) -> None:
    """Import contacts from a CSV file; exit code 1 when some rows were refused.

    Columns: name, phone (E.164), email, preferred_channels (separated by ';'), one column
    per channel holding the contact's identity on it (whatsapp, telegram, …) and
    attr.<name> for attributes. A row updates the contact with its phone (else the one
    holding one of its identities) instead of making a second one. Every good row is
    imported; every bad one is reported with its line, column and reason.
    """
    import csv

    from rich.progress import Progress
    from rich.text import Text

    from chatgate.services.accounts import get_account_by_name
    from chatgate.services.contact_import import CsvLayoutError, ImportReport, import_contacts

    settings = Settings()
    with Progress(console=console, transient=True, disable=as_json) as progress:
        task = progress.add_task("importing contacts", total=None)

        async def work(database: Database) -> ImportReport:
            found = await get_account_by_name(database, account)
            return await import_contacts(
                database,
                found.id,
                mode,
                file,
                batch_size=batch_size,
                started=lambda total: progress.update(task, total=total),
                advanced=lambda done: progress.advance(task, done),
            )

        try:
            report = _with_database(settings, work)
        except CsvLayoutError as error:
            raise typer.BadParameter(str(error), param_hint="FILE") from None
    if errors is not None:
        with errors.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["line", "column", "reason"])
            writer.writerows([e.line, e.column, e.reason] for e in report.errors)
    if as_json:
        _emit(
            {
                "rows": report.rows,
                "created": report.created,
                "updated": report.updated,
                "refused": report.refused,
                "errors": [
                    {"line": e.line, "column": e.column, "reason": e.reason} for e in report.errors
                ],
            }
        )
    else:
        console.print(
            f"{report.rows} row(s): {report.created} created, {report.updated} updated, "
            f"{report.refused} refused"
        )
        if report.errors:
            table = Table("line", "column", "reason", title="refused rows")
            for e in report.errors:
                # Text, not markup: a reason may quote the file's own cells.
                table.add_row(str(e.line), Text(e.column), Text(e.reason))
            console.print(table)
    if report.refused:
        raise typer.Exit(1)
