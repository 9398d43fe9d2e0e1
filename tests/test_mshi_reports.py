"""The annual MSHI reports on a hand-built country whose every figure is worked out by hand.

The country goes through the real pipeline: persons, category and payments files imported by
``import_persons`` and ``import_payments``, refunds through their lifecycle, then the status
engine (``compute_status``) for November and December 2022 under the shipped rules, and an
incremental run of December for C, D and I (so December's folder holds the rows of two runs).
Two kinds of row that the imports refuse are then written to the lake directly, as a lake
loaded before those checks may hold them: X's payment (a person not on the register) and a
refund of a payment that does not exist.

The country (year 2022, status month December):

=====  ======  ===========================================================================
person region  facts
=====  ======  ===========================================================================
A      ALA     child (state category from birth), state contributions Jan-Dec
B      ALA     pensioner (state category, open) who works: deductions and contributions Jan-Dec
C      ALA     employee Jan-Sep; a December 2021 deduction paid in January 2022; 100 ₸ of the
               March deduction refunded
D      AST     employee with two employers in March, one in April
E      AST     individual entrepreneur Jan-Dec (December paid in January 2023)
F      KAR     civil-law contract in June
G      KAR     single aggregate payment Jan-Mar
H      KAR     self-payer who prepays October 2022 - September 2023 on 5 October 2022
I      KAR     nothing paid (uninsured)
J      ALA     employee Jan-May, died 10 June 2022
K      AST     employee whose only (February) deduction was refunded in full
L      SHY     unemployed in 2021 only
M      SHY     an employee contribution in January, no employer deduction
N      ALA     born 20 December 2022 (child)
Q      SHY     a state contribution in January without a category on file
R      ALA     pensioner (open category) who died in 2021
X      -       not on the register: one employer deduction in January
=====  ======  ===========================================================================

December's status under the shipped rules (12-month look-back, one paid month needed, status
three months after the last paid month, a payment for a month counting from the next month,
state contributions not counted): A, B, N by a state category; C (paid through September) and
E by contributions; H by the prepayment of 5 October 2022 (the rule is in force from 5 September
2022); D, F, G, I, K, L, M, Q not entitled (Q's state contribution does not count and Q has no
category); J and R deceased.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from saqta.core.errors import InputError
from saqta.core.iin import Sex, make_iin
from saqta.core.periods import Month
from saqta.core.version import code_version
from saqta.mshi.contributions import (
    approve_refund,
    check_refund,
    import_payments,
    pay_refund,
    request_refund,
)
from saqta.mshi.registry import import_persons
from saqta.mshi.reports._render import (
    collections_document,
    coverage_chart,
    coverage_document,
    frequency_document,
    to_json,
    write_csv,
    write_xlsx,
)
from saqta.mshi.reports._tables import (
    attach_run_records,
    collections_report,
    coverage_report,
    frequency_report,
    status_months,
)
from saqta.mshi.schema import PAYMENT_OUTFLOWS, PAYMENTS, STATUS
from saqta.mshi.status import compute_status
from saqta.store.db import make_engine, upgrade
from saqta.store.lake import FactsLake

D = dt.date
BORN = {"N": D(2022, 12, 20), "R": D(1940, 1, 1)}
STATE = Decimal("3158.86")
STATE_PAYER = "190340021248"  # a BIN
TODAY = D(2023, 12, 31)


def _iins() -> dict[str, str]:
    found = {}
    serial = 1
    for name in "ABCDEFGHIJKLMNQRX":
        while name not in found:
            value = make_iin(BORN.get(name, D(1980, 1, 1)), Sex.FEMALE, serial)
            serial += 1
            if value is not None:
                found[name] = value
    return found


IIN = _iins()


def _next_month_20(period: dt.date) -> dt.date:
    return D(period.year + period.month // 12, period.month % 12 + 1, 20)


def months(first: int, last: int, year: int = 2022) -> list[dt.date]:
    return [D(year, m, 1) for m in range(first, last + 1)]


def _csv(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


class Builder:
    """The country's files, as the Fund's registers and the payment systems give them."""

    def __init__(self) -> None:
        self.persons: list[dict] = []
        self.categories: list[dict] = []
        self.payments: list[dict] = []
        self.refunds: list[tuple[str, str, dt.date]] = []

    def person(self, name: str, region: str, died=None) -> None:
        self.persons.append(
            {
                "iin": IIN[name],
                "sex": "F",
                "birth_date": BORN.get(name, D(1980, 1, 1)).isoformat(),
                "region": region,
                "urban": "true",
                "attached_provider_id": "1",
                "death_date": died.isoformat() if died else "",
            }
        )

    def category(self, name: str, category: str, start: dt.date, end=None) -> None:
        self.categories.append(
            {
                "iin": IIN[name],
                "category": category,
                "valid_from": start.isoformat(),
                "valid_to": end.isoformat() if end else "",
            }
        )

    def pay(self, name, kind, period, amount, paid_on=None) -> str:
        reference = f"{name}-{kind}-{period:%Y%m}-{len(self.payments)}"
        self.payments.append(
            {
                "reference": reference,
                "payer_id": STATE_PAYER if kind == "state_contribution" else IIN[name],
                "person_iin": IIN[name],
                "payment_type": kind,
                "period": f"{period:%Y-%m}",
                "amount": str(amount),
                "payment_date": (paid_on or _next_month_20(period)).isoformat(),
            }
        )
        return reference

    def refund(self, reference: str, amount: str, paid_on: dt.date) -> None:
        self.refunds.append((reference, amount, paid_on))


def country() -> Builder:
    b = Builder()
    for name, region in [
        ("A", "ALA"),
        ("B", "ALA"),
        ("C", "ALA"),
        ("D", "AST"),
        ("E", "AST"),
        ("F", "KAR"),
        ("G", "KAR"),
        ("H", "KAR"),
        ("I", "KAR"),
        ("K", "AST"),
        ("L", "SHY"),
        ("M", "SHY"),
        ("Q", "SHY"),
    ]:
        b.person(name, region)
    b.person("J", "ALA", died=D(2022, 6, 10))
    b.person("N", "ALA")
    b.person("R", "ALA", died=D(2021, 11, 2))

    b.category("A", "child", D(2010, 5, 1), D(2028, 4, 30))
    b.category("B", "pensioner", D(2020, 3, 1))
    b.category("L", "unemployed", D(2021, 3, 1), D(2021, 12, 31))
    b.category("N", "child", D(2022, 12, 20), D(2040, 12, 19))
    b.category("R", "pensioner", D(2005, 1, 1))
    for period in months(1, 12):
        b.pay("A", "state_contribution", period, STATE, paid_on=period.replace(day=25))
        b.pay("B", "state_contribution", period, STATE, paid_on=period.replace(day=25))
        b.pay("B", "employer_deduction", period, "4500.00")
        b.pay("B", "employee_contribution", period, "3000.00")
        b.pay("E", "individual_entrepreneur", period, "4200.00")
    b.pay("N", "state_contribution", D(2022, 12, 1), STATE, paid_on=D(2022, 12, 25))
    b.pay("Q", "state_contribution", D(2022, 1, 1), STATE, paid_on=D(2022, 1, 25))
    b.pay("C", "employer_deduction", D(2021, 12, 1), "6000.00", paid_on=D(2022, 1, 20))
    for period in months(1, 9):
        reference = b.pay("C", "employer_deduction", period, "6000.00")
        if period.month == 3:
            b.refund(reference, "100.00", D(2022, 5, 5))
        b.pay("C", "employee_contribution", period, "4000.00")
    b.pay("D", "employer_deduction", D(2022, 3, 1), "3000.00")
    b.pay("D", "employer_deduction", D(2022, 3, 1), "1500.00")
    b.pay("D", "employer_deduction", D(2022, 4, 1), "3000.00")
    b.pay("F", "civil_law_contract", D(2022, 6, 1), "900.00")
    for period in months(1, 3):
        b.pay("G", "single_payment", period, "1225.20")
    for period in months(10, 12) + months(1, 9, 2023):
        b.pay("H", "self_payer", period, "3000.00", paid_on=D(2022, 10, 5))
    for period in months(1, 5):
        b.pay("J", "employer_deduction", period, "2400.00")
    reference = b.pay("K", "employer_deduction", D(2022, 2, 1), "1800.00")
    b.refund(reference, "1800.00", D(2022, 4, 1))
    b.pay("M", "employee_contribution", D(2022, 1, 1), "2000.00")
    b.pay("X", "employer_deduction", D(2022, 1, 1), "3000.00")
    return b


def _write_refused_rows(lake: FactsLake, x_payment: dict) -> None:
    """X's payment and a refund of a payment that does not exist, which the imports refuse."""
    period = D(2022, 1, 1)
    row = {
        **x_payment,
        "period": period,
        "amount": Decimal(x_payment["amount"]),
        "payment_date": dt.date.fromisoformat(x_payment["payment_date"]),
        "source_file": "f" * 64,
        "source_row": 1,
    }
    payments = pa.Table.from_pylist([row], PAYMENTS)
    payments = payments.append_column("year", pa.array([2022], pa.int16())).append_column(
        "month", pa.array([1], pa.int16())
    )
    lake.append("payments", payments, partition_by=("year", "month"))
    outflow = {
        "refund_id": 999,
        "reference": "NO-SUCH-PAYMENT",
        "person_iin": IIN["I"],
        "period": D(2022, 7, 1),
        "amount": Decimal("50.00"),
        "paid_on": D(2022, 8, 1),
    }
    lake.append("payment_outflows", pa.Table.from_pylist([outflow], PAYMENT_OUTFLOWS))


