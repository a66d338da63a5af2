"""account event log: each event gets a place in its account's log, in commit order

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 01:10:00.000000

``position`` numbers events in the order they were written and ``txid`` names the writing
transaction. On SQLite one transaction writes at a time, so ``position`` (the row id, copied
by a trigger) is already commit order and ``txid`` stays 0. On PostgreSQL a sequence value
can become visible after a larger one, so readers order by ``(txid, position)`` and read
only transactions older than every one still running (see ``storage/events.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SEQUENCE = "message_events_position_seq"
_TRIGGER = "message_events_position"


def upgrade() -> None:
    with op.batch_alter_table("message_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("txid", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("position", sa.BigInteger(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE SEQUENCE {_SEQUENCE} OWNED BY message_events.position")
        op.execute(
            "UPDATE message_events SET position = numbered.n FROM ("
            "SELECT id, nextval('message_events_position_seq') AS n FROM "
            "(SELECT id FROM message_events ORDER BY created_at, message_id, seq) AS ordered"
            ") AS numbered WHERE message_events.id = numbered.id"
        )
        op.execute(
            f"ALTER TABLE message_events ALTER COLUMN position SET DEFAULT nextval('{_SEQUENCE}')"
        )
        op.execute(
            "ALTER TABLE message_events ALTER COLUMN txid "
            "SET DEFAULT (pg_current_xact_id()::text::bigint)"
        )
    else:
        op.execute("UPDATE message_events SET position = rowid")
        op.execute(
            "CREATE TRIGGER message_events_position AFTER INSERT ON message_events BEGIN "
            "UPDATE message_events SET position = NEW.rowid WHERE rowid = NEW.rowid; END"
        )
    op.create_index(
        "ix_message_events_log",
        "message_events",
        ["account_id", "txid", "position"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_message_events_log", table_name="message_events")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE message_events ALTER COLUMN position DROP DEFAULT")
        op.execute(f"DROP SEQUENCE {_SEQUENCE}")
    else:
        op.execute(f"DROP TRIGGER {_TRIGGER}")
    with op.batch_alter_table("message_events", schema=None) as batch_op:
        batch_op.drop_column("position")
        batch_op.drop_column("txid")
