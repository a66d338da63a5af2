"""per-message event sequence

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 03:57:22.820862
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("event_seq", sa.Integer(), server_default="1", nullable=False)
        )
    # Messages that already have a history continue from their newest event.
    op.execute(
        "UPDATE messages SET event_seq = (SELECT COALESCE(MAX(seq), 1) FROM message_events "
        "WHERE message_events.message_id = messages.id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("event_seq")
