"""Saqta's API as a real server for tests: ``saqta serve`` in a subprocess on a free loopback port.

:func:`live_server` starts the command exactly as an operator would, waits until ``/health``
answers, yields the base URL, and stops the process (SIGTERM, then SIGKILL) when the test ends.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on the loopback address that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


@contextmanager
def live_server(
    index_root: Path, home: Path, *, workers: int = 1, startup_seconds: float = 60
) -> Iterator[str]:
    """Run ``saqta serve --index index_root`` on a free loopback port; yield its base URL."""
    port = free_port()
    server = subprocess.Popen(
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
        env={**os.environ, "SAQTA_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://{LOOPBACK}:{port}"
    try:
        deadline = time.monotonic() + startup_seconds
        while True:
            try:
                httpx.get(f"{url}/health", timeout=2)
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    server.kill()
                    _, stderr = server.communicate()
                    pytest.fail(f"saqta serve did not start on {url}:\n{stderr}", pytrace=False)
                time.sleep(0.1)
        yield url
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=20)
        if server.stderr is not None:
            server.stderr.close()
