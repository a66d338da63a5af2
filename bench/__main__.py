"""``make bench``: measure the gateway against a baseline on SQLite (and PostgreSQL).

For each store it runs, on this machine and loopback only:
1. the baseline (``bench/baseline.py``: one durable insert per request) and the FastAPI floor
   (``bench/framework_floor.py``: the same insert behind a validating FastAPI route), closed
   loop;
2. the full send path (``POST /v1/messages`` with auth, rate limit, an Idempotency-Key and
   validation, worker running), closed loop, then open loop at 25/50/75 % of that maximum;
   last, closed loop again on the API alone (``serve --no-worker``), which does, like the
   baseline, nothing once it has answered;
3. the accept->dispatch latency of the messages of the 50 % run, read from the store;
4. end-to-end throughput: 20,000 messages in batches, from the first request until every
   one is ``sent``;
5. webhook delivery throughput to a fast local receiver, alone and beside a slow one
   (``bench/webhooks.py``);
and samples the gateway process's RSS throughout. Results are printed and written to
``bench/RESULTS.md`` with the machine and the date.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench import webhooks
from bench.loadgen import percentile
from bench.serving import free_port, served, stop, wait_ready
from bench.webhooks import WebhookResult
from chatgate import event_loop

ROOT = Path(__file__).resolve().parent.parent
CONCURRENCY = 64
E2E_MESSAGES = 20_000
BODY = (
    '{"channel": "sms", "to": "+14155550123", '
    '"content": {"type": "text", "text": "Hello from the benchmark {n} 👋"}}'
)


@dataclass
class StoreResult:
    """Everything measured on one store."""

    store: str
    baseline: dict[str, Any] = field(default_factory=dict)
    floor: dict[str, Any] = field(default_factory=dict)
    full: dict[str, Any] = field(default_factory=dict)
    api_alone: dict[str, Any] = field(default_factory=dict)
    open_loop: dict[int, dict[str, Any]] = field(default_factory=dict)
    dispatch_ms: dict[str, float] = field(default_factory=dict)
    e2e_rate: float = 0.0
    peak_rss_mib: float = 0.0
    webhooks: WebhookResult | None = None


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its children, in MiB."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for one in pids:
        try:
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total / 1024


class RssSampler(threading.Thread):
    """Samples a process's RSS every 0.2 s and keeps the peak."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.running = pid, 0.0, True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, rss_mib(self.pid))
            time.sleep(0.2)


def load(
    url: str, headers: list[str], seconds: float, *, rate: float | None = None
) -> dict[str, Any]:
    """Run the load generator in its own process and return what it measured."""
    command = [
        sys.executable,
        "-m",
        "bench.loadgen",
        "--url",
        url,
        "--body",
        BODY,
        "--seconds",
        str(seconds),
    ]
    for header in headers:
        command += ["--header", header]
    command += ["--rate", str(rate)] if rate else ["--concurrency", str(CONCURRENCY)]
    output = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return dict(json.loads(output))


