"""dialect keys and webhook formats: keys of a vendor API's kind, webhooks in its shape

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-10 10:00:00.000000

Chatgate serves vendors' APIs as dialects. A key may now be one dialect's (accepted on its
routes only), and a webhook endpoint may take its payloads and signature in a dialect's
format rather than Standard Webhooks.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("dialect", sa.String(length=20), nullable=True))
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.add_column(
            sa.Column("format", sa.String(length=20), nullable=False, server_default="standard")
        )


def downgrade() -> None:
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.drop_column("format")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("dialect")
