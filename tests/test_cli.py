"""The ``chatgate`` command: accounts and keys on a fresh SQLite file, run in-process."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from sqlalchemy import select
from typer.testing import CliRunner, Result

from chatgate.cli import app
from chatgate.crypto import new_key
from chatgate.storage.database import Database
from chatgate.storage.tables import audit_log
from tests.support import settings_for

Invoke = Callable[..., Result]


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Undo the logging setup the CLI makes for its own (captured, then closed) stderr."""
    config = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.configure(**config)
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def cli(tmp_path: Path) -> Invoke:
    """Run ``chatgate ARGS`` against a fresh, migrated SQLite file; return the result."""
    runner = CliRunner()
    base_env = {
        "CHATGATE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "CHATGATE_LOG_LEVEL": "warning",
    }

    def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(app, list(args), env={**base_env, **(env or {})})

    migrated = invoke("migrate")
    assert migrated.exit_code == 0, migrated.output
    return invoke


def ok_json(result: Result) -> Any:
    """The JSON a successful command printed on stdout."""
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def flat(text: str) -> str:
    """``text`` with runs of whitespace made single spaces (rich wraps long lines)."""
    return " ".join(text.split())


def create_key(cli: Invoke, account: str, *extra: str) -> dict[str, Any]:
    """A new test key on ``account`` with the send and read scopes, as JSON."""
    created: dict[str, Any] = ok_json(
        cli(
            "keys",
            "create",
            "--account",
            account,
            "--mode",
            "test",
            "--scopes",
            "messages:send,messages:read",
            "--rate-limit",
            "10",
            "--json",
            *extra,
        )
    )
    return created


def test_accounts_create_prints_json_and_refuses_a_duplicate(cli: Invoke) -> None:
    """The account comes back as JSON; the same name again fails with a clear message."""
    account = ok_json(cli("accounts", "create", "acme", "--json"))
    assert account["name"] == "acme"
    assert account["id"].startswith("acc_")

    again = cli("accounts", "create", "acme", "--json")
    assert again.exit_code != 0
    assert "an account named 'acme' exists already" in flat(again.output)


def test_keys_create_prints_the_secret_once_as_json(cli: Invoke) -> None:
    """A test key with the asked scopes; its secret is in the output of create."""
    account = ok_json(cli("accounts", "create", "acme", "--json"))
    key = create_key(cli, "acme")
    assert key["id"].startswith("key_")
    assert key["key"].startswith("cg_test_")
    assert key["account_id"] == account["id"]
    assert key["mode"] == "test"
    assert key["scopes"] == ["messages:read", "messages:send"]


def test_keys_create_makes_a_dialect_key_with_its_vendors_prefix(cli: Invoke) -> None:
    """``--dialect`` makes a key of that vendor API's kind, limited to ``--channels``."""
    ok_json(cli("accounts", "create", "acme", "--json"))
    made = cli(
        "keys", "create", "--account", "acme", "--dialect", "messagehub", "--mode", "test",
        "--channels", "whatsapp,sms", "--json",
    )  # fmt: skip
    key = ok_json(made)
    assert key["key"].startswith("cpk_test_")
    assert key["dialect"] == "messagehub"
    (row,) = ok_json(cli("keys", "list", "--account", "acme", "--json"))
    assert row["dialect"] == "messagehub"
    assert row["prefix"].startswith("cpk_test_")
    unknown = cli("keys", "create", "--account", "acme", "--channels", "pigeon")
    assert unknown.exit_code != 0
    assert "unknown channels ['pigeon']" in flat(unknown.output)


@pytest.mark.parametrize(("dialect", "prefix"), [("bik", "bik"), ("wasessions", "was")])
def test_keys_create_makes_the_key_a_dialects_client_sends(
    cli: Invoke, dialect: str, prefix: str
) -> None:
    """``--dialect bik``: ``bik_live_…`` and ``bik_test_…`` keys (Bik's AUTH_TOKEN);
    ``--dialect wasessions``: ``was_live_…`` and ``was_test_…`` (the Bearer key)."""
    ok_json(cli("accounts", "create", "acme", "--json"))
    for mode in ("live", "test"):
        made = cli(
            "keys", "create", "--account", "acme", "--dialect", dialect, "--mode", mode, "--json"
        )
        key = ok_json(made)
        assert key["key"].startswith(f"{prefix}_{mode}_")
        assert key["dialect"] == dialect


