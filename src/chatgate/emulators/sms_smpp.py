"""The ``smpp`` emulator: an SMSC (see :mod:`chatgate.emulators.smsc`) and its control API.

The SMSC listens on a TCP port of its own, started with the emulator (on
``CHATGATE_EMULATOR_SMSC_PORT``, or a free port when that is unset or 0) or on the first
control call that needs it. Beside the control API every emulator has (``accounts`` with
``system_id`` and ``password``; ``inbound`` with ``system_id``, ``from``, ``to``? and
``text``; ``received``; ``faults``), it has:

- ``GET /_emulator/smpp/server``: ``{"host", "port"}`` of the SMSC;
- ``PUT /_emulator/smpp/receipts``: ``{"delay": seconds or null, "stat": "DELIVRD",
  "id_format": "hex" | "decimal"}``;
- ``POST /_emulator/smpp/drop``: close every connection (of ``system_id``, if given);
- ``POST /_emulator/smpp/refuse-binds``: ``{"count": n}`` refuse the next binds;
- ``GET /_emulator/smpp/sessions``: binds and unbinds seen, sessions bound per account.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Any, Literal

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, ConfigDict, Field

from chatgate.emulators.core import Account, EmulatorState, Fault, PlatformEmulator, Received
from chatgate.emulators.smsc import Smsc, Submitted

NAME = "smpp"
HOST = "127.0.0.1"
PORT_VARIABLE = "CHATGATE_EMULATOR_SMSC_PORT"


class ReceiptSettings(BaseModel):
    """When and how the SMSC reports delivery."""

    model_config = ConfigDict(extra="forbid")

    delay: float | None = Field(default=0.05, ge=0, le=3600)
    stat: Literal["DELIVRD", "UNDELIV", "EXPIRED", "REJECTD", "DELETED"] = "DELIVRD"
    id_format: Literal["hex", "decimal"] = "hex"


class RefuseBinds(BaseModel):
    """Refuse the next ``count`` binds (``ESME_RBINDFAIL``)."""

    model_config = ConfigDict(extra="forbid")

    count: int = Field(default=1, ge=0, le=10_000)


class SmppEmulator(PlatformEmulator):
    """An SMSC, reached over SMPP, driven over HTTP."""

    name = NAME

    def __init__(self, state: EmulatorState) -> None:
        super().__init__(state)
        self.smsc = Smsc(
            faults=self._take_fault, passwords=self._password_of, on_submit=self._record
        )

    def _take_fault(self, recipient: str) -> Fault | None:
        return self.state.take_fault(NAME, recipient)

    def _password_of(self, system_id: str) -> str | None:
        account = self.state.account(NAME, system_id)
        return None if account is None else account.secrets.get("password")

    def _record(self, entry: Submitted) -> None:
        """Log a submit where every emulator logs the calls it received."""
        self.state.record(
            Received(
                platform=NAME,
                account=entry.system_id,
                path="submit_sm",
                body={**entry.fields, "text": entry.text},
                at=entry.at,
                message_id=entry.message_id,
                recipient=entry.fields["destination_addr"],
                status=entry.status,
            )
        )

    async def ensure_started(self) -> int:
        """Start the SMSC if it is not listening yet; its port."""
        return await self.smsc.start(HOST, int(os.environ.get(PORT_VARIABLE) or 0))

    def register(self, payload: dict[str, Any]) -> Account:
        """An SMSC account: ``system_id`` and ``password``."""
        system_id = payload.get("system_id")
        password = payload.get("password")
        if not isinstance(system_id, str) or not isinstance(password, str) or not system_id:
            raise ValueError("an SMSC account needs a system_id and a password")
        account = Account(id=system_id, secrets={"password": password})
        self.state.add_account(NAME, account)
        return account

    async def inject_inbound(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A user texts the account: an MO ``deliver_sm`` (several, when long)."""
        system_id = str(payload["system_id"])
        if self.state.account(NAME, system_id) is None:
            raise ValueError(f"no SMSC account {system_id!r}")
        await self.ensure_started()
        sender = str(payload["from"])
        recipient = str(payload.get("to") or "CHATGATE")
        parts = self.smsc.mo(system_id, sender, recipient, str(payload["text"]))
        self.state.user_wrote(NAME, system_id, sender)
        return {"parts": parts, "from": sender, "to": recipient}

    def router(self) -> APIRouter:
        """The SMSC's own control routes; its lifespan starts and stops the SMSC."""

        @contextlib.asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            # A taken port must not take the other emulators down.
            with contextlib.suppress(OSError):
                await self.ensure_started()
            yield
            await self.smsc.stop()

        router = APIRouter(prefix=f"/_emulator/{NAME}", tags=["smpp"], lifespan=lifespan)

        @router.get("/server")
        async def server() -> dict[str, Any]:
            return {"host": HOST, "port": await self.ensure_started()}

        @router.put("/receipts")
        async def receipts(settings: ReceiptSettings) -> ReceiptSettings:
            self.smsc.receipt_delay = settings.delay
            self.smsc.receipt_stat = settings.stat
            self.smsc.receipt_id_format = settings.id_format
            return settings

        @router.post("/drop")
        async def drop(system_id: str | None = None) -> dict[str, int]:
            return {"dropped": self.smsc.drop(system_id)}

        @router.post("/refuse-binds")
        async def refuse_binds(refuse: RefuseBinds) -> dict[str, int]:
            self.smsc.refuse_binds = refuse.count
            return {"refuse_binds": refuse.count}

        @router.get("/sessions")
        async def sessions() -> dict[str, Any]:
            return {
                "bound": {s: self.smsc.bound(s) for s in self.accounts()},
                "binds": [{"system_id": s, "status": status} for s, status in self.smsc.binds],
                "unbinds": list(self.smsc.unbinds),
                "enquire_links": self.smsc.enquire_links,
            }

        @router.get("/submits")
        async def submits() -> list[dict[str, Any]]:
            return [asdict(entry) for entry in self.smsc.submitted]

        return router