def chatgate(*args: str, env: dict[str, str]) -> Any:
    out = subprocess.run(
        [sys.executable, "-m", "chatgate", *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


async def query(database_url: str, sql: str, *params: Any) -> list[Any]:
    """Run one read on the gateway's store (sqlite3 or asyncpg), outside the gateway."""
    if database_url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(database_url.split(":///", 1)[1]) as conn:
            return conn.execute(sql.replace("$1", "?").replace("$2", "?"), params).fetchall()
    conn = await asyncpg.connect(database_url)
    try:
        return list(await conn.fetch(sql, *params))
    finally:
        await conn.close()


def to_seconds(value: Any) -> float:
    if isinstance(value, datetime):
        return value.replace(tzinfo=value.tzinfo or UTC).timestamp()
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC).timestamp()


async def dispatch_latencies(
    database_url: str, since: datetime, until: datetime
) -> dict[str, float]:
    """Milliseconds from accept (created_at) to the stored ``sent`` event, per message."""
    sqlite = database_url.startswith("sqlite")
    window = (
        (
            since.replace(tzinfo=None).isoformat(sep=" "),
            until.replace(tzinfo=None).isoformat(sep=" "),
        )
        if sqlite
        else (since, until)
    )
    rows = await query(
        database_url,
        "SELECT m.created_at, e.created_at FROM messages m"
        " JOIN message_events e ON e.message_id = m.id "
        "WHERE e.status = 'sent' AND m.created_at >= $1 AND m.created_at < $2",
        *window,
    )
    ms = [(to_seconds(sent) - to_seconds(created)) * 1000 for created, sent in rows]
    return {
        "count": len(ms),
        "p50": percentile(ms, 0.5),
        "p95": percentile(ms, 0.95),
        "p99": percentile(ms, 0.99),
    }


async def end_to_end(base: str, key: str, database_url: str) -> float:
    """Messages per second from the first request until all of them are sent."""
    items = [
        {"channel": "sms", "to": "+14155550123", "content": {"type": "text", "text": f"e2e {n}"}}
        for n in range(500)
    ]
    batches = E2E_MESSAGES // len(items)
    started = time.perf_counter()
    since = datetime.now(UTC)
    async with httpx.AsyncClient(
        base_url=base, timeout=120, headers={"Authorization": f"Bearer {key}"}
    ) as client:
        queue = list(range(batches))

        async def sender() -> None:
            while queue:
                queue.pop()
                response = await client.post("/v1/messages/batch", json={"messages": items})
                response.raise_for_status()

        await asyncio.gather(*(sender() for _ in range(4)))
    window = (
        since.replace(tzinfo=None).isoformat(sep=" ")
        if database_url.startswith("sqlite")
        else since
    )
    while True:
        [(left,)] = await query(
            database_url,
            "SELECT count(*) FROM messages"
            " WHERE status IN ('queued', 'scheduled') AND created_at >= $1",
            window,
        )
        if left == 0:
            break
        await asyncio.sleep(0.1)
    return E2E_MESSAGES / (time.perf_counter() - started)


def measure_reference(app: str, database_url: str, seconds: float) -> dict[str, Any]:
    """Serve a reference ASGI app with uvicorn, alone, and load it closed loop."""
    with served(app, {"BENCH_DATABASE_URL": database_url}) as base:
        return load(f"{base}/v1/messages", [], seconds)


def run_store(store: str, database_url: str, baseline_url: str, seconds: float) -> StoreResult:
    result = StoreResult(store)
    python = sys.executable

    result.baseline = measure_reference("bench.baseline:app", baseline_url, seconds)
    result.floor = measure_reference("bench.framework_floor:app", baseline_url, seconds)

    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATGATE_")}
    env.update(
        {
            "CHATGATE_DATABASE_URL": database_url,
            "CHATGATE_LOG_LEVEL": "warning",
            "CHATGATE_SANDBOX_PACING": "false",
        }
    )
    subprocess.run([python, "-m", "chatgate", "migrate"], env=env, check=True, capture_output=True)

    account = chatgate("accounts", "create", f"bench-{uuid.uuid4().hex[:6]}", "--json", env=env)[
        "name"
    ]
    key = chatgate(
        "keys",
        "create",
        "--account",
        account,
        "--mode",
        "test",
        "--rate-limit",
        "100000000",
        "--json",
        env=env,
    )["key"]
    port = free_port()

    def serve(*flags: str) -> subprocess.Popen[bytes]:
        command = [python, "-m", "chatgate", "serve", "--port", str(port), "--no-migrate", *flags]
        return subprocess.Popen(command, env=env, cwd=ROOT)

    base = f"http://127.0.0.1:{port}"
    url = f"{base}/v1/messages"
    headers = [f"Authorization: Bearer {key}", "Idempotency-Key: {run}-{n}"]
    server = serve()
    sampler = RssSampler(server.pid)
    try:
        wait_ready(f"{base}/healthz")
        sampler.start()
        result.full = load(url, headers, seconds)
        maximum = result.full["rate"]
        for share in (25, 50, 75):
            time.sleep(2)  # let the worker catch up between runs
            since = datetime.now(UTC)
            result.open_loop[share] = load(url, headers, seconds, rate=maximum * share / 100)
            if share == 50:
                time.sleep(3)
                result.dispatch_ms = asyncio.run(
                    dispatch_latencies(database_url, since, datetime.now(UTC))
                )
        time.sleep(3)
        result.e2e_rate = asyncio.run(end_to_end(base, key, database_url))
    finally:
        sampler.running = False
        result.peak_rss_mib = sampler.peak
        stop(server)
    # Last, because what it accepts stays queued: the API alone, as the baseline is.
    server = serve("--no-worker")
    try:
        wait_ready(f"{base}/healthz")
        result.api_alone = load(url, headers, seconds)
    finally:
        stop(server)
    return result


async def _postgres_databases(admin: str) -> tuple[str, str] | None:
    try:
        conn = await asyncpg.connect(admin, timeout=3)
    except (OSError, asyncpg.PostgresError):
        return None
    names = (f"bench_chatgate_{uuid.uuid4().hex[:8]}", f"bench_baseline_{uuid.uuid4().hex[:8]}")
    try:
        for name in names:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    root = admin.rsplit("/", 1)[0]
    return f"{root}/{names[0]}", f"{root}/{names[1]}"


async def _drop(admin: str, *urls: str) -> None:
    conn = await asyncpg.connect(admin)
    try:
        for url in urls:
            await conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await conn.close()


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown CPU",
    )
    memory = next(
        line.split()[1]
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    gib = int(memory) / 1024 / 1024
    system = f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    return f"{os.cpu_count()} cores ({model}), {gib:.0f} GiB, {system}"


def _ratio(measured: dict[str, Any], reference: dict[str, Any]) -> str:
    if not measured.get("rate") or not reference.get("rate"):
        return "–"
    return f"{measured['rate'] / reference['rate']:.2f}×"


def report(results: list[StoreResult], seconds: float) -> str:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    lines = [
        "# Benchmark results",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {commit or 'unknown'}",
        f"- machine: {machine()}",
        f"- load: closed loop {CONCURRENCY} connections for {seconds:.0f} s; open loop at "
        f"25/50/75 % of the closed-loop maximum for {seconds:.0f} s each; end-to-end "
        f"{E2E_MESSAGES:,} messages in batches of 500",
        "- the load generator runs in its own process on the same two cores; latencies in ms",
        "",
        "| store | baseline req/s | FastAPI floor req/s | full path req/s | full / baseline "
        "| API alone req/s | API alone / baseline | API alone / floor | full p50 / p95 / p99 "
        "| open 25 % p99 | open 50 % p99 | open 75 % p99 | end-to-end msg/s "
        "| accept→dispatch p50 / p95 / p99 at 50 % | peak RSS MiB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- "
        "| ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for r in results:
        alone = r.api_alone.get("rate", float("nan"))
        d = r.dispatch_ms
        lines.append(
            f"| {r.store} | {r.baseline['rate']:,.0f} | {r.floor['rate']:,.0f} | "
            f"{r.full['rate']:,.0f} | {_ratio(r.full, r.baseline)} | {alone:,.0f} | "
            f"{_ratio(r.api_alone, r.baseline)} | {_ratio(r.api_alone, r.floor)} | "
            f"{r.full['p50']:.1f} / {r.full['p95']:.1f} / {r.full['p99']:.1f} | "
            + " | ".join(f"{r.open_loop[s]['p99']:.1f}" for s in (25, 50, 75))
            + f" | {r.e2e_rate:,.0f} | "
            + " / ".join(f"{d.get(p, float('nan')):.0f}" for p in ("p50", "p95", "p99"))
            + f" | {r.peak_rss_mib:.0f} |"
        )
    lines += [
        "",
        "Webhook delivery (`bench/webhooks.py`): the sender posting signed deliveries to a "
        "local receiver in a process of its own, "
        f"{webhooks.FAST_DELIVERIES:,} per run; then again with a receiver beside it that "
        f"answers after {webhooks.SLOW_SECONDS:g} s; the two take turns, "
        f"{webhooks.ROUNDS} times each, and the medians are shown.",
        "",
        "| store | fast receiver alone, deliveries/s | beside a slow one, deliveries/s "
        "| the slow one's cost |",
        "| --- | ---: | ---: | ---: |",
    ]
    for r in results:
        if r.webhooks is not None:
            w = r.webhooks
            lines.append(
                f"| {r.store} | {w.fast_alone:,.0f} | {w.fast_beside_slow:,.0f} | {w.cost:.1%} |"
            )
    errors = {
        r.store: tuple(run.get("errors") for run in (r.full, r.api_alone, r.baseline, r.floor))
        for r in results
    }
    lines += ["", f"Errors (full path, API alone, baseline, floor): {errors}", ""]
    lines += [
        "The FastAPI floor is the baseline's single insert behind a FastAPI route that only "
        "validates the body (`bench/framework_floor.py`): what the web framework alone leaves. "
        "The full path runs `chatgate serve` with its worker in the same process, delivering "
        "what it accepts; the API alone is `chatgate serve --no-worker`, which like the "
        "baseline does nothing once it has answered.",
        "",
    ]
    lines += [
        "Targets: full path ≥ 1.0× baseline; end-to-end ≥ 1,500 msg/s on SQLite; "
        "accept→dispatch p99 < 250 ms at 50 %; "
        "peak RSS < 300 MiB; webhooks ≥ 2,000 deliveries/s to a fast receiver, "
        "a slow one beside it costing ≤ 10 %.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "CHATGATE_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--output", default=str(ROOT / "bench" / "RESULTS.md"))
    args = parser.parse_args()

    results = []
    with tempfile.TemporaryDirectory() as work:
        sqlite = run_store(
            "SQLite", f"sqlite:///{work}/chatgate.db", f"sqlite:///{work}/baseline.db", args.seconds
        )
        sqlite.webhooks = event_loop.run(webhooks.measure(f"sqlite:///{work}/webhooks.db"))
        results.append(sqlite)
    if not args.no_postgres:
        urls = asyncio.run(_postgres_databases(args.postgres))
        if urls is None:
            print(f"PostgreSQL at {args.postgres} is not reachable: skipped", file=sys.stderr)
        else:
            try:
                postgres = run_store("PostgreSQL", urls[0], urls[1], args.seconds)
                postgres.webhooks = event_loop.run(webhooks.measure(urls[1]))
                results.append(postgres)
            finally:
                asyncio.run(_drop(args.postgres, *urls))
    text = report(results, args.seconds)
    print(text)
    Path(args.output).write_text(text)


if __name__ == "__main__":
    main()
