"""``/v1/messages``: send one, send a batch, read one with its history, list with filters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.api import idempotency
from chatgate.api.auth import require
from chatgate.api.errors import describe_validation_error
from chatgate.api.schemas.common import (
    ERROR_RESPONSES,
    DateTimeQuery,
    ErrorBody,
    utc_or_none,
)
from chatgate.api.schemas.messages import (
    BatchItemResult,
    BatchRequest,
    BatchResponse,
    ContactRecipient,
    MessageDetail,
    MessageList,
    MessageOut,
    SendMessageRequest,
)
from chatgate.api.state import Gateway, gateway_of
from chatgate.domain.channels import ChannelType
from chatgate.domain.keys import Scope
from chatgate.domain.records import ApiKey, Message
from chatgate.domain.status import Status
from chatgate.errors import ChatgateError
from chatgate.services import messages as message_service
from chatgate.services.send import accept_messages
from chatgate.services.send_command import SendCommand
from chatgate.storage.messages import MessageFilter
from chatgate.storage.types import utcnow

router = APIRouter(prefix="/v1/messages", tags=["messages"], responses=ERROR_RESPONSES)
MESSAGE_ID = r"^msg_[0-9A-Z]{26}$"
_ITEM = TypeAdapter(SendMessageRequest)


def command_of(body: SendMessageRequest) -> SendCommand:
    """The service's view of a validated request."""
    content = body.content.model_dump(mode="json", exclude_none=True)
    return SendCommand(
        channel=body.channel if isinstance(body.channel, ChannelType) else None,
        to=body.to if isinstance(body.to, str) else "",
        contact_id=body.to.contact_id if isinstance(body.to, ContactRecipient) else None,
        content=content,
        sender=body.from_,
        metadata=body.metadata,
        reply_to=body.reply_to,
        schedule_at=body.schedule_at,
        fallback=tuple(step.step(content) for step in body.fallback),
        options=body.options.model_dump(exclude_none=True) if body.options else None,
        degrade=body.degrade,
        track_links=body.track_links,
    )


async def accept_one(
    conn: AsyncConnection, gateway: Gateway, key: ApiKey, command: SendCommand
) -> Message | ChatgateError:
    """Accept one message in ``conn``'s transaction: the message, or why it was refused."""
    [result] = await accept_messages(
        conn,
        key,
        [command],
        sandbox=gateway.sandbox,
        channels=gateway.channels,
        billing=gateway.billing,
        now=utcnow(),
    )
    return result


def _error_body(error: ChatgateError) -> ErrorBody:
    return ErrorBody(
        code=error.code, message=error.message, field=error.field, details=error.details or None
    )


@router.post("", status_code=202, response_model=MessageDetail)
async def send_message(
    body: SendMessageRequest,
    request: Request,
    idempotency_key: idempotency.IdempotencyKey = None,
    key: ApiKey = Depends(require(Scope.MESSAGES_SEND)),
) -> Response:
    """Accept a message for delivery. Answers once it is stored durably."""
    gateway = gateway_of(request)
    command = command_of(body)

    async def produce(conn: AsyncConnection) -> MessageDetail | ChatgateError:
        result = await accept_one(conn, gateway, key, command)
        return result if isinstance(result, ChatgateError) else MessageDetail.new(result)

    response = await idempotency.respond(request, key, 202, produce)
    gateway.wakeup.notify()
    return response


@router.post("/batch", status_code=202, response_model=BatchResponse)
async def send_batch(
    body: BatchRequest,
    request: Request,
    idempotency_key: idempotency.IdempotencyKey = None,
    key: ApiKey = Depends(require(Scope.MESSAGES_SEND)),
) -> Response:
    """Accept up to 1,000 messages; each item is accepted or refused on its own."""
    gateway = gateway_of(request)
    commands: dict[int, SendCommand] = {}
    refused: dict[int, ErrorBody] = {}
    for index, item in enumerate(body.messages):
        try:
            commands[index] = command_of(_ITEM.validate_python(item))
        except ValidationError as exc:
            code, field, message = describe_validation_error(dict(exc.errors()[0]))
            refused[index] = ErrorBody(code=code, message=message, field=field)

    async def produce(conn: AsyncConnection) -> BatchResponse:
        outcomes = await accept_messages(
            conn,
            key,
            list(commands.values()),
            sandbox=gateway.sandbox,
            channels=gateway.channels,
            billing=gateway.billing,
            now=utcnow(),
        )
        results: dict[int, BatchItemResult] = {
            index: BatchItemResult(index=index, status="rejected", error=error)
            for index, error in refused.items()
        }
        for index, outcome in zip(commands, outcomes, strict=True):
            results[index] = (
                BatchItemResult(index=index, status="rejected", error=_error_body(outcome))
                if isinstance(outcome, ChatgateError)
                else BatchItemResult(index=index, status="accepted", message=MessageOut.of(outcome))
            )
        ordered = [results[index] for index in sorted(results)]
        accepted = sum(1 for result in ordered if result.status == "accepted")
        return BatchResponse(accepted=accepted, rejected=len(ordered) - accepted, results=ordered)

    response = await idempotency.respond(request, key, 202, produce)
    gateway.wakeup.notify()
    return response


@router.get("/{message_id}", response_model=MessageDetail)
async def get_message(
    request: Request,
    message_id: Annotated[str, Path(pattern=MESSAGE_ID, description="msg_…")],
    key: ApiKey = Depends(require(Scope.MESSAGES_READ)),
) -> MessageDetail:
    """A message with its full status history and, if it has one, its fallback chain."""
    view = await message_service.get_message(gateway_of(request).database, key, message_id)
    return MessageDetail.with_events(view.message, view.events, view.chain)


@router.delete("/{message_id}", response_model=MessageDetail)
async def cancel_message(
    request: Request,
    message_id: Annotated[str, Path(pattern=MESSAGE_ID, description="msg_…")],
    key: ApiKey = Depends(require(Scope.MESSAGES_SEND)),
) -> MessageDetail:
    """Cancel a scheduled or queued message; 409 once sending has begun."""
    view = await message_service.cancel_message(gateway_of(request).database, key, message_id)
    return MessageDetail.with_events(view.message, view.events, view.chain)


@router.get("", response_model=MessageList)
async def list_messages(
    request: Request,
    key: ApiKey = Depends(require(Scope.MESSAGES_READ)),
    status: Status | None = None,
    channel: ChannelType | None = None,
    to: Annotated[str | None, Query(min_length=1, max_length=256, pattern=r"^[^\x00]+$")] = None,
    direction: Annotated[str | None, Query(pattern=r"^(inbound|outbound)$")] = None,
    created_after: DateTimeQuery = None,
    created_before: DateTimeQuery = None,
    cursor: Annotated[
        str | None, Query(pattern=MESSAGE_ID, description="next_cursor of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> MessageList:
    """Messages newest first, filtered, a page at a time."""
    filters = MessageFilter(
        status=status,
        channel=channel.value if channel else None,
        recipient=to,
        direction=direction,
        created_after=utc_or_none(created_after),
        created_before=utc_or_none(created_before),
    )
    found, has_more = await message_service.list_messages(
        gateway_of(request).database, key, filters, cursor=cursor, limit=limit
    )
    data: list[Any] = [MessageOut.of(message) for message in found]
    return MessageList(data=data, has_more=has_more, next_cursor=found[-1].id if has_more else None)
