"""The framework floor: the baseline's one durable insert behind a FastAPI route.

The route validates the benchmark's body with a pydantic model and answers 202, and does
nothing else: no auth, no rate limit, no idempotency. Between the baseline and this lies
the cost of the web framework alone, which Chatgate's send path pays as well; the report
shows it so that the full path's ratio can be read against what the framework leaves.

Run with ``uvicorn bench.framework_floor:app``; the store is ``BENCH_DATABASE_URL``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

from fastapi import FastAPI, Response
from pydantic import BaseModel, Field

from bench.baseline import Store

_ANSWER = b'{"status":"queued"}'


class TextContent(BaseModel):
    """The benchmark's content: text only."""

    type: Literal["text"]
    text: str = Field(min_length=1, max_length=4096)


class SendRequest(BaseModel):
    """The benchmark's request body."""

    channel: str
    to: str
    content: TextContent


store = Store()


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    """Open the store before the first request."""
    await store.open()
    yield


app = FastAPI(lifespan=lifespan)


@app.get("/healthz")
async def healthz() -> Response:
    """Ready once the store is open."""
    return Response(_ANSWER, media_type="application/json")


@app.post("/v1/messages", status_code=202)
async def send(body: SendRequest) -> Response:
    """Validate, insert durably, answer 202."""
    await store.insert(body.model_dump_json().encode())
    return Response(_ANSWER, status_code=202, media_type="application/json")
