"""The insured-status engine: for every person and month, entitled or not, why, until when, and
what would change the answer.

Rules: ``rules/mshi/status.yaml`` (look-back window, paid months needed, survival after payments
stop, whether a payment counts from its period or its receipt, which payment types count) and the
self-payer prepayment rule of ``rules/mshi/contributions.yaml``; see :mod:`saqta.mshi.status._rules`
for the rule, :mod:`saqta.mshi.status._bits` for how DuckDB applies it (months as bits, over the
compact payments of :mod:`saqta.mshi.contributions._paid`) and :mod:`saqta.mshi.status._sql` for the
reference SQL (PostgreSQL, and DuckDB with ``formulation="sql"``).

Decisions (documented in the package documentation of the status engine):

- a preferential category counts for a month when its validity covers at least one day of it;
- a person who died is entitled (at most) until the day of death and, from the month after the
  month of death, has the basis ``deceased`` and is not entitled;
- a person born after the end of a month is not in that month's population (no row);
- a person's latest register row (highest ``loaded_seq``) and, per source (state register),
  the category periods of the person's latest load of that source are used;
- when several bases apply, the row names one in this order: state category, prepayment,
  contributions; ``valid_until`` is the latest end of all the bases that apply.

Public functions:

- :func:`compute_status`: batch (whole country) or incremental (some IINs, or the persons of one
  imported payments file) run for months; writes ``<lake>/derived/status/month=YYYY-MM-01/``
  (each month replaced as a whole) and records the run in ``runs`` (kind ``status``);
- :func:`status_of`: the status of some persons computed on the fly (nothing written);
- :func:`read_status`: the stored results of a month;
- :func:`explain`: one person's status in a month with the reasons and every payment looked at.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import datetime as dt
import hashlib
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from saqta.core.errors import InputError, StoreError
from saqta.core.faults import crash_point
from saqta.core.i18n import DEFAULT_LOCALE, N_, translations
from saqta.core.periods import Month
from saqta.core.rules import RuleSet, load_rules
from saqta.core.version import code_version
from saqta.mshi.contributions import hashed_outflows, paid_files
from saqta.mshi.intake import recover_lake, settle_lake
from saqta.mshi.registry import category_periods
from saqta.mshi.schema import STATUS
from saqta.mshi.status._bits import BitSources, bit_spans, month_bits_sql, setup_bits_sql
from saqta.mshi.status._rules import StatusRules, status_rules
from saqta.mshi.status._sql import DUCKDB, Sources, Span, month_sql, setup_sql, sql_date
from saqta.mshi.status._wording import category_label, change_text, payment_type_label
from saqta.store.lake import FactsLake
from saqta.store.sql import sql_literal, sql_path_list

__all__ = [
    "Explanation",
    "StatusRun",
    "compute_status",
    "explain",
    "input_hashes",
    "read_status",
    "row_change",
    "spans",
    "status_folder",
    "status_of",
]

RUN_KIND = "status"
STATUS_DIR = ("derived", "status")
_MONTH_FOLDER = re.compile(r"month=(\d{4})-(\d{2})-01")
_PARTITION_METADATA = '[["month", "DATE"]]'


# ------------------------------------------------------------------------------------------------
# Reading the lake


def _read(files: Sequence[Path]) -> str | None:
    if not files:
        return None
    return f"read_parquet({sql_path_list(files)}, hive_partitioning = false, union_by_name = true)"


def _payment_files(lake: FactsLake, periods: tuple[int | None, int]) -> list[Path]:
    """The payment files whose year/month partition lies in the period range."""
    low, high = periods
    chosen = []
    for path in lake.files("payments"):
        parts = dict(
            part.split("=", 1) for part in path.relative_to(lake.root).parts if "=" in part
        )
        try:
            index = int(parts["year"]) * 12 + int(parts["month"]) - 1
        except (KeyError, ValueError):
            chosen.append(path)  # not partitioned as the contract says: read it all
            continue
        if (low is None or index >= low) and index <= high:
            chosen.append(path)
    return chosen


def _persons(lake: FactsLake) -> str:
    persons = _read(lake.files("persons"))
    if persons is None:
        raise InputError(
            "the lake holds no persons: import the register first", where=str(lake.root)
        )
    return persons


def _sources(lake: FactsLake, span: Span, selected: str | None) -> Sources:
    return Sources(
        persons=_persons(lake),
        categories=category_periods(lake),
        payments=_read(_payment_files(lake, span.period_range)),
        outflows=_read(lake.files("payment_outflows")),
        selected=selected,
    )


def _one_load(lake: FactsLake) -> bool:
    """Whether every register row has the same ``loaded_seq`` (by the files' statistics): one
    load, whose import refused duplicate IINs, so each IIN has one row."""
    seen: set[Any] = set()
    for path in lake.files("persons"):
        metadata = pq.ParquetFile(path).metadata
        names = metadata.schema.names
        if "loaded_seq" not in names:
            return False
        column = names.index("loaded_seq")
        for group in range(metadata.num_row_groups):
            stats = metadata.row_group(group).column(column).statistics
            if stats is None or not stats.has_min_max or stats.null_count:
                return False
            seen.update((stats.min, stats.max))
            if len(seen) > 1:
                return False
    return True


def _load_refunds(connection: duckdb.DuckDBPyConnection, lake: FactsLake) -> str | None:
    """The refunds keyed as the compact payments are, in the table ``st_outflows`` (once a run);
    None when there are none."""
    outflows = _read(lake.files("payment_outflows"))
    if outflows is None:
        return None
    table = _arrow(connection, f"SELECT reference, person_iin, period, amount FROM {outflows}")
    connection.register("st_outflows_arrow", hashed_outflows(table))
    connection.execute(
        "CREATE OR REPLACE TEMP TABLE st_outflows AS SELECT * FROM st_outflows_arrow"
    )
    connection.unregister("st_outflows_arrow")
    return "st_outflows"


def _bit_sources(lake: FactsLake, span: Span, selected: bool, refunds: str | None) -> BitSources:
    paid = _read(paid_files(lake, _payment_files(lake, span.period_range)))
    return BitSources(
        persons=_persons(lake),
        categories=category_periods(lake),
        paid=paid,
        refunds=refunds if paid is not None else None,
        selected="st_selected" if selected else None,
        selected_keys="st_selected_key" if selected else None,
    )


FORMULATIONS = ("bits", "sql")
"""``bits``: :mod:`saqta.mshi.status._bits` (the default); ``sql``: the reference SQL of
:mod:`saqta.mshi.status._sql`, also used for a span whose windows do not fit the bits."""


MonthQuery = Callable[[Month, int], str]


def _sql_month(rules: StatusRules, month: Month, run_id: int) -> str:
    return month_sql(DUCKDB, month, rules, run_id)


def _bits_month(span: Span, month: Month, run_id: int) -> str:
    return month_bits_sql(month, span, run_id)


def _prepare(
    connection: duckdb.DuckDBPyConnection,
    lake: FactsLake,
    months: Sequence[Month],
    rules: RuleSet,
    selected: bool,
    formulation: str,
) -> Iterator[tuple[Span, MonthQuery]]:
    """For each span of ``months``: build its working tables, then give the span and the query
    of a month of it (``month``, ``run_id``)."""
    if formulation not in FORMULATIONS:
        raise InputError(f"unknown formulation {formulation!r}", where="status engine")
    refunds: str | None = None
    one_load: bool | None = None  # both read once, at the first span that needs them
    for whole in spans(months, rules):
        cut = bit_spans(whole) if formulation == "bits" else None
        if cut is None:
            sources = _sources(lake, whole, "st_selected" if selected else None)
            for statement in setup_sql(DUCKDB, sources, whole):
                connection.execute(statement)
            yield whole, partial(_sql_month, whole.rules)
            continue
        if one_load is None:
            one_load = _one_load(lake)
            refunds = _load_refunds(connection, lake)
        for span in cut:
            bit_sources = _bit_sources(lake, span, selected, refunds)
            for statement in setup_bits_sql(bit_sources, span, one_load=one_load):
                connection.execute(statement)
            yield span, partial(_bits_month, span)


def input_hashes(lake: FactsLake) -> dict[str, str]:
    """SHA-256 of each input dataset's listing (relative path and size of every file).

    Lake files are never rewritten (append-only, named by a fresh UUID), so the listing identifies
    the content without reading gigabytes.
    """
    hashes = {}
    for dataset in ("persons", "state_categories", "payments", "payment_outflows"):
        digest = hashlib.sha256()
        for path in lake.files(dataset):
            digest.update(
                f"{path.relative_to(lake.root).as_posix()}\t{path.stat().st_size}\n".encode()
            )
        hashes[dataset] = digest.hexdigest()
    return hashes


def _connect(lake: FactsLake) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(":memory:")
    connection.execute("SET preserve_insertion_order = false")
    temp = lake.root / ".tmp-duckdb"
    with contextlib.suppress(OSError):
        temp.mkdir(parents=True, exist_ok=True)
        connection.execute(f"SET temp_directory = {sql_literal(temp)}")
    return connection


# ------------------------------------------------------------------------------------------------
# Months and rules


def spans(months: Sequence[Month], rules: RuleSet) -> list[Span]:
    """Consecutive months with equal rules, computed together."""
    ordered = sorted(set(months))
    if not ordered:
        raise InputError("no month to compute")
    result: list[Span] = []
    for month in ordered:
        current = status_rules(rules, month)
        last = result[-1] if result else None
        if last is not None and last.rules == current and last.last.next() == month:
            result[-1] = Span(last.first, month, current)
        else:
            result.append(Span(month, month, current))
    return result


def status_folder(lake: FactsLake, month: Month) -> Path:
    return lake.root.joinpath(*STATUS_DIR, f"month={month.first_day.isoformat()}")


# ------------------------------------------------------------------------------------------------
# Atomic replacement of a month's folder

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders atomically (Linux renameat2); False where not supported."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return bool(result == 0)


def _replace_folder(new: Path, target: Path) -> None:
    """Put ``new`` in place of ``target``: readers see the old month or the new one, whole."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        os.replace(new, target)
        return
    if _exchange(new, target):
        shutil.rmtree(new, ignore_errors=True)  # ``new`` now holds the old files
        return
    old = target.parent / f".old-{uuid.uuid4().hex}"
    os.replace(target, old)
    os.replace(new, target)
    shutil.rmtree(old, ignore_errors=True)


# ------------------------------------------------------------------------------------------------
# Running


@dataclass
class StatusRun:
    """What a run did."""

    run_id: int
    months: list[Month]
    rows: dict[str, int] = field(default_factory=dict)
    entitled: dict[str, int] = field(default_factory=dict)
    by_basis: dict[str, dict[str, int]] = field(default_factory=dict)
    persons: int | None = None  # incremental: the persons recomputed
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "months": [str(m) for m in self.months],
            "rows": self.rows,
            "entitled": self.entitled,
            "by_basis": self.by_basis,
            "persons_recomputed": self.persons,
            "seconds": round(self.seconds, 1),
        }


