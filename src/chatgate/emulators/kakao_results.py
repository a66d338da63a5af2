"""What the emulated NHN keeps of each accepted recipient, and how its reads show it.

One :class:`Result` per recipient of an accepted request: the result query answers with one
(:meth:`Result.query`), the result webhook carries one (:meth:`Result.hook`), and List
Messages (``GET .../messages``) a page of those its query selects (:func:`search`).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from chatgate.channels.kakao_parse import KST

ALIMTALK = "/alimtalk/v2.3/appkeys/{app_key}"
BRAND = "/brand-message/v1.0/appkeys/{app_key}"
DELIVERED = "1000"
MESSAGE_TYPES = {
    "alimtalk": "ALIMTALK_NORMAL",
    "brand": "BRAND_MESSAGE_NORMAL",
}
# The fields of a listed message: what the result query answers, less the product's own.
LISTED = (
    "requestId",
    "recipientSeq",
    "senderKey",
    "templateCode",
    "recipientNo",
    "requestDate",
    "createDate",
    "receiveDate",
    "messageStatus",
    "resultCode",
    "resultCodeName",
    "senderGroupingKey",
    "recipientGroupingKey",
)
# List Messages filters that name a field of the listed message, compared as given.
EQUAL_FILTERS = (
    "requestId",
    "recipientNo",
    "senderKey",
    "templateCode",
    "senderGroupingKey",
    "recipientGroupingKey",
    "messageStatus",
)
# How long NHN refuses a send key it accepted.
KEY_SECONDS = 600.0
# List Messages' delivery-result filter: MRC01 Kakao's success, MRC02 a failure.
RESULT_FILTERS = {"MRC01": True, "MRC02": False}


def _kst(at: float | None = None) -> str:
    moment = datetime.fromtimestamp(time.time() if at is None else at, UTC).astimezone(KST)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class Result:
    """One recipient of one accepted request, and what Kakao said of it (once it has)."""

    product: str
    account: str
    request_id: str
    seq: int
    body: dict[str, Any]
    recipient: dict[str, Any]
    requested: float = field(default_factory=time.time)
    result_code: str | None = None
    result_name: str | None = None
    received: float | None = None

    def query(self, sender_key: str) -> dict[str, Any]:
        """The ``message`` of a result query's answer."""
        done = self.result_code is not None
        return {
            "requestId": self.request_id,
            "recipientSeq": self.seq,
            "senderKey": sender_key,
            "templateCode": self.body.get("templateCode"),
            "recipientNo": self.recipient["recipientNo"],
            "content": self.body.get("content"),
            "requestDate": _kst(self.requested),
            "createDate": _kst(self.requested),
            "receiveDate": _kst(self.received) if self.received else None,
            "resendStatus": "RSC01",
            "resendStatusName": "No target of resending",
            # NHN's documented states are COMPLETED, FAILED and CANCEL; before Kakao answers
            # the emulator says SENDING (an in-between state NHN's list does not name).
            "messageStatus": (
                "SENDING"
                if not done
                else "COMPLETED"
                if self.result_code == DELIVERED
                else "FAILED"
            ),
            "resultCode": self.result_code,
            "resultCodeName": self.result_name,
            "senderGroupingKey": self.body.get("senderGroupingKey"),
            "recipientGroupingKey": self.recipient.get("recipientGroupingKey"),
        }

    def hook(self) -> dict[str, Any]:
        """One ``hooks`` item of a ``MESSAGE_RESULT_UPDATE`` webhook."""
        return {
            "kakaoMessageType": MESSAGE_TYPES[self.product],
            "requestId": self.request_id,
            "recipientSeq": self.seq,
            "requestDate": _kst(self.requested),
            "createDate": _kst(self.requested),
            "receiveDate": _kst(self.received),
            "recipientNo": self.recipient["recipientNo"],
            "resultCode": self.result_code,
            "senderGroupingKey": self.body.get("senderGroupingKey"),
            "recipientGroupingKey": self.recipient.get("recipientGroupingKey"),
            "_links": {"self": {"href": self.href}},
            "hookId": secrets.token_hex(12),
        }

    @property
    def href(self) -> str:
        """The result query's path, as the webhook links it."""
        base = (ALIMTALK if self.product == "alimtalk" else BRAND).format(app_key=self.account)
        return f"{base}/messages/{self.request_id}/{self.seq}"

    def listed(self, sender_key: str) -> dict[str, Any]:
        """One ``messages`` item of a List Messages answer (the product's fields included)."""
        queried = self.query(sender_key)
        item = {name: queried[name] for name in LISTED}
        if self.product == "alimtalk":
            extra = ("content", "resendStatus", "resendStatusName")
            return {**item, **{name: queried[name] for name in extra}}
        return {
            **item,
            "targeting": self.recipient.get("targeting"),
            "chatBubbleType": self.body.get("chatBubbleType"),
            "pushAlarm": self.body.get("pushAlarm", True),
            "isAddedChannel": True,
            "resendStatusCode": "RSC01",
            "resendStatusName": "No target of resending",
        }


@dataclass
class AppState:
    """What one NHN app keeps: its accepted recipients, and the send keys it accepted."""

    results: dict[tuple[str, int], Result] = field(default_factory=dict)
    # X-NC-API-IDEMPOTENCY-KEY -> when a send with it was accepted
    keys: dict[str, float] = field(default_factory=dict)

    def holds(self, key: str) -> bool:
        """Whether a send with ``key`` was accepted less than ten minutes ago."""
        accepted = self.keys.get(key)
        return accepted is not None and time.time() - accepted < KEY_SECONDS


def search(
    results: Iterable[Result],
    query: Mapping[str, str],
    span: tuple[datetime, datetime] | None,
    sender_key: str,
) -> list[dict[str, Any]]:
    """The listed messages ``query`` selects, in the order they were requested.

    ``span`` holds the first and the last minute asked for; a request in the last minute
    is in it.
    """
    found = []
    for result in results:
        item = result.listed(sender_key)
        if any(name in query and str(item[name]) != query[name] for name in EQUAL_FILTERS):
            continue
        wanted = RESULT_FILTERS.get(query.get("resultCode", ""))
        if wanted is not None and (
            item["resultCode"] is None or ((item["resultCode"] == DELIVERED) != wanted)
        ):
            continue
        if span is not None:
            start, end = span
            requested = datetime.fromtimestamp(result.requested, UTC)
            if not start <= requested < end + timedelta(minutes=1):
                continue
        found.append(item)
    return found
