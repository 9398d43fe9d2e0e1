"""The Fund's annual MSHI reports: coverage (Table 2), collections, payment frequency (Diagram 4).

Each report is one set of DuckDB SQL queries over the facts lake (datasets of
:mod:`saqta.mshi.schema`) and, for coverage, over the status results of the engine
(``<lake>/derived/status/month=YYYY-MM-01/``). They return typed, frozen results; money is
``Decimal`` and every count is exact. Rendering (console, CSV, XLSX, JSON, chart) lives in
:mod:`saqta.mshi.reports._render`.

Definitions (worked out from the published 2022 figures; see ``docs/mshi-reports.md``):

- **population**: persons on the register (newest row per IIN) alive during the *status month*,
  the last month of the year with status results (December for a closed year): born on or
  before its last day and not dead before its first day.
- **entitled**: persons of the population whose status in that month is ``entitled``. The
  published "as of the end of 2022" figure is a point in time.
- **uninsured**: the rest of the population, so population = entitled + uninsured exactly.
- **paid for**: persons for whom anything was paid during the year (a payment for a period of
  the year, net of refunds, above zero) or who were in a state-paid category on some day of the
  year while alive. Each is counted once, in the first category of :data:`COVERAGE_PRIORITY`, so
  the category rows add up to "paid for" as the published ones do.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Literal

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from saqta.core.errors import InputError, StoreError
from saqta.core.reference import regions
from saqta.core.rules import RuleSet, load_rules
from saqta.core.version import code_version
from saqta.mshi.intake import settle_lake
from saqta.mshi.registry import category_periods
from saqta.mshi.schema import PAYMENT_OUTFLOWS, PAYMENTS, STATE_CATEGORY_PERIODS
from saqta.store.sql import sql_identifier, sql_literal

__all__ = [
    "COVERAGE_PRIORITY",
    "CollectionsReport",
    "CoverageReport",
    "CoverageRow",
    "FrequencyReport",
    "FrequencyRow",
    "Provenance",
    "RegionCollections",
    "RegionCoverage",
    "RegionFrequency",
    "SourceRow",
    "collections_report",
    "coverage_report",
    "frequency_report",
    "published_coverage",
    "published_frequency",
    "status_months",
]

HUNDRED = Decimal(100)
TWO_PLACES = Decimal("0.01")
ONE_PLACE = Decimal("0.1")
PUBLISHED_YEAR = 2022
PUBLISHED_POPULATION = 19_741_283
"""Table 2, 2022: the population the published figures describe (used to scale them)."""

Basis = Literal["received", "period"]

# ------------------------------------------------------------------------------------------------
# Categories, sources and the published figures

COVERAGE_PRIORITY: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("state_paid_exempt", "State-paid (exempt from contributions)", ("state_contribution",)),
    ("employees", "Employees", ("employer_deduction", "employee_contribution")),
    (
        "individual_entrepreneurs_private_practice",
        "Individual entrepreneurs and private practice",
        ("individual_entrepreneur",),
    ),
    ("civil_law_contract_workers", "Civil-law contract workers", ("civil_law_contract",)),
    ("single_payment_payers", "Single aggregate payment payers", ("single_payment",)),
    ("self_payers", "Self-payers", ("self_payer",)),
)
"""Table 2's payer categories in the order a person is counted once: the first that applies.

State-paid comes first: Diagram 4 counts 5,572.8 thousand employees with deductions in 2022 while
Table 2 counts 4,896.0 thousand employees, so employees who are also in a preferential category
(working pensioners, students, disabled persons) are counted as state-paid. The payer
categories follow in the table's order."""

COVERAGE_ROWS: tuple[tuple[str, str], ...] = (
    ("population", "Population"),
    ("entitled", "Entitled to MSHI care"),
    ("paid_for", "Paid for (deductions, contributions or state)"),
    *((key, label) for key, label, _ in COVERAGE_PRIORITY),
    ("uninsured", "Uninsured"),
)
"""The rows of Table 2, in the published order (keys as in ``insurance_status.csv``)."""

SOURCES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "employers_employees",
        "Employers' deductions and employees' contributions",
        ("employer_deduction", "employee_contribution"),
    ),
    ("state", "State contributions", ("state_contribution",)),
    ("individual_entrepreneurs", "Individual entrepreneurs", ("individual_entrepreneur",)),
    ("other", "Other payers", ("civil_law_contract", "single_payment", "self_payer")),
)
"""Sources of receipts as section 2 of the annual report groups them (Diagram 3)."""

