"""The messages of a Twilio account, as its Messages API fetches and lists them.

Every message the emulator creates or receives is kept with the number it went from or came
to (so that forgetting the accounts forgets it too) as the resource Twilio shows for it,
brought up to date as its status moves: ``queued``, then ``sent`` and ``delivered`` (or
``undelivered`` with its error); ``received`` for a user's message.

- ``GET .../Messages/{MessageSid}.json``: the resource; an unknown sid is ``404`` / 20404.
- ``GET .../Messages.json``: the account's messages, newest first, filtered by ``To``,
  ``From`` and the time they were sent, ``PageSize`` at a time (50 unless given, at most
  1000). The page carries Twilio's paging fields (``page``, ``page_size``, ``start``,
  ``end``, ``uri``, ``first_page_uri``, ``next_page_uri``, ``previous_page_uri``); the next
  and previous pages' URIs carry a ``PageToken`` naming the message the page starts after
  (``PA…``) or ends before (``PB…``). A value Twilio cannot read is ``400`` / 20001.

The time filters take a day (``YYYY-MM-DD``, GMT) or an ISO 8601 time, which is what
twilio-python writes, even for a day: ``DateSent`` reads the messages sent on that day,
``DateSent<`` those sent on or before it (a day meaning its midnight, as Twilio documents
it) and ``DateSent>`` those sent on or after it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import Response
from fastapi.responses import JSONResponse

from chatgate.emulators.core import Account
from chatgate.emulators.twilio_wire import API_VERSION, error, segments

MESSAGES = "messages"  # where a number's messages are kept in its account's ``extra``
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
# Filters Twilio reads, in the order its page URIs name them.
FILTERS = ("To", "From", "DateSent", "DateSent<", "DateSent>")
# Statuses reached once the carrier took the message: it has a ``date_sent`` from then on.
_SENT = frozenset({"sent", "delivered", "undelivered"})


@dataclass
class Kept:
    """A message resource and its place in the order messages were made."""

    order: int
    resource: dict[str, Any]


def now_rfc2822() -> str:
    """The time as Twilio's resources write it: ``Thu, 30 Jul 2015 20:12:31 +0000``."""
    return format_datetime(datetime.now(UTC).replace(microsecond=0))


def message_resource(
    account_sid: str,
    sid: str,
    *,
    sender: str,
    recipient: str,
    body: str,
    media_count: int,
    inbound: bool = False,
) -> dict[str, Any]:
    """A message resource as Twilio shows it when the message is made (``queued``, or
    ``received`` for a user's message)."""
    now = now_rfc2822()
    uri = f"/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}"
    return {
        "account_sid": account_sid,
        "api_version": API_VERSION,
        "body": body,
        "date_created": now,
        "date_sent": now if inbound else None,
        "date_updated": now,
        "direction": "inbound" if inbound else "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": sender,
        "messaging_service_sid": None,
        "num_media": str(media_count),
        "num_segments": str(segments(body)),
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": "received" if inbound else "queued",
        "subresource_uris": {"media": f"{uri}/Media.json", "feedback": f"{uri}/Feedback.json"},
        "to": recipient,
        "uri": f"{uri}.json",
    }


def keep(number: Account, order: int, resource: dict[str, Any]) -> None:
    """Keep ``resource`` with the number it went from or came to."""
    number.extra.setdefault(MESSAGES, {})[resource["sid"]] = Kept(order, resource)


def move(resource: dict[str, Any], status: str, failure: tuple[int, str] | None = None) -> None:
    """The message's status moved to ``status`` (with Twilio's error when it failed)."""
    now = now_rfc2822()
    resource.update(status=status, date_updated=now)
    if status in _SENT and resource["date_sent"] is None:
        resource["date_sent"] = now
    if failure is not None:
        resource.update(error_code=failure[0], error_message=failure[1])


