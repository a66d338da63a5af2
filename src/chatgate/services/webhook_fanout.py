"""The webhook fan-out: every event of the log becomes one delivery per subscribed endpoint.

It reads the whole event log in commit order after its own cursor (``log_cursors``), finds
the endpoints that want each event, and writes their deliveries together with the cursor's
new place in one transaction: a crash repeats a batch or none of it, and the (event,
endpoint) key keeps a repeat from queueing anything twice. Only one fan-out at a time moves
the cursor (see ``storage/log_cursors``); the others wait their turn.

An endpoint gets the events of its account and mode that follow its mark of the log (every
one committed after it was made; see ``storage/events``), of the types it subscribed to:
the order of the log decides, never the time an event carries, which may be a platform's.
One bound to a key gets the events of that key's messages, and those of inbound messages
on the channels the key may use.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import orjson
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.domain.ids import new_id
from chatgate.domain.records import ApiKey
from chatgate.engine.clock import Clock
from chatgate.services.events import event_payload
from chatgate.services.webhook_formats import STANDARD, WebhookFormats
from chatgate.storage import events as event_store
from chatgate.storage import keys as key_store
from chatgate.storage import log_cursors
from chatgate.storage import webhook_deliveries as delivery_store
from chatgate.storage import webhook_endpoints as endpoint_store
from chatgate.storage.database import Database
from chatgate.storage.events import EventFilter, LoggedEvent
from chatgate.storage.webhook_endpoints import StoredEndpoint

log = structlog.get_logger(__name__)

CURSOR = "webhooks"


def _reaches(endpoint: StoredEndpoint, event: LoggedEvent, bound_keys: dict[str, ApiKey]) -> bool:
    if endpoint.mode is not event.mode or not endpoint.wants(event.type):
        return False
    if endpoint.log_mark.precedes(event.place):
        return False
    if endpoint.api_key_id is None or event.message_id is None:
        # An event of the account itself concerns every endpoint of it.
        return True
    if event.api_key_id is not None:
        return event.api_key_id == endpoint.api_key_id
    key = bound_keys.get(endpoint.api_key_id)
    return key is not None and event.channel is not None and key.allows_channel(event.channel)


async def _bound_keys(
    conn: AsyncConnection, endpoints: Sequence[StoredEndpoint]
) -> dict[str, ApiKey]:
    found: dict[str, ApiKey] = {}
    for key_id in {e.api_key_id for e in endpoints if e.api_key_id is not None}:
        key = await key_store.get_key_by_id(conn, key_id)
        if key is not None:
            found[key_id] = key
    return found


class WebhookFanout:
    """Turns new events into deliveries, a batch at a time."""

    def __init__(
        self,
        database: Database,
        clock: Clock,
        *,
        batch_size: int = 500,
        formats: WebhookFormats | None = None,
    ) -> None:
        self.database = database
        self.clock = clock
        self.batch_size = batch_size
        self.formats = formats or WebhookFormats()

    async def run_once(self) -> int:
        """Relay the next batch of events; returns how many events it read (0: none new)."""
        async with self.database.write() as conn:
            after = await log_cursors.hold_cursor(conn, CURSOR)
            if after is None:  # another process is relaying
                return 0
            # With no endpoint at all, nothing can want the events so far (an endpoint made
            # later gets only those committed after it): skip them unread. The newest place
            # is read first, so that an endpoint made in between is committed after every
            # event skipped.
            newest = await event_store.newest_place(conn, None)
            if not await endpoint_store.any_enabled(conn):
                if newest is not None and newest > after:
                    await log_cursors.move_cursor(conn, CURSOR, newest)
                return 0
            events = await event_store.read_log(
                conn, None, None, after=after, filters=EventFilter(), limit=self.batch_size
            )
            if not events:
                return 0
            endpoints = await endpoint_store.enabled_endpoints_of(
                conn, [event.account_id for event in events]
            )
            rows = self._deliveries(events, endpoints, await _bound_keys(conn, endpoints))
            await delivery_store.add_deliveries(conn, rows)
            await log_cursors.move_cursor(conn, CURSOR, events[-1].place)
        if rows:
            log.debug("webhooks.fanned_out", events=len(events), deliveries=len(rows))
        return len(events)

    def _deliveries(
        self,
        events: Sequence[LoggedEvent],
        endpoints: Sequence[StoredEndpoint],
        bound_keys: dict[str, ApiKey],
    ) -> list[dict[str, object]]:
        by_account: dict[str, list[StoredEndpoint]] = defaultdict(list)
        for endpoint in endpoints:
            by_account[endpoint.account_id].append(endpoint)
        now = self.clock()
        rows: list[dict[str, object]] = []
        for event in events:
            targets = [e for e in by_account[event.account_id] if _reaches(e, event, bound_keys)]
            if not targets:
                continue
            standard: str | None = None  # the same for every standard endpoint: made once
            for endpoint in targets:
                if endpoint.format == STANDARD:
                    standard = standard or orjson.dumps(event_payload(event)).decode()
                    payload = standard
                else:
                    shaped = self.formats[endpoint.format].payload(event, endpoint)
                    if shaped is None:  # the format has no shape for this event
                        continue
                    payload = orjson.dumps(shaped).decode()
                rows.append(
                    delivery_store.delivery_row(
                        new_id("dlv"),
                        event.account_id,
                        endpoint.id,
                        event.id,
                        event.type,
                        payload,
                        now,
                    )
                )
        return rows
