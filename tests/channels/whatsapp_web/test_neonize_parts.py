"""The neonize driver's settings: where the device keys are stored, and the startup error
without the extra (neither needs neonize)."""

from __future__ import annotations

import importlib.util

import pytest

from chatgate.api.app import build_gateway, build_session_host
from chatgate.channels import whatsapp_web_neonize
from chatgate.channels.whatsapp_web_device_store import device_store_url
from tests.support import settings_for


def test_on_sqlite_the_keys_live_in_a_file_beside_the_database() -> None:
    settings = settings_for("sqlite:////var/lib/chatgate/chatgate.db")
    assert device_store_url(settings) == "/var/lib/chatgate/chatgate.devices.db"


def test_on_postgres_the_keys_live_in_a_schema_of_the_same_database() -> None:
    settings = settings_for("postgresql+asyncpg://cg:pw@db:5432/chatgate")
    assert device_store_url(settings) == (
        "postgresql://cg:pw@db:5432/chatgate?sslmode=prefer&search_path=whatsmeow"
    )
    required = settings_for("postgresql://cg@db/chatgate?ssl=require")
    assert device_store_url(required) == (
        "postgresql://cg@db/chatgate?sslmode=require&search_path=whatsmeow"
    )


def test_a_store_can_be_named_and_memory_is_refused() -> None:
    named = settings_for("sqlite:///x.db", whatsapp_web_device_store="/keys/devices.db")
    assert device_store_url(named) == "/keys/devices.db"
    with pytest.raises(ValueError, match="in-memory"):
        device_store_url(settings_for("sqlite:///:memory:"))


def test_without_the_extra_the_worker_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    real = importlib.util.find_spec

    def hide_neonize(name: str, *args: object) -> object:
        return None if name == "neonize" else real(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(whatsapp_web_neonize.importlib.util, "find_spec", hide_neonize)
    settings = settings_for(f"sqlite:///{tmp_path}/chatgate.db", whatsapp_web_driver="neonize")
    with pytest.raises(RuntimeError, match=r"pip install 'chatgate\[whatsapp-web\]'"):
        build_session_host(build_gateway(settings))
