"""``/api/v1/keys``: keys of this API for the caller's account; a secret shows once."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.api import idempotency
from chatgate.api.actor import actor_of
from chatgate.api.state import gateway_of
from chatgate.compat.wasessions.answers import CreatedKey, KeyAnswer, KeyList
from chatgate.compat.wasessions.auth import require
from chatgate.compat.wasessions.errors import ERROR_RESPONSES
from chatgate.compat.wasessions.ids import our_id
from chatgate.compat.wasessions.requests import CreateKey
from chatgate.domain.dialects import Dialect
from chatgate.domain.keys import Scope
from chatgate.domain.records import ApiKey
from chatgate.errors import NotFound
from chatgate.services import keys as key_service
from chatgate.services.keys import KeySpec

router = APIRouter(prefix="/api/v1/keys", tags=["API Keys"], responses=ERROR_RESPONSES)
MANAGE = Depends(require(Scope.KEYS_MANAGE))


def _without_secret(model: BaseModel) -> BaseModel:
    assert isinstance(model, CreatedKey)
    return model.model_copy(update={"key": None})


@router.post("", status_code=201, response_model=CreatedKey)
async def create_key(
    body: CreateKey,
    request: Request,
    idempotency_key: idempotency.IdempotencyKey = None,
    creator: ApiKey = MANAGE,
) -> Response:
    """A new key of this API, holding what the calling key holds (its mode, scopes, IP
    allowlist and channels). Its secret is in this answer only: store it now."""
    spec = KeySpec(
        name=body.name,
        mode=creator.mode,
        scopes=creator.scopes,
        ip_allowlist=creator.ip_allowlist,
        allowed_channels=creator.allowed_channels,
        dialect=Dialect.WASESSIONS,
    )
    key_service.check_within(creator, spec, "create")
    actor = actor_of(request, creator)

    async def produce(conn: AsyncConnection) -> CreatedKey:
        key, secret = await key_service.create_key(conn, actor, spec)
        return CreatedKey(**KeyAnswer.of(key).model_dump(), key=secret)

    return await idempotency.respond(request, creator, 201, produce, redact=_without_secret)


async def _own_keys(request: Request, key: ApiKey) -> list[ApiKey]:
    found = await key_service.list_keys(gateway_of(request).database, key.account_id)
    return [k for k in found if k.dialect is Dialect.WASESSIONS]


@router.get("", response_model=KeyList)
async def list_keys(request: Request, key: ApiKey = MANAGE) -> KeyList:
    """The account's keys of this API, revoked ones included; never a secret."""
    return KeyList(data=[KeyAnswer.of(k) for k in await _own_keys(request, key)])


@router.delete("/{id}", response_model=KeyAnswer)
async def revoke_key(
    request: Request,
    key_id: Annotated[
        str, Path(alias="id", max_length=64, description="the key's id (a UUID, or key_…)")
    ],
    key: ApiKey = MANAGE,
) -> KeyAnswer:
    """Revoke a key of this API; every process refuses it within a second. The key as it
    is now."""
    ours = our_id("key", key_id)
    if ours not in {k.id for k in await _own_keys(request, key)}:
        raise NotFound(f"no key {key_id!r}", field="id")
    assert ours is not None
    revoked = await key_service.revoke_key(
        gateway_of(request).database, actor_of(request, key), key, ours
    )
    return KeyAnswer.of(revoked)
