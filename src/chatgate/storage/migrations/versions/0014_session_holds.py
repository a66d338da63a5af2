"""session holds: which worker keeps each held connection open

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-09 10:00:00.000000

Every worker used to bind every connection to an SMS centre. A worker now holds a
connection's session through a row here, renewed while it lives: one bind per connection,
whatever the number of workers, and a dead worker's connections are taken over once its
holds run out.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "session_holds",
        sa.Column("connection_id", sa.String(length=40), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("held_until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("connection_id", name=op.f("pk_session_holds")),
    )


def downgrade() -> None:
    op.drop_table("session_holds")
