"""Eligibility answers over a country that went through the real pipeline: persons, category and
payments files imported by ``import_persons`` and ``import_payments``, the status engine
(``compute_status``, shipped rules) for September to November 2022, an incremental run after a
new payments file, then ``build_index``.

The persons (status under the shipped rules: 12-month look-back, one paid month needed, status
three months after the last paid month, a payment for a month counting from the next month):

- pensioner: an open pensioner period: state category, no end;
- employee: employer deductions for December 2021 to July 2022: entitled through October (July
  + 3), not in November;
- prepaid: a self-payer who pays September 2022 to August 2023 on 10 September 2022 (the
  prepayment rule is in force from 5 September 2022): prepayment, valid until August + 3;
- deceased: an individual entrepreneur paying October 2021 to September 2022 who dies on
  10 October 2022;
- student: a student period 1 September to 15 October 2022;
- reimported: a child period, then a second register file that records her death on
  20 September 2022 (the register row with the highest ``loaded_seq`` counts);
- corrected: nothing paid, then a payments file for July and August 2022 and an incremental run
  from that file: entitled from September to November, by the incremental run;
- uninsured: nothing paid;
- newborn: born 25 November 2022 with a child period from birth.

The hand-made rows of ``test_mshi_eligibility.SampleLake`` remain for what the engine never writes
(rows of persons not on the register, two rows of a person in one month, malformed IINs) and for
the interfaces' tests.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from saqta.core.iin import Sex, make_iin
from saqta.core.periods import Month
from saqta.mshi.contributions import import_payments
from saqta.mshi.eligibility import Outcome, build_index, default_index_root, open_index
from saqta.mshi.registry import import_persons
from saqta.mshi.status import compute_status, status_folder
from saqta.store.db import make_engine, upgrade
from saqta.store.lake import FactsLake

D = dt.date
MONTHS = [Month(2022, 9), Month(2022, 10), Month(2022, 11)]
TODAY = D(2023, 12, 31)
BIRTHS = {"newborn": D(2022, 11, 25)}
NAMES = (
    "pensioner",
    "employee",
    "prepaid",
    "deceased",
    "student",
    "reimported",
    "corrected",
    "uninsured",
    "newborn",
)


def _iins() -> dict[str, str]:
    found: dict[str, str] = {}
    serial = 1
    for name in NAMES:
        while name not in found:
            value = make_iin(BIRTHS.get(name, D(1985, 4, 2)), Sex.FEMALE, serial)
            serial += 1
            if value is not None:
                found[name] = value
    return found


IIN = _iins()


def _csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _person(name: str, died: dt.date | None = None) -> dict[str, str]:
    return {
        "iin": IIN[name],
        "sex": "F",
        "birth_date": BIRTHS.get(name, D(1985, 4, 2)).isoformat(),
        "region": "ALA",
        "urban": "true",
        "attached_provider_id": "",
        "death_date": died.isoformat() if died else "",
    }


def _payments(name: str, kind: str, first: Month, last: Month, paid=None) -> list[dict[str, str]]:
    rows = []
    month = first
    while month <= last:
        rows.append(
            {
                "reference": f"{name}-{kind}-{month}",
                "payer_id": IIN[name],
                "person_iin": IIN[name],
                "payment_type": kind,
                "period": str(month),
                "amount": "3000.00",
                "payment_date": (paid or month.next().first_day.replace(day=20)).isoformat(),
            }
        )
        month = month.next()
    return rows


class Country:
    def __init__(self, folder: Path) -> None:
        self.records = make_engine(f"sqlite:///{folder / 'saqta.db'}")
        upgrade(self.records)
        self.root = folder / "lake"
        lake = FactsLake(self.root)
        files = folder / "files"
        files.mkdir()
        persons = [_person(n, D(2022, 10, 10) if n == "deceased" else None) for n in NAMES]
        categories = [
            {
                "iin": IIN["pensioner"],
                "category": "pensioner",
                "valid_from": "2020-03-01",
                "valid_to": "",
            },
            {
                "iin": IIN["student"],
                "category": "student",
                "valid_from": "2022-09-01",
                "valid_to": "2022-10-15",
            },
            {
                "iin": IIN["reimported"],
                "category": "child",
                "valid_from": "1985-04-02",
                "valid_to": "2003-04-01",
            },
            {
                "iin": IIN["reimported"],
                "category": "disabled",
                "valid_from": "2010-01-01",
                "valid_to": "",
            },
            {
                "iin": IIN["newborn"],
                "category": "child",
                "valid_from": "2022-11-25",
                "valid_to": "2040-11-24",
            },
        ]
        imported = import_persons(
            self.records,
            lake,
            [_csv(files / "persons.csv", persons), _csv(files / "categories.csv", categories)],
            today=TODAY,
        )
        again = import_persons(
            self.records,
            lake,
            _csv(files / "persons-2.csv", [_person("reimported", D(2022, 9, 20))]),
            today=TODAY,
        )
        assert [r.quarantined for r in imported + again] == [0, 0, 0]
        payments = (
            _payments("employee", "employer_deduction", Month(2021, 12), Month(2022, 7))
            + _payments(
                "prepaid", "self_payer", Month(2022, 9), Month(2023, 8), paid=D(2022, 9, 10)
            )
            + _payments("deceased", "individual_entrepreneur", Month(2021, 10), Month(2022, 9))
        )
        result = import_payments(
            self.records, lake, _csv(files / "payments.csv", payments), today=TODAY
        )
        assert result.accepted == len(payments)
        self.full = compute_status(self.root, MONTHS, engine=self.records).run_id
        late = _payments("corrected", "employee_contribution", Month(2022, 7), Month(2022, 8))
        result = import_payments(
            self.records, lake, _csv(files / "payments-late.csv", late), today=TODAY
        )
        self.incremental = compute_status(
            self.root, MONTHS, engine=self.records, source_file=result.sha256
        ).run_id
        self.info = build_index(self.root, engine=self.records)
        self.index = open_index(default_index_root(self.root))

    def rows(self) -> dict[tuple[str, dt.date], dict[str, Any]]:
        """The engine's stored rows, by IIN and month."""
        found = {}
        for month in MONTHS:
            for path in status_folder(FactsLake(self.root), month).glob("*.parquet"):
                for row in pq.read_table(path).to_pylist():
                    found[(row["iin"], month.first_day)] = row
        return found