class Country:
    """The lake built by the real pipeline, and the ids of its two status runs."""

    def __init__(self, root: Path, records) -> None:
        self.root = root
        self.records = records
        lake = FactsLake(root)
        b = country()
        files = root.parent / f"{root.name}-files"
        files.mkdir()
        imported = import_persons(
            records,
            lake,
            [_csv(files / "persons.csv", b.persons), _csv(files / "categories.csv", b.categories)],
            today=TODAY,
        )
        assert [r.quarantined for r in imported] == [0, 0]
        result = import_payments(
            records, lake, _csv(files / "payments.csv", b.payments), today=TODAY
        )
        assert result.accepted == len(b.payments) - 1
        assert result.by_reason == {"unknown_person": 1}  # X
        for reference, amount, paid_on in b.refunds:
            refund = request_refund(records, lake, reference, amount, "paid wrongly", "ana")
            check_refund(records, refund.id, "bek")
            approve_refund(records, refund.id, "dana")
            pay_refund(records, lake, refund.id, "erlan", paid_on=paid_on)
        _write_refused_rows(lake, next(p for p in b.payments if p["person_iin"] == IIN["X"]))
        self.full = compute_status(lake, [Month(2022, 11), Month(2022, 12)], engine=records).run_id
        self.incremental = compute_status(
            lake, [Month(2022, 12)], engine=records, iins=[IIN[n] for n in "CDI"]
        ).run_id


