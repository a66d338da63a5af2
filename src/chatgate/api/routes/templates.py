"""``/v1/templates``: the account's stored message templates, and their rendering per channel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.api import idempotency
from chatgate.api.actor import actor_of
from chatgate.api.auth import require
from chatgate.api.schemas.common import ERROR_RESPONSES, QUERY_TEXT
from chatgate.api.schemas.templates import (
    CreateTemplateRequest,
    PreviewOut,
    PreviewRequest,
    TemplateList,
    TemplateOut,
    UpdateTemplateRequest,
)
from chatgate.api.state import gateway_of
from chatgate.domain.keys import Scope
from chatgate.domain.records import ApiKey
from chatgate.errors import ChatgateError
from chatgate.services import templates as template_service
from chatgate.storage.types import utcnow

router = APIRouter(prefix="/v1/templates", tags=["templates"], responses=ERROR_RESPONSES)
TEMPLATE_ID = Path(pattern=r"^tpl_[0-9A-Z]{26}$", description="the template's id, tpl_…")
Manager = Annotated[ApiKey, Depends(require(Scope.TEMPLATES_MANAGE))]


@router.post("", status_code=201, response_model=TemplateOut)
async def create_template(
    body: CreateTemplateRequest,
    request: Request,
    key: Manager,
    idempotency_key: idempotency.IdempotencyKey = None,
) -> Response:
    """Store a template; 409 if the account has one of that name and language."""
    actor = actor_of(request, key)
    definition = body.definition()

    async def produce(conn: AsyncConnection) -> TemplateOut | ChatgateError:
        try:
            template = await template_service.create_template(conn, actor, definition, utcnow())
        except ChatgateError as error:
            # Returned, not raised: a refusal must not spoil a shared (group) commit.
            return error
        return TemplateOut.of(template)

    return await idempotency.respond(request, key, 201, produce)


@router.get("", response_model=TemplateList)
async def list_templates(
    request: Request,
    key: Manager,
    name: Annotated[
        str | None, Query(max_length=100, pattern=QUERY_TEXT, description="only this name")
    ] = None,
    cursor: Annotated[
        str | None,
        Query(pattern=r"^tpl_[0-9A-Z]{26}$", description="next_cursor of the previous page"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> TemplateList:
    """The account's templates, newest first."""
    async with gateway_of(request).database.read() as conn:
        found, has_more = await template_service.list_templates(
            conn, key.account_id, before=cursor, limit=limit, name=name
        )
    return TemplateList(
        data=[TemplateOut.of(template) for template in found],
        has_more=has_more,
        next_cursor=found[-1].id if found and has_more else None,
    )


@router.get("/{template_id}", response_model=TemplateOut)
async def get_template(
    request: Request, key: Manager, template_id: str = TEMPLATE_ID
) -> TemplateOut:
    """One template."""
    async with gateway_of(request).database.read() as conn:
        return TemplateOut.of(
            await template_service.get_template(conn, key.account_id, template_id)
        )


@router.patch("/{template_id}", response_model=TemplateOut)
async def update_template(
    body: UpdateTemplateRequest, request: Request, key: Manager, template_id: str = TEMPLATE_ID
) -> TemplateOut:
    """Change a template; the result is checked whole, as on creation."""
    async with gateway_of(request).database.write() as conn:
        template = await template_service.update_template(
            conn, actor_of(request, key), template_id, body.changes(), utcnow()
        )
    return TemplateOut.of(template)


@router.delete("/{template_id}", status_code=204)
async def delete_template(
    request: Request, key: Manager, template_id: str = TEMPLATE_ID
) -> Response:
    """Remove a template. Messages already accepted keep the content rendered from it."""
    async with gateway_of(request).database.write() as conn:
        await template_service.delete_template(conn, actor_of(request, key), template_id)
    return Response(status_code=204)


@router.post("/{template_id}/preview", response_model=PreviewOut)
async def preview_template(
    body: PreviewRequest, request: Request, key: Manager, template_id: str = TEMPLATE_ID
) -> PreviewOut:
    """What the template renders to on a channel with these values: the content a send
    would store. A missing, unknown or ill-typed variable is 422 naming it."""
    async with gateway_of(request).database.read() as conn:
        template = await template_service.get_template(conn, key.account_id, template_id)
    content = template_service.preview(template, body.channel, body.variables)
    return PreviewOut(template_id=template.id, channel=body.channel, content=content)
