"""The migrations build exactly the schema that tables.py describes, on both engines."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from chatgate.config import Settings
from chatgate.storage.database import Database
from chatgate.storage.migrate import upgrade
from chatgate.storage.tables import metadata


async def test_migrated_schema_matches_the_tables(settings: Settings) -> None:
    database = Database(settings)
    try:
        async with database.engine.connect() as conn:

            def diff(sync_conn: Any) -> list[Any]:
                context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
                return list(compare_metadata(context, metadata))

            differences = await conn.run_sync(diff)
            version = await conn.scalar(text("SELECT version_num FROM alembic_version"))
    finally:
        await database.dispose()
    assert differences == []
    assert version == "0001"


def test_upgrade_is_idempotent(settings: Settings) -> None:
    upgrade(settings)
    upgrade(settings)


async def test_sqlite_runs_in_wal_with_full_sync(settings: Settings) -> None:
    if not settings.is_sqlite:
        return
    database = Database(settings)
    try:
        async with database.read() as conn:
            assert await conn.scalar(text("PRAGMA journal_mode")) == "wal"
            assert await conn.scalar(text("PRAGMA synchronous")) == 2  # FULL
    finally:
        await database.dispose()