@pytest.fixture(scope="module")
def country(tmp_path_factory: pytest.TempPathFactory):
    built = Country(tmp_path_factory.mktemp("country"))
    yield built
    built.records.dispose()


def test_state_category_entitles_with_its_category(country):
    answer = country.index.check(IIN["pensioner"], "2022-10-14")
    assert answer.outcome is Outcome.INSURED
    assert (answer.basis, answer.category, answer.valid_until) == (
        "state_category",
        "pensioner",
        None,
    )
    assert answer.reason == "the state pays for the person as a preferential category (pensioner)"
    assert answer.run_id == country.full


def test_payments_entitle_until_the_survival_ends(country):
    answer = country.index.check(IIN["employee"], dt.date(2022, 10, 31))
    assert answer.insured
    assert answer.basis == "contributions"
    assert answer.payment_type == "employer_deduction"
    assert answer.paid_months == 8  # December 2021 to July 2022, in November 2021 - September
    assert answer.last_paid_period == dt.date(2022, 7, 1)
    assert answer.valid_until == dt.date(2022, 10, 31)
    assert answer.reason == (
        "contributions by employer_deduction: 8 paid month(s) in the look-back window, "
        "last paid period 2022-07"
    )
    lapsed = country.index.check(IIN["employee"], "2022-11-01")
    assert (lapsed.outcome, lapsed.basis) == (Outcome.NOT_INSURED, "none")


def test_prepayment_and_not_entitled(country):
    prepaid = country.index.check(IIN["prepaid"], "2022-10-31")
    assert prepaid.insured and prepaid.basis == "prepayment"
    assert prepaid.payment_type == "self_payer"
    assert prepaid.valid_until == dt.date(2023, 11, 30)  # August 2023 + 3 months
    uninsured = country.index.check(IIN["uninsured"], "2022-10-01")
    assert (uninsured.outcome, uninsured.basis) == (Outcome.NOT_INSURED, "none")


