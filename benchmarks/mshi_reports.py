"""Benchmark of the annual MSHI reports on a lake converted from a synthetic country.

    python benchmarks/mshi_reports.py build SYNTH_DIR LAKE_DIR   # convert a `saqta synth` output
    python benchmarks/mshi_reports.py run LAKE_DIR --year 2022   # time coverage, collections,
                                                                 # frequency; print the figures

``build`` is a straight conversion into the lake's contract (:mod:`saqta.mshi.schema`): persons and
state categories with ``loaded_seq`` 1, payments partitioned by the year and month of their period
with ``source_file`` (SHA-256 of the synthetic file's name) and ``source_row``. It also writes
*interim* status rows for December of the synthetic year, derived simply (they stand in for the
status engine's results, whose rules decide entitlement properly):

- dead before December: ``deceased``;
- a state category in force on some day of December: ``state_category``;
- a self-payer's payment for December made before December: ``prepayment``;
- any other payment for October, November or December: ``contributions``;
- otherwise ``none``.

Run heavy builds under ``flock`` on a shared machine; the script takes every path as an argument.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import time
from pathlib import Path

import duckdb

PARTITION_KEY = "saqta.partition_by"
CATEGORY_NAMES = {"military_conscript": "conscript", "other_exempt": "other"}


def _q(path: Path) -> str:
    return "'" + path.as_posix().replace("'", "''") + "'"


def _kv(partitions: list[tuple[str, str]]) -> str:
    value = json.dumps([list(p) for p in partitions]).replace("'", "''")
    return f"KV_METADATA {{'{PARTITION_KEY}': '{value}'}}"


def build_lake(synth: Path, lake: Path, *, threads: int = 2, status_run_id: int = 1) -> dict:
    """Convert the synthetic country in ``synth`` into a facts lake at ``lake`` (replaced)."""
    manifest = json.loads((synth / "manifest.json").read_text(encoding="utf-8"))
    year = int(manifest["year"])
    if lake.exists():
        shutil.rmtree(lake)
    lake.mkdir(parents=True)
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.execute("SET preserve_insertion_order = false")
    timings: dict[str, float] = {}

    def step(name: str, sql: str) -> None:
        start = time.perf_counter()
        con.execute(sql)
        timings[name] = round(time.perf_counter() - start, 1)
        print(f"{name}: {timings[name]} s", file=sys.stderr)

    (lake / "persons").mkdir()
    step(
        "persons",
        f"""COPY (SELECT iin, sex, birth_date, region, urban, attached_provider_id, death_date,
                   1::BIGINT AS loaded_seq
            FROM read_parquet({_q(synth / "persons" / "*.parquet")}))
        TO {_q(lake / "persons" / "part-synth.parquet")} (FORMAT parquet, COMPRESSION zstd)""",
    )
    mapping = " ".join(f"WHEN '{a}' THEN '{b}'" for a, b in CATEGORY_NAMES.items())
    (lake / "state_categories").mkdir()
    step(
        "state_categories",
        f"""COPY (SELECT iin, CASE category {mapping} ELSE category END AS category,
                   valid_from, valid_to, 1::BIGINT AS loaded_seq
            FROM read_parquet({_q(synth / "state_categories" / "*.parquet")}))
        TO {_q(lake / "state_categories" / "part-synth.parquet")}
        (FORMAT parquet, COMPRESSION zstd)""",
    )
    step(
        "payments",
        f"""COPY (SELECT reference, payer_id, person_iin, payment_type, period, amount,
                   payment_date, files.sha256 AS source_file,
                   (file_row_number + 1)::BIGINT AS source_row,
                   year(period)::SMALLINT AS year, month(period)::SMALLINT AS month
            FROM read_parquet({_q(synth / "payments" / "*.parquet")},
                              filename = true, file_row_number = true)
            JOIN (SELECT file AS filename, sha256(file) AS sha256
                  FROM glob({_q(synth / "payments" / "*.parquet")})) files USING (filename))
        TO {_q(lake / "payments")}
        (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (year, month),
         FILENAME_PATTERN 'part-synth-{{i}}',
         {_kv([("year", "SMALLINT"), ("month", "SMALLINT")])})""",
    )
    december = dt.date(year, 12, 1)
    october = dt.date(year, 10, 1)
    folder = lake / "derived" / "status" / f"month={december.isoformat()}"
    folder.mkdir(parents=True)
    step(
        "status (interim, December)",
        f"""COPY (
            WITH persons AS (
                SELECT iin, death_date FROM read_parquet({_q(lake / "persons" / "*.parquet")})
            ),
            state AS (
                SELECT iin, min(category) AS category
                FROM read_parquet({_q(lake / "state_categories" / "*.parquet")})
                WHERE valid_from <= DATE '{year}-12-31'
                  AND coalesce(valid_to, DATE '9999-12-31') >= DATE '{december}'
                GROUP BY iin
            ),
            paid AS (
                SELECT person_iin AS iin,
                       bool_or(payment_type = 'self_payer' AND period = DATE '{december}'
                               AND payment_date < DATE '{december}') AS prepaid,
                       min(payment_type) AS payment_type, count(DISTINCT period) AS months,
                       max(period) AS last_period
                FROM read_parquet({_q(lake / "payments" / "**" / "*.parquet")},
                                  hive_partitioning = true)
                WHERE payment_type <> 'state_contribution'
                  AND period BETWEEN DATE '{october}' AND DATE '{december}'
                GROUP BY 1
            )
            SELECT p.iin, DATE '{december}' AS month,
                   CASE WHEN p.death_date < DATE '{december}' THEN false
                        ELSE s.iin IS NOT NULL OR paid.iin IS NOT NULL END AS entitled,
                   CASE WHEN p.death_date < DATE '{december}' THEN 'deceased'
                        WHEN s.iin IS NOT NULL THEN 'state_category'
                        WHEN paid.prepaid THEN 'prepayment'
                        WHEN paid.iin IS NOT NULL THEN 'contributions'
                        ELSE 'none' END AS basis,
                   s.category, paid.payment_type,
                   coalesce(paid.months, 0)::SMALLINT AS paid_months,
                   paid.last_period AS last_paid_period,
                   NULL::DATE AS valid_until,
                   NULL::DATE AS valid_from_day,
                   NULL::SMALLINT AS change_code,
                   NULL::DATE AS change_date,
                   NULL::DATE AS change_month,
                   NULL::SMALLINT AS change_count,
                   NULL::SMALLINT AS offer_months,
                   {int(status_run_id)}::BIGINT AS run_id
            FROM persons p LEFT JOIN state s USING (iin) LEFT JOIN paid USING (iin)
        ) TO {_q(folder / "part-interim.parquet")} (FORMAT parquet, COMPRESSION zstd)""",
    )
    con.close()
    return {"year": year, "timings": timings, "manifest_population": manifest["population"]}


def run_reports(lake: Path, year: int) -> dict:
    from saqta.mshi.reports import collections_report, coverage_report, frequency_report

    out: dict = {}
    for name, fn in (
        ("coverage", coverage_report),
        ("collections", collections_report),
        ("frequency", frequency_report),
    ):
        start = time.perf_counter()
        report = fn(lake, year)
        seconds = time.perf_counter() - start
        out[name] = (report, round(seconds, 1))
        print(f"{name}: {seconds:.1f} s", file=sys.stderr)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="convert a synthetic country into a facts lake")
    build.add_argument("synth", type=Path)
    build.add_argument("lake", type=Path)
    build.add_argument("--threads", type=int, default=2)
    run = sub.add_parser("run", help="time the three reports and print their figures")
    run.add_argument("lake", type=Path)
    run.add_argument("--year", type=int, default=2022)
    args = parser.parse_args()
    if args.command == "build":
        print(json.dumps(build_lake(args.synth, args.lake, threads=args.threads), indent=2))
        return
    from rich.console import Console

    from saqta.mshi.reports import document, print_document

    console = Console(width=200)
    results = run_reports(args.lake, args.year)
    for name, (report, seconds) in results.items():
        console.rule(f"{name}: {seconds} s")
        print_document(document(report), console)


if __name__ == "__main__":
    main()
