"""Insured status: hand-built persons with exact answers, under the shipped rules (12-month
look-back, 1 paid month needed, status 3 months after the last paid month, a payment for the month
itself counting from the next month, payments counting from their period) and under overrides."""

from __future__ import annotations

import datetime as dt
import itertools
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from saqta.core.errors import InputError, RulesError
from saqta.core.iin import Sex, make_iin
from saqta.core.periods import Month
from saqta.core.rules import load_rules, packaged_rules_dir
from saqta.core.version import code_version
from saqta.mshi.schema import PAYMENT_OUTFLOWS, PAYMENTS, PERSONS, STATE_CATEGORY_PERIODS
from saqta.mshi.status import ChangeCode
from saqta.mshi.status._engine import (
    compute_status,
    explain,
    read_status,
    row_change,
    status_folder,
    status_of,
)
from saqta.store.lake import FactsLake

D = dt.date
SHA_A = "a" * 64
SHA_B = "b" * 64
_serials = itertools.count(1)


def iin(birth: dt.date, sex: Sex = Sex.MALE) -> str:
    while True:
        value = make_iin(birth, sex, next(_serials))
        if value is not None:
            return value


def months(first: str, last: str) -> list[Month]:
    a = Month(int(first[:4]), int(first[5:]))
    b = Month(int(last[:4]), int(last[5:]))
    return [Month.from_index(i) for i in range(a.index, b.index + 1)]


class LakeBuilder:
    """Writes the contract's datasets directly, as the importer would."""

    def __init__(self, root: Path) -> None:
        self.lake = FactsLake(root)
        self._ref = itertools.count(1)
        self._refund = itertools.count(1)
        self.last_payments: list[dict[str, Any]] = []

    def person(self, iin: str, birth: dt.date, death: dt.date | None = None, seq: int = 1) -> str:
        row = {
            "iin": iin,
            "sex": "M",
            "birth_date": birth,
            "region": "ALA",
            "urban": True,
            "attached_provider_id": 1,
            "death_date": death,
            "loaded_seq": seq,
        }
        self.lake.append("persons", pa.Table.from_pylist([row], schema=PERSONS))
        return iin

    def category(
        self, iin: str, category: str, start: dt.date, end: dt.date | None, seq: int = 1
    ) -> None:
        row = {
            "iin": iin,
            "category": category,
            "valid_from": start,
            "valid_to": end,
            "loaded_seq": seq,
        }
        self.lake.append(
            "state_categories", pa.Table.from_pylist([row], schema=STATE_CATEGORY_PERIODS)
        )

    def payments(self, rows: list[dict[str, Any]], source: str = SHA_A) -> list[dict[str, Any]]:
        full = []
        for number, row in enumerate(rows, start=1):
            full.append(
                {
                    "reference": row.get("reference") or f"R{next(self._ref):08d}",
                    "payer_id": row.get("payer_id", "190340021248"),
                    "person_iin": row["iin"],
                    "payment_type": row.get("type", "employer_deduction"),
                    "period": row["period"],
                    "amount": Decimal(row.get("amount", "1800.00")),
                    "payment_date": row["paid"],
                    "source_file": source,
                    "source_row": number,
                }
            )
        table = pa.Table.from_pylist(full, schema=PAYMENTS)
        period = table.column("period").to_pylist()
        table = table.append_column("year", pa.array([p.year for p in period], pa.int16()))
        table = table.append_column("month", pa.array([p.month for p in period], pa.int16()))
        self.lake.append("payments", table, partition_by=("year", "month"))
        return full

    def refund(self, payment: dict[str, Any], paid_on: dt.date) -> None:
        row = {
            "refund_id": next(self._refund),
            "reference": payment["reference"],
            "person_iin": payment["person_iin"],
            "period": payment["period"],
            "amount": payment["amount"],
            "paid_on": paid_on,
        }
        self.lake.append("payment_outflows", pa.Table.from_pylist([row], schema=PAYMENT_OUTFLOWS))


def monthly(iin: str, first: str, last: str, kind: str = "employer_deduction", day: int = 20):
    """One payment a month for the months first..last, paid on ``day`` of the next month."""
    rows = []
    for m in months(first, last):
        paid = m.next().first_day.replace(day=day)
        rows.append({"iin": iin, "type": kind, "period": m.first_day, "paid": paid})
    return rows


@pytest.fixture
def builder(tmp_path: Path) -> LakeBuilder:
    return LakeBuilder(tmp_path / "lake")


@pytest.fixture(scope="module")
def rules():
    return load_rules()


