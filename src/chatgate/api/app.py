"""``create_app(settings)``: the FastAPI application and, by default, its worker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import timedelta

import httpx
import structlog
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from chatgate import __version__
from chatgate.api import send_lane
from chatgate.api.auth import takes_key
from chatgate.api.errors import install_error_handlers
from chatgate.api.holding import build_connection_keeper, close_connection_keeper
from chatgate.api.methods import PathMethods
from chatgate.api.middleware import GatewayMiddleware
from chatgate.api.openapi_document import install_openapi
from chatgate.api.ratelimit import RateLimiter
from chatgate.api.routes import (
    account,
    audit,
    channels,
    contacts,
    conversations,
    distributions,
    events,
    health,
    inbound,
    keys,
    links,
    media,
    media_links,
    messages,
    sandbox,
    sessions,
    templates,
    webhooks,
)
from chatgate.api.send_lane import SendLane
from chatgate.api.state import Gateway
from chatgate.channels.device_hosts import device_host
from chatgate.channels.sandbox import SandboxAdapter
from chatgate.channels.whatsapp_web_emulated import EmulatedWebDriver
from chatgate.channels.whatsapp_web_neonize import driver_factory as neonize_drivers
from chatgate.compat.dialect_app import (
    COMPAT_PREFIX,
    DialectApi,
    mount_dialect,
    webhook_formats,
)
from chatgate.compat.registry import dialect_apis
from chatgate.config import Settings
from chatgate.crypto import credential_box
from chatgate.engine.clock import system_clock
from chatgate.engine.pacing import Pacer
from chatgate.engine.retry import RetryPolicy
from chatgate.engine.wakeup import LocalWakeup, PostgresListener, SqliteCommitWatch
from chatgate.engine.worker import Worker
from chatgate.guarded_http import guarded_client
from chatgate.net_guard import NetworkPolicy
from chatgate.services.acknowledge import Acknowledger
from chatgate.services.billing import Billing
from chatgate.services.channels import ChannelService
from chatgate.services.delivery import DeliveryHandlers, DeliveryPolicy
from chatgate.services.dispatch import ConnectionAdapters, adapter_resolver, pace_resolver
from chatgate.services.event_feed import EventFeed
from chatgate.services.held_connections import ConnectionKeeper
from chatgate.services.key_cache import KeyCache
from chatgate.services.media_fetch import DOWNLOAD_DEADLINE_SECONDS, MediaFetcher
from chatgate.services.media_files import MediaFolder
from chatgate.services.retention import Retention
from chatgate.services.session_events import SessionEvents
from chatgate.services.session_runner import DriverFactory, RunnerSettings, SessionHost
from chatgate.services.sessions import SessionService
from chatgate.services.settlement import Settlement
from chatgate.services.status_match import StatusMatcher
from chatgate.services.thread_updates import ThreadUpdates
from chatgate.services.webhook_endpoints import WebhookEndpoints
from chatgate.services.webhook_fanout import WebhookFanout
from chatgate.services.webhook_sender import SenderSettings, WebhookSender
from chatgate.storage.database import Database, postgres_dsn, sqlite_path
from chatgate.storage.jobs import JOBS_CHANNEL
from chatgate.storage.session_holds import HOLDS_CHANNEL
from chatgate.storage.webhook_deliveries import WEBHOOKS_CHANNEL

log = structlog.get_logger(__name__)

DESCRIPTION = """\
One API for WhatsApp, Telegram, Messenger, Instagram, TikTok, LINE, Kakao, Viber, Zalo and
SMS. Authenticate with `Authorization: Bearer cg_live_…` (or a `cg_test_…` key, whose
messages go to the sandbox). Every error has the shape
`{"error": {"code", "message", "field"}, "request_id"}`.
"""


# Every router of the API, in the order they are mounted.
ROUTE_MODULES = (
    health,
    account,
    keys,
    messages,
    events,
    webhooks,
    contacts,
    templates,
    conversations,
    distributions,
    media,
    media_links,
    channels,
    sessions,
    inbound,
    sandbox,
    links,
    audit,
)


def build_gateway(
    settings: Settings,
    database: Database | None = None,
    dialects: Sequence[DialectApi] | None = None,
) -> Gateway:
    """Everything a process needs to serve requests, not yet started (``dialects``: the
    vendor APIs served, whose webhook formats it knows; by default every one)."""
    database = database or Database(settings)
    dialects = dialect_apis() if dialects is None else dialects
    box = credential_box(settings)
    network = NetworkPolicy(allow_private=settings.allow_private_api_base)
    return Gateway(
        settings=settings,
        database=database,
        key_cache=KeyCache(database, settings.key_cache_refresh_seconds),
        limiter=RateLimiter(settings.redis_url),
        wakeup=LocalWakeup(),
        sandbox=SandboxAdapter(
            settings.sandbox_delivered_after,
            settings.sandbox_read_after,
            latency=settings.sandbox_latency,
            record_path=settings.sandbox_record_path,
        ),
        pacer=Pacer(settings.redis_url),
        http=guarded_client(network, timeout=httpx.Timeout(15.0, connect=5.0)),
        channels=ChannelService(
            box,
            settings.public_url or f"http://{settings.host}:{settings.port}",
            network,
        ),
        event_feed=EventFeed(database, settings.events_poll_seconds),
        webhook_endpoints=WebhookEndpoints(
            box,
            allow_private=settings.allow_private_webhooks,
            formats=webhook_formats(dialects, settings),
        ),
        webhook_wakeup=LocalWakeup(),
        billing=Billing(settings),
        sessions=SessionService(box),
    )


def build_worker(gateway: Gateway) -> Worker:
    """The worker that delivers this gateway's messages."""
    settings = gateway.settings
    policy = DeliveryPolicy(
        retry=RetryPolicy(
            base=settings.retry_base_seconds,
            cap=settings.retry_cap_seconds,
            max_attempts=settings.send_max_attempts,
        ),
        max_age=timedelta(seconds=settings.send_max_age_seconds),
    )
    handlers = DeliveryHandlers(
        gateway.database,
        gateway.http,
        adapter_resolver(gateway.sandbox, ConnectionAdapters(gateway.database, gateway.channels)),
        policy,
        pacer=gateway.pacer,
        resolve_pace=pace_resolver(pace_sandbox=settings.sandbox_pacing),
        clock=system_clock,
    )
    folder = MediaFolder(settings.media_path, settings.media_max_bytes)
    # Downloads cut short by a crash leave temporary files: older than any download can be.
    folder.sweep_leftovers(older_than_seconds=2 * DOWNLOAD_DEADLINE_SECONDS)
    fetcher = MediaFetcher(
        gateway.database,
        gateway.http,
        gateway.channels,
        folder,
        policy.retry,
        clock=system_clock,
    )
    return Worker(
        gateway.database,
        {
            **handlers.handlers(),
            **fetcher.handlers(),
            **StatusMatcher(gateway.database, system_clock).handlers(),
            **Acknowledger(
                gateway.database, gateway.http, gateway.channels, system_clock
            ).handlers(),
        },
        gateway.wakeup,
        batch_size=settings.worker_batch_size,
        lease_seconds=settings.worker_lease_seconds,
        poll_seconds=settings.worker_poll_seconds,
        concurrency=settings.worker_concurrency,
        clock=system_clock,
    )


