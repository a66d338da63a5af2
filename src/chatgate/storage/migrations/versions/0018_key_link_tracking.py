"""key link tracking: whether a key's dialect messages track their links

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 19:00:00.000000

A Bik key's messages have their links tracked (for link-click webhooks) unless the key's
``track_links`` is false; null, as every key stored before, means tracked.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("track_links", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("track_links")