def status_by_month(lake, person: str, first: str, last: str, rules) -> dict[str, dict]:
    table = status_of(lake, months(first, last), rules=rules, iins=[person])
    return {str(row["month"])[:7]: row for row in table.to_pylist()}


def change(row: dict, locale: str = "en") -> str | None:
    """What would change a row's answer, in words."""
    return row_change(row, locale)


def brief(row: dict) -> tuple:
    return (
        row["entitled"],
        row["basis"],
        row["category"] or row["payment_type"],
        row["valid_until"],
    )


# ------------------------------------------------------------------------------------------------
# The hand-built persons


def test_employee_whose_employer_paid_january_to_march_then_stopped(builder, rules):
    person = builder.person(iin(D(1990, 5, 1)), D(1990, 5, 1))
    builder.payments(
        monthly(person, "2022-01", "2022-03")
        + monthly(person, "2022-01", "2022-03", "employee_contribution")
    )
    got = status_by_month(builder.lake, person, "2022-01", "2022-08", rules)
    assert {m: brief(r) for m, r in got.items()} == {
        "2022-01": (False, "none", None, None),
        "2022-02": (True, "contributions", "employer_deduction", D(2022, 5, 31)),
        "2022-03": (True, "contributions", "employer_deduction", D(2022, 6, 30)),
        "2022-04": (True, "contributions", "employer_deduction", D(2022, 6, 30)),
        "2022-05": (True, "contributions", "employer_deduction", D(2022, 6, 30)),
        "2022-06": (True, "contributions", "employer_deduction", D(2022, 6, 30)),
        "2022-07": (False, "none", None, None),
        "2022-08": (False, "none", None, None),
    }
    assert [got[m]["paid_months"] for m in sorted(got)] == [0, 1, 2, 3, 3, 3, 3, 3]
    assert got["2022-06"]["last_paid_period"] == D(2022, 3, 1)
    assert change(got["2022-06"]) == (
        "entitled until 2022-06-30 unless a payment for 2022-04 or later is counted"
    )
    assert change(got["2022-07"]) == "a payment for 2022-06 would restore entitlement"


def test_state_paid_child_turning_18(builder, rules):
    birth = D(2004, 7, 14)
    person = builder.person(iin(birth), birth)
    builder.category(person, "child", birth, D(2022, 7, 13))
    got = status_by_month(builder.lake, person, "2022-06", "2022-08", rules)
    assert brief(got["2022-06"]) == (True, "state_category", "child", D(2022, 7, 13))
    assert brief(got["2022-07"]) == (True, "state_category", "child", D(2022, 7, 13))
    assert change(got["2022-07"]) == "child status ends on the 18th birthday 2022-07-14"
    assert brief(got["2022-08"]) == (False, "none", None, None)


def test_temporary_preferential_status_expires(builder, rules):
    person = builder.person(iin(D(1985, 1, 2)), D(1985, 1, 2))
    builder.category(person, "unemployed", D(2022, 3, 1), D(2022, 5, 31))
    got = status_by_month(builder.lake, person, "2022-02", "2022-06", rules)
    assert {m: brief(r) for m, r in got.items()} == {
        "2022-02": (False, "none", None, None),
        "2022-03": (True, "state_category", "unemployed", D(2022, 5, 31)),
        "2022-04": (True, "state_category", "unemployed", D(2022, 5, 31)),
        "2022-05": (True, "state_category", "unemployed", D(2022, 5, 31)),
        "2022-06": (False, "none", None, None),
    }
    assert change(got["2022-04"]) == "unemployed status ends after 2022-05-31"


def test_category_of_the_latest_load_wins(builder, rules):
    person = builder.person(iin(D(1985, 1, 3)), D(1985, 1, 3))
    builder.category(person, "unemployed", D(2022, 1, 1), D(2022, 12, 31), seq=1)
    builder.category(person, "unemployed", D(2022, 1, 1), D(2022, 2, 28), seq=2)
    got = status_by_month(builder.lake, person, "2022-02", "2022-03", rules)
    assert brief(got["2022-02"]) == (True, "state_category", "unemployed", D(2022, 2, 28))
    assert brief(got["2022-03"]) == (False, "none", None, None)


def prepay(builder: LakeBuilder, person: str, on: dt.date) -> None:
    rows = [
        {
            "iin": person,
            "type": "self_payer",
            "period": m.first_day,
            "paid": on,
            "payer_id": person,
            "amount": "3000.00",
        }
        for m in months("2022-09", "2023-08")
    ]
    builder.payments(rows)


