"""The ``chatgate`` command: serve, worker, migrate, emulate, accounts, keys, channels,
contacts and sessions.

Every flag also reads a ``CHATGATE_*`` variable, and the store is ``CHATGATE_DATABASE_URL``.
The command tree is put together here, in the order ``chatgate --help`` lists it; each
module beside this one holds one responsibility's commands.
"""

from __future__ import annotations

import sys

import typer
from pydantic import ValidationError

from chatgate.cli import serving
from chatgate.cli.accounts import accounts_app
from chatgate.cli.channels import channels_app
from chatgate.cli.contacts import contacts_app
from chatgate.cli.keys import keys_app
from chatgate.cli.sessions import sessions_app
from chatgate.config import Settings

__all__ = ["app", "main"]

app = typer.Typer(help="Chatgate, the self-hostable messaging gateway.", no_args_is_help=True)
app.command()(serving.migrate)
app.command()(serving.serve)
app.command("worker")(serving.run_worker)
app.command()(serving.emulate)
app.add_typer(accounts_app, name="accounts")
app.add_typer(keys_app, name="keys")
app.add_typer(channels_app, name="channels")
app.add_typer(contacts_app, name="contacts")
app.add_typer(sessions_app, name="sessions")


def main() -> None:
    """Run the command line; settings that cannot be read (``CHATGATE_…`` variables) end it
    with one line per problem, not a traceback."""
    try:
        app()
    except ValidationError as exc:
        if exc.title != Settings.__name__:
            raise
        for error in exc.errors():
            name = "_".join(str(part) for part in error["loc"]).upper()
            message = str(error["msg"]).removeprefix("Value error, ")
            print(f"chatgate: CHATGATE_{name}: {message}", file=sys.stderr)
        raise SystemExit(2) from None
