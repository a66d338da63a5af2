"""The migrations build exactly the schema that tables.py describes, on both engines."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from chatgate.config import Settings
from chatgate.storage import channels as channel_store
from chatgate.storage import webhook_endpoints as endpoint_store
from chatgate.storage.database import Database
from chatgate.storage.events import LogPosition
from chatgate.storage.migrate import alembic_config, upgrade, upgrade_async
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
    assert version == ScriptDirectory.from_config(alembic_config(settings)).get_current_head()


def test_upgrade_is_idempotent(settings: Settings) -> None:
    upgrade(settings)
    upgrade(settings)


async def test_commits_are_durable(settings: Settings) -> None:
    """SQLite in WAL with synchronous=FULL; PostgreSQL with synchronous_commit=on."""
    database = Database(settings)
    try:
        async with database.read() as conn:
            if settings.is_sqlite:
                assert await conn.scalar(text("PRAGMA journal_mode")) == "wal"
                assert await conn.scalar(text("PRAGMA synchronous")) == 2  # FULL
            else:
                assert await conn.scalar(text("SHOW synchronous_commit")) == "on"
    finally:
        await database.dispose()


async def _upgraded_from(
    tmp_path: Path, revision: str, rows: Sequence[tuple[str, dict[str, Any]]]
) -> Settings:
    """A SQLite store made at ``revision``, holding the account ``acc_1`` and ``rows`` (SQL of
    that revision, with its values), then upgraded to the head."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'old.db'}")
    await upgrade_async(settings, revision)
    database = Database(settings)
    try:
        async with database.write() as conn:
            await conn.execute(
                text("INSERT INTO accounts (id, name, created_at) VALUES ('acc_1', 'a', '2026')")
            )
            for statement, values in rows:
                await conn.execute(text(statement), values)
    finally:
        await database.dispose()
    await upgrade_async(settings)
    return settings


async def test_event_sequence_migration_continues_existing_histories(tmp_path: Path) -> None:
    message = (
        "INSERT INTO messages (id, account_id, mode, direction, channel, recipient,"
        " content, status, created_at, updated_at) VALUES ('msg_1', 'acc_1', 'test',"
        " 'outbound', 'sms', '+14155550123', '{}', 'sent', '2026-01-01', '2026-01-01')"
    )
    event = (
        "INSERT INTO message_events (id, account_id, message_id, seq, type,"
        " created_at) VALUES (:id, 'acc_1', 'msg_1', :seq, 'message.status', '2026-01-01')"
    )
    events = [(event, {"id": f"evt_{seq}", "seq": seq}) for seq in (1, 2)]
    settings = await _upgraded_from(tmp_path, "0001", [(message, {}), *events])
    database = Database(settings)
    try:
        async with database.read() as conn:
            assert await conn.scalar(text("SELECT event_seq FROM messages")) == 2
    finally:
        await database.dispose()


async def test_an_endpoint_made_before_log_marks_receives_every_event_not_yet_relayed(
    tmp_path: Path,
) -> None:
    """Its mark precedes no event: the fan-out, whose cursor is past every event it relayed,
    gives it all the others (none lost across the upgrade, none repeated)."""
    endpoint = (
        "INSERT INTO webhook_endpoints (id, account_id, mode, url, enabled, secrets,"
        " plain_signature, created_at, updated_at) VALUES ('we_1', 'acc_1', 'test',"
        " 'https://shop.example.com/hooks', 1, x'00', 0, :at, :at)"
    )
    at = {"at": "2026-01-01T00:00:00+00:00"}
    database = Database(await _upgraded_from(tmp_path, "0011", [(endpoint, at)]))
    try:
        async with database.read() as conn:
            found = await endpoint_store.endpoint_by_id(conn, "we_1")
    finally:
        await database.dispose()
    assert found is not None
    assert not found.log_mark.precedes(LogPosition(0, 1))


async def test_sessions_made_before_session_connections_get_their_channel(
    tmp_path: Path,
) -> None:
    channel = (
        "INSERT INTO channel_connections (id, account_id, type, name, credentials, settings,"
        " is_default, created_at, updated_at) VALUES ('ch_1', 'acc_1', 'whatsapp', 'shop',"
        " x'00', '{}', 1, :at, :at)"
    )
    session = (
        "INSERT INTO sessions (id, account_id, name, state, wanted, pacing, created_at,"
        " updated_at, state_changed_at) VALUES (:id, 'acc_1', :name, 'working', 1, :pacing,"
        " :at, :at, :at)"
    )
    rows = [
        (channel, {"at": "2026-01-01T00:00:00+00:00"}),
        *(
            (
                session,
                {
                    "id": session_id,
                    "name": name,
                    "pacing": '{"messages_per_minute": 30, "new_chats_per_day": 50}',
                    "at": f"2026-01-0{day}T00:00:00+00:00",
                },
            )
            for session_id, name, day in (("ses_1", "desk", 2), ("ses_2", "shop", 3))
        ),
    ]
    database = Database(await _upgraded_from(tmp_path, "0018", rows))
    try:
        async with database.read() as conn:
            found = await channel_store.list_connections(conn, "acc_1")
    finally:
        await database.dispose()
    made = [(c.id, c.type, c.name, c.is_default, c.credentials, c.settings) for c in found]
    assert made == [
        ("ch_1", "whatsapp", "shop", True, b"\x00", {}),
        ("ses_1", "whatsapp_web", "desk", True, b"", {"rate_per_second": 0.5}),
        # Named as the account's WhatsApp channel: the session's id tells them apart.
        ("ses_2", "whatsapp_web", "shop (ses_2)", False, b"", {"rate_per_second": 0.5}),
    ]
