"""``chatgate contacts``: import an account's contacts from a CSV file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from chatgate.cli.common import JsonFlag, console, emit, with_database
from chatgate.config import Settings
from chatgate.domain.keys import KeyMode
from chatgate.storage.database import Database

contacts_app = typer.Typer(help="Manage contacts.", no_args_is_help=True)


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
            report = with_database(settings, work)
        except CsvLayoutError as error:
            raise typer.BadParameter(str(error), param_hint="FILE") from None
    if errors is not None:
        with errors.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["line", "column", "reason"])
            writer.writerows([e.line, e.column, e.reason] for e in report.errors)
    if as_json:
        emit(
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