PUBLISHED_RECEIPTS_BN: Mapping[str, Decimal] = {
    "employers_employees": Decimal("611.6"),
    "state": Decimal("435.2"),
    "individual_entrepreneurs": Decimal("24.7"),
    "other": Decimal("19.0"),
    "total": Decimal("1090.4"),
}
"""Annual report 2022, section 2 and Diagram 3: receipts in billions of tenge. "Other" also
holds the late-payment penalties (1,073.2 mln ₸), which are not payments of the lake."""
PUBLISHED_RECEIPT_SHARES: Mapping[str, Decimal] = {
    "employers_employees": Decimal("56.1"),
    "state": Decimal("39.9"),
    "individual_entrepreneurs": Decimal("2.3"),
    "other": Decimal("1.7"),
}
PUBLISHED_AVERAGE_DEDUCTION = Decimal("5478.3")
PUBLISHED_AVERAGE_BASE = Decimal("182600")
PUBLISHED_REGION_RECEIPT_SHARES: Mapping[str, Decimal] = {
    "ALA": Decimal("17.4"),
    "AST": Decimal("10.3"),
    "KAR": Decimal("7.8"),
    "VKO": Decimal("6.1"),
    "ATY": Decimal("5.5"),
    "ALM": Decimal("5.4"),
}
"""Section 2: the regions' shares of receipts excluding state contributions (2022, regions as
the Fund reported them: Abai, Zhetisu and Ulytau under East Kazakhstan, Almaty and Karaganda)."""
PUBLISHED_FREQUENCY_MEAN = Decimal("9.1")
PUBLISHED_SHARE_9_OR_MORE = Decimal("67.8")
PUBLISHED_PAID_9_OR_MORE_THOUSAND = Decimal("3777.6")
PUBLISHED_REGION_FREQUENCY: Mapping[str, Decimal] = {
    "PAV": Decimal("9.7"),
    "KAR": Decimal("9.7"),
    "SKO": Decimal("9.6"),
    "KOS": Decimal("9.5"),
    "ATY": Decimal("9.5"),
    "SHY": Decimal("8.7"),
    "TUR": Decimal("8.4"),
}
"""Section 2: mean payments a year in the regions the text names (2022)."""


def _published_csv(name: str) -> list[dict[str, str]]:
    import csv

    from saqta.synth.profile import published_dir

    with (published_dir() / name).open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def published_coverage(year: int) -> dict[str, tuple[int, Decimal]] | None:
    """Table 2 as published for ``year`` (2021 or 2022): row key -> (persons, share %)."""
    rows = _published_csv("insurance_status.csv")
    if f"persons_{year}" not in rows[0]:
        return None
    return {
        row["category"]: (int(row[f"persons_{year}"]), Decimal(row[f"share_{year}_pct"]))
        for row in rows
    }


def published_frequency(year: int) -> dict[int, Decimal] | None:
    """Diagram 4 as published (2022 only): months paid -> thousand employees."""
    if year != PUBLISHED_YEAR:
        return None
    return {
        int(row["months_paid_in_year"]): Decimal(row["employees_thousand"])
        for row in _published_csv("payment_frequency_2022.csv")
    }


def percent(part: int | Decimal, whole: int | Decimal) -> Decimal:
    """``part`` as a percentage of ``whole`` to 2 decimals (half up); 0 when ``whole`` is 0."""
    if not whole:
        return Decimal("0.00")
    return (Decimal(part) * HUNDRED / Decimal(whole)).quantize(TWO_PLACES, ROUND_HALF_UP)


def as_published(value: Decimal) -> Decimal:
    """A share to one decimal, half up, as the annual report prints it."""
    return value.quantize(ONE_PLACE, ROUND_HALF_UP)


def _region_names() -> dict[str, str]:
    return {region.code: region.name_en for region in regions()}


def _unknown_name(code: str) -> str:
    if code == UNKNOWN_REGION:
        return "not on the register, or no region"
    return f"region code {code} (not in the reference list)"


def _region_codes(seen: Iterable[str]) -> list[str]:
    """Every reference region in reference order (also those with no data), then other codes."""
    order = [region.code for region in regions()]
    return order + sorted(set(seen) - set(order))


UNKNOWN_REGION = "unknown"
"""The code under which persons not on the register (or without a region) are shown."""


# ------------------------------------------------------------------------------------------------
# Provenance


@dataclass(frozen=True)
class StatusRun:
    """A status run whose results a report used, with its audit record when one was found."""

    run_id: int
    rows: int
    kind: str | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    status: str | None = None
    rules_version: str | None = None
    code_version: str | None = None


@dataclass(frozen=True)
class Provenance:
    """Where a report's figures come from."""

    lake: str
    generated_at: dt.datetime
    rules_version: str
    code_version: str
    status_month: dt.date | None = None
    status_runs: tuple[StatusRun, ...] = ()
    notes: tuple[str, ...] = ()

    def lines(self) -> list[tuple[str, str]]:
        """Label/value pairs for the rendered outputs."""
        out = [
            ("Data source", f"Saqta facts lake {self.lake}"),
            ("Generated at (UTC)", self.generated_at.strftime("%Y-%m-%d %H:%M:%S")),
            ("Rule-set version", self.rules_version),
            ("Code version", self.code_version),
        ]
        if self.status_month is not None:
            out.append(("Status month", self.status_month.isoformat()))
        for run in self.status_runs:
            detail = f"{run.rows:,} rows"
            if run.started_at is not None:
                detail += f", {run.kind} started {run.started_at:%Y-%m-%d %H:%M} UTC, {run.status}"
            if run.rules_version:
                detail += f", rule-set {run.rules_version}"
            if run.code_version:
                detail += f", code {run.code_version}"
            if run.started_at is None:
                detail += ", no audit record found"
            out.append((f"Status run {run.run_id}", detail))
        out.extend(("Note", note) for note in self.notes)
        return out


