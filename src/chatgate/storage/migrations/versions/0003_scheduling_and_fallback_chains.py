"""scheduling and fallback chains

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 04:16:44.126316
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("schedule_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("chain_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("chain_step", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("fallback", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("fallback_message_id", sa.String(length=40), nullable=True))
        batch_op.create_index("ix_messages_chain", ["chain_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_chain")
        batch_op.drop_column("fallback_message_id")
        batch_op.drop_column("fallback")
        batch_op.drop_column("chain_step")
        batch_op.drop_column("chain_id")
        batch_op.drop_column("schedule_at")
