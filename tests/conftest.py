"""Fixtures shared by the whole suite.

Storage and API tests run once on SQLite and once on PostgreSQL. PostgreSQL comes from
``CHATGATE_TEST_DATABASE_URL``: each test process gets a database of its own, created and
migrated once and dropped at the end. Outside CI, an unset URL skips those tests with a
note on how to enable them; in CI (``CI=true``) it is a failure.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from chatgate.api.app import create_app
from chatgate.config import Settings
from chatgate.logging import configure_logging
from chatgate.storage.migrate import upgrade
from tests.support import Tenant, make_tenant, settings_for

POSTGRES_URL = os.environ.get("CHATGATE_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("CHATGATE_TEST_REDIS_URL")
IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for every test that needs a fresh store."""
    path = tmp_path_factory.mktemp("template") / "chatgate.db"
    upgrade(settings_for(f"sqlite:///{path}"))
    return path


def _temporary_database(prefix: str) -> Iterator[str]:
    """Create and migrate a database, yield its URL, drop it after."""
    assert POSTGRES_URL
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = _admin_url(POSTGRES_URL)

    async def run(statement: str) -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    url = f"{admin.rsplit('/', 1)[0]}/{name}"
    try:
        upgrade(settings_for(url))
        yield url
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _admin_url(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test process."""
    if not POSTGRES_URL:
        message = (
            "PostgreSQL tests need CHATGATE_TEST_DATABASE_URL, e.g. "
            "CHATGATE_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test make test"
        )
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    yield from _temporary_database(f"chatgate_test_{worker}")


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    """A PostgreSQL database of the test's own, for tests that run other processes on it."""
    if not POSTGRES_URL:
        if IN_CI:
            pytest.fail("CI needs CHATGATE_TEST_DATABASE_URL")
        pytest.skip("set CHATGATE_TEST_DATABASE_URL to run the multi-process PostgreSQL tests")
    yield from _temporary_database("chatgate_procs")


def _store_url(request: pytest.FixtureRequest, folder: Path, postgres_fixture: str) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue(postgres_fixture))
    path = folder / "chatgate.db"
    shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated store of each kind, in turn."""
    return _store_url(request, tmp_path, "postgres_url")


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated store of each kind, in turn, of the test's own (for other processes)."""
    return _store_url(request, tmp_path, "fresh_postgres_url")


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Test settings on the current store."""
    return settings_for(database_url)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """A running gateway (API and worker) on the current store."""
    application = create_app(settings)
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to ``app`` in-process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
async def tenant(app: FastAPI) -> Tenant:
    """A new account with a live and a test key (high rate limits)."""
    return await make_tenant(app)


@pytest.fixture(scope="session", autouse=True)
def _production_logging() -> None:
    """Log as ``chatgate serve`` does, so that tests see what operators would."""
    configure_logging("warning", "console")