def build(root: Path, records) -> Country:
    return Country(root, records)


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory):
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('records') / 'saqta.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, records) -> Country:
    return build(tmp_path_factory.mktemp("country") / "lake", records)


@pytest.fixture(scope="module")
def lake_root(built: Country) -> Path:
    return built.root


def status_row(name, month, entitled, basis, run_id, category=None) -> dict:
    return {
        "iin": IIN[name],
        "month": month,
        "entitled": entitled,
        "basis": basis,
        "category": category,
        "payment_type": None,
        "paid_months": 0,
        "last_paid_period": None,
        "valid_until": None,
        "valid_from_day": None,
        "change_code": None,
        "change_date": None,
        "change_month": None,
        "change_count": None,
        "offer_months": None,
        "run_id": run_id,
    }


# ------------------------------------------------------------------------------------------------
# Coverage


def test_coverage_figures(built: Country) -> None:
    report = coverage_report(built.root, 2022)
    assert report.status_month == D(2022, 12, 1)
    persons = {row.key: row.persons for row in report.rows}
    assert persons == {
        "population": 14,  # 16 on the register, J died in June, R in 2021
        "entitled": 6,  # A B N (state) C E (contributions) H (prepayment)
        "paid_for": 13,
        "state_paid_exempt": 4,  # A B N Q; L's category ended in 2021
        "employees": 5,  # C D J M X; K's deduction was refunded; B is state-paid
        "individual_entrepreneurs_private_practice": 1,
        "civil_law_contract_workers": 1,
        "single_payment_payers": 1,
        "self_payers": 1,
        "uninsured": 8,
    }
    assert persons["population"] == persons["entitled"] + persons["uninsured"]
    categories = sum(persons[key] for key in list(persons)[3:9])
    assert categories == persons["paid_for"]
    assert report.row("entitled").share == Decimal("42.86")  # 6 / 14
    assert report.row("entitled").share_as_published == Decimal("42.9")
    assert report.row("paid_for").share == Decimal("92.86")  # 13 / 14
    assert report.row("uninsured").share == Decimal("57.14")
    assert report.row("population").share == Decimal("100.00")
    assert report.entitled_by_basis == {"contributions": 2, "prepayment": 1, "state_category": 3}
    assert report.off_register == 1
    # December's folder: the incremental run's rows of C, D, I, the full run's of the others
    runs = [(run.run_id, run.rows) for run in report.provenance.status_runs]
    assert runs == [(built.incremental, 3), (built.full, 13)]
    assert any("not on the register" in note for note in report.provenance.notes)


