"""Property tests: on random small lakes the reports agree with a plain-Python oracle and add up."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saqta.mshi.reports._tables import (
    COVERAGE_PRIORITY,
    collections_report,
    coverage_report,
    frequency_report,
)
from saqta.mshi.schema import PAYMENT_OUTFLOWS, PAYMENTS, PERSONS, STATE_CATEGORY_PERIODS, STATUS
from saqta.store.lake import FactsLake

YEAR = 2022
TYPES = [kind for _, _, kinds in COVERAGE_PRIORITY for kind in kinds]
PRIORITY = {kind: i for i, (_, _, kinds) in enumerate(COVERAGE_PRIORITY) for kind in kinds}

person_st = st.fixed_dictionaries(
    {
        "region": st.sampled_from(["ALA", "AST", "KAR"]),
        "died": st.sampled_from([None, dt.date(2022, 3, 10), dt.date(2022, 12, 5)]),
        "entitled": st.booleans(),
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


def _write(root: Path, people: list[dict]) -> None:
    persons, categories, payments, outflows, status = [], [], [], [], []
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
        status.append(
            {
                "iin": iin,
                "month": dt.date(2022, 12, 1),
                "entitled": person["entitled"],
                "basis": "x",
                "category": None,
                "payment_type": None,
                "paid_months": 0,
                "last_paid_period": None,
                "valid_until": None,
                "run_id": 1,
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
    FactsLake(root / "derived").append("status", pa.Table.from_pylist(status, STATUS), ("month",))


def _refunded(amount: Decimal, refund: str | None) -> Decimal:
    if refund == "full":
        return amount
    if refund == "part":
        return (amount / 2).quantize(Decimal("0.01"))
    return Decimal(0)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(person_st, min_size=1, max_size=6))
def test_reports_agree_with_an_oracle(people: list[dict]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        _write(root, people)
        coverage = coverage_report(root, YEAR)
        collections = collections_report(root, YEAR, basis="period")
        frequency = frequency_report(root, YEAR)

    population = entitled = 0
    priorities = []
    net_total = Decimal(0)
    months_paid = []
    for person in people:
        alive = person["died"] is None or person["died"] >= dt.date(2022, 12, 1)
        population += alive
        entitled += alive and person["entitled"]
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
