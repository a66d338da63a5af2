"""What the SMSC's ``deliver_sm`` PDUs mean to us: receipts of our parts, users' messages.

Two pieces of state live here, per channel connection and across reconnects (they belong to
the connection, not to one TCP session):

- :class:`PartTracker` knows the parts of every message sent recently. A message of
  several parts is known to the gateway by all its parts' ids (``"id1,id2,..."``, see
  :func:`platform_id`); each part's receipt is matched to its part (under any spelling of
  its id, hex or decimal), and the message is reported ``delivered`` once every part is,
  ``failed`` as soon as one fails. A receipt for a part whose message is not complete yet
  (a part's receipt can overtake the next part's ``submit_sm_resp``) is kept until it is.
  A receipt of an id the tracker does not know (sent before a restart) is passed on under
  the id as the SMSC wrote it, which matches a single-part message.
- :class:`Reassembly` joins a user's long message from its parts (by the UDH's reference,
  total and number, or the SAR TLVs) and yields it once whole.

Receipt states map to ours: ``DELIVRD`` delivered; ``UNDELIV``, ``EXPIRED``, ``DELETED``,
``REJECTD`` failed; ``ENROUTE`` and ``ACCEPTD`` sent; anything else unknown.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from smpplib import command

from chatgate.channels.base import InboundEvent, InboundMessage, StatusUpdate, UnknownEvent
from chatgate.channels.sms_smpp_pdu import (
    Receipt,
    id_spellings,
    is_receipt,
    parse_receipt,
    text_field,
)
from chatgate.channels.sms_smpp_text import UDHI, Concatenation, decode_text, split_udh
from chatgate.domain.status import Status

STATUS_MAP: dict[str, Status] = {
    "DELIVRD": Status.DELIVERED,
    "UNDELIV": Status.FAILED,
    "EXPIRED": Status.FAILED,
    "DELETED": Status.FAILED,
    "REJECTD": Status.FAILED,
    "ENROUTE": Status.SENT,
    "ACCEPTD": Status.SENT,
}
# The provider message id column holds 256 characters; a longer list keeps the first id.
MAX_PLATFORM_ID = 256
PART_SEPARATOR = ","


def platform_id(part_ids: Sequence[str]) -> str:
    """The id the gateway keeps for a message sent as ``part_ids`` (in order)."""
    joined = PART_SEPARATOR.join(part_ids)
    return joined if len(joined) <= MAX_PLATFORM_ID else part_ids[0]


def map_stat(stat: str) -> Status:
    """Our status for a receipt's ``stat`` word."""
    return STATUS_MAP.get(stat.upper(), Status.UNKNOWN)


@dataclass
class _Sent:
    """One message's parts as they are answered and receipted."""

    ids: list[str | None]
    receipts: list[Receipt | None]
    raws: list[Any]
    reported: bool = False
    at: float = field(default_factory=time.monotonic)


class PartTracker:
    """Recent messages' parts, so that each part's receipt finds its message."""

    def __init__(self, max_messages: int = 100_000, keep_seconds: float = 3 * 24 * 3600) -> None:
        self.max_messages = max_messages
        self.keep_seconds = keep_seconds
        self._messages: OrderedDict[int, _Sent] = OrderedDict()
        self._by_part: dict[str, tuple[int, int]] = {}
        self._tokens = iter(range(1, 2**62))

    def expect(self, parts: int) -> int:
        """Start tracking a message of ``parts`` parts; its token."""
        self._forget_old()
        token = next(self._tokens)
        self._messages[token] = _Sent([None] * parts, [None] * parts, [None] * parts)
        return token

    def part_sent(self, token: int, index: int, part_id: str) -> list[StatusUpdate]:
        """Part ``index`` of message ``token`` got ``part_id``; a status it completes."""
        sent = self._messages.get(token)
        if sent is None:
            return []
        sent.ids[index] = part_id
        for spelling in id_spellings(part_id):
            self._by_part[spelling] = (token, index)
        return self._settled(sent)

    def abandon(self, token: int) -> None:
        """Stop tracking a message whose send failed part-way."""
        sent = self._messages.pop(token, None)
        if sent is not None:
            self._unindex(sent)

    def receipt(self, receipt: Receipt, raw: Any) -> list[StatusUpdate]:
        """The status updates a part's receipt brings (none while parts are outstanding)."""
        found = next(
            (self._by_part[s] for s in id_spellings(receipt.message_id) if s in self._by_part),
            None,
        )
        if found is None:
            return [_update(receipt.message_id, receipt, raw)]
        token, index = found
        sent = self._messages.get(token)
        if sent is None:
            return []
        sent.receipts[index] = receipt
        sent.raws[index] = raw
        return self._settled(sent)

    def _settled(self, sent: _Sent) -> list[StatusUpdate]:
        if sent.reported or any(part is None for part in sent.ids):
            return []
        ids = [part for part in sent.ids if part is not None]
        statuses = [map_stat(r.stat) if r else None for r in sent.receipts]
        failed = next((i for i, s in enumerate(statuses) if s is Status.FAILED), None)
        if failed is not None:
            chosen = failed
        elif all(s is Status.DELIVERED for s in statuses):
            chosen = len(statuses) - 1
        elif len(ids) == 1 and statuses[0] is not None:
            chosen = 0  # a single part's interim state is worth passing on
        else:
            return []
        receipt = sent.receipts[chosen]
        assert receipt is not None
        final = statuses[chosen] in (Status.FAILED, Status.DELIVERED)
        if final:
            sent.reported = True
        raw = sent.raws[chosen] if len(ids) == 1 else [r for r in sent.raws if r is not None]
        return [_update(platform_id(ids), receipt, raw)]

    def _unindex(self, sent: _Sent) -> None:
        for part in sent.ids:
            for spelling in id_spellings(part) if part else ():
                self._by_part.pop(spelling, None)

    def _forget_old(self) -> None:
        cutoff = time.monotonic() - self.keep_seconds
        while self._messages:
            token, sent = next(iter(self._messages.items()))
            if len(self._messages) < self.max_messages and sent.at > cutoff:
                break
            self._messages.pop(token)
            self._unindex(sent)