def test_self_payer_prepaying_12_months_after_the_rule_is_entitled_at_once(builder, rules):
    person = builder.person(iin(D(1980, 3, 3)), D(1980, 3, 3))
    prepay(builder, person, D(2022, 9, 10))
    got = status_by_month(builder.lake, person, "2022-08", "2022-10", rules)
    assert brief(got["2022-08"]) == (False, "none", None, None)
    assert brief(got["2022-09"]) == (True, "prepayment", "self_payer", D(2023, 11, 30))
    assert brief(got["2022-10"]) == (True, "prepayment", "self_payer", D(2023, 11, 30))
    assert change(got["2022-09"]) == (
        "prepaid through 2023-08; entitled until 2023-11-30 unless a payment for a later month "
        "is counted"
    )
    later = status_by_month(builder.lake, person, "2023-08", "2023-12", rules)
    assert [brief(later[m])[:2] for m in sorted(later)] == [
        (True, "prepayment"),
        (True, "contributions"),
        (True, "contributions"),
        (True, "contributions"),
        (False, "none"),
    ]


def test_the_same_prepayment_before_5_september_2022_gives_no_immediate_status(builder, rules):
    person = builder.person(iin(D(1980, 3, 4)), D(1980, 3, 4))
    prepay(builder, person, D(2022, 9, 1))
    got = status_by_month(builder.lake, person, "2022-09", "2022-10", rules)
    assert brief(got["2022-09"]) == (False, "none", None, None)
    assert change(got["2022-09"]) == (
        "a payment for 2022-08 would restore entitlement; a self-payer's prepayment of 12 "
        "months ahead would give status at once, from the day of payment"
    )
    assert " ; " not in change(got["2022-09"])
    assert brief(got["2022-10"]) == (True, "contributions", "self_payer", D(2023, 1, 31))


def prepay_months(builder: LakeBuilder, person: str, on: dt.date, first: str, last: str) -> None:
    builder.payments(
        [
            {
                "iin": person,
                "type": "self_payer",
                "period": m.first_day,
                "paid": on,
                "payer_id": person,
                "amount": "3000.00",
            }
            for m in months(first, last)
        ]
    )


def test_a_prepayment_starting_next_month_gives_status_from_the_day_of_payment(builder, rules):
    """Paid on 10 September 2022 for October 2022 to September 2023: contributions paid 12
    months ahead, so status from 10 September (not from November, as ordinary payments for
    October would give)."""
    person = builder.person(iin(D(1980, 3, 5)), D(1980, 3, 5))
    prepay_months(builder, person, D(2022, 9, 10), "2022-10", "2023-09")
    got = status_by_month(builder.lake, person, "2022-08", "2022-11", rules)
    assert brief(got["2022-08"]) == (False, "none", None, None)
    assert brief(got["2022-09"]) == (True, "prepayment", "self_payer", D(2023, 12, 31))
    assert got["2022-09"]["valid_from_day"] == D(2022, 9, 10)
    assert brief(got["2022-10"]) == (True, "prepayment", "self_payer", D(2023, 12, 31))
    assert got["2022-10"]["valid_from_day"] == D(2022, 10, 1)
    assert change(got["2022-09"]) == (
        "prepaid through 2023-09; entitled until 2023-12-31 unless a payment for a later month "
        "is counted"
    )


def test_a_prepayment_two_months_ahead_is_not_a_prepayment(builder, rules):
    """12 months from the month after next are an advance of ordinary contributions."""
    person = builder.person(iin(D(1980, 3, 6)), D(1980, 3, 6))
    prepay_months(builder, person, D(2022, 9, 10), "2022-11", "2023-10")
    got = status_by_month(builder.lake, person, "2022-09", "2022-12", rules)
    assert [brief(got[m])[:2] for m in sorted(got)] == [
        (False, "none"),
        (False, "none"),
        (False, "none"),
        (True, "contributions"),
    ]


