"""What the ``chatgate`` command prints for people: help text, tables and URLs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from chatgate.emulators.app import _platform_classes
from tests.support import TEST_SECRET_KEY
from tests.test_cli import Invoke, _restore_logging, cli, flat, ok_json

# The fixtures, used by name (the autouse one undoes the CLI's logging to its closed stderr).
__all__ = ["_restore_logging", "cli"]

# A terminal as narrow as most, where the tables once cut their ids short.
NARROW = {"COLUMNS": "80", "CHATGATE_SECRET_KEY": TEST_SECRET_KEY}
# A WhatsApp connection to a local address, so that adding it resolves no name.
WHATSAPP = (
    *("-c", "access_token=EAAG-cli-access-token-0123456789"),
    *("-c", "phone_number_id=106540352242922"),
    *("-c", "app_secret=cli-app-secret-0123456789"),
    *("-c", "verify_token=cli-verify-me"),
    *("-s", "api_base=http://127.0.0.1:9/graph"),
)
LOCAL = {"CHATGATE_ALLOW_PRIVATE_API_BASE": "1", "CHATGATE_SECRET_KEY": TEST_SECRET_KEY}

# How ``chatgate emulate --help`` names each emulated platform (by the emulator's name).
EMULATED = {
    "whatsapp": "WhatsApp Cloud",
    "whatsapp_web": "WhatsApp Web",
    "telegram": "Telegram",
    "messenger": "Messenger",
    "instagram": "Instagram",
    "line": "LINE",
    "viber": "Viber",
    "zalo": "Zalo",
    "tiktok": "TikTok",
    "kakao": "KakaoTalk",
    "sms": "SMS through Twilio",
    "smpp": "SMS over SMPP",
}


def test_emulate_help_names_every_platform_in_plain_text(cli: Invoke) -> None:
    """Every platform the emulator serves is named, and no reStructuredText markup shows."""
    assert {platform.name for platform in _platform_classes()} == set(EMULATED)
    shown = cli("emulate", "--help", env={"COLUMNS": "80"})
    assert shown.exit_code == 0, shown.output
    text = flat(shown.output)
    for name in EMULATED.values():
        assert name in text
    for prefix in ("graph", "telegram", "line", "viber", "zalo", "tiktok", "kakao", "twilio"):
        assert f"/{prefix}" in text
    assert "``" not in shown.output


def _whole_on_a_line(output: str, value: str) -> bool:
    """Whether ``value`` appears unbroken on one line of a table printed at 80 columns."""
    lines = output.splitlines()
    assert max(len(line) for line in lines) <= 80, output
    return any(value in line for line in lines)


def test_key_ids_are_never_cut_in_a_narrow_terminal(cli: Invoke) -> None:
    """The keys table keeps every id whole, however long the other columns, so it can be
    copied into ``keys revoke``; long values fold rather than being cut."""
    ok_json(cli("accounts", "create", "acme", "--json"))
    scopes = "messages:send,messages:read,channels:manage,contacts:write,webhooks:manage"
    keys = [
        ok_json(
            cli(
                "keys",
                "create",
                *("--account", "acme", "--mode", "live", "--scopes", scopes, "--json"),
                *("--name", f"the deploy key of the billing service, number {n}"),
            )
        )
        for n in (1, 2)
    ]
    assert cli("keys", "revoke", keys[0]["id"]).exit_code == 0

    listed = cli("keys", "list", "--account", "acme", env=NARROW)
    assert listed.exit_code == 0, listed.output
    for key in keys:
        assert _whole_on_a_line(listed.output, key["id"])


def test_channel_and_session_ids_are_never_cut_in_a_narrow_terminal(cli: Invoke) -> None:
    """The channels and sessions tables keep every id whole at 80 columns."""
    ok_json(cli("accounts", "create", "acme", "--json"))
    channel = ok_json(
        cli(
            "channels",
            "add",
            "whatsapp",
            "the support line of the billing department",
            *("--account", "acme", *WHATSAPP, "--json"),
            env=LOCAL,
        )
    )
    session = ok_json(
        cli(
            "sessions",
            "create",
            "the front desk of the billing department",
            "--account",
            "acme",
            "--json",
            env=LOCAL,
        )
    )

    channels = cli("channels", "list", "--account", "acme", env={**LOCAL, **NARROW})
    assert channels.exit_code == 0, channels.output
    assert "…" not in channels.output
    assert _whole_on_a_line(channels.output, channel["id"])
    sessions = cli("sessions", "list", "--account", "acme", env=NARROW)
    assert sessions.exit_code == 0, sessions.output
    assert "…" not in sessions.output
    assert _whole_on_a_line(sessions.output, session["id"])


def test_inbound_urls_use_the_public_url_and_say_so_without_it(cli: Invoke) -> None:
    """Inbound URLs are built on CHATGATE_PUBLIC_URL; without it, the output says which
    address they assume and that the variable must be set when the gateway is elsewhere."""
    ok_json(cli("accounts", "create", "acme", "--json"))
    public = {**LOCAL, "CHATGATE_PUBLIC_URL": "https://gateway.example.com:8443"}
    added = cli(
        "channels", "add", "whatsapp", "support", "--account", "acme", *WHATSAPP, env=public
    )
    assert added.exit_code == 0, added.output
    [channel] = ok_json(cli("channels", "list", "--account", "acme", "--json", env=public))
    assert channel["inbound_url"] == f"https://gateway.example.com:8443/inbound/{channel['id']}"
    assert channel["inbound_url"] in flat(added.output)
    assert "CHATGATE_PUBLIC_URL" not in added.output

    unset = {**LOCAL, "CHATGATE_PORT": "8123"}
    for args in (("add", "whatsapp", "sales", *WHATSAPP), ("list",)):
        shown = cli("channels", *args, "--account", "acme", env=unset)
        assert shown.exit_code == 0, shown.output
        note = flat(shown.output)
        assert "CHATGATE_PUBLIC_URL is not set" in note
        assert "assume the gateway at http://127.0.0.1:8123" in note
    for args in (("add", "whatsapp", "billing", *WHATSAPP), ("list",)):
        as_json = cli("channels", *args, "--account", "acme", "--json", env=unset)
        assert as_json.exit_code == 0, as_json.output
        assert "CHATGATE_PUBLIC_URL is not set" in flat(as_json.stderr)
        assert "CHATGATE_PUBLIC_URL" not in as_json.stdout


@pytest.mark.parametrize("command", [["serve"], ["migrate"], ["accounts", "create", "acme"]])
def test_settings_that_cannot_be_read_end_the_command_in_one_line(
    tmp_path: Path, command: list[str]
) -> None:
    # An empty CHATGATE_DATABASE_URL: a person's mistake, told in one line, not a traceback.
    env = {**os.environ, "CHATGATE_DATABASE_URL": ""}
    done = subprocess.run(
        [sys.executable, "-m", "chatgate", *command],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        "chatgate: CHATGATE_DATABASE_URL: database_url must be sqlite:///path or "
        "postgresql://user@host/db"
    ]
    assert "Traceback" not in done.stdout + done.stderr
