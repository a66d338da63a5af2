"""``/v1/channels``: connect platforms, change and remove connections, see capabilities."""

from __future__ import annotations

import orjson
import structlog
from fastapi import APIRouter, Depends, Path, Request, Response
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.api import idempotency
from chatgate.api.actor import actor_of
from chatgate.api.auth import require
from chatgate.api.schemas.channels import (
    Capabilities,
    ChannelList,
    ChannelOut,
    CreateChannelRequest,
    UpdateChannelRequest,
)
from chatgate.api.schemas.common import ERROR_RESPONSES
from chatgate.api.state import gateway_of
from chatgate.channels.base import ProviderError
from chatgate.channels.registry import adapter_class, adapter_types
from chatgate.domain.capabilities import ALL_FEATURES
from chatgate.domain.keys import Scope
from chatgate.domain.records import ApiKey
from chatgate.storage import channels as channel_store
from chatgate.storage.types import utcnow

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/v1/channels", tags=["channels"], responses=ERROR_RESPONSES)
CHANNEL_ID = Path(pattern=r"^ch_[0-9A-Z]{26}$", description="the channel's id, ch_…")


@router.get("/capabilities", response_model=Capabilities)
async def capabilities() -> Capabilities:
    """Which content kinds and features each platform can carry (no key needed)."""
    return Capabilities(
        features=list(ALL_FEATURES),
        channels={
            name: [f for f in ALL_FEATURES if f in adapter_class(name).capabilities]
            for name in adapter_types()
        },
    )


@router.post("", status_code=201, response_model=ChannelOut)
async def create_channel(
    body: CreateChannelRequest,
    request: Request,
    idempotency_key: idempotency.IdempotencyKey = None,
    key: ApiKey = Depends(require(Scope.CHANNELS_MANAGE)),
) -> Response:
    """Connect a platform. Where the platform has an API for it (Telegram), Chatgate points
    the platform's webhook at the connection's ``inbound_url`` itself."""
    gateway = gateway_of(request)
    service = gateway.channels
    actor = actor_of(request, key)
    await service.check_reach(body.type, body.credentials, body.settings_given())

    async def produce(conn: AsyncConnection) -> ChannelOut:
        # Audited inside produce: an idempotent replay does not run it, so logs nothing.
        stored = await service.create(
            conn,
            actor,
            channel_type=body.type,
            name=body.name,
            credentials=body.credentials,
            settings=body.settings_given(),
            is_default=body.default,
            now=utcnow(),
        )
        return ChannelOut.of(service.view(stored))

    response = await idempotency.respond(request, key, 201, produce)
    if "Idempotency-Replayed" in response.headers:
        return response
    # After the commit, never inside the transaction: the platform call may take seconds.
    created = orjson.loads(bytes(response.body))
    async with gateway.database.read() as conn:
        stored = await service.get(conn, key.account_id, created["id"])
    try:
        created["webhook_registered"] = await service.adapter(stored).register_webhook(
            service.inbound_url(stored.id), gateway.http
        )
    except ProviderError as error:
        log.warning("channels.webhook_registration_failed", channel_id=stored.id, code=error.code)
        created["webhook_registered"] = False
    return Response(orjson.dumps(created), status_code=201, media_type="application/json")


@router.get("", response_model=ChannelList)
async def list_channels(
    request: Request, key: ApiKey = Depends(require(Scope.CHANNELS_MANAGE))
) -> ChannelList:
    """Every connection of the account; credentials never shown."""
    gateway = gateway_of(request)
    async with gateway.database.read() as conn:
        found = await channel_store.list_connections(conn, key.account_id)
    return ChannelList(data=[ChannelOut.of(gateway.channels.view(c)) for c in found])


@router.get("/{channel_id}", response_model=ChannelOut)
async def get_channel(
    request: Request,
    channel_id: str = CHANNEL_ID,
    key: ApiKey = Depends(require(Scope.CHANNELS_MANAGE)),
) -> ChannelOut:
    """One connection."""
    gateway = gateway_of(request)
    async with gateway.database.read() as conn:
        stored = await gateway.channels.get(conn, key.account_id, channel_id)
    return ChannelOut.of(gateway.channels.view(stored))


@router.patch("/{channel_id}", response_model=ChannelOut)
async def update_channel(
    body: UpdateChannelRequest,
    request: Request,
    channel_id: str = CHANNEL_ID,
    key: ApiKey = Depends(require(Scope.CHANNELS_MANAGE)),
) -> ChannelOut:
    """Rename, replace some credentials, change settings, or make it the default."""
    gateway = gateway_of(request)
    service = gateway.channels
    async with gateway.database.read() as conn:
        stored = await service.get(conn, key.account_id, channel_id)
    await service.check_update_reach(stored, body.credentials, body.settings_given())
    async with gateway.database.write() as conn:
        updated = await service.update(
            conn,
            actor_of(request, key),
            channel_id,
            name=body.name,
            credentials=body.credentials,
            settings=body.settings_given(),
            is_default=body.default,
            now=utcnow(),
        )
    return ChannelOut.of(service.view(updated))


@router.delete("/{channel_id}", status_code=204)
async def delete_channel(
    request: Request,
    channel_id: str = CHANNEL_ID,
    key: ApiKey = Depends(require(Scope.CHANNELS_MANAGE)),
) -> Response:
    """Remove a connection; messages already sent through it keep their history."""
    gateway = gateway_of(request)
    async with gateway.database.write() as conn:
        await gateway.channels.remove(conn, actor_of(request, key), channel_id)
    return Response(status_code=204)
