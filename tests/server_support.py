"""Saqta's API as a real server for tests: ``saqta serve`` in a subprocess on a free loopback port.

:func:`live_server` starts the command exactly as an operator would, waits until ``/health``
answers, yields a :class:`LiveServer`, and stops the process (SIGTERM, then SIGKILL) when the
test ends. The server's output goes to a file (a pipe nobody reads would fill and stall it).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on the loopback address that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class LiveServer:
    url: str
    """The base URL, ``http://127.0.0.1:PORT``."""
    log_path: Path

    def log(self) -> str:
        """What the server wrote to stdout and stderr so far."""
        return self.log_path.read_text(errors="replace")


@contextmanager
def live_server(
    index_root: Path,
    home: Path,
    *,
    workers: int = 1,
    env: dict[str, str] | None = None,
    startup_seconds: float = 60,
) -> Iterator[LiveServer]:
    """Run ``saqta serve --index index_root`` with ``SAQTA_HOME=home`` on a free port.

    ``env`` adds to (or overrides) the server's environment: settings such as the database URL.
    """
    port = free_port()
    home.mkdir(parents=True, exist_ok=True)
    server = LiveServer(f"http://{LOOPBACK}:{port}", home / f"serve-{port}.log")
    with server.log_path.open("w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "saqta",
                "serve",
                "--host",
                LOOPBACK,
                "--port",
                str(port),
                "--index",
                str(index_root),
                "--workers",
                str(workers),
            ],
            env={**os.environ, "SAQTA_HOME": str(home), **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + startup_seconds
        while True:
            try:
                httpx.get(f"{server.url}/health", timeout=2)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    process.wait(timeout=20)
                    pytest.fail(
                        f"saqta serve did not start on {server.url}:\n{server.log()}",
                        pytrace=False,
                    )
                time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=20)
