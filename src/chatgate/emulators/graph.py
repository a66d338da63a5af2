"""Meta's Graph API host, shared by WhatsApp Cloud, Messenger and Instagram.

On the real Graph API one host serves all three; the object id in the path says which
product a call is for (a WhatsApp phone number id, a Facebook page id, an Instagram account
id). The emulator does the same under ``/graph``: each product registers its accounts, and
calls are dispatched by the id (or, for ``/me``, by the access token).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from chatgate.emulators.core import Account, EmulatorState, PlatformEmulator

PREFIX = "/graph"


def graph_error(
    status: int,
    code: int,
    message: str,
    *,
    subcode: int | None = None,
    kind: str = "OAuthException",
) -> JSONResponse:
    """A Graph API error answer, shaped as Meta shapes it."""
    error: dict[str, Any] = {
        "message": message,
        "type": kind,
        "code": code,
        "fbtrace_id": "AbCdEfGhIjKlMnOp",
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    return JSONResponse({"error": error}, status_code=status)


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
        stored = state.media.get(media_id)
        if stored is None:
            return Response(status_code=404)
        content, mime_type = stored
        return Response(content=content, media_type=mime_type)

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
            return graph_error(
                400,
                100,
                f"Unsupported post request. Object with ID '{object_id}' does not exist, "
                "cannot be loaded due to missing permissions, or does not support this operation.",
                subcode=33,
                kind="GraphMethodException",
            )
        product, account = found
        if account.secrets.get(product.token_secret) != token:
            return graph_error(401, 190, "Invalid OAuth access token - Cannot parse access token")
        try:
            body = await request.json()
        except ValueError:
            return graph_error(400, 100, "(#100) The parameter messaging_product is required.")
        return await product.handle(account, edge, request, body)

    @router.get("/{version}/{object_id}")
    async def get_object(version: str, object_id: str, request: Request) -> Response:
        for product in products:
            answer = await product.get_object(object_id, request)
            if answer is not None:
                return answer
        return graph_error(400, 100, f"Object with ID '{object_id}' does not exist", subcode=33)

    return router
