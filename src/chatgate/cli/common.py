"""What every command shares: the console, the ``--json`` flag, running work against the
database, and printing JSON."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

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
