"""Credit and plans: a live send is counted in the account's daily usage (against the plan's
quota, when it has one) and its price is reserved at accept; the settlement
(``services/settlement``) spends or refunds it later.

Test keys cost nothing and count against no quota. A refusal writes nothing: the quota's
count is taken back when the credit then falls short, in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.config import Settings
from chatgate.domain.billing import (
    BillingState,
    LedgerKind,
    Plan,
    format_amount,
    price_of,
    quota_resets_at,
    usage_day,
)
from chatgate.domain.keys import KeyMode
from chatgate.domain.records import Account, ApiKey, Message
from chatgate.errors import InvalidRequest, NotFound, PaymentRequired, RateLimited
from chatgate.services.audit import Actor, record
from chatgate.storage import accounts as account_store
from chatgate.storage import billing as billing_store
from chatgate.storage import keys as key_store
from chatgate.storage.billing import LedgerEntry
from chatgate.storage.database import Database


@dataclass(frozen=True, slots=True)
class AccountTerms:
    """What an account's live messages cost and how many it may send a day."""

    plan: Plan
    currency: str
    prices: dict[str, int]


@dataclass(slots=True)
class Charges:
    """The terms read once for one accept transaction (one request, or a batch)."""

    terms: AccountTerms | None = None


class Billing:
    """Applies the configured prices and plans, and each account's own."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def terms_of(self, account: Account) -> AccountTerms:
        """The plan, currency and prices in force for ``account``."""
        return AccountTerms(
            plan=self.settings.plan(account.plan),
            currency=account.currency or self.settings.currency,
            prices={**self.settings.prices, **(account.prices or {})},
        )

    async def terms(self, conn: AsyncConnection, key: ApiKey, charges: Charges) -> AccountTerms:
        """The key's account's terms, read once per accept transaction (kept in ``charges``)."""
        if charges.terms is None:
            account = await account_store.get_account(conn, key.account_id)
            if account is None:
                raise NotFound("no such account")
            charges.terms = self.terms_of(account)
        return charges.terms

    async def charge(
        self, conn: AsyncConnection, key: ApiKey, message: Message, charges: Charges
    ) -> Message:
        """Count ``message`` against the daily quota and reserve its price, in ``conn``'s
        transaction; the message with its price. Raises 429 ``quota_exceeded`` or 402
        ``insufficient_credit``, having written nothing."""
        if key.mode is KeyMode.TEST:
            return message
        terms = await self.terms(conn, key, charges)
        at = message.created_at
        day = usage_day(at)
        # Counted on every plan (GET /v1/account shows today's usage); the same one write
        # checks the quota on a plan that has one.
        quota = terms.plan.daily_messages
        if not await billing_store.count_messages(conn, key.account_id, day, 1, quota):
            raise _quota_exceeded(terms.plan, at)
        price = price_of(terms.prices, message.channel, str(message.content.get("type")))
        if price == 0:
            return message
        reserved = await billing_store.reserve(
            conn, key.account_id, price, at, message_id=message.id, api_key_id=key.id
        )
        if reserved is None:
            await billing_store.count_messages(conn, key.account_id, day, -1, None)
            raise PaymentRequired(
                f"the account's credit does not cover this message "
                f"({format_amount(price, terms.currency)})",
                code="insufficient_credit",
                details={"price": price, "currency": terms.currency},
            )
        return replace(message, price=price, billing=BillingState.HELD.value)


def _quota_exceeded(plan: Plan, at: datetime) -> RateLimited:
    resets = quota_resets_at(at)
    wait = max(1, int((resets - at).total_seconds()))
    return RateLimited(
        f"the {plan.name} plan allows {plan.daily_messages} messages a day; "
        f"the quota resets at {resets.isoformat()}",
        code="quota_exceeded",
        headers={"Retry-After": str(wait)},
        details={"limit": plan.daily_messages, "resets_at": resets.isoformat()},
    )


@dataclass(frozen=True, slots=True)
class AccountSummary:
    """The account as ``GET /v1/account`` shows it."""

    account: Account
    terms: AccountTerms
    messages_today: int
    quota_resets_at: datetime


async def summary(
    database: Database, billing: Billing, account_id: str, at: datetime
) -> AccountSummary:
    """The account's plan, credit and today's usage."""
    async with database.read() as conn:
        account = await account_store.get_account(conn, account_id)
        if account is None:
            raise NotFound("no such account")
        used = await billing_store.messages_on(conn, account_id, usage_day(at))
    return AccountSummary(account, billing.terms_of(account), used, quota_resets_at(at))


async def top_up(
    conn: AsyncConnection, actor: Actor, amount: int, at: datetime, note: str | None
) -> LedgerEntry:
    """Add ``amount`` micro-units to the actor's account (negative: take it back, never below
    zero), audited."""
    if amount == 0:
        raise InvalidRequest("must not be zero", field="amount")
    entry = await billing_store.top_up(conn, actor.account_id, amount, at, note=note)
    if entry is None:
        raise InvalidRequest(
            "taking this much back would leave a negative balance",
            code="insufficient_credit",
            field="amount",
        )
    await record(
        conn,
        actor,
        "account.credited",
        actor.account_id,
        {"amount": amount, "balance_after": entry.balance_after, "note": note},
    )
    return entry


async def change_terms(
    conn: AsyncConnection,
    actor: Actor,
    settings: Settings,
    *,
    plan: str | None,
    prices: dict[str, int] | None,
    clear_prices: bool = False,
) -> None:
    """Set the account's plan or its own prices, audited; keys pick up a new plan's rate
    limit at once."""
    if plan is not None and plan not in settings.plans:
        known = ", ".join(sorted(settings.plans))
        raise InvalidRequest(
            f"no plan named {plan!r}; plans: {known}", field="plan", code="unknown_plan"
        )
    await account_store.set_billing(
        conn, actor.account_id, plan=plan, prices=prices, clear_prices=clear_prices
    )
    if plan is not None:
        await record(conn, actor, "account.plan_changed", actor.account_id, {"plan": plan})
        # A key's rate limit comes from its account's plan: cached keys must be read again.
        await key_store.bump_cache_version(conn, key_store.KEYS_CACHE)
    if prices is not None or clear_prices:
        await record(conn, actor, "account.prices_changed", actor.account_id, {"prices": prices})


async def ledger_page(
    database: Database,
    account_id: str,
    *,
    kind: LedgerKind | None,
    message_id: str | None,
    before: str | None,
    limit: int,
) -> tuple[list[LedgerEntry], bool]:
    """A page of the account's ledger, newest first, and whether older entries remain."""
    async with database.read() as conn:
        found = await billing_store.list_ledger(
            conn, account_id, kind=kind, message_id=message_id, before=before, limit=limit + 1
        )
    return found[:limit], len(found) > limit
