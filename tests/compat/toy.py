"""A toy dialect standing for any: one keyed route, a vendor-style error body
``{"ok": false, "error"}`` and a webhook format of its own, so that what the dialect layer
guarantees is tested once, apart from what each dialect translates."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from chatgate.api.auth import KeyKind, authenticate_secret
from chatgate.compat.dialect_app import DialectApi
from chatgate.config import Settings
from chatgate.domain.dialects import Dialect
from chatgate.domain.records import ApiKey
from chatgate.services.webhook_formats import Signing, body_hmac
from chatgate.storage.events import LoggedEvent
from chatgate.storage.webhook_endpoints import StoredEndpoint

KIND = KeyKind(Dialect.THIKAA, "'Authorization: Bearer tk_live_…'", default_rate_limit=2)


async def toy_key(request: Request) -> ApiKey:
    header = request.headers.get("authorization", "")
    secret = header[len("Bearer ") :] if header.startswith("Bearer ") else None
    return await authenticate_secret(request, secret, KIND)


def toy_error(
    request_id: str,
    status: int,
    code: str,
    message: str,
    field: str | None,
    details: dict[str, Any] | None,
) -> tuple[int, dict[str, Any]]:
    # The toy vendor knows no 422: bad input is its 400.
    return (400 if status == 422 else status), {
        "ok": False,
        "error": {"code": code, "message": message},
    }


class Echo(BaseModel):
    text: str


router = APIRouter()


@router.post("/{account}/echo")
async def echo(account: str, body: Echo, key: ApiKey = Depends(toy_key)) -> dict[str, Any]:
    return {"ok": True, "account": account, "key_id": key.id, "text": body.text}


class ToyFormat:
    """Inbound texts only, as ``{"event", "key", "text"}``, signed over the raw body with the
    secret string's own bytes."""

    name = "thikaa"
    dialect = Dialect.THIKAA
    requires_key = True

    def payload(self, event: LoggedEvent, endpoint: StoredEndpoint) -> dict[str, Any] | None:
        if event.type != "message.received":
            return None
        content = event.content or {}
        return {"event": event.type, "key": endpoint.api_key_id, "text": content.get("text")}

    def headers(self, signing: Signing, endpoint: StoredEndpoint) -> dict[str, str]:
        return {
            "X-Toy-Event": signing.event_type,
            "X-Toy-Signature": body_hmac(signing.secrets[0], signing.body),
        }


def toy_format(settings: Settings) -> ToyFormat:
    return ToyFormat()


TOY = DialectApi(
    dialect=Dialect.THIKAA,
    title="Toy",
    description="A toy dialect.",
    routers=(router,),
    render_error=toy_error,
    authenticate=toy_key,
    webhook_format=toy_format,
)
