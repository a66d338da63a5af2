"""The neonize driver's watch over its child process, with stand-in children that hang,
crash or ignore being stopped (``fake_device_child.py``): neonize itself is not needed."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from chatgate.channels.device_driver import (
    Connected,
    Disconnected,
    DriverError,
    DriverEvent,
    LoggedOut,
    Outgoing,
    QrCode,
    Receipt,
)
from chatgate.channels.voice_notes import tools_available
from chatgate.channels.whatsapp_web_device_store import DeviceStore
from chatgate.channels.whatsapp_web_neonize import ChildTimings, NeonizeWebDriver, device_state
from chatgate.services.session_runner import RunnerSettings, SessionHost
from tests.channels.whatsapp_web.support import settings_without_sessions as settings  # noqa: F401
from tests.channels.whatsapp_web.support import take
from tests.channels.whatsapp_web.test_health import HeldWaits
from tests.channels.whatsapp_web.test_runner import _session, _state_is
from tests.support import Tenant, gateway, until

FAKE = str(Path(__file__).with_name("fake_device_child.py"))
QUICK = ChildTimings(ping_every=0.05, ping_timeout=2.0, connect_timeout=10.0, stop_grace=1.0)


def _driver(tmp_path: Path, mode: str, record: Path | None = None) -> NeonizeWebDriver:
    command = [sys.executable, FAKE, mode, *([str(record)] if record else [])]
    store = DeviceStore(str(tmp_path / "devices.db"))
    return NeonizeWebDriver(store, timings=QUICK, command=command)


async def _all(stream: AsyncIterator[DriverEvent]) -> list[DriverEvent]:
    """Every event until the stream ends (fails after 10 seconds)."""
    async with asyncio.timeout(10):
        return [event async for event in stream]


def _gone(pid: int | None) -> bool:
    assert pid is not None
    return not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()


async def test_a_child_that_stops_answering_is_killed_and_reported_unresponsive(
    tmp_path: Path,
) -> None:
    driver = _driver(tmp_path, "hang")
    await driver.start(None)
    pid = driver.pid
    assert await _all(driver.events()) == [QrCode("2@fake,code"), Disconnected("unresponsive")]
    await driver.stop()
    assert _gone(pid)


@pytest.mark.parametrize(
    ("mode", "reason"),
    [("crash", "driver_crashed: exit 3"), ("segv", "driver_crashed: SIGSEGV")],
)
async def test_a_crashing_child_ends_the_stream_saying_so(
    tmp_path: Path, mode: str, reason: str
) -> None:
    driver = _driver(tmp_path, mode)
    await driver.start(None)
    assert await _all(driver.events()) == [QrCode("2@fake,code"), Disconnected(reason)]
    await driver.stop()


async def test_a_child_that_dies_at_once_fails_the_start(tmp_path: Path) -> None:
    driver = _driver(tmp_path, "dead")
    with pytest.raises(DriverError) as failed:
        await driver.start(None)
    assert failed.value.code == "driver_gone"
    assert driver.pid is None  # nothing left behind


async def test_a_connected_child_sends_pings_and_stops(tmp_path: Path) -> None:
    record = tmp_path / "sent.jsonl"
    driver = _driver(tmp_path, "works", record)
    await driver.start(None)
    pid = driver.pid
    events = driver.events()
    connected = (await take(events))[0]
    assert isinstance(connected, Connected)
    assert connected.device_state == device_state("237612345678:7@s.whatsapp.net")
    await driver.ping()
    message_id = await driver.send(
        Outgoing("+237699000111", "image", extra={"caption": "hi"}, media=b"\x89PNG")
    )
    assert (await take(events))[0] == Receipt(message_id, "sent")
    sent = json.loads(record.read_text())
    assert (sent["to"], sent["kind"], sent["extra"], sent["media"]) == (
        "+237699000111",
        "image",
        {"caption": "hi"},
        "iVBORw==",
    )
    assert await driver.download("nz1:x") == b"hello"
    await driver.stop()
    assert await _all(events) == [Disconnected("closed_by_client")]
    assert _gone(pid)
    with pytest.raises(DriverError):
        await driver.send(Outgoing("+1", "text", text="late"))


async def test_a_send_waiting_when_the_session_stops_fails_at_once(tmp_path: Path) -> None:
    record = tmp_path / "sent.jsonl"
    driver = _driver(tmp_path, "mute_send", record)
    await driver.start(None)
    await take(driver.events())
    sending = asyncio.create_task(driver.send(Outgoing("+1555", "text", text="hi")))
    await until(lambda: _recorded(record))
    await driver.stop()
    async with asyncio.timeout(5):
        with pytest.raises(DriverError) as failed:
            await sending
    assert (failed.value.code, failed.value.retryable) == ("driver_gone", True)


async def _recorded(record: Path) -> bool:
    return await asyncio.to_thread(_has_a_line, record)


def _has_a_line(record: Path) -> bool:
    return record.exists() and record.read_text().endswith("\n")


async def test_resuming_names_the_device_and_reports_no_new_state(tmp_path: Path) -> None:
    driver = _driver(tmp_path, "works")
    await driver.start(device_state("237612345678:7@s.whatsapp.net"))
    connected = (await take(driver.events()))[0]
    assert connected == Connected("237612345678:7@s.whatsapp.net", "+237612345678", "Ada", None)
    await driver.stop()


async def test_a_device_paired_by_another_driver_must_pair_again(tmp_path: Path) -> None:
    driver = _driver(tmp_path, "works")
    await driver.start("an-emulator-device-key")
    assert driver.pid is None
    assert await _all(driver.events()) == [LoggedOut("device_unknown")]


async def test_a_child_deaf_to_stop_is_killed_after_the_grace(tmp_path: Path) -> None:
    driver = _driver(tmp_path, "stubborn")
    await driver.start(None)
    pid = driver.pid
    async with asyncio.timeout(5):
        await driver.stop()
    assert _gone(pid)


@pytest.mark.skipif(not tools_available(), reason="voice notes need ffmpeg and ffprobe")
async def test_a_voice_note_reaches_the_child_as_ogg_opus(tmp_path: Path) -> None:
    record = tmp_path / "sent.jsonl"
    driver = _driver(tmp_path, "works", record)
    await driver.start(None)
    await take(driver.events())
    mp3 = _mp3(2.0)
    await driver.send(Outgoing("+237699000111", "audio", extra={"ptt": True}, media=mp3))
    sent = json.loads(record.read_text())
    assert sent["seconds"] == 2
    assert sent["extra"] == {"ptt": True, "mime_type": "audio/ogg; codecs=opus"}
    assert sent["media"].startswith("T2dnUw")  # "OggS", base64
    await driver.stop()


def _mp3(seconds: float) -> bytes:
    tone = ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"sine=duration={seconds}"]
    return subprocess.run([*tone, "-f", "mp3", "pipe:1"], check=True, capture_output=True).stdout


class CountingDriver(NeonizeWebDriver):
    """The neonize driver, counting its starts."""

    starts = 0

    async def start(self, device_state: str | None) -> None:
        self.starts += 1
        await super().start(device_state)


async def test_a_working_session_whose_process_crashes_reconnects_and_the_worker_lives(
    app: FastAPI, tenant: Tenant, tmp_path: Path
) -> None:
    session_id = await _session(app, tenant)
    waits = HeldWaits()
    command = [sys.executable, FAKE, "connected_then_crash"]
    driver = CountingDriver(DeviceStore(str(tmp_path / "d.db")), timings=QUICK, command=command)
    host = SessionHost(
        gateway(app).database,
        gateway(app).sessions,
        lambda: driver,
        settings=RunnerSettings(ping_every=3600),
        sleep=waits,
    )
    try:
        host.start(session_id)
        await _state_is(app, session_id, "starting", "driver_crashed: exit 3")
        assert session_id in host.running()
        assert (driver.starts, len(waits.asked)) == (1, 1)  # a reconnect due after the backoff
        waits.go.set()
        await until(lambda: _restarted(driver))
        assert session_id in host.running()
    finally:
        await host.close()


async def _restarted(driver: CountingDriver) -> bool:
    return driver.starts >= 2