def attach_run_records(provenance: Provenance, engine: Any) -> Provenance:
    """The provenance with each status run's audit record from the system of record (``runs``).

    ``engine`` is a SQLAlchemy engine; runs it does not hold are left as they are.
    """
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from saqta.store.models import Run

    ids = [run.run_id for run in provenance.status_runs]
    if not ids:
        return provenance
    with Session(engine) as session:
        records = {
            record.id: record for record in session.scalars(select(Run).where(Run.id.in_(ids)))
        }
    runs = []
    for run in provenance.status_runs:
        record = records.get(run.run_id)
        if record is None:
            runs.append(run)
            continue
        runs.append(
            StatusRun(
                run_id=run.run_id,
                rows=run.rows,
                kind=record.kind,
                started_at=record.started_at,
                finished_at=record.finished_at,
                status=record.status.value,
                rules_version=record.rules_version,
                code_version=record.code_version,
            )
        )
    return Provenance(
        lake=provenance.lake,
        generated_at=provenance.generated_at,
        rules_version=provenance.rules_version,
        code_version=provenance.code_version,
        status_month=provenance.status_month,
        status_runs=tuple(runs),
        notes=provenance.notes,
    )


# ------------------------------------------------------------------------------------------------
# Reading the lake


_STATUS_FOLDER = re.compile(r"month=(\d{4}-\d{2}-\d{2})")


def _status_root(lake_root: Path) -> Path:
    return lake_root / "derived" / "status"


def status_months(lake_root: Path | str) -> list[dt.date]:
    """The months for which the lake holds status results, sorted."""
    root = _status_root(Path(lake_root))
    if not root.is_dir():
        return []
    months = []
    for folder in root.iterdir():
        match = _STATUS_FOLDER.fullmatch(folder.name)
        if match and folder.is_dir() and any(folder.glob("*.parquet")):
            months.append(dt.date.fromisoformat(match.group(1)))
    return sorted(months)


def _empty_view(connection: duckdb.DuckDBPyConnection, name: str, schema: pa.Schema) -> None:
    empty = schema.empty_table()
    connection.register(f"__empty_{name}", empty)
    connection.execute(
        f"CREATE VIEW {sql_identifier(name)} AS SELECT * FROM {sql_identifier('__empty_' + name)}"
    )


class _Source:
    """A DuckDB connection over the lake with the views the reports query."""

    def __init__(self, lake_root: Path | str, year: int) -> None:
        if not 2017 <= year <= 2100:
            raise InputError("must be between 2017 and 2100", where=f"year {year}")
        self.lake = settle_lake(lake_root)
        self.year = year
        self.first = dt.date(year, 1, 1)
        self.last = dt.date(year, 12, 31)
        if not self.lake.files("persons"):
            raise InputError(
                "holds no persons: import the register first (saqta persons import)",
                where=f"facts lake {self.lake.root}",
            )
        self.connection = self.lake.connect()
        have = set(self.lake.datasets())
        periods = category_periods(self.lake)  # with a source column, even in older lakes
        if periods is not None:
            self.connection.execute(
                f"CREATE OR REPLACE VIEW state_categories AS SELECT * FROM {periods}"
            )
        for name, schema in (
            ("state_categories", STATE_CATEGORY_PERIODS),
            (
                "payments",
                PAYMENTS.append(pa.field("year", pa.int16())).append(pa.field("month", pa.int16())),
            ),
            ("payment_outflows", PAYMENT_OUTFLOWS),
        ):
            if name not in have:
                _empty_view(self.connection, name, schema)
        self._prepare()

    def close(self) -> None:
        self.connection.close()

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        try:
            return self.connection.execute(sql, params or []).fetchall()
        except duckdb.Error as exc:
            raise StoreError(
                f"query failed: {str(exc).splitlines()[0]}", where=f"facts lake {self.lake.root}"
            ) from exc

    def _prepare(self) -> None:
        """Views shared by the reports: the register's newest rows, refunds with their type."""
        self.execute(
            """
            CREATE TEMP TABLE register AS
            SELECT iin, arg_max(region, loaded_seq) AS region,
                   arg_max(birth_date, loaded_seq) AS birth_date,
                   arg_max(death_date, loaded_seq) AS death_date
            FROM persons GROUP BY iin
            """
        )
        # A refund is matched to the payment it returns by reference; its type and person come
        # from that payment. Refunds that match no payment keep the outflow's own person.
        self.execute(
            """
            CREATE TEMP TABLE refunds AS
            SELECT o.refund_id, o.reference, coalesce(p.person_iin, o.person_iin) AS person_iin,
                   coalesce(p.period, o.period) AS period, o.amount, o.paid_on,
                   p.payment_type
            FROM payment_outflows o
            LEFT JOIN (SELECT reference, person_iin, period, payment_type FROM payments
                       WHERE reference IN (SELECT reference FROM payment_outflows)) p
                   USING (reference)
            """
        )

    def register_population(self) -> int:
        """Persons on the register alive at some time in the year (the scale of the lake)."""
        row = self.execute(
            "SELECT count(*) FROM register WHERE coalesce(birth_date, DATE '0001-01-01') <= ? "
            "AND (death_date IS NULL OR death_date >= ?)",
            [self.last, self.first],
        )
        return int(row[0][0])


