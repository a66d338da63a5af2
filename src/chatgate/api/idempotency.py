"""``Idempotency-Key``: a retried POST gets the first answer instead of a second effect.

The key is claimed, the work done and the response stored in one transaction, so a crash
can never leave a message written without its stored answer, nor a key held by a request
that is gone. A second request with the same key while the first runs in this process gets
409; on PostgreSQL one in another process waits for the first and replays its answer. A
refused request releases its key, so that the client's retry runs afresh.
"""

from __future__ import annotations

import hashlib
import re
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

_PRINTABLE = re.compile(r"[\x20-\x7e]+")
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias=HEADER,
        min_length=1,
        max_length=_MAX_KEY,
        # Printable ASCII: what a header carries faithfully (and what ``respond`` checks).
        pattern=r"^[\x20-\x7e]+$",
        description="Retry safely: a repeat with the same key and body gets the first answer "
        "(with `Idempotency-Replayed: true`) for 24 hours.",
    ),
]

# A producer writes and returns the answer, or returns (not raises) the refusal, so that
# a refusal never spoils a transaction shared with other requests (group commit).
Producer = Callable[[AsyncConnection], Awaitable[BaseModel | ChatgateError]]
Redactor = Callable[[BaseModel], BaseModel]
# What the one transaction of an idempotent request ends with: the new answer, a refusal,
# or the earlier request that held the key.
Outcome = bytes | ChatgateError | idempotency_store.StoredRequest


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

    if not 1 <= len(idempotency_key) <= _MAX_KEY or not _PRINTABLE.fullmatch(idempotency_key):
        raise InvalidRequest(f"must be 1 to {_MAX_KEY} printable characters", field=HEADER)
    request_print = fingerprint(request.method, request.url.path, await request.body())
    in_flight = (key.account_id, idempotency_key)
    if in_flight in gateway.idempotency_in_flight:
        raise Conflict(
            "a request with this Idempotency-Key is still in progress; retry later",
            code="idempotency_in_progress",
            field=HEADER,
        )
    now = utcnow()
    expires_at = now + timedelta(hours=gateway.settings.idempotency_ttl_hours)

    async def claim_produce_and_store(conn: AsyncConnection) -> Outcome:
        earlier = await idempotency_store.claim_key(
            conn, key.account_id, idempotency_key, request_print, now=now, expires_at=expires_at
        )
        if earlier is not None:
            return earlier
        result = await produce(conn)
        if isinstance(result, ChatgateError):
            await idempotency_store.release_key(conn, key.account_id, idempotency_key)
            return result
        body = _json(result)
        stored = _json(redact(result)) if redact else body
        idempotency_store.complete_key(
            conn, key.account_id, idempotency_key, status, stored.decode("utf-8")
        )
        return body

    gateway.idempotency_in_flight.add(in_flight)
    try:
        outcome = await database.transact(claim_produce_and_store)
    finally:
        gateway.idempotency_in_flight.discard(in_flight)
    if isinstance(outcome, ChatgateError):
        raise outcome
    if isinstance(outcome, bytes):
        return _json_response(outcome, status)
    if outcome.fingerprint != request_print:
        raise InvalidRequest(
            "this Idempotency-Key was used for a different request",
            code="idempotency_key_reused",
            field=HEADER,
        )
    return _json_response(
        outcome.response_body.encode("utf-8"),
        outcome.response_status,
        {"Idempotency-Replayed": "true"},
    )
