"""linked-device sessions: a phone paired by QR, its state, its device keys and its pacing

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 18:00:00.000000

One row per session (unique name per account): the state the runner last saw (``stopped``,
``starting``, ``scan_qr``, ``working``, ``failed``) with its reason, the paired phone, the
device's keys encrypted like channel credentials (so that a restart or another worker
resumes without a new QR), whether it should run, and its pacing settings.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("wanted", sa.Boolean(), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("push_name", sa.String(length=100), nullable=True),
        sa.Column("jid", sa.String(length=100), nullable=True),
        sa.Column("device_state", sa.LargeBinary(), nullable=True),
        sa.Column("qr", sa.Text(), nullable=True),
        sa.Column("pacing", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_sessions_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
        sa.UniqueConstraint("account_id", "name", name="uq_sessions_account_name"),
    )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sessions_account_id"), ["account_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sessions_account_id"))
    op.drop_table("sessions")
