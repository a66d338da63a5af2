"""``POST /v1/messages/distribute``: one content to many recipients; ``/v1/distributions``."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.api import idempotency
from chatgate.api.auth import require
from chatgate.api.errors import describe_validation_error
from chatgate.api.schemas.common import ERROR_RESPONSES
from chatgate.api.schemas.distributions import (
    ContactSelectionIn,
    DistributeRequest,
    DistributionOut,
    RecipientIn,
)
from chatgate.api.state import gateway_of
from chatgate.domain.channels import ChannelType
from chatgate.domain.keys import Scope
from chatgate.domain.records import ApiKey
from chatgate.errors import ChatgateError, InvalidRequest
from chatgate.services import distribute as distribution_service
from chatgate.services.distribute import ContactSelection, DistributionRequest, Recipient
from chatgate.storage.contacts import ContactFilter
from chatgate.storage.types import utcnow

router = APIRouter(prefix="/v1", tags=["messages"], responses=ERROR_RESPONSES)
_RECIPIENT = TypeAdapter(RecipientIn)
DISTRIBUTION_ID = Path(pattern=r"^dst_[0-9A-Z]{26}$", description="the distribution's id, dst_…")


def _recipient(index: int, raw: object) -> Recipient | ChatgateError:
    """One listed recipient, or its refusal naming the field (``recipients.N.…``)."""
    try:
        item = _RECIPIENT.validate_python(raw)
    except ValidationError as exc:
        code, field, message = describe_validation_error(dict(exc.errors()[0]))
        where = f"recipients.{index}" + (f".{field}" if field and field != "body" else "")
        return InvalidRequest(message, code=code, field=where)
    channel = item.channel if isinstance(item.channel, ChannelType) else None
    return Recipient(channel, item.to, item.contact_id)


def _selection(body: ContactSelectionIn) -> ContactSelection:
    return ContactSelection(
        channel=body.channel if isinstance(body.channel, ChannelType) else None,
        filter=ContactFilter(
            phone=body.phone,
            email=body.email,
            channel=body.has_channel.value if body.has_channel else None,
            name_prefix=body.name_prefix,
            attributes=body.attributes,
        ),
    )


@router.post("/messages/distribute", status_code=202, response_model=DistributionOut)
async def distribute(
    body: DistributeRequest,
    request: Request,
    idempotency_key: idempotency.IdempotencyKey = None,
    key: ApiKey = Depends(require(Scope.MESSAGES_SEND)),
) -> Response:
    """Send one content to up to 1,000 recipients (listed, selected contacts, or both).

    Each recipient is accepted or refused on its own, through the same rules, pacing and
    credit as any message; the answer lists every recipient's result in order.
    """
    gateway = gateway_of(request)
    plan = DistributionRequest(
        content=body.content.model_dump(mode="json", exclude_none=True),
        recipients=[_recipient(i, raw) for i, raw in enumerate(body.recipients)],
        contacts=_selection(body.contacts) if body.contacts else None,
        metadata=body.metadata,
        schedule_at=body.schedule_at,
        options=body.options.model_dump(exclude_none=True) if body.options else None,
        degrade=body.degrade,
        track_links=body.track_links,
    )

    async def produce(conn: AsyncConnection) -> DistributionOut:
        made = await distribution_service.distribute(
            conn,
            key,
            plan,
            sandbox=gateway.sandbox,
            channels=gateway.channels,
            billing=gateway.billing,
            now=utcnow(),
        )
        return DistributionOut.of(made)

    response = await idempotency.respond(request, key, 202, produce)
    gateway.wakeup.notify()
    return response


@router.get("/distributions/{distribution_id}", response_model=DistributionOut)
async def get_distribution(
    request: Request,
    distribution_id: str = DISTRIBUTION_ID,
    key: ApiKey = Depends(require(Scope.MESSAGES_READ)),
) -> DistributionOut:
    """A distribution, every recipient's result, and how many of its messages stand at each
    status now."""
    found, statuses = await distribution_service.get_distribution(
        gateway_of(request).database, key, distribution_id
    )
    return DistributionOut.of(found, statuses)
