"""SMPP 3.4 PDUs on an asyncio stream, built and parsed with smpplib.

smpplib's own client is blocking; only its PDU classes are used here. A PDU is read as its
16-byte header (``command_length``, ``command_id``, ``command_status``,
``sequence_number``, big-endian), then ``command_length - 16`` body octets, and the whole is
handed to :func:`smpplib.smpp.parse_pdu`. Sequence numbers are always given explicitly
(smpplib would otherwise ask a client object for one).

Delivery receipts are read from both places SMSCs put them: the ``receipted_message_id``
and ``message_state`` TLVs, and the Appendix B text (``id:… sub:… dlvrd:… submit date:…
done date:… stat:DELIVRD err:… text:…``). An id may come back spelt otherwise than
``submit_sm_resp`` wrote it (hex or decimal): :func:`id_spellings` lists the spellings.
"""

from __future__ import annotations

import asyncio
import re
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from smpplib import command, consts
from smpplib.smpp import make_pdu, parse_pdu

HEADER = struct.Struct(">LLLL")
# Nothing we exchange comes near this; a larger length is a broken or hostile peer.
MAX_PDU = 64 * 1024
RECEIPT_BIT = 0x04  # esm_class: SMSC delivery receipt
MESSAGE_TYPE_MASK = 0x3C

# message_state TLV values (SMPP 3.4 §5.2.28) and the receipt text's stat words.
MESSAGE_STATES = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
}
_RECEIPT_FIELD = re.compile(
    r"(id|sub|dlvrd|submit date|done date|stat|err):\s*(\S*)", re.IGNORECASE
)


class ProtocolError(Exception):
    """The peer sent something that is not an SMPP PDU."""


async def read_pdu(reader: asyncio.StreamReader) -> command.Command:
    """The next PDU on ``reader``; ``asyncio.IncompleteReadError`` when the peer closes."""
    header = await reader.readexactly(HEADER.size)
    length, command_id, _, _ = HEADER.unpack(header)
    if length < HEADER.size or length > MAX_PDU:
        raise ProtocolError(f"command_length {length} is out of range")
    body = await reader.readexactly(length - HEADER.size) if length > HEADER.size else b""
    try:
        # A sequence is given so that smpplib does not ask a client for one; parse sets it.
        pdu = parse_pdu(header + body, sequence=0, allow_unknown_opt_params=True)
    except Exception as exc:  # smpplib raises several kinds on a malformed body
        raise ProtocolError(f"command 0x{command_id:08x} could not be parsed") from exc
    if pdu is None:
        raise ProtocolError(f"unknown command 0x{command_id:08x}")
    found: command.Command = pdu
    return found


def pdu(name: str, sequence: int, **fields: Any) -> command.Command:
    """A PDU named as smpplib names it (``"submit_sm"``...), with ``sequence``."""
    built: command.Command = make_pdu(name, sequence=sequence, client=None, **fields)
    # smpplib keeps a given sequence only when its dummy client has none: set it outright.
    built.sequence = sequence
    return built


def response(name: str, sequence: int, status: int = consts.SMPP_ESME_ROK, **fields: Any) -> bytes:
    """The encoded response ``name`` to the request numbered ``sequence``."""
    answer = pdu(name, sequence, **fields)
    answer.status = status
    return bytes(answer.generate())


def text_field(value: Any) -> str:
    """A C-string field as smpplib parsed it (bytes) or set it (str), as text."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return str(value)


def id_spellings(message_id: str) -> tuple[str, ...]:
    """Every spelling under which an SMSC may name the message ``message_id`` again.

    SMSCs write a receipt's id in hex or in decimal whatever ``submit_sm_resp`` used, with
    or without leading zeros, in either case: the id as given (trimmed) comes first, then
    its lower-case form, its decimal reading of a hex spelling and its hex reading of a
    decimal one.
    """
    given = message_id.strip()
    found = [given, given.lower()]
    text = given.lower().removeprefix("0x")
    if text and len(text) <= 16 and all(c in "0123456789abcdef" for c in text):
        number = int(text, 16)
        found += [str(number), format(number, "x")]
    if text.isdigit() and len(text) <= 20:
        found += [str(int(text)), format(int(text), "x")]
    return tuple(dict.fromkeys(found))


@dataclass(frozen=True, slots=True)
class Receipt:
    """A delivery receipt: which message, its final (or interim) state, when."""

    message_id: str
    stat: str
    error: str | None
    done_at: datetime | None
    text: str


def is_receipt(deliver_sm: command.Command) -> bool:
    """Whether a ``deliver_sm`` is an SMSC delivery receipt (not a user's message)."""
    return bool((deliver_sm.esm_class or 0) & MESSAGE_TYPE_MASK & RECEIPT_BIT)


def _receipt_time(value: str) -> datetime | None:
    # YYMMDDhhmm, sometimes with seconds; the SMSC's clock, taken as UTC.
    layout = {10: "%y%m%d%H%M", 12: "%y%m%d%H%M%S"}.get(len(value))
    if layout is None or not value.isdigit():
        return None
    try:
        return datetime.strptime(value, layout).replace(tzinfo=UTC)
    except ValueError:
        return None


def parse_receipt(deliver_sm: command.Command) -> Receipt | None:
    """The receipt a ``deliver_sm`` carries; ``None`` when it names no message.

    The TLVs win over the text where both are present: they are typed, the text is
    free-form and varies by SMSC.
    """
    raw = deliver_sm.short_message or getattr(deliver_sm, "message_payload", None) or b""
    text = raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)
    fields = {name.lower(): value for name, value in _RECEIPT_FIELD.findall(text)}
    message_id = text_field(getattr(deliver_sm, "receipted_message_id", None)) or fields.get(
        "id", ""
    )
    state = getattr(deliver_sm, "message_state", None)
    stat = MESSAGE_STATES.get(state, "") if isinstance(state, int) else ""
    stat = stat or fields.get("stat", "").upper() or "UNKNOWN"
    if not message_id:
        return None
    error = fields.get("err")
    return Receipt(
        message_id=message_id.strip(),
        stat=stat,
        error=None if error in (None, "", "000", "0") else error,
        done_at=_receipt_time(fields.get("done date", "")),
        text=text,
    )


def receipt_text(message_id: str, stat: str, error: str, at: datetime) -> str:
    """The Appendix B receipt text an SMSC writes (the emulator's, and tests')."""
    stamp = at.strftime("%y%m%d%H%M")
    delivered = "001" if stat == "DELIVRD" else "000"
    return (
        f"id:{message_id} sub:001 dlvrd:{delivered} submit date:{stamp} done date:{stamp} "
        f"stat:{stat} err:{error} text:"
    )
