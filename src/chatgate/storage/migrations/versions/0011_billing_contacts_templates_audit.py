"""credit and plans, contacts, templates, conversation threads, distributions, audit log

Accounts gain a plan, a currency, a balance and prices; messages their price and billing
state; conversations become threads with an id, unread count and last message (older rows
get an id here).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 04:00:11.517820
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from chatgate.domain.ids import new_id

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=True),
        sa.Column("api_key_id", sa.String(length=40), nullable=True),
        sa.Column("source_ip", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("target", sa.String(length=100), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_account", ["account_id", "id"], unique=False)

    op.create_table(
        "daily_usage",
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "day", name=op.f("pk_daily_usage")),
    )
    op.create_table(
        "contacts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("preferred_channels", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_contacts_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
    )
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.create_index("ix_contacts_account", ["account_id", "mode", "id"], unique=False)
        batch_op.create_index("ix_contacts_phone", ["account_id", "mode", "phone"], unique=False)

    op.create_table(
        "distributions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("api_key_id", sa.String(length=40), nullable=True),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_distributions_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_distributions")),
    )
    with op.batch_alter_table("distributions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_distributions_account", ["account_id", "mode", "id"], unique=False
        )

    op.create_table(
        "ledger",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("balance_after", sa.BigInteger(), nullable=False),
        sa.Column("held_after", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.String(length=40), nullable=True),
        sa.Column("api_key_id", sa.String(length=40), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_ledger_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger")),
        sa.UniqueConstraint("message_id", "kind", name="uq_ledger_message_kind"),
    )
    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_account", ["account_id", "id"], unique=False)

    op.create_table(
        "templates",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("language", sa.String(length=15), nullable=False),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("bindings", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_templates_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_templates")),
        sa.UniqueConstraint("account_id", "name", "language", name="uq_templates_account_name"),
    )
    op.create_table(
        "contact_identities",
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("identity", sa.String(length=256), nullable=False),
        sa.Column("contact_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_contact_identities_contact_id_contacts")
        ),
        sa.PrimaryKeyConstraint(
            "account_id", "mode", "channel", "identity", name=op.f("pk_contact_identities")
        ),
    )
    with op.batch_alter_table("contact_identities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contact_identities_contact_id"), ["contact_id"], unique=False
        )

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("plan", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("currency", sa.String(length=3), nullable=True))
        batch_op.add_column(
            sa.Column("balance", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("held", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("prices", sa.JSON(), nullable=True))

    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("connection_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("contact_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("last_message_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("last_message_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("unread", sa.Integer(), server_default="0", nullable=False))
        batch_op.create_index(
            "ix_conversations_account", ["account_id", "mode", "last_message_at"], unique=False
        )
        batch_op.create_unique_constraint(batch_op.f("uq_conversations_id"), ["id"])
    _name_threads()
    _start_followers()

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("price", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("billing", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("contact_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("distribution_id", sa.String(length=40), nullable=True))
    op.create_index(
        "ix_messages_distribution",
        "messages",
        ["distribution_id"],
        sqlite_where=sa.text("distribution_id IS NOT NULL"),
        postgresql_where=sa.text("distribution_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_messages_distribution", table_name="messages")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("distribution_id")
        batch_op.drop_column("contact_id")
        batch_op.drop_column("billing")
        batch_op.drop_column("price")

    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_conversations_id"), type_="unique")
        batch_op.drop_index("ix_conversations_account")
        batch_op.drop_column("unread")
        batch_op.drop_column("last_message_at")
        batch_op.drop_column("last_message_id")
        batch_op.drop_column("contact_id")
        batch_op.drop_column("connection_id")
        batch_op.drop_column("id")

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("prices")
        batch_op.drop_column("held")
        batch_op.drop_column("balance")
        batch_op.drop_column("currency")
        batch_op.drop_column("plan")

    with op.batch_alter_table("contact_identities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_identities_contact_id"))

    op.drop_table("contact_identities")
    op.drop_table("templates")
    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_account")

    op.drop_table("ledger")
    with op.batch_alter_table("distributions", schema=None) as batch_op:
        batch_op.drop_index("ix_distributions_account")

    op.drop_table("distributions")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index("ix_contacts_phone")
        batch_op.drop_index("ix_contacts_account")

    op.drop_table("contacts")
    op.drop_table("daily_usage")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_account")

    op.drop_table("audit_log")


def _name_threads() -> None:
    """Give every conversation that exists already an id of its own."""
    conversations = sa.table(
        "conversations",
        sa.column("account_id"),
        sa.column("mode"),
        sa.column("channel"),
        sa.column("peer"),
        sa.column("id"),
    )
    bind = op.get_bind()
    keys = ("account_id", "mode", "channel", "peer")
    rows = bind.execute(sa.select(*(conversations.c[k] for k in keys))).all()
    for row in rows:
        bind.execute(
            sa.update(conversations)
            .where(*(conversations.c[k] == getattr(row, k) for k in keys))
            .values(id=new_id("cnv"))
        )


def _start_followers() -> None:
    """The settlement of prices and the thread updates read the event log from here on: no
    message before this revision has a price, and every thread so far is up to date."""
    events = sa.table("message_events", sa.column("txid"), sa.column("position"))
    cursors = sa.table("log_cursors", sa.column("name"), sa.column("txid"), sa.column("position"))
    bind = op.get_bind()
    newest = bind.execute(
        sa.select(events.c.txid, events.c.position)
        .order_by(events.c.txid.desc(), events.c.position.desc())
        .limit(1)
    ).first()
    txid, position = (newest.txid, newest.position) if newest else (0, 0)
    for name in ("settlement", "threads"):
        bind.execute(sa.insert(cursors).values(name=name, txid=txid, position=position))
