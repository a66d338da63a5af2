"""``chatgate accounts``: create an account, credit it, put it on a plan."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated

import typer

from chatgate.cli.common import JsonFlag, console, emit, with_database
from chatgate.config import Settings
from chatgate.domain.billing import MICRO, format_amount
from chatgate.storage.database import Database

accounts_app = typer.Typer(help="Manage accounts.", no_args_is_help=True)


@accounts_app.command("create")
def accounts_create(
    name: Annotated[str, typer.Argument(help="a unique name")],
    as_json: JsonFlag = False,
) -> None:
    """Create an account."""
    from chatgate.services.accounts import create_account

    account = with_database(Settings(), lambda db: create_account(db, name))
    if as_json:
        emit({"id": account.id, "name": account.name, "created_at": account.created_at.isoformat()})
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

    balance, currency = with_database(settings, work)
    if as_json:
        emit({"account": name, "amount": micro, "balance": balance, "currency": currency})
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

    with_database(settings, work)
    limits = settings.plans[plan]
    console.print(
        f"[bold]{name}[/bold] is on the {plan} plan "
        f"({limits.rate_limit or 'unlimited'} requests/min per key, "
        f"{limits.daily_messages if limits.daily_messages is not None else 'unlimited'} "
        f"messages/day, {limits.sessions if limits.sessions is not None else 'unlimited'} "
        "sessions)"
    )
