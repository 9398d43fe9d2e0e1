"""Obligations: what was due by the dated rules, against what was paid (exact tenge)."""

from __future__ import annotations

import datetime as dt
import sys
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from sqlalchemy import Engine

from saqta.core.errors import InputError, RulesError
from saqta.core.periods import Month
from saqta.core.rules import load_rules, packaged_rules_dir
from saqta.mshi.contributions import import_payments
from saqta.mshi.contributions._obligations import (
    check_payer,
    declarations_from_synth,
    due_date,
    late_penalty,
    obligation,
    read_declarations,
)
from saqta.store.lake import FactsLake

sys.path.insert(0, str(Path(__file__).parent))
from test_mshi_ingest import (
    ALICE,
    BOLAT,
    DANA,
    EMPLOYER,
    PAYMENT_HEADER,
    TODAY,
    load_register,
    payment,
    write_csv,
)

RULES = load_rules()
MARCH = Month(2022, 3)


def with_penalty_rate(tmp_path: Path, rate: str) -> object:
    folder = tmp_path / "overrides"
    folder.mkdir(exist_ok=True)
    (folder / "penalty.yaml").write_text(
        "kind: parameters\n"
        "namespace: mshi.contributions\n"
        "description: The Fund's penalty rate (test)\n"
        "parameters:\n"
        "  late_payment_penalty_rate:\n"
        "    description: Penalty per day of late payment\n"
        "    type: decimal\n"
        "    unit: ratio per day\n"
        "    values:\n"
        f"      - {{from: 2017-07-01, value: {rate}, source: set by the Fund for a test}}\n",
        encoding="utf-8",
    )
    return load_rules([packaged_rules_dir(), folder])


@pytest.mark.parametrize(
    ("kind", "month", "income", "expected"),
    [
        ("employer_deduction", MARCH, "200000.00", "6000.00"),
        ("employer_deduction", MARCH, "750000.00", "18000.00"),  # capped at 10 × 60,000
        ("employer_deduction", MARCH, "123456.78", "3703.70"),  # 3,703.7034 rounded once
        ("employer_deduction", Month(2021, 5), "100000.55", "2000.01"),  # 2% in 2021
        ("employee_contribution", MARCH, "182600.00", "3652.00"),
        ("employee_contribution", MARCH, "1500000.00", "24000.00"),  # capped at 20 × 60,000
        ("civil_law_contract", MARCH, "55555.55", "555.56"),
    ],
)
def test_percentage_payers_owe_the_rate_of_their_capped_base(
    kind: str, month: Month, income: str, expected: str
) -> None:
    due = obligation(RULES, kind, month, income=Decimal(income))
    assert due.amount == Decimal(expected)
    assert any("minimum_wage" in used or "rate" in used for used in due.rules)


def test_fixed_amount_payers_owe_an_amount_from_the_rules_alone() -> None:
    assert obligation(RULES, "individual_entrepreneur", MARCH).amount == Decimal("4200.00")
    assert obligation(RULES, "self_payer", Month(2023, 1)).amount == Decimal("3500.00")
    urban = obligation(RULES, "single_payment", MARCH, urban=True)
    assert urban.amount == Decimal("1225.20")  # 3,063 МРП × 1 × 40%
    rural = obligation(RULES, "single_payment", Month(2022, 4), urban=False)
    assert rural.amount == Decimal("636.00")  # 3,180 МРП (from 1 April) × 0.5 × 40%


def test_values_no_source_gives_are_refused_until_set() -> None:
    with pytest.raises(RulesError, match="SAQTA_RULES_OVERRIDES"):
        obligation(RULES, "state_contribution", MARCH)
    with pytest.raises(InputError, match="declarations file"):
        obligation(RULES, "employer_deduction", MARCH)
    with pytest.raises(InputError, match="not one of"):
        obligation(RULES, "bonus", MARCH)


def test_a_due_day_on_a_day_off_moves_to_the_next_working_day() -> None:
    assert due_date(RULES, Month(2022, 6)) == dt.date(2022, 7, 25)  # a Monday
    assert due_date(RULES, Month(2022, 8)) == dt.date(2022, 9, 26)  # 25 Sep 2022 is a Sunday
    assert due_date(RULES, Month(2022, 11)) == dt.date(2022, 12, 26)  # 25 Dec 2022 is a Sunday


def test_the_penalty_rate_must_be_set_by_the_fund(tmp_path: Path) -> None:
    due = dt.date(2022, 4, 25)
    with pytest.raises(RulesError) as caught:
        late_penalty(RULES, Decimal("1000.00"), due, dt.date(2022, 5, 5))
    assert "SAQTA_RULES_OVERRIDES" in str(caught.value)
    assert "late_payment_penalty_rate" in str(caught.value)
    rules = with_penalty_rate(tmp_path, "0.000342")
    assert late_penalty(rules, Decimal("1000.00"), due, dt.date(2022, 5, 5)) == (  # type: ignore[arg-type]
        Decimal("3.42"),
        10,
    )
    assert late_penalty(rules, Decimal("1000.00"), due, due) == (Decimal("0.00"), 0)  # type: ignore[arg-type]