def _select_iins(
    connection: duckdb.DuckDBPyConnection,
    lake: FactsLake,
    iins: Sequence[str] | None,
    source_file: str | None,
) -> int | None:
    """Fill the table ``st_selected``; return how many persons, or None for everyone."""
    if iins is None and source_file is None:
        return None
    chosen: set[str] = set(iins or ())
    if source_file is not None:
        sha = source_file.lower()
        if not re.fullmatch(r"[0-9a-f]{64}", sha):
            raise InputError(f"{source_file!r} is not a SHA-256 digest", where="--incremental-from")
        payments = _read(lake.files("payments"))
        found: list[tuple[str]] = []
        if payments is not None:
            found = connection.execute(
                f"SELECT DISTINCT person_iin FROM {payments} WHERE source_file = ?", [sha]
            ).fetchall()
        if not found:
            raise InputError(
                "no payments in the lake come from this file", where=f"source file {sha}"
            )
        chosen.update(row[0] for row in found)
    table = pa.table({"iin": pa.array(sorted(chosen), pa.string())})
    connection.register("st_selected_arrow", table)
    connection.execute(
        "CREATE OR REPLACE TEMP TABLE st_selected AS SELECT iin FROM st_selected_arrow"
    )
    connection.unregister("st_selected_arrow")
    connection.execute(
        "CREATE OR REPLACE TEMP TABLE st_selected_key AS SELECT CAST(iin AS BIGINT) AS iin "
        "FROM st_selected"
    )
    return len(chosen)


