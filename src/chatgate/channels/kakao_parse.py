"""NHN Cloud KakaoTalk Bizmessage answers and webhooks, read: errors, results, statuses.

- Every answer has ``header: {resultCode, resultMessage, isSuccessful}``; an error may come
  with HTTP 200, so the header decides, never the status alone. A send's
  ``message.sendResults[]`` has one ``resultCode`` per recipient as well.
- A message's platform id is ``"{requestId}:{recipientSeq}"``: NHN numbers recipients
  within a request, and its webhooks and result queries name both.
- The result webhook (``event: "MESSAGE_RESULT_UPDATE"``) carries ``hooks[]``, one per
  recipient, each with Kakao's delivery ``resultCode`` (``"1000"`` delivered; the 3xxx
  and 1xxx codes failures). Other events (template review: ``TEMPLATE_STATUS_UPDATE``...)
  are kept as unknown.

Kakao AlimTalk and brand messages are one-way: users cannot write to the business through
this API, so there are no inbound messages to read, only results.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx

from chatgate.channels.base import (
    InboundEvent,
    ProviderError,
    StatusUpdate,
    UnknownEvent,
    error_from_status,
)
from chatgate.channels.kakao_build import e164
from chatgate.domain.status import Status

RESULT_EVENT = "MESSAGE_RESULT_UPDATE"
DELIVERED = "1000"
# Kakao's delivery result codes (as NHN's webhooks and queries write them) and our status.
# 3005 ("sent, not confirmed") and 4000/4001 ("result unknown") are left unknown.
RESULT_STATUSES: Mapping[str, Status] = {
    DELIVERED: Status.DELIVERED,
    "1003": Status.FAILED,  # invalid sender key
    "1007": Status.FAILED,  # blocked sender
    "3008": Status.FAILED,  # phone number error
    "3015": Status.FAILED,  # template not found
    "3016": Status.FAILED,  # content does not match the template
    "3018": Status.FAILED,  # cannot send (inactive user, SIM mismatch)
    "3019": Status.FAILED,  # not a KakaoTalk user
    "3020": Status.FAILED,  # the user blocked AlimTalk
    "3021": Status.FAILED,  # KakaoTalk too old
    "3022": Status.FAILED,  # outside the hours brand messages may be sent
}
# NHN's own result codes worth another try: its system error (-9999) and a failed call to
# Kakao behind it (-7000, "Vendor request API is failed"). Every other non-zero code names
# a fault in the request, the credentials or the sender profile.
RETRYABLE_CODES = frozenset({-9999, -7000})
# "The same 'X-NC-API-IDEMPOTENCY-KEY' was used within the last 10 minute.": a repeat.
REPEATED_KEY = "-1005"
# NHN writes its dates in Korean time without an offset.
KST = timezone(timedelta(hours=9))


def message_ref(request_id: Any, recipient_seq: Any) -> str:
    """Our platform id of one recipient of one NHN request."""
    return f"{request_id}:{recipient_seq}"


def split_ref(reference: str) -> tuple[str, str]:
    """``(requestId, recipientSeq)`` of a platform id; ``ValueError`` when it is not one."""
    request_id, sep, seq = reference.rpartition(":")
    if not sep or not request_id or not seq.isdigit():
        raise ValueError(f"not an NHN message reference: {reference!r}")
    return request_id, seq


def header_error(answer: Any, status: int, headers: httpx.Headers | None = None) -> ProviderError:
    """The :class:`ProviderError` of a refused call (``header.isSuccessful`` false or HTTP ≥ 400).

    HTTP 429, 408 and 5xx are worth another try, as is NHN's internal error (-9999) whatever
    the HTTP status; every other refusal is permanent.
    """
    header = answer.get("header") if isinstance(answer, Mapping) else None
    if isinstance(header, Mapping) and isinstance(header.get("resultCode"), int):
        code = int(header["resultCode"])
        message = str(header.get("resultMessage") or "refused")
        if code in RETRYABLE_CODES and status < 400:
            return ProviderError(str(code), message, retryable=True, status_code=status)
        if status >= 400:
            found = error_from_status(status, str(code), message, headers=headers)
            if code in RETRYABLE_CODES and not found.retryable:
                return ProviderError(str(code), message, retryable=True, status_code=status)
            return found
        return ProviderError(str(code), message, retryable=False, status_code=status)
    if status >= 400:
        return error_from_status(status, str(status), "NHN refused the call", headers=headers)
    return ProviderError("bad_response", "NHN answered without a result header", retryable=True)


def is_success(answer: Any) -> bool:
    """Whether an answer's header says the call succeeded."""
    header = answer.get("header") if isinstance(answer, Mapping) else None
    return isinstance(header, Mapping) and header.get("isSuccessful") is True


