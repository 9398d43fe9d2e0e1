"""Crash safety of every command that touches the lake, with real processes and real SIGKILLs.

Each scenario runs the real command line (`saqta persons import`, `saqta payments import`,
`saqta payments refund pay`, `saqta insured compute`) in a child process that kills itself with
SIGKILL at a named crash point (``SAQTA_CRASH_AT``, see :mod:`saqta.core.faults`) or is killed
from outside at a random moment. The next command must then find the lake and the system of
record consistent: every committed import's rows present exactly once, nothing of an
uncommitted one, the counts reconciled, no run left running, no temporary folder left.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from access_helpers import sign_in
from lake_samples import PEOPLE, payments_file, persons_file
from saqta.access import Role
from saqta.mshi.contributions import approve_refund, check_refund, request_refund
from saqta.mshi.contributions._hashes import reference_hashes
from saqta.mshi.contributions._payments import ReferenceIndex
from saqta.mshi.models import ImportedFile, ImportKind, RefundEvent, RefundStatus
from saqta.store.db import make_engine, session_scope, upgrade
from saqta.store.lake import FactsLake
from saqta.store.models import Run, RunStatus

SAQTA = str(Path(sys.executable).with_name("saqta"))


class World:
    """A system of record and a lake, driven through the command line."""

    def __init__(self, root: Path, db_url: str | None = None) -> None:
        self.root = root
        self.lake = FactsLake(root / "lake")
        self.url = db_url or f"sqlite:///{root / 'saqta.db'}"
        self.engine = make_engine(self.url)
        upgrade(self.engine)
        self.token: str | None = None

    def sign_in(self, username: str, role: Role) -> None:
        """Later commands act as ``username`` (a real user and a real token)."""
        self.token = sign_in(self.root / "home", self.url, username, role)

    def env(self, crash_at: str | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            SAQTA_HOME=str(self.root / "home"),
            SAQTA_DATABASE_URL=self.url,
            SAQTA_LAKE_DIR=str(self.lake.root),
            COLUMNS="200",
        )
        env.pop("SAQTA_TOKEN", None)
        if self.token is not None:
            env["SAQTA_TOKEN"] = self.token
        env.pop("SAQTA_CRASH_AT", None)
        if crash_at is not None:
            env["SAQTA_CRASH_AT"] = crash_at
        return env

    def run(self, *args: str, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [SAQTA, *args],
            env=self.env(crash_at),
            capture_output=True,
            text=True,
            timeout=300,
        )

    def ok(self, *args: str) -> str:
        done = self.run(*args)
        assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
        return done.stdout

    def killed(self, *args: str, crash_at: str) -> None:
        done = self.run(*args, crash_at=crash_at)
        assert done.returncode == -signal.SIGKILL, (
            f"{args} did not reach the crash point {crash_at}: {done.stdout}\n{done.stderr}"
        )

    def imports(self, kind: ImportKind) -> list[ImportedFile]:
        with session_scope(self.engine) as session:
            return list(
                session.scalars(
                    select(ImportedFile).where(ImportedFile.kind == kind).order_by(ImportedFile.id)
                )
            )

    def rows(self, dataset: str, where: str = "", params: list[Any] | None = None) -> int:
        if dataset not in self.lake.datasets():
            return 0
        table = self.lake.query(f"SELECT count(*) AS n FROM {dataset} {where}", params)
        return int(table.column("n")[0].as_py())

    def consistent(self) -> None:
        """The lake holds exactly what the system of record committed, and nothing is left
        half done."""
        lake = self.lake
        assert lake.prepared_transactions() == []
        assert lake.interrupted_runs() == []
        leftovers = [p.name for p in lake.root.glob(".tmp-*") if p.name != ".tmp-duckdb"]
        assert leftovers == []
        payments = self.imports(ImportKind.PAYMENTS)
        for record in payments:
            assert record.rows_read == record.rows_accepted + record.rows_quarantined
            for relative in record.lake_files:
                if relative.startswith("_index/"):
                    continue  # derived: reference-index segments are merged into later ones
                assert (lake.root / relative).is_file(), relative
            assert (
                self.rows("payments", "WHERE source_file = ?", [record.sha256])
                == record.rows_accepted
            )
        assert self.rows("payments") == sum(r.rows_accepted for r in payments)
        if self.rows("payments"):
            duplicated = lake.query(
                "SELECT reference FROM payments GROUP BY reference HAVING count(*) > 1"
            )
            assert duplicated.num_rows == 0
            # every accepted reference is in the duplicate check's index, merged or not
            references = lake.query("SELECT reference FROM payments").column("reference")
            index = ReferenceIndex(lake)
            try:
                assert index.contains_sorted(np.sort(reference_hashes(references))).all()
            finally:
                index.close()
        persons = self.imports(ImportKind.PERSONS)
        for record in persons:
            for relative in record.lake_files:
                assert (lake.root / relative).is_file(), relative
            assert (
                self.rows("persons", "WHERE loaded_seq = ?", [record.loaded_seq])
                == record.rows_accepted
            )
        assert self.rows("persons") == sum(r.rows_accepted for r in persons)
        with session_scope(self.engine) as session:
            paid = session.scalars(
                select(RefundEvent).where(RefundEvent.to_status == RefundStatus.PAID.value)
            ).all()
            assert self.rows("payment_outflows") == len(paid)
            running = session.scalars(select(Run).where(Run.status == RunStatus.RUNNING)).all()
            assert running == []


@pytest.fixture
def world(tmp_path: Path) -> World:
    made = World(tmp_path)
    yield made
    made.engine.dispose()


def _with_persons(world: World) -> None:
    world.ok("persons", "import", str(persons_file(world.root)))


# --------------------------------------------------------------------------------------------
# Imports killed at each crash point


IMPORT_POINTS = [
    ("import.before_staging", False),
    ("import.staging", False),
    ("lake.prepared", False),
    ("import.committed", True),
    ("lake.roll_forward:1", True),
    ("lake.roll_forward:3", True),
    ("lake.committed", True),
]


@pytest.mark.parametrize(("point", "committed"), IMPORT_POINTS)
def test_a_payments_import_killed_at_any_point_leaves_nothing_or_everything(
    world: World, point: str, committed: bool
) -> None:
    _with_persons(world)
    path = payments_file(world.root, "payments.csv", "P")
    world.killed("payments", "import", str(path), crash_at=point)
    assert len(world.imports(ImportKind.PAYMENTS)) == (1 if committed else 0)
    # The next command is a status run: it must see the whole file, or none of it.
    world.ok("insured", "compute", "--month", "2022-07")
    world.consistent()
    assert world.rows("payments") == (len(PEOPLE) * 6 if committed else 0)
    again = world.ok("payments", "import", str(path))
    assert ("already imported" in again) == committed, again
    world.consistent()
    assert world.rows("payments") == len(PEOPLE) * 6


def test_rerunning_the_killed_import_itself_finishes_it_before_saying_already_imported(
    world: World,
) -> None:
    _with_persons(world)
    path = payments_file(world.root, "payments.csv", "P")
    world.killed("payments", "import", str(path), crash_at="import.committed")
    assert world.rows("payments") == 0  # committed in the record, not yet in the lake
    again = world.ok("payments", "import", str(path))
    assert "already imported" in again
    world.consistent()
    assert world.rows("payments") == len(PEOPLE) * 6


@pytest.mark.parametrize(
    ("point", "committed"),
    [
        ("import.staging", False),
        ("lake.prepared", False),
        ("import.committed", True),
        ("lake.roll_forward:1", True),
    ],
)
def test_a_persons_import_killed_at_any_point_leaves_nothing_or_everything(
    world: World, point: str, committed: bool
) -> None:
    path = persons_file(world.root)
    world.killed("persons", "import", str(path), crash_at=point)
    # The next command is a payments import, which needs the whole register.
    payments = payments_file(world.root, "payments.csv", "P")
    done = world.run("payments", "import", str(payments))
    assert done.returncode == 0, done.stderr
    world.consistent()
    assert world.rows("persons") == (len(PEOPLE) if committed else 0)
    accepted = world.imports(ImportKind.PAYMENTS)[0].rows_accepted
    assert accepted == (len(PEOPLE) * 6 if committed else 0)
    world.ok("persons", "import", str(path))
    world.consistent()
    assert world.rows("persons") == len(PEOPLE)


@pytest.mark.parametrize(
    ("point", "committed"),
    [("lake.prepared", False), ("refund.committed", True), ("lake.roll_forward:1", True)],
)
def test_a_refund_payment_killed_at_any_point_leaves_nothing_or_everything(
    world: World, point: str, committed: bool
) -> None:
    _with_persons(world)
    world.ok("payments", "import", str(payments_file(world.root, "payments.csv", "P")))
    refund = request_refund(world.engine, world.lake, "P-0-0", "4250.00", "paid twice", "ana")
    check_refund(world.engine, refund.id, "bek")
    approve_refund(world.engine, refund.id, "dana")
    world.sign_in("erlan", Role.FUND_ANALYST)  # the payer acts as the signed-in identity
    world.killed("payments", "refund", "pay", str(refund.id), crash_at=point)
    world.ok("insured", "compute", "--month", "2022-07")
    world.consistent()
    assert world.rows("payment_outflows") == (1 if committed else 0)
    if not committed:
        world.ok("payments", "refund", "pay", str(refund.id))
        world.consistent()
    assert world.rows("payment_outflows") == 1


# --------------------------------------------------------------------------------------------
# Status runs killed


def _status_runs(world: World) -> list[Run]:
    with session_scope(world.engine) as session:
        return list(session.scalars(select(Run).where(Run.kind == "status").order_by(Run.id)))


@pytest.mark.parametrize("point", ["status.started", "status.month:2"])
def test_a_killed_status_run_is_failed_cleaned_up_and_no_index_is_built_from_it(
    world: World, point: str
) -> None:
    _with_persons(world)
    world.ok("payments", "import", str(payments_file(world.root, "payments.csv", "P")))
    world.ok("insured", "compute", "--month", "2022-01")
    world.killed("insured", "compute", "--year", "2022", crash_at=point)
    [_, killed] = _status_runs(world)
    assert killed.status is RunStatus.RUNNING  # what the killed process left
    assert world.lake.interrupted_runs() == [killed.id]
    assert list(world.lake.root.glob(".tmp-status-*")) or point == "status.started"

    refused = world.run("eligibility", "build-index")
    [_, killed] = _status_runs(world)
    assert killed.status is RunStatus.FAILED
    assert killed.summary is not None and "interrupted" in killed.summary["error"]
    assert list(world.lake.root.glob(".tmp-status-*")) == []
    world.consistent()
    if point == "status.month:2":  # January and February were swapped in by the killed run
        assert refused.returncode == 1, refused.stdout
        message = " ".join(refused.stderr.split())
        assert f"written by run {killed.id}, which failed" in message, message
        assert "saqta insured compute" in message
    else:  # nothing of the killed run reached the lake
        assert refused.returncode == 0, refused.stderr
    world.ok("insured", "compute", "--year", "2022")
    world.ok("eligibility", "build-index")
    world.consistent()


def test_an_index_is_not_built_while_a_status_run_is_going(world: World) -> None:
    _with_persons(world)
    world.ok("payments", "import", str(payments_file(world.root, "payments.csv", "P")))
    world.ok("insured", "compute", "--month", "2022-01")
    # a status run at work holds the lock and its marker
    with world.lake.lock(), world.lake.run_marker(999):
        refused = world.run("eligibility", "build-index")
    assert refused.returncode == 1
    assert "status run 999 has not finished" in " ".join(refused.stderr.split())


# --------------------------------------------------------------------------------------------
# Kills at random moments


def test_imports_killed_at_random_moments_leave_a_consistent_lake(world: World) -> None:
    _with_persons(world)
    generator = random.Random(20221205)
    files = [
        payments_file(world.root, f"payments-{n}.csv", f"R{n}", rows_per_person=1500)
        for n in range(4)
    ]
    for path in files:
        child = subprocess.Popen(
            [SAQTA, "payments", "import", str(path)],
            env=world.env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(generator.uniform(0.5, 4.0))
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=120)
        world.ok("insured", "compute", "--month", "2022-07")
        world.consistent()
    for path in files:
        world.ok("payments", "import", str(path))
    world.consistent()
    assert world.rows("payments") == 4 * len(PEOPLE) * 1500


# --------------------------------------------------------------------------------------------
# The system of record on PostgreSQL too


def test_a_crash_right_after_the_commit_is_finished_on_either_database(
    tmp_path: Path, db_url: str
) -> None:
    world = World(tmp_path, db_url)
    try:
        _with_persons(world)
        path = payments_file(world.root, "payments.csv", "P")
        world.killed("payments", "import", str(path), crash_at="lake.roll_forward:2")
        world.ok("insured", "compute", "--month", "2022-07")
        world.consistent()
        assert world.rows("payments") == len(PEOPLE) * 6
    finally:
        world.engine.dispose()


# --------------------------------------------------------------------------------------------
# Index builds kept


def test_only_the_newest_index_builds_are_kept_and_never_the_current_one(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from saqta.core.settings import get_settings
    from saqta.mshi.eligibility import build_index, default_index_root

    _with_persons(world)
    world.ok("payments", "import", str(payments_file(world.root, "payments.csv", "P")))
    world.ok("insured", "compute", "--month", "2022-07")
    root = default_index_root(world.lake.root)
    built = [build_index(world.lake.root, engine=world.engine).path for _ in range(5)]
    kept = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert kept == sorted(Path(p).name for p in built[-3:])  # the default keeps 3
    assert (root / "CURRENT").read_text().strip() == Path(built[-1]).name
    monkeypatch.setenv("SAQTA_ELIGIBILITY_INDEX_KEEP", "1")
    get_settings.cache_clear()
    try:
        last = build_index(world.lake.root, engine=world.engine)
    finally:
        get_settings.cache_clear()
    assert [p.name for p in root.iterdir() if p.is_dir()] == [Path(last.path).name]
    # the build CURRENT names survives even when it is not among the newest ones
    from saqta.mshi.eligibility._index import _prune

    older = root / "20200101T000000Z-0000abcd"
    older.mkdir()
    (root / "CURRENT").write_text(older.name + "\n")
    assert _prune(root, 1) == []  # the newest is kept, and so is the current one
    assert older.is_dir() and Path(last.path).is_dir()


def test_the_index_keep_setting_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from saqta.core.settings import Settings

    assert Settings().eligibility_index_keep == 3
    monkeypatch.setenv("SAQTA_ELIGIBILITY_INDEX_KEEP", "7")
    assert Settings().eligibility_index_keep == 7
    monkeypatch.setenv("SAQTA_ELIGIBILITY_INDEX_KEEP", "0")
    with pytest.raises(ValueError):
        Settings()


# --------------------------------------------------------------------------------------------
# Readers and the crash-point hook


def test_a_reader_without_write_access_refuses_a_lake_with_an_unfinished_transaction(
    world: World,
) -> None:
    from saqta.core.errors import StoreError
    from saqta.core.periods import Month
    from saqta.mshi.intake import settle_lake
    from saqta.mshi.status._engine import read_status

    _with_persons(world)
    path = payments_file(world.root, "payments.csv", "P")
    world.killed("payments", "import", str(path), crash_at="import.committed")
    # The lock file cannot be opened for writing (as on a read-only copy of the lake; a folder
    # in its place makes opening it fail the same way, whoever runs the test).
    lock = world.lake.root / ".writer.lock"
    lock.unlink()
    lock.mkdir()
    with pytest.raises(StoreError, match="unfinished transaction"):
        settle_lake(world.lake.root, world.engine)
    with pytest.raises(StoreError, match="unfinished transaction"):
        read_status(world.lake.root, Month(2022, 7))
    lock.rmdir()
    settle_lake(world.lake.root, world.engine)
    world.consistent()
    assert world.rows("payments") == len(PEOPLE) * 6


def test_the_crash_hook_is_a_no_op_without_the_variable() -> None:
    script = (
        "import time\n"
        "from saqta.core.faults import crash_point, _TARGET\n"
        "assert _TARGET is None\n"
        "start = time.perf_counter()\n"
        "for _ in range(1_000_000):\n"
        "    crash_point('lake.roll_forward')\n"
        "print(time.perf_counter() - start)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "SAQTA_CRASH_AT"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert float(done.stdout) < 1.0  # a million calls: well under a microsecond each
    wrong = subprocess.run(
        [sys.executable, "-c", "import saqta.core.faults"],
        env={**env, "SAQTA_CRASH_AT": "no.such.point"},
        capture_output=True,
        text=True,
    )
    assert wrong.returncode != 0 and "unknown crash point" in wrong.stderr


def test_a_staged_status_file_is_never_read_as_a_month(world: World) -> None:
    """The killed run's staged month lives in a temporary folder that readers ignore."""
    _with_persons(world)
    world.ok("payments", "import", str(payments_file(world.root, "payments.csv", "P")))
    world.killed("insured", "compute", "--month", "2022-03", crash_at="status.started")
    world.ok("insured", "compute", "--month", "2022-02")
    months = sorted(p.name for p in (world.lake.root / "derived" / "status").iterdir())
    assert months == ["month=2022-02-01"]
    files = list((world.lake.root / "derived" / "status" / "month=2022-02-01").glob("*.parquet"))
    assert pq.read_table(files[0]).num_rows == len(PEOPLE)
