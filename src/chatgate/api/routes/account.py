"""``/v1/account``: the account behind the key, its credit ledger; and the operator's
``/v1/admin/accounts`` to credit an account and set its plan and prices."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.api.actor import client_ip
from chatgate.api.auth import require
from chatgate.api.schemas.account import (
    AccountOut,
    CreditRequest,
    LedgerEntryOut,
    LedgerList,
    TermsRequest,
)
from chatgate.api.schemas.common import ERROR_RESPONSES
from chatgate.api.state import gateway_of
from chatgate.domain.billing import LedgerKind
from chatgate.domain.keys import Scope
from chatgate.domain.records import ApiKey
from chatgate.errors import NotFound
from chatgate.services import billing
from chatgate.services.audit import Actor
from chatgate.storage import accounts as account_store
from chatgate.storage import channels as channel_store
from chatgate.storage.types import utcnow

router = APIRouter(prefix="/v1", tags=["account"], responses=ERROR_RESPONSES)
ACCOUNT_ID = Path(pattern=r"^acc_[0-9A-Z]{26}$", description="the account's id, acc_…")


@router.get("/account", response_model=AccountOut)
async def get_account(
    request: Request, key: ApiKey = Depends(require(Scope.ACCOUNT_READ))
) -> AccountOut:
    """The account the calling key belongs to: plan, credit, today's usage, channels."""
    return await _account_out(request, key, key.account_id)


async def _account_out(request: Request, key: ApiKey, account_id: str) -> AccountOut:
    """The account as ``key`` sees it: plan, credit, today's usage and channels."""
    gateway = gateway_of(request)
    summary = await billing.summary(gateway.database, gateway.billing, account_id, utcnow())
    async with gateway.database.read() as conn:
        connections = await channel_store.list_connections(conn, account_id)
    return AccountOut.of(summary, key, connections)


@router.get("/account/ledger", response_model=LedgerList)
async def list_ledger(
    request: Request,
    key: ApiKey = Depends(require(Scope.ACCOUNT_READ)),
    kind: LedgerKind | None = None,
    message_id: Annotated[str | None, Query(pattern=r"^msg_[0-9A-Z]{26}$")] = None,
    cursor: Annotated[
        str | None, Query(pattern=r"^led_[0-9A-Z]{26}$", description="next_cursor of a page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> LedgerList:
    """Every movement of the account's credit, newest first."""
    found, has_more = await billing.ledger_page(
        gateway_of(request).database,
        key.account_id,
        kind=kind,
        message_id=message_id,
        before=cursor,
        limit=limit,
    )
    return LedgerList(
        data=[LedgerEntryOut.of(entry) for entry in found],
        has_more=has_more,
        next_cursor=found[-1].id if found and has_more else None,
    )


async def _admin_actor(
    conn: AsyncConnection, request: Request, key: ApiKey, account_id: str
) -> Actor:
    """The admin key acting on ``account_id`` (recorded in that account's audit log)."""
    if await account_store.get_account(conn, account_id, for_update=True) is None:
        raise NotFound("no such account", field="account_id")
    return Actor(account_id, key.id, client_ip(request))


@router.post("/admin/accounts/{account_id}/credit", response_model=LedgerEntryOut)
async def credit_account(
    body: CreditRequest,
    request: Request,
    account_id: str = ACCOUNT_ID,
    key: ApiKey = Depends(require(Scope.ADMIN)),
) -> LedgerEntryOut:
    """Add credit to an account (a negative amount takes it back, never below zero)."""
    async with gateway_of(request).database.write() as conn:
        actor = await _admin_actor(conn, request, key, account_id)
        entry = await billing.top_up(conn, actor, body.amount, utcnow(), body.note)
    return LedgerEntryOut.of(entry)


@router.patch("/admin/accounts/{account_id}", response_model=AccountOut)
async def change_account_terms(
    body: TermsRequest,
    request: Request,
    account_id: str = ACCOUNT_ID,
    key: ApiKey = Depends(require(Scope.ADMIN)),
) -> AccountOut:
    """Set an account's plan, or its own prices (``"prices": null`` clears them)."""
    gateway = gateway_of(request)
    async with gateway.database.write() as conn:
        actor = await _admin_actor(conn, request, key, account_id)
        await billing.change_terms(
            conn,
            actor,
            gateway.settings,
            plan=body.plan,
            prices=body.prices,
            clear_prices="prices" in body.model_fields_set and body.prices is None,
        )
    return await _account_out(request, key, account_id)
