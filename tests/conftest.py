"""Shared fixtures: a throwaway PostgreSQL server and the record store on SQLite and PostgreSQL.

- ``postgres_server`` (session): starts a private PostgreSQL server (``initdb`` + ``pg_ctl``)
  in a fresh temporary folder, listening on 127.0.0.1 on a free port with trust authentication,
  with a database ``saqta_test``; stopped and deleted at the end of the session, also when tests
  fail. Under pytest-xdist every worker starts its own. The server binaries are required: if
  they are missing the tests using it FAIL (install PostgreSQL 15, e.g. ``postgresql-15``).
- ``db_url``: parametrized ``sqlite`` (a file in ``tmp_path``) and ``postgresql`` (a fresh
  database ``t_<uuid>`` per test, dropped afterwards; marked ``postgres``). Tests never see each
  other's rows.
- ``engine``: an engine on ``db_url`` migrated to the newest revision, disposed afterwards.

Run only the SQLite half with ``-m "not postgres"``.
"""

from __future__ import annotations

import glob
import os
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine

from saqta.store.db import make_engine, upgrade

pytest_plugins = ["browser_support"]
"""Chromium fixtures (``chromium``, ``offline``) for the tests that open pages in a browser."""

POSTGRES_USER = "postgres"
"""The superuser of the throwaway server (and the system user that runs it when we are root)."""

TEST_DATABASE = "saqta_test"

_FOLDER_PREFIX = "saqta-pg-"


@dataclass(frozen=True)
class PostgresServer:
    """A running throwaway PostgreSQL server."""

    host: str
    port: int
    user: str
    version: str

    def url(self, database: str = TEST_DATABASE) -> str:
        """The SQLAlchemy URL of ``database`` on this server."""
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"

    def conninfo(self, database: str = TEST_DATABASE) -> str:
        """The libpq connection string of ``database`` on this server."""
        return f"host={self.host} port={self.port} user={self.user} dbname={database}"


def _find_postgres_bin() -> Path:
    """The folder holding ``initdb`` and ``pg_ctl``: from PATH, else the newest Debian install."""
    on_path = [shutil.which("initdb"), shutil.which("pg_ctl")]
    if all(on_path):
        return Path(str(on_path[0])).resolve().parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda folder: (
            int(Path(folder).parent.name) if Path(folder).parent.name.isdigit() else 0
        ),
        reverse=True,
    )
    for folder in candidates:
        if (Path(folder) / "initdb").is_file() and (Path(folder) / "pg_ctl").is_file():
            return Path(folder)
    pytest.fail(
        "PostgreSQL server binaries initdb and pg_ctl not found on PATH nor in "
        "/usr/lib/postgresql/*/bin: the PostgreSQL tests are required; install PostgreSQL 15 "
        "(Debian/Ubuntu: apt-get install postgresql-15) or put its bin folder on PATH",
        pytrace=False,
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _worker_id() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


class _Runner:
    """Runs the server's programs, as the ``postgres`` user when we are root."""

    def __init__(self, bin_dir: Path, folder: Path) -> None:
        self.bin_dir = bin_dir
        self.folder = folder
        self.as_root = hasattr(os, "geteuid") and os.geteuid() == 0
        self.env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
        self.env["LC_ALL"] = "C"

    def __call__(self, program: str, *args: str, timeout: float = 60) -> None:
        command = [str(self.bin_dir / program), *args]
        if self.as_root:
            command = ["runuser", "-u", POSTGRES_USER, "--", *command]
        result = subprocess.run(
            command,
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{shlex.join(command)} failed ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}"
            )


def _log_tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reap_orphans(bin_dir: Path) -> None:
    """Stop and delete servers left by test sessions that were killed (SIGKILL, SIGTERM)."""
    for owner in Path(tempfile.gettempdir()).glob(f"{_FOLDER_PREFIX}*/owner.pid"):
        try:
            pid = int(owner.read_text().strip())
        except (OSError, ValueError):
            continue
        if _alive(pid):
            continue
        folder = owner.parent
        _stop(_Runner(bin_dir, folder), folder / "data", started=True, mode="immediate")
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server with an empty database ``saqta_test``, for this session."""
    bin_dir = _find_postgres_bin()
    _reap_orphans(bin_dir)
    folder = Path(tempfile.mkdtemp(prefix=f"{_FOLDER_PREFIX}{_worker_id()}-"))
    (folder / "owner.pid").write_text(f"{os.getpid()}\n")
    run = _Runner(bin_dir, folder)
    data = folder / "data"
    log = folder / "server.log"
    started = False
    try:
        if run.as_root:
            shutil.chown(folder, user=POSTGRES_USER)
        run(
            "initdb",
            "--pgdata",
            str(data),
            "--username",
            POSTGRES_USER,
            "--auth",
            "trust",
            "--encoding",
            "UTF8",
            "--no-locale",
            "--no-sync",
            "--no-instructions",
        )
        version = (data / "PG_VERSION").read_text().strip()
        options = [
            "-c listen_addresses=127.0.0.1",
            f"-c unix_socket_directories={shlex.quote(str(folder))}",
            "-c fsync=off",
            "-c synchronous_commit=off",
            "-c full_page_writes=off",
            "-c max_connections=50",
        ]
        port = 0
        for attempt in range(3):  # another process may take the free port before we do
            port = _free_port()
            try:
                run(
                    "pg_ctl",
                    "start",
                    "--pgdata",
                    str(data),
                    "--log",
                    str(log),
                    "--wait",
                    "--timeout",
                    "30",
                    "-o",
                    " ".join([*options, f"-c port={port}"]),
                )
                started = True
                break
            except RuntimeError as exc:
                if attempt == 2:
                    raise RuntimeError(f"{exc}\nserver log:\n{_log_tail(log)}") from exc
        server = PostgresServer("127.0.0.1", port, POSTGRES_USER, version)
        with psycopg.connect(server.conninfo("postgres"), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {TEST_DATABASE}")
    except (RuntimeError, OSError, subprocess.TimeoutExpired, psycopg.Error) as exc:
        _stop(run, data, started)
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail(f"cannot start the throwaway PostgreSQL server: {exc}", pytrace=False)

    try:
        yield server
    finally:
        _stop(run, data, started)
        shutil.rmtree(folder, ignore_errors=True)


def _stop(run: _Runner, data: Path, started: bool, mode: str = "fast") -> None:
    """Stop the server of ``data`` (``pg_ctl stop``), killing it if it does not stop."""
    if not started or not (data / "postmaster.pid").exists():
        return
    try:
        run("pg_ctl", "stop", "--pgdata", str(data), "--mode", mode, "--wait", timeout=60)
    except (RuntimeError, subprocess.TimeoutExpired):
        # Last resort: SIGQUIT makes the postmaster (first line of postmaster.pid) and its
        # children exit at once.
        try:
            pid = int((data / "postmaster.pid").read_text().splitlines()[0])
            os.kill(pid, signal.SIGQUIT)
            time.sleep(0.5)
        except (OSError, ValueError, IndexError):
            pass


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty record store: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'saqta.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"t_{uuid.uuid4().hex}"
    with psycopg.connect(server.conninfo(TEST_DATABASE), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield server.url(name)
    finally:
        with psycopg.connect(server.conninfo(TEST_DATABASE), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on ``db_url`` with the schema migrated to the newest revision."""
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
