"""What every command shares: the console, the ``--json`` flag, running work against the
database, printing JSON, and tables of ids."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from chatgate.config import Settings
from chatgate.errors import ChatgateError
from chatgate.storage.database import Database

console = Console()
T = TypeVar("T")

JsonFlag = Annotated[bool, typer.Option("--json", help="print JSON", envvar="CHATGATE_JSON")]


def with_database(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
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


def emit(payload: Any) -> None:
    typer.echo(json.dumps(payload, ensure_ascii=False, default=str))


def id_table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> Table:
    """A table whose first column holds ids, with ``rows`` in it.

    Ids are copied from it into the next command (``channels remove``, ``keys revoke``), so
    their column is never wrapped nor narrowed below the longest id, however narrow the
    terminal; the other columns give way, folding long values onto more lines rather than
    cutting them.
    """
    rows = list(rows)
    table = Table()
    longest = max((len(row[0]) for row in rows), default=0)
    table.add_column(headers[0], no_wrap=True, min_width=longest or None)
    for header in headers[1:]:
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table
