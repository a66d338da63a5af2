"""The account as the API shows it: plan, credit, today's usage, channels; its ledger."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field, Strict, field_validator

from chatgate.api.schemas.common import ApiModel
from chatgate.domain.billing import (
    PRICE_KEY_PATTERN,
    LedgerKind,
    format_amount,
    valid_price_key,
)
from chatgate.domain.content import Integer, json_integer
from chatgate.domain.free_form import PropertyNames
from chatgate.domain.keys import KeyMode
from chatgate.domain.records import ApiKey
from chatgate.services.billing import AccountSummary
from chatgate.storage.billing import LedgerEntry
from chatgate.storage.channels import StoredConnection


class PlanOut(BaseModel):
    """The account's plan; ``null`` limits are none."""

    name: str
    rate_limit: int | None = Field(
        description="requests per minute per key, unless a key has its own"
    )
    daily_messages: int | None = Field(description="live messages per UTC day")
    sessions: int | None = Field(description="linked-device sessions held at once")


class CreditOut(BaseModel):
    """The account's credit in micro-units of its currency (1 unit = 1,000,000)."""

    currency: str
    balance: int = Field(description="what can still be spent")
    held: int = Field(description="reserved by live messages not yet sent")
    display: str = Field(examples=["12.500000 USD"])


class UsageOut(BaseModel):
    """Live messages accepted today (UTC) against the plan's quota."""

    messages_today: int
    daily_limit: int | None
    resets_at: datetime


class ChannelSummary(BaseModel):
    """One channel connection of the account."""

    id: str
    type: str
    name: str
    status: Literal["connected", "not_configured"]


class AccountOut(BaseModel):
    """The account the key belongs to, the key itself, its plan, credit and channels."""

    id: str
    object: Literal["account"] = "account"
    name: str
    created_at: datetime
    mode: KeyMode = Field(description="the mode of the key making this request")
    key_id: str
    scopes: list[str]
    plan: PlanOut
    credit: CreditOut
    usage: UsageOut
    channels: list[ChannelSummary]

    @classmethod
    def of(
        cls, summary: AccountSummary, key: ApiKey, connections: list[StoredConnection]
    ) -> AccountOut:
        """Render an account as seen by ``key``."""
        account, terms = summary.account, summary.terms
        return cls(
            id=account.id,
            name=account.name,
            created_at=account.created_at,
            mode=key.mode,
            key_id=key.id,
            scopes=sorted(key.scopes),
            plan=PlanOut(
                name=terms.plan.name,
                rate_limit=terms.plan.rate_limit,
                daily_messages=terms.plan.daily_messages,
                sessions=terms.plan.sessions,
            ),
            credit=CreditOut(
                currency=terms.currency,
                balance=account.balance,
                held=account.held,
                display=format_amount(account.balance, terms.currency),
            ),
            usage=UsageOut(
                messages_today=summary.messages_today,
                daily_limit=terms.plan.daily_messages,
                resets_at=summary.quota_resets_at,
            ),
            channels=[
                ChannelSummary(
                    id=c.id,
                    type=c.type,
                    name=c.name,
                    status="connected" if c.credentials else "not_configured",
                )
                for c in connections
            ],
        )


class LedgerEntryOut(BaseModel):
    """One movement of credit; ``amount`` is the change to the balance."""

    id: str
    object: Literal["ledger_entry"] = "ledger_entry"
    kind: LedgerKind
    amount: int
    balance_after: int
    held_after: int
    message_id: str | None
    key_id: str | None
    note: str | None
    created_at: datetime

    @classmethod
    def of(cls, entry: LedgerEntry) -> LedgerEntryOut:
        """The API view of a stored entry."""
        return cls(
            id=entry.id,
            kind=entry.kind,
            amount=entry.amount,
            balance_after=entry.balance_after,
            held_after=entry.held_after,
            message_id=entry.message_id,
            key_id=entry.api_key_id,
            note=entry.note,
            created_at=entry.created_at,
        )


class LedgerList(BaseModel):
    """A page of the ledger, newest first."""

    object: Literal["list"] = "list"
    data: list[LedgerEntryOut]
    has_more: bool
    next_cursor: str | None


# A price in micro-units of the account's currency (Integer's rules, the bound inside them
# so that the schema states it).
Price = Annotated[int, Strict(), Field(ge=0), BeforeValidator(json_integer)]


class CreditRequest(ApiModel):
    """Credit to add (negative: to take back) in micro-units."""

    amount: Integer = Field(
        ge=-(10**15),
        le=10**15,
        description="micro-units; not zero",
        # Refused by the service ("must not be zero"); stated here for clients.
        json_schema_extra={"not": {"const": 0}},
    )
    note: str | None = Field(default=None, max_length=200)


class TermsRequest(ApiModel):
    """A new plan, or the account's own prices (``null`` clears them)."""

    plan: str | None = Field(default=None, min_length=1, max_length=40)
    prices: Annotated[dict[str, Price], PropertyNames(PRICE_KEY_PATTERN)] | None = Field(
        default=None, description='e.g. {"*": 5000, "whatsapp.template": 25000}'
    )

    @field_validator("prices")
    @classmethod
    def _known_prices(cls, value: dict[str, int] | None) -> dict[str, int] | None:
        for key in value or {}:
            if not valid_price_key(key):
                raise ValueError(f"{key!r} is not '*', a channel or 'channel.kind'")
        return value
