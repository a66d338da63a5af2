"""``/inbound/{channel_id}``: where platforms deliver their webhooks.

No API key here: each platform proves itself with its own signature or token, checked over
the raw bytes before anything is parsed. A refused webhook is answered 401 and noted in the
connection's inbound log, at most ``inbound_refusals_logged_per_minute`` a minute for each
connection: anyone who knows a connection's id can post here, and must not be able to grow
the log without bound (retention prunes the notes after some days). An accepted one is
stored (deduplicated on the platform's ids) in one transaction and acknowledged at once.
"""

from __future__ import annotations

from datetime import datetime

import structlog
from fastapi import APIRouter, Path, Request, Response
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.api.state import Gateway, gateway_of
from chatgate.channels.base import RawRequest, SignatureError
from chatgate.errors import MalformedBody, NotFound, Unauthenticated
from chatgate.services.inbound import WebhookResult, log_refusal, record_webhook
from chatgate.storage import channels as channel_store
from chatgate.storage.channels import StoredConnection
from chatgate.storage.types import utcnow

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/inbound", tags=["inbound"])
CHANNEL_ID = Path(pattern=r"^ch_[0-9A-Z]{26}$", description="the channel's id, ch_…")


async def _raw(request: Request) -> RawRequest:
    return RawRequest(
        method=request.method,
        url=str(request.url),
        headers={name.lower(): value for name, value in request.headers.items()},
        query=dict(request.query_params),
        body=await request.body(),
    )


async def _connection(gateway: Gateway, channel_id: str) -> StoredConnection:
    async with gateway.database.read() as conn:
        found = await channel_store.get_connection(conn, channel_id)
    if found is None:
        raise NotFound("no such channel", field="channel_id")
    return found


async def _note_refusal(
    gateway: Gateway, connection: StoredConnection, reason: str, now: datetime
) -> None:
    """Keep a refusal in the connection's inbound log, within its limit a minute."""
    limit = await gateway.limiter.hit(
        f"inbound-refusals:{connection.id}", gateway.settings.inbound_refusals_logged_per_minute
    )
    if limit.allowed:
        async with gateway.database.write() as conn:
            await log_refusal(conn, connection, reason, now)
    log.warning(
        "inbound.signature_refused", channel_id=connection.id, reason=reason, kept=limit.allowed
    )


@router.get("/{channel_id}", include_in_schema=False)
async def handshake(request: Request, channel_id: str = CHANNEL_ID) -> Response:
    """Answer a platform's subscription check (Meta's ``hub.challenge``)."""
    gateway = gateway_of(request)
    connection = await _connection(gateway, channel_id)
    adapter = gateway.channels.adapter(connection)
    try:
        challenge = adapter.handshake(await _raw(request))
    except SignatureError:
        return Response("verify token mismatch", status_code=403, media_type="text/plain")
    if challenge is None:
        raise NotFound("this channel has no subscription check", field="channel_id")
    return Response(challenge, media_type="text/plain")


@router.post("/{channel_id}", include_in_schema=False)
async def receive(request: Request, channel_id: str = CHANNEL_ID) -> Response:
    """Verify, parse and store one platform webhook."""
    gateway = gateway_of(request)
    connection = await _connection(gateway, channel_id)
    adapter = gateway.channels.adapter(connection)
    raw = await _raw(request)
    now = utcnow()
    try:
        adapter.verify(raw)
    except SignatureError as refusal:
        await _note_refusal(gateway, connection, str(refusal), now)
        raise Unauthenticated(str(refusal), code="invalid_signature") from None
    try:
        events = adapter.parse(raw)
    except ValueError as exc:
        # Nothing of it is kept (a body too deep to read is not stored anywhere), but it is
        # told: a signed webhook is never dropped unseen.
        log.warning("inbound.unreadable", channel_id=connection.id, size=len(raw.body))
        raise MalformedBody("the webhook body cannot be read", field="body") from exc

    async def store(conn: AsyncConnection) -> WebhookResult:
        return await record_webhook(
            conn, connection, events, now, public_url=gateway.settings.public_url
        )

    result = await gateway.database.transact(store)
    if result.media or result.unmatched or result.acks:
        # A worker in this process downloads the files and answers the platform now, and
        # sees when to match statuses again.
        gateway.wakeup.notify()
    log.info("inbound.stored", channel_id=channel_id, result=result)
    answer = adapter.webhook_answer()
    if answer is None:
        return Response(status_code=200)
    return Response(content=answer[0], media_type=answer[1])