def build_session_host(gateway: Gateway) -> tuple[SessionHost, httpx.AsyncClient] | None:
    """The host of this worker's linked-device sessions and the client its drivers share,
    or ``None`` when no driver is configured (``CHATGATE_WHATSAPP_WEB_DRIVER``)."""
    settings = gateway.settings
    if settings.whatsapp_web_driver is None:
        return None
    # The operator's own emulator URL, not a tenant's: no SSRF guard; long polls need time.
    http = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=5.0))
    url = settings.whatsapp_web_emulator_url
    drivers: DriverFactory = lambda: EmulatedWebDriver(http, url)  # noqa: E731
    if settings.whatsapp_web_driver == "neonize":
        drivers = neonize_drivers(settings)  # the real platform, one process per session
    host = SessionHost(
        gateway.database,
        gateway.sessions,
        drivers,
        settings=RunnerSettings(
            backoff=RetryPolicy(base=1.0, cap=settings.session_reconnect_cap_seconds),
            concurrent_connects=settings.session_concurrent_connects,
            ping_every=settings.session_ping_seconds,
            ping_timeout=settings.session_ping_timeout_seconds,
        ),
        # Users' messages and receipts are recorded as a webhook's would be.
        sink=SessionEvents(
            gateway.database,
            system_clock,
            notify=gateway.wakeup.notify,
            public_url=settings.public_url,
        ),
    )
    return host, http


def build_webhook_sender(gateway: Gateway) -> WebhookSender:
    """The sender of this gateway's customer webhooks."""
    settings = gateway.settings
    return WebhookSender(
        gateway.database,
        gateway.webhook_endpoints,
        gateway.webhook_wakeup,
        system_clock,
        SenderSettings(
            per_endpoint=settings.webhook_endpoint_concurrency,
            in_flight=settings.webhook_in_flight,
            poll_seconds=settings.worker_poll_seconds,
            allow_private=settings.allow_private_webhooks,
        ),
    )


async def _step(run_once: Callable[[], Awaitable[int]], failure: str) -> int:
    try:
        return await run_once()
    except Exception:
        log.exception(failure)
        return 0


async def follow_events(gateway: Gateway) -> None:
    """As events are committed: turn them into webhook deliveries, settle the prices of the
    messages they concern and move their threads on; until cancelled."""
    fanout = WebhookFanout(
        gateway.database, system_clock, formats=gateway.webhook_endpoints.formats
    )
    followers = (Settlement(gateway.database), ThreadUpdates(gateway.database))
    feed = gateway.event_feed
    with feed.open_stream():
        while True:
            ticket = feed.ticket()
            relayed = await _step(fanout.run_once, "webhooks.fanout_failed")
            if relayed:
                gateway.webhook_wakeup.notify()
            behind = relayed == fanout.batch_size
            for follower in followers:
                handled = await _step(follower.run_once, f"{follower.cursor}.follow_failed")
                behind = behind or handled == follower.batch_size
            if not behind:
                await feed.wait(ticket, gateway.settings.worker_poll_seconds)


