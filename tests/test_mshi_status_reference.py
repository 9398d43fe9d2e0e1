"""The status engine against an independent, person-by-person reference (``status_reference``).

Random small populations go through the real pipeline: persons, category and payments files
imported by ``import_persons`` and ``import_payments`` (a file imported twice, and a copy of a file
whose references are already in the lake), refunds through their whole lifecycle (request,
check, approve, pay: full, partial in two steps, and an over-refund that is refused), then
``compute_status`` over the lake. The reference reads the same lake datasets and decides each
person and month on its own; the decision columns must be equal, under the shipped rules and
under random overrides folders (look-back, paid months needed, survival, current month, counting
from receipt, counted payment types, a dated change of the look-back, the prepayment rule's months
and start).

A second property writes rows the imports never write but the lake contract allows (the same
payment in two files, refunds above the amount paid) directly, and compares again.
"""

from __future__ import annotations

import atexit
import csv
import datetime as dt
import itertools
import shutil
import tempfile
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from saqta.core.errors import InputError
from saqta.core.iin import Sex, make_iin
from saqta.core.periods import Month
from saqta.core.rules import RuleSet, load_rules, packaged_rules_dir
from saqta.mshi.contributions import (
    approve_refund,
    check_refund,
    import_payments,
    pay_refund,
    request_refund,
)
from saqta.mshi.registry import import_persons
from saqta.mshi.status._engine import compute_status, status_folder, status_of
from saqta.store.db import make_engine, upgrade
from saqta.store.lake import FactsLake
from status_reference import (
    DECISION_COLUMNS,
    CategoryPeriod,
    Payment,
    Person,
    Refund,
    reference_status,
)
from test_mshi_status import LakeBuilder

FIRST = Month(2021, 1)  # payments from here
MONTHS = [Month.from_index(FIRST.index + i) for i in range(10, 24)]  # 2021-11 .. 2022-12
TYPES = [
    "employer_deduction",
    "employee_contribution",
    "individual_entrepreneur",
    "single_payment",
    "self_payer",
    "state_contribution",
]
CATEGORIES = ["child", "student", "unemployed", "pregnant"]
TODAY = dt.date(2023, 12, 31)

# ------------------------------------------------------------------------------------------------
# Rules: the shipped ones, or an overrides folder


overrides = st.fixed_dictionaries(
    {
        "lookback": st.sampled_from([2, 3, 6, 12, 24]),
        "lookback_from_2022_07": st.sampled_from([None, 4, 12]),
        "min_paid": st.integers(1, 3),
        "survival": st.sampled_from([0, 1, 3, 6]),
        "current": st.booleans(),
        "counts_from": st.sampled_from(["period", "receipt"]),
        "types": st.sampled_from(
            [
                None,
                ("employer_deduction", "state_contribution"),
                ("employer_deduction", "employee_contribution", "individual_entrepreneur"),
                ("self_payer", "single_payment"),
            ]
        ),
        "prepayment": st.sampled_from(
            [None, ("2022-09-05", 12), ("2022-09-05", 6), ("2022-03-01", 3), ("2030-01-01", 12)]
        ),
    }
)

_rules_cache: dict[Any, RuleSet] = {}
_rules_folders = Path(tempfile.mkdtemp(prefix="saqta-rules-"))
atexit.register(shutil.rmtree, _rules_folders, ignore_errors=True)


def _parameter(name: str, kind: str, values: list[tuple[str, Any]]) -> list[str]:
    lines = [f"  {name}:", f"    description: {name}", f"    type: {kind}", "    values:"]
    for start, value in values:
        lines.append(f"      - {{from: {start}, value: {value}, source: test override}}")
    return lines