def _copy(connection: duckdb.DuckDBPyConnection, query: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    connection.execute(
        f"COPY ({query}) TO {sql_literal(target)} (FORMAT parquet, COMPRESSION snappy, "
        "ROW_GROUP_SIZE 1000000, "
        f"KV_METADATA {{'saqta.partition_by': {sql_literal(_PARTITION_METADATA)}}})"
    )


def _month_counts(connection: duckdb.DuckDBPyConnection, files: list[Path]) -> dict[str, int]:
    source = _read(files)
    if source is None:
        return {}
    rows = connection.execute(f"SELECT basis, count(*) FROM {source} GROUP BY basis").fetchall()
    return {str(basis): int(count) for basis, count in sorted(rows)}


def _run_months(
    connection: duckdb.DuckDBPyConnection,
    lake: FactsLake,
    months: Sequence[Month],
    rules: RuleSet,
    run_id: int,
    selected: bool,
    result: StatusRun,
    on_month: Callable[[int, int], None] | None,
    formulation: str,
) -> None:
    work = lake.root / f".tmp-status-{uuid.uuid4().hex}"
    done = 0
    try:
        for span, query_of in _prepare(connection, lake, months, rules, selected, formulation):
            month = span.first
            while month <= span.last:
                rows = f"SELECT * EXCLUDE (month) FROM ({query_of(month, run_id)}) s"
                if selected:
                    existing = list(status_folder(lake, month).glob("*.parquet"))
                    if not existing:
                        raise InputError(
                            "no stored status for this month to update: run a full compute first",
                            where=f"month {month}",
                        )
                    old = _read(existing)
                    rows = (
                        f"SELECT * FROM {old} WHERE iin NOT IN (SELECT iin FROM st_selected) "
                        f"UNION ALL {rows}"
                    )
                staged = work / f"month={month.first_day.isoformat()}"
                _copy(
                    connection, rows, staged / f"part-{run_id:08d}-{uuid.uuid4().hex[:8]}.parquet"
                )
                _replace_folder(staged, status_folder(lake, month))
                counts = _month_counts(
                    connection, list(status_folder(lake, month).glob("*.parquet"))
                )
                key = str(month)
                result.rows[key] = sum(counts.values())
                result.by_basis[key] = counts
                result.entitled[key] = sum(
                    v
                    for k, v in counts.items()
                    if k in ("state_category", "prepayment", "contributions")
                )
                done += 1
                crash_point("status.month")
                if on_month is not None:
                    on_month(done, len(months))
                month = month.next()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def compute_status(
    lake: FactsLake | Path | str,
    months: Sequence[Month],
    *,
    engine: Any = None,
    rules: RuleSet | None = None,
    iins: Sequence[str] | None = None,
    source_file: str | None = None,
    on_month: Callable[[int, int], None] | None = None,
    formulation: str = "bits",
) -> StatusRun:
    """Compute and store the status of ``months`` (a month, a year, any set of months).

    Batch mode (no ``iins``, no ``source_file``): every person; each month's folder is written
    anew and swapped in as a whole. Incremental mode: only the persons given by ``iins`` and/or
    the persons of the payments imported from the file whose SHA-256 is ``source_file``; their
    rows are recomputed and every other row of the month is kept, and the month is swapped in as
    a whole (the month must have been computed before).

    The run is recorded in ``runs`` of the system of record (``engine``; default: the configured
    one, migrated) with kind ``status``, the inputs' hashes, the rule-set version and the code
    version; its id is in every row written. A failed run is recorded as failed and leaves every
    month as it was before the month that failed.

    The run holds the lake's writer lock from start to end (imports and other runs wait), after
    recovering what killed writers left, and marks itself in ``<lake>/_runs/``: a run killed
    with SIGKILL is recorded as failed, and its temporary folder deleted, by the next command.
    """
    from saqta.store.db import make_engine, session_scope, upgrade
    from saqta.store.models import RunStatus
    from saqta.store.registry import finish_run, start_run

    lake = lake if isinstance(lake, FactsLake) else FactsLake(lake)
    rules = rules if rules is not None else load_rules()
    months = sorted(set(months))
    spans(months, rules)  # rules checked before anything is recorded
    if engine is None:
        engine = make_engine()
        upgrade(engine)
    with lake.lock():
        recover_lake(lake, engine)
        inputs = input_hashes(lake)
        if source_file is not None:
            inputs["incremental_from"] = source_file.lower()
        started = time.perf_counter()
        with session_scope(engine) as session:
            run = start_run(
                session,
                kind=RUN_KIND,
                inputs=inputs,
                rules_version=rules.version,
                code_version=code_version(),
            )
        result = StatusRun(run_id=int(run.id), months=list(months))
        with lake.run_marker(result.run_id):
            crash_point("status.started")
            connection = _connect(lake)
            try:
                result.persons = _select_iins(connection, lake, iins, source_file)
                _run_months(
                    connection,
                    lake,
                    months,
                    rules,
                    result.run_id,
                    result.persons is not None,
                    result,
                    on_month,
                    formulation,
                )
            except BaseException as exc:
                result.seconds = time.perf_counter() - started
                with session_scope(engine) as session:
                    finish_run(
                        session,
                        run,
                        RunStatus.FAILED,
                        {**result.summary(), "error": str(exc)[:500]},
                    )
                if isinstance(exc, duckdb.Error):
                    raise StoreError(
                        f"status computation failed: {str(exc).splitlines()[0]}",
                        where=f"facts lake {lake.root}",
                    ) from exc
                raise
            finally:
                connection.close()
            result.seconds = time.perf_counter() - started
            with session_scope(engine) as session:
                finish_run(session, run, RunStatus.SUCCEEDED, result.summary())
    return result


def status_of(
    lake: FactsLake | Path | str,
    months: Sequence[Month],
    *,
    rules: RuleSet | None = None,
    iins: Sequence[str] | None = None,
    formulation: str = "bits",
) -> pa.Table:
    """The status of ``iins`` (default everyone) in ``months``, computed now; no status is written
    (missing compact payments, an index of the lake, are built as for any run).

    ``run_id`` is 0 in the rows: they belong to no recorded run."""
    lake = settle_lake(lake)
    rules = rules if rules is not None else load_rules()
    connection = _connect(lake)
    tables = []
    try:
        selected = _select_iins(connection, lake, iins, None) is not None
        for span, query_of in _prepare(connection, lake, months, rules, selected, formulation):
            queries = [
                f"({query_of(Month.from_index(i), 0)})"
                for i in range(span.first.index, span.last.index + 1)
            ]
            union = " UNION ALL ".join(queries)
            tables.append(_arrow(connection, f"SELECT * FROM ({union}) u ORDER BY month, iin"))
    except duckdb.Error as exc:
        raise StoreError(
            f"status computation failed: {str(exc).splitlines()[0]}",
            where=f"facts lake {lake.root}",
        ) from exc
    finally:
        connection.close()
    return pa.concat_tables([t.cast(STATUS) for t in tables]) if tables else STATUS.empty_table()


def read_status(lake: FactsLake | Path | str, month: Month, iin: str | None = None) -> pa.Table:
    """The stored status rows of ``month`` (optionally of one person), sorted by IIN."""
    lake = settle_lake(lake)
    files = sorted(status_folder(lake, month).glob("*.parquet"))
    source = _read(files)
    if source is None:
        return STATUS.empty_table()
    where = "WHERE iin = ?" if iin is not None else ""
    with duckdb.connect(":memory:") as connection:
        table = _arrow(
            connection,
            f"SELECT *, {sql_date(month.first_day)} AS month FROM {source} {where} ORDER BY iin",
            [iin] if iin is not None else None,
        )
    return table.select(STATUS.names).cast(STATUS)


def _arrow(
    connection: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None
) -> pa.Table:
    relation = connection.sql(sql, params=params)
    table: pa.Table = relation.to_arrow_table() if relation is not None else pa.table({})
    return table


def stored_months(lake: FactsLake | Path | str) -> list[Month]:
    lake = settle_lake(lake)
    folder = lake.root.joinpath(*STATUS_DIR)
    found = []
    if folder.is_dir():
        for entry in folder.iterdir():
            match = _MONTH_FOLDER.fullmatch(entry.name)
            if match and any(entry.glob("*.parquet")):
                found.append(Month(int(match.group(1)), int(match.group(2))))
    return sorted(found)


# ------------------------------------------------------------------------------------------------
# Explaining one person


@dataclass
class PaymentLine:
    reference: str
    payment_type: str
    period: dt.date
    amount: Any
    payment_date: dt.date
    source_file: str | None
    source_row: int | None
    treatment: str  # why it counts or does not


@dataclass
class Explanation:
    iin: str
    month: Month
    status: dict[str, Any] | None  # the status row computed now (None: not in the population)
    stored: dict[str, Any] | None  # the stored row, if the month was computed
    reasons: list[str]
    categories: list[dict[str, Any]]
    payments: list[PaymentLine]
    rules: StatusRules
    rules_version: str

    @property
    def stale(self) -> bool:
        """The stored row differs from what the lake and rules give now."""
        if self.stored is None or self.status is None:
            return self.stored is not None
        keys = [k for k in STATUS.names if k != "run_id"]
        return any(self.stored.get(k) != self.status.get(k) for k in keys)


def explain(
    lake: FactsLake | Path | str,
    iin: str,
    month: Month,
    *,
    rules: RuleSet | None = None,
    locale: str = DEFAULT_LOCALE,
) -> Explanation:
    """One person's status in ``month``: the answer, the reasons, the categories, and every
    payment in the months the rule looks at, each with how it was treated; the words in
    ``locale`` (``kk``, ``ru`` or ``en``)."""
    translations(locale)  # an unknown locale is refused before any work
    from saqta.core.iin import parse_iin

    parse_iin(iin)
    lake = settle_lake(lake)
    rules = rules if rules is not None else load_rules()
    span = spans([month], rules)[0]
    r = span.rules
    table = status_of(lake, [month], rules=rules, iins=[iin])
    status = table.to_pylist()[0] if table.num_rows else None
    stored_rows = read_status(lake, month, iin).to_pylist()
    stored = stored_rows[0] if stored_rows else None
    categories: list[dict[str, Any]] = []
    source = _read(lake.files("state_categories"))
    with duckdb.connect(":memory:") as connection:
        if source is not None:
            categories = _arrow(
                connection,
                f"SELECT category, valid_from, valid_to, loaded_seq FROM {source} "
                "WHERE iin = ? ORDER BY valid_from, category",
                [iin],
            ).to_pylist()
        lines = _payment_lines(connection, lake, iin, month, span, locale)
    reasons = _reasons(status, r, month, locale)
    return Explanation(iin, month, status, stored, reasons, categories, lines, r, rules.version)


_DUPLICATE = N_("duplicate of an earlier row: not counted again")
_REFUNDED = N_("refunded ({refunded}): not counted")
_PARTLY = N_("partly refunded, {left} left: counted")
_NOT_COUNTED_TYPE = N_("{payer} does not count toward status by contributions")
_PREPAYMENT_ONLY = N_("counts only toward a prepayment")
_AFTER = N_("counts from {month}, after this month")
_NEXT = N_("for {month}: counts from the next month")
_BEFORE = N_("for {month}: before the look-back window")
_COUNTED = N_("counted for {month}")


def _payment_lines(
    connection: duckdb.DuckDBPyConnection,
    lake: FactsLake,
    iin: str,
    month: Month,
    span: Span,
    locale: str = DEFAULT_LOCALE,
) -> list[PaymentLine]:
    r = span.rules
    t = translations(locale)
    payments = _read(_payment_files(lake, span.period_range))
    if payments is None:
        return []
    rows = connection.execute(
        f"SELECT reference, payment_type, period, amount, payment_date, source_file, source_row "
        f"FROM {payments} WHERE person_iin = ? ORDER BY period, payment_date, reference",
        [iin],
    ).fetchall()
    outflows = _read(lake.files("payment_outflows"))
    refunds: dict[tuple[str, dt.date], Any] = {}
    if outflows is not None:
        for reference, period, amount in connection.execute(
            f"SELECT reference, period, sum(amount) FROM {outflows} WHERE person_iin = ? "
            "GROUP BY reference, period",
            [iin],
        ).fetchall():
            refunds[(reference, period)] = amount
    seen: set[tuple[Any, ...]] = set()
    lines = []
    window_from = Month.from_index(month.index - r.lookback_months + 1)
    counts_to = Month.from_index(month.index - r.lag)
    for reference, kind, period, amount, paid_on, source_file, source_row in rows:
        key = (reference, kind, period, amount)
        if key in seen:
            treatment = t.gettext(_DUPLICATE)
        elif (reference, period) in refunds:
            left = amount - refunds[(reference, period)]
            treatment = (
                t.gettext(_REFUNDED).format(refunded=refunds[(reference, period)])
                if left <= 0
                else t.gettext(_PARTLY).format(left=left)
            )
        elif kind not in r.payment_types and kind != "self_payer":
            treatment = t.gettext(_NOT_COUNTED_TYPE).format(payer=payment_type_label(locale, kind))
        else:
            effective = Month.of(period)
            if r.count_from == "receipt":
                effective = max(effective, Month.of(paid_on))
            if kind not in r.payment_types:
                treatment = t.gettext(_PREPAYMENT_ONLY)
            elif effective > month:
                treatment = t.gettext(_AFTER).format(month=effective)
            elif effective > counts_to:
                treatment = t.gettext(_NEXT).format(month=effective)
            elif effective < window_from:
                treatment = t.gettext(_BEFORE).format(month=effective)
            else:
                treatment = t.gettext(_COUNTED).format(month=effective)
        seen.add(key)
        lines.append(
            PaymentLine(
                reference, kind, period, amount, paid_on, source_file, source_row, treatment
            )
        )
    return lines


_NOT_IN_POPULATION = N_("not in the population of {month}: not in the register or born later")
_DIED = N_("died before this month: not entitled")
_STATE_PAID = N_("state-paid: preferential category {category}")
_PREPAID = N_(
    "a self-payer's prepayment of contributions covers this month (entitled at once, from the "
    "day of payment)"
)
_PAID = (
    N_(
        "paid by {payer}: {paid} paid month in {window} (at least {needed} needed), latest "
        "paid month {last} (status lasts {survival} months after)"
    ),
    N_(
        "paid by {payer}: {paid} paid months in {window} (at least {needed} needed), latest "
        "paid month {last} (status lasts {survival} months after)"
    ),
)
_NONE = (
    N_(
        "not entitled: {paid} paid month in {window}, {needed} needed within {survival} months "
        "of the last one"
    ),
    N_(
        "not entitled: {paid} paid months in {window}, {needed} needed within {survival} months "
        "of the last one"
    ),
)
_FROM_DAY = N_("entitled from {date}")
_UNTIL = N_("valid until {date}")
_OPEN = N_("no end date known")
_CHANGE = N_("what would change it: {change}")


def row_change(row: dict[str, Any], locale: str = DEFAULT_LOCALE) -> str | None:
    """What would change a status row's answer, in ``locale``."""
    return change_text(
        locale,
        row["change_code"],
        category=row["category"],
        date=row["change_date"],
        month=row["change_month"],
        count=row["change_count"],
        offer_months=row["offer_months"],
    )


def _reasons(
    status: dict[str, Any] | None, r: StatusRules, month: Month, locale: str = DEFAULT_LOCALE
) -> list[str]:
    t = translations(locale)
    if status is None:
        return [t.gettext(_NOT_IN_POPULATION).format(month=month)]
    window = (
        f"{Month.from_index(month.index - r.lookback_months + 1)} – "
        f"{Month.from_index(month.index - r.lag)}"
    )
    numbers = {
        "paid": status["paid_months"],
        "window": window,
        "needed": r.min_paid_months,
        "survival": r.survival_months,
        "last": str(status["last_paid_period"])[:7],
    }
    reasons = []
    basis = status["basis"]
    if basis == "deceased":
        reasons.append(t.gettext(_DIED))
    elif basis == "state_category":
        reasons.append(
            t.gettext(_STATE_PAID).format(category=category_label(locale, status["category"]))
        )
    elif basis == "prepayment":
        reasons.append(t.gettext(_PREPAID))
    elif basis == "contributions":
        payer = payment_type_label(locale, status["payment_type"])
        reasons.append(
            t.ngettext(*_PAID, status["paid_months"]).format(payer=payer, **numbers)
        )
    else:
        reasons.append(t.ngettext(*_NONE, status["paid_months"]).format(**numbers))
    valid_from = status.get("valid_from_day")
    if valid_from is not None and valid_from > month.first_day:
        reasons.append(t.gettext(_FROM_DAY).format(date=valid_from.isoformat()))
    if status["valid_until"] is not None:
        reasons.append(t.gettext(_UNTIL).format(date=status["valid_until"].isoformat()))
    elif status["entitled"]:
        reasons.append(t.gettext(_OPEN))
    change = row_change(status, locale)
    if change:
        reasons.append(t.gettext(_CHANGE).format(change=change))
    return reasons
