"""Webhook tests deliver to receivers on loopback, and own the delivery tables."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import delete

from chatgate.api.app import create_app
from chatgate.config import Settings
from chatgate.storage.database import Database
from chatgate.storage.tables import webhook_attempts, webhook_deliveries, webhook_endpoints
from tests.support import settings_for
from tests.webhooks.receiver import Receiver, serving_receiver


async def clear_webhooks(database: Database) -> None:
    """Forget every endpoint and delivery, so that a test sends only its own."""
    async with database.write() as conn:
        for table in (webhook_attempts, webhook_deliveries, webhook_endpoints):
            await conn.execute(delete(table))


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Test settings that let webhooks reach a receiver on this machine."""
    return settings_for(database_url, allow_private_webhooks=True)


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    """The store, with no webhook endpoints or deliveries left by earlier tests."""
    db = Database(settings)
    await clear_webhooks(db)
    yield db
    await db.dispose()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A customer's receiver on a loopback port."""
    async with serving_receiver() as serving:
        yield serving


@pytest.fixture
async def app(settings: Settings, database: Database) -> AsyncIterator[FastAPI]:
    """A running gateway (API, worker, webhook fan-out and sender), with no old endpoints."""
    application = create_app(settings)
    async with LifespanManager(application):
        yield application