def rules_of(choice: dict[str, Any] | None) -> RuleSet:
    """The shipped rules, or the shipped rules with an overrides folder made from ``choice``
    (values the engine refuses are brought into range: the property is about valid rules)."""
    key = None if choice is None else tuple(sorted(choice.items()))
    if key in _rules_cache:
        return _rules_cache[key]
    if choice is None:
        _rules_cache[key] = load_rules()
        return _rules_cache[key]
    lag = 0 if choice["current"] else 1
    lookbacks = [choice["lookback"]] + [
        v for v in [choice["lookback_from_2022_07"]] if v is not None
    ]
    min_paid = max(1, min(choice["min_paid"], min(lookbacks) - lag + 1))
    survival = max(choice["survival"], lag)
    lookback_values = [("2017-07-01", choice["lookback"])]
    if choice["lookback_from_2022_07"] is not None:
        lookback_values.append(("2022-07-01", choice["lookback_from_2022_07"]))
    folder = Path(tempfile.mkdtemp(dir=_rules_folders))
    lines = ["kind: parameters", "namespace: mshi.status", "description: test", "parameters:"]
    lines += _parameter("contribution_lookback_months", "integer", lookback_values)
    lines += _parameter("contribution_min_paid_months", "integer", [("2017-07-01", min_paid)])
    lines += _parameter("contribution_survival_months", "integer", [("2017-07-01", survival)])
    lines += _parameter(
        "current_month_payment_counts",
        "boolean",
        [("2017-07-01", "true" if choice["current"] else "false")],
    )
    lines += _parameter("payment_counts_from", "string", [("2017-07-01", choice["counts_from"])])
    if choice["types"] is not None:
        listed = "[" + ", ".join(choice["types"]) + "]"
        lines += _parameter("contribution_payment_types", "list", [("2017-07-01", listed)])
    (folder / "status.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if choice["prepayment"] is not None:
        start, months = choice["prepayment"]
        lines = [
            "kind: parameters",
            "namespace: mshi.contributions",
            "description: test",
            "parameters:",
        ]
        lines += _parameter("self_payer_prepayment_months", "integer", [(start, months)])
        (folder / "prepayment.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    _rules_cache[key] = load_rules([packaged_rules_dir(), folder])
    return _rules_cache[key]


# ------------------------------------------------------------------------------------------------
# Random populations

BIRTHS = [
    dt.date(1980, 1, 15),
    dt.date(1991, 6, 30),
    dt.date(2021, 12, 31),
    dt.date(2022, 5, 20),
    dt.date(2022, 12, 1),
    dt.date(2023, 2, 3),  # born after the last month computed: no row
]
DEATHS = [None, None, dt.date(2021, 11, 1), dt.date(2022, 3, 9), dt.date(2022, 12, 31)]

person_st = st.fixed_dictionaries(
    {"birth": st.sampled_from(BIRTHS), "death": st.sampled_from(DEATHS)}
)
payment_st = st.fixed_dictionaries(
    {
        "who": st.integers(0, 3),
        "month": st.integers(0, 25),  # months from 2021-01
        "type": st.sampled_from(TYPES),
        "delay": st.integers(-1, 4),  # months between the period and the month paid
        "day": st.sampled_from([1, 5, 10, 28]),
    }
)
prepayment_st = st.fixed_dictionaries(
    {
        "who": st.integers(0, 3),
        "paid": st.sampled_from(
            [
                dt.date(2022, 3, 1),
                dt.date(2022, 9, 1),
                dt.date(2022, 9, 4),
                dt.date(2022, 9, 5),
                dt.date(2022, 9, 5),
                dt.date(2022, 9, 10),
                dt.date(2022, 9, 10),
                dt.date(2022, 10, 31),
            ]
        ),
        "months": st.sampled_from([12, 12, 6, 3]),
        "from_next_month": st.sampled_from([False, False, True]),
    }
)
category_st = st.fixed_dictionaries(
    {
        "who": st.integers(0, 3),
        "category": st.sampled_from(CATEGORIES),
        "start": st.sampled_from(
            [dt.date(2020, 1, 1), dt.date(2022, 3, 31), dt.date(2022, 5, 20), dt.date(2021, 12, 1)]
        ),
        "end": st.sampled_from(
            [None, dt.date(2022, 3, 31), dt.date(2022, 6, 14), dt.date(2023, 1, 1)]
        ),
        "load": st.integers(0, 1),  # which category file
    }
)
refund_st = st.tuples(st.integers(0, 60), st.sampled_from(["full", "half", "two_halves", "over"]))

_serial = itertools.count(1)


def new_iin(birth: dt.date) -> str:
    while True:
        value = make_iin(birth, Sex.FEMALE, next(_serial) % 10000)
        if value is not None:
            return value


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


class Country:
    """One random population, imported through the real imports into a fresh lake."""

    def __init__(self, folder: Path, engine: Any) -> None:
        self.folder = folder
        self.engine = engine
        self.lake = FactsLake(folder / "lake")
        self.tag = uuid.uuid4().hex[:10]  # makes every file of the example new to the records
        self.references = itertools.count(1)

    def reference(self) -> str:
        return f"R-{self.tag}-{next(self.references):04d}"

    def persons(self, people: list[dict[str, Any]]) -> list[str]:
        iins = []
        rows = []
        for person in people:
            iin = new_iin(person["birth"])
            death = person["death"]
            if death is not None and death < person["birth"]:
                death = None
            iins.append(iin)
            rows.append(
                {
                    "iin": iin,
                    "sex": "F",
                    "birth_date": person["birth"].isoformat(),
                    "region": "ALA",
                    "urban": "true",
                    "attached_provider_id": "1",
                    "death_date": death.isoformat() if death else "",
                    "note": self.tag,
                }
            )
        [result] = import_persons(
            self.engine, self.lake, write_csv(self.folder / "persons.csv", rows), today=TODAY
        )
        assert result.accepted == len(rows), result.by_reason
        return iins

    def categories(self, iins: list[str], periods: list[dict[str, Any]]) -> None:
        for load in (0, 1):
            rows = []
            for p in periods:
                if p["load"] != load:
                    continue
                end = p["end"]
                if end is not None and end < p["start"]:
                    end = None
                rows.append(
                    {
                        "iin": iins[p["who"] % len(iins)],
                        "category": p["category"],
                        "valid_from": p["start"].isoformat(),
                        "valid_to": end.isoformat() if end else "",
                        "note": self.tag,
                    }
                )
            if rows:
                path = write_csv(self.folder / f"categories-{load}.csv", rows)
                import_persons(self.engine, self.lake, path, today=TODAY)

    def payments(self, rows: list[dict[str, Any]], name: str) -> tuple[Path, list[dict[str, Any]]]:
        path = write_csv(self.folder / name, rows)
        result = import_payments(self.engine, self.lake, path, today=TODAY)
        assert result.read == result.accepted + result.quarantined
        assert result.accepted == len(rows), result.by_reason
        return path, rows

    def refund(self, payment: dict[str, Any], how: str) -> None:
        amount = Decimal(payment["amount"])
        parts = {
            "full": [amount],
            "half": [amount / 2],
            "two_halves": [amount / 2, amount / 2],
            "over": [amount + 1],
        }[how]
        for part in parts:
            try:
                refund = request_refund(
                    self.engine, self.lake, payment["reference"], part, "paid twice", "ana"
                )
            except InputError as refused:
                assert how == "over" and "more than" in str(refused)
                continue
            check_refund(self.engine, refund.id, "bek")
            approve_refund(self.engine, refund.id, "dana")
            pay_refund(self.engine, self.lake, refund.id, "erlan", paid_on=dt.date(2022, 6, 1))


def payment_rows(country: Country, iins: list[str], payments, prepayments) -> list[dict]:
    rows = []
    for p in payments:
        period = Month.from_index(FIRST.index + p["month"])
        paid = period.shift(p["delay"]).first_day.replace(day=p["day"])
        if paid > TODAY:
            continue
        iin = iins[p["who"] % len(iins)]
        rows.append(
            {
                "reference": country.reference(),
                "payer_id": iin,
                "person_iin": iin,
                "payment_type": p["type"],
                "period": period.first_day.isoformat()[:7],
                "amount": "1800.00",
                "payment_date": paid.isoformat(),
            }
        )
    for p in prepayments:
        start = Month.of(p["paid"]).shift(1 if p["from_next_month"] else 0)
        iin = iins[p["who"] % len(iins)]
        for k in range(p["months"]):
            rows.append(
                {
                    "reference": country.reference(),
                    "payer_id": iin,
                    "person_iin": iin,
                    "payment_type": "self_payer",
                    "period": start.shift(k).first_day.isoformat()[:7],
                    "amount": "3000.00",
                    "payment_date": p["paid"].isoformat(),
                }
            )
    return rows


# ------------------------------------------------------------------------------------------------
# What the reference reads: the lake's datasets, as the engine sees them


def _rows(lake: FactsLake, dataset: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in lake.files(dataset):
        rows += pq.read_table(path).to_pylist()
    return rows


def reference_of(lake: FactsLake, months: list[Month], rules: RuleSet) -> list[dict[str, Any]]:
    persons = [
        Person(r["iin"], r["birth_date"], r["death_date"], r["loaded_seq"])
        for r in _rows(lake, "persons")
    ]
    categories = [
        CategoryPeriod(r["iin"], r["category"], r["valid_from"], r["valid_to"], r["loaded_seq"])
        for r in _rows(lake, "state_categories")
    ]
    payments = [
        Payment(
            r["reference"],
            r["person_iin"],
            r["payment_type"],
            r["period"],
            r["amount"],
            r["payment_date"],
        )
        for r in _rows(lake, "payments")
    ]
    refunds = [
        Refund(r["reference"], r["person_iin"], r["period"], r["amount"])
        for r in _rows(lake, "payment_outflows")
    ]
    return reference_status(persons, categories, payments, refunds, months, rules)


def decisions(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: row[k] for k in DECISION_COLUMNS} for row in rows]


def engine_rows(lake: FactsLake, months: list[Month]) -> list[dict[str, Any]]:
    """The stored rows of ``months`` (the month is the folder's; read as ``read_status`` does)."""
    rows: list[dict[str, Any]] = []
    for month in months:
        for path in sorted(status_folder(lake, month).glob("*.parquet")):
            rows += [{**row, "month": month.first_day} for row in pq.read_table(path).to_pylist()]
    return decisions(sorted(rows, key=lambda r: (r["month"], r["iin"])))


def differences(engine: list[dict[str, Any]], reference: list[dict[str, Any]]) -> list[Any]:
    """The rows that differ, keyed by (IIN, month), each with the columns that differ."""
    a = {(r["iin"], r["month"]): r for r in engine}
    b = {(r["iin"], r["month"]): r for r in reference}
    found = []
    for key in sorted(a.keys() | b.keys()):
        x, y = a.get(key), b.get(key)
        if x is None or y is None:
            found.append((key, "engine" if y is None else "reference", x or y))
            continue
        diff = {k: (x[k], y[k]) for k in DECISION_COLUMNS if x[k] != y[k]}
        if diff:
            found.append((key, diff))
    return found


def broken_promises(rows: list[dict[str, Any]]) -> list[Any]:
    """Entitled rows whose ``valid_until`` (null: no end) covers a later month that is not
    entitled. With the same rules every month and nothing added to the lake, a later month only
    counts more: what a row promises must hold."""
    broken = []
    for row in rows:
        if not row["entitled"]:
            continue
        until = row["valid_until"]
        for later in rows:
            if (
                later["iin"] == row["iin"]
                and later["month"] > row["month"]
                and (until is None or later["month"] <= until)
                and not later["entitled"]
            ):
                broken.append((row["iin"], row["month"], until, later["month"], later["basis"]))
    return broken


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory):
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('records') / 'saqta.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


# ------------------------------------------------------------------------------------------------
# The properties


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    people=st.lists(person_st, min_size=1, max_size=4),
    payments=st.lists(payment_st, max_size=14),
    prepayments=st.lists(prepayment_st, min_size=1, max_size=2),
    categories=st.lists(category_st, max_size=3),
    refunds=st.lists(refund_st, max_size=3),
    copied=st.booleans(),
    choice=st.one_of(st.none(), overrides),
)
@example(  # a prepayment of 5 September 2022 beside a lapse, a child born in May, a death
    people=[
        {"birth": dt.date(1980, 1, 15), "death": None},
        {"birth": dt.date(2022, 5, 20), "death": None},
        {"birth": dt.date(1991, 6, 30), "death": dt.date(2022, 3, 9)},
    ],
    payments=[
        {"who": 0, "month": 14, "type": "employer_deduction", "delay": 1, "day": 5},
        {"who": 2, "month": 13, "type": "employee_contribution", "delay": 1, "day": 10},
    ],
    prepayments=[
        {"who": 0, "paid": dt.date(2022, 9, 5), "months": 12, "from_next_month": False},
        {"who": 1, "paid": dt.date(2022, 9, 10), "months": 12, "from_next_month": True},
    ],
    categories=[
        {"who": 1, "category": "child", "start": dt.date(2022, 5, 20), "end": None, "load": 0}
    ],
    refunds=[(1, "half")],
    copied=True,
    choice=None,
).via("a prepayment under the shipped rules")
@example(  # a 6-month prepayment rule, counted from receipt, two paid months in three
    people=[{"birth": dt.date(1980, 1, 15), "death": None}],
    payments=[
        {"who": 0, "month": m, "type": "self_payer", "delay": 2, "day": 28} for m in (10, 11, 12)
    ],
    prepayments=[{"who": 0, "paid": dt.date(2022, 9, 10), "months": 6, "from_next_month": False}],
    categories=[],
    refunds=[(0, "full")],
    copied=False,
    choice={
        "lookback": 3,
        "lookback_from_2022_07": None,
        "min_paid": 2,
        "survival": 1,
        "current": False,
        "counts_from": "receipt",
        "types": ("self_payer", "single_payment"),
        "prepayment": ("2022-09-05", 6),
    },
).via("a shorter prepayment rule from an override")
def test_the_engine_decides_as_the_reference_after_the_real_imports(
    records, people, payments, prepayments, categories, refunds, copied, choice
):
    rules = rules_of(choice)
    with tempfile.TemporaryDirectory() as folder:
        country = Country(Path(folder), records)
        iins = country.persons(people)
        country.categories(iins, categories)
        rows = payment_rows(country, iins, payments, prepayments)
        if rows:
            path, written = country.payments(rows, "payments.csv")
            again = import_payments(records, country.lake, path, today=TODAY)
            assert again.already_imported
            if copied:  # the same payments in another file: every row is refused
                copy = write_csv(
                    country.folder / "copy.csv", [{**row, "note": "copy"} for row in written]
                )
                result = import_payments(records, country.lake, copy, today=TODAY)
                assert result.accepted == 0
                assert result.by_reason == {"duplicate_reference": len(written)}
            done = set()
            for index, how in refunds:
                payment = written[index % len(written)]
                if payment["reference"] not in done:
                    done.add(payment["reference"])
                    country.refund(payment, how)
        compute_status(country.lake, MONTHS, engine=records, rules=rules)
        engine = engine_rows(country.lake, MONTHS)
        reference = decisions(reference_of(country.lake, MONTHS, rules))
    for basis in sorted({str(row["basis"]) for row in engine}):
        event(f"a row with basis {basis}")
    assert differences(engine, reference) == []
    if choice is None or choice["lookback_from_2022_07"] is None:  # the same rules every month
        assert broken_promises(engine) == []


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    payments=st.lists(payment_st, max_size=12),
    prepayments=st.lists(prepayment_st, max_size=1),
    copied=st.lists(st.integers(0, 40), max_size=3),
    refunded=st.lists(
        st.tuples(st.integers(0, 40), st.sampled_from(["1800.00", "900.00", "2500.00"])),
        max_size=4,
    ),
    choice=st.one_of(st.none(), overrides),
)
def test_duplicates_and_over_refunds_in_the_lake_decide_as_the_reference(
    payments, prepayments, copied, refunded, choice
):
    """Rows the imports refuse but the lake contract allows: the same payment in two files
    (a month counts once; a refunded payment's copies are taken once), and refunds above the
    amount paid (the payment does not count)."""
    rules = rules_of(choice)
    with tempfile.TemporaryDirectory() as folder:
        builder = LakeBuilder(Path(folder) / "lake")
        iins = []
        for birth in (dt.date(1980, 1, 15), dt.date(2022, 5, 20), dt.date(1990, 2, 2)):
            iins.append(builder.person(new_iin(birth), birth))
        country = Country(Path(folder), None)
        rows = [
            {
                "iin": r["person_iin"],
                "type": r["payment_type"],
                "period": dt.date.fromisoformat(r["period"] + "-01"),
                "paid": dt.date.fromisoformat(r["payment_date"]),
                "amount": r["amount"],
                "reference": r["reference"],
            }
            for r in payment_rows(country, iins, payments, prepayments)
        ]
        written = builder.payments(rows) if rows else []
        if written and copied:
            builder.payments(
                [{**rows[i % len(rows)]} for i in copied],
                source="c" * 64,
            )
        for index, amount in refunded if written else []:
            builder.refund(
                {**written[index % len(written)], "amount": Decimal(amount)}, dt.date(2022, 6, 1)
            )
        engine = decisions(status_of(builder.lake, MONTHS, rules=rules).to_pylist())
        reference = decisions(reference_of(builder.lake, MONTHS, rules))
    assert differences(engine, reference) == []


