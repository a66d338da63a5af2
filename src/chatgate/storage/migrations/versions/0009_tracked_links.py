"""tracked links: a sent message's links rewritten to /l/{code}, with their clicks

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tracked_links",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("message_id", sa.String(length=40), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("clicks", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_clicked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_tracked_links_message_id_messages")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_tracked_links")),
    )
    with op.batch_alter_table("tracked_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tracked_links_message_id"), ["message_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("tracked_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tracked_links_message_id"))

    op.drop_table("tracked_links")
