"""``/v1/audit``: who changed what in the account, and every refused authentication."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from chatgate.api.auth import require
from chatgate.api.schemas.audit import AuditList, AuditOut
from chatgate.api.schemas.common import ERROR_RESPONSES, QUERY_TEXT, DateTimeQuery, utc_or_none
from chatgate.api.state import gateway_of
from chatgate.domain.keys import Scope
from chatgate.domain.records import ApiKey
from chatgate.services import audit as audit_service
from chatgate.storage.audit import AuditFilter

router = APIRouter(prefix="/v1/audit", tags=["audit"], responses=ERROR_RESPONSES)


@router.get("", response_model=AuditList)
async def list_audit(
    request: Request,
    key: ApiKey = Depends(require(Scope.AUDIT_READ)),
    action: Annotated[
        str | None,
        Query(max_length=60, pattern=QUERY_TEXT, description="e.g. key.created, auth.refused"),
    ] = None,
    key_id: Annotated[str | None, Query(pattern=r"^key_[0-9A-Z]{26}$")] = None,
    target: Annotated[str | None, Query(max_length=100, pattern=QUERY_TEXT)] = None,
    outcome: Literal["succeeded", "refused"] | None = None,
    since: DateTimeQuery = None,
    until: DateTimeQuery = None,
    cursor: Annotated[
        str | None, Query(pattern=r"^aud_[0-9A-Z]{26}$", description="next_cursor of a page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> AuditList:
    """The account's audit log, newest first."""
    filters = AuditFilter(action, key_id, target, outcome, utc_or_none(since), utc_or_none(until))
    found, has_more = await audit_service.list_entries(
        gateway_of(request).database, key.account_id, filters, before=cursor, limit=limit
    )
    return AuditList(
        data=[AuditOut.of(entry) for entry in found],
        has_more=has_more,
        next_cursor=found[-1].id if found and has_more else None,
    )