def test_status_starts_on_the_day_its_basis_starts(builder, rules):
    """Month rows say from which day of the month the person is entitled: not before birth,
    a category's start or a prepayment's day of payment; contributions hold from the 1st."""
    born = builder.person(iin(D(2022, 5, 20)), D(2022, 5, 20))
    builder.category(born, "child", D(2022, 5, 20), D(2040, 5, 19))
    late = builder.person(iin(D(1970, 1, 7)), D(1970, 1, 7))
    builder.category(late, "unemployed", D(2022, 3, 31), D(2022, 6, 15))
    payer = builder.person(iin(D(1980, 3, 7)), D(1980, 3, 7))
    builder.payments(monthly(payer, "2022-01", "2022-03"))
    prepaid = builder.person(iin(D(1980, 3, 8)), D(1980, 3, 8))
    prepay_months(builder, prepaid, D(2022, 9, 10), "2022-09", "2023-08")
    table = status_of(
        builder.lake, months("2022-03", "2022-09"), rules=rules, iins=[born, late, payer, prepaid]
    )
    rows = {(r["iin"], str(r["month"])[:7]): r for r in table.to_pylist()}
    assert rows[(born, "2022-05")]["valid_from_day"] == D(2022, 5, 20)
    assert rows[(born, "2022-06")]["valid_from_day"] == D(2022, 6, 1)
    assert rows[(late, "2022-03")]["valid_from_day"] == D(2022, 3, 31)
    assert rows[(late, "2022-04")]["valid_from_day"] == D(2022, 4, 1)
    assert rows[(late, "2022-06")]["valid_until"] == D(2022, 6, 15)
    assert rows[(payer, "2022-03")]["valid_from_day"] == D(2022, 3, 1)
    assert rows[(prepaid, "2022-09")]["valid_from_day"] == D(2022, 9, 10)
    assert rows[(payer, "2022-07")]["valid_from_day"] is None  # not entitled


def test_rows_hold_codes_and_parameters_not_words(builder, rules):
    person = builder.person(iin(D(1990, 5, 2)), D(1990, 5, 2))
    builder.payments(monthly(person, "2022-01", "2022-03"))
    got = status_by_month(builder.lake, person, "2022-06", "2022-07", rules)
    assert "change" not in got["2022-06"]
    assert not any(isinstance(v, str) and " " in v for v in got["2022-06"].values())
    assert (
        got["2022-06"]["change_code"],
        got["2022-06"]["change_date"],
        got["2022-06"]["change_month"],
    ) == (ChangeCode.CONTRIBUTIONS, D(2022, 6, 30), D(2022, 4, 1))
    assert (got["2022-07"]["change_code"], got["2022-07"]["change_month"]) == (
        ChangeCode.RESTORE_ONE,
        D(2022, 6, 1),
    )
    assert change(got["2022-06"], "ru") == (
        "право на помощь — до 2022-06-30, если не будет учтён платёж за 2022-04 или более "
        "поздний месяц"
    )
    assert change(got["2022-07"], "kk") == (
        "2022-06 үшін төлем құқықты қалпына келтірер еді"
    )


def test_late_payment_for_an_earlier_month_counts_from_its_period(builder, rules):
    person = builder.person(iin(D(1991, 2, 2)), D(1991, 2, 2))
    builder.payments(monthly(person, "2022-01", "2022-03"))
    builder.payments([{"iin": person, "period": D(2022, 4, 1), "paid": D(2022, 8, 20)}])
    got = status_by_month(builder.lake, person, "2022-06", "2022-09", rules)
    assert {m: brief(r) for m, r in got.items()} == {
        "2022-06": (True, "contributions", "employer_deduction", D(2022, 7, 31)),
        "2022-07": (True, "contributions", "employer_deduction", D(2022, 7, 31)),
        "2022-08": (False, "none", None, None),
        "2022-09": (False, "none", None, None),
    }


