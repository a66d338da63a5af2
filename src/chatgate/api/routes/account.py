"""``/v1/account``: the account behind the key."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from chatgate.api.auth import require
from chatgate.api.schemas.common import ERROR_RESPONSES
from chatgate.api.schemas.keys import AccountOut
from chatgate.api.state import gateway_of
from chatgate.domain.keys import Scope
from chatgate.domain.records import ApiKey
from chatgate.services import accounts

router = APIRouter(prefix="/v1", tags=["account"], responses=ERROR_RESPONSES)


@router.get("/account", response_model=AccountOut)
async def get_account(
    request: Request, key: ApiKey = Depends(require(Scope.ACCOUNT_READ))
) -> AccountOut:
    """The account the calling key belongs to."""
    account = await accounts.get_account(gateway_of(request).database, key.account_id)
    return AccountOut.of(account, key)
