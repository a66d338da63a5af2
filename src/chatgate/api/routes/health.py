"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel

from chatgate.api.schemas.common import ErrorEnvelope
from chatgate.api.state import gateway_of
from chatgate.errors import ServiceUnavailable

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """The process answers (and, for readiness, its store does too)."""

    status: Literal["ok"] = "ok"


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is up."""
    return Health()


@router.get(
    "/readyz",
    response_model=Health,
    responses={503: {"model": ErrorEnvelope, "description": "The store does not answer"}},
)
async def readyz(request: Request) -> Health:
    """The process can reach its store."""
    try:
        await gateway_of(request).database.ping()
    except Exception as exc:
        raise ServiceUnavailable("the store does not answer") from exc
    return Health()
