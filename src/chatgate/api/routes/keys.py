"""``/v1/keys``: create (the secret is shown once), list and revoke API keys."""

from __future__ import annotations

from ipaddress import ip_network

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.api import idempotency
from chatgate.api.actor import actor_of
from chatgate.api.auth import require
from chatgate.api.schemas.common import ERROR_RESPONSES
from chatgate.api.schemas.keys import CreatedKey, CreateKeyRequest, KeyList, KeyOut
from chatgate.api.state import gateway_of
from chatgate.domain.keys import Scope
from chatgate.domain.records import ApiKey
from chatgate.services import keys as key_service
from chatgate.services.keys import KeySpec

router = APIRouter(prefix="/v1/keys", tags=["keys"], responses=ERROR_RESPONSES)
KEY_ID = Path(pattern=r"^key_[0-9A-Z]{26}$", description="the key's id, key_…")


def _spec(body: CreateKeyRequest, creator: ApiKey) -> KeySpec:
    return KeySpec(
        name=body.name,
        mode=body.mode or creator.mode,
        scopes=frozenset(s.value for s in body.scopes) if body.scopes else creator.scopes,
        ip_allowlist=tuple(ip_network(cidr) for cidr in body.ip_allowlist),
        allowed_channels=frozenset(c.value for c in body.allowed_channels)
        if body.allowed_channels
        else creator.allowed_channels,
        rate_limit=body.rate_limit,
        dialect=body.dialect,
        track_links=body.track_links is not False,
    )


def _without_secret(model: BaseModel) -> BaseModel:
    assert isinstance(model, CreatedKey)
    return model.model_copy(update={"key": None})


@router.post("", status_code=201, response_model=CreatedKey)
async def create_key(
    body: CreateKeyRequest,
    request: Request,
    idempotency_key: idempotency.IdempotencyKey = None,
    creator: ApiKey = Depends(require(Scope.KEYS_MANAGE)),
) -> Response:
    """Create a key. Its secret is in this response only; store it now."""
    spec = _spec(body, creator)
    key_service.check_within(creator, spec, "create")
    actor = actor_of(request, creator)

    async def produce(conn: AsyncConnection) -> CreatedKey:
        # Audited inside produce: an idempotent replay does not run it, so logs nothing.
        key, secret = await key_service.create_key(conn, actor, spec)
        return CreatedKey(**KeyOut.fields_of(key), key=secret)

    return await idempotency.respond(request, creator, 201, produce, redact=_without_secret)


@router.get("", response_model=KeyList)
async def list_keys(request: Request, key: ApiKey = Depends(require(Scope.KEYS_MANAGE))) -> KeyList:
    """Every key of the account, revoked ones included; never a secret."""
    found = await key_service.list_keys(gateway_of(request).database, key.account_id)
    return KeyList(data=[KeyOut.of(k) for k in found])


@router.delete("/{key_id}", response_model=KeyOut)
async def revoke_key(
    request: Request,
    key_id: str = KEY_ID,
    key: ApiKey = Depends(require(Scope.KEYS_MANAGE)),
) -> KeyOut:
    """Revoke a key holding no more than this one. Every process refuses it within a second."""
    revoked = await key_service.revoke_key(
        gateway_of(request).database, actor_of(request, key), key, key_id
    )
    return KeyOut.of(revoked)
