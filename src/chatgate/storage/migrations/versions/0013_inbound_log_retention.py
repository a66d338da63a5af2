"""inbound log retention: an index by kind and age, for pruning refused webhooks

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 12:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_log", schema=None) as batch_op:
        batch_op.create_index("ix_inbound_log_kind_age", ["kind", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("inbound_log", schema=None) as batch_op:
        batch_op.drop_index("ix_inbound_log_kind_age")
