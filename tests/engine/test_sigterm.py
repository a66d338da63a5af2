"""``chatgate worker`` on SIGTERM: stops claiming, finishes what it holds, exits 0."""

from __future__ import annotations

import signal
from pathlib import Path

from sqlalchemy import func, select

from chatgate.channels.sandbox import SandboxAdapter
from chatgate.config import Settings
from chatgate.domain.channels import ChannelType
from chatgate.domain.keys import KeyMode
from chatgate.domain.status import Status
from chatgate.services.accounts import create_account
from chatgate.services.audit import Actor
from chatgate.services.billing import Billing
from chatgate.services.keys import KeySpec, create_key
from chatgate.services.send import accept_messages
from chatgate.services.send_command import SendCommand
from chatgate.storage.database import Database
from chatgate.storage.migrate import upgrade_async
from chatgate.storage.tables import jobs, messages
from chatgate.storage.types import utcnow
from tests.processes import chatgate_env, processes
from tests.support import channel_service, until


async def test_sigterm_finishes_the_work_in_hand(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'chatgate.db'}"
    settings = Settings(database_url=url)
    await upgrade_async(settings)
    database = Database(settings)
    try:
        account = await create_account(database, "sigterm")
        async with database.write() as conn:
            key, _ = await create_key(
                conn, Actor(account.id), KeySpec("k", KeyMode.TEST, frozenset({"*"}))
            )
            commands = [
                SendCommand(ChannelType.SMS, f"+1415555{n:04d}", {"type": "text", "text": "x"})
                for n in range(20)
            ]
            await accept_messages(
                conn,
                key,
                commands,
                sandbox=SandboxAdapter(0, 0),
                channels=channel_service(),
                billing=Billing(settings),
                now=utcnow(),
            )

        async def count(*where: object) -> int:
            async with database.read() as conn:
                return int(
                    await conn.scalar(select(func.count()).select_from(jobs).where(*where)) or 0
                )

        env = chatgate_env(url, sandbox_latency=1.5, sandbox_pacing=False, worker_batch_size=5)
        with processes(tmp_path) as running:
            worker = running.start(["worker", "--concurrency", "1"], env, "worker")

            async def holding() -> bool:
                return await count(jobs.c.locked_by.is_not(None)) > 0

            await until(holding, limit=30)
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=30) == 0
        async with database.read() as conn:
            sent = await conn.scalar(
                select(func.count())
                .select_from(messages)
                .where(messages.c.status == Status.SENT.value)
            )
        # The batch in hand (5) was finished; nothing was left leased; the rest waits.
        assert sent == 5
        assert await count(jobs.c.locked_by.is_not(None)) == 0
        assert await count(jobs.c.kind == "send") == 15
    finally:
        await database.dispose()