@pytest.mark.parametrize(
    "types", [None, ("employer_deduction", "employee_contribution")], ids=["all", "no_self_payer"]
)
def test_a_prepayment_promises_no_month_the_engine_then_denies(tmp_path, records, types):
    """A 3-month prepayment when 4 paid months are needed, or when self-payer payments do not
    count toward contributions: status ends with the prepaid months. (The engine once said
    "valid until" three months later, while its own row of the next month said not entitled.)"""
    rules = rules_of(
        {
            "lookback": 24,
            "lookback_from_2022_07": None,
            "min_paid": 4,
            "survival": 3,
            "current": False,
            "counts_from": "period",
            "types": types,
            "prepayment": ("2022-03-01", 3),
        }
    )
    country = Country(tmp_path, records)
    iins = country.persons([{"birth": dt.date(1980, 1, 15), "death": None}])
    prepayment = {"who": 0, "paid": dt.date(2022, 9, 10), "months": 3, "from_next_month": False}
    country.payments(payment_rows(country, iins, [], [prepayment]), "payments.csv")
    compute_status(country.lake, MONTHS, engine=records, rules=rules)
    rows = {row["month"]: row for row in engine_rows(country.lake, MONTHS)}
    november, december = rows[dt.date(2022, 11, 1)], rows[dt.date(2022, 12, 1)]
    assert (november["basis"], november["valid_until"]) == ("prepayment", dt.date(2022, 11, 30))
    assert (december["entitled"], december["basis"]) == (False, "none")
    reference = decisions(reference_of(country.lake, MONTHS, rules))
    assert differences(engine_rows(country.lake, MONTHS), reference) == []
