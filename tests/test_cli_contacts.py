"""``chatgate contacts import``: good rows imported, bad rows reported by line and column."""

from __future__ import annotations

import asyncio
import csv
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from chatgate.domain.contacts import Contact
from chatgate.domain.keys import KeyMode
from chatgate.storage import contacts as contact_store
from chatgate.storage.contacts import ContactFilter
from chatgate.storage.database import Database
from chatgate.storage.tables import audit_log
from tests.support import settings_for
from tests.test_cli import Invoke, _restore_logging, cli, flat, ok_json

__all__ = ["_restore_logging", "cli"]

HEADER = "name,phone,email,preferred_channels,whatsapp,telegram,attr.plan\n"
ROWS = (
    "Ada,+14155550123,ada@example.com,whatsapp;sms,+1 415 555 0123,111,gold\n"  # line 2
    "Bob,12345,bob@example.com,,,,\n"  # line 3: bad phone
    "Cy,+447911123456,not-an-email,sms;fax,,,\n"  # line 4: bad email, unknown channel
    'Dee,+4915112345678,,,,222,"silver\nlining"\n'  # lines 5-6
    "Dee again,+4915112345678,,,,111,\n"  # line 7: Ada's Telegram id on Dee's row
    "Fay,+447911123456,,,,111,\n"  # line 8: Ada's Telegram id with another phone
)


def _database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def _stored(tmp_path: Path, account_id: str) -> tuple[list[Contact], list[Any]]:
    async def read() -> tuple[list[Contact], list[Any]]:
        database = Database(settings_for(_database_url(tmp_path)))
        try:
            async with database.read() as conn:
                found = await contact_store.list_contacts(
                    conn, account_id, KeyMode.LIVE, ContactFilter(), before=None, limit=100
                )
                audits = (
                    await conn.execute(
                        select(audit_log).where(audit_log.c.action == "contact.imported")
                    )
                ).all()
            return found, audits
        finally:
            await database.dispose()

    return asyncio.run(read())


@pytest.fixture
def account(cli: Invoke) -> str:
    """A new account named ``shop``; its id."""
    account_id: str = ok_json(cli("accounts", "create", "shop", "--json"))["id"]
    return account_id


def test_good_rows_are_imported_and_bad_ones_reported(
    cli: Invoke, account: str, tmp_path: Path
) -> None:
    source = tmp_path / "contacts.csv"
    source.write_text(HEADER + ROWS, encoding="utf-8")
    report = tmp_path / "errors.csv"
    result = cli("contacts", "import", str(source), "--account", "shop", "--errors", str(report))
    assert result.exit_code == 1, result.output
    output = flat(result.output)
    assert "6 row(s): 2 created, 0 updated, 4 refused" in output
    assert "refused rows" in output
    with report.open(newline="", encoding="utf-8") as handle:
        errors = [(row["line"], row["column"], row["reason"]) for row in csv.DictReader(handle)]
    assert [(line, column) for line, column, _ in errors] == [
        ("3", "phone"),
        ("4", "email"),
        ("4", "preferred_channels"),
        ("7", "telegram"),
        ("8", "telegram"),
    ]
    reasons = {(line, column): reason for line, column, reason in errors}
    assert "E.164" in reasons[("3", "phone")]
    assert "'fax' is not a channel" in reasons[("4", "preferred_channels")]
    assert "identity taken" in reasons[("7", "telegram")]

    contacts, audits = _stored(tmp_path, account)
    by_name = {contact.name: contact for contact in contacts}
    assert set(by_name) == {"Ada", "Dee"}
    ada = by_name["Ada"]
    assert (ada.phone, ada.email, ada.preferred_channels) == (
        "+14155550123",
        "ada@example.com",
        ("whatsapp", "sms"),
    )
    assert ada.attributes == {"plan": "gold"}
    assert by_name["Dee"].attributes == {"plan": "silver\nlining"}
    assert {(i.channel, i.identity) for i in ada.identities} == {
        ("whatsapp", "+14155550123"),
        ("telegram", "111"),
    }
    # The refused row changed nothing on the contact it matched.
    assert {(i.channel, i.identity) for i in by_name["Dee"].identities} == {("telegram", "222")}
    [audit] = audits
    assert audit.account_id == account
    assert audit.detail == {
        "mode": "live",
        "rows": 6,
        "created": 2,
        "updated": 0,
        "refused": 4,
    }


def test_a_second_import_updates_instead_of_duplicating(
    cli: Invoke, account: str, tmp_path: Path
) -> None:
    source = tmp_path / "contacts.csv"
    source.write_text(HEADER + "Ada,+14155550123,,,,111,gold\nGrace,,,,,222,\n", encoding="utf-8")
    first = json.loads(cli("contacts", "import", str(source), "--account", "shop", "--json").stdout)
    assert (first["created"], first["updated"], first["refused"]) == (2, 0, 0)
    # Again, with more to say about each: matched by phone, then by identity.
    source.write_text(
        "phone,telegram,email,attr.tier,whatsapp\n"
        "+14155550123,,ada@example.com,1,+14155550123\n"
        ",222,grace@example.com,,\n",
        encoding="utf-8",
    )
    second = cli("contacts", "import", str(source), "--account", "shop", "--json")
    assert second.exit_code == 0, second.output
    assert json.loads(second.stdout)["updated"] == 2
    contacts, _ = _stored(tmp_path, account)
    by_name = {contact.name: contact for contact in contacts}
    assert set(by_name) == {"Ada", "Grace"}
    assert by_name["Ada"].email == "ada@example.com"
    assert by_name["Ada"].attributes == {"plan": "gold", "tier": "1"}
    assert {i.channel for i in by_name["Ada"].identities} == {"telegram", "whatsapp"}
    assert by_name["Grace"].email == "grace@example.com"


def test_an_unknown_column_stops_the_import_before_any_row(
    cli: Invoke, account: str, tmp_path: Path
) -> None:
    source = tmp_path / "contacts.csv"
    source.write_text("name,whatsap\nAda,+14155550123\n", encoding="utf-8")
    result = cli("contacts", "import", str(source), "--account", "shop")
    assert result.exit_code == 2
    assert "whatsap" in flat(result.output)
    contacts, audits = _stored(tmp_path, account)
    assert (contacts, audits) == ([], [])


def test_test_mode_contacts_are_kept_apart(cli: Invoke, account: str, tmp_path: Path) -> None:
    source = tmp_path / "contacts.csv"
    source.write_text("name,sms\nTess,+14155550123\n", encoding="utf-8")
    result = cli("contacts", "import", str(source), "--account", "shop", "--mode", "test")
    assert result.exit_code == 0, result.output
    assert "1 created" in flat(result.output)
    contacts, _ = _stored(tmp_path, account)
    assert contacts == []


def test_an_unknown_account_is_an_error(cli: Invoke, tmp_path: Path) -> None:
    source = tmp_path / "contacts.csv"
    source.write_text("name\nAda\n", encoding="utf-8")
    result = cli("contacts", "import", str(source), "--account", "nobody")
    assert result.exit_code == 1
    assert "no account named 'nobody'" in flat(result.output)
