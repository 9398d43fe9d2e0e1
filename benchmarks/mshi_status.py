"""Benchmark: the insured status of a whole country, DuckDB over the lake and PostgreSQL 15.

    # once: convert a synthetic country (saqta synth --out SYNTH) into a facts lake
    flock BENCH_LOCK .venv/bin/python benchmarks/mshi_status.py prepare SYNTH LAKE
    # then: one month, the whole year, and the same month in PostgreSQL
    flock BENCH_LOCK .venv/bin/python benchmarks/mshi_status.py run LAKE --month 2022-12 --year 2022

``prepare`` writes the contract's datasets: ``persons`` (``loaded_seq`` 1), ``state_categories``,
``payments`` partitioned by year/month of period (``source_file`` = SHA-256 of the synthetic file,
``source_row`` = its 1-based row) and ``payment_outflows`` (one refund for every 500th payment that
is not a state contribution: about the 209.8 thousand refunds the Fund reports for 2022), then the
compact payments the status engine reads (``_index/paid-v1``), as an import builds them.

``run`` reports, as JSON: with ``--rebuild-paid``, the time of building the compact payments
anew; the time and peak memory of one month and of the whole year with
DuckDB (`compute_status`), then a throwaway PostgreSQL server (initdb and
pg_ctl, as the ``postgres`` user when run as root): the load time of what that month needs and
the compute time of the same month's status with the same rules, and the ratio. The PostgreSQL
answer is checked against DuckDB's (same rows, same values). Each phase runs in a child process so
that its peak memory is its own.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def prepare(synth: Path, lake_dir: Path) -> None:
    from saqta.mshi.schema import PAYMENT_OUTFLOWS, PAYMENTS, PERSONS, STATE_CATEGORY_PERIODS
    from saqta.store.lake import FactsLake

    lake = FactsLake(lake_dir)
    if lake.datasets():
        sys.exit(f"{lake_dir} already holds datasets: give an empty folder")
    started = time.perf_counter()
    for path in sorted((synth / "persons").glob("*.parquet")):
        table = pq.read_table(path)
        table = table.append_column("loaded_seq", pa.array([1] * table.num_rows, pa.int64()))
        lake.append("persons", table.select(PERSONS.names).cast(PERSONS))
    for path in sorted((synth / "state_categories").glob("*.parquet")):
        table = pq.read_table(path)
        table = table.append_column("loaded_seq", pa.array([1] * table.num_rows, pa.int64()))
        lake.append("state_categories", table.select(STATE_CATEGORY_PERIODS.names))
    refund_id = 0
    for path in sorted((synth / "payments").glob("*.parquet")):
        sha = _sha256(path)
        table = pq.read_table(path)
        n = table.num_rows
        table = table.append_column("source_file", pa.array([sha] * n, pa.string()))
        table = table.append_column("source_row", pa.array(range(1, n + 1), pa.int64()))
        table = table.select(PAYMENTS.names).cast(PAYMENTS)
        period = table.column("period")
        table = table.append_column("year", pc.year(period).cast(pa.int16()))
        table = table.append_column("month", pc.month(period).cast(pa.int16()))
        lake.append("payments", table, partition_by=("year", "month"))
        every_500th = pa.array(np.arange(1, n + 1) % 500 == 0)
        mask = pc.and_(
            every_500th, pc.not_equal(table.column("payment_type"), "state_contribution")
        )
        refunded = table.filter(mask)
        m = refunded.num_rows
        outflows = pa.table(
            {
                "refund_id": pa.array(range(refund_id + 1, refund_id + m + 1), pa.int64()),
                "reference": refunded.column("reference"),
                "person_iin": refunded.column("person_iin"),
                "period": refunded.column("period"),
                "amount": refunded.column("amount"),
                "paid_on": refunded.column("payment_date"),
            },
            schema=PAYMENT_OUTFLOWS,
        )
        refund_id += m
        lake.append("payment_outflows", outflows)
        print(f"{path.name}: {n:,} payments, {m:,} refunds", flush=True)
    from saqta.mshi.contributions import paid_files

    paid_started = time.perf_counter()
    paid_files(lake, lake.files("payments"))  # what each import does after it commits
    paid_seconds = time.perf_counter() - paid_started
    print(
        json.dumps(
            {
                "paid_index_seconds": round(paid_seconds, 1),
                "prepared": str(lake_dir),
                "persons": lake.count("persons"),
                "state_categories": lake.count("state_categories"),
                "payments": lake.count("payments"),
                "payment_outflows": lake.count("payment_outflows"),
                "seconds": round(time.perf_counter() - started, 1),
            },
            indent=2,
        )
    )


def _phase(lake_dir: Path, months: list[str], home: Path) -> None:
    """One timed computation, in its own process; prints its result as JSON."""
    from saqta.core.periods import parse_month
    from saqta.mshi.status import compute_status
    from saqta.store.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{home / 'saqta.db'}")
    upgrade(engine)
    started = time.perf_counter()
    run = compute_status(lake_dir, [parse_month(m) for m in months], engine=engine)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": round(seconds, 1), "run_id": run.run_id, **run.summary()}))


def _paid_phase(lake_dir: Path) -> None:
    """Build the compact payments (``_index/paid-v1``) anew, as the imports would have; prints
    the time and the files built as JSON."""
    from saqta.mshi.contributions import PAID_DIR, paid_files
    from saqta.store.lake import FactsLake

    lake = FactsLake(lake_dir)
    shutil.rmtree(lake.root.joinpath(*PAID_DIR), ignore_errors=True)
    sources = lake.files("payments")
    started = time.perf_counter()
    built = paid_files(lake, sources)
    seconds = time.perf_counter() - started
    size = sum(path.stat().st_size for path in built)
    print(json.dumps({"seconds": round(seconds, 1), "files": len(built), "bytes": size}))


def _child(args: list[str]) -> tuple[dict, int]:
    """Run a phase in a child process; its JSON and its peak resident memory in MiB."""
    process = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        sys.exit(f"phase {args} failed")
    return json.loads(output.strip().splitlines()[-1]), usage.ru_maxrss // 1024


class _Postgres:
    """A throwaway PostgreSQL server tuned for one batch (run as ``postgres`` when we are root)."""

    def __init__(self, memory_mb: int) -> None:
        self.bin = self._find_bin()
        self.folder = Path(tempfile.mkdtemp(prefix="saqta-bench-pg-"))
        self.data = self.folder / "data"
        self.as_root = os.geteuid() == 0
        self.port = self._free_port()
        self.memory_mb = memory_mb

    @staticmethod
    def _find_bin() -> Path:
        found = shutil.which("pg_ctl")
        if found:
            return Path(found).resolve().parent
        candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
        for folder in candidates:
            if (folder / "pg_ctl").is_file():
                return folder
        sys.exit("PostgreSQL server binaries (initdb, pg_ctl) not found")

    @staticmethod
    def _free_port() -> int:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return int(probe.getsockname()[1])

    def _run(self, *command: str) -> None:
        full = [str(self.bin / command[0]), *command[1:]]
        if self.as_root:
            full = ["runuser", "-u", "postgres", "--", *full]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        subprocess.run(full, cwd=self.folder, env=env, check=True, capture_output=True)

    def start(self) -> str:
        if self.as_root:
            shutil.chown(self.folder, user="postgres")
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth",
            "trust",
            "--no-locale",
            "-E",
            "UTF8",
            "--no-sync",
        )
        options = " ".join(
            [
                "-c listen_addresses=127.0.0.1",
                f"-c port={self.port}",
                f"-c unix_socket_directories={self.folder}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c wal_level=minimal",
                "-c max_wal_senders=0",
                f"-c shared_buffers={self.memory_mb // 4}MB",
                "-c work_mem=512MB",
                "-c maintenance_work_mem=1GB",
                "-c temp_buffers=1GB",
                "-c max_parallel_workers_per_gather=2",
                "-c max_wal_size=8GB",
            ]
        )
        self._run(
            "pg_ctl",
            "start",
            "-D",
            str(self.data),
            "-l",
            str(self.folder / "log"),
            "-w",
            "-t",
            "60",
            "-o",
            options,
        )
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"

    def memory_mib(self) -> int:
        """Proportional set size of the server and its backends, MiB."""
        try:
            root = int((self.data / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return 0
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
                pid = int(stat.parent.name)
                if pid != root and int(fields[1]) != root:
                    continue
                for line in (stat.parent / "smaps_rollup").read_text().splitlines():
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
            except (OSError, ValueError, IndexError):
                continue
        return total // 1024

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w")
        shutil.rmtree(self.folder, ignore_errors=True)


def _watch(sample: Callable[[], int]) -> tuple[threading.Event, list[int]]:
    stop = threading.Event()
    peak = [0]

    def loop() -> None:
        while not stop.wait(0.5):
            peak[0] = max(peak[0], sample())

    threading.Thread(target=loop, daemon=True).start()
    return stop, peak


def run(lake_dir: Path, month: str, year: int, skip_postgres: bool, rebuild_paid: bool) -> None:
    import duckdb

    from saqta.core.periods import parse_month
    from saqta.mshi.status import (
        compute_postgres_month,
        export_result,
        load_month_inputs,
        status_folder,
    )
    from saqta.store.lake import FactsLake

    report: dict[str, object] = {
        "lake": str(lake_dir),
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
    }
    with tempfile.TemporaryDirectory(prefix="saqta-bench-home-") as home:
        if rebuild_paid:
            paid, rss = _child(["paid", str(lake_dir)])
            report["paid_index_build"] = {**paid, "peak_rss_mib": rss}
        one, rss = _child(["phase", str(lake_dir), home, month])
        report["duckdb_month"] = {
            "month": month,
            "seconds": one["seconds"],
            "peak_rss_mib": rss,
            "rows": one["rows"],
            "entitled": one["entitled"],
            "by_basis": one["by_basis"],
        }
        if year:
            months = [f"{year}-{m:02d}" for m in range(1, 13)]
            whole, rss = _child(["phase", str(lake_dir), home, *months])
            report["duckdb_year"] = {
                "year": year,
                "seconds": whole["seconds"],
                "peak_rss_mib": rss,
                "entitled": whole["entitled"],
            }
    print(json.dumps(report, indent=2), flush=True)
    if skip_postgres:
        return
    server = _Postgres(memory_mb=6144)
    try:
        conninfo = server.start()
        stop, peak = _watch(server.memory_mib)
        load = load_month_inputs(lake_dir, conninfo, parse_month(month))
        seconds = compute_postgres_month(conninfo, parse_month(month))
        stop.set()
        with tempfile.TemporaryDirectory(prefix="saqta-bench-cmp-") as folder:
            csv = Path(folder) / "pg.csv"
            export_result(conninfo, csv)
            lake = FactsLake(lake_dir)
            ours = status_folder(lake, parse_month(month)).as_posix() + "/*.parquet"
            columns = (
                "iin, entitled, basis, category, payment_type, paid_months, "
                "last_paid_period, valid_until, valid_from_day, change_code, change_date, "
                "change_month, change_count, offer_months"
            )
            with duckdb.connect() as duck:
                duck.execute(f"CREATE TABLE a AS SELECT {columns} FROM read_parquet('{ours}')")
                duck.execute(
                    f"CREATE TABLE b AS SELECT {columns} FROM read_csv('{csv}', header = true, "
                    "types = {'iin': 'VARCHAR', 'category': 'VARCHAR', 'payment_type': 'VARCHAR', "
                    "'paid_months': 'SMALLINT', 'change_code': 'SMALLINT', "
                    "'change_count': 'SMALLINT', 'offer_months': 'SMALLINT'})"
                )
                only_duck = duck.execute(
                    "SELECT count(*) FROM (FROM a EXCEPT ALL FROM b)"
                ).fetchone()
                only_pg = duck.execute("SELECT count(*) FROM (FROM b EXCEPT ALL FROM a)").fetchone()
                rows_pg = duck.execute("SELECT count(*) FROM b").fetchone()
        duck_seconds = float(report["duckdb_month"]["seconds"])  # type: ignore[index]
        report["postgresql_month"] = {
            "month": month,
            "load_seconds": round(load.seconds, 1),
            "loaded_rows": load.rows,
            "compute_seconds": round(seconds, 1),
            "peak_pss_mib": peak[0],
            "rows": rows_pg[0] if rows_pg else None,
            "rows_only_in_duckdb": only_duck[0] if only_duck else None,
            "rows_only_in_postgresql": only_pg[0] if only_pg else None,
            "compute_ratio_postgresql_to_duckdb": round(seconds / duck_seconds, 2),
        }
    finally:
        server.stop()
    print(json.dumps(report, indent=2))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "phase":
        _phase(Path(sys.argv[2]), sys.argv[4:], Path(sys.argv[3]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "paid":
        _paid_phase(Path(sys.argv[2]))
        return
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("synth", type=Path)
    p.add_argument("lake", type=Path)
    r = sub.add_parser("run")
    r.add_argument("lake", type=Path)
    r.add_argument("--month", default="2022-12")
    r.add_argument("--year", type=int, default=2022, help="0: skip the year")
    r.add_argument("--skip-postgres", action="store_true")
    r.add_argument(
        "--rebuild-paid",
        action="store_true",
        help="first build the compact payments (_index/paid-v1) anew and time it",
    )
    args = parser.parse_args()
    if args.command == "prepare":
        prepare(args.synth, args.lake)
    else:
        run(args.lake, args.month, args.year, args.skip_postgres, args.rebuild_paid)


if __name__ == "__main__":
    main()