@contextmanager
def _open(lake_root: Path | str, year: int) -> Iterator[_Source]:
    source = _Source(lake_root, year)
    try:
        yield source
    finally:
        source.close()


def _scale(population: int) -> Decimal:
    return Decimal(population) / Decimal(PUBLISHED_POPULATION)


def _provenance(
    source: _Source,
    rules: RuleSet,
    status_month: dt.date | None = None,
    runs: tuple[StatusRun, ...] = (),
    notes: Sequence[str] = (),
) -> Provenance:
    return Provenance(
        lake=str(source.lake.root),
        generated_at=dt.datetime.now(dt.UTC).replace(microsecond=0),
        rules_version=rules.version,
        code_version=code_version(),
        status_month=status_month,
        status_runs=runs,
        notes=tuple(notes),
    )


# ------------------------------------------------------------------------------------------------
# Coverage (Table 2)


@dataclass(frozen=True)
class CoverageRow:
    """One row of Table 2: unique persons and their share of the population (2 decimals)."""

    key: str
    label: str
    persons: int
    share: Decimal
    published_persons: int | None = None
    published_share: Decimal | None = None

    @property
    def share_as_published(self) -> Decimal:
        return as_published(self.share)

    @property
    def difference_pp(self) -> Decimal | None:
        """Computed minus published share, in percentage points (1 decimal, as published)."""
        if self.published_share is None:
            return None
        return self.share_as_published - self.published_share


@dataclass(frozen=True)
class RegionCoverage:
    """Table 2's figures for one region (persons on the register living there)."""

    code: str
    name: str
    population: int
    entitled: int
    uninsured: int
    paid_for: int
    categories: Mapping[str, int]

    @property
    def entitled_share(self) -> Decimal:
        return percent(self.entitled, self.population)

    @property
    def paid_for_share(self) -> Decimal:
        return percent(self.paid_for, self.population)


@dataclass(frozen=True)
class CoverageReport:
    year: int
    status_month: dt.date
    rows: tuple[CoverageRow, ...]
    regions: tuple[RegionCoverage, ...]
    entitled_by_basis: Mapping[str, int]
    off_register: int
    """Persons paid for (or with a state category) who are not on the register."""
    provenance: Provenance

    def row(self, key: str) -> CoverageRow:
        for row in self.rows:
            if row.key == key:
                return row
        raise KeyError(key)

    def persons(self, key: str) -> int:
        return self.row(key).persons


def _read_status(source: _Source, month: dt.date) -> tuple[StatusRun, ...]:
    """Create the view ``status_now``: every row of ``month``'s folder; return its runs, newest
    first.

    The status engine swaps a month's folder as a whole, so every row in it is current: an
    incremental run keeps the rows of the persons it did not recompute, with their run's id."""
    folder = _status_root(source.lake.root) / f"month={month.isoformat()}"
    files = sorted(folder.glob("*.parquet"))
    has_month = "month" in pq.read_schema(files[0]).names
    pattern = sql_literal(folder.as_posix() + "/*.parquet")
    month_column = "" if has_month else f", DATE '{month.isoformat()}' AS month"
    source.execute(
        f"CREATE TEMP VIEW status_all AS SELECT *{month_column} "
        f"FROM read_parquet({pattern}, hive_partitioning = false, union_by_name = true)"
    )
    missing = [
        name
        for name in ("iin", "entitled", "basis", "run_id")
        if name not in {column[0] for column in source.execute("DESCRIBE status_all")}
    ]
    if missing:
        raise InputError(
            f"status results lack the column(s) {', '.join(missing)} of the STATUS schema",
            where=f"folder {folder}",
        )
    source.execute("CREATE TEMP VIEW status_now AS SELECT * FROM status_all")
    runs = source.execute(
        "SELECT run_id, count(*) FROM status_all GROUP BY 1 ORDER BY 1 DESC NULLS LAST"
    )
    return tuple(StatusRun(run_id=int(run_id or 0), rows=int(rows)) for run_id, rows in runs)


