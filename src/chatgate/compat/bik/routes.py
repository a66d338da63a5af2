"""``POST /integrations/bikPlatformFunctions-messages/v2/sendMessage``: one message."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Request, Response, Security
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.api import idempotency
from chatgate.api.routes.messages import accept_one, command_of
from chatgate.api.schemas.messages import SendMessageRequest
from chatgate.api.state import Gateway, gateway_of
from chatgate.compat.bik.auth import basic, bik_key
from chatgate.compat.bik.errors import bik_field
from chatgate.compat.bik.requests import SendMessageBody, every_problem
from chatgate.domain.channels import ChannelType
from chatgate.domain.keys import KeyMode, Scope
from chatgate.domain.records import ApiKey
from chatgate.errors import ChatgateError, Forbidden
from chatgate.services.send_command import SendCommand
from chatgate.storage import channels as channel_store

PATH = "/integrations/bikPlatformFunctions-messages/v2/sendMessage"
# Where a Bik message's callbackData is kept (a string, exactly as given).
CALLBACK_DATA = "callbackData"
_NOT_DIGITS = re.compile(r"[^0-9]")


class Sent(BaseModel):
    """The message's id: Chatgate's, listed at ``/v1/messages``."""

    id: str = Field(pattern=r"^msg_", examples=["msg_01JD5Z6Q2N3F4X8Y9Z0A1B2C3D"])


class SendAnswer(BaseModel):
    """A message accepted for delivery."""

    status: int = Field(default=200, examples=[200])
    success: bool = True
    data: Sent


class Problem(BaseModel):
    """One problem of the request; the message names its field in quotes."""

    message: str = Field(examples=["'message' is required"])


class ErrorAnswer(BaseModel):
    """Every refusal: its status again, and one entry per problem."""

    status: int = Field(examples=[400])
    errors: list[Problem]


_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorAnswer, "description": text}
    for status, text in {
        400: "Invalid payload -- Your request is invalid (or refused by a rule, which the "
        "message names: the 24-hour window, credit, rate limit)",
        401: "Unauthorized -- User is not authenticated",
        404: "Not Found -- The specified API could not be found",
        500: "Internal Server Error -- We had a problem with our server. Try again later",
    }.items()
}
router = APIRouter(responses=_ERRORS)


def _digits(number: str) -> str:
    return _NOT_DIGITS.sub("", number)


async def _sender(gateway: Gateway, key: ApiKey, number: str | None) -> str | None:
    """The WhatsApp connection named by ``number`` (its name, as digits, is that number's),
    else ``None``: the account's default one. A test key has none: the sandbox sends."""
    if number is None or key.mode is KeyMode.TEST or not _digits(number):
        return None
    async with gateway.database.read() as conn:
        connections = await channel_store.list_connections(conn, key.account_id)
    for connection in connections:
        if connection.type == ChannelType.WHATSAPP.value and _digits(connection.name) == _digits(
            number
        ):
            return connection.id
    return None


def command(body: SendMessageBody, sender: str | None, track_links: bool) -> SendCommand:
    """The command ``POST /v1/messages`` would build: links tracked unless the key's setting
    turns that off, callbackData kept."""
    native: dict[str, Any] = {
        "channel": ChannelType.WHATSAPP.value,
        "to": body.recipient(),
        "content": body.content(),
        "track_links": track_links,
    }
    if sender is not None:
        native["from"] = sender
    if body.callbackData is not None:
        native["metadata"] = {CALLBACK_DATA: body.callbackData}
    try:
        request = SendMessageRequest.model_validate(native)
    except ValidationError as exc:
        raise every_problem(exc, bik_field) from None
    return command_of(request)


@router.post(
    PATH,
    response_model=SendAnswer,
    summary="Send single message",
    operation_id="sendMessage",
)
async def send_message(
    request: Request,
    body: SendMessageBody,
    idempotency_key: idempotency.IdempotencyKey = None,
    key: ApiKey = Depends(bik_key),
    _declared: str | None = Security(basic),
) -> Response:
    """Send text, media, options, buttons, an address form or products on WhatsApp."""
    gateway = gateway_of(request)
    if not key.grants(Scope.MESSAGES_SEND):
        raise Forbidden("this key lacks the scope 'messages:send'", code="insufficient_scope")
    built = command(body, await _sender(gateway, key, body.businessPhoneNumber), key.track_links)

    async def produce(conn: AsyncConnection) -> SendAnswer | ChatgateError:
        result = await accept_one(conn, gateway, key, built)
        if isinstance(result, ChatgateError):
            return result
        return SendAnswer(data=Sent(id=result.id))

    response = await idempotency.respond(request, key, 200, produce)
    gateway.wakeup.notify()
    return response
