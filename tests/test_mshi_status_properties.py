"""Properties of insured status, over random small countries and several rule settings:

- adding a valid payment never takes entitlement away from anyone in any month;
- recomputing gives the same rows, and an incremental run after a new file gives the same rows
  as a full run;
- the engine's formulation over bits gives exactly the rows of the reference SQL, with duplicate
  rows, refunds and windows too wide for one span's bits.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saqta.core.iin import Sex, make_iin
from saqta.core.periods import Month
from saqta.core.rules import load_rules, packaged_rules_dir
from saqta.mshi.status._engine import compute_status, read_status, status_of
from saqta.store.db import make_engine, upgrade
from test_mshi_status import LakeBuilder

FIRST = Month(2021, 1)
MONTHS = [Month.from_index(FIRST.index + i) for i in range(10, 24)]  # 2021-11 .. 2022-12
PAYER_TYPES = [
    "employer_deduction",
    "employee_contribution",
    "individual_entrepreneur",
    "self_payer",
    "state_contribution",
]

_RULE_VARIANTS: dict[str, dict[str, Any]] = {
    "shipped": {},
    "receipt": {"payment_counts_from": ("string", "receipt")},
    "three_in_six": {
        "contribution_min_paid_months": ("integer", 3),
        "contribution_lookback_months": ("integer", 6),
        "current_month_payment_counts": ("boolean", "true"),
    },
}
_FORMULATION_VARIANTS: dict[str, dict[str, Any]] = {
    **_RULE_VARIANTS,
    "two_in_24_survive_6": {
        "contribution_min_paid_months": ("integer", 2),
        "contribution_lookback_months": ("integer", 24),
        "contribution_survival_months": ("integer", 6),
    },
    "wide_60_months": {  # a span of three months at most: the year is cut in five
        "contribution_lookback_months": ("integer", 60),
        "contribution_min_paid_months": ("integer", 4),
        "payment_counts_from": ("string", "receipt"),
    },
    "employers_and_state": {
        "contribution_payment_types": ("list", "[employer_deduction, state_contribution]"),
        "current_month_payment_counts": ("boolean", "true"),
        "contribution_survival_months": ("integer", 0),
    },
}
_RULE_VARIANTS_ALL = _FORMULATION_VARIANTS
_rules_cache: dict[str, Any] = {}


def rules_variant(name: str) -> Any:
    if name not in _rules_cache:
        if not _RULE_VARIANTS_ALL[name]:
            _rules_cache[name] = load_rules()
        else:
            folder = Path(tempfile.mkdtemp(prefix="saqta-rules-"))
            lines = [
                "kind: parameters",
                "namespace: mshi.status",
                "description: variant",
                "parameters:",
            ]
            for key, (kind, value) in _RULE_VARIANTS_ALL[name].items():
                lines += [
                    f"  {key}:",
                    f"    description: {key}",
                    f"    type: {kind}",
                    "    values:",
                    f"      - {{from: 2017-07-01, value: {value}, source: test variant}}",
                ]
            (folder / "status.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
            _rules_cache[name] = load_rules([packaged_rules_dir(), folder])
    return _rules_cache[name]


def person_iins(count: int) -> list[str]:
    found = []
    serial = 1
    while len(found) < count:
        value = make_iin(dt.date(1980 + len(found), 1, 15), Sex.FEMALE, serial)
        serial += 1
        if value is not None:
            found.append(value)
    return found


payment = st.fixed_dictionaries(
    {
        "who": st.integers(0, 2),
        "month": st.integers(0, 23),  # months from 2021-01
        "type": st.sampled_from(PAYER_TYPES),
        "delay": st.integers(0, 5),  # months after the period it is paid (0: paid in advance)
        "day": st.sampled_from([1, 4, 5, 10, 28]),
    }
)
ahead = st.fixed_dictionaries(
    {
        "who": st.integers(0, 2),
        "month": st.integers(14, 23),
        "day": st.sampled_from([1, 4, 5, 20]),
        # months between the payment and the first prepaid month (0 and 1: a prepayment)
        "lead": st.integers(0, 2),
    }
)
category = st.fixed_dictionaries(
    {
        "who": st.integers(0, 2),
        "start": st.integers(0, 23),
        "length": st.one_of(st.none(), st.integers(0, 12)),
        "day": st.sampled_from([1, 15, 28]),  # of the start, and of the end (28: month's end)
    }
)


def payment_rows(iins: list[str], payments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for p in payments:
        period = Month.from_index(FIRST.index + p["month"])
        paid = period.shift(p["delay"] - 1 if p["delay"] else -1).first_day.replace(day=p["day"])
        rows.append(
            {"iin": iins[p["who"]], "type": p["type"], "period": period.first_day, "paid": paid}
        )
    return rows


def prepayment_rows(iins: list[str], prepayments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for p in prepayments:
        paid = Month.from_index(FIRST.index + p["month"])
        start = paid.shift(p.get("lead", 0))
        for k in range(12):
            rows.append(
                {
                    "iin": iins[p["who"]],
                    "type": "self_payer",
                    "period": start.shift(k).first_day,
                    "paid": paid.first_day.replace(day=p["day"]),
                }
            )
    return rows


def build(root: Path, payments, prepayments, categories, died: int | None) -> tuple:
    builder = LakeBuilder(root)
    iins = person_iins(3)
    for index, value in enumerate(iins):
        death = dt.date(2022, 3, 9) if died == index else None
        builder.person(value, dt.date(1980 + index, 1, 15), death=death)
    for c in categories:
        start = Month.from_index(FIRST.index + c["start"])
        day = c.get("day", 1)
        end = None
        if c["length"] is not None:
            last = start.shift(c["length"])
            end = last.last_day if day == 28 else last.first_day.replace(day=day)
        begin = start.first_day.replace(day=day)
        builder.category(iins[c["who"]], "unemployed", begin, max(end, begin) if end else None)
    rows = payment_rows(iins, payments) + prepayment_rows(iins, prepayments)
    builder.last_payments = builder.payments(rows) if rows else []
    return builder, iins


def entitled(table) -> dict[tuple[str, str], bool]:
    return {(r["iin"], str(r["month"])): r["entitled"] for r in table.to_pylist()}


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    payments=st.lists(payment, max_size=12),
    prepayments=st.lists(ahead, max_size=1),
    categories=st.lists(category, max_size=2),
    died=st.one_of(st.none(), st.integers(0, 2)),
    extra=payment,
    variant=st.sampled_from(sorted(_RULE_VARIANTS)),
)
def test_adding_a_valid_payment_never_removes_entitlement(
    payments, prepayments, categories, died, extra, variant
):
    rules = rules_variant(variant)
    with tempfile.TemporaryDirectory() as folder:
        builder, iins = build(Path(folder) / "lake", payments, prepayments, categories, died)
        before = entitled(status_of(builder.lake, MONTHS, rules=rules))
        builder.payments(payment_rows(iins, [extra]), source="e" * 64)
        after = entitled(status_of(builder.lake, MONTHS, rules=rules))
    assert before.keys() == after.keys()
    lost = [key for key, was in before.items() if was and not after[key]]
    assert lost == []


@pytest.fixture(scope="module")
def sqlite_engine(tmp_path_factory):
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('runs') / 'saqta.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def without_run(table) -> list[dict[str, Any]]:
    return table.drop_columns(["run_id"]).to_pylist()


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    payments=st.lists(payment, max_size=10),
    prepayments=st.lists(ahead, max_size=1),
    categories=st.lists(category, max_size=2),
    died=st.one_of(st.none(), st.integers(0, 2)),
    new_payments=st.lists(payment, min_size=1, max_size=6),
    variant=st.sampled_from(sorted(_RULE_VARIANTS)),
)
def test_recomputing_and_incremental_runs_never_change_a_result(
    sqlite_engine, payments, prepayments, categories, died, new_payments, variant
):
    rules = rules_variant(variant)
    months = MONTHS[-6:]
    with tempfile.TemporaryDirectory() as folder:
        builder, iins = build(Path(folder) / "lake", payments, prepayments, categories, died)
        compute_status(builder.lake, months, engine=sqlite_engine, rules=rules)
        first = {m: without_run(read_status(builder.lake, m)) for m in months}
        compute_status(builder.lake, months, engine=sqlite_engine, rules=rules)
        assert {m: without_run(read_status(builder.lake, m)) for m in months} == first
        builder.payments(payment_rows(iins, new_payments), source="f" * 64)
        compute_status(
            builder.lake, months, engine=sqlite_engine, rules=rules, source_file="f" * 64
        )
        incremental = {m: without_run(read_status(builder.lake, m)) for m in months}
        full = {m: without_run(status_of(builder.lake, [m], rules=rules)) for m in months}
    assert incremental == full


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    payments=st.lists(payment, max_size=14),
    prepayments=st.lists(ahead, max_size=1),
    categories=st.lists(category, max_size=2),
    died=st.one_of(st.none(), st.integers(0, 2)),
    copied=st.lists(st.integers(0, 40), max_size=3),
    refunded=st.lists(
        st.tuples(st.integers(0, 40), st.sampled_from(["1800.00", "900.00", "2000.00"])),
        max_size=4,
    ),
    variant=st.sampled_from(sorted(_FORMULATION_VARIANTS)),
)
def test_the_bits_give_exactly_the_rows_of_the_reference_sql(
    payments, prepayments, categories, died, copied, refunded, variant
):
    rules = rules_variant(variant)
    with tempfile.TemporaryDirectory() as folder:
        builder, _ = build(Path(folder) / "lake", payments, prepayments, categories, died)
        written = builder.last_payments
        if written and copied:  # the same payments again in another file
            builder.payments(
                [
                    {
                        **_as_row(written[i % len(written)]),
                        "paid": written[i % len(written)]["payment_date"],
                    }
                    for i in copied
                ],
                source="c" * 64,
            )
        for index, amount in refunded if written else []:
            builder.refund(
                {**written[index % len(written)], "amount": Decimal(amount)}, dt.date(2022, 6, 1)
            )
        bits = status_of(builder.lake, MONTHS, rules=rules, formulation="bits")
        reference = status_of(builder.lake, MONTHS, rules=rules, formulation="sql")
    assert bits.num_rows == 3 * len(MONTHS)
    assert bits.to_pylist() == reference.to_pylist()


def _as_row(payment: dict[str, Any]) -> dict[str, Any]:
    return {
        "iin": payment["person_iin"],
        "type": payment["payment_type"],
        "period": payment["period"],
        "reference": payment["reference"],
        "amount": str(payment["amount"]),
    }
