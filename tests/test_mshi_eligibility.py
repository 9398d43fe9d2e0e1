"""The eligibility index answers exactly what the status rows and the register say, also for
lakes the status engine never writes.

The answers over a country that went through the real imports and the status engine are in
``test_mshi_eligibility_pipeline``. Here the lake is written by hand in the contract's schemas
(``PERSONS`` through the facts lake, ``STATUS`` files under ``derived/status/month=YYYY-MM-01/``)
to give the index what the engine does not: status rows of persons not on the register, two rows
of one person in one month, malformed IINs, arbitrary rows (the property at the end).
``SampleLake`` is shared with the API and CLI tests, which test the interfaces, not the rules.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saqta.core.errors import StoreError
from saqta.core.iin import Sex, make_iin
from saqta.core.version import code_version
from saqta.mshi.eligibility import (
    EligibilityInputError,
    Outcome,
    build_index,
    default_index_root,
    open_index,
)
from saqta.mshi.schema import PERSONS, STATUS
from saqta.mshi.status import ChangeCode, row_change
from saqta.store.db import session_scope
from saqta.store.lake import FactsLake
from saqta.store.models import RunStatus
from saqta.store.registry import finish_run, start_run


def iin_of(serial: int, born: dt.date = dt.date(1980, 5, 17), sex: Sex = Sex.FEMALE) -> str:
    value = make_iin(born, sex, serial)
    if value is None:
        return iin_of(serial + 5000, born, sex)
    return value


def person(iin: str, death: dt.date | None = None, seq: int = 1) -> dict[str, Any]:
    return {
        "iin": iin,
        "sex": "F",
        "birth_date": dt.date(1980, 5, 17),
        "region": "ALA",
        "urban": True,
        "attached_provider_id": 1,
        "death_date": death,
        "loaded_seq": seq,
    }


def row(iin: str, month: dt.date, entitled: bool, basis: str, run_id: int = 1, **extra: Any):
    values = {
        "iin": iin,
        "month": month,
        "entitled": entitled,
        "basis": basis,
        "category": None,
        "payment_type": None,
        "paid_months": None,
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
    values.update(extra)
    if isinstance(values["valid_from_day"], int):
        values["valid_from_day"] = month.replace(day=values["valid_from_day"])
    return values


def write_persons(lake_root: Path, persons: list[dict[str, Any]]) -> None:
    FactsLake(lake_root).append("persons", pa.Table.from_pylist(persons, schema=PERSONS))


def write_status(lake_root: Path, rows: list[dict[str, Any]]) -> None:
    """One file per month and call, as the status engine writes them."""
    by_month: dict[dt.date, list[dict[str, Any]]] = {}
    for values in rows:
        by_month.setdefault(values["month"], []).append(values)
    for month, month_rows in by_month.items():
        folder = lake_root / "derived" / "status" / f"month={month.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pylist(month_rows, schema=STATUS)
        pq.write_table(table, folder / f"part-{uuid.uuid4()}.parquet")


JAN, FEB, MAR = dt.date(2022, 1, 1), dt.date(2022, 2, 1), dt.date(2022, 3, 1)


@dataclass
class SampleLake:
    """Three months of hand-built status for a handful of persons, one per situation."""

    root: Path
    pensioner: str = iin_of(1)
    employee: str = iin_of(2)
    prepaid: str = iin_of(3)
    uninsured: str = iin_of(4)
    deceased: str = iin_of(5)
    no_status: str = iin_of(6)
    student: str = iin_of(7)
    reimported: str = iin_of(8)
    corrected: str = iin_of(9)
    orphan: str = iin_of(10)
    stranger: str = iin_of(11)

    def write(self, run_id: int = 1, correction_run_id: int = 2) -> SampleLake:
        write_persons(
            self.root,
            [
                person(self.pensioner),
                person(self.employee),
                person(self.prepaid),
                person(self.uninsured),
                person(self.deceased, death=dt.date(2022, 2, 10)),
                person(self.no_status),
                person(self.student),
                person(self.reimported, seq=1),
                person(self.corrected),
            ],
        )
        # A later import of the same person: they died (the highest loaded_seq counts).
        write_persons(self.root, [person(self.reimported, death=dt.date(2022, 1, 20), seq=2)])
        rows = []
        for month in (JAN, FEB, MAR):
            rows.append(
                row(self.pensioner, month, True, "state_category", run_id, category="pensioner")
            )
            rows.append(
                row(
                    self.prepaid,
                    month,
                    True,
                    "prepayment",
                    run_id,
                    payment_type="self_payer",
                    valid_until=dt.date(2022, 12, 31),
                )
            )
            rows.append(
                row(
                    self.uninsured,
                    month,
                    False,
                    "none",
                    run_id,
                    change_code=ChangeCode.RESTORE_MANY,
                    change_count=3,
                    change_date=dt.date(2021, 1, 1),
                    change_month=dt.date(2021, 12, 1),
                )
            )
            rows.append(
                row(self.reimported, month, True, "state_category", run_id, category="child")
            )
        for month, paid in ((JAN, 9), (FEB, 10)):
            rows.append(
                row(
                    self.employee,
                    month,
                    True,
                    "contributions",
                    run_id,
                    payment_type="employer_deduction",
                    paid_months=paid,
                    last_paid_period=month.replace(month=month.month - 1)
                    if month.month > 1
                    else dt.date(2021, 12, 1),
                    valid_until=dt.date(2022, 3, 31),
                    change_code=ChangeCode.CONTRIBUTIONS,
                    change_date=dt.date(2022, 3, 31),
                    change_month=dt.date(2022, 2, 1),
                )
            )
        rows.append(
            row(
                self.employee,
                MAR,
                False,
                "none",
                run_id,
                paid_months=2,
                last_paid_period=dt.date(2022, 1, 1),
                change_code=ChangeCode.RESTORE_ONE,
                change_month=dt.date(2022, 2, 1),
                offer_months=12,
            )
        )
        rows.append(
            row(
                self.deceased,
                JAN,
                True,
                "contributions",
                run_id,
                payment_type="individual_entrepreneur",
                paid_months=12,
                last_paid_period=dt.date(2021, 12, 1),
            )
        )
        rows.append(
            row(
                self.deceased,
                FEB,
                True,
                "contributions",
                run_id,
                payment_type="individual_entrepreneur",
                paid_months=12,
                last_paid_period=dt.date(2022, 1, 1),
            )
        )
        rows.append(row(self.deceased, MAR, False, "deceased", run_id))
        rows.append(
            row(
                self.student,
                FEB,
                True,
                "state_category",
                run_id,
                category="student",
                valid_until=dt.date(2022, 2, 15),
                change_code=ChangeCode.CATEGORY_ENDS,
                change_date=dt.date(2022, 2, 15),
            )
        )
        rows.append(row(self.corrected, MAR, False, "none", run_id))
        rows.append(row(self.orphan, MAR, True, "state_category", run_id, category="child"))
        write_status(self.root, rows)
        # An incremental run corrects one person's March (written as a separate file).
        write_status(
            self.root,
            [
                row(
                    self.corrected,
                    MAR,
                    True,
                    "state_category",
                    correction_run_id,
                    category="unemployed",
                )
            ],
        )
        return self


@pytest.fixture
def sample(tmp_path: Path) -> SampleLake:
    return SampleLake(tmp_path / "lake").write()


@pytest.fixture
def index(sample: SampleLake):
    build_index(sample.root)
    return open_index(default_index_root(sample.root))


def test_known_person_without_status_is_not_insured(index, sample):
    answer = index.check(sample.no_status, "2022-01-15")
    assert answer.outcome is Outcome.NOT_INSURED
    assert answer.basis == "no_status"
    assert answer.reason == "no status has been computed for this person for 2022-01"


def test_unknown_and_invalid(index, sample):
    assert index.check(sample.stranger, "2022-01-15").outcome is Outcome.UNKNOWN_PERSON
    # The orphan has a status row but is not in the register: not indexed.
    assert index.check(sample.orphan, "2022-03-15").outcome is Outcome.UNKNOWN_PERSON
    bad = sample.pensioner[:11] + str((int(sample.pensioner[11]) + 1) % 10)
    with pytest.raises(EligibilityInputError) as caught:
        index.check(bad, "2022-01-15")
    assert caught.value.field == "iin"
    assert "check digit" in caught.value.reason
    with pytest.raises(EligibilityInputError) as caught:
        index.check("12345", "2022-01-15")
    assert caught.value.reason == "an IIN has 12 digits, this has 5 characters"


def test_dates_outside_the_index_or_malformed(index, sample):
    with pytest.raises(EligibilityInputError) as caught:
        index.check(sample.pensioner, "2022-04-01")
    assert caught.value.field == "date"
    assert caught.value.reason == (
        "no status has been computed for 2022-04: the index covers 2022-01 to 2022-03"
    )
    with pytest.raises(EligibilityInputError) as caught:
        index.check(sample.pensioner, "2021-12-31")
    assert caught.value.field == "date"
    with pytest.raises(EligibilityInputError) as caught:
        index.check(sample.pensioner, "2022-02-30")
    assert caught.value.reason == "expected an ISO date YYYY-MM-DD"


def test_latest_register_row_and_latest_run_win(index, sample):
    reimported = index.check(sample.reimported, "2022-01-25")
    assert reimported.basis == "deceased"
    assert reimported.death_date == dt.date(2022, 1, 20)
    corrected = index.check(sample.corrected, "2022-03-02")
    assert corrected.insured
    assert (corrected.category, corrected.run_id) == ("unemployed", 2)


def test_provenance_counts_every_row(index, sample):
    info = index.info
    assert info.months == ["2022-01", "2022-02", "2022-03"]
    assert info.persons == 9
    assert info.duplicate_person_rows == 1
    assert info.status_rows == 4 * 3 + 3 + 3 + 1 + 1 + 1 + 1
    assert info.status_rows_without_person == 1
    assert info.status_rows_superseded == 1
    assert (
        info.status_rows_used
        == info.status_rows - info.status_rows_without_person - info.status_rows_superseded
    )
    assert [run["run_id"] for run in info.runs] == [1, 2]
    assert info.rows_per_month == {"2022-01": 6, "2022-02": 7, "2022-03": 9}
    meta = json.loads((index.folder / "meta.json").read_text())
    assert meta["persons"] == 9


def test_rule_versions_from_the_system_of_record(tmp_path, engine):
    with session_scope(engine) as session:
        run = start_run(session, "status", {"persons": "a" * 64}, "rules-abc123", "0.1.0")
        run_id = run.id
    with session_scope(engine) as session:
        finish_run(session, run, RunStatus.SUCCEEDED, {"rows": 22})
    sample = SampleLake(tmp_path / "lake").write(run_id=run_id, correction_run_id=run_id + 100)
    info = build_index(sample.root, tmp_path / "index", engine=engine)
    assert info.rules_versions == ["rules-abc123"]
    recorded = {run["run_id"]: run for run in info.runs}
    assert recorded[run_id]["status"] == "succeeded"
    assert recorded[run_id]["code_version"] == "0.1.0"  # as the run recorded it
    assert info.code_version == code_version()  # the code that built the index
    assert recorded[run_id + 100] == {"run_id": run_id + 100, "recorded": False}
    opened = open_index(tmp_path / "index")
    assert opened.check(sample.pensioner, "2022-01-01").run_id == run_id


def test_rebuild_switches_current_and_keeps_the_old_one_whole(tmp_path, sample):
    first = build_index(sample.root)
    write_status(
        sample.root, [row(sample.no_status, JAN, True, "state_category", 3, category="child")]
    )
    second = build_index(sample.root)
    assert first.path != second.path
    assert Path(first.path, "status.npy").is_file()
    current = open_index(default_index_root(sample.root))
    assert current.folder == Path(second.path)
    assert current.check(sample.no_status, "2022-01-03").category == "child"
    assert open_index(first.path).check(sample.no_status, "2022-01-03").basis == "no_status"


def test_empty_lake_is_refused_with_the_reason(tmp_path):
    with pytest.raises(StoreError, match="no status has been computed"):
        build_index(tmp_path / "lake")
    write_status(tmp_path / "lake", [row(iin_of(1), JAN, True, "none")])
    with pytest.raises(StoreError, match="register of persons is empty"):
        build_index(tmp_path / "lake")
    with pytest.raises(StoreError, match="no eligibility index here"):
        open_index(tmp_path / "nothing")


def test_malformed_iin_in_status_is_reported_with_its_row(tmp_path):
    lake = tmp_path / "lake"
    write_persons(lake, [person(iin_of(1))])
    write_status(lake, [row(iin_of(1), JAN, True, "none"), row("12AB", JAN, False, "none")])
    with pytest.raises(StoreError, match=r"row 2: iin '12AB' is not 12 digits"):
        build_index(lake)


BASES = ("state_category", "contributions", "prepayment", "none")


@st.composite
def countries(draw):
    count = draw(st.integers(1, 12))
    persons = [iin_of(serial) for serial in range(20, 20 + count)]
    rows = []
    for iin in persons:
        for month in (JAN, FEB, MAR):
            if draw(st.booleans()):
                continue
            basis = draw(st.sampled_from(BASES))
            rows.append(
                row(
                    iin,
                    month,
                    basis != "none",
                    basis,
                    draw(st.integers(1, 3)),
                    category=draw(st.sampled_from([None, "child", "student"])),
                    payment_type=draw(st.sampled_from([None, "self_payer"])),
                    paid_months=draw(st.one_of(st.none(), st.integers(0, 12))),
                    valid_until=draw(
                        st.one_of(st.none(), st.dates(dt.date(2022, 1, 1), dt.date(2023, 1, 1)))
                    ),
                    valid_from_day=draw(st.sampled_from([None, 1, 10, 28])),
                    change_code=draw(st.sampled_from([None, *ChangeCode])),
                    change_date=draw(
                        st.one_of(st.none(), st.dates(dt.date(1900, 1, 1), dt.date(9999, 12, 31)))
                    ),
                    change_month=draw(st.sampled_from([None, dt.date(2022, 4, 1)])),
                    change_count=draw(st.one_of(st.none(), st.integers(1, 120))),
                    offer_months=draw(st.one_of(st.none(), st.integers(1, 120))),
                )
            )
    return persons, rows


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(country=countries(), day=st.dates(dt.date(2022, 1, 1), dt.date(2022, 3, 31)))
def test_every_answer_matches_the_rows(tmp_path_factory, country, day):
    persons, rows = country
    lake = tmp_path_factory.mktemp("lake")
    write_persons(lake, [person(iin) for iin in persons])
    if not rows:
        rows = [row(persons[0], JAN, False, "none")]
    write_status(lake, rows)
    build_index(lake)
    opened = open_index(default_index_root(lake))
    month = day.replace(day=1)
    for iin in persons:
        mine = [r for r in rows if r["iin"] == iin and r["month"] == month]
        if not any(r["month"] == month for r in rows):
            with pytest.raises(EligibilityInputError, match="no status has been computed"):
                opened.check(iin, day)
            continue
        answer = opened.check(iin, day)
        if not mine:
            assert answer.basis == "no_status" and not answer.insured
            continue
        assert len(mine) == 1
        expected = mine[0]
        assert answer.basis == expected["basis"]
        assert answer.category == expected["category"]
        assert answer.payment_type == expected["payment_type"]
        assert answer.paid_months == expected["paid_months"]
        assert answer.valid_until == expected["valid_until"]
        assert answer.change == row_change(expected)
        assert answer.change_code == (
            ChangeCode(expected["change_code"]).label if expected["change_code"] else None
        )
        assert answer.run_id == expected["run_id"]
        valid = expected["valid_until"] is None or day <= expected["valid_until"]
        started = expected["valid_from_day"] is None or day >= expected["valid_from_day"]
        assert answer.insured == (expected["entitled"] and valid and started)


# --------------------------------------------------------------------------------------------
# The day asked, through the real status engine


def test_status_starts_on_the_day_its_basis_starts(tmp_path, engine):
    """A child born on 20 May is not insured on 1 May; a category from 31 March gives no status
    on 1 March; a prepayment made on 10 September gives none on 1 September; each is insured
    from its day, and the reason says from which day."""
    from saqta.core.periods import Month
    from saqta.mshi.status import compute_status
    from test_mshi_status import LakeBuilder, prepay_months

    builder = LakeBuilder(tmp_path / "lake")
    born = builder.person(iin_of(301, dt.date(2022, 5, 20)), dt.date(2022, 5, 20))
    builder.category(born, "child", dt.date(2022, 5, 20), dt.date(2040, 5, 19))
    late = builder.person(iin_of(302), dt.date(1980, 5, 17))
    builder.category(late, "unemployed", dt.date(2022, 3, 31), dt.date(2022, 6, 15))
    prepaid = builder.person(iin_of(303), dt.date(1980, 5, 17))
    prepay_months(builder, prepaid, dt.date(2022, 9, 10), "2022-10", "2023-09")
    compute_status(
        builder.lake, [Month(2022, m) for m in range(3, 11)], engine=engine
    )
    build_index(builder.lake.root)
    index = open_index(default_index_root(builder.lake.root))

    before = index.check(born, "2022-05-01")
    assert before.outcome is Outcome.NOT_INSURED and before.reason_code == "not_yet"
    assert before.reason == (
        "entitlement begins on 2022-05-20 (the state pays for the person as a preferential "
        "category (child))"
    )
    on_the_day = index.check(born, "2022-05-20")
    assert on_the_day.insured and on_the_day.valid_from == dt.date(2022, 5, 20)
    assert on_the_day.reason == (
        "the state pays for the person as a preferential category (child); "
        "entitled from 2022-05-20"
    )
    assert index.check(born, "2022-06-01").insured

    assert not index.check(late, "2022-03-01").insured
    assert not index.check(late, "2022-03-30").insured
    assert index.check(late, "2022-03-31").insured
    assert index.check(late, "2022-06-15").insured
    ended = index.check(late, "2022-06-16")
    assert not ended.insured and ended.reason_code == "ended"

    assert not index.check(prepaid, "2022-09-01").insured
    assert not index.check(prepaid, "2022-09-09").insured
    paid = index.check(prepaid, "2022-09-10")
    assert paid.insured and paid.basis == "prepayment"
    assert index.check(prepaid, "2022-10-01").insured

    russian = index.check(born, "2022-05-01", "ru")
    assert russian.reason == (
        "право на помощь в системе ОСМС возникает с 2022-05-20 (за лицо платит государство как "
        "за льготную категорию («ребёнок»))"
    )
    assert russian.verdict == "не застрахован в системе ОСМС"
    kazakh = index.check(born, "2022-05-25", "kk")
    assert kazakh.verdict == "МӘМС жүйесінде сақтандырылған"
    assert kazakh.as_json()["lang"] == "kk"


def test_answers_in_kazakh_russian_and_english(index, sample):
    english = index.check(sample.employee, "2022-03-01")
    russian = index.check(sample.employee, "2022-03-01", "ru")
    kazakh = index.check(sample.employee, "2022-03-01", "kk")
    assert (english.change_code, russian.change_code, kazakh.change_code) == ("restore_one",) * 3
    assert russian.change == (
        "платёж за 2022-02 восстановил бы право на помощь; предоплата самостоятельным "
        "плательщиком взносов за 12 месяцев вперёд дала бы статус сразу, со дня оплаты"
    )
    assert kazakh.change == (
        "2022-02 үшін төлем құқықты қалпына келтірер еді; дербес төлеуші жарналарды 12 ай бұрын "
        "төлесе, мәртебе төлем жасалған күннен бастап бірден берілер еді"
    )
    assert index.check(sample.stranger, "2022-01-15", "kk").reason == "ЖСН тіркелімде жоқ"
    with pytest.raises(ValueError, match="no catalogue"):
        index.check(sample.employee, "2022-03-01", "de")
