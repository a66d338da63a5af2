"""``/{account}/api/messaging/``: ``POST ?action=send`` and ``GET ?action=status``."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.api import idempotency
from chatgate.api.auth import record_key_refusal
from chatgate.api.routes.messages import accept_one
from chatgate.api.state import gateway_of
from chatgate.compat.thikaa.answers import ERROR_RESPONSES, SendAnswer, StatusAnswer
from chatgate.compat.thikaa.auth import instance_key
from chatgate.compat.thikaa.channels import ThikaaChannel
from chatgate.compat.thikaa.instance import instance_status
from chatgate.compat.thikaa.requests import SendBody
from chatgate.domain.channels import ChannelType
from chatgate.domain.keys import Scope
from chatgate.domain.records import ApiKey
from chatgate.errors import ChatgateError, Conflict, Forbidden
from chatgate.storage import channels as channel_store

router = APIRouter(responses=ERROR_RESPONSES)
BASE = "/{account}/api/messaging/"
_BARE = BASE.rstrip("/")  # the same, as a client that drops the slash writes it


async def _insist(request: Request, key: ApiKey, scope: Scope) -> None:
    """Refuse (and audit) a key without ``scope``, as the native API does."""
    if not key.grants(scope):
        error = Forbidden(f"this key lacks the scope {scope.value!r}", code="insufficient_scope")
        await record_key_refusal(request, "insufficient_scope", key, scope=scope.value)
        raise error


def _translated(error: ChatgateError, channel: ThikaaChannel) -> ChatgateError:
    """A refusal of the send as Thikaa words it."""
    if channel is ThikaaChannel.WD and error.code == "channel_not_configured":
        return Conflict(
            "WhatsApp Direct (wd) is not connected on this account: it needs a working "
            "linked-device session (POST /v1/sessions, then scan its QR code); send on wa "
            "(WhatsApp Cloud) meanwhile",
            code="wd_not_connected",
            field="channel",
        )
    if channel is ThikaaChannel.WD and error.code == "session_not_connected":
        # The session's own words (its name and state), under Thikaa's code for it.
        return Conflict(f"WhatsApp Direct (wd): {error.message}", code="wd_not_connected")
    return error


@router.post(
    BASE,
    response_model=SendAnswer,
    summary="Send a message",
    operation_id="send",
)
@router.post(_BARE, response_model=SendAnswer, include_in_schema=False)
async def send(
    request: Request,
    body: SendBody,
    action: Annotated[Literal["send"], Query(description="send")],
    idempotency_key: idempotency.IdempotencyKey = None,
    key: ApiKey = Depends(instance_key),
) -> Response:
    """Send text, emoji and media on one of the instance's channels. Answers once the
    message is stored for delivery, with Chatgate's id of it."""
    gateway = gateway_of(request)
    await _insist(request, key, Scope.MESSAGES_SEND)
    command = body.command()

    async def produce(conn: AsyncConnection) -> SendAnswer | ChatgateError:
        result = await accept_one(conn, gateway, key, command)
        if isinstance(result, ChatgateError) and result.code == "session_required":
            # Thikaa names no session: with several working, the account's oldest sends.
            oldest = await channel_store.find_connection(
                conn, key.account_id, ChannelType.WHATSAPP_WEB.value, None
            )
            if oldest is not None:
                result = await accept_one(conn, gateway, key, replace(command, sender=oldest.id))
        if isinstance(result, ChatgateError):
            return _translated(result, body.channel)
        return SendAnswer(
            message_id=result.id,
            status=result.status.value,
            channel=body.channel,
            to=result.recipient,
        )

    response = await idempotency.respond(request, key, 200, produce)
    gateway.wakeup.notify()
    return response


@router.get(
    BASE,
    response_model=StatusAnswer,
    summary="Instance status, channels, balance",
    operation_id="status",
)
@router.get(_BARE, response_model=StatusAnswer, include_in_schema=False)
async def status(
    request: Request,
    action: Annotated[Literal["status"], Query(description="status")],
    key: ApiKey = Depends(instance_key),
) -> StatusAnswer:
    """The instance (this key): its id, its channels and whether each is connected, and the
    account's balance."""
    await _insist(request, key, Scope.ACCOUNT_READ)
    return await instance_status(gateway_of(request), key)