def override(tmp_path: Path, **values: Any) -> Any:
    folder = tmp_path / "overrides"
    folder.mkdir(exist_ok=True)
    lines = [
        "kind: parameters",
        "namespace: mshi.status",
        "description: test overrides",
        "parameters:",
    ]
    kinds = {bool: "boolean", int: "integer", str: "string"}
    for name, value in values.items():
        text = str(value).lower() if isinstance(value, bool) else value
        lines += [
            f"  {name}:",
            f"    description: {name}",
            f"    type: {kinds[type(value)]}",
            "    values:",
            f"      - {{from: 2017-07-01, value: {text}, source: the Fund's decision (test)}}",
        ]
    (folder / "status.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_rules([packaged_rules_dir(), folder])


def test_late_payment_counts_from_its_receipt_when_the_fund_says_so(builder, tmp_path):
    rules = override(tmp_path, payment_counts_from="receipt")
    person = builder.person(iin(D(1991, 2, 3)), D(1991, 2, 3))
    builder.payments(monthly(person, "2022-01", "2022-03", day=10))
    builder.payments([{"iin": person, "period": D(2022, 4, 1), "paid": D(2022, 8, 20)}])
    got = status_by_month(builder.lake, person, "2022-06", "2022-10", rules)
    # January to March were received in February to April: entitled through July (April + 3);
    # April's payment, received in August, counts as August's and gives status from September.
    assert [brief(got[m])[:2] for m in sorted(got)] == [
        (True, "contributions"),
        (True, "contributions"),
        (False, "none"),
        (True, "contributions"),
        (True, "contributions"),
    ]


def test_window_and_months_needed_are_parameters(builder, tmp_path):
    rules = override(
        tmp_path,
        contribution_min_paid_months=3,
        contribution_lookback_months=6,
        current_month_payment_counts=True,
    )
    person = builder.person(iin(D(1991, 2, 4)), D(1991, 2, 4))
    builder.payments(monthly(person, "2022-01", "2022-04"))
    got = status_by_month(builder.lake, person, "2022-01", "2022-09", rules)
    # three paid months needed in the 6 months ending with the month (January to April paid):
    # from March; in August only March and April are left in the window.
    assert [got[m]["entitled"] for m in sorted(got)] == [
        False,
        False,
        True,
        True,
        True,
        True,
        True,
        False,
        False,
    ]
    # on the payments up to March, January leaves the window after June
    assert got["2022-03"]["valid_until"] == D(2022, 6, 30)
    assert got["2022-04"]["valid_until"] == D(2022, 7, 31)
    assert change(got["2022-01"]) == (
        "payments for 2 more months from 2021-08 to 2022-01 would restore entitlement"
    )


def test_invalid_rule_values_are_refused_with_their_name(tmp_path):
    rules = override(tmp_path, contribution_survival_months=0)
    with pytest.raises(RulesError, match="contribution_survival_months"):
        status_of(tmp_path / "no-lake", [Month(2022, 1)], rules=rules)


def test_a_duplicate_counts_once_and_a_refunded_payment_not_at_all(builder, rules):
    duplicated = builder.person(iin(D(1970, 1, 5)), D(1970, 1, 5))
    refunded = builder.person(iin(D(1970, 1, 6)), D(1970, 1, 6))
    both = builder.person(iin(D(1970, 1, 7)), D(1970, 1, 7))
    first = builder.payments(
        [
            {
                "iin": duplicated,
                "period": D(2022, 2, 1),
                "paid": D(2022, 3, 10),
                "reference": "DUP-1",
            },
            {
                "iin": refunded,
                "period": D(2022, 2, 1),
                "paid": D(2022, 3, 10),
                "reference": "REF-1",
            },
            {"iin": both, "period": D(2022, 2, 1), "paid": D(2022, 3, 10), "reference": "BOTH-1"},
        ],
        source=SHA_A,
    )
    # the same payments again in another file
    builder.payments(
        [
            {
                "iin": duplicated,
                "period": D(2022, 2, 1),
                "paid": D(2022, 3, 10),
                "reference": "DUP-1",
            },
            {"iin": both, "period": D(2022, 2, 1), "paid": D(2022, 3, 10), "reference": "BOTH-1"},
        ],
        source=SHA_B,
    )
    builder.refund(first[1], D(2022, 4, 1))
    builder.refund(first[2], D(2022, 4, 1))
    table = status_of(builder.lake, [Month(2022, 3)], rules=rules)
    got = {row["iin"]: row for row in table.to_pylist()}
    assert brief(got[duplicated]) == (True, "contributions", "employer_deduction", D(2022, 5, 31))
    assert got[duplicated]["paid_months"] == 1
    assert brief(got[refunded]) == (False, "none", None, None)
    assert got[refunded]["paid_months"] == 0
    assert brief(got[both]) == (False, "none", None, None)


def test_a_partly_refunded_payment_still_counts(builder, rules):
    person = builder.person(iin(D(1970, 1, 8)), D(1970, 1, 8))
    paid = builder.payments(
        [{"iin": person, "period": D(2022, 2, 1), "paid": D(2022, 3, 10), "amount": "1000.00"}]
    )
    builder.refund({**paid[0], "amount": Decimal("400.00")}, D(2022, 4, 1))
    got = status_by_month(builder.lake, person, "2022-03", "2022-03", rules)
    assert got["2022-03"]["entitled"] is True


def test_deceased_person_is_entitled_until_death_then_not(builder, rules):
    birth = D(1950, 4, 4)
    person = builder.person(iin(birth), birth, seq=1)
    builder.person(person, birth, death=D(2022, 5, 10), seq=2)  # the register learns of the death
    builder.category(person, "pensioner", D(2015, 4, 4), None)
    builder.payments(monthly(person, "2022-01", "2022-09", "employee_contribution"))
    got = status_by_month(builder.lake, person, "2022-04", "2022-07", rules)
    assert brief(got["2022-04"]) == (True, "state_category", "pensioner", D(2022, 5, 10))
    assert brief(got["2022-05"]) == (True, "state_category", "pensioner", D(2022, 5, 10))
    assert change(got["2022-05"]) == "entitled until death on 2022-05-10"
    assert brief(got["2022-06"]) == (False, "deceased", None, None)
    assert change(got["2022-06"]) == "died on 2022-05-10"
    assert brief(got["2022-07"]) == (False, "deceased", None, None)


def test_pensioner_without_end_date_and_persons_not_yet_born(builder, rules):
    pensioner = builder.person(iin(D(1950, 4, 5)), D(1950, 4, 5))
    builder.category(pensioner, "pensioner", D(2015, 4, 5), None)
    baby_birth = D(2022, 6, 15)
    baby = builder.person(iin(baby_birth), baby_birth)
    builder.category(baby, "child", baby_birth, D(2040, 6, 14))
    table = status_of(builder.lake, months("2022-05", "2022-06"), rules=rules)
    rows = {(r["iin"], str(r["month"])[:7]): r for r in table.to_pylist()}
    assert (baby, "2022-05") not in rows
    assert brief(rows[(baby, "2022-06")]) == (True, "state_category", "child", D(2040, 6, 14))
    assert brief(rows[(pensioner, "2022-05")]) == (True, "state_category", "pensioner", None)
    assert change(rows[(pensioner, "2022-05")]) == "pensioner status has no end date"
    assert len(rows) == 3


# ------------------------------------------------------------------------------------------------
# Batch runs, incremental runs, the stored results, explanations


def hand_built_country(builder: LakeBuilder) -> dict[str, str]:
    people = {}
    people["employee"] = builder.person(iin(D(1990, 5, 2)), D(1990, 5, 2))
    builder.payments(monthly(people["employee"], "2022-01", "2022-03"))
    birth = D(2004, 7, 14)
    people["child"] = builder.person(iin(birth), birth)
    builder.category(people["child"], "child", birth, D(2022, 7, 13))
    people["self"] = builder.person(iin(D(1980, 3, 5)), D(1980, 3, 5))
    prepay(builder, people["self"], D(2022, 9, 10))
    people["dead"] = builder.person(iin(D(1950, 4, 6)), D(1950, 4, 6), death=D(2022, 5, 10))
    builder.category(people["dead"], "pensioner", D(2015, 4, 6), None)
    return people


def test_batch_run_writes_each_month_and_records_the_run(builder, rules, engine):
    from sqlalchemy import select

    from saqta.store.db import session_scope
    from saqta.store.models import Run

    people = hand_built_country(builder)
    run = compute_status(builder.lake, months("2022-01", "2022-12"), engine=engine, rules=rules)
    assert run.rows == {str(m): 4 for m in months("2022-01", "2022-12")}
    assert run.entitled["2022-06"] == 2 and run.by_basis["2022-06"]["deceased"] == 1
    stored = read_status(builder.lake, Month(2022, 3))
    assert stored.num_rows == 4 and set(stored.column("run_id").to_pylist()) == {run.run_id}
    fresh = status_of(builder.lake, [Month(2022, 3)], rules=rules)
    assert stored.drop_columns(["run_id"]).equals(fresh.drop_columns(["run_id"]))
    assert [p.name for p in status_folder(builder.lake, Month(2022, 3)).iterdir()] == [
        f"part-{run.run_id:08d}-" + p.name.split("-")[2]
        for p in status_folder(builder.lake, Month(2022, 3)).iterdir()
    ]
    with session_scope(engine) as session:
        record = session.scalars(select(Run).where(Run.id == run.run_id)).one()
        assert record.kind == "status" and record.status.value == "succeeded"
        assert set(record.inputs) == {"persons", "state_categories", "payments", "payment_outflows"}
        assert record.rules_version == rules.version
        assert record.code_version == code_version()
        root = Path(__file__).resolve().parents[1]
        git = shutil.which("git")
        if git and (root / ".git").exists() and (root / "src" / "saqta").is_dir():
            head = subprocess.run(
                [git, "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True
            ).stdout.strip()
            assert record.code_version.removesuffix("-dirty") == head
        assert record.summary["entitled"]["2022-06"] == 2
    # a second run replaces each month whole: one file per month, the new run's id everywhere
    again = compute_status(builder.lake, [Month(2022, 3)], engine=engine, rules=rules)
    files = list(status_folder(builder.lake, Month(2022, 3)).glob("*.parquet"))
    assert len(files) == 1
    stored_again = read_status(builder.lake, Month(2022, 3))
    assert set(stored_again.column("run_id").to_pylist()) == {again.run_id}
    assert stored_again.drop_columns(["run_id"]).equals(stored.drop_columns(["run_id"]))
    assert people


def test_incremental_run_from_a_newly_imported_file(builder, rules, engine):
    people = hand_built_country(builder)
    other = builder.person(iin(D(1993, 3, 3)), D(1993, 3, 3))
    compute_status(builder.lake, months("2022-06", "2022-08"), engine=engine, rules=rules)
    before = read_status(builder.lake, Month(2022, 7))
    new_sha = "c" * 64
    builder.payments(
        monthly(people["employee"], "2022-04", "2022-06") + monthly(other, "2022-05", "2022-06"),
        source=new_sha,
    )
    run = compute_status(
        builder.lake, months("2022-06", "2022-08"), engine=engine, rules=rules, source_file=new_sha
    )
    assert run.persons == 2
    after = {r["iin"]: r for r in read_status(builder.lake, Month(2022, 7)).to_pylist()}
    assert brief(after[people["employee"]]) == (
        True,
        "contributions",
        "employer_deduction",
        D(2022, 9, 30),
    )
    assert after[people["employee"]]["run_id"] == run.run_id
    assert brief(after[other]) == (True, "contributions", "employer_deduction", D(2022, 9, 30))
    untouched = {r["iin"]: r for r in before.to_pylist()}[people["child"]]
    assert after[people["child"]] == untouched
    full = status_of(builder.lake, [Month(2022, 7)], rules=rules)
    assert (
        read_status(builder.lake, Month(2022, 7))
        .drop_columns(["run_id"])
        .equals(full.drop_columns(["run_id"]))
    )


def test_incremental_run_needs_a_known_file_and_a_computed_month(builder, rules, engine):
    hand_built_country(builder)
    with pytest.raises(InputError, match="no payments in the lake come from this file"):
        compute_status(
            builder.lake, [Month(2022, 7)], engine=engine, rules=rules, source_file="d" * 64
        )
    with pytest.raises(InputError, match="run a full compute first"):
        compute_status(
            builder.lake, [Month(2022, 7)], engine=engine, rules=rules, source_file=SHA_A
        )


def test_explain_gives_the_reasons_and_every_payment(builder, rules):
    people = hand_built_country(builder)
    paid = builder.payments(
        [
            {
                "iin": people["employee"],
                "period": D(2022, 3, 1),
                "paid": D(2022, 4, 20),
                "reference": "X-1",
            }
        ]
    )
    builder.payments(
        [
            {
                "iin": people["employee"],
                "period": D(2022, 3, 1),
                "paid": D(2022, 4, 20),
                "reference": "X-1",
            }
        ]
    )
    builder.refund(paid[0], D(2022, 5, 1))
    result = explain(builder.lake, people["employee"], Month(2022, 4), rules=rules)
    assert result.status is not None and result.status["basis"] == "contributions"
    assert result.reasons[0] == (
        "paid by employer deductions: 3 paid months in 2021-05 – 2022-03 (at least 1 needed), "
        "latest paid month 2022-03 (status lasts 3 months after)"
    )
    assert result.reasons[1] == "valid until 2022-06-30"
    russian = explain(builder.lake, people["employee"], Month(2022, 4), rules=rules, locale="ru")
    assert russian.reasons[0] == (
        "вид платежа — отчисления работодателя: 3 оплаченных месяца в периоде 2021-05 – "
        "2022-03 (нужно не менее 1), последний оплаченный месяц 2022-03 (статус сохраняется "
        "3 мес. после него)"
    )
    assert [line.treatment for line in russian.payments][-2:] == [
        "возвращён (1800.00): не учитывается",
        "дубликат предыдущей строки: повторно не учитывается",
    ]
    treatments = [line.treatment for line in result.payments]
    assert treatments == [
        "counted for 2022-01",
        "counted for 2022-02",
        "counted for 2022-03",
        "refunded (1800.00): not counted",
        "duplicate of an earlier row: not counted again",
    ]
    assert result.stored is None and result.stale is False
    nobody = explain(builder.lake, iin(D(1999, 9, 9)), Month(2022, 4), rules=rules)
    assert nobody.status is None and "not in the population" in nobody.reasons[0]


def test_explain_refuses_an_invalid_iin(builder, rules):
    hand_built_country(builder)
    with pytest.raises(InputError):
        explain(builder.lake, "123", Month(2022, 4), rules=rules)


# ------------------------------------------------------------------------------------------------
# PostgreSQL gives the same answers


@pytest.mark.postgres
def test_postgresql_gives_the_same_status_as_duckdb(builder, rules, postgres_server, tmp_path):
    import uuid

    import psycopg

    from saqta.mshi.status._postgres import load_month_inputs, postgres_status

    people = hand_built_country(builder)
    other = builder.person(iin(D(1993, 3, 4)), D(1993, 3, 4))
    paid = builder.payments(monthly(other, "2021-11", "2022-05"))
    again = [
        {
            "iin": p["person_iin"],
            "period": p["period"],
            "paid": p["payment_date"],
            "reference": p["reference"],
            "amount": str(p["amount"]),
        }
        for p in paid[:2]
    ]
    builder.payments(again, source=SHA_B)  # duplicates
    builder.refund(paid[3], D(2022, 4, 1))
    builder.person(iin(D(2022, 8, 8)), D(2022, 8, 8))
    name = f"t_{uuid.uuid4().hex}"
    with psycopg.connect(postgres_server.conninfo(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        conninfo = postgres_server.conninfo(name)
        for month in months("2022-01", "2022-12"):
            load_month_inputs(builder.lake, conninfo, month, rules)
            from_pg = postgres_status(conninfo, month, rules)
            from_duck = status_of(builder.lake, [month], rules=rules)
            assert from_pg.num_rows == from_duck.num_rows > 0
            assert from_pg.to_pylist() == from_duck.to_pylist(), month
        receipt = override(tmp_path, payment_counts_from="receipt", contribution_min_paid_months=2)
        load_month_inputs(builder.lake, conninfo, Month(2022, 6), receipt)
        assert (
            postgres_status(conninfo, Month(2022, 6), receipt).to_pylist()
            == status_of(builder.lake, [Month(2022, 6)], rules=receipt).to_pylist()
        )
    finally:
        with psycopg.connect(postgres_server.conninfo(), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    assert people


# ------------------------------------------------------------------------------------------------
# The rules overrides folder and the command line


def test_the_fund_sets_the_windows_in_the_overrides_folder(builder, tmp_path, monkeypatch):
    from saqta.core.settings import get_settings

    override(tmp_path, contribution_survival_months=1)
    monkeypatch.setenv("SAQTA_RULES_OVERRIDES", str(tmp_path / "overrides"))
    get_settings.cache_clear()
    try:
        person = builder.person(iin(D(1990, 5, 3)), D(1990, 5, 3))
        builder.payments(monthly(person, "2022-01", "2022-03"))
        table = status_of(builder.lake, months("2022-04", "2022-05"))
    finally:
        get_settings.cache_clear()
    assert [r["entitled"] for r in table.to_pylist()] == [True, False]


def test_command_line_compute_and_explain(builder, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from access_helpers import sign_in
    from saqta.access import Role
    from saqta.cli.app import app
    from saqta.core.settings import get_settings

    people = hand_built_country(builder)
    home = tmp_path / "home"
    monkeypatch.setenv("SAQTA_HOME", str(home))
    monkeypatch.setenv("SAQTA_LAKE_DIR", str(builder.lake.root))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("SAQTA_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        # explaining a person's status needs a signed-in identity allowed person.explain
        home.mkdir(parents=True, exist_ok=True)
        token = sign_in(home, get_settings().resolved_database_url, "olga", Role.OPERATOR)
        monkeypatch.setenv("SAQTA_TOKEN", token)
        runner = CliRunner()
        done = runner.invoke(app, ["insured", "compute", "--month", "2022-07"])
        assert done.exit_code == 0, done.output
        assert "Insured status, run 1" in done.output and "run 1 done" in done.output
        shown = runner.invoke(app, ["insured", "explain", people["child"], "--month", "2022-07"])
        assert shown.exit_code == 0, shown.output
        assert "entitled" in shown.output
        assert "child status ends on the 18th birthday 2022-07-14" in shown.output
        assert "stored by run 1" in shown.output
        kazakh = runner.invoke(
            app, ["insured", "explain", people["child"], "--month", "2022-07", "--lang", "kk"]
        )
        assert kazakh.exit_code == 0, kazakh.output
        assert "бала мәртебесі 18 жасқа толған күні, 2022-07-14, аяқталады" in kazakh.output
        assert "«бала» жеңілдікті санаты" in kazakh.output
        wrong = runner.invoke(
            app, ["insured", "explain", people["child"], "--month", "2022-07", "--lang", "xx"]
        )
        assert wrong.exit_code == 2
        both = runner.invoke(app, ["insured", "compute", "--month", "2022-07", "--year", "2022"])
        assert both.exit_code == 1 and "give either --month" in both.output
        bad = runner.invoke(
            app, ["insured", "compute", "--month", "2022-07", "--incremental-from", "xyz"]
        )
        assert bad.exit_code == 1 and "is not a SHA-256 digest" in bad.output
    finally:
        get_settings.cache_clear()
    assert read_status(builder.lake, Month(2022, 7)).num_rows == 4
