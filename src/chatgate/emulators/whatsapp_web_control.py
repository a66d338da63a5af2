"""The control API of the emulated WhatsApp Web: the phone's side and the test's levers
(see :mod:`chatgate.emulators.whatsapp_web` for what each route does)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException

from chatgate.emulators.whatsapp_web_parts import NAME, Hang, PhoneRef, Scan, WebSettings

if TYPE_CHECKING:
    from chatgate.emulators.whatsapp_web import WhatsAppWebEmulator


def control_routes(emulator: WhatsAppWebEmulator, router: APIRouter) -> None:
    """Add the control routes of ``emulator`` to ``router``."""
    prefix = f"/_emulator/{NAME}"

    @router.get(f"{prefix}/qr")
    async def codes() -> list[dict[str, str]]:
        return [
            {"connection": c.id, "code": c.qr}
            for c in emulator.connections.values()
            if c.qr is not None and not c.closed
        ]

    @router.post(f"{prefix}/scan")
    async def scan(scan: Scan) -> dict[str, str]:
        device = emulator.scan(scan)
        return {"jid": device.jid, "phone": device.phone}

    @router.put(f"{prefix}/settings")
    async def settings(settings: WebSettings) -> WebSettings:
        emulator.settings = settings
        return settings

    @router.post(f"{prefix}/drop")
    async def drop(ref: PhoneRef | None = None) -> dict[str, int]:
        return {"dropped": emulator.drop(ref.phone if ref else None)}

    @router.post(f"{prefix}/hang")
    async def hang(hang: Hang) -> dict[str, int]:
        hung = [c for c in emulator.connections.values() if not c.closed and c.device is not None]
        if hang.phone is not None:
            hung = [c for c in hung if c.device is not None and c.device.phone == hang.phone]
        for connection in hung:
            connection.hang(hang.hung)
        return {"connections": len(hung)}

    @router.post(f"{prefix}/logout")
    async def logout(ref: PhoneRef) -> dict[str, int]:
        try:
            return {"closed": emulator.logout_phone(ref.phone or "")}
        except ValueError as exc:
            raise HTTPException(404, str(exc)) from exc

    @router.get(f"{prefix}/devices")
    async def devices() -> list[dict[str, Any]]:
        return [
            {
                "jid": d.jid,
                "phone": d.phone,
                "name": d.name,
                "linked": d.linked,
                "connections": len(emulator.live_connections(d)),
                "resumes": d.resumes,
            }
            for d in emulator.devices.values()
        ]
