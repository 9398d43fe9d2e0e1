"""Property tests: on random small lakes the reports agree with a plain-Python oracle and add up.

The status rows come from the status engine (``compute_status`` for December 2022, shipped
rules); the oracle counts the entitled with the independent reference of the rules
(``status_reference``)."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saqta.core.periods import Month
from saqta.core.rules import load_rules
from saqta.mshi.reports._tables import (
    COVERAGE_PRIORITY,
    collections_report,
    coverage_report,
    frequency_report,
)
from saqta.mshi.schema import PAYMENT_OUTFLOWS, PAYMENTS, PERSONS, STATE_CATEGORY_PERIODS
from saqta.mshi.status import compute_status
from saqta.store.db import make_engine, upgrade
from saqta.store.lake import FactsLake
from test_mshi_status_reference import reference_of

DECEMBER = Month(2022, 12)

YEAR = 2022
TYPES = [kind for _, _, kinds in COVERAGE_PRIORITY for kind in kinds]
PRIORITY = {kind: i for i, (_, _, kinds) in enumerate(COVERAGE_PRIORITY) for kind in kinds}

person_st = st.fixed_dictionaries(
    {
        "region": st.sampled_from(["ALA", "AST", "KAR"]),
        "died": st.sampled_from([None, dt.date(2022, 3, 10), dt.date(2022, 12, 5)]),
        "category": st.sampled_from(
            [
                None,
                (dt.date(2020, 1, 1), None),
                (dt.date(2021, 1, 1), dt.date(2021, 12, 31)),
                (dt.date(2022, 6, 1), dt.date(2022, 8, 31)),
            ]
        ),
        "payments": st.lists(
            st.tuples(
                st.sampled_from(TYPES),
                st.sampled_from([(2021, 12), (2022, 1), (2022, 6), (2022, 12), (2023, 1)]),
                st.integers(1, 500_000).map(lambda tiyn: Decimal(tiyn) / 100),
                st.sampled_from([None, "full", "part"]),
            ),
            max_size=4,
        ),
    }
)


def _write(root: Path, people: list[dict], records: Any) -> None:
    persons, categories, payments, outflows = [], [], [], []
    for i, person in enumerate(people):
        iin = f"{i:012d}"
        persons.append(
            {
                "iin": iin,
                "sex": "M",
                "birth_date": dt.date(1970, 1, 1),
                "region": person["region"],
                "urban": True,
                "attached_provider_id": 1,
                "death_date": person["died"],
                "loaded_seq": 1,
            }
        )
        if person["category"]:
            start, end = person["category"]
            categories.append(
                {
                    "iin": iin,
                    "category": "other",
                    "valid_from": start,
                    "valid_to": end,
                    "loaded_seq": 1,
                }
            )
        for j, (kind, (year, month), amount, refund) in enumerate(person["payments"]):
            period = dt.date(year, month, 1)
            reference = f"R{i}-{j}"
            paid_on = dt.date(year + month // 12, month % 12 + 1, 15)
            payments.append(
                {
                    "reference": reference,
                    "payer_id": iin,
                    "person_iin": iin,
                    "payment_type": kind,
                    "period": period,
                    "amount": amount,
                    "payment_date": paid_on,
                    "source_file": "0" * 64,
                    "source_row": j + 1,
                    "year": year,
                    "month": month,
                }
            )
            if refund:
                back = amount if refund == "full" else (amount / 2).quantize(Decimal("0.01"))
                outflows.append(
                    {
                        "refund_id": len(outflows) + 1,
                        "reference": reference,
                        "person_iin": iin,
                        "period": period,
                        "amount": back,
                        "paid_on": paid_on,
                    }
                )
    lake = FactsLake(root)
    lake.append("persons", pa.Table.from_pylist(persons, PERSONS))
    if categories:
        lake.append("state_categories", pa.Table.from_pylist(categories, STATE_CATEGORY_PERIODS))
    if payments:
        schema = PAYMENTS.append(pa.field("year", pa.int16())).append(pa.field("month", pa.int16()))
        lake.append("payments", pa.Table.from_pylist(payments, schema), ("year", "month"))
    if outflows:
        lake.append("payment_outflows", pa.Table.from_pylist(outflows, PAYMENT_OUTFLOWS))
    compute_status(root, [DECEMBER], engine=records)


def _refunded(amount: Decimal, refund: str | None) -> Decimal:
    if refund == "full":
        return amount
    if refund == "part":
        return (amount / 2).quantize(Decimal("0.01"))
    return Decimal(0)


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory):
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('records') / 'saqta.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def _entitled_in_december(root: Path) -> set[str]:
    """The IINs the reference of the status rules finds entitled in December."""
    lake = FactsLake(root)
    rows = reference_of(lake, [DECEMBER], load_rules())
    return {str(row["iin"]) for row in rows if row["entitled"]}


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(person_st, min_size=1, max_size=6))
def test_reports_agree_with_an_oracle(records: Any, people: list[dict]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        _write(root, people, records)
        entitled_iins = _entitled_in_december(root)
        coverage = coverage_report(root, YEAR)
        collections = collections_report(root, YEAR, basis="period")
        frequency = frequency_report(root, YEAR)

    population = entitled = 0
    priorities = []
    net_total = Decimal(0)
    months_paid = []
    for i, person in enumerate(people):
        alive = person["died"] is None or person["died"] >= dt.date(2022, 12, 1)
        population += alive
        entitled += alive and f"{i:012d}" in entitled_iins
        net: dict[str, Decimal] = defaultdict(Decimal)
        deduction_months: dict[dt.date, Decimal] = defaultdict(Decimal)
        for kind, (year, month), amount, refund in person["payments"]:
            if year != YEAR:
                continue
            value = amount - _refunded(amount, refund)
            net[kind] += value
            net_total += value
            if kind == "employer_deduction":
                deduction_months[dt.date(year, month, 1)] += value
        kinds = {kind for kind, value in net.items() if value > 0}
        category = person["category"]
        if category and (category[1] is None or category[1] >= dt.date(2022, 1, 1)):
            start = category[0]
            if person["died"] is None or start <= person["died"]:
                kinds.add("state_contribution")
        if kinds:
            priorities.append(min(PRIORITY[kind] for kind in kinds))
        months = sum(1 for value in deduction_months.values() if value > 0)
        if months:
            months_paid.append(months)

    p = {row.key: row.persons for row in coverage.rows}
    assert p["population"] == population
    assert p["entitled"] == entitled
    assert p["uninsured"] == population - entitled
    assert p["paid_for"] == len(priorities)
    for index, (key, _, _) in enumerate(COVERAGE_PRIORITY):
        assert p[key] == priorities.count(index)
    assert sum(region.population for region in coverage.regions) == population
    assert collections.net == net_total
    assert sum(row.net for row in collections.sources) == net_total
    assert frequency.employees == len(months_paid)
    for row in frequency.rows:
        assert row.employees == months_paid.count(row.months)
    assert frequency.employee_months == sum(months_paid)
