"""Stored message templates, each query scoped by account (live and test keys share them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.domain.templates import TemplateDefinition
from chatgate.storage.tables import templates
from chatgate.storage.upsert import insert_or_ignore_statement


@dataclass(frozen=True, slots=True)
class StoredTemplate:
    """A template row: its id, its account, its definition and when it was made and changed."""

    id: str
    account_id: str
    definition: TemplateDefinition
    created_at: datetime
    updated_at: datetime

    @property
    def name(self) -> str:
        """The template's name."""
        return self.definition.name

    @property
    def language(self) -> str:
        """The template's language."""
        return self.definition.language


def _template(row: Any) -> StoredTemplate:
    return StoredTemplate(
        id=row.id,
        account_id=row.account_id,
        definition=TemplateDefinition.model_validate(
            {
                "name": row.name,
                "language": row.language,
                "variables": row.variables,
                "body": row.body,
                "bindings": row.bindings,
            }
        ),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _definition_values(definition: TemplateDefinition) -> dict[str, Any]:
    dumped = definition.model_dump(mode="json", exclude_none=True)
    return {
        "name": dumped["name"],
        "language": dumped["language"],
        "variables": dumped["variables"],
        "body": dumped["body"],
        "bindings": dumped["bindings"],
    }


async def insert_template(conn: AsyncConnection, template: StoredTemplate) -> bool:
    """Store a new template; ``False`` (nothing written) when the account already has one
    of that name and language."""
    values = {
        "id": template.id,
        "account_id": template.account_id,
        **_definition_values(template.definition),
        "created_at": template.created_at,
        "updated_at": template.updated_at,
    }
    result = await conn.execute(insert_or_ignore_statement(conn.dialect.name, templates), values)
    return bool(result.rowcount)


async def get_template(
    conn: AsyncConnection, account_id: str, template_id: str
) -> StoredTemplate | None:
    """The account's template ``template_id``, if there is one."""
    row = (
        await conn.execute(
            select(templates).where(
                templates.c.id == template_id, templates.c.account_id == account_id
            )
        )
    ).first()
    return _template(row) if row else None


async def find_template(
    conn: AsyncConnection, account_id: str, name: str, language: str
) -> StoredTemplate | None:
    """The account's template called ``name`` in ``language``, if there is one."""
    row = (
        await conn.execute(
            select(templates).where(
                templates.c.account_id == account_id,
                templates.c.name == name,
                templates.c.language == language,
            )
        )
    ).first()
    return _template(row) if row else None


async def list_templates(
    conn: AsyncConnection,
    account_id: str,
    *,
    before: str | None,
    limit: int,
    name: str | None = None,
) -> list[StoredTemplate]:
    """The account's templates newest first, older than the id ``before`` when given."""
    query = select(templates).where(templates.c.account_id == account_id)
    if name is not None:
        query = query.where(templates.c.name == name)
    if before is not None:
        query = query.where(templates.c.id < before)
    rows = await conn.execute(query.order_by(templates.c.id.desc()).limit(limit))
    return [_template(row) for row in rows]


async def update_template(conn: AsyncConnection, template: StoredTemplate) -> None:
    """Write a template's definition and ``updated_at``.

    Raises ``IntegrityError`` when another template of the account has its new name and
    language.
    """
    await conn.execute(
        update(templates)
        .where(templates.c.id == template.id, templates.c.account_id == template.account_id)
        .values(**_definition_values(template.definition), updated_at=template.updated_at)
    )


async def delete_template(conn: AsyncConnection, account_id: str, template_id: str) -> bool:
    """Remove the account's template ``template_id``; ``True`` if there was one."""
    result = await conn.execute(
        delete(templates).where(templates.c.id == template_id, templates.c.account_id == account_id)
    )
    return bool(result.rowcount)
