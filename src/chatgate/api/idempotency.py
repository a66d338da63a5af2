"""``Idempotency-Key``: a retried POST gets the first answer instead of a second effect.

The key is claimed in its own short transaction; the work and the stored response are then
committed together, so a crash can never leave a message written without its stored answer.
A key whose request failed is released, so that the client's retry runs afresh.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated

import orjson
from fastapi import Header, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.api.state import gateway_of
from chatgate.domain.records import ApiKey
from chatgate.errors import ChatgateError, Conflict, InvalidRequest
from chatgate.storage import idempotency as idempotency_store
from chatgate.storage.types import utcnow

HEADER = "Idempotency-Key"
_MAX_KEY = 255

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias=HEADER,
        min_length=1,
        max_length=_MAX_KEY,
        description="Retry safely: a repeat with the same key and body gets the first answer "
        "(with `Idempotency-Replayed: true`) for 24 hours.",
    ),
]

# A producer writes and returns the answer, or returns (not raises) the refusal, so that
# a refusal never spoils a transaction shared with other requests (group commit).
Producer = Callable[[AsyncConnection], Awaitable[BaseModel | ChatgateError]]
Redactor = Callable[[BaseModel], BaseModel]


def _json(model: BaseModel) -> bytes:
    return model.model_dump_json(by_alias=True).encode("utf-8")


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What makes two requests "the same": method, path and the JSON body's content."""
    try:
        canonical = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)
    except orjson.JSONDecodeError:
        canonical = body
    digest = hashlib.sha256(f"{method} {path}\n".encode())
    digest.update(canonical)
    return digest.hexdigest()


def _json_response(body: bytes, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(
        content=body, status_code=status, media_type="application/json", headers=headers
    )


async def respond(
    request: Request,
    key: ApiKey,
    status: int,
    produce: Producer,
    *,
    redact: Redactor | None = None,
) -> Response:
    """Run ``produce`` in one write transaction and answer with its result, idempotently.

    ``redact`` turns the answer into what may be stored for replays (secrets removed).
    """
    gateway = gateway_of(request)
    database = gateway.database
    idempotency_key = request.headers.get(HEADER)
    if idempotency_key is None:
        result = await database.transact(produce)
        if isinstance(result, ChatgateError):
            raise result
        return _json_response(_json(result), status)

    if not 1 <= len(idempotency_key) <= _MAX_KEY or not idempotency_key.isprintable():
        raise InvalidRequest(f"must be 1 to {_MAX_KEY} printable characters", field=HEADER)
    request_print = fingerprint(request.method, request.url.path, await request.body())
    settings = gateway.settings
    now = utcnow()
    earlier = await database.transact(
        lambda conn: idempotency_store.claim_key(
            conn,
            key.account_id,
            idempotency_key,
            request_print,
            now=now,
            lock_until=now + timedelta(seconds=settings.idempotency_lock_seconds),
            expires_at=now + timedelta(hours=settings.idempotency_ttl_hours),
        )
    )
    if earlier is not None:
        if earlier.fingerprint != request_print:
            raise InvalidRequest(
                "this Idempotency-Key was used for a different request",
                code="idempotency_key_reused",
                field=HEADER,
            )
        if earlier.response_status is None or earlier.response_body is None:
            raise Conflict(
                "a request with this Idempotency-Key is still in progress; retry later",
                code="idempotency_in_progress",
                field=HEADER,
            )
        return _json_response(
            earlier.response_body.encode("utf-8"),
            earlier.response_status,
            {"Idempotency-Replayed": "true"},
        )

    async def produce_and_store(conn: AsyncConnection) -> bytes | ChatgateError:
        result = await produce(conn)
        if isinstance(result, ChatgateError):
            return result
        body = _json(result)
        stored = _json(redact(result)) if redact else body
        await idempotency_store.complete_key(
            conn, key.account_id, idempotency_key, status, stored.decode("utf-8")
        )
        return body

    async def release(conn: AsyncConnection) -> None:
        await idempotency_store.release_key(conn, key.account_id, idempotency_key)

    try:
        outcome = await database.transact(produce_and_store)
    except BaseException:
        await database.transact(release)
        raise
    if isinstance(outcome, ChatgateError):
        await database.transact(release)
        raise outcome
    return _json_response(outcome, status)
