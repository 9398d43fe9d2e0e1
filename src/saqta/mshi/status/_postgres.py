"""The same month's status computed in PostgreSQL 15, with the same rules and the same SQL
(:mod:`saqta.mshi.status._sql`, PostgreSQL dialect): the incumbent architecture of national
systems, side by side with DuckDB over the lake.

:func:`load_month_inputs` copies what one month needs from the lake into plain tables
(``persons``: every row; ``state_categories``: the periods overlapping the month;
``payments``: the counted payment types in the periods the rules look at; ``payment_outflows``:
every refund), through CSV and ``COPY``. :func:`postgres_status` then computes the month.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from saqta.core.periods import Month
from saqta.core.rules import RuleSet, load_rules
from saqta.mshi.intake import settle_lake
from saqta.mshi.registry import category_periods
from saqta.mshi.schema import (
    PAYMENT_OUTFLOWS,
    PAYMENTS,
    PERSONS,
    STATE_CATEGORY_PERIODS,
    STATUS,
)
from saqta.mshi.status._engine import _payment_files, _read, spans
from saqta.mshi.status._sql import POSTGRES, Sources, month_sql, setup_sql
from saqta.store.lake import FactsLake
from saqta.store.sql import sql_literal

__all__ = [
    "LoadReport",
    "compute_postgres_month",
    "export_result",
    "load_month_inputs",
    "postgres_status",
]

_TABLES = {
    "persons": "iin varchar(12), sex varchar(1), birth_date date, region varchar(16), "
    "urban boolean, attached_provider_id integer, death_date date, loaded_seq bigint",
    "state_categories": "iin varchar(12), category varchar(32), valid_from date, valid_to date, "
    "loaded_seq bigint, source varchar(64)",
    "payments": "reference text, payer_id text, person_iin varchar(12), payment_type text, "
    "period date, amount numeric(18, 2), payment_date date, source_file text, source_row bigint",
    "payment_outflows": "refund_id bigint, reference text, person_iin varchar(12), period date, "
    "amount numeric(18, 2), paid_on date",
}


_COLUMNS = {
    "persons": PERSONS,
    "state_categories": STATE_CATEGORY_PERIODS,
    "payments": PAYMENTS,
    "payment_outflows": PAYMENT_OUTFLOWS,
}


@dataclass
class LoadReport:
    rows: dict[str, int]
    seconds: float


def _copy_in(cursor: Any, table: str, csv: Path) -> None:
    with cursor.copy(f"COPY {table} FROM STDIN (FORMAT csv)") as copy, csv.open("rb") as handle:
        while block := handle.read(1 << 22):
            copy.write(block)


def load_month_inputs(
    lake: FactsLake | Path | str, conninfo: str, month: Month, rules: RuleSet | None = None
) -> LoadReport:
    """Create the four input tables in the database of ``conninfo`` and fill them with what
    ``month`` needs."""
    import psycopg

    lake = settle_lake(lake)
    rules = rules if rules is not None else load_rules()
    span = spans([month], rules)[0]
    r = span.rules
    started = time.perf_counter()
    low, high = span.period_range
    index = "(year(period) * 12 + month(period) - 1)"
    period_filter = f"{index} <= {high}" + (f" AND {index} >= {low}" if low is not None else "")
    types = ", ".join(sql_literal(t) for t in sorted({*r.payment_types, "self_payer"}))
    queries = {
        "persons": (_read(lake.files("persons")), ""),
        "state_categories": (
            category_periods(lake),
            f"WHERE valid_from <= DATE '{month.last_day}' "
            f"AND (valid_to IS NULL OR valid_to >= DATE '{month.first_day}')",
        ),
        "payments": (
            _read(_payment_files(lake, span.period_range)),
            f"WHERE payment_type IN ({types}) AND {period_filter}",
        ),
        "payment_outflows": (_read(lake.files("payment_outflows")), ""),
    }
    rows: dict[str, int] = {}
    with (
        tempfile.TemporaryDirectory(prefix="saqta-pg-load-") as folder,
        duckdb.connect(":memory:") as duck,
        psycopg.connect(conninfo, autocommit=True) as pg,
    ):
        for table, columns in _TABLES.items():
            pg.execute(f"DROP TABLE IF EXISTS {table}")
            pg.execute(f"CREATE UNLOGGED TABLE {table} ({columns})")
            source, where = queries[table]
            if source is None:
                rows[table] = 0
                continue
            names = ", ".join(_COLUMNS[table].names)
            csv = Path(folder) / f"{table}.csv"
            duck.execute(
                f"COPY (SELECT {names} FROM {source} {where}) TO {sql_literal(csv)} "
                "(FORMAT csv, HEADER false)"
            )
            with pg.cursor() as cursor:
                _copy_in(cursor, table, csv)
            csv.unlink()
            count = pg.execute(f"SELECT count(*) FROM {table}").fetchone()
            rows[table] = int(count[0]) if count else 0
            pg.execute(f"ANALYZE {table}")
    return LoadReport(rows=rows, seconds=time.perf_counter() - started)


def compute_postgres_month(
    conninfo: str,
    month: Month,
    rules: RuleSet | None = None,
    run_id: int = 0,
    into: str = "status_result",
) -> float:
    """Compute ``month`` in PostgreSQL over the loaded tables into the table ``into`` (replaced);
    return the seconds it took."""
    import psycopg

    rules = rules if rules is not None else load_rules()
    span = spans([month], rules)[0]
    started = time.perf_counter()
    with psycopg.connect(conninfo, autocommit=True) as pg:
        present = {
            row[0]
            for row in pg.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            ).fetchall()
        }
        sources = Sources(
            persons="persons",
            categories="state_categories" if "state_categories" in present else None,
            payments="payments" if "payments" in present else None,
            outflows="payment_outflows" if "payment_outflows" in present else None,
        )
        pg.execute("SET work_mem = '256MB'")
        for statement in setup_sql(POSTGRES, sources, span):
            pg.execute(statement)
            if statement.startswith("CREATE TEMP TABLE"):
                pg.execute(f"ANALYZE {statement.split()[3]}")
        pg.execute(f"DROP TABLE IF EXISTS {into}")
        pg.execute(
            f"CREATE UNLOGGED TABLE {into} AS {month_sql(POSTGRES, month, span.rules, run_id)}"
        )
    return time.perf_counter() - started


def postgres_status(
    conninfo: str, month: Month, rules: RuleSet | None = None, run_id: int = 0
) -> pa.Table:
    """The status of every person in ``month``, computed by PostgreSQL over the loaded tables,
    in the schema :data:`saqta.mshi.schema.STATUS`, sorted by IIN (for small countries: the rows
    pass through Python)."""
    import psycopg

    compute_postgres_month(conninfo, month, rules, run_id)
    with psycopg.connect(conninfo, autocommit=True) as pg, pg.cursor() as cursor:
        cursor.execute("SELECT * FROM status_result ORDER BY iin")
        names = [column.name for column in cursor.description or ()]
        columns: dict[str, list[Any]] = {name: [] for name in names}
        for row in cursor.fetchall():
            for name, value in zip(names, row, strict=True):
                columns[name].append(value)
    arrays = [pa.array(columns.get(f.name, []), f.type) for f in STATUS]
    return pa.Table.from_arrays(arrays, schema=STATUS)


def export_result(conninfo: str, csv: Path, table: str = "status_result") -> None:
    """Write a result table of PostgreSQL to a CSV file (with a header)."""
    import psycopg

    with (
        psycopg.connect(conninfo, autocommit=True) as pg,
        pg.cursor() as cursor,
        csv.open("wb") as handle,
        cursor.copy(f"COPY {table} TO STDOUT (FORMAT csv, HEADER true)") as copy,
    ):
        for block in copy:
            handle.write(block)
