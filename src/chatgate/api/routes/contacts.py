"""``/v1/contacts``: the people an account talks to, and their identities per channel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.api import idempotency
from chatgate.api.actor import actor_of
from chatgate.api.auth import require
from chatgate.api.schemas.common import ERROR_RESPONSES, QUERY_TEXT
from chatgate.api.schemas.contacts import (
    ContactList,
    ContactOut,
    CreateContactRequest,
    UpdateContactRequest,
)
from chatgate.api.state import gateway_of
from chatgate.domain import contacts as rules
from chatgate.domain.addresses import ADDRESS_PATTERNS, ANY_ADDRESS_PATTERN
from chatgate.domain.channels import ChannelType
from chatgate.domain.keys import Scope
from chatgate.domain.records import ApiKey
from chatgate.errors import Conflict, InvalidRequest
from chatgate.services import contacts as contact_service
from chatgate.storage.contacts import ContactFilter
from chatgate.storage.types import utcnow

router = APIRouter(prefix="/v1/contacts", tags=["contacts"], responses=ERROR_RESPONSES)
CONTACT_ID_PATTERN = r"^ct_[0-9A-Z]{26}$"
CONTACT_ID = Path(pattern=CONTACT_ID_PATTERN, description="the contact's id, ct_…")
Reader = Annotated[ApiKey, Depends(require(Scope.CONTACTS_READ))]
Writer = Annotated[ApiKey, Depends(require(Scope.CONTACTS_WRITE))]


@router.post("", status_code=201, response_model=ContactOut)
async def create_contact(
    body: CreateContactRequest,
    request: Request,
    key: Writer,
    idempotency_key: idempotency.IdempotencyKey = None,
) -> Response:
    """Add a contact. An identity another contact holds is refused: 409 ``identity_taken``."""
    changes = contact_service.prepare(body.changes())
    actor = actor_of(request, key)

    async def produce(conn: AsyncConnection) -> ContactOut | Conflict:
        created = await contact_service.create_contact(conn, actor, key.mode, changes, utcnow())
        return created if isinstance(created, Conflict) else ContactOut.of(created)

    return await idempotency.respond(request, key, 201, produce)


def _filters(
    phone: str | None,
    email: str | None,
    channel: ChannelType | None,
    identity: str | None,
    q: str | None,
) -> ContactFilter:
    if identity is not None and channel is None:
        # OpenAPI cannot make one parameter require another: a code of its own.
        raise InvalidRequest("is required with identity", field="channel", code="channel_required")
    try:
        return ContactFilter(
            phone=rules.normalize_phone(phone) if phone is not None else None,
            email=email.strip() if email is not None else None,
            channel=channel.value if channel else None,
            identity=_identity_on(channel, identity),
            name_prefix=q,
        )
    except rules.InvalidContact as error:
        raise InvalidRequest(error.message, field=error.field, code=error.code) from None


def _identity_on(channel: ChannelType | None, identity: str | None) -> str | None:
    """The query's identity normalised on its channel: the schema states the shape of an
    address on some channel, so one of another channel's shape is ``invalid_address``."""
    if channel is None or identity is None:
        return None
    try:
        return rules.normalize_identity(channel.value, identity, "identity")
    except rules.InvalidContact as error:
        error.code = "invalid_address"
        raise


@router.get("", response_model=ContactList)
async def list_contacts(
    request: Request,
    key: Reader,
    phone: Annotated[
        str | None,
        Query(max_length=32, pattern=ADDRESS_PATTERNS[ChannelType.SMS], description="E.164"),
    ] = None,
    email: Annotated[str | None, Query(max_length=254, pattern=QUERY_TEXT)] = None,
    channel: Annotated[
        ChannelType | None,
        Query(description="contacts reachable on this channel (with identity: that one)"),
    ] = None,
    identity: Annotated[
        str | None,
        Query(
            max_length=256,
            pattern=ANY_ADDRESS_PATTERN,
            description="the id on channel (an address of channel's shape; channel required)",
        ),
    ] = None,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=200, pattern=QUERY_TEXT, description="name prefix"),
    ] = None,
    cursor: Annotated[
        str | None,
        Query(pattern=CONTACT_ID_PATTERN, description="next_cursor of the previous page"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ContactList:
    """The contacts of the key's account and mode, newest first, filtered, a page at a time."""
    filters = _filters(phone, email, channel, identity, q)
    async with gateway_of(request).database.read() as conn:
        found, has_more = await contact_service.list_contacts(
            conn, key.account_id, key.mode, filters, cursor=cursor, limit=limit
        )
    return ContactList(
        data=[ContactOut.of(contact) for contact in found],
        has_more=has_more,
        next_cursor=found[-1].id if found and has_more else None,
    )


@router.get("/{contact_id}", response_model=ContactOut)
async def get_contact(request: Request, key: Reader, contact_id: str = CONTACT_ID) -> ContactOut:
    """One contact with its identities."""
    async with gateway_of(request).database.read() as conn:
        found = await contact_service.get_contact(conn, key.account_id, key.mode, contact_id)
    return ContactOut.of(found)


@router.patch("/{contact_id}", response_model=ContactOut)
async def update_contact(
    body: UpdateContactRequest, request: Request, key: Writer, contact_id: str = CONTACT_ID
) -> ContactOut:
    """Change a contact: absent fields stay, ``null`` clears, ``identities`` replaces the set."""
    changes = contact_service.prepare(body.changes())
    async with gateway_of(request).database.write() as conn:
        changed = await contact_service.update_contact(
            conn, actor_of(request, key), key.mode, contact_id, changes, utcnow()
        )
    return ContactOut.of(changed)


@router.delete("/{contact_id}", status_code=204)
async def delete_contact(request: Request, key: Writer, contact_id: str = CONTACT_ID) -> Response:
    """Remove a contact and its identities; its messages keep their ``contact_id``."""
    async with gateway_of(request).database.write() as conn:
        await contact_service.delete_contact(conn, actor_of(request, key), key.mode, contact_id)
    return Response(status_code=204)