def _paid_for_sql(source: _Source) -> str:
    """Per person: the priority (1-based) of the first Table 2 category that applies in the year.

    One pass over the year's payments grouped by person, with one net sum per payment type, so
    that a national year is hashed once by person rather than by person and type.
    """
    first, last = source.first.isoformat(), source.last.isoformat()
    kinds = [kind for _, _, group in COVERAGE_PRIORITY for kind in group]
    sums = ",\n".join(
        f"sum(amount) FILTER (WHERE payment_type = {sql_literal(kind)}) "
        f"AS {sql_identifier('paid_' + kind)}"
        for kind in kinds
    )
    cases = "\n".join(
        "WHEN " + " OR ".join(f"paid_{kind} > 0" for kind in group) + f" THEN {index}"
        for index, (_, _, group) in enumerate(COVERAGE_PRIORITY, start=1)
    )
    return f"""
        WITH money AS (
            SELECT person_iin, payment_type, amount FROM payments WHERE year = {source.year}
            UNION ALL
            SELECT person_iin, payment_type, -amount FROM refunds
            WHERE payment_type IS NOT NULL AND period BETWEEN DATE '{first}' AND DATE '{last}'
        ),
        by_person AS (SELECT person_iin AS iin, {sums} FROM money GROUP BY person_iin),
        categories AS (
            SELECT iin, CASE {cases} END AS priority FROM by_person
            UNION ALL
            SELECT DISTINCT s.iin, 1
            FROM (SELECT iin, category, valid_from, valid_to FROM state_categories
                  QUALIFY loaded_seq = max(loaded_seq) OVER (PARTITION BY iin, source)) s
            LEFT JOIN register r USING (iin)
            WHERE s.valid_from <= least(DATE '{last}', coalesce(r.death_date, DATE '{last}'))
              AND coalesce(s.valid_to, DATE '9999-12-31') >= DATE '{first}'
              AND (r.death_date IS NULL OR r.death_date >= DATE '{first}')
        )
        SELECT iin, min(priority) AS priority FROM categories
        WHERE priority IS NOT NULL GROUP BY iin
    """


def coverage_report(
    lake_root: Path | str, year: int, *, rules: RuleSet | None = None
) -> CoverageReport:
    """Table 2 for ``year``: persons by payer category, entitled, paid for and uninsured.

    Entitlement is read from the status results of the last month of the year that has them
    (December for a closed year), every row of its folder; a year without any raises
    :class:`InputError`.
    """
    rules = rules or load_rules()
    months = [m for m in status_months(lake_root) if m.year == year]
    if not months:
        raise InputError(
            f"holds no status results for {year}: run the status engine for the year first",
            where=f"facts lake {Path(lake_root).expanduser().resolve()}",
        )
    month = months[-1]
    notes = []
    if month.month != 12:
        notes.append(
            f"the year has status results up to {month:%B %Y} only: entitled is measured then"
        )
    with _open(lake_root, year) as source:
        runs = _read_status(source, month)
        month_first = month
        month_last = (
            dt.date(month.year, 12, 31)
            if month.month == 12
            else (dt.date(month.year, month.month + 1, 1) - dt.timedelta(days=1))
        )
        source.execute(f"CREATE TEMP TABLE paid_for AS {_paid_for_sql(source)}")
        counts = ", ".join(
            f"count(*) FILTER (WHERE priority = {index})"
            for index in range(1, len(COVERAGE_PRIORITY) + 1)
        )
        rows = source.execute(
            f"""
            WITH people AS (
                SELECT coalesce(r.iin, p.iin) AS iin, r.region, r.iin IS NOT NULL AS on_register,
                       r.iin IS NOT NULL
                         AND coalesce(r.birth_date, DATE '0001-01-01') <= ?
                         AND (r.death_date IS NULL OR r.death_date >= ?) AS in_population,
                       p.priority
                FROM register r FULL JOIN paid_for p USING (iin)
            ),
            entitled AS (SELECT iin, bool_or(entitled) AS entitled FROM status_now GROUP BY iin)
            SELECT people.region, bool_and(on_register),
                   count(*) FILTER (WHERE in_population),
                   count(*) FILTER (WHERE in_population AND coalesce(e.entitled, false)),
                   count(*) FILTER (WHERE priority IS NOT NULL),
                   {counts}
            FROM people LEFT JOIN entitled e USING (iin)
            GROUP BY people.region, on_register
            """,
            [month_last, month_first],
        )
        by_basis = dict(
            source.execute(
                """
                SELECT s.basis, count(DISTINCT s.iin) FROM status_now s
                JOIN register r USING (iin)
                WHERE s.entitled AND coalesce(r.birth_date, DATE '0001-01-01') <= ?
                  AND (r.death_date IS NULL OR r.death_date >= ?)
                GROUP BY 1 ORDER BY 1
                """,
                [month_last, month_first],
            )
        )
        unknown_status = source.execute(
            "SELECT count(DISTINCT iin) FROM status_now WHERE iin NOT IN (SELECT iin FROM register)"
        )[0][0]
        provenance_source = source
        keys = [key for key, _, _ in COVERAGE_PRIORITY]
        names = _region_names()
        national = dict.fromkeys(["population", "entitled", "paid_for", *keys], 0)
        off_register = 0
        regional: dict[str, list[int]] = {}
        for region, on_register, population, entitled, paid_for, *cats in rows:
            values = [population, entitled, paid_for, *cats]
            for key, value in zip(national, values, strict=True):
                national[key] += int(value)
            if not on_register:
                off_register += int(paid_for)
                continue
            code = region or UNKNOWN_REGION
            regional[code] = [
                a + int(b) for a, b in zip(regional.get(code, [0] * 9), values, strict=True)
            ]
        if off_register:
            notes.append(
                f"{off_register:,} persons paid for are not on the register: counted in "
                "'paid for' and its categories, not in any region"
            )
        if unknown_status:
            notes.append(f"{unknown_status:,} persons with status results are not on the register")
        national["uninsured"] = national["population"] - national["entitled"]
        published = published_coverage(year)
        population = national["population"]
        table_rows = tuple(
            CoverageRow(
                key=key,
                label=label,
                persons=national[key],
                share=percent(national[key], population),
                published_persons=published[key][0] if published else None,
                published_share=published[key][1] if published else None,
            )
            for key, label in COVERAGE_ROWS
        )
        region_rows = tuple(
            RegionCoverage(
                code=code,
                name=names.get(code, _unknown_name(code)),
                population=values[0],
                entitled=values[1],
                uninsured=values[0] - values[1],
                paid_for=values[2],
                categories=dict(zip(keys, values[3:], strict=True)),
            )
            for code in _region_codes(regional)
            for values in [regional.get(code, [0] * 9)]
        )
        provenance = _provenance(provenance_source, rules, month, runs, notes)
    return CoverageReport(
        year=year,
        status_month=month,
        rows=table_rows,
        regions=region_rows,
        entitled_by_basis={str(k): int(v) for k, v in by_basis.items()},
        off_register=off_register,
        provenance=provenance,
    )