def _update(provider_id: str, receipt: Receipt, raw: Any) -> StatusUpdate:
    status = map_stat(receipt.stat)
    failed = status is Status.FAILED
    return StatusUpdate(
        status=status,
        platform_status=receipt.stat,
        at=receipt.done_at or datetime.now(UTC),
        raw=raw,
        provider_message_id=provider_id,
        error_code=(receipt.error or receipt.stat) if failed else None,
        error_message=f"the SMSC reported {receipt.stat}" if failed else None,
    )


def describe(deliver_sm: command.Command) -> dict[str, Any]:
    """A ``deliver_sm`` as JSON-friendly facts, kept as an event's raw payload."""
    message = deliver_sm.short_message or b""
    return {
        "command": "deliver_sm",
        "sequence_number": deliver_sm.sequence,
        "source_addr": text_field(deliver_sm.source_addr),
        "destination_addr": text_field(deliver_sm.destination_addr),
        "esm_class": deliver_sm.esm_class or 0,
        "data_coding": deliver_sm.data_coding or 0,
        "short_message": message.hex() if isinstance(message, bytes) else str(message),
        "receipted_message_id": text_field(getattr(deliver_sm, "receipted_message_id", None))
        or None,
        "message_state": getattr(deliver_sm, "message_state", None),
    }


@dataclass
class _Partial:
    parts: dict[int, str]
    total: int
    raws: list[dict[str, Any]] = field(default_factory=list)
    at: float = field(default_factory=time.monotonic)


class Reassembly:
    """Long messages from users, joined from their parts."""

    def __init__(self, keep_seconds: float = 600.0) -> None:
        self.keep_seconds = keep_seconds
        self._partial: dict[tuple[str, str, int, int], _Partial] = {}

    def add(self, deliver_sm: command.Command) -> InboundMessage | None:
        """The whole message once this part completes it (at once for a single part)."""
        sender = text_field(deliver_sm.source_addr)
        recipient = text_field(deliver_sm.destination_addr)
        octets = deliver_sm.short_message or getattr(deliver_sm, "message_payload", None) or b""
        concatenation: Concatenation | None = None
        if (deliver_sm.esm_class or 0) & UDHI:
            concatenation, octets = split_udh(octets)
        elif getattr(deliver_sm, "sar_total_segments", None):
            concatenation = Concatenation(
                deliver_sm.sar_msg_ref_num or 0,
                deliver_sm.sar_total_segments,
                deliver_sm.sar_segment_seqnum or 1,
            )
        text = decode_text(octets, deliver_sm.data_coding or 0)
        if concatenation is None or concatenation.total <= 1:
            return _message(sender, recipient, text, [describe(deliver_sm)])
        self._forget_old()
        key = (sender, recipient, concatenation.reference, concatenation.total)
        partial = self._partial.setdefault(key, _Partial({}, concatenation.total))
        partial.parts[concatenation.seq] = text
        partial.raws.append(describe(deliver_sm))
        if len(partial.parts) < partial.total:
            return None
        del self._partial[key]
        whole = "".join(partial.parts[seq] for seq in sorted(partial.parts))
        return _message(sender, recipient, whole, partial.raws)

    def _forget_old(self) -> None:
        cutoff = time.monotonic() - self.keep_seconds
        for key in [k for k, p in self._partial.items() if p.at < cutoff]:
            del self._partial[key]


def _message(sender: str, recipient: str, text: str, raw: Any) -> InboundMessage:
    # An MO deliver_sm carries no message id: each gets one of ours. The SMSC delivers it
    # again only if we did not answer, and we answer after recording it.
    return InboundMessage(
        provider_message_id=f"mo_{uuid.uuid4().hex}",
        sender=_plus(sender),
        recipient=_plus(recipient),
        content={"type": "text", "text": text},
        at=datetime.now(UTC),
        raw=raw,
    )


def _plus(number: str) -> str:
    """A phone number in E.164 as the gateway writes them (SMSCs drop the plus); a short
    code or an alphanumeric name stays as it is."""
    return f"+{number}" if number.isdigit() and len(number) > 6 else number


class ConnectionInbound:
    """The deliver_sm of one channel connection, turned into events."""

    def __init__(self) -> None:
        self.tracker = PartTracker()
        self.reassembly = Reassembly()

    def events(self, deliver_sm: command.Command) -> list[InboundEvent]:
        """What one ``deliver_sm`` brings: status updates, a whole message, or nothing yet."""
        if is_receipt(deliver_sm):
            receipt = parse_receipt(deliver_sm)
            if receipt is None:
                return [UnknownEvent(kind="smpp_receipt_without_id", raw=describe(deliver_sm))]
            return list(self.tracker.receipt(receipt, describe(deliver_sm)))
        message = self.reassembly.add(deliver_sm)
        return [message] if message is not None else []
