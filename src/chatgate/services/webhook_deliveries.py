"""An account's view of its webhook deliveries: their attempts, and replays (audited)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.domain.keys import KeyMode
from chatgate.domain.records import ApiKey
from chatgate.errors import NotFound
from chatgate.services.audit import Actor, record
from chatgate.services.webhook_endpoints import WebhookEndpoints
from chatgate.storage import webhook_deliveries as delivery_store
from chatgate.storage import webhook_endpoints as endpoint_store
from chatgate.storage.webhook_deliveries import Attempt, Delivery


async def list_deliveries(
    conn: AsyncConnection,
    endpoints: WebhookEndpoints,
    key: ApiKey,
    endpoint_id: str,
    *,
    cursor: str | None,
    limit: int,
) -> tuple[list[tuple[Delivery, list[Attempt]]], bool]:
    """A page of an endpoint's deliveries with their attempts, newest first."""
    endpoint = await endpoints.get(conn, key.account_id, key.mode, endpoint_id)
    found = await delivery_store.list_deliveries(
        conn, endpoint.id, before_id=cursor, limit=limit + 1
    )
    page = found[:limit]
    attempts = await delivery_store.attempts_of(conn, [d.id for d in page])
    return [(d, attempts[d.id]) for d in page], len(found) > limit


async def replay_one(
    conn: AsyncConnection, actor: Actor, mode: KeyMode, delivery_id: str, now: datetime
) -> Delivery:
    """Send a delivery again, with the same id, whatever became of it before; audited as a
    ``webhook.replayed`` of its endpoint."""
    delivery = await delivery_store.get_delivery(conn, actor.account_id, delivery_id)
    # Its endpoint must be of the key's mode, like everything else the key sees.
    if delivery is None or not await endpoint_store.get_endpoint(
        conn, actor.account_id, mode, delivery.endpoint_id
    ):
        raise NotFound(f"no webhook delivery {delivery_id}", field="id")
    count = await delivery_store.requeue(conn, [delivery.id], now)
    detail = {"delivery_id": delivery.id, "count": count}
    await record(conn, actor, "webhook.replayed", delivery.endpoint_id, detail)
    replayed = await delivery_store.get_delivery(conn, actor.account_id, delivery.id)
    assert replayed is not None
    return replayed


async def replay_undelivered_since(
    conn: AsyncConnection,
    endpoints: WebhookEndpoints,
    actor: Actor,
    mode: KeyMode,
    endpoint_id: str,
    since: datetime,
    now: datetime,
) -> int:
    """Send again now every delivery to the endpoint made since ``since`` that has not been
    delivered, failed or still in its retry schedule (not one being sent right now); audited
    with ``since`` and how many (none is still a request worth a line in the log)."""
    endpoint = await endpoints.get(conn, actor.account_id, mode, endpoint_id)
    count = await delivery_store.requeue_undelivered_since(conn, endpoint.id, since, now)
    detail = {"since": since.isoformat(), "count": count}
    await record(conn, actor, "webhook.replayed", endpoint.id, detail)
    return count