def test_keys_create_no_track_links_is_kept_and_listed(cli: Invoke) -> None:
    """``--no-track-links`` makes a key whose Bik messages send links untouched; keys
    track links unless told."""
    ok_json(cli("accounts", "create", "acme", "--json"))
    untracked = create_key(cli, "acme", "--dialect", "bik", "--no-track-links")
    tracked = create_key(cli, "acme", "--dialect", "bik")
    assert (untracked["track_links"], tracked["track_links"]) == (False, True)
    rows = {row["id"]: row for row in ok_json(cli("keys", "list", "--account", "acme", "--json"))}
    assert rows[untracked["id"]]["track_links"] is False
    assert rows[tracked["id"]]["track_links"] is True


def test_keys_list_never_shows_a_secret(cli: Invoke) -> None:
    """Listing shows each key's id, scopes and limit, but no secret, as JSON or a table."""
    ok_json(cli("accounts", "create", "acme", "--json"))
    first = create_key(cli, "acme")
    second = create_key(cli, "acme")

    listed = cli("keys", "list", "--account", "acme", "--json")
    rows = ok_json(listed)
    assert {row["id"] for row in rows} == {first["id"], second["id"]}
    for row in rows:
        assert row["scopes"] == ["messages:read", "messages:send"]
        assert row["rate_limit"] == 10
        assert row["revoked_at"] is None
        assert "key" not in row
    table = cli("keys", "list", "--account", "acme")
    assert table.exit_code == 0, table.output
    for secret in (first["key"], second["key"]):
        # The prefix shows cg_test_ and four characters; nothing past them may appear.
        hidden = secret[len("cg_test_") + 4 :]
        for output in (listed.output, table.output):
            assert secret not in output
            assert hidden not in output
            assert hidden[:12] not in output


def test_keys_revoke_sets_revoked_at(cli: Invoke) -> None:
    """A revoked key is listed with the time it was revoked; the others stay live."""
    ok_json(cli("accounts", "create", "acme", "--json"))
    doomed = create_key(cli, "acme")
    kept = create_key(cli, "acme")

    revoked = cli("keys", "revoke", doomed["id"])
    assert revoked.exit_code == 0, revoked.output
    assert doomed["id"] in revoked.output

    rows = {row["id"]: row for row in ok_json(cli("keys", "list", "--account", "acme", "--json"))}
    assert rows[doomed["id"]]["revoked_at"] is not None
    assert rows[kept["id"]]["revoked_at"] is None


def test_revoking_an_unknown_key_fails(cli: Invoke) -> None:
    """An id that names no key is an error, not a silent success."""
    result = cli("keys", "revoke", "key_01JD5Z6Q2N3F4X8Y9Z0A1B2C3D")
    assert result.exit_code != 0
    assert "no key key_01JD5Z6Q2N3F4X8Y9Z0A1B2C3D" in flat(result.output)


def test_an_unknown_scope_is_refused(cli: Invoke) -> None:
    """A scope Chatgate does not know stops the command before any key is made."""
    ok_json(cli("accounts", "create", "acme", "--json"))
    result = cli("keys", "create", "--account", "acme", "--scopes", "messages:send,messages:delete")
    assert result.exit_code != 0
    message = flat(result.output)
    assert "unknown scopes ['messages:delete']" in message
    assert "messages:send" in message  # the known scopes are listed
    assert ok_json(cli("keys", "list", "--account", "acme", "--json")) == []


def test_a_key_for_an_unknown_account_is_refused(cli: Invoke) -> None:
    """Naming an account that does not exist fails with its name in the message."""
    result = cli("keys", "create", "--account", "nobody", "--json")
    assert result.exit_code != 0
    assert "no account named 'nobody'" in flat(result.output)


