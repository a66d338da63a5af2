"""What the ``chatgate`` command prints for people: help text, tables and URLs."""

from __future__ import annotations

from chatgate.emulators.app import _platform_classes
from tests.test_cli import Invoke, _restore_logging, cli, flat

# The fixtures, used by name (the autouse one undoes the CLI's logging to its closed stderr).
__all__ = ["_restore_logging", "cli"]

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
