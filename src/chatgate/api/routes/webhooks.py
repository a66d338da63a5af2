"""``/v1/webhooks``: endpoints that receive the account's events, signed; their deliveries."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.api import idempotency
from chatgate.api.actor import actor_of
from chatgate.api.auth import require
from chatgate.api.schemas.common import ERROR_RESPONSES
from chatgate.api.schemas.webhooks import (
    CreateWebhookRequest,
    DeliveryList,
    DeliveryOut,
    Replayed,
    ReplayRequest,
    UpdateWebhookRequest,
    WebhookList,
    WebhookOut,
    WebhookWithSecret,
)
from chatgate.api.state import Gateway, gateway_of
from chatgate.domain.keys import Scope
from chatgate.domain.records import ApiKey
from chatgate.services import webhook_deliveries as delivery_service
from chatgate.services.webhook_endpoints import EndpointChanges
from chatgate.storage.types import utcnow

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], responses=ERROR_RESPONSES)
ENDPOINT_ID = Path(pattern=r"^we_[0-9A-Z]{26}$", description="the endpoint's id, we_…")
DELIVERY_ID = Path(pattern=r"^dlv_[0-9A-Z]{26}$", description="the delivery's id, dlv_…")
Manager = Annotated[ApiKey, Depends(require(Scope.WEBHOOKS_MANAGE))]


def _without_secret(model: BaseModel) -> BaseModel:
    assert isinstance(model, WebhookWithSecret)
    return model.model_copy(update={"secret": None})


def _changes(body: CreateWebhookRequest | UpdateWebhookRequest) -> EndpointChanges:
    given = body.model_fields_set
    return EndpointChanges(
        url=body.url,
        description=body.description,
        event_types=tuple(t.value for t in body.event_types) if body.event_types else None,
        # Absent on a change leaves the types alone; null (or absent on creation) is all.
        all_event_types=body.event_types is None
        and ("event_types" in given or isinstance(body, CreateWebhookRequest)),
        api_key_id=body.api_key_id,
        unbind_key="api_key_id" in given and body.api_key_id is None,
        enabled=body.enabled,
        plain_signature=body.plain_signature,
        format=body.format,
    )


def _woken(gateway: Gateway) -> None:
    # The sender in this process starts at once; other processes hear a NOTIFY.
    gateway.webhook_wakeup.notify()


@router.post("", status_code=201, response_model=WebhookWithSecret)
async def create_webhook(
    body: CreateWebhookRequest,
    request: Request,
    key: Manager,
    idempotency_key: idempotency.IdempotencyKey = None,
) -> Response:
    """Add an endpoint. Its signing secret is in this response only; store it now."""
    service = gateway_of(request).webhook_endpoints
    await service.check_url(body.url)
    actor = actor_of(request, key)

    async def produce(conn: AsyncConnection) -> WebhookWithSecret:
        # Audited inside produce: an idempotent replay does not run it, so logs nothing.
        endpoint, secret = await service.create(conn, actor, key.mode, _changes(body), utcnow())
        return WebhookWithSecret(**WebhookOut.of(endpoint).model_dump(), secret=secret)

    return await idempotency.respond(request, key, 201, produce, redact=_without_secret)


@router.get("", response_model=WebhookList)
async def list_webhooks(request: Request, key: Manager) -> WebhookList:
    """The account's endpoints (of the key's mode)."""
    gateway = gateway_of(request)
    async with gateway.database.read() as conn:
        found = await gateway.webhook_endpoints.list(conn, key)
    return WebhookList(data=[WebhookOut.of(endpoint) for endpoint in found])


@router.get("/{endpoint_id}", response_model=WebhookOut)
async def get_webhook(request: Request, key: Manager, endpoint_id: str = ENDPOINT_ID) -> WebhookOut:
    """One endpoint."""
    gateway = gateway_of(request)
    async with gateway.database.read() as conn:
        found = await gateway.webhook_endpoints.get(conn, key.account_id, key.mode, endpoint_id)
    return WebhookOut.of(found)


@router.patch("/{endpoint_id}", response_model=WebhookOut)
async def update_webhook(
    body: UpdateWebhookRequest, request: Request, key: Manager, endpoint_id: str = ENDPOINT_ID
) -> WebhookOut:
    """Change an endpoint; ``"enabled": true`` also resumes its pending deliveries."""
    gateway = gateway_of(request)
    if body.url is not None:
        await gateway.webhook_endpoints.check_url(body.url)
    async with gateway.database.write() as conn:
        endpoint = await gateway.webhook_endpoints.update(
            conn, actor_of(request, key), key.mode, endpoint_id, _changes(body), utcnow()
        )
    _woken(gateway)
    return WebhookOut.of(endpoint)


@router.delete("/{endpoint_id}", status_code=204)
async def delete_webhook(
    request: Request, key: Manager, endpoint_id: str = ENDPOINT_ID
) -> Response:
    """Remove an endpoint with its deliveries."""
    gateway = gateway_of(request)
    async with gateway.database.write() as conn:
        await gateway.webhook_endpoints.delete(conn, actor_of(request, key), key.mode, endpoint_id)
    return Response(status_code=204)


@router.post("/{endpoint_id}/rotate-secret", response_model=WebhookWithSecret)
async def rotate_secret(
    request: Request, key: Manager, endpoint_id: str = ENDPOINT_ID
) -> WebhookWithSecret:
    """A new signing secret, shown once; the old one keeps signing too for 24 hours."""
    gateway = gateway_of(request)
    async with gateway.database.write() as conn:
        endpoint, secret = await gateway.webhook_endpoints.rotate_secret(
            conn, actor_of(request, key), key.mode, endpoint_id, utcnow()
        )
    return WebhookWithSecret(**WebhookOut.of(endpoint).model_dump(), secret=secret)


@router.post("/{endpoint_id}/test", status_code=202, response_model=DeliveryOut)
async def send_test(request: Request, key: Manager, endpoint_id: str = ENDPOINT_ID) -> DeliveryOut:
    """Send a ``webhook.ping`` event to the endpoint, signed like every delivery."""
    gateway = gateway_of(request)
    async with gateway.database.write() as conn:
        delivery = await gateway.webhook_endpoints.ping(conn, key, endpoint_id, utcnow())
    _woken(gateway)
    return DeliveryOut.of(delivery, [])


@router.get("/{endpoint_id}/deliveries", response_model=DeliveryList)
async def list_deliveries(
    request: Request,
    key: Manager,
    endpoint_id: str = ENDPOINT_ID,
    cursor: Annotated[
        str | None,
        Query(pattern=r"^dlv_[0-9A-Z]{26}$", description="next_cursor of the previous page"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> DeliveryList:
    """The endpoint's deliveries newest first, each with its attempts."""
    gateway = gateway_of(request)
    async with gateway.database.read() as conn:
        page, has_more = await delivery_service.list_deliveries(
            conn, gateway.webhook_endpoints, key, endpoint_id, cursor=cursor, limit=limit
        )
    data = [DeliveryOut.of(delivery, attempts) for delivery, attempts in page]
    return DeliveryList(
        data=data, has_more=has_more, next_cursor=data[-1].id if has_more and data else None
    )


