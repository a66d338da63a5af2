"""Meta's Graph API host, shared by WhatsApp Cloud, Messenger and Instagram.

On the real Graph API one host serves all three; the object id in the path says which
product a call is for (a WhatsApp phone number id, a Facebook page id, an Instagram account
id). The emulator does the same under ``/graph``: each product registers its accounts, and
calls are dispatched by the id (or, for ``/me``, by the access token).

What the three products share also lives here: the Graph error body, the throttling
header, and webhooks serialised and signed as Meta serialises and signs them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import secrets
import time
from abc import abstractmethod
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from chatgate.emulators.core import Account, EmulatorState, PlatformEmulator, Received
from chatgate.emulators.multipart import FormPart, is_multipart, read_form

PREFIX = "/graph"
# The trace id of the Graph host's own errors and the Send API's (WhatsApp's are fresh).
FBTRACE_ID = "AbCdEfGhIjKlMnOp"


def graph_error(
    status: int,
    code: int,
    message: str,
    *,
    subcode: int | None = None,
    kind: str = "OAuthException",
    transient: bool = False,
    error_data: dict[str, Any] | None = None,
    user_title: str | None = None,
    user_msg: str | None = None,
    fbtrace_id: str = FBTRACE_ID,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A Graph API error answer, shaped as Meta shapes it (``user_title`` and ``user_msg``
    are the ``error_user_*`` texts Meta meant to be shown to a person)."""
    error: dict[str, Any] = {"message": message, "type": kind, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    if transient:
        error["is_transient"] = True
    if error_data is not None:
        error["error_data"] = error_data
    if user_title is not None:
        error["error_user_title"] = user_title
    if user_msg is not None:
        error["error_user_msg"] = user_msg
    error["fbtrace_id"] = fbtrace_id
    return JSONResponse({"error": error}, status_code=status, headers=dict(headers or {}))


def cloud_error(
    status: int,
    code: int,
    message: str,
    *,
    details: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A WhatsApp Cloud API error answer: the Graph error with WhatsApp's ``error_data``."""
    error_data = None if details is None else {"messaging_product": "whatsapp", "details": details}
    return graph_error(
        status,
        code,
        message,
        error_data=error_data,
        fbtrace_id="A" + secrets.token_urlsafe(16),
        headers=headers,
    )


def unknown_object(method: str, object_id: str) -> JSONResponse:
    """Graph's answer to a call on an id it has no object for (or none the token may see)."""
    return graph_error(
        400,
        100,
        f"Unsupported {method} request. Object with ID '{object_id}' does not exist, "
        "cannot be loaded due to missing permissions, or does not support this operation.",
        subcode=33,
        kind="GraphMethodException",
    )


def usage_header(owner: str, retry_after: float, **usage: Any) -> dict[str, str]:
    """The ``X-Business-Use-Case-Usage`` header of a throttled call, keyed by ``owner``:
    Meta tells, in whole minutes, when the throttle lifts."""
    entry = {**usage, "estimated_time_to_regain_access": math.ceil(retry_after / 60)}
    return {"X-Business-Use-Case-Usage": json.dumps({owner: [entry]})}


def meta_json(value: Any) -> bytes:
    """JSON as Meta's webhooks carry it: compact, ASCII-only, with ``/`` escaped."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    # A "/" only ever occurs inside JSON strings, where "\/" is a valid escape.
    return text.replace("/", "\\/").encode("ascii")


def signature_headers(app_secret: str, body: bytes) -> dict[str, str]:
    """The signature headers Meta puts on a webhook ``body``."""
    key = app_secret.encode("utf-8")
    return {
        "X-Hub-Signature-256": "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest(),
        "X-Hub-Signature": "sha1=" + hmac.new(key, body, hashlib.sha1).hexdigest(),
    }


def bearer_token(request: Request) -> str | None:
    """The access token of a Graph call: ``Authorization: Bearer`` or ``?access_token=``."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.query_params.get("access_token")


class GraphProduct(PlatformEmulator):
    """A product on the Graph host: it answers the calls made on its accounts' ids."""

    # The secret of an account that its access token is kept under.
    token_secret: str = "access_token"  # noqa: S105 - the name of a field, not a secret

    @abstractmethod
    async def handle(self, account: Account, edge: str, request: Request, body: Any) -> Response:
        """Answer ``POST /{version}/{account id}/{edge}`` (the token is already checked)."""

    async def get_object(self, object_id: str, request: Request) -> Response | None:
        """Answer ``GET /{version}/{object_id}`` if this product owns it (media, say)."""
        return None

    async def delete_object(self, object_id: str, request: Request) -> Response | None:
        """Answer ``DELETE /{version}/{object_id}`` if this product owns it (media, say)."""
        return None

    def record_call(
        self,
        account: Account,
        request: Request,
        body: Any,
        *,
        message_id: str | None = None,
        recipient: str | None = None,
        status: int = 200,
    ) -> None:
        """Log a call made on ``account``, with the answer's status."""
        self.state.record(
            Received(
                platform=self.name,
                account=account.id,
                path=request.url.path,
                body=body,
                at=time.time(),
                message_id=message_id,
                recipient=recipient,
                status=status,
            )
        )

    async def post_signed(self, account: Account, envelope: dict[str, Any]) -> int | None:
        """Send a webhook to ``account``'s URL as Meta does: serialised as Meta serialises
        it and signed with the app secret over those exact bytes. Returns the gateway's
        status, ``None`` when unreachable or when the account names no URL."""
        if not account.webhook_url:
            return None
        body = meta_json(envelope)
        headers = signature_headers(account.secrets["app_secret"], body)
        return await self.state.post_webhook(self.name, account.webhook_url, body, headers)


async def _parameters(request: Request) -> Any:
    """A call's parameters: its JSON body, or the fields of its multipart form (Graph takes
    both; uploads come as forms), a file part kept whole as a :class:`FormPart`."""
    content_type = request.headers.get("content-type", "")
    if not is_multipart(content_type):
        return await request.json()
    fields: dict[str, str | FormPart] = {}
    for part in read_form(await request.body(), content_type):
        fields[part.name] = part if part.filename is not None else part.text()
    return fields


def graph_router(state: EmulatorState, products: list[GraphProduct]) -> APIRouter:
    """The ``/graph`` routes, dispatching to the product that owns the object id."""
    router = APIRouter(prefix=PREFIX, include_in_schema=False)

    def find(object_id: str, token: str | None) -> tuple[GraphProduct, Account] | None:
        for product in products:
            accounts = product.accounts()
            if object_id in accounts:
                return product, accounts[object_id]
            if object_id == "me":
                for account in accounts.values():
                    if token is not None and account.secrets.get(product.token_secret) == token:
                        return product, account
        return None

    # Declared before the generic object route, which would otherwise match it.
    @router.get("/_media/{media_id}")
    async def download(media_id: str, request: Request) -> Response:
        answer = state.media_answer(media_id)
        return Response(status_code=404) if answer is None else answer

    @router.post("/{version}/{object_id}/{edge}")
    async def post_edge(version: str, object_id: str, edge: str, request: Request) -> Response:
        token = bearer_token(request)
        found = find(object_id, token)
        if token is None:
            return graph_error(
                400,
                2500,
                "An active access token must be used to query information about the current user.",
            )
        if found is None:
            return unknown_object("post", object_id)
        product, account = found
        if account.secrets.get(product.token_secret) != token:
            return graph_error(401, 190, "Invalid OAuth access token - Cannot parse access token")
        try:
            body = await _parameters(request)
        except ValueError:
            return graph_error(400, 100, "(#100) The parameter messaging_product is required.")
        return await product.handle(account, edge, request, body)

    @router.get("/{version}/{object_id}")
    async def get_object(version: str, object_id: str, request: Request) -> Response:
        for product in products:
            answer = await product.get_object(object_id, request)
            if answer is not None:
                return answer
        return unknown_object("get", object_id)

    @router.delete("/{version}/{object_id}")
    async def delete_object(version: str, object_id: str, request: Request) -> Response:
        for product in products:
            answer = await product.delete_object(object_id, request)
            if answer is not None:
                return answer
        return unknown_object("delete", object_id)

    return router
