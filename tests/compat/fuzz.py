"""What the dialects' schema fuzzing shares: a dialect's own OpenAPI document, read from an
app that is never started, and a stand-in app for schemathesis until a test names its own."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis.python import asgi
from starlette.routing import Mount

from chatgate.api.app import create_app
from chatgate.config import Settings
from chatgate.domain.dialects import Dialect
from chatgate.domain.keys import KeyMode
from tests.support import Tenant, make_key, settings_for

# Never connected to: this app is only asked for its dialects' OpenAPI documents.
SCHEMA_ONLY = create_app(settings_for("sqlite:///schema-only-never-opened.db"))


def dialect_document(mount_path: str) -> dict[str, Any]:
    """The OpenAPI document of the dialect mounted at ``mount_path`` (``/compat/…``)."""
    [mount] = [
        route
        for route in SCHEMA_ONLY.routes
        if isinstance(route, Mount) and route.path == mount_path
    ]
    assert isinstance(mount.app, FastAPI)
    return mount.app.openapi()


async def no_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Stands in for the app until a test names its own: reaching it is a harness bug."""
    raise AssertionError("a schemathesis request went out without app=fuzz_app")


@pytest.fixture
def fuzz_app(settings: Settings) -> Iterator[FastAPI]:
    """A gateway of its own on the current store; schemathesis starts it, this stops it."""
    yield create_app(settings)
    asgi.shutdown_lifespans()


def fuzzed_schema(mount_path: str, config: schemathesis.Config) -> Any:
    """The dialect's document for schemathesis, whose tests each name the app they call."""
    schema = schemathesis.openapi.from_dict(dialect_document(mount_path), config=config)
    schema.app = no_app
    return schema


async def dialect_test_key(app: FastAPI, tenant: Tenant, dialect: Dialect) -> str:
    """A test key of ``dialect`` with every scope, stored before schemathesis' gateway
    starts; its secret."""
    _, secret = await make_key(app, tenant.account_id, KeyMode.TEST, dialect=dialect)
    return secret
