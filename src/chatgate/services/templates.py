"""Stored message templates: create, change, remove (audited), read, preview, and rendering
for the send path.

A template belongs to the account: live and test keys see the same ones. A template send
(``{"type": "template", "template": {...}}``) that names a stored template, by ``id`` or by
``name`` and ``language``, is rendered at accept for the channel of the message and of each
fallback step; the stored message holds the rendered content, and its options record which
template it came from. A template send that names no stored template goes through as a
platform template, as it always has.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.domain.channels import ChannelType
from chatgate.domain.ids import new_id
from chatgate.domain.records import TEMPLATE
from chatgate.domain.template_render import render
from chatgate.domain.templates import (
    TemplateDefinition,
    TemplateError,
    Variable,
    check_definition,
)
from chatgate.errors import Conflict, InvalidRequest, NotFound
from chatgate.services.audit import Actor, record
from chatgate.storage import templates as template_store
from chatgate.storage.templates import StoredTemplate

if TYPE_CHECKING:
    from chatgate.services.send_command import SendCommand

# The key of a message's options that records the stored template it was rendered from.
TEMPLATE_OPTION = TEMPLATE


@dataclass(frozen=True, slots=True)
class TemplateChanges:
    """What a change sets: fields left ``None`` stay; ``bindings`` names only the channels
    it changes (a channel set to ``None`` loses its binding)."""

    name: str | None = None
    language: str | None = None
    variables: Sequence[Variable] | None = None
    body: str | None = None
    bindings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ResolvedTemplate:
    """A template send rendered from a stored template: the content to send, and the record
    ``{"id", "name", "language"}`` that the message keeps under ``options.template``."""

    content: dict[str, Any]
    record: dict[str, str]


def _checked(definition: TemplateDefinition) -> TemplateDefinition:
    try:
        check_definition(definition)
    except TemplateError as exc:
        raise InvalidRequest(exc.message, code=exc.code, field=exc.field) from None
    return definition


def _taken(definition: TemplateDefinition) -> Conflict:
    return Conflict(
        f"this account already has a template {definition.name!r} in {definition.language!r}",
        code="template_exists",
        field="name",
    )


def _audit_detail(template: StoredTemplate) -> dict[str, Any]:
    return {"name": template.name, "language": template.language}


async def create_template(
    conn: AsyncConnection, actor: Actor, definition: TemplateDefinition, now: datetime
) -> StoredTemplate:
    """Check and store a new template of ``actor``'s account, and audit it.

    422 naming the field for a definition that does not hold together; 409 when the
    account has a template of that name and language.
    """
    template = StoredTemplate(
        id=new_id("tpl"),
        account_id=actor.account_id,
        definition=_checked(definition),
        created_at=now,
        updated_at=now,
    )
    if not await template_store.insert_template(conn, template):
        raise _taken(definition)
    await record(conn, actor, "template.created", template.id, _audit_detail(template))
    return template


async def get_template(conn: AsyncConnection, account_id: str, template_id: str) -> StoredTemplate:
    """The account's template, or 404 (another account's id is not found either)."""
    found = await template_store.get_template(conn, account_id, template_id)
    if found is None:
        raise NotFound(f"no template {template_id}", field="id")
    return found


async def list_templates(
    conn: AsyncConnection,
    account_id: str,
    *,
    before: str | None,
    limit: int,
    name: str | None = None,
) -> tuple[list[StoredTemplate], bool]:
    """A page of the account's templates, newest first, and whether older ones remain."""
    found = await template_store.list_templates(
        conn, account_id, before=before, limit=limit + 1, name=name
    )
    return found[:limit], len(found) > limit


def _changed(definition: TemplateDefinition, changes: TemplateChanges) -> TemplateDefinition:
    values: dict[str, Any] = {
        name: value
        for name, value in (
            ("name", changes.name),
            ("language", changes.language),
            ("variables", list(changes.variables) if changes.variables is not None else None),
            ("body", changes.body),
        )
        if value is not None
    }
    if changes.bindings:
        values["bindings"] = definition.bindings.model_copy(update=dict(changes.bindings))
    # Every part is a checked model already; the whole is checked again by the caller.
    return definition.model_copy(update=values)


async def update_template(
    conn: AsyncConnection,
    actor: Actor,
    template_id: str,
    changes: TemplateChanges,
    now: datetime,
) -> StoredTemplate:
    """Apply ``changes`` to the account's template, check the result whole, and audit it."""
    stored = await get_template(conn, actor.account_id, template_id)
    definition = _checked(_changed(stored.definition, changes))
    if (definition.name, definition.language) != (stored.name, stored.language):
        other = await template_store.find_template(
            conn, actor.account_id, definition.name, definition.language
        )
        if other is not None:
            raise _taken(definition)
    changed = replace(stored, definition=definition, updated_at=now)
    try:
        await template_store.update_template(conn, changed)
    except IntegrityError:
        # Another request took the name between the check and the write.
        raise _taken(definition) from None
    await record(conn, actor, "template.updated", changed.id, _audit_detail(changed))
    return changed


