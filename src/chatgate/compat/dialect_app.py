"""A dialect's application: mounted under ``/compat/<dialect>``, sharing the gateway.

Every dialect app has what the native API has, shaped the vendor's way: the same request
ids, body guards (405, 413, 415) and authentication before the body is read (by the
gateway's middleware, with the dialect's error renderer and key kind), the dialect's error
body for every refusal, and an OpenAPI document of its own at
``/compat/<dialect>/openapi.json``, kept out of the native one.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel
from starlette.routing import BaseRoute, Mount
from starlette.types import ASGIApp

from chatgate import __version__
from chatgate.api.errors import ErrorRenderer, install_error_handlers
from chatgate.api.methods import PathMethods
from chatgate.api.middleware import GatewayMiddleware
from chatgate.api.state import Gateway
from chatgate.config import Settings
from chatgate.domain.dialects import Dialect
from chatgate.domain.records import ApiKey
from chatgate.services.webhook_formats import WebhookFormat, WebhookFormats

COMPAT_PREFIX = "/compat/"


@dataclass(frozen=True, slots=True)
class DialectApi:
    """What a dialect package declares: its routes, errors and how its key is presented."""

    dialect: Dialect
    title: str
    description: str
    routers: Sequence[APIRouter]
    render_error: ErrorRenderer
    # Finds the request's key of this dialect (from its header), rate limit applied.
    authenticate: Callable[[Request], Awaitable[ApiKey]]
    # The dialect's webhook format, made for a deployment's settings (None: it has none).
    webhook_format: Callable[[Settings], WebhookFormat] | None = None
    # Paths below the mount where platforms post their webhooks, in their own formats (some
    # form-encoded): no JSON check there, as on ``/inbound/``.
    platform_paths: tuple[str, ...] = ()
    # ASGI middleware around the whole dialect app (outside the gateway's), each made as
    # ``factory(app, gateway=gateway)``: what the vendor adds to every answer of its own.
    middleware: Sequence[Callable[..., ASGIApp]] = ()
    # Whether every validation error of a request reaches ``render_error`` (as
    # ``details["errors"]``), for a vendor whose error body lists each problem.
    every_error: bool = False

    @property
    def mount_path(self) -> str:
        """Where the dialect is served: ``/compat/<dialect>``."""
        return f"{COMPAT_PREFIX}{self.dialect.value}"


def error_responses(
    model: type[BaseModel], descriptions: dict[int, str]
) -> dict[int | str, dict[str, Any]]:
    """A router's ``responses``: each refusal status, described, with the dialect's body."""
    return {status: {"model": model, "description": text} for status, text in descriptions.items()}


def webhook_formats(apis: Sequence[DialectApi], settings: Settings) -> WebhookFormats:
    """``standard`` and the formats of ``apis``."""
    return WebhookFormats(
        api.webhook_format(settings) for api in apis if api.webhook_format is not None
    )


def _document_own_statuses(app: FastAPI, render: ErrorRenderer) -> None:
    """Keep FastAPI's 422 out of the document when the dialect answers bad input otherwise
    (a vendor that knows no 422): the document lists the statuses the dialect answers."""
    if render("", 422, "invalid_request", "", None, None)[0] == 422:
        return
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            for operations in document.get("paths", {}).values():
                for operation in operations.values():
                    operation.get("responses", {}).pop("422", None)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _calls(dependant: Dependant, target: Callable[..., object]) -> bool:
    return any(sub.call is target or _calls(sub, target) for sub in dependant.dependencies)


def build_dialect_app(api: DialectApi, gateway: Gateway) -> FastAPI:
    """The dialect's application on ``gateway``, ready to mount at ``api.mount_path``."""
    # Swagger UI from the package's own copy, as on the native API: it works offline.
    app = FastAPIOffline(
        title=api.title,
        version=__version__,
        description=api.description,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.gateway = gateway
    install_error_handlers(app, api.render_error, every_error=api.every_error)
    for router in api.routers:
        app.include_router(router)
    _document_own_statuses(app, api.render_error)

    def takes_key(route: BaseRoute) -> bool:
        return isinstance(route, APIRoute) and _calls(route.dependant, api.authenticate)

    # Included routers' routes are found through the routers (the app includes them lazily).
    routes = [*app.router.routes, *(route for router in api.routers for route in router.routes)]
    app.add_middleware(
        GatewayMiddleware,
        max_body_bytes=gateway.settings.max_body_bytes,
        methods=PathMethods(routes, takes_key),
        render=api.render_error,
        authenticate=api.authenticate,
        platform_paths=tuple(f"{api.mount_path}{path}" for path in api.platform_paths),
    )
    for factory in api.middleware:
        app.add_middleware(factory, gateway=gateway)
    return app


def mount_dialect(app: FastAPI, api: DialectApi, gateway: Gateway) -> None:
    """Mount the dialect's application on ``app`` at ``api.mount_path``.

    Every path below the mount is the dialect's, whatever it holds: Starlette's mount
    pattern (``.*``) stops at a newline, so a path with an encoded one (``%0A`` in an id)
    would fall through to the native app's 404; matched across lines, it reaches the
    dialect, which answers it in its own error body.
    """
    mount = Mount(api.mount_path, app=build_dialect_app(api, gateway))
    mount.path_regex = re.compile(mount.path_regex.pattern, re.DOTALL)
    app.router.routes.append(mount)