@contextlib.asynccontextmanager
async def running(gateway: Gateway, *, with_worker: bool) -> AsyncIterator[Gateway]:
    """Start the gateway's background tasks (key refresh, wake-ups, worker); stop them after.

    On the way out the worker stops claiming and gets ``worker_drain_seconds`` to finish
    what it holds; anything left is handed back for another worker.
    """
    settings = gateway.settings
    await gateway.key_cache.refresh()
    tasks = [asyncio.create_task(gateway.key_cache.run(), name="key-cache")]
    released = LocalWakeup()  # another worker released the connections it held
    if with_worker and not gateway.database.is_sqlite:
        listener = PostgresListener(
            postgres_dsn(settings.database_url),
            {
                JOBS_CHANNEL: gateway.wakeup,
                WEBHOOKS_CHANNEL: gateway.webhook_wakeup,
                HOLDS_CHANNEL: released,
            },
        )
        tasks.append(asyncio.create_task(listener.run(), name="wakeup-listener"))
    if with_worker and gateway.database.is_sqlite:
        watch = SqliteCommitWatch(
            sqlite_path(settings.database_url),
            (gateway.wakeup, gateway.webhook_wakeup),
            settings.sqlite_watch_seconds,
        )
        tasks.append(asyncio.create_task(watch.run(), name="sqlite-commit-watch"))
    if with_worker:
        retention = Retention(
            gateway.database,
            system_clock,
            refused_webhook_days=settings.inbound_refused_retention_days,
            unowned_refusal_days=settings.unowned_refusal_retention_days,
            every_seconds=settings.retention_every_seconds,
        )
        tasks += [
            asyncio.create_task(follow_events(gateway), name="event-followers"),
            asyncio.create_task(build_webhook_sender(gateway).run(), name="webhook-sender"),
            asyncio.create_task(retention.run(), name="retention"),
        ]
    worker = build_worker(gateway) if with_worker else None
    keeper: ConnectionKeeper | None = None
    session_host: tuple[SessionHost, httpx.AsyncClient] | None = None
    if worker is not None:
        # The connections kept open by one worker each (SMPP binds, linked-device sessions).
        session_host = build_session_host(gateway)
        host = None if session_host is None else session_host[0]
        if host is not None:
            # Sends of whatsapp_web go through the devices this process holds.
            device_host().set_lookup(host.connected_driver)
        keeper = build_connection_keeper(gateway, worker, host, released)
        tasks.append(asyncio.create_task(keeper.run(), name="held-connections"))
        worker.start()
    try:
        yield gateway
    finally:
        if worker is not None:
            await worker.drain(settings.worker_drain_seconds)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if keeper is not None:
            # Every held connection closed (SMPP sessions unbound, sessions handed back with
            # their devices linked), then released: another worker takes them over at once.
            await close_connection_keeper(keeper)
        if session_host is not None:
            device_host().set_lookup(None)
            await session_host[1].aclose()
        await gateway.event_feed.close()
        await gateway.http.aclose()
        gateway.sandbox.close()
        await gateway.database.dispose()


def create_app(
    settings: Settings,
    *,
    database: Database | None = None,
    direct_send: bool = True,
    dialects: Sequence[DialectApi] | None = None,
) -> FastAPI:
    """The gateway's ASGI application; runs the worker too unless ``worker_enabled`` is off.

    ``direct_send`` answers ``POST /v1/messages`` through the send lane (``send_lane``)
    rather than the router: the same answers, faster; off only to compare the two.
    ``dialects`` are the vendor APIs mounted under ``/compat/`` (by default every one).
    """
    dialects = dialect_apis() if dialects is None else dialects
    gateway = build_gateway(settings, database, dialects)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running(gateway, with_worker=settings.worker_enabled):
            yield

    # Swagger UI and ReDoc from the package's own copies: the pages work offline.
    app = FastAPIOffline(
        title="Chatgate",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        # Chatgate exports Prometheus metrics and structured logs of its own. The framework's
        # OpenTelemetry hooks would otherwise look up the global providers (reading the
        # environment) on every request only to find none configured.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.gateway = gateway
    install_error_handlers(app)
    install_openapi(app)
    modules = ROUTE_MODULES
    for module in modules:
        app.include_router(module.router)
    # The app's own routes (OpenAPI, docs) and every included router's, for 405 and Allow.
    routes = [*app.router.routes, *(route for m in modules for route in m.router.routes)]
    for dialect in dialects:
        mount_dialect(app, dialect, gateway)
    app.add_middleware(
        GatewayMiddleware,
        max_body_bytes=settings.max_body_bytes,
        methods=PathMethods(routes, takes_key),
        lanes={(send_lane.METHOD, send_lane.PATH): SendLane(app)} if direct_send else None,
        # Each dialect's app guards and authenticates its requests its own way.
        passthrough=(COMPAT_PREFIX,),
    )
    return app
