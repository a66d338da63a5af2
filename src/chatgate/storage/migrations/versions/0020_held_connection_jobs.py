"""held connection jobs: a job that only the holder of its connection may claim

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 21:10:00.000000

A send through a connection that one worker holds open (a linked-device session) can only
be made by that worker: its job names the connection in ``held_by_connection``, and a worker
claims it only while it holds that connection. Null, as every job stored before, means any
worker may claim it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("held_by_connection", sa.String(40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("held_by_connection")
