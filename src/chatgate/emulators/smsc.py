"""A small SMSC: an SMPP 3.4 server on a TCP port of its own, for the ``smpp`` emulator.

It does what an ESME sees of a real SMSC: binds (transceiver, transmitter or receiver)
checked against registered ``system_id``/password pairs, answers ``enquire_link`` and
``unbind``, accepts ``submit_sm`` with a message id (hex, as many SMSCs write them), sends a
delivery receipt (``deliver_sm`` with esm_class 0x04, the Appendix B text and the
``receipted_message_id``/``message_state`` TLVs) after a settable delay when
``registered_delivery`` asks for one, and delivers users' messages (MO), split with a
concatenation header when long.

What it sends waits for a bound receiver of the account: receipts and MO queued while no
session is bound (or not answered with ``deliver_sm_resp`` status 0) go out on the next
bind, as a real SMSC retries them. Faults: the emulator's usual kinds on the next submits
(``rate_limit`` is ``ESME_RTHROTTLED``, ``server_error`` ``ESME_RSYSERR``, ``permanent``
``ESME_RSUBMITFAIL``, ``invalid_recipient`` ``ESME_RINVDSTADR``, ``timeout`` no answer,
``async_failure`` an ``UNDELIV`` receipt, ``answer_lost`` the message accepted and the
connection cut before its ``submit_sm_resp``), and two of its own: refuse the next binds,
and drop every connection of an account.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from smpplib import command, command_codes, consts

from chatgate.channels.sms_smpp_pdu import (
    ProtocolError,
    pdu,
    read_pdu,
    receipt_text,
    response,
    text_field,
)
from chatgate.channels.sms_smpp_text import (
    GSM7,
    UCS2,
    UDHI,
    concatenation_header,
    decode_text,
    is_gsm7,
    split_encoded,
    split_udh,
)
from chatgate.emulators.core import Fault

log = structlog.get_logger(__name__)

RESPONSE_BIT = 0x80000000
BIND_COMMANDS = frozenset({"bind_transceiver", "bind_transmitter", "bind_receiver"})
FAULT_STATUSES = {
    "rate_limit": consts.SMPP_ESME_RTHROTTLED,
    "server_error": consts.SMPP_ESME_RSYSERR,
    "permanent": consts.SMPP_ESME_RSUBMITFAIL,
    "invalid_recipient": consts.SMPP_ESME_RINVDSTADR,
}

FaultSource = Callable[[str], Fault | None]
PasswordSource = Callable[[str], str | None]


@dataclass
class Submitted:
    """A ``submit_sm`` the SMSC accepted (or refused: ``status`` is not 0)."""

    system_id: str
    message_id: str | None
    status: int
    fields: dict[str, Any]
    text: str
    at: float


@dataclass(eq=False)  # links are kept in a set, by identity
class _Link:
    """One ESME connection."""

    writer: asyncio.StreamWriter
    system_id: str | None = None
    receives: bool = False
    sequence: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    waiting: dict[int, asyncio.Future[int]] = field(default_factory=dict)

    def send(self, data: bytes) -> None:
        self.writer.write(data)


class Smsc:
    """The SMSC's accounts, sessions, log of submits, and outgoing queue."""

    def __init__(
        self,
        faults: FaultSource | None = None,
        passwords: PasswordSource | None = None,
        on_submit: Callable[[Submitted], None] | None = None,
    ) -> None:
        self.passwords: dict[str, str] = {}
        self.password_of: PasswordSource = passwords or self.passwords.get
        self.on_submit = on_submit
        self.submitted: list[Submitted] = []
        self.receipt_delay: float | None = 0.05
        self.receipt_stat = "DELIVRD"
        # "hex" as submit_sm_resp wrote it, or "decimal": the spelling quirk of some SMSCs.
        self.receipt_id_format = "hex"
        self.refuse_binds = 0
        self.binds: list[tuple[str, int]] = []
        # The system_id of each session that unbound itself, in order.
        self.unbinds: list[str] = []
        self.enquire_links = 0
        # deliver_sm the ESME acknowledged, in order; a refused one is offered again later.
        self.delivered: list[dict[str, Any]] = []
        self.redeliver_seconds = 0.1
        self.refused_deliveries = 0
        self.faults = faults or (lambda recipient: None)
        self._links: set[_Link] = set()
        self._outbox: dict[str, list[dict[str, Any]]] = {}
        # Hex ids with letters in them, so that a decimal spelling is plainly another one.
        self._ids = itertools.count(0xA0000000)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._refs = itertools.count(1)
        self.port = 0

    # -- the server ---------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen (once); the port."""
        if self._server is None:
            self._server = await asyncio.start_server(self._serve, host, port)
            self.port = self._server.sockets[0].getsockname()[1]
            log.info("smsc.listening", host=host, port=self.port)
        return self.port

    async def stop(self) -> None:
        """Close every connection and stop listening."""
        if self._server is not None:
            self._server.close()
        for link in list(self._links):
            link.writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2.0):
                    await self._server.wait_closed()
        self._server = None

    def reset(self) -> None:
        """Forget accounts, submits, queued deliveries and settings (connections stay)."""
        self.passwords.clear()
        self.submitted.clear()
        self._outbox.clear()
        self.binds.clear()
        self.unbinds.clear()
        self.delivered.clear()
        self.receipt_delay = 0.05
        self.receipt_stat = "DELIVRD"
        self.receipt_id_format = "hex"
        self.refuse_binds = 0
        self.enquire_links = 0

    def bound(self, system_id: str) -> int:
        """How many sessions of ``system_id`` are bound now."""
        return sum(1 for link in self._links if link.system_id == system_id)

    def drop(self, system_id: str | None = None) -> int:
        """Close every connection (of ``system_id``); how many were closed."""
        dropped = [k for k in self._links if system_id is None or k.system_id == system_id]
        for link in dropped:
            link.writer.close()
        return len(dropped)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = _Link(writer)
        self._links.add(link)
        try:
            while True:
                incoming = await read_pdu(reader)
                self._handle(link, incoming)
        except (asyncio.IncompleteReadError, ConnectionError, ProtocolError, OSError):
            pass
        finally:
            self._links.discard(link)
            for future in link.waiting.values():
                if not future.done():
                    future.set_result(-1)
            writer.close()

    def _handle(self, link: _Link, incoming: command.Command) -> None:
        name = incoming.command
        if command_codes.get_command_code(name) & RESPONSE_BIT:
            future = link.waiting.pop(incoming.sequence, None)
            if future is not None and not future.done():
                future.set_result(incoming.status)
        elif name in BIND_COMMANDS:
            self._bind(link, incoming)
        elif link.system_id is None:
            resp = "generic_nack" if name == "enquire_link" else f"{name}_resp"
            link.send(response(resp, incoming.sequence, consts.SMPP_ESME_RINVBNDSTS))
        elif name == "enquire_link":
            self.enquire_links += 1
            link.send(response("enquire_link_resp", incoming.sequence))
        elif name == "unbind":
            self.unbinds.append(link.system_id)
            link.send(response("unbind_resp", incoming.sequence))
            link.system_id = None
            link.writer.close()
        elif name == "submit_sm":
            self._submit(link, incoming)
        else:
            link.send(response("generic_nack", incoming.sequence, consts.SMPP_ESME_RINVCMDID))

    def _bind(self, link: _Link, bind: command.Command) -> None:
        system_id = text_field(bind.system_id)
        password = text_field(bind.password)
        answer = f"{bind.command}_resp"
        status = consts.SMPP_ESME_ROK
        if link.system_id is not None:
            status = consts.SMPP_ESME_RALYBND
        elif self.refuse_binds > 0:
            self.refuse_binds -= 1
            status = consts.SMPP_ESME_RBINDFAIL
        elif self.password_of(system_id) is None:
            status = consts.SMPP_ESME_RINVSYSID
        elif self.password_of(system_id) != password:
            status = consts.SMPP_ESME_RINVPASWD
        self.binds.append((system_id, status))
        if status != consts.SMPP_ESME_ROK:
            link.send(response(answer, bind.sequence, status))
            return
        link.system_id = system_id
        link.receives = bind.command != "bind_transmitter"
        link.send(response(answer, bind.sequence, system_id="chatgate-smsc"))
        self._spawn(self._flush(system_id))

    # -- submits ------------------------------------------------------------------------

    def _submit(self, link: _Link, submit: command.Command) -> None:
        assert link.system_id is not None
        fields = _fields(submit)
        text = _text_of(submit)
        fault = self.faults(fields["destination_addr"])
        if fault is not None and fault.kind == "timeout":
            self._log(link.system_id, None, 0, fields, text)
            return
        status = FAULT_STATUSES.get(fault.kind, consts.SMPP_ESME_ROK) if fault else 0
        if status:
            self._log(link.system_id, None, status, fields, text)
            link.send(response("submit_sm_resp", submit.sequence, status))
            return
        message_id = format(next(self._ids), "x")
        self._log(link.system_id, message_id, 0, fields, text)
        if fault is not None and fault.kind == "answer_lost":
            link.writer.close()  # the message is kept, but its resp never leaves
        else:
            link.send(response("submit_sm_resp", submit.sequence, message_id=message_id))
        failed = fault is not None and fault.kind == "async_failure"
        if (submit.registered_delivery or 0) & 0x03 and self.receipt_delay is not None:
            stat = "UNDELIV" if failed else self.receipt_stat
            self._spawn(self._receipt_later(link.system_id, message_id, fields, stat))

    def _log(
        self, system_id: str, message_id: str | None, status: int, fields: dict[str, Any], text: str
    ) -> None:
        entry = Submitted(system_id, message_id, status, fields, text, time.time())
        self.submitted.append(entry)
        if self.on_submit is not None:
            self.on_submit(entry)

    async def _receipt_later(
        self, system_id: str, message_id: str, fields: dict[str, Any], stat: str
    ) -> None:
        await asyncio.sleep(self.receipt_delay or 0.0)
        self.receipt(system_id, message_id, stat, fields["destination_addr"], fields["source_addr"])

    def receipt(
        self, system_id: str, message_id: str, stat: str, user: str = "", sender: str = ""
    ) -> None:
        """Queue a delivery receipt of ``message_id`` (as ``submit_sm_resp`` wrote it)."""
        spelt = str(int(message_id, 16)) if self.receipt_id_format == "decimal" else message_id
        text = receipt_text(spelt, stat, "000" if stat == "DELIVRD" else "001", datetime.now(UTC))
        state = {"DELIVRD": 2, "EXPIRED": 3, "DELETED": 4, "UNDELIV": 5, "REJECTD": 8}
        self.queue(
            system_id,
            {
                "source_addr": user,
                "destination_addr": sender,
                "esm_class": 0x04,
                "data_coding": 0,
                "short_message": text.encode("ascii"),
                "receipted_message_id": spelt,
                "message_state": state.get(stat, 7),
            },
        )

    # -- what the SMSC sends ------------------------------------------------------------

    def mo(self, system_id: str, sender: str, recipient: str, text: str) -> int:
        """Queue a user's message to the account, split when long; how many parts."""
        gsm = is_gsm7(text)
        single = 160 if gsm else 140
        whole = split_encoded(text, gsm, 10_000)[0]
        chunks = [whole] if len(whole) <= single else split_encoded(text, gsm, 153 if gsm else 134)
        reference = next(self._refs) & 0xFF
        for seq, chunk in enumerate(chunks, start=1):
            many = len(chunks) > 1
            header = concatenation_header(reference, len(chunks), seq) if many else b""
            self.queue(
                system_id,
                {
                    "source_addr": sender.removeprefix("+"),
                    "source_addr_ton": 1,
                    "source_addr_npi": 1,
                    "destination_addr": recipient.removeprefix("+"),
                    "esm_class": UDHI if many else 0,
                    "data_coding": GSM7 if gsm else UCS2,
                    "short_message": header + chunk,
                },
            )
        return len(chunks)

    def queue(self, system_id: str, fields: dict[str, Any]) -> None:
        """Deliver a ``deliver_sm`` to the account now, or on its next bind."""
        self._outbox.setdefault(system_id, []).append(fields)
        self._spawn(self._flush(system_id))

    async def _flush(self, system_id: str) -> None:
        queue = self._outbox.get(system_id, [])
        while queue:
            link = next((k for k in self._links if k.system_id == system_id and k.receives), None)
            if link is None:
                return  # kept for the next bind
            fields = queue.pop(0)
            if not await self._deliver(link, fields):
                self.refused_deliveries += 1
                queue.insert(0, fields)
                # As an SMSC does, try again a little later (or on the next bind).
                self._spawn(self._flush_later(system_id))
                return
            self.delivered.append(fields)

    async def _flush_later(self, system_id: str) -> None:
        await asyncio.sleep(self.redeliver_seconds)
        await self._flush(system_id)

    async def ping(self, system_id: str) -> bool:
        """Send ``enquire_link`` to a bound session of ``system_id``; whether it answered."""
        link = next((k for k in self._links if k.system_id == system_id), None)
        if link is None:
            return False
        sequence = next(link.sequence)
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        link.waiting[sequence] = future
        try:
            link.send(bytes(pdu("enquire_link", sequence).generate()))
            async with asyncio.timeout(5.0):
                status = await future
            return bool(status == consts.SMPP_ESME_ROK)
        except (TimeoutError, ConnectionError, OSError):
            return False
        finally:
            link.waiting.pop(sequence, None)

    async def _deliver(self, link: _Link, fields: dict[str, Any]) -> bool:
        sequence = next(link.sequence)
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        link.waiting[sequence] = future
        try:
            link.send(bytes(pdu("deliver_sm", sequence, **fields).generate()))
            async with asyncio.timeout(10.0):
                status = await future
        except (TimeoutError, ConnectionError, OSError):
            return False
        finally:
            link.waiting.pop(sequence, None)
        return bool(status == consts.SMPP_ESME_ROK)


def _fields(submit: command.Command) -> dict[str, Any]:
    message = submit.short_message or b""
    return {
        "source_addr_ton": submit.source_addr_ton or 0,
        "source_addr_npi": submit.source_addr_npi or 0,
        "source_addr": text_field(submit.source_addr),
        "dest_addr_ton": submit.dest_addr_ton or 0,
        "dest_addr_npi": submit.dest_addr_npi or 0,
        "destination_addr": text_field(submit.destination_addr),
        "esm_class": submit.esm_class or 0,
        "registered_delivery": submit.registered_delivery or 0,
        "data_coding": submit.data_coding or 0,
        "short_message": message.hex(),
    }


def _text_of(submit: command.Command) -> str:
    octets = submit.short_message or b""
    if (submit.esm_class or 0) & UDHI:
        _, octets = split_udh(octets)
    return decode_text(octets, submit.data_coding or 0)
