"""MessageHub's endpoints under ``/api/v1/``: each only translates to a native service."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.api import idempotency
from chatgate.api.routes import inbound
from chatgate.api.routes.messages import accept_one
from chatgate.api.schemas.distributions import RecipientIn
from chatgate.api.state import Gateway, gateway_of
from chatgate.compat.messagehub.answers import (
    BatchAnswer,
    DistributeAnswer,
    Distributed,
    ErrorAnswer,
    MessageAnswer,
    MessageStatus,
    Refused,
    SendAnswer,
    Sent,
)
from chatgate.compat.messagehub.auth import require
from chatgate.compat.messagehub.errors import error_object
from chatgate.compat.messagehub.requests import (
    SEND_EXAMPLES,
    BatchRequest,
    ContentFields,
    ContentType,
    DistributeRequest,
    Recipient,
    SendRequest,
)
from chatgate.compat.messagehub.translate import (
    brand_refusal,
    checked_content,
    native_content,
    options_of,
    parse,
    send_command,
)
from chatgate.domain.channels import ChannelType
from chatgate.domain.keys import Scope
from chatgate.domain.records import ApiKey
from chatgate.errors import ChatgateError, NotFound
from chatgate.services import distribute as distribution_service
from chatgate.services import messages as message_service
from chatgate.services.distribute import DistributionRequest
from chatgate.services.distribute import Recipient as NativeRecipient
from chatgate.services.send import accept_messages
from chatgate.services.send_command import SendCommand
from chatgate.services.templates import list_templates
from chatgate.storage.types import utcnow

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorAnswer, "description": description}
    for status, description in {
        400: "Bad Request - Invalid parameters",
        401: "Unauthorized - Invalid or missing API key",
        403: "Forbidden - Key revoked or insufficient scope",
        404: "Not Found - Resource does not exist",
        429: "Rate Limited - Too many requests",
        500: "Server Error - Contact support",
    }.items()
}
router = APIRouter(prefix="/api/v1", responses=_ERRORS)
_MESSAGE_ID = re.compile(r"msg_[0-9A-Z]{26}")
_CONNECTION_ID = re.compile(r"ch_[0-9A-Z]{26}")


async def _stored_template(gateway: Gateway, key: ApiKey, body: ContentFields) -> str | None:
    """The id of the account's one stored template named ``templateId`` (in whatever
    language), so that a client that never names a language finds it."""
    if body.contentType is not ContentType.TEMPLATE or body.templateId is None:
        return None
    async with gateway.database.read() as conn:
        found, _ = await list_templates(
            conn, key.account_id, before=None, limit=2, name=body.templateId
        )
    return found[0].id if len(found) == 1 else None


async def _command(gateway: Gateway, key: ApiKey, body: SendRequest) -> SendCommand:
    return send_command(body, await _stored_template(gateway, key, body))


async def _accept(
    conn: AsyncConnection, gateway: Gateway, key: ApiKey, commands: list[SendCommand]
) -> list[Any]:
    return await accept_messages(
        conn,
        key,
        commands,
        sandbox=gateway.sandbox,
        channels=gateway.channels,
        billing=gateway.billing,
        now=utcnow(),
    )


async def _answer(request: Request, key: ApiKey, produce: idempotency.Producer) -> Response:
    """``produce``'s answer in one transaction (replayed for a repeated Idempotency-Key),
    and the worker woken for what it accepted."""
    response = await idempotency.respond(request, key, 200, produce)
    gateway_of(request).wakeup.notify()
    return response


@router.post("/messages/send", response_model=SendAnswer, tags=["messages"])
async def send_message(
    body: Annotated[SendRequest, Body(openapi_examples=SEND_EXAMPLES)],
    request: Request,
    idempotency_key: idempotency.IdempotencyKey = None,
    key: ApiKey = Depends(require(Scope.MESSAGES_SEND)),
) -> Response:
    """Send a single message via any configured channel."""
    gateway = gateway_of(request)
    command = await _command(gateway, key, body)

    async def produce(conn: AsyncConnection) -> SendAnswer | ChatgateError:
        outcome = await accept_one(conn, gateway, key, command)
        return outcome if isinstance(outcome, ChatgateError) else SendAnswer(data=Sent.of(outcome))

    return await _answer(request, key, produce)


def _refused(index: int, error: ChatgateError) -> Refused:
    return Refused.model_validate(
        {"index": index, "error": error_object(error.code, error.message, error.field)}
    )


@router.post("/messages/batch", response_model=BatchAnswer, tags=["messages"])
async def send_batch(
    body: BatchRequest,
    request: Request,
    idempotency_key: idempotency.IdempotencyKey = None,
    key: ApiKey = Depends(require(Scope.MESSAGES_SEND)),
) -> Response:
    """Send up to 1,000 messages; each is accepted or refused on its own."""
    gateway = gateway_of(request)
    commands: dict[int, SendCommand] = {}
    refused: dict[int, Refused] = {}
    for index, item in enumerate(body.messages):
        try:
            commands[index] = await _command(gateway, key, parse(SendRequest, item))
        except ChatgateError as error:
            refused[index] = _refused(index, error)

    async def produce(conn: AsyncConnection) -> BatchAnswer:
        outcomes = await _accept(conn, gateway, key, list(commands.values()))
        results: dict[int, Sent | Refused] = dict(refused)
        for index, outcome in zip(commands, outcomes, strict=True):
            results[index] = (
                _refused(index, outcome) if isinstance(outcome, ChatgateError) else Sent.of(outcome)
            )
        return BatchAnswer(data=[results[index] for index in sorted(results)])

    return await _answer(request, key, produce)


@router.get("/messages/{messageId}", response_model=MessageAnswer, tags=["messages"])
async def get_message(
    request: Request,
    message_id: Annotated[str, Path(alias="messageId", max_length=256)],
    key: ApiKey = Depends(require(Scope.MESSAGES_READ)),
) -> MessageAnswer:
    """A message's delivery status."""
    if not _MESSAGE_ID.fullmatch(message_id):
        raise NotFound(f"no message {message_id}", field="messageId")
    try:
        view = await message_service.get_message(gateway_of(request).database, key, message_id)
    except NotFound as exc:
        raise NotFound(exc.message, field="messageId") from None
    return MessageAnswer(data=MessageStatus.of(view.message))


