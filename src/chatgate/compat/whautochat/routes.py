"""The page's nine routes, ``POST /v1/messages/{channel}/{sendtext,sendmedia,sendtemplate}``.

Each parses its body, checks the workspace, translates the body into the native send and
accepts it as ``POST /v1/messages`` does; a route the page does not list is 404.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.api import idempotency
from chatgate.api.auth import record_key_refusal
from chatgate.api.routes.messages import accept_one
from chatgate.api.state import gateway_of
from chatgate.compat.whautochat import requests as wac
from chatgate.compat.whautochat.answers import ERROR_RESPONSES, MessageResponse
from chatgate.compat.whautochat.auth import sender_key
from chatgate.compat.whautochat.translate import translate
from chatgate.domain.channels import ChannelType
from chatgate.domain.records import ApiKey
from chatgate.errors import ChatgateError, Forbidden

router = APIRouter(prefix="/v1/messages", responses=ERROR_RESPONSES, tags=["Messages"])

# (channel, action, body): the page's endpoints, in its order.
ROUTES: tuple[tuple[ChannelType, str, type[wac._Request]], ...] = (
    (ChannelType.WHATSAPP, "sendtext", wac.WhatsAppTextMessageRequest),
    (ChannelType.WHATSAPP, "sendmedia", wac.WhatsAppMediaMessageRequest),
    (ChannelType.WHATSAPP, "sendtemplate", wac.WhatsAppTemplateMessageRequest),
    (ChannelType.MESSENGER, "sendtext", wac.TextMessageRequest),
    (ChannelType.MESSENGER, "sendmedia", wac.MediaMessageRequest),
    (ChannelType.MESSENGER, "sendtemplate", wac.MessengerTemplateMessageRequest),
    (ChannelType.INSTAGRAM, "sendtext", wac.TextMessageRequest),
    (ChannelType.INSTAGRAM, "sendtemplate", wac.InstagramTemplateMessageRequest),
    (ChannelType.TELEGRAM, "sendtemplate", wac.TelegramTemplateMessageRequest),
)
_NAMES = {
    ChannelType.WHATSAPP: "WhatsApp",
    ChannelType.MESSENGER: "Messenger",
    ChannelType.INSTAGRAM: "Instagram",
    ChannelType.TELEGRAM: "Telegram",
}


async def _own_workspace(request: Request, key: ApiKey, workspace: wac.Workspace) -> None:
    """Refuse (and audit) a workspace other than the key's account."""
    if workspace.id != key.account_id:
        await record_key_refusal(request, "wrong_workspace", key, workspace=workspace.id[:200])
        raise Forbidden(
            "is not this key's workspace: send your account's id, as GET /v1/account shows it",
            code="wrong_workspace",
            field="workspace.id",
        )


async def send(request: Request, channel: ChannelType, body: wac._Request, key: ApiKey) -> Response:
    """Accept ``body`` as a message on ``channel``: its id and status, or the refusal."""
    gateway = gateway_of(request)
    await _own_workspace(request, key, body.workspace)
    translation = translate(channel, body)
    command = translation.command()

    async def produce(conn: AsyncConnection) -> MessageResponse | ChatgateError:
        result = await accept_one(conn, gateway, key, command)
        if isinstance(result, ChatgateError):
            return translation.refusal(result)
        return MessageResponse(id=result.id, status=result.status.value, error=None)

    response = await idempotency.respond(request, key, 200, produce)
    gateway.wakeup.notify()
    return response


def _endpoint(
    channel: ChannelType, action: str, model: type[wac._Request]
) -> Callable[..., Awaitable[Response]]:
    """The route's function, its body typed ``model`` (for validation and the document)."""

    async def endpoint(
        request: Request,
        body: wac._Request,
        idempotency_key: idempotency.IdempotencyKey = None,
        key: ApiKey = Depends(sender_key),
    ) -> Response:
        return await send(request, channel, body, key)

    signature = inspect.signature(endpoint)
    parameters = [
        parameter.replace(annotation=model) if name == "body" else parameter
        for name, parameter in signature.parameters.items()
    ]
    endpoint.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    endpoint.__doc__ = f"{_summary(channel, action)}, to a contact" + (
        " or a phone number (recepient)." if model.by_phone else "."
    )
    endpoint.__name__ = f"{channel.value}_{action}"
    return endpoint


def _summary(channel: ChannelType, action: str) -> str:
    """The page's title of the route: "Send WhatsApp Text Message"."""
    kind = action.removeprefix("send").capitalize()
    return f"Send {_NAMES[channel]} {kind} Message"


for _channel, _action, _model in ROUTES:
    router.add_api_route(
        f"/{_channel.value}/{_action}",
        _endpoint(_channel, _action, _model),
        methods=["POST"],
        response_model=MessageResponse,
        summary=_summary(_channel, _action),
        operation_id=f"{_channel.value}_{_action}",
    )
