"""``/v1/sandbox``: play the user's side with a test key (e.g. write first on Telegram)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.api import idempotency
from chatgate.api.auth import require
from chatgate.api.schemas.common import ERROR_RESPONSES
from chatgate.api.schemas.messages import MessageDetail, SandboxInboundRequest
from chatgate.domain.keys import KeyMode, Scope
from chatgate.domain.records import ApiKey
from chatgate.errors import Forbidden
from chatgate.services.inbound import record_inbound
from chatgate.storage.types import utcnow

router = APIRouter(prefix="/v1/sandbox", tags=["sandbox"], responses=ERROR_RESPONSES)


@router.post("/inbound", status_code=201, response_model=MessageDetail)
async def simulate_inbound(
    body: SandboxInboundRequest,
    request: Request,
    idempotency_key: idempotency.IdempotencyKey = None,
    key: ApiKey = Depends(require(Scope.MESSAGES_SEND)),
) -> Response:
    """Pretend a user wrote to the account: stores the message and opens the conversation."""
    if key.mode is not KeyMode.TEST:
        raise Forbidden("only test keys can simulate users", code="test_key_required")

    async def produce(conn: AsyncConnection) -> MessageDetail:
        message = await record_inbound(
            conn,
            account_id=key.account_id,
            mode=key.mode,
            channel=body.channel.value,
            sender=body.from_,
            recipient="sandbox",
            content=body.content.model_dump(mode="json", exclude_none=True),
            provider_message_id=None,
            at=utcnow(),
        )
        return MessageDetail.new(message)

    return await idempotency.respond(request, key, 201, produce)
