"""``chatgate sessions``: create, list, show, delete, and pairing from the terminal."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.cli.sessions import render_qr
from chatgate.crypto import CredentialBox
from chatgate.services.sessions import Pairing, SessionService
from chatgate.storage import sessions as session_store
from chatgate.storage.database import Database
from chatgate.storage.tables import accounts
from chatgate.storage.types import utcnow
from tests.support import TEST_SECRET_KEY, settings_for
from tests.test_cli import Invoke, _restore_logging, cli, ok_json

# The fixtures, used by name (the autouse one undoes the CLI's logging to its closed stderr,
# which would break every later test in this process that logs a warning).
__all__ = ["_restore_logging", "cli"]
ENV = {"CHATGATE_SECRET_KEY": TEST_SECRET_KEY}


def test_create_list_show_and_delete(cli: Invoke) -> None:
    ok_json(cli("accounts", "create", "acme", "--json"))
    created = ok_json(cli("sessions", "create", "desk", "--account", "acme", "--json", env=ENV))
    assert (created["name"], created["state"]) == ("desk", "starting")
    listed = ok_json(cli("sessions", "list", "--account", "acme", "--json", env=ENV))
    assert [s["id"] for s in listed] == [created["id"]]
    shown = ok_json(cli("sessions", "show", "desk", "--account", "acme", "--json", env=ENV))
    assert shown == created
    taken = cli("sessions", "create", "desk", "--account", "acme", env=ENV)
    assert taken.exit_code == 1
    assert "already exists" in taken.output
    deleted = ok_json(cli("sessions", "delete", "desk", "--account", "acme", "--json", env=ENV))
    assert deleted == {"id": created["id"], "removed": True}
    missing = cli("sessions", "show", "desk", "--account", "acme", env=ENV)
    assert missing.exit_code == 1
    assert "no session 'desk'" in missing.output


async def _play_the_worker(url: str, name: str) -> None:
    """What a worker running the session does: show a code, then the phone scans it."""
    database = Database(settings_for(url))
    service = SessionService(CredentialBox([TEST_SECRET_KEY]))
    try:
        async with asyncio.timeout(10):
            stored = None
            while stored is None:
                await asyncio.sleep(0.05)
                async with database.read() as conn:
                    found = await session_store.list_sessions(conn, await _account_of(conn))
                stored = next((s for s in found if s.name == name), None)
        async with database.write() as conn:
            await service.show_qr(conn, stored.id, "2@terminal,code", utcnow())
        await asyncio.sleep(1.0)  # the command polls twice a second: it prints the code
        pairing = Pairing("1:1@s.whatsapp.net", "+237600000000", "Ada", "keys")
        async with database.write() as conn:
            await service.change_state(
                conn, stored.id, "working", reason=None, now=utcnow(), pairing=pairing
            )
    finally:
        await database.dispose()


async def _account_of(conn: AsyncConnection) -> str:
    found = await conn.scalar(select(accounts.c.id).where(accounts.c.name == "acme"))
    assert isinstance(found, str)
    return found


def test_pair_prints_the_code_until_the_phone_scanned_it(cli: Invoke, tmp_path: Path) -> None:
    ok_json(cli("accounts", "create", "acme", "--json"))
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    worker = threading.Thread(target=lambda: asyncio.run(_play_the_worker(url, "desk")))
    worker.start()
    paired = cli("sessions", "pair", "desk", "--account", "acme", "--wait", "15", env=ENV)
    worker.join()
    assert paired.exit_code == 0, paired.output
    assert str(render_qr("2@terminal,code")).strip() in paired.output
    assert "paired with +237600000000 (Ada)" in paired.output


def test_pair_says_why_it_failed(cli: Invoke) -> None:
    ok_json(cli("accounts", "create", "acme", "--json"))
    created = ok_json(cli("sessions", "create", "desk", "--account", "acme", "--json", env=ENV))
    assert created["state"] == "starting"
    timed_out = cli("sessions", "pair", "desk", "--account", "acme", "--wait", "0.2", env=ENV)
    assert timed_out.exit_code == 1
    assert "not paired" in timed_out.output