# ------------------------------------------------------------------------------------------------
# Collections


@dataclass(frozen=True)
class SourceRow:
    """Receipts from one source in the year: gross, refunds paid back, net, share of net."""

    key: str
    label: str
    gross: Decimal
    refunds: Decimal
    net: Decimal
    share: Decimal
    published_bn: Decimal | None = None
    published_share: Decimal | None = None
    published_scaled: Decimal | None = None
    """The published amount scaled to this lake's population (tenge)."""


@dataclass(frozen=True)
class RegionCollections:
    code: str
    name: str
    net: Mapping[str, Decimal]
    """Net receipts by source key."""
    employee_months: int
    deductions: Decimal

    @property
    def total(self) -> Decimal:
        return sum(self.net.values(), Decimal("0.00"))

    @property
    def total_excluding_state(self) -> Decimal:
        return self.total - self.net.get("state", Decimal("0.00"))

    @property
    def average_deduction(self) -> Decimal | None:
        if not self.employee_months:
            return None
        return (self.deductions / self.employee_months).quantize(TWO_PLACES, ROUND_HALF_UP)


@dataclass(frozen=True)
class CollectionsReport:
    year: int
    basis: Basis
    sources: tuple[SourceRow, ...]
    gross: Decimal
    refunds: Decimal
    unmatched_refunds: Decimal
    """Refunds whose reference matches no payment: deducted from the total only."""
    net: Decimal
    regions: tuple[RegionCollections, ...]
    employee_months: int
    deductions: Decimal
    """Employer deductions for periods of the year, net of refunds."""
    average_deduction: Decimal
    average_base: Decimal
    employer_rates: tuple[tuple[dt.date, Decimal], ...]
    """The employer deduction rate in force in each month that had deductions."""
    population: int
    """Persons on the register alive at some time in the year: the scale of the comparison."""
    provenance: Provenance

    @property
    def scale(self) -> Decimal:
        """This lake's population as a fraction of the published 2022 population."""
        return _scale(self.population)

    @property
    def net_per_resident(self) -> Decimal:
        return (
            (self.net / self.population).quantize(TWO_PLACES, ROUND_HALF_UP)
            if (self.population)
            else Decimal("0.00")
        )

    @property
    def published_net_per_resident(self) -> Decimal | None:
        if self.year != PUBLISHED_YEAR:
            return None
        total = PUBLISHED_RECEIPTS_BN["total"] * Decimal(10) ** 9
        return (total / PUBLISHED_POPULATION).quantize(TWO_PLACES, ROUND_HALF_UP)

    def source(self, key: str) -> SourceRow:
        for row in self.sources:
            if row.key == key:
                return row
        raise KeyError(key)


def _basis_filters(source: _Source, basis: Basis) -> tuple[str, str]:
    first, last = source.first.isoformat(), source.last.isoformat()
    if basis == "received":
        return (
            f"payment_date BETWEEN DATE '{first}' AND DATE '{last}'",
            f"paid_on BETWEEN DATE '{first}' AND DATE '{last}'",
        )
    if basis == "period":
        return f"year = {source.year}", f"period BETWEEN DATE '{first}' AND DATE '{last}'"
    raise InputError("must be 'received' or 'period'", where=f"basis {basis!r}")


def _employee_months(source: _Source) -> None:
    """Temp table ``employee_months``: (person, period) with employer deductions net above 0."""
    first, last = source.first.isoformat(), source.last.isoformat()
    source.execute(
        f"""
        CREATE TEMP TABLE employee_months AS
        SELECT person_iin, period, sum(amount) AS amount FROM (
            SELECT person_iin, period, amount FROM payments
            WHERE year = {source.year} AND payment_type = 'employer_deduction'
            UNION ALL
            SELECT person_iin, period, -amount FROM refunds
            WHERE payment_type = 'employer_deduction'
              AND period BETWEEN DATE '{first}' AND DATE '{last}'
        ) GROUP BY ALL HAVING sum(amount) > 0
        """
    )


