"""Running real ``chatgate`` processes in tests: start, signal, kill, always clean up."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def chatgate_env(database_url: str, **settings: object) -> dict[str, str]:
    """The environment for a chatgate process: this one's, plus CHATGATE_* settings."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CHATGATE_")}
    env["CHATGATE_DATABASE_URL"] = database_url
    env["CHATGATE_LOG_FORMAT"] = "json"
    settings.setdefault("log_level", "warning")
    # The emulators and mock platforms of the tests listen on loopback.
    settings.setdefault("allow_private_api_base", True)
    for name, value in settings.items():
        env[f"CHATGATE_{name.upper()}"] = (
            str(value).lower() if isinstance(value, bool) else str(value)
        )
    return env


class Processes:
    """Child processes of one test; every one is stopped when the test ends."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.children: list[subprocess.Popen[bytes]] = []

    def start(self, args: list[str], env: Mapping[str, str], name: str) -> subprocess.Popen[bytes]:
        """Start ``chatgate ARGS`` with its output in ``log_dir/name.log``."""
        log = (self.log_dir / f"{name}.log").open("ab")
        child = subprocess.Popen(
            [sys.executable, "-m", "chatgate", *args],
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        self.children.append(child)
        return child

    def stop(self, child: subprocess.Popen[bytes], timeout: float = 30) -> int:
        """SIGTERM, wait, and SIGKILL if it will not go; returns the exit code."""
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
            try:
                return child.wait(timeout)
            except subprocess.TimeoutExpired:
                child.kill()
        return child.wait()

    def stop_all(self) -> None:
        """Stop every child still running."""
        for child in self.children:
            if child.poll() is None:
                child.kill()
                child.wait()


@contextmanager
def processes(log_dir: Path) -> Iterator[Processes]:
    """A :class:`Processes` that kills what is left when the block ends."""
    running = Processes(log_dir)
    try:
        yield running
    finally:
        running.stop_all()