def test_death_ends_insurance_the_day_after(country):
    assert country.index.check(IIN["deceased"], "2022-10-10").insured
    after = country.index.check(IIN["deceased"], "2022-10-11")
    assert after.outcome is Outcome.NOT_INSURED
    assert after.basis == "deceased"
    assert after.death_date == dt.date(2022, 10, 10)
    assert country.index.check(IIN["deceased"], "2022-11-05").basis == "deceased"


def test_entitlement_ending_within_the_month(country):
    assert country.index.check(IIN["student"], "2022-10-15").insured
    after = country.index.check(IIN["student"], "2022-10-16")
    assert after.outcome is Outcome.NOT_INSURED
    assert after.reason.startswith("entitlement ended on 2022-10-15")
    assert country.index.check(IIN["student"], "2022-11-10").basis == "none"


def test_a_person_born_later_has_no_status_before(country):
    before = country.index.check(IIN["newborn"], "2022-10-10")
    assert (before.outcome, before.basis) == (Outcome.NOT_INSURED, "no_status")
    born = country.index.check(IIN["newborn"], "2022-11-28")
    assert (born.insured, born.basis, born.category) == (True, "state_category", "child")


def test_latest_register_row_and_latest_run_win(country):
    reimported = country.index.check(IIN["reimported"], "2022-10-05")
    assert reimported.basis == "deceased"
    assert reimported.death_date == dt.date(2022, 9, 20)
    assert country.index.check(IIN["reimported"], "2022-09-20").insured
    corrected = country.index.check(IIN["corrected"], "2022-10-02")
    assert corrected.insured
    assert (corrected.basis, corrected.payment_type) == ("contributions", "employee_contribution")
    assert corrected.run_id == country.incremental
    assert corrected.valid_until == dt.date(2022, 11, 30)  # August + 3
    september = country.index.check(IIN["corrected"], "2022-09-02")
    assert (september.insured, september.run_id) == (True, country.incremental)


def test_provenance_counts_every_row(country):
    info = country.info
    assert info.months == ["2022-09", "2022-10", "2022-11"]
    assert info.persons == len(NAMES)
    assert info.duplicate_person_rows == 1  # the reimported person's two register rows
    assert info.status_rows == 8 + 8 + 9  # the newborn has a row in November only
    assert info.status_rows_without_person == 0
    assert info.status_rows_superseded == 0
    assert info.status_rows_used == info.status_rows
    assert [run["run_id"] for run in info.runs] == [country.full, country.incremental]
    recorded = {run["run_id"]: run for run in info.runs}
    assert recorded[country.full]["status"] == "succeeded"
    assert info.rows_per_month == {"2022-09": 8, "2022-10": 8, "2022-11": 9}


def test_every_answer_of_every_day_matches_the_engine_rows(country):
    rows = country.rows()
    day = MONTHS[0].first_day
    while day <= MONTHS[-1].last_day:
        month = day.replace(day=1)
        for name in NAMES:
            answer = country.index.check(IIN[name], day)
            row = rows.get((IIN[name], month))
            death = D(2022, 10, 10) if name == "deceased" else None
            death = D(2022, 9, 20) if name == "reimported" else death
            if death is not None and day > death:
                assert answer.basis == "deceased", (name, day)
                assert not answer.insured
                continue
            if row is None:
                assert answer.basis == "no_status" and not answer.insured, (name, day)
                continue
            assert (answer.basis, answer.category, answer.payment_type) == (
                row["basis"],
                row["category"],
                row["payment_type"],
            ), (name, day)
            assert (answer.paid_months, answer.last_paid_period, answer.valid_until) == (
                row["paid_months"],
                row["last_paid_period"],
                row["valid_until"],
            ), (name, day)
            assert answer.run_id == row["run_id"]
            valid = row["valid_until"] is None or day <= row["valid_until"]
            assert answer.insured == (row["entitled"] and valid), (name, day)
        day += dt.timedelta(days=1)
