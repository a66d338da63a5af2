"""The emulator process: every platform's API under its prefix, and the control API.

Control API (``/_emulator``), for tests and for trying Chatgate without platform accounts:

- ``POST /_emulator/{platform}/accounts``: register a business identity (its ids, secrets
  and the webhook URL, i.e. the connection's ``inbound_url``; with ``--gateway URL``, a
  ``connection_id`` is enough);
- ``POST /_emulator/{platform}/inbound``: a user writes to an account;
- ``GET /_emulator/{platform}/received``: the calls the platform received;
- ``POST /_emulator/{platform}/faults``: fail the next sends (see ``core.Fault``);
- ``GET /_emulator/deliveries``: the webhooks sent to the gateway;
- ``PUT /_emulator/timing``: delays of the status webhooks; ``POST /_emulator/reset``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Body, FastAPI, HTTPException
from fastapi_offline import FastAPIOffline

from chatgate.emulators.core import EmulatorState, Fault, LostAnswers, PlatformEmulator, Timing
from chatgate.emulators.graph import GraphProduct, graph_router

PlatformFactory = type[PlatformEmulator]


def _platform_classes() -> list[PlatformFactory]:
    # Imported here so that each platform's module stays independent of the app.
    from chatgate.emulators.instagram import InstagramEmulator
    from chatgate.emulators.kakao import KakaoEmulator
    from chatgate.emulators.line import LineEmulator
    from chatgate.emulators.messenger import MessengerEmulator
    from chatgate.emulators.sms_smpp import SmppEmulator
    from chatgate.emulators.telegram import TelegramEmulator
    from chatgate.emulators.tiktok import TikTokEmulator
    from chatgate.emulators.twilio import TwilioEmulator
    from chatgate.emulators.viber import ViberEmulator
    from chatgate.emulators.whatsapp import WhatsAppEmulator
    from chatgate.emulators.whatsapp_web import WhatsAppWebEmulator
    from chatgate.emulators.zalo import ZaloEmulator

    return [
        WhatsAppEmulator,
        TelegramEmulator,
        MessengerEmulator,
        InstagramEmulator,
        KakaoEmulator,
        TikTokEmulator,
        TwilioEmulator,
        ViberEmulator,
        ZaloEmulator,
        LineEmulator,
        SmppEmulator,
        WhatsAppWebEmulator,
    ]


def control_router(state: EmulatorState, platforms: dict[str, PlatformEmulator]) -> APIRouter:
    """The ``/_emulator`` control API."""
    router = APIRouter(prefix="/_emulator", tags=["emulator control"])

    def platform_named(name: str) -> PlatformEmulator:
        if name not in platforms:
            raise HTTPException(404, f"no emulator for {name!r}; have {sorted(platforms)}")
        return platforms[name]

    @router.post("/{platform}/accounts", status_code=201)
    async def add_account(platform: str, payload: dict[str, Any] = Body()) -> dict[str, Any]:
        try:
            webhook_url = state.webhook_of(payload)
            payload = {k: v for k, v in payload.items() if k != "connection_id"}
            if webhook_url is not None:
                payload["webhook_url"] = webhook_url
            account = platform_named(platform).register(payload)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc
        return {"id": account.id, "webhook_url": account.webhook_url}

    @router.post("/{platform}/inbound")
    async def inject(platform: str, payload: dict[str, Any] = Body()) -> dict[str, Any]:
        try:
            return await platform_named(platform).inject_inbound(payload)
        except (ValueError, KeyError) as exc:
            raise HTTPException(422, str(exc)) from exc

    @router.get("/{platform}/received")
    async def received(platform: str, account: str | None = None) -> list[dict[str, Any]]:
        platform_named(platform)
        return [
            asdict(entry)
            for entry in state.received
            if entry.platform == platform and (account is None or entry.account == account)
        ]

    @router.post("/{platform}/faults", status_code=201)
    async def add_fault(platform: str, fault: Fault) -> dict[str, str]:
        codes = platform_named(platform).fault_codes.get(fault.kind, ())
        if fault.code is not None and fault.code not in codes:
            known = ", ".join(map(str, codes)) or "none"
            raise HTTPException(422, f"code: {platform} answers a {fault.kind} fault with {known}")
        state.add_fault(platform, fault)
        return {"queued": fault.kind}

    @router.get("/deliveries")
    async def deliveries() -> list[dict[str, Any]]:
        return [{**asdict(d), "body": d.body.decode("utf-8", "replace")} for d in state.deliveries]

    @router.put("/timing")
    async def set_timing(timing: Timing) -> Timing:
        state.timing = timing
        return timing

    @router.post("/reset", status_code=204)
    async def reset() -> None:
        state.reset()

    return router


def create_emulator_app(
    state: EmulatorState | None = None, gateway_url: str | None = None
) -> FastAPI:
    """The emulator's ASGI app: ``/graph`` (Meta), ``/telegram``, and ``/_emulator``.

    ``gateway_url`` is where webhooks go for accounts registered with a connection id.
    """
    state = state or EmulatorState(gateway_url=gateway_url)
    platforms = {cls.name: cls(state) for cls in _platform_classes()}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await state.close()

    # Its /docs and /redoc from the package's own copies, like the gateway's: offline too.
    app = FastAPIOffline(title="Chatgate platform emulator", lifespan=lifespan)
    app.state.emulator = state
    app.add_middleware(LostAnswers)
    app.include_router(control_router(state, platforms))
    graph_products = [p for p in platforms.values() if isinstance(p, GraphProduct)]
    app.include_router(graph_router(state, graph_products))
    for platform in platforms.values():
        router = platform.router()
        if router is not None:
            app.include_router(router)
    return app
