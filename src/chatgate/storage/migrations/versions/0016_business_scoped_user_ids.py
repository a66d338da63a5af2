"""business-scoped user ids: one user under several addresses, and contacts' usernames

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 15:00:00.000000

A platform may name one user by several addresses (WhatsApp's phone and business-scoped
user id). ``peer_links`` maps every further address of a user to the one their thread is
kept under, so that threads and service windows follow the user; a contact's identity may
carry the username the platform showed with it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "peer_links",
        sa.Column("account_id", sa.String(length=40), primary_key=True),
        sa.Column("mode", sa.String(length=8), primary_key=True),
        sa.Column("channel", sa.String(length=20), primary_key=True),
        sa.Column("alias", sa.String(length=256), primary_key=True),
        sa.Column("peer", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_peer_links_peer", "peer_links", ["account_id", "mode", "channel", "peer"])
    with op.batch_alter_table("contact_identities") as batch:
        batch.add_column(sa.Column("username", sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("contact_identities") as batch:
        batch.drop_column("username")
    op.drop_index("ix_peer_links_peer", table_name="peer_links")
    op.drop_table("peer_links")