def sent_ref(answer: Mapping[str, Any]) -> str:
    """The platform id of a send's one recipient; raises :class:`ProviderError` if refused."""
    message = answer.get("message")
    results = message.get("sendResults") if isinstance(message, Mapping) else None
    if not isinstance(message, Mapping) or not isinstance(results, list) or not results:
        # Accepted but unnamed: trying again could send the message twice.
        raise ProviderError("bad_response", "the answer names no request id", retryable=False)
    result = results[0]
    code = result.get("resultCode") if isinstance(result, Mapping) else None
    if code != 0:
        text = result.get("resultMessage") if isinstance(result, Mapping) else None
        reason = str(text or "the recipient was refused")
        raise ProviderError(str(code), reason, retryable=code in RETRYABLE_CODES)
    if not message.get("requestId") or result.get("recipientSeq") is None:
        raise ProviderError("bad_response", "the answer names no request id", retryable=False)
    return message_ref(message["requestId"], result["recipientSeq"])


def listed_ref(answer: Any) -> str | None:
    """The platform id of the first message a List Messages answer names; ``None`` if none.

    The answer is ``{header, messageSearchResultResponse: {messages: [{requestId,
    recipientSeq, ...}], totalCount}}``, the same for AlimTalk and brand messages.
    """
    found = answer.get("messageSearchResultResponse") if isinstance(answer, Mapping) else None
    messages = found.get("messages") if isinstance(found, Mapping) else None
    for message in messages if isinstance(messages, list) else []:
        if not isinstance(message, Mapping):
            continue
        request_id, seq = message.get("requestId"), message.get("recipientSeq")
        if request_id and seq is not None:
            return message_ref(request_id, seq)
    return None


def kst_minute(at: float) -> str:
    """A unix time as NHN's list queries take their dates: ``yyyy-MM-dd HH:mm``, Korean time."""
    return datetime.fromtimestamp(at, KST).strftime("%Y-%m-%d %H:%M")


def parse_webhook(body: Any) -> list[InboundEvent]:
    """The events of one NHN webhook: a status per result hook, anything else unknown."""
    if not isinstance(body, dict) or not isinstance(body.get("event"), str):
        return [UnknownEvent(kind="unknown", raw=body)]
    event = body["event"]
    hooks = body.get("hooks")
    if event != RESULT_EVENT or not isinstance(hooks, list):
        return [UnknownEvent(kind=event.lower(), raw=body)]
    events: list[InboundEvent] = []
    for hook in hooks:
        update = result_update(hook) if isinstance(hook, dict) else None
        events.append(update if update is not None else UnknownEvent(kind="result", raw=hook))
    return events or [UnknownEvent(kind=event.lower(), raw=body)]


def result_status(code: str) -> Status:
    """Our status for a Kakao delivery result code (unknown when unmapped)."""
    return RESULT_STATUSES.get(code, Status.UNKNOWN)


def result_update(result: Mapping[str, Any], raw: Any = None) -> StatusUpdate | None:
    """A status from one result (a webhook hook or a queried message); ``None`` if unnamed."""
    request_id, seq, code = (result.get(k) for k in ("requestId", "recipientSeq", "resultCode"))
    if not request_id or seq is None or code in (None, ""):
        return None
    code = str(code)
    status = result_status(code)
    number = result.get("recipientNo")
    return StatusUpdate(
        status=status,
        platform_status=code,
        at=_time(result.get("receiveDate") or result.get("createDate")),
        raw=result if raw is None else raw,
        provider_message_id=message_ref(request_id, seq),
        recipient=e164(str(number)) if number else None,
        error_code=code if status is Status.FAILED else None,
        error_message=_text(result.get("resultCodeName")) if status is Status.FAILED else None,
    )


def queried_update(answer: Any) -> StatusUpdate | None:
    """The status in a result query's answer, or ``None`` while Kakao has not answered.

    ``messageStatus`` is ``COMPLETED`` or ``FAILED`` once the result is in (``CANCEL`` for a
    cancelled scheduled send); anything else means the message is still on its way.
    """
    message = answer.get("message") if isinstance(answer, Mapping) else None
    if not isinstance(message, Mapping):
        return None
    state = message.get("messageStatus")
    if state == "CANCEL":
        return StatusUpdate(
            status=Status.CANCELED,
            platform_status="CANCEL",
            at=datetime.now(UTC),
            raw=answer,
            provider_message_id=message_ref(message.get("requestId"), message.get("recipientSeq")),
        )
    if state not in ("COMPLETED", "FAILED"):
        return None
    return result_update(message, raw=answer)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _time(value: Any) -> datetime:
    if isinstance(value, str):
        for shape in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"):
            try:
                return datetime.strptime(value, shape).replace(tzinfo=KST).astimezone(UTC)
            except ValueError:
                continue
    return datetime.now(UTC)
