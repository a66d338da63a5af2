"""session connections: each linked-device session is a whatsapp_web channel connection

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 21:00:00.000000

A session's connection row has the session's id and name, type ``whatsapp_web``, no
credentials (NULL: the device's keys are the session's) and the session's pace as
``rate_per_second``; the account's oldest session's is its default. Sessions made before
this revision get theirs here (one named as a channel of its account gets its id added to
the name); later ones get it with the session.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from chatgate.storage.types import UtcDateTime

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_sessions = sa.table(
    "sessions",
    sa.column("id", sa.String()),
    sa.column("account_id", sa.String()),
    sa.column("name", sa.String()),
    sa.column("pacing", sa.JSON()),
    sa.column("created_at", UtcDateTime()),
)
_connections = sa.table(
    "channel_connections",
    sa.column("id", sa.String()),
    sa.column("account_id", sa.String()),
    sa.column("type", sa.String()),
    sa.column("name", sa.String()),
    sa.column("credentials", sa.LargeBinary()),
    sa.column("settings", sa.JSON()),
    sa.column("is_default", sa.Boolean()),
    sa.column("created_at", UtcDateTime()),
    sa.column("updated_at", UtcDateTime()),
)


def upgrade() -> None:
    bind = op.get_bind()
    existing = bind.execute(
        sa.select(_connections.c.id, _connections.c.account_id, _connections.c.name)
    ).all()
    have = {row.id for row in existing}
    # Channel names are unique per account: a session named as a channel keeps its id too.
    names = {(row.account_id, row.name) for row in existing}
    defaults = {
        row.account_id
        for row in bind.execute(
            sa.select(_connections.c.account_id).where(
                _connections.c.type == "whatsapp_web", _connections.c.is_default
            )
        )
    }
    rows = bind.execute(sa.select(_sessions).order_by(_sessions.c.created_at, _sessions.c.id))
    for row in rows.all():
        if row.id in have:
            continue
        pacing = row.pacing or {}
        name = row.name
        if (row.account_id, name) in names:
            name = f"{name[: 100 - len(row.id) - 3]} ({row.id})"
        names.add((row.account_id, name))
        bind.execute(
            _connections.insert().values(
                id=row.id,
                account_id=row.account_id,
                type="whatsapp_web",
                name=name,
                credentials=None,
                settings={"rate_per_second": int(pacing.get("messages_per_minute", 20)) / 60},
                is_default=row.account_id not in defaults,
                created_at=row.created_at,
                updated_at=row.created_at,
            )
        )
        defaults.add(row.account_id)


def downgrade() -> None:
    op.execute(
        _connections.delete().where(
            _connections.c.type == "whatsapp_web",
            _connections.c.id.in_(sa.select(_sessions.c.id)),
        )
    )
