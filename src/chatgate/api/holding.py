"""The worker's connection keeper: the connections this worker holds open, of every kind.

Built once per worker process: SMPP binds (a plug of the SMPP channel over this process's
session pool, whose events are recorded through the store) and, when a linked-device driver
is configured, the sessions of the worker's session host. The worker claims the send jobs
of the connections the keeper holds (``Worker.held_connections``).
"""

from __future__ import annotations

from chatgate.api.state import Gateway
from chatgate.channels.sms_smpp_events import SmppSink
from chatgate.channels.sms_smpp_keeper import SmppHolding
from chatgate.channels.sms_smpp_pool import session_pool
from chatgate.engine.clock import system_clock
from chatgate.engine.wakeup import LocalWakeup
from chatgate.engine.worker import Worker
from chatgate.services.channel_holding import ChannelHolding
from chatgate.services.connection_events import ConnectionEvents
from chatgate.services.held_connections import ConnectionKeeper, HeldKind
from chatgate.services.session_holding import SessionHolding
from chatgate.services.session_runner import SessionHost


def build_connection_keeper(
    gateway: Gateway, worker: Worker, sessions: SessionHost | None, released: LocalWakeup
) -> ConnectionKeeper:
    """The keeper of ``worker``'s held connections (``released``: woken when another worker
    releases its holds); the worker claims the jobs of the connections it holds."""
    settings = gateway.settings
    # SMPP sessions record what the SMSC delivers through this process's store.
    recorder = ConnectionEvents(
        gateway.database,
        system_clock,
        notify=gateway.wakeup.notify,
        public_url=settings.public_url,
    )
    session_pool().set_sink(SmppSink(recorder))
    kinds: list[HeldKind] = [ChannelHolding(gateway.channels, SmppHolding(session_pool()))]
    if sessions is not None:
        kinds.append(SessionHolding(sessions))
    keeper = ConnectionKeeper(
        gateway.database,
        gateway.event_feed,
        kinds,
        holder=worker.name,
        hold_seconds=settings.hold_seconds,
        wakeup=released,
        # Sends of a connection just taken over wait for this worker: claim them now.
        on_gain=gateway.wakeup.notify,
    )
    worker.held_connections = keeper.held_ids
    return keeper


async def close_connection_keeper(keeper: ConnectionKeeper) -> None:
    """The worker stops (the keeper's task is cancelled): close and release every held
    connection; SMPP events are no longer recorded in this process."""
    await keeper.close()
    session_pool().set_sink(None)