def collections_report(
    lake_root: Path | str,
    year: int,
    *,
    basis: Basis = "received",
    rules: RuleSet | None = None,
) -> CollectionsReport:
    """Receipts of the year by source and region, net of refunds, and the average deduction.

    ``basis`` ``received`` counts money received in the year (payment date; refunds by the day
    paid back), as the Fund reports its receipts; ``period`` counts payments for the months of
    the year whenever they arrived. The average deduction is always per employee-month of the
    year (employer deductions for periods of the year, net of refunds, over the months with a
    net deduction); the average base divides each month's deductions by the employer rate in
    force that month (``mshi.contributions.employer_deduction_rate``).
    """
    rules = rules or load_rules()
    with _open(lake_root, year) as source:
        pay_filter, refund_filter = _basis_filters(source, basis)
        kind_to_source = ", ".join(
            f"({sql_literal(kind)}, {sql_literal(key)})"
            for key, _, kinds in SOURCES
            for kind in kinds
        )
        rows = source.execute(
            f"""
            WITH kinds(payment_type, source) AS (VALUES {kind_to_source}),
            money AS (
                SELECT person_iin, payment_type, amount AS gross, 0::DECIMAL(18,2) AS refunded
                FROM payments WHERE {pay_filter}
                UNION ALL
                SELECT person_iin, payment_type, 0::DECIMAL(18,2), amount
                FROM refunds WHERE payment_type IS NOT NULL AND {refund_filter}
            )
            SELECT r.region, k.source, sum(m.gross), sum(m.refunded)
            FROM money m JOIN kinds k USING (payment_type)
            LEFT JOIN register r ON r.iin = m.person_iin
            GROUP BY ALL
            """
        )
        unmatched = source.execute(
            f"SELECT coalesce(sum(amount), 0) FROM refunds "
            f"WHERE payment_type IS NULL AND {refund_filter}"
        )[0][0]
        unknown_types = source.execute(
            f"SELECT payment_type, count(*) FROM payments WHERE {pay_filter} "
            f"AND payment_type NOT IN ({', '.join(repr(k) for _, _, ks in SOURCES for k in ks)})"
            " GROUP BY 1 ORDER BY 1"
        )
        _employee_months(source)
        monthly = source.execute(
            "SELECT period, sum(amount), count(*) FROM employee_months GROUP BY 1 ORDER BY 1"
        )
        region_months = source.execute(
            """
            SELECT r.region, sum(e.amount), count(*) FROM employee_months e
            LEFT JOIN register r ON r.iin = e.person_iin GROUP BY 1
            """
        )
        population = source.register_population()
        notes = [
            "receipts counted by the day received"
            if basis == "received"
            else "receipts counted by the month they pay for"
        ]
        if unknown_types:
            notes.append(
                "payments of unknown type left out: "
                + ", ".join(f"{kind} ({count:,})" for kind, count in unknown_types)
            )
        if unmatched:
            notes.append(f"refunds matching no payment: {unmatched:,} ₸, deducted from the total")
        provenance = _provenance(source, rules, notes=notes)

    zero = Decimal("0.00")
    gross = dict.fromkeys((key for key, _, _ in SOURCES), zero)
    refunds = dict.fromkeys(gross, zero)
    by_region: dict[str, dict[str, Decimal]] = {}
    for region, key, paid, refunded in rows:
        gross[key] += paid
        refunds[key] += refunded
        net = by_region.setdefault(region or UNKNOWN_REGION, dict.fromkeys(gross, zero))
        net[key] += paid - refunded
    net_total = sum(gross.values(), zero) - sum(refunds.values(), zero) - Decimal(unmatched)
    net_by_source = {key: gross[key] - refunds[key] for key in gross}
    scale = _scale(population)
    published = year == PUBLISHED_YEAR
    source_rows = tuple(
        SourceRow(
            key=key,
            label=label,
            gross=gross[key],
            refunds=refunds[key],
            net=net_by_source[key],
            share=percent(net_by_source[key], sum(net_by_source.values(), zero)),
            published_bn=PUBLISHED_RECEIPTS_BN[key] if published else None,
            published_share=PUBLISHED_RECEIPT_SHARES[key] if published else None,
            published_scaled=(PUBLISHED_RECEIPTS_BN[key] * Decimal(10) ** 9 * scale).quantize(
                TWO_PLACES, ROUND_HALF_UP
            )
            if published
            else None,
        )
        for key, label, _ in SOURCES
    )
    deductions = sum((amount for _, amount, _ in monthly), zero)
    employee_months = sum(int(count) for _, _, count in monthly)
    rates = tuple(
        (period, rules.decimal("mshi.contributions.employer_deduction_rate", period))
        for period, _, _ in monthly
    )
    base_total = sum(
        (amount / rate for (_, amount, _), (_, rate) in zip(monthly, rates, strict=True)),
        Decimal(0),
    )
    months_by_region = {
        region or UNKNOWN_REGION: (amount, int(n)) for region, amount, n in region_months
    }
    names = _region_names()
    codes = _region_codes(set(by_region) | set(months_by_region))
    region_rows = tuple(
        RegionCollections(
            code=code,
            name=names.get(code, _unknown_name(code)),
            net=by_region.get(code, dict.fromkeys(gross, zero)),
            employee_months=months_by_region.get(code, (zero, 0))[1],
            deductions=months_by_region.get(code, (zero, 0))[0],
        )
        for code in codes
    )
    average = (
        (deductions / employee_months).quantize(TWO_PLACES, ROUND_HALF_UP)
        if employee_months
        else zero
    )
    average_base = (
        (base_total / employee_months).quantize(TWO_PLACES, ROUND_HALF_UP)
        if employee_months
        else zero
    )
    return CollectionsReport(
        year=year,
        basis=basis,
        sources=source_rows,
        gross=sum(gross.values(), zero),
        refunds=sum(refunds.values(), zero) + Decimal(unmatched),
        unmatched_refunds=Decimal(unmatched),
        net=net_total,
        regions=region_rows,
        employee_months=employee_months,
        deductions=deductions,
        average_deduction=average,
        average_base=average_base,
        employer_rates=rates,
        population=population,
        provenance=provenance,
    )


