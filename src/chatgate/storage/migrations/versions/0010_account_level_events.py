"""account-level events: an event may belong to the account rather than to a message

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 02:20:00.000000

``message_events.message_id`` and ``seq`` may be empty, and ``mode`` says which keys see
such an event. On SQLite the table is rebuilt for that, which drops its trigger: the new
trigger numbers a row after the largest place so far rather than by its row id, which a
rebuilt table does not keep.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("DROP TRIGGER message_events_position")
    with op.batch_alter_table("message_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mode", sa.String(length=8), nullable=True))
        batch_op.alter_column("message_id", existing_type=sa.String(length=40), nullable=True)
        batch_op.alter_column("seq", existing_type=sa.Integer(), nullable=True)
    if sqlite:
        # One writer at a time: the largest place so far, plus one, is commit order.
        op.execute(
            "CREATE TRIGGER message_events_position AFTER INSERT ON message_events BEGIN "
            "UPDATE message_events SET position = "
            "(SELECT COALESCE(MAX(position), 0) + 1 FROM message_events WHERE txid = 0) "
            "WHERE rowid = NEW.rowid; END"
        )


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.execute("DELETE FROM message_events WHERE message_id IS NULL")
    if sqlite:
        op.execute("DROP TRIGGER message_events_position")
    with op.batch_alter_table("message_events", schema=None) as batch_op:
        batch_op.alter_column("seq", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("message_id", existing_type=sa.String(length=40), nullable=False)
        batch_op.drop_column("mode")
    if sqlite:
        op.execute(
            "CREATE TRIGGER message_events_position AFTER INSERT ON message_events BEGIN "
            "UPDATE message_events SET position = NEW.rowid WHERE rowid = NEW.rowid; END"
        )