def test_flags_read_chatgate_variables(cli: Invoke) -> None:
    """Every flag can come from its CHATGATE_* variable instead."""
    ok_json(cli("accounts", "create", "acme", "--json"))
    env = {
        "CHATGATE_ACCOUNT": "acme",
        "CHATGATE_KEY_MODE": "test",
        "CHATGATE_KEY_SCOPES": "messages:read",
        "CHATGATE_KEY_RATE_LIMIT": "7",
        "CHATGATE_KEY_NAME": "from env",
        "CHATGATE_JSON": "true",
    }
    key = ok_json(cli("keys", "create", env=env))
    assert key["key"].startswith("cg_test_")
    assert key["scopes"] == ["messages:read"]

    [row] = ok_json(cli("keys", "list", env=env))
    assert row["id"] == key["id"]
    assert row["name"] == "from env"
    assert row["rate_limit"] == 7


def _audit_rows(tmp_path: Path) -> list[Any]:
    """Every entry of the audit log of the ``cli`` fixture's store, oldest first."""

    async def read() -> list[Any]:
        database = Database(settings_for(f"sqlite:///{tmp_path / 'cli.db'}"))
        try:
            async with database.read() as conn:
                return list(await conn.execute(select(audit_log).order_by(audit_log.c.id)))
        finally:
            await database.dispose()

    return asyncio.run(read())


def test_keys_create_and_revoke_are_audited_as_the_account(cli: Invoke, tmp_path: Path) -> None:
    """From the command line the account acts with no key and from no address."""
    account = ok_json(cli("accounts", "create", "acme", "--json"))
    key = create_key(cli, "acme")
    assert cli("keys", "revoke", key["id"]).exit_code == 0

    created, revoked = _audit_rows(tmp_path)
    assert (created.action, created.target, created.outcome) == (
        "key.created",
        key["id"],
        "succeeded",
    )
    assert (revoked.action, revoked.target) == ("key.revoked", key["id"])
    for entry in (created, revoked):
        assert (entry.account_id, entry.api_key_id, entry.source_ip) == (account["id"], None, None)
    assert created.detail == {
        "name": "cli key",
        "mode": "test",
        "scopes": ["messages:read", "messages:send"],
        "allowed_channels": None,
        "ip_allowlist": [],
        "rate_limit": 10,
        "dialect": None,
        "track_links": True,
    }
    assert key["key"] not in repr(created)


def test_channels_add_reencrypt_and_remove_are_audited(cli: Invoke, tmp_path: Path) -> None:
    """Each command's entry names the channel and its credential fields, never their values."""
    old, new = new_key(), new_key()
    token = "EAAG-cli-secret-access-token-0123456789"
    account = ok_json(cli("accounts", "create", "acme", "--json"))
    env = {"CHATGATE_SECRET_KEY": old}
    credentials = [
        f"access_token={token}",
        "phone_number_id=106540352242922",
        "app_secret=cli-app-secret-0123456789",
        "verify_token=cli-verify-me",
    ]
    added = ok_json(
        cli(
            "channels",
            "add",
            "whatsapp",
            "support",
            "--account",
            "acme",
            *(arg for pair in credentials for arg in ("-c", pair)),
            "--json",
            env=env,
        )
    )
    rotated = cli("channels", "reencrypt", env={"CHATGATE_SECRET_KEY": f"{new},{old}"})
    assert rotated.exit_code == 0, rotated.output
    removed = cli(
        "channels", "remove", added["id"], "--account", "acme", env={"CHATGATE_SECRET_KEY": new}
    )
    assert removed.exit_code == 0, removed.output

    entries = _audit_rows(tmp_path)
    assert [(e.action, e.target) for e in entries] == [
        ("channel.created", added["id"]),
        ("channel.updated", added["id"]),
        ("channel.deleted", added["id"]),
    ]
    for entry in entries:
        assert (entry.account_id, entry.api_key_id, entry.source_ip) == (account["id"], None, None)
        assert token not in repr(entry)
        assert "cli-app-secret" not in repr(entry)
    assert entries[0].detail["credentials"] == [
        "access_token",
        "app_secret",
        "phone_number_id",
        "verify_token",
    ]
    assert entries[1].detail == {
        "type": "whatsapp",
        "name": "support",
        "fields": [],
        "credentials": [],
        "settings": [],
        "reencrypted": True,
    }
