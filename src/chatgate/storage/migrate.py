"""Bring a database up to the newest schema with Alembic."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

from chatgate.config import Settings

_MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(settings: Settings) -> Config:
    """An Alembic config pointing at the packaged migrations and carrying ``settings``."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["settings"] = settings
    return config


def upgrade(settings: Settings, revision: str = "head") -> None:
    """Apply every migration up to ``revision``; safe to run from many processes at once."""
    command.upgrade(alembic_config(settings), revision)


async def upgrade_async(settings: Settings, revision: str = "head") -> None:
    """:func:`upgrade` from inside a running event loop (Alembic's env starts its own)."""
    await asyncio.to_thread(upgrade, settings, revision)