def status_callback(resource: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The parameters of a status callback about the message as it stands now."""
    sid, status = resource["sid"], resource["status"]
    params = [
        ("SmsSid", sid),
        ("SmsStatus", status),
        ("MessageStatus", status),
        ("To", resource["to"]),
        ("MessageSid", sid),
        ("AccountSid", resource["account_sid"]),
        ("From", resource["from"]),
        ("ApiVersion", API_VERSION),
    ]
    if resource["error_code"] is not None:
        params += [
            ("ErrorCode", str(resource["error_code"])),
            ("ErrorMessage", resource["error_message"]),
        ]
    return params


def _newest_first(numbers: Iterable[Account]) -> list[dict[str, Any]]:
    kept = [item for number in numbers for item in number.extra.get(MESSAGES, {}).values()]
    return [item.resource for item in sorted(kept, key=lambda item: item.order, reverse=True)]


def fetch(numbers: Iterable[Account], sid: str, path: str) -> Response:
    """``GET .../Messages/{sid}.json``: the resource, or Twilio's 20404."""
    for resource in _newest_first(numbers):
        if resource["sid"] == sid:
            return JSONResponse(resource)
    return not_found(path)


def not_found(path: str) -> Response:
    """Twilio's answer to a resource it does not have (``path`` as Twilio names it)."""
    return error(404, 20404, f"The requested resource {path} was not found")


class _Unreadable(ValueError):
    """A filter or paging value Twilio would not read."""


def page(numbers: Iterable[Account], account_sid: str, query: Mapping[str, str]) -> Response:
    """``GET .../Messages.json``: one page of the account's messages, newest first."""
    try:
        size = min(_whole(query, "PageSize", DEFAULT_PAGE_SIZE, least=1), MAX_PAGE_SIZE)
        number = _whole(query, "Page", 0, least=0)
        filters = {name: query[name] for name in FILTERS if name in query}
        bounds = [
            (name, _moment(value)) for name, value in filters.items() if name.startswith("Date")
        ]
    except _Unreadable as exc:
        return error(400, 20001, str(exc))
    found = [message for message in _newest_first(numbers) if _matches(message, filters, bounds)]
    first = _first_index(found, query.get("PageToken"), number, size)
    items = found[first : first + size]
    path = f"/{API_VERSION}/Accounts/{account_sid}/Messages.json"

    def uri(page_number: int, token: str | None = None) -> str:
        params = [*filters.items(), ("PageSize", str(size)), ("Page", str(page_number))]
        if token is not None:
            params.append(("PageToken", token))
        return f"{path}?{urlencode(params)}"

    start = number * size
    more_after = first + size < len(found)
    return JSONResponse(
        {
            "end": start + max(len(items) - 1, 0),
            "first_page_uri": uri(0),
            "messages": items,
            "next_page_uri": uri(number + 1, "PA" + items[-1]["sid"]) if more_after else None,
            "page": number,
            "page_size": size,
            "previous_page_uri": (
                uri(number - 1, "PB" + items[0]["sid"]) if number > 0 and items else None
            ),
            "start": start,
            "uri": uri(number, query.get("PageToken")),
        }
    )


def _whole(query: Mapping[str, str], name: str, default: int, *, least: int) -> int:
    value = query.get(name)
    if value is None:
        return default
    if not value.isdigit() or int(value) < least:
        raise _Unreadable(f"Invalid value for {name}.")
    return int(value)


def _first_index(found: list[dict[str, Any]], token: str | None, number: int, size: int) -> int:
    """Where the page starts: after the message a ``PA`` token names, ``size`` before the
    one a ``PB`` token names, else at the page's number (a token naming no message too)."""
    sids = [message["sid"] for message in found]
    if token and token[2:] in sids:
        at = sids.index(token[2:])
        if token.startswith("PA"):
            return at + 1
        if token.startswith("PB"):
            return max(at - size, 0)
    return number * size


def _matches(
    message: Mapping[str, Any], filters: Mapping[str, str], bounds: list[tuple[str, datetime]]
) -> bool:
    if "To" in filters and message["to"] != filters["To"]:
        return False
    if "From" in filters and message["from"] != filters["From"]:
        return False
    if not bounds:
        return True
    if message["date_sent"] is None:
        return False
    sent = parsedate_to_datetime(message["date_sent"])
    for name, bound in bounds:
        if name == "DateSent" and sent.date() != bound.date():
            return False
        if name == "DateSent<" and sent > bound:
            return False
        if name == "DateSent>" and sent < bound:
            return False
    return True


def _moment(value: str) -> datetime:
    """A time filter's value: a day (its midnight) or a time, GMT unless it says otherwise."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _Unreadable("Invalid date value.") from None
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