# ------------------------------------------------------------------------------------------------
# Payment frequency (Diagram 4)


@dataclass(frozen=True)
class FrequencyRow:
    months: int
    employees: int
    share: Decimal
    published_thousand: Decimal | None = None
    published_share: Decimal | None = None


@dataclass(frozen=True)
class RegionFrequency:
    code: str
    name: str
    employees: int
    months: int
    """Employee-months: the sum of each employee's months paid."""
    published_mean: Decimal | None = None

    @property
    def mean(self) -> Decimal:
        if not self.employees:
            return Decimal("0.00")
        return (Decimal(self.months) / self.employees).quantize(TWO_PLACES, ROUND_HALF_UP)


@dataclass(frozen=True)
class FrequencyReport:
    year: int
    rows: tuple[FrequencyRow, ...]
    employees: int
    paid_9_or_more: int
    paid_12: int
    regions: tuple[RegionFrequency, ...]
    population: int
    provenance: Provenance
    published_total_thousand: Decimal | None = None
    published_paid_12_thousand: Decimal | None = None
    published_mean: Decimal | None = None
    published_share_9_or_more: Decimal | None = None

    @property
    def employee_months(self) -> int:
        return sum(row.months * row.employees for row in self.rows)

    @property
    def mean(self) -> Decimal:
        if not self.employees:
            return Decimal("0.00")
        return (Decimal(self.employee_months) / self.employees).quantize(TWO_PLACES, ROUND_HALF_UP)

    @property
    def share_9_or_more(self) -> Decimal:
        return percent(self.paid_9_or_more, self.employees)

    @property
    def scale(self) -> Decimal:
        return _scale(self.population)


def frequency_report(
    lake_root: Path | str, year: int, *, rules: RuleSet | None = None
) -> FrequencyReport:
    """Employees by the number of months of the year with employer deductions paid (1-12).

    An employee is a person with an employer deduction for at least one month of the year; a
    month counts when that month's deductions, net of refunds, are above zero (several employers
    in one month count once).
    """
    rules = rules or load_rules()
    with _open(lake_root, year) as source:
        _employee_months(source)
        counts = source.execute(
            """
            WITH per AS (SELECT person_iin, count(*) AS months FROM employee_months GROUP BY 1)
            SELECT r.region, per.months, count(*) FROM per
            LEFT JOIN register r ON r.iin = per.person_iin GROUP BY ALL
            """
        )
        population = source.register_population()
        provenance = _provenance(source, rules)
    by_months: dict[int, int] = dict.fromkeys(range(1, 13), 0)
    by_region: dict[str, list[int]] = {}
    for region, months, n in counts:
        by_months[int(months)] += int(n)
        entry = by_region.setdefault(region or UNKNOWN_REGION, [0, 0])
        entry[0] += int(n)
        entry[1] += int(n) * int(months)
    employees = sum(by_months.values())
    published = published_frequency(year)
    published_total = sum(published.values(), Decimal(0)) if published else None
    rows = tuple(
        FrequencyRow(
            months=m,
            employees=by_months[m],
            share=percent(by_months[m], employees),
            published_thousand=published[m] if published else None,
            published_share=percent(published[m], published_total)
            if published and published_total
            else None,
        )
        for m in range(1, 13)
    )
    names = _region_names()
    region_rows = tuple(
        RegionFrequency(
            code=code,
            name=names.get(code, _unknown_name(code)),
            employees=values[0],
            months=values[1],
            published_mean=PUBLISHED_REGION_FREQUENCY.get(code) if published else None,
        )
        for code in _region_codes(by_region)
        for values in [by_region.get(code, [0, 0])]
    )
    return FrequencyReport(
        year=year,
        rows=rows,
        employees=employees,
        paid_9_or_more=sum(by_months[m] for m in range(9, 13)),
        paid_12=by_months[12],
        regions=region_rows,
        population=population,
        provenance=provenance,
        published_total_thousand=published_total,
        published_paid_12_thousand=published[12] if published else None,
        published_mean=PUBLISHED_FREQUENCY_MEAN if published else None,
        published_share_9_or_more=PUBLISHED_SHARE_9_OR_MORE if published else None,
    )
