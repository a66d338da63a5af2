"""Alembic environment: runs migrations over Chatgate's own async engine."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from chatgate.config import Settings
from chatgate.storage.database import build_engine
from chatgate.storage.tables import metadata

# Any number of processes may start at once on PostgreSQL; one migrates, the others wait.
_MIGRATION_LOCK_ID = 0x63686174  # "chat"


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_ID})"))
        context.run_migrations()


async def _migrate(settings: Settings) -> None:
    engine = build_engine(settings)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


def main() -> None:
    """Entry point Alembic calls; the settings come from the Alembic config's attributes."""
    settings = context.config.attributes.get("settings") or Settings()
    asyncio.run(_migrate(settings))


main()