async def delete_template(conn: AsyncConnection, actor: Actor, template_id: str) -> None:
    """Remove the account's template (404 if it has none of that id), and audit it."""
    stored = await get_template(conn, actor.account_id, template_id)
    await template_store.delete_template(conn, actor.account_id, stored.id)
    await record(conn, actor, "template.deleted", stored.id, _audit_detail(stored))


def _render(
    template: StoredTemplate, channel: str, values: Mapping[str, Any] | Sequence[Any], field: str
) -> dict[str, Any]:
    """Render, turning a value's fault into 422 with ``field`` = ``{field}.{its key}``."""
    try:
        return render(template.definition, channel, values)
    except TemplateError as exc:
        where = f"{field}.{exc.field}" if exc.field is not None else field
        raise InvalidRequest(exc.message, code=exc.code, field=where) from None


def preview(
    template: StoredTemplate, channel: ChannelType, values: Mapping[str, Any] | Sequence[Any]
) -> dict[str, Any]:
    """The content ``template`` renders to on ``channel``; 422 naming ``variables.<name>``."""
    return _render(template, channel.value, values, "variables")


async def _stored_for(
    conn: AsyncConnection, account_id: str, given: Mapping[str, Any], field: str
) -> StoredTemplate | None:
    template_id = given.get("id")
    if template_id is None:
        name = given.get("name")
        if not isinstance(name, str):
            return None
        return await template_store.find_template(
            conn, account_id, name, str(given.get("language") or "en")
        )
    found = await template_store.get_template(conn, account_id, str(template_id))
    if found is None:
        raise InvalidRequest(
            f"no template {template_id} in this account",
            code="unknown_template",
            field=f"{field}.template.id",
        )
    if given.get("name") is not None and given["name"] != found.name:
        raise InvalidRequest(
            f"the template {template_id} is called {found.name!r}; leave name out or match it",
            field=f"{field}.template.name",
        )
    return found


async def resolve_template(
    conn: AsyncConnection,
    account_id: str,
    channel: ChannelType,
    content: Mapping[str, Any],
    *,
    field: str = "content",
) -> ResolvedTemplate | None:
    """A template send rendered for ``channel`` from the stored template it names.

    ``None`` when ``content`` is no template send, or names no stored template by name and
    language (then it is a platform template, sent as given). An ``id`` the account does
    not have is 422 ``unknown_template``; a missing, unknown or ill-typed variable is 422
    naming ``{field}.template.variables.<name>`` (``field`` is where ``content`` sits in
    the request: ``fallback.0.content`` for a fallback step).
    """
    if content.get("type") != "template":
        return None
    given: Mapping[str, Any] = content.get("template") or {}
    stored = await _stored_for(conn, account_id, given, field)
    if stored is None:
        return None
    for part in ("header", "buttons"):
        if given.get(part):
            raise InvalidRequest(
                f"a stored template sets its own {part}; pass its values as variables",
                field=f"{field}.template.{part}",
            )
    rendered = _render(
        stored, channel.value, given.get("variables") or {}, f"{field}.template.variables"
    )
    return ResolvedTemplate(
        rendered, {"id": stored.id, "name": stored.name, "language": stored.language}
    )


async def with_stored_templates(
    conn: AsyncConnection, account_id: str, command: SendCommand
) -> SendCommand:
    """``command`` with every template send that names a stored template rendered for its
    channel: the message's content (recorded under ``options.template``) and each fallback
    step's. Unchanged, without a query, when nothing in it is a template send."""
    contents = [command.content, *(step.content for step in command.fallback)]
    if all(content.get("type") != "template" for content in contents):
        return command
    first = await resolve_template(conn, account_id, command.routed_channel, command.content)
    steps = list(command.fallback)
    for index, step in enumerate(steps):
        resolved = await resolve_template(
            conn,
            account_id,
            ChannelType(step.channel),
            step.content,
            field=f"fallback.{index}.content",
        )
        if resolved is not None:
            steps[index] = replace(step, content=resolved.content)
    if first is None:
        return replace(command, fallback=tuple(steps))
    return replace(
        command,
        content=first.content,
        fallback=tuple(steps),
        options={**(command.options or {}), TEMPLATE_OPTION: first.record},
    )
