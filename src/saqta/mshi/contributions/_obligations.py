"""What was due, per payer, person and month, against what was paid: under, over and late payment.

Every figure comes from the effective-dated rules (``rules/mshi/contributions.yaml`` and
``rules/mshi/economy.yaml``), looked up for the month paid for; nothing is hard-coded here:

- employer deductions: ``employer_deduction_rate`` × the object of calculation (the employee's
  income), the base held between ``employer_base_floor_mw_multiple`` (when the Fund has set it)
  and ``employer_base_cap_mw_multiple`` minimum wages;
- employee contributions: the same with the ``employee_*`` parameters;
- civil-law contracts: ``civil_law_contract_rate`` × the contract income;
- individual entrepreneurs: ``individual_entrepreneur_rate`` ×
  ``individual_entrepreneur_base_mw_multiple`` × the minimum wage;
- self-payers: ``self_payer_rate`` × the minimum wage; a payment made before the month it pays
  for (a prepayment, 12 months ahead since 5 Sep 2022) is due at the rules in force on the day
  it was paid;
- single aggregate payment: ``single_payment_amount_urban_mrp`` (or ``_rural_``) × МРП ×
  ``single_payment_mshi_share``;
- state contributions: ``state_contribution_base`` × ``state_contribution_rate`` (both set by
  the Fund in the overrides folder).

The amount due is rounded once, to tiyn, half up. Percentage-based payers need the object of
calculation, which payments do not carry: it comes from a declarations file (``payer_id``,
``person_iin``, ``period``, ``income``, and optionally ``kind``: ``employment`` (the default:
employer deduction and employee contribution), ``civil_law_contract``, or one of the
fixed-amount payment types to declare an obligation that may not have been paid).

Due date: ``payment_due_day`` of the month after the month paid for; a due day that is not a
working day moves to the next working day (:mod:`saqta.core.calendar`). A payment after its due
date is late; the penalty is ``late_payment_penalty_rate`` × the late amount × the days late
(the rate is not stated in the sources: using it without setting it in ``SAQTA_RULES_OVERRIDES``
raises :class:`RulesError`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from saqta.core.calendar import WorkingDayCalendar, kazakhstan_calendar
from saqta.core.errors import InputError
from saqta.core.money import round_tiyn
from saqta.core.periods import Month
from saqta.core.rules import RuleSet, load_rules
from saqta.mshi.intake import settle_lake
from saqta.mshi.schema import PAYMENT_TYPES
from saqta.store.lake import FactsLake

__all__ = [
    "Finding",
    "Obligation",
    "check_payer",
    "declarations_from_synth",
    "due_date",
    "late_penalty",
    "obligation",
    "read_declarations",
]

C = "mshi.contributions."
MW = "economy.minimum_wage"
MRP = "economy.mrp"
PERCENTAGE_TYPES = ("employer_deduction", "employee_contribution", "civil_law_contract")
DECLARATION_KINDS = ("employment", *PAYMENT_TYPES)


@dataclass(frozen=True)
class Obligation:
    """The amount due for one payment type and month, with how it was computed."""

    payment_type: str
    month: Month
    amount: Decimal
    base: Decimal
    rate: Decimal
    rules: tuple[str, ...]  # "name = value (from, source)" for every rule used
    unrounded: Decimal


def _rule(rules: RuleSet, name: str, on: dt.date, used: list[str]) -> Decimal:
    value = rules.decimal(name, on)
    found = rules.lookup(name, on)
    used.append(f"{name} = {value} (in force from {found.from_}; {found.source})")
    return value


def _optional_rule(rules: RuleSet, name: str, on: dt.date, used: list[str]) -> Decimal | None:
    found = rules.lookup(name, on)
    if found.value is None:
        used.append(f"{name} not set ({found.source}): not applied")
        return None
    return _rule(rules, name, on, used)


def obligation(
    rules: RuleSet,
    payment_type: str,
    month: Month,
    *,
    income: Decimal | None = None,
    urban: bool | None = None,
    on: dt.date | None = None,
) -> Obligation:
    """The amount due for ``payment_type`` and ``month`` by the rules in force on ``on`` (default
    the first day of ``month``). ``income`` is required for percentage-based types, ``urban`` for
    the single payment."""
    day = on or month.first_day
    used: list[str] = []
    if payment_type in ("employer_deduction", "employee_contribution"):
        if income is None:
            raise InputError(
                "the object of calculation (income) is needed: give a declarations file",
                where=f"{payment_type} {month}",
            )
        prefix = "employer" if payment_type == "employer_deduction" else "employee"
        rate_name = (
            "employer_deduction_rate" if prefix == "employer" else "employee_contribution_rate"
        )
        minimum_wage = _rule(rules, MW, day, used)
        base = income
        floor = _optional_rule(rules, f"{C}{prefix}_base_floor_mw_multiple", day, used)
        if floor is not None:
            base = max(base, floor * minimum_wage)
        cap = _rule(rules, f"{C}{prefix}_base_cap_mw_multiple", day, used)
        base = min(base, cap * minimum_wage)
        rate = _rule(rules, C + rate_name, day, used)
    elif payment_type == "civil_law_contract":
        if income is None:
            raise InputError(
                "the contract income is needed: give a declarations file",
                where=f"{payment_type} {month}",
            )
        base = income
        rate = _rule(rules, C + "civil_law_contract_rate", day, used)
    elif payment_type == "individual_entrepreneur":
        base = _rule(rules, MW, day, used) * _rule(
            rules, C + "individual_entrepreneur_base_mw_multiple", day, used
        )
        rate = _rule(rules, C + "individual_entrepreneur_rate", day, used)
    elif payment_type == "self_payer":
        base = _rule(rules, MW, day, used)
        rate = _rule(rules, C + "self_payer_rate", day, used)
    elif payment_type == "single_payment":
        if urban is None:
            raise InputError(
                "whether the payer lives in a town or in the country is needed",
                where=f"{payment_type} {month}",
            )
        where = "urban" if urban else "rural"
        base = _rule(rules, MRP, day, used) * _rule(
            rules, f"{C}single_payment_amount_{where}_mrp", day, used
        )
        rate = _rule(rules, C + "single_payment_mshi_share", day, used)
    elif payment_type == "state_contribution":
        base = _rule(rules, C + "state_contribution_base", day, used)
        rate = _rule(rules, C + "state_contribution_rate", day, used)
    else:
        raise InputError(
            f"not one of {', '.join(PAYMENT_TYPES)}", where=f"payment type {payment_type!r}"
        )
    unrounded = base * rate
    return Obligation(
        payment_type=payment_type,
        month=month,
        amount=round_tiyn(unrounded),
        base=base,
        rate=rate,
        rules=tuple(used),
        unrounded=unrounded,
    )


def due_date(rules: RuleSet, month: Month, calendar: WorkingDayCalendar | None = None) -> dt.date:
    """The day payments for ``month`` are due: ``payment_due_day`` of the next month, moved to the
    next working day when it is a day off."""
    following = month.next()
    day = int(rules.value(C + "payment_due_day", month.first_day))
    day = min(day, following.last_day.day)
    return (calendar or kazakhstan_calendar()).next_working_day(
        dt.date(following.year, following.month, day)
    )


def late_penalty(
    rules: RuleSet, amount: Decimal, due: dt.date, paid_on: dt.date
) -> tuple[Decimal, int]:
    """``(penalty, days late)`` of ``amount`` paid on ``paid_on`` against the due date ``due``:
    ``late_payment_penalty_rate`` per day × amount × days, rounded to tiyn. Raises
    :class:`RulesError` when the rate is not set."""
    days = (paid_on - due).days
    if days <= 0:
        return Decimal("0.00"), 0
    rate = rules.decimal(C + "late_payment_penalty_rate", due)
    return round_tiyn(amount * rate * days), days


@dataclass
class Finding:
    """Due against paid for one payer, person, payment type and month."""

    payer_id: str
    person_iin: str
    payment_type: str
    month: Month
    due: Decimal | None
    paid: Decimal
    due_date: dt.date
    last_paid_on: dt.date | None
    late_amount: Decimal = Decimal("0.00")
    days_late: int = 0
    penalty: Decimal | None = None
    findings: list[str] = field(default_factory=list)
    rules: tuple[str, ...] = ()

    @property
    def difference(self) -> Decimal | None:
        """Paid minus due: negative when underpaid."""
        return None if self.due is None else self.paid - self.due

    def as_dict(self) -> dict[str, Any]:
        return {
            "payer_id": self.payer_id,
            "person_iin": self.person_iin,
            "payment_type": self.payment_type,
            "month": str(self.month),
            "due": None if self.due is None else str(self.due),
            "paid": str(self.paid),
            "difference": None if self.difference is None else str(self.difference),
            "due_date": self.due_date.isoformat(),
            "last_paid_on": None if self.last_paid_on is None else self.last_paid_on.isoformat(),
            "late_amount": str(self.late_amount),
            "days_late": self.days_late,
            "penalty": None if self.penalty is None else str(self.penalty),
            "findings": self.findings,
            "rules": list(self.rules),
        }


def read_declarations(path: Path | str, payer: str | None = None) -> pa.Table:
    """A declarations file (CSV or Parquet): ``payer_id``, ``person_iin``, ``period``,
    ``income`` and optionally ``kind``; only the rows of ``payer`` when given. A bad value raises
    :class:`InputError` naming the file, the row and the field."""
    import pyarrow.csv as pacsv

    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", where=str(path))
    try:
        if path.suffix.lower() == ".parquet":
            table = pq.read_table(path)
        else:
            table = pacsv.read_csv(
                path,
                convert_options=pacsv.ConvertOptions(
                    column_types={
                        "payer_id": pa.string(),
                        "person_iin": pa.string(),
                        "period": pa.string(),
                        "income": pa.string(),
                        "kind": pa.string(),
                    },
                    strings_can_be_null=True,
                ),
            )
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"cannot read: {exc}", where=str(path)) from exc
    missing = [
        c for c in ("payer_id", "person_iin", "period", "income") if c not in table.column_names
    ]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", where=str(path))
    if "kind" not in table.column_names:
        table = table.append_column("kind", pa.repeat(pa.scalar("employment"), table.num_rows))
    table = table.append_column("__row__", pa.array(range(1, table.num_rows + 1), pa.int64()))
    if payer is not None:
        table = table.filter(pc.equal(table.column("payer_id").cast(pa.string()), payer))
    rows = []
    problems = []
    for row in table.select(
        ["payer_id", "person_iin", "period", "income", "kind", "__row__"]
    ).to_pylist():
        where = f"{path}: row {row['__row__']}"
        try:
            period = row["period"]
            month = (
                Month.of(period)
                if isinstance(period, dt.date)
                else Month(int(str(period)[:4]), int(str(period)[5:7]))
            )
            income = row["income"]
            income = None if income in (None, "") else Decimal(str(income))
            if income is not None and (not income.is_finite() or income < 0):
                raise ValueError("income must be zero or more")
        except (ValueError, ArithmeticError) as exc:
            problems.append(InputError(f"period or income: {exc}", where=where))
            continue
        kind = row["kind"] or "employment"
        if kind not in DECLARATION_KINDS:
            problems.append(
                InputError(
                    f"kind {kind!r} is not one of {', '.join(DECLARATION_KINDS)}", where=where
                )
            )
            continue
        rows.append({**row, "month": month, "income": income, "kind": kind})
    if problems:
        raise InputError([p for error in problems for p in error.problems])
    return pa.table(
        {
            "payer_id": pa.array([str(r["payer_id"]) for r in rows], pa.string()),
            "person_iin": pa.array([str(r["person_iin"]) for r in rows], pa.string()),
            "month": pa.array([r["month"].first_day for r in rows], pa.date32()),
            "income": pa.array([r["income"] for r in rows], pa.decimal128(18, 2)),
            "kind": pa.array([r["kind"] for r in rows], pa.string()),
        }
    )


def check_payer(
    lake: FactsLake,
    payer: str,
    months: Sequence[Month],
    *,
    declarations: Path | str | pa.Table | None = None,
    rules: RuleSet | None = None,
    penalties: bool = True,
) -> list[Finding]:
    """Due against paid for every person a payer declared or paid for in ``months``.

    A (person, payment type, month) appears when a declaration or a payment names it. The due
    amount of a percentage-based type without a declared income is unknown (finding
    ``no_declaration``). Findings: ``unpaid``, ``underpaid``, ``overpaid``, ``late`` (with the
    penalty when ``penalties``)."""
    settle_lake(lake)
    rules = rules or load_rules()
    calendar = kazakhstan_calendar()
    wanted = sorted(set(months))
    firsts = [m.first_day for m in wanted]
    paid_rows: list[dict[str, Any]] = []
    if "payments" in lake.datasets() and firsts:
        placeholders = ", ".join("?" for _ in firsts)
        years = sorted({m.year for m in wanted})
        numbers = sorted({m.month for m in wanted})
        # the year and month filters let DuckDB skip the other partitions' files
        paid_rows = lake.query(
            "SELECT person_iin, payment_type, period, amount, payment_date FROM payments "
            f"WHERE year IN ({', '.join('?' for _ in years)}) "
            f"AND month IN ({', '.join('?' for _ in numbers)}) "
            f"AND payer_id = ? AND period IN ({placeholders}) "
            "ORDER BY person_iin, payment_type, period, payment_date",
            [*years, *numbers, payer, *firsts],
        ).to_pylist()
    declared: dict[tuple[str, str, Month], Decimal | None] = {}
    if declarations is not None:
        table = (
            declarations
            if isinstance(declarations, pa.Table)
            else read_declarations(declarations, payer)
        )
        for row in table.to_pylist():
            if row["payer_id"] != payer or Month.of(row["month"]) not in wanted:
                continue
            month = Month.of(row["month"])
            kinds = (
                ["employer_deduction", "employee_contribution"]
                if row["kind"] == "employment"
                else [row["kind"]]
            )
            for kind in kinds:
                key = (row["person_iin"], kind, month)
                income = row["income"]
                previous = declared.get(key)
                declared[key] = income if previous is None else previous + (income or 0)
    payments: dict[tuple[str, str, Month], list[dict[str, Any]]] = {}
    for row in paid_rows:
        payments.setdefault(
            (row["person_iin"], row["payment_type"], Month.of(row["period"])), []
        ).append(row)
    urban = _urban(lake, {k[0] for k in (*declared, *payments) if k[1] == "single_payment"})

    findings = []
    for key in sorted(set(declared) | set(payments), key=lambda k: (k[2], k[0], k[1])):
        person, kind, month = key
        rows = payments.get(key, [])
        paid = sum((r["amount"] for r in rows), Decimal("0.00"))
        due_on = due_date(rules, month, calendar)
        finding = Finding(
            payer_id=payer,
            person_iin=person,
            payment_type=kind,
            month=month,
            due=None,
            paid=paid,
            due_date=due_on,
            last_paid_on=max((r["payment_date"] for r in rows), default=None),
        )
        income = declared.get(key)
        if kind in PERCENTAGE_TYPES and income is None:
            finding.findings.append("no_declaration")
            findings.append(finding)
            continue
        on = None
        if kind == "self_payer" and rows:
            first_paid = min(r["payment_date"] for r in rows)
            if first_paid < month.first_day:  # a prepayment: the amount in force that day
                on = first_paid
        result = obligation(rules, kind, month, income=income, urban=urban.get(person), on=on)
        finding.due = result.amount
        finding.rules = result.rules
        if paid == 0 and result.amount > 0:
            finding.findings.append("unpaid")
        elif paid < result.amount:
            finding.findings.append("underpaid")
        elif paid > result.amount:
            finding.findings.append("overpaid")
        # late: what was paid after the due date, up to the amount due
        on_time = sum((r["amount"] for r in rows if r["payment_date"] <= due_on), Decimal(0))
        late_rows = [r for r in rows if r["payment_date"] > due_on]
        if late_rows and on_time < result.amount:
            outstanding = result.amount - on_time
            finding.findings.append("late")
            finding.penalty = Decimal("0.00") if penalties else None
            for r in late_rows:
                part = min(r["amount"], outstanding)
                if part <= 0:
                    break
                outstanding -= part
                finding.late_amount += part
                days = (r["payment_date"] - due_on).days
                finding.days_late = max(finding.days_late, days)
                if penalties:
                    penalty, _ = late_penalty(rules, part, due_on, r["payment_date"])
                    assert finding.penalty is not None
                    finding.penalty += penalty
        findings.append(finding)
    return findings


def _urban(lake: FactsLake, iins: set[str]) -> dict[str, bool]:
    """Whether each person lives in a town, from the newest row of the register."""
    if not iins or "persons" not in lake.datasets():
        return {}
    placeholders = ", ".join("?" for _ in iins)
    rows = lake.query(
        "SELECT iin, arg_max(urban, loaded_seq) AS urban FROM persons "
        f"WHERE iin IN ({placeholders}) GROUP BY iin",
        sorted(iins),
    ).to_pylist()
    return {row["iin"]: bool(row["urban"]) for row in rows}


def declarations_from_synth(
    synth_dir: Path | str, year: int, out: Path | str, *, payer: str | None = None
) -> int:
    """Write a declarations file (Parquet) from a ``saqta synth`` output, for demonstrations:
    every employee's ``monthly_income`` declared by their employer for each month of ``year``,
    and every individual entrepreneur, self-payer and single-payment payer declared by
    themselves. Civil-law contracts are left out (their customer changes from payment to
    payment). Returns the number of rows written."""
    import duckdb

    folder = Path(synth_dir) / "persons"
    if not folder.is_dir():
        raise InputError("not a synth output folder (no persons/)", where=str(synth_dir))
    months = [Month(year, m).first_day for m in range(1, 13)]
    where = "" if payer is None else "WHERE payer_id = ?"
    sql = f"""
        WITH people AS (SELECT * FROM read_parquet(?)),
        declared AS (
            SELECT employer_bin AS payer_id, iin AS person_iin, monthly_income AS income,
                   'employment' AS kind
            FROM people WHERE employer_bin IS NOT NULL AND monthly_income IS NOT NULL
            UNION ALL
            SELECT iin, iin, NULL::DECIMAL(18, 2), category FROM people
            WHERE category IN ('individual_entrepreneur', 'self_payer', 'single_payment')
        )
        SELECT d.payer_id, d.person_iin, m.month, d.income, d.kind
        FROM declared d CROSS JOIN (SELECT unnest(?::DATE[]) AS month) m {where}
        ORDER BY d.payer_id, d.person_iin, m.month
    """
    params: list[Any] = [str(folder / "*.parquet"), months]
    if payer is not None:
        params.append(payer)
    with duckdb.connect(":memory:") as connection:
        relation = connection.sql(sql, params=params)
        assert relation is not None
        table = relation.to_arrow_table()
    table = table.rename_columns(["payer_id", "person_iin", "period", "income", "kind"])
    pq.write_table(table, Path(out))
    return int(table.num_rows)
