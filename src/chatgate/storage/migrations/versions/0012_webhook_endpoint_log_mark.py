"""webhook endpoints keep a mark of the event log: they receive the events committed after it

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 09:00:00.000000

An endpoint received the events whose time was after its creation; a platform's clock (in
whole seconds) put a message received just after an endpoint was made before it. Now an
endpoint keeps where the log stood when it was made (``storage/events.py``), and receives
every event committed after that. An endpoint made before this revision gets the mark "0":
no event precedes it, so it receives every event the fan-out has not relayed yet. The
fan-out's cursor is already past every event it relayed, so that repeats nothing, and an
event written while the gateway was upgraded is not lost (a mark taken here would drop
those the fan-out had yet to reach).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("log_mark", sa.Text(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.drop_column("log_mark")