def test_coverage_by_region(lake_root: Path) -> None:
    report = coverage_report(lake_root, 2022)
    assert len(report.regions) == 20  # every region, also those without anybody
    regions = {
        r.code: (r.population, r.entitled, r.uninsured, r.paid_for)
        for r in report.regions
        if r.population or r.paid_for
    }
    assert regions == {
        "ALA": (4, 4, 0, 5),  # A B C N alive and entitled; J paid for, dead
        "AST": (3, 1, 2, 2),
        "KAR": (4, 1, 3, 3),
        "SHY": (3, 0, 3, 2),  # Q's state contribution without a category does not count
    }
    ala = next(r for r in report.regions if r.code == "ALA")
    assert ala.categories["state_paid_exempt"] == 3
    assert ala.categories["employees"] == 2
    assert ala.entitled_share == Decimal("100.00")
    # in the order of the reference list of regions
    assert [r.code for r in report.regions if r.population] == ["KAR", "AST", "ALA", "SHY"]


def test_coverage_shows_published_2022(lake_root: Path) -> None:
    report = coverage_report(lake_root, 2022)
    entitled = report.row("entitled")
    assert entitled.published_persons == 16_266_563
    assert entitled.published_share == Decimal("82.4")
    assert entitled.difference_pp == Decimal("42.9") - Decimal("82.4")
    table = coverage_document(report).sections[0]
    assert "published_persons" in [c.key for c in table.columns]


def test_coverage_needs_status(tmp_path: Path, lake_root: Path) -> None:
    with pytest.raises(InputError, match="no status results for 2021"):
        coverage_report(lake_root, 2021)
    with pytest.raises(InputError, match="holds no persons"):
        FactsLake(tmp_path / "empty" / "derived").append(
            "status",
            pa.Table.from_pylist([status_row("A", D(2022, 12, 1), True, "none", 1)], STATUS),
            partition_by=("month",),
        )
        coverage_report(tmp_path / "empty", 2022)


def test_status_months(lake_root: Path) -> None:
    assert status_months(lake_root) == [D(2022, 11, 1), D(2022, 12, 1)]


def test_status_files_with_a_month_column(tmp_path: Path, lake_root: Path) -> None:
    """Status written by plain pyarrow (month kept inside the files) reads the same."""
    import shutil

    root = tmp_path / "lake"
    shutil.copytree(lake_root, root)
    shutil.rmtree(root / "derived")
    folder = root / "derived" / "status" / "month=2022-12-01"
    folder.mkdir(parents=True)
    rows = [status_row(n, D(2022, 12, 1), n in "AE", "x", 1) for n in "ABCDEFGHIKLMNQ"]
    pq.write_table(pa.Table.from_pylist(rows, STATUS), folder / "part-0.parquet")
    report = coverage_report(root, 2022)
    assert report.persons("entitled") == 2
    assert report.persons("uninsured") == 12


def test_run_records_from_the_system_of_record(lake_root: Path, engine) -> None:
    from saqta.store.db import session_scope
    from saqta.store.registry import finish_run, start_run

    with session_scope(engine) as session:
        run = start_run(
            session, kind="status", inputs={}, rules_version="abc123def456", code_version="0.1.0"
        )
        run_id = run.id
        finish_run(session, run, status="succeeded", summary={})
    report = coverage_report(lake_root, 2022)
    ours = report.provenance.status_runs[0]
    fake = type(ours)(run_id=run_id, rows=ours.rows)
    provenance = attach_run_records(
        type(report.provenance)(
            lake=report.provenance.lake,
            generated_at=report.provenance.generated_at,
            rules_version=report.provenance.rules_version,
            code_version=report.provenance.code_version,
            status_month=report.provenance.status_month,
            status_runs=(fake,),
        ),
        engine,
    )
    found = provenance.status_runs[0]
    assert found.rules_version == "abc123def456"
    assert report.provenance.code_version == code_version()
    assert found.kind == "status"
    assert found.status == "succeeded"
    assert any("rule-set abc123def456" in text for _, text in provenance.lines())


# ------------------------------------------------------------------------------------------------
# Collections


