"""``chatgate sessions``: an account's linked-device sessions, and pairing a phone from the
terminal.

The commands act through the same services as ``/v1/sessions``; a session runs in a worker
started with ``CHATGATE_WHATSAPP_WEB_DRIVER`` set, which ``pair`` waits on: it prints each
QR code the session shows, in the terminal, until the phone has scanned one.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import segno
import typer
from rich.text import Text
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.cli.common import JsonFlag, console, emit, id_table, with_database
from chatgate.config import Settings
from chatgate.storage.database import Database

sessions_app = typer.Typer(help="Linked-device sessions (WhatsApp by QR).", no_args_is_help=True)
Account = Annotated[str, typer.Option(envvar="CHATGATE_ACCOUNT", help="the account's name")]
Reference = Annotated[str, typer.Argument(metavar="NAME", help="the session's name (or id)")]
# How often ``pair`` looks at the session's state.
POLL_SECONDS = 0.5


def _service(settings: Settings) -> Any:
    from chatgate.crypto import credential_box
    from chatgate.services.sessions import SessionService

    return SessionService(credential_box(settings))


def _row(stored: Any) -> dict[str, Any]:
    from chatgate.services.sessions import SessionService

    view = SessionService.view(stored)
    return {
        "id": view.id,
        "name": view.name,
        "state": view.state,
        "reason": view.reason,
        "phone": view.phone,
        "phone_name": view.phone_name,
        "pacing": view.pacing,
    }


async def _actor(database: Database, account: str) -> Any:
    from chatgate.services.accounts import get_account_by_name
    from chatgate.services.audit import Actor

    return Actor((await get_account_by_name(database, account)).id)


# What a command does with the service, in one transaction of the account's.
Action = Callable[[Any, AsyncConnection, Any], Awaitable[Any]]


def _act(account: str, action: Action, *, write: bool) -> Any:
    """Run ``action(service, conn, actor)`` for ``account`` in one transaction."""
    settings = Settings()
    service = _service(settings)

    async def work(database: Database) -> Any:
        actor = await _actor(database, account)
        async with database.write() if write else database.read() as conn:
            return await action(service, conn, actor)

    return with_database(settings, work)


@sessions_app.command("create")
def sessions_create(name: Reference, account: Account, as_json: JsonFlag = False) -> None:
    """Create a session; a worker with a driver starts it and shows its QR code."""
    from chatgate.domain.sessions import SessionPacing
    from chatgate.storage.types import utcnow

    async def create(service: Any, conn: AsyncConnection, actor: Any) -> Any:
        return await service.create(conn, actor, name=name, pacing=SessionPacing(), now=utcnow())

    row = _row(_act(account, create, write=True))
    if as_json:
        emit(row)
    else:
        console.print(f"created session {row['name']} ({row['id']}): pair it with `pair {name}`")


@sessions_app.command("list")
def sessions_list(account: Account, as_json: JsonFlag = False) -> None:
    """List an account's sessions."""
    from chatgate.storage.sessions import list_sessions

    async def listed(service: Any, conn: AsyncConnection, actor: Any) -> Any:
        return await list_sessions(conn, actor.account_id)

    rows = [_row(stored) for stored in _act(account, listed, write=False)]
    if as_json:
        emit(rows)
        return
    console.print(
        id_table(
            ("id", "name", "state", "reason", "phone"),
            ((r["id"], r["name"], r["state"], r["reason"] or "", r["phone"] or "") for r in rows),
        )
    )


@sessions_app.command("show")
def sessions_show(name: Reference, account: Account, as_json: JsonFlag = False) -> None:
    """Show one session: its state, the reason of a failure, the paired phone."""

    async def found(service: Any, conn: AsyncConnection, actor: Any) -> Any:
        return await service.find(conn, actor.account_id, name)

    row = _row(_act(account, found, write=False))
    if as_json:
        emit(row)
        return
    for field, value in row.items():
        console.print(f"{field}: {value}", highlight=False)


@sessions_app.command("delete")
def sessions_delete(name: Reference, account: Account, as_json: JsonFlag = False) -> None:
    """Delete a session: its worker logs the device out; its keys are forgotten."""

    async def removed_one(service: Any, conn: AsyncConnection, actor: Any) -> Any:
        stored = await service.find(conn, actor.account_id, name)
        return await service.remove(conn, actor, stored.id)

    removed = _act(account, removed_one, write=True)
    if as_json:
        emit({"id": removed.id, "removed": True})
    else:
        console.print(f"deleted session {removed.name} ({removed.id})")


def render_qr(code: str) -> Text:
    """A QR code as terminal text (two modules per character, dark on light)."""
    out = io.StringIO()
    segno.make(code, error="l").terminal(out=out, compact=True, border=2)
    return Text(out.getvalue(), no_wrap=True)


@sessions_app.command("pair")
def sessions_pair(
    name: Reference,
    account: Account,
    wait: Annotated[float, typer.Option(help="give up after this many seconds")] = 300.0,
) -> None:
    """Print the session's QR codes until the phone scanned one (creating the session, or
    starting a stopped or failed one again, first)."""
    from chatgate.domain.sessions import SessionPacing
    from chatgate.errors import NotFound
    from chatgate.storage.sessions import get_session
    from chatgate.storage.types import utcnow

    settings = Settings()
    service = _service(settings)

    async def work(database: Database) -> Any:
        actor = await _actor(database, account)
        async with database.write() as conn:
            try:
                stored = await service.find(conn, actor.account_id, name)
                stored = await service.pair_again(conn, actor, stored.id, utcnow())
            except NotFound:
                stored = await service.create(
                    conn, actor, name=name, pacing=SessionPacing(), now=utcnow()
                )
        shown: str | None = None
        deadline = time.monotonic() + wait
        console.print("waiting for a worker to show the QR code…")
        while time.monotonic() < deadline:
            async with database.read() as conn:
                stored = await get_session(conn, stored.id)
            if stored is None or stored.state in ("working", "failed", "stopped"):
                return stored
            if stored.qr is not None and stored.qr != shown:
                shown = stored.qr
                console.print(render_qr(shown))
                console.print("scan it in WhatsApp: Settings > Linked devices > Link a device")
            await asyncio.sleep(POLL_SECONDS)
        return stored

    stored = with_database(settings, work)
    if stored is None:
        console.print("[red]error:[/red] the session was deleted meanwhile")
        raise typer.Exit(1)
    if stored.state == "working":
        console.print(f"paired with {stored.phone} ({stored.push_name})", highlight=False)
        return
    console.print(f"[red]not paired:[/red] the session is {stored.state} ({stored.reason})")
    raise typer.Exit(1)