def test_a_payer_is_checked_against_its_declarations(engine: Engine, tmp_path: Path) -> None:
    lake = FactsLake(tmp_path / "lake")
    load_register(engine, lake, tmp_path)
    rows = [
        payment("O1", person=ALICE, amount="6000.00", payment_date="2022-04-20"),
        payment("O2", person=BOLAT, amount="5000.00", payment_date="2022-04-25"),
        payment(
            "O3",
            person=BOLAT,
            payment_type="employee_contribution",
            amount="4100.00",
            payment_date="2022-05-05",
        ),
        payment("O4", person=DANA, payer_id=DANA, payment_type="self_payer", amount="3000.00"),
    ]
    import_payments(engine, lake, write_csv(tmp_path / "p.csv", PAYMENT_HEADER, rows), today=TODAY)
    declarations = write_csv(
        tmp_path / "declarations.csv",
        ["payer_id", "person_iin", "period", "income"],
        [[EMPLOYER, ALICE, "2022-03", "200000.00"], [EMPLOYER, BOLAT, "2022-03", "200000.00"]],
    )
    with pytest.raises(RulesError, match="SAQTA_RULES_OVERRIDES"):
        check_payer(lake, EMPLOYER, [MARCH], declarations=declarations)
    rules = with_penalty_rate(tmp_path, "0.000342")
    findings = check_payer(lake, EMPLOYER, [MARCH], declarations=declarations, rules=rules)  # type: ignore[arg-type]
    got = {(f.person_iin, f.payment_type): (f.due, f.paid, f.findings, f.penalty) for f in findings}
    assert got == {
        (ALICE, "employer_deduction"): (Decimal("6000.00"), Decimal("6000.00"), [], None),
        (ALICE, "employee_contribution"): (Decimal("4000.00"), Decimal("0.00"), ["unpaid"], None),
        (BOLAT, "employer_deduction"): (
            Decimal("6000.00"),
            Decimal("5000.00"),
            ["underpaid"],
            None,
        ),
        (BOLAT, "employee_contribution"): (
            Decimal("4000.00"),
            Decimal("4100.00"),
            ["overpaid", "late"],
            Decimal("13.68"),  # 4,000 late by 10 days × 0.0342%
        ),
    }
    late = next(f for f in findings if "late" in f.findings)
    assert (late.late_amount, late.days_late, late.due_date) == (
        Decimal("4000.00"),
        10,
        dt.date(2022, 4, 25),
    )
    self_paid = check_payer(lake, DANA, [MARCH], rules=rules)  # type: ignore[arg-type]
    assert [(f.due, f.paid, f.findings) for f in self_paid] == [
        (Decimal("3000.00"), Decimal("3000.00"), [])
    ]
    without = check_payer(lake, EMPLOYER, [MARCH], declarations=declarations, penalties=False)
    assert {
        f.payment_type: (f.as_dict()["findings"], f.penalty)
        for f in without
        if f.person_iin == BOLAT
    } == {
        "employer_deduction": (["underpaid"], None),
        "employee_contribution": (["overpaid", "late"], None),
    }
    unknown = check_payer(lake, EMPLOYER, [MARCH], penalties=False)
    assert all("no_declaration" in f.findings for f in unknown if f.paid > 0)


def test_declarations_are_read_with_row_and_field_errors(tmp_path: Path) -> None:
    good = write_csv(
        tmp_path / "d.csv",
        ["payer_id", "person_iin", "period", "income", "kind"],
        [[EMPLOYER, ALICE, "2022-03", "1.50", ""], ["x", BOLAT, "2022-03", "2", "self_payer"]],
    )
    table = read_declarations(good, EMPLOYER)
    assert table.to_pylist() == [
        {
            "payer_id": EMPLOYER,
            "person_iin": ALICE,
            "month": dt.date(2022, 3, 1),
            "income": Decimal("1.50"),
            "kind": "employment",
        }
    ]
    bad = write_csv(
        tmp_path / "bad.csv",
        ["payer_id", "person_iin", "period", "income"],
        [[EMPLOYER, ALICE, "2022-03", "-5"], [EMPLOYER, ALICE, "2022-3x", "5"]],
    )
    with pytest.raises(InputError) as caught:
        read_declarations(bad)
    assert [p.where for p in caught.value.problems] == [f"{bad}: row 1", f"{bad}: row 2"]


def test_declarations_can_be_derived_from_a_synthetic_country(tmp_path: Path) -> None:
    from saqta.synth.generate import SynthOptions, generate

    out = generate(SynthOptions(scale=0.001, seed=5, out=tmp_path / "synth", workers=1)).out
    rows = declarations_from_synth(out, 2022, tmp_path / "declarations.parquet")
    table = read_declarations(tmp_path / "declarations.parquet")
    assert rows == table.num_rows > 0
    assert rows % 12 == 0
    assert set(table.column("kind").to_pylist()) <= {
        "employment",
        "individual_entrepreneur",
        "self_payer",
        "single_payment",
    }
    assert isinstance(table.column("income").type, pa.Decimal128Type)