def test_collections_received_in_the_year(lake_root: Path) -> None:
    report = collections_report(lake_root, 2022)
    ee = report.source("employers_employees")
    # B 11 x (4,500 + 3,000) (December paid in 2023); C 9 x (6,000 + 4,000) + December 2021's
    # 6,000; D 7,500; J 5 x 2,400; K 1,800; M 2,000; X 3,000
    assert ee.gross == Decimal("204800.00")
    assert ee.refunds == Decimal("1900.00")  # C 100, K 1,800
    assert ee.net == Decimal("202900.00")
    assert report.source("state").net == STATE * 26  # A 12, B 12, N 1, Q 1
    assert report.source("individual_entrepreneurs").net == Decimal("46200.00")  # 11 x 4,200
    # F 900; G 3 x 1,225.20; H prepays 12 x 3,000 on 5 October
    assert report.source("other").net == Decimal("40575.60")
    assert report.unmatched_refunds == Decimal("50.00")
    assert report.net == Decimal("371755.96")
    assert report.source("employers_employees").share == Decimal("54.57")  # 202,900 of 371,805.96
    assert sum(row.net for row in report.sources) - report.unmatched_refunds == report.net


def test_collections_for_the_months_of_the_year(lake_root: Path) -> None:
    report = collections_report(lake_root, 2022, basis="period")
    assert report.source("employers_employees").net == Decimal("204400.00")
    assert report.source("state").net == STATE * 26
    assert report.source("individual_entrepreneurs").net == Decimal("50400.00")
    assert report.source("other").net == Decimal("13575.60")  # H: October-December only
    assert report.net == Decimal("350455.96")


def test_average_deduction_and_base(lake_root: Path) -> None:
    report = collections_report(lake_root, 2022)
    # B 12, C 9, D 2 (two employers in March count once), J 5, X 1; K refunded
    assert report.employee_months == 29
    assert report.deductions == Decimal("130400.00")
    assert report.average_deduction == Decimal("4496.55")  # 130,400 / 29
    assert report.average_base == Decimal("149885.06")  # / 0.03, the rate of 2022
    assert {rate for _, rate in report.employer_rates} == {Decimal("0.03")}
    assert report.population == 15  # on the register at some time in 2022


def test_collections_by_region(lake_root: Path) -> None:
    report = collections_report(lake_root, 2022)
    regions = {r.code: r for r in report.regions}
    assert regions["ALA"].net["employers_employees"] == Decimal("190400.00")
    assert regions["ALA"].net["state"] == STATE * 25
    assert regions["AST"].net["employers_employees"] == Decimal("7500.00")
    assert regions["AST"].net["individual_entrepreneurs"] == Decimal("46200.00")
    assert regions["KAR"].total == Decimal("40575.60")
    assert regions["unknown"].net["employers_employees"] == Decimal("3000.00")
    assert regions["ALA"].employee_months == 26
    assert regions["ALA"].average_deduction == Decimal("4611.54")  # (54,000 + 53,900 + 12,000) / 26


def test_collections_against_published_figures(lake_root: Path) -> None:
    report = collections_report(lake_root, 2022)
    state = report.source("state")
    assert state.published_bn == Decimal("435.2")
    assert state.published_share == Decimal("39.9")
    # 435.2 bn x 15 / 19,741,283
    assert state.published_scaled == Decimal("330677.60")
    assert report.published_net_per_resident == Decimal("55234.51")  # 1,090.4 bn / 19,741,283
    assert collections_report(lake_root, 2023).source("state").published_bn is None


# ------------------------------------------------------------------------------------------------
# Frequency


def test_frequency(lake_root: Path) -> None:
    report = frequency_report(lake_root, 2022)
    counts = {row.months: row.employees for row in report.rows}
    assert counts == {1: 1, 2: 1, 3: 0, 4: 0, 5: 1, 6: 0, 7: 0, 8: 0, 9: 1, 10: 0, 11: 0, 12: 1}
    assert report.employees == 5
    assert report.mean == Decimal("5.80")
    assert report.paid_9_or_more == 2
    assert report.share_9_or_more == Decimal("40.00")
    assert report.paid_12 == 1
    regions = {r.code: (r.employees, r.mean) for r in report.regions if r.employees}
    assert len(report.regions) == 21  # 20 regions and the persons not on the register
    assert regions == {
        "ALA": (3, Decimal("8.67")),
        "AST": (1, Decimal("2.00")),
        "unknown": (1, Decimal("1.00")),
    }
    assert report.published_mean == Decimal("9.1")
    assert report.rows[11].published_thousand == Decimal("2584.3")
    assert report.rows[11].published_share == Decimal("46.37")  # 2,584.3 / 5,572.8
    assert report.published_total_thousand == Decimal("5572.8")