def _recipient(index: int, raw: object, body: DistributeRequest) -> NativeRecipient | ChatgateError:
    """One listed recipient, checked as MessageHub's and then as the native API's."""
    where = f"recipients.{index}"
    try:
        given = parse(Recipient, raw, where)
        if body.contentType is ContentType.BRANDMESSAGE:
            refused = brand_refusal(given.channel, f"{where}.channel")
            if refused is not None:
                return refused
        native = parse(RecipientIn, {"to": given.to, "channel": given.channel.value}, where)
    except ChatgateError as error:
        return error
    assert isinstance(native.channel, ChannelType)
    return NativeRecipient(native.channel, native.to)


@router.post("/content/distribute", response_model=DistributeAnswer, tags=["content"])
async def distribute_content(
    body: DistributeRequest,
    request: Request,
    idempotency_key: idempotency.IdempotencyKey = None,
    key: ApiKey = Depends(require(Scope.CONTENT_DISTRIBUTE)),
) -> Response:
    """Send one content to many recipients (listed, stored contacts, or both)."""
    gateway = gateway_of(request)
    content = native_content(body, await _stored_template(gateway, key, body))
    contacts_channel = ChannelType(body.channel.value) if body.channel else None
    plan = DistributionRequest(
        content=checked_content(content),
        recipients=[
            *(_recipient(index, raw, body) for index, raw in enumerate(body.recipients)),
            *(NativeRecipient(contacts_channel, contact_id=cid) for cid in body.contactIds),
        ],
        options=options_of(body),
    )

    async def produce(conn: AsyncConnection) -> DistributeAnswer:
        made = await distribution_service.distribute(
            conn,
            key,
            plan,
            sandbox=gateway.sandbox,
            channels=gateway.channels,
            billing=gateway.billing,
            now=utcnow(),
        )
        return DistributeAnswer(data=Distributed.of(made))

    return await _answer(request, key, produce)


@router.post("/webhooks/delivery", tags=["webhooks"], responses={200: {"description": "stored"}})
async def delivery_webhook(
    request: Request,
    connection: Annotated[str | None, Query(description="the connection's id, ch_…")] = None,
) -> Response:
    """Where platforms deliver their reports and messages: what ``/inbound/{connection}``
    does (the platform's signature checked; nothing stored without it)."""
    channel_id = _connection(connection)
    try:
        return await inbound.receive(request, channel_id=channel_id)
    except NotFound as exc:
        raise NotFound(exc.message, field="connection") from None


@router.get(
    "/webhooks/delivery",
    tags=["webhooks"],
    responses={200: {"description": "the challenge", "content": {"text/plain": {}}}},
)
async def delivery_handshake(
    request: Request,
    connection: Annotated[str | None, Query(description="the connection's id, ch_…")] = None,
) -> Response:
    """A platform's subscription check (Meta's ``hub.challenge``), as on ``/inbound/``:
    Chatgate's addition, for platforms that check a webhook URL before they post to it."""
    channel_id = _connection(connection)
    try:
        return await inbound.handshake(request, channel_id=channel_id)
    except NotFound as exc:
        raise NotFound(exc.message, field="connection") from None


def _connection(connection: str | None) -> str:
    if connection is None or not _CONNECTION_ID.fullmatch(connection):
        raise NotFound("no such connection: give ?connection=ch_…", field="connection")
    return connection
