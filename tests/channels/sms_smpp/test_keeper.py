"""Two workers' session keepers on one store: one bind per connection, and a takeover."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chatgate.channels.sms_smpp_keeper import SmppHolding
from chatgate.channels.sms_smpp_pool import SessionPool
from chatgate.config import Settings
from chatgate.domain.ids import new_id
from chatgate.emulators.smsc import Smsc
from chatgate.services.channel_holding import ChannelHolding
from chatgate.services.held_connections import ConnectionKeeper
from tests.channels.sms_smpp.support import (
    RecordingSink,
    binds_of,
    connect,
    eventually,
    new_account,
)
from tests.support import Tenant, gateway, settings_for

pytestmark = pytest.mark.usefixtures("tuned")

HOLD_SECONDS = 1.2  # closed unrenewed after 0.8 s, taken over after 1.2 s


@pytest.fixture
def settings(database_url: str) -> Settings:
    """A gateway without a worker: the test runs the workers' keepers itself."""
    return settings_for(database_url, worker_enabled=False)


class StoreAway:
    """The store as a worker cut off from it sees it."""

    def read(self) -> Any:
        raise OSError("the store cannot be reached")

    write = read


@dataclass
class Worker:
    """One worker's keeper and sessions."""

    keeper: ConnectionKeeper
    pool: SessionPool
    task: asyncio.Task[None]

    async def die(self) -> None:
        """Stop as a killed worker does: its sessions end, its holds are not given back."""
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.pool.close()


@pytest.fixture
async def workers(app: FastAPI) -> AsyncIterator[list[Worker]]:
    found = gateway(app)
    started: list[Worker] = []
    for _ in range(2):
        pool = SessionPool()
        pool.set_sink(RecordingSink())
        keeper = ConnectionKeeper(
            found.database,
            found.event_feed,
            [ChannelHolding(found.channels, SmppHolding(pool))],
            holder=new_id("worker"),
            hold_seconds=HOLD_SECONDS,
        )
        started.append(Worker(keeper, pool, asyncio.create_task(keeper.run())))
    yield started
    for worker in started:
        await worker.die()


@pytest.mark.parametrize("trouble", ["dies", "loses_the_store"])
async def test_one_worker_binds_a_connection_and_another_takes_it_over(
    client: httpx.AsyncClient, tenant: Tenant, smsc: Smsc, workers: list[Worker], trouble: str
) -> None:
    system_id = new_account(smsc)
    channel_id = await connect(client, tenant, smsc, system_id=system_id)
    await eventually(
        lambda: smsc.bound(system_id) == 1 and any(w.keeper.held for w in workers), limit=5.0
    )
    # (Connections of other tests may be in the store too, held by either.)
    holder, other = sorted(workers, key=lambda w: channel_id not in w.keeper.held)
    assert channel_id not in other.keeper.held
    if trouble == "dies":
        await holder.die()
    else:
        holder.keeper.database = StoreAway()  # type: ignore[assignment]
    # The other worker binds it once the hold has run out; until then, nobody else does.
    await eventually(
        lambda: channel_id in other.keeper.held and smsc.bound(system_id) == 1, limit=5.0
    )
    assert holder.pool.connection_ids() == set()
    assert binds_of(smsc, system_id) == 2