def test_year_is_checked(lake_root: Path) -> None:
    with pytest.raises(InputError, match="year 1990"):
        frequency_report(lake_root, 1990)


# ------------------------------------------------------------------------------------------------
# Outputs read back


def test_csv_reads_back(lake_root: Path, tmp_path: Path) -> None:
    doc = coverage_document(coverage_report(lake_root, 2022))
    paths = write_csv(doc, tmp_path / "coverage.csv")
    assert [p.name for p in paths] == [
        "coverage.csv",
        "coverage-entitled_by_basis.csv",
        "coverage-regions.csv",
    ]
    with paths[0].open(encoding="utf-8") as handle:
        rows = {row["key"]: row for row in csv.DictReader(handle)}
    assert rows["entitled"]["persons"] == "6"
    assert rows["entitled"]["share_pct"] == "42.86"
    assert rows["entitled"]["published_persons"] == "16266563"
    assert rows["uninsured"]["share_pct_1dp"] == "57.1"


def test_xlsx_reads_back(lake_root: Path, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    doc = collections_document(collections_report(lake_root, 2022))
    path = write_xlsx(doc, tmp_path / "collections.xlsx")
    book = load_workbook(path)
    assert book.sheetnames == ["sources", "averages", "regions", "provenance"]
    sheet = book["sources"]
    assert sheet["A1"].value == "MSHI receipts, 2022"
    headers = [cell.value for cell in sheet[4]]
    assert headers[:5] == ["Key", "Source", "Paid in, ₸", "Refunded, ₸", "Net, ₸"]
    first = [cell for cell in sheet[5]]
    assert first[0].value == "employers_employees"
    assert Decimal(str(first[4].value)) == Decimal("202900.00")
    assert first[4].number_format == "#,##0.00"
    assert first[5].number_format == "0.00"
    total = [cell.value for cell in sheet[5 + len(doc.sections[0].rows) - 1]]
    assert total[0] == "total"
    assert Decimal(str(total[4])) == Decimal("371755.96")
    provenance = {row[0].value: row[1].value for row in book["provenance"].iter_rows(min_row=3)}
    assert provenance["Rule-set version"]
    assert "facts lake" in provenance["Data source"]


def test_xlsx_coverage_has_status_run(built: Country, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    path = write_xlsx(coverage_document(coverage_report(built.root, 2022)), tmp_path / "c.xlsx")
    book = load_workbook(path)
    provenance = {row[0].value: row[1].value for row in book["provenance"].iter_rows(min_row=3)}
    assert provenance["Status month"] == "2022-12-01"
    assert provenance[f"Status run {built.incremental}"].startswith("3 rows")
    assert provenance[f"Status run {built.full}"].startswith("13 rows")
    table = book["table2"]
    assert table["C5"].value == 14 and table["C5"].number_format == "#,##0"


def test_json(lake_root: Path) -> None:
    data = to_json(frequency_document(frequency_report(lake_root, 2022)))
    json.dumps(data)
    summary = {row["key"]: row for row in data["sections"]["summary"]["rows"]}
    assert summary["mean"]["value"] == "5.80"
    assert summary["paid_12"]["value"] == 1
    assert data["sections"]["distribution"]["rows"][0]["employees"] == 1
    assert data["provenance"]["Rule-set version"]


def test_chart(lake_root: Path, tmp_path: Path) -> None:
    path = coverage_chart(coverage_report(lake_root, 2022), tmp_path / "coverage.svg")
    text = path.read_text(encoding="utf-8")
    assert text.lstrip().startswith("<?xml")
    assert "Shymkent" in text and "Kazakhstan 42.9%" in text


def test_write_all(lake_root: Path, tmp_path: Path) -> None:
    from saqta.mshi.reports import write_all

    written = write_all(lake_root, 2022, tmp_path, formats=("xlsx", "json"))
    assert sorted(p.name for files in written.values() for p in files) == [
        "collections-2022.json",
        "collections-2022.xlsx",
        "coverage-2022.json",
        "coverage-2022.svg",
        "coverage-2022.xlsx",
        "frequency-2022.json",
        "frequency-2022.xlsx",
    ]
    data = json.loads((tmp_path / "coverage-2022.json").read_text(encoding="utf-8"))
    rows = {row["key"]: row for row in data["sections"]["table2"]["rows"]}
    assert rows["paid_for"]["persons"] == 13
