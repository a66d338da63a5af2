"""The README's quick start, end to end: ``chatgate serve --demo`` and its printed curl.

The server runs as a real process on a loopback port with its own SQLite file; the test
runs the exact curl command the server printed, then follows the message to ``delivered``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

START_TIMEOUT = 30.0
DELIVERY_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
LOOPBACK = "127.0.0.1"

# The command the demo prints: curl -sS URL \ -H "..." \ -H "..." \ -d '{...}'
PRINTED_CURL = re.compile(
    r"^curl -sS http://\S+ \\\n(?:  -H \"[^\"\n]*\" \\\n)+  -d '[^'\n]*'$", re.M
)
DEMO_EXISTS = "The demo account exists already"

pytestmark = pytest.mark.slow


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def without_proxies(env: dict[str, str]) -> dict[str, str]:
    """``env`` minus proxy settings, so loopback requests go straight to the server."""
    return {name: value for name, value in env.items() if not name.lower().endswith("_proxy")}


class Server:
    """A ``chatgate serve`` process whose combined output is collected as it arrives."""

    def __init__(self, process: subprocess.Popen[str], port: int) -> None:
        self.process = process
        self.base_url = f"http://{LOOPBACK}:{port}"
        self._lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self._lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def output(self) -> str:
        """Everything the process has printed so far."""
        with self._changed:
            return "".join(self._lines)

    def wait_for_output(self, pattern: re.Pattern[str], timeout: float = START_TIMEOUT) -> str:
        """Wait until the output (whitespace flattened or not) matches; fail with it if not."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                text = "".join(self._lines)
                if pattern.search(text) or pattern.search(" ".join(text.split())):
                    return text
                exited = self.process.poll() is not None and not self._reader.is_alive()
                remaining = deadline - time.monotonic()
                if exited or remaining <= 0:
                    reason = "exited" if exited else f"printed nothing matching in {timeout} s"
                    pytest.fail(f"chatgate serve {reason}; looked for {pattern.pattern!r}:\n{text}")
                self._changed.wait(min(remaining, 0.5))

    def wait_until_healthy(self, timeout: float = START_TIMEOUT) -> None:
        """Poll ``/healthz`` until it answers 200; fail with the output if it never does."""
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.base_url, trust_env=False, timeout=2.0) as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    break
                try:
                    if http.get("/healthz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        pytest.fail(f"chatgate serve did not become healthy at {self.base_url}:\n{self.output}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)
        self._reader.join(timeout=STOP_TIMEOUT)


@contextmanager
def serve_demo(workdir: Path, database: Path) -> Iterator[Server]:
    """Run ``chatgate serve --demo`` on a free loopback port; always stop it afterwards."""
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("CHATGATE_")}
    env.update(
        {
            "CHATGATE_DATABASE_URL": f"sqlite:///{database}",
            "CHATGATE_LOG_LEVEL": "warning",
            "PYTHONUNBUFFERED": "1",
        }
    )
    command = [sys.executable, "-m", "chatgate", "serve", "--demo"]
    process = subprocess.Popen(
        [*command, "--host", LOOPBACK, "--port", str(port)],
        cwd=workdir,
        env=without_proxies(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        errors="replace",
    )
    server = Server(process, port)
    try:
        yield server
    finally:
        server.stop()


def printed_curl(output: str) -> list[str]:
    """The arguments of the curl command in ``output``, as a shell would split them."""
    match = PRINTED_CURL.search(output)
    assert match, f"no curl command in:\n{output}"
    return shlex.split(match.group(0).replace("\\\n", " "))


def option_values(args: list[str], flag: str) -> list[str]:
    """Every value given to ``flag`` in ``args``."""
    return [args[index + 1] for index, arg in enumerate(args[:-1]) if arg == flag]


def get_message(base_url: str, secret: str, message_id: str) -> dict[str, Any] | None:
    """``GET /v1/messages/{id}``; ``None`` (after a pause) if the key's rate limit is hit."""
    headers = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=base_url, trust_env=False, timeout=5.0) as http:
        response = http.get(f"/v1/messages/{message_id}", headers=headers)
    if response.status_code == 429:
        time.sleep(min(float(response.headers.get("Retry-After", "1")), 5.0))
        return None
    assert response.status_code == 200, response.text
    message: dict[str, Any] = response.json()
    return message


def wait_for_status(
    base_url: str, secret: str, message_id: str, wanted: str, timeout: float = DELIVERY_TIMEOUT
) -> dict[str, Any]:
    """Poll the message until it has ``wanted`` status; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        last = get_message(base_url, secret, message_id)
        if last is not None and last["status"] == wanted:
            return last
        time.sleep(0.2)
    pytest.fail(f"message {message_id} is not {wanted} after {timeout} s: {last}")


def test_quick_start_sends_through_the_sandbox_and_keys_are_shown_once(tmp_path: Path) -> None:
    """The printed curl sends a message that gets delivered; a restart prints no keys."""
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("the quick start's curl is not installed")
    database = tmp_path / "chatgate.db"

    with serve_demo(tmp_path, database) as server:
        output = server.wait_for_output(PRINTED_CURL)
        args = printed_curl(output)
        assert args[:2] == ["curl", "-sS"]
        assert args[2] == f"{server.base_url}/v1/messages"
        auth = [value for value in option_values(args, "-H") if value.startswith("Authorization:")]
        assert len(auth) == 1, args
        test_key = auth[0].removeprefix("Authorization: Bearer ")
        assert test_key.startswith("cg_test_")
        assert f"test key: {test_key}" in output
        assert re.search(r"live key: cg_live_\S+", output), output
        [body] = option_values(args, "-d")
        sent_message = json.loads(body)
        assert sent_message["channel"] == "sms"
        assert sent_message["to"] == "+14155550123"

        server.wait_until_healthy()
        sent = subprocess.run(
            [curl, *args[1:], "--write-out", "\n%{http_code}"],
            capture_output=True,
            text=True,
            timeout=30,
            env=without_proxies(dict(os.environ)),
            check=False,
        )
        assert sent.returncode == 0, sent.stderr
        answer, _, status = sent.stdout.rpartition("\n")
        assert status == "202", sent.stdout
        message = json.loads(answer)
        assert re.fullmatch(r"msg_[0-9A-Z]{26}", message["id"]), message
        assert message["status"] == "queued"

        delivered = wait_for_status(server.base_url, test_key, message["id"], "delivered")
        assert delivered["content"]["text"] == sent_message["content"]["text"]  # emoji intact

    with serve_demo(tmp_path, database) as again:
        output = again.wait_for_output(re.compile(re.escape(DEMO_EXISTS)))
        assert "cg_test_" not in output
        assert "cg_live_" not in output
        assert "curl" not in output
        # The first run's key and message are still there on the restarted server.
        again.wait_until_healthy()
        kept = get_message(again.base_url, test_key, message["id"])
        assert kept is not None
        assert kept["status"] in ("delivered", "read"), kept
