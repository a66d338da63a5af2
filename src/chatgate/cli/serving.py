"""Running Chatgate: serve (API, and the worker unless --no-worker), worker, migrate,
and emulate (the platforms' local emulators)."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer
import uvicorn

from chatgate import event_loop
from chatgate.cli.common import console, with_database
from chatgate.config import Settings
from chatgate.logging import configure_logging
from chatgate.storage.migrate import upgrade


def migrate() -> None:
    """Bring the database up to the newest schema."""
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    upgrade(settings)
    console.print("[green]database is up to date[/green]")


def _print_demo(settings: Settings, live: str, test: str) -> None:
    base = f"http://{settings.host}:{settings.port}"
    console.print("\n[bold green]Created the demo account[/bold green] (keys are shown only once):")
    console.print(f"  live key: [bold]{live}[/bold]")
    console.print(f"  test key: [bold]{test}[/bold]  (messages go to the sandbox)\n")
    body = (
        '{"channel": "sms", "to": "+14155550123", '
        '"content": {"type": "text", "text": "Hello from Chatgate 👋"}}'
    )
    console.print("Send a message through the sandbox:\n", style="bold")
    console.print(
        f"curl -sS {base}/v1/messages \\\n"
        f'  -H "Authorization: Bearer {test}" \\\n'
        '  -H "Content-Type: application/json" \\\n'
        f"  -d '{body}'\n",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        f'then: curl -sS {base}/v1/messages/<id> -H "Authorization: Bearer {test}"\n',
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def _say_private_allowed(settings: Settings) -> None:
    """Say so when channels may reach private addresses: right for a laptop, not for a
    gateway that serves tenants."""
    if settings.allow_private_api_base:
        console.print(
            "[yellow]Channels may reach private and loopback addresses[/yellow] "
            "(CHATGATE_ALLOW_PRIVATE_API_BASE=1: for the local emulator); unset it where "
            "tenants you do not run share this gateway."
        )


def serve(
    host: Annotated[str, typer.Option(envvar="CHATGATE_HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="CHATGATE_PORT")] = 8000,
    worker: Annotated[
        bool,
        typer.Option(
            "--worker/--no-worker",
            envvar="CHATGATE_WORKER_ENABLED",
            help="run the worker in this process",
        ),
    ] = True,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo/--no-demo", envvar="CHATGATE_DEMO", help="create a demo account on first start"
        ),
    ] = False,
    migrate_first: Annotated[
        bool,
        typer.Option(
            "--migrate/--no-migrate",
            envvar="CHATGATE_MIGRATE",
            help="apply migrations before serving",
        ),
    ] = True,
) -> None:
    """Serve the API (and, unless --no-worker, deliver messages in the same process)."""
    from chatgate.api.app import create_app
    from chatgate.services.accounts import ensure_demo_account

    settings = Settings(host=host, port=port, worker_enabled=worker)
    configure_logging(settings.log_level, settings.log_format)
    if migrate_first:
        upgrade(settings)
    if demo:
        created = with_database(settings, ensure_demo_account)
        if created.live_secret and created.test_secret:
            _print_demo(settings, created.live_secret, created.test_secret)
        else:
            console.print(
                "The demo account exists already; its keys were shown when it was created. "
                "Make a new one with: [bold]chatgate keys create --account demo --mode test[/bold]"
            )
    _say_private_allowed(settings)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        proxy_headers=True,
        access_log=False,
    )


def run_worker(
    concurrency: Annotated[
        int,
        typer.Option(
            envvar="CHATGATE_WORKER_CONCURRENCY", min=1, max=64, help="claim loops side by side"
        ),
    ] = 2,
) -> None:
    """Deliver messages without serving the API; stops cleanly on SIGTERM.

    On SIGTERM it stops claiming, finishes the batches in hand (within
    CHATGATE_WORKER_DRAIN_SECONDS) and hands back anything unfinished.
    """
    from chatgate.api.app import build_gateway, running

    settings = Settings(worker_concurrency=concurrency)
    configure_logging(settings.log_level, settings.log_format)
    _say_private_allowed(settings)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        async with running(build_gateway(settings), with_worker=True):
            await stop.wait()

    # The loop ``serve`` runs on too (uvicorn picks uvloop where it is installed).
    event_loop.run(main())


def emulate(
    host: Annotated[str, typer.Option(envvar="CHATGATE_EMULATOR_HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="CHATGATE_EMULATOR_PORT")] = 9000,
    gateway: Annotated[
        str | None,
        typer.Option(
            envvar="CHATGATE_EMULATOR_GATEWAY",
            help="the gateway's URL: accounts registered with a connection_id send their "
            "webhooks to its /inbound/{connection_id}",
        ),
    ] = None,
) -> None:
    """Serve local emulators of every platform: WhatsApp Cloud, WhatsApp Web (linked
    devices), Telegram, Messenger, Instagram, LINE, Viber, Zalo, TikTok, KakaoTalk (NHN
    Cloud), SMS through Twilio and SMS over SMPP.

    A connection's settings.api_base is http://HOST:PORT and its
    platform's prefix: /graph (WhatsApp, Messenger and Instagram),
    /telegram, /line, /viber, /zalo, /tiktok, /kakao and /twilio.
    An SMPP connection's host and port are the emulator's SMSC
    (GET /_emulator/smpp/server names them).
    Linked-device sessions reach the emulated WhatsApp Web
    with CHATGATE_WHATSAPP_WEB_DRIVER=emulated.
    Users and faults are driven through /_emulator.
    """
    from chatgate.emulators.app import create_emulator_app

    configure_logging("warning", "console")
    console.print(f"emulating the platforms at http://{host}:{port} (control API: /_emulator)")
    if gateway:
        console.print(f"webhooks of accounts registered by connection_id go to {gateway}")
    uvicorn.run(
        create_emulator_app(gateway_url=gateway),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
    )