@router.post("/deliveries/{delivery_id}/replay", status_code=202, response_model=DeliveryOut)
async def replay_delivery(
    request: Request, key: Manager, delivery_id: str = DELIVERY_ID
) -> DeliveryOut:
    """Send a delivery again now, with the same ``webhook-id``."""
    gateway = gateway_of(request)
    async with gateway.database.write() as conn:
        delivery = await delivery_service.replay_one(
            conn, actor_of(request, key), key.mode, delivery_id, utcnow()
        )
    _woken(gateway)
    return DeliveryOut.of(delivery, [])


@router.post("/{endpoint_id}/replay", status_code=202, response_model=Replayed)
async def replay_since(
    body: ReplayRequest, request: Request, key: Manager, endpoint_id: str = ENDPOINT_ID
) -> Replayed:
    """Send again now every delivery to the endpoint made since ``since`` that has not been
    delivered: failed, or pending in its retry schedule (one being sent right now is not
    sent twice). ``replayed`` says how many."""
    gateway = gateway_of(request)
    async with gateway.database.write() as conn:
        count = await delivery_service.replay_undelivered_since(
            conn,
            gateway.webhook_endpoints,
            actor_of(request, key),
            key.mode,
            endpoint_id,
            body.since,
            utcnow(),
        )
    _woken(gateway)
    return Replayed(replayed=count)
