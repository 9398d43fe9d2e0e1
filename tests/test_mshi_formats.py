"""What the imports accept and refuse, field by field and file by file: real calendar dates,
exact amounts of every Parquet type, the files Kazakh users produce (semicolon-delimited,
Windows-1251, XLSX, decimal commas), plausible amounts, and category periods of several state
registers."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from saqta.core.errors import InputError
from saqta.core.iin import Sex
from saqta.core.periods import Month, parse_month
from saqta.core.rules import load_rules
from saqta.mshi.contributions import import_payments
from saqta.mshi.intake import quarantine_rows
from saqta.mshi.intake._checks import Problems
from saqta.mshi.intake._files import FieldSpec, convert
from saqta.mshi.registry import import_persons
from saqta.store.lake import FactsLake
from test_mshi_ingest import (
    ALICE,
    BOLAT,
    EMPLOYER,
    PAYMENT_HEADER,
    PERSON_HEADER,
    TODAY,
    iin,
    load_register,
    payment,
    write_csv,
)

CATEGORY_HEADER = ["iin", "category", "valid_from", "valid_to"]


@pytest.fixture
def lake(tmp_path: Path) -> FactsLake:
    return FactsLake(tmp_path / "lake")


def problems_of(engine: Engine, import_id: int | None) -> list[tuple[int, str, str, str | None]]:
    return sorted(
        (p["row"], p["field"], p["reason"], p["value"])
        for p in quarantine_rows(engine, import_id=import_id, limit=1000)
    )


# --------------------------------------------------------------------------------------------
# Dates: a day that does not exist is never moved into the next month


def test_impossible_dates_are_quarantined_in_persons_categories_and_payments(
    engine: Engine, lake: FactsLake, tmp_path: Path
) -> None:
    dead = iin("1960-02-29", Sex.FEMALE, 21)
    persons = write_csv(
        tmp_path / "persons.csv",
        PERSON_HEADER,
        [
            [ALICE, "F", "1990-04-22", "ALA", "true", "", ""],
            [BOLAT, "M", "1985-01-31", "AST", "false", "", ""],
            [dead, "F", "1960-02-29", "ALA", "true", "", "2022-06-31"],
        ],
    )
    [result] = import_persons(engine, lake, persons, today=TODAY)
    assert (result.read, result.accepted, result.quarantined) == (3, 2, 1)
    assert problems_of(engine, result.import_id) == [
        (3, "death_date", "impossible_date", "2022-06-31")
    ]
    assert (
        lake.query("SELECT count(*) FROM persons WHERE iin = ?", [dead]).column(0)[0].as_py() == 0
    )

    categories = write_csv(
        tmp_path / "categories.csv",
        CATEGORY_HEADER,
        [
            [ALICE, "student", "2022-02-30", ""],
            [BOLAT, "disabled", "2022-01-01", "2022-09-31"],
            [BOLAT, "pensioner", "2024-02-29", ""],
        ],
    )
    [result] = import_persons(engine, lake, categories, today=TODAY)
    assert (result.read, result.accepted, result.quarantined) == (3, 1, 2)
    assert problems_of(engine, result.import_id) == [
        (1, "valid_from", "impossible_date", "2022-02-30"),
        (2, "valid_to", "impossible_date", "2022-09-31"),
    ]
    stored = lake.query("SELECT valid_from FROM state_categories").column(0).to_pylist()
    assert stored == [dt.date(2024, 2, 29)]

    payments = write_csv(
        tmp_path / "payments.csv",
        PAYMENT_HEADER,
        [
            payment("D1", payment_date="2022-02-30"),
            payment("D2", payment_date="2022-04-31"),
            payment("D3", payment_date="31.04.2022"),
            payment("D4", payment_date="30.04.2022"),
        ],
    )
    result = import_payments(engine, lake, payments, today=TODAY)
    assert (result.read, result.accepted, result.quarantined) == (4, 1, 3)
    assert problems_of(engine, result.import_id) == [
        (1, "payment_date", "impossible_date", "2022-02-30"),
        (2, "payment_date", "impossible_date", "2022-04-31"),
        (3, "payment_date", "impossible_date", "31.04.2022"),
    ]
    assert lake.query("SELECT payment_date FROM payments").column(0).to_pylist() == [
        dt.date(2022, 4, 30)
    ]


def test_impossible_dates_as_text_in_parquet_and_xlsx_are_quarantined(
    engine: Engine, lake: FactsLake, tmp_path: Path
) -> None:
    from openpyxl import Workbook

    load_register(engine, lake, tmp_path)
    rows = [
        payment("P1", payment_date="2022-02-30"),
        payment("P2"),
        payment("P3", period="2022-02"),
    ]
    table = pa.table({name: [row[i] for row in rows] for i, name in enumerate(PAYMENT_HEADER)})
    pq.write_table(table, tmp_path / "text.parquet")
    result = import_payments(engine, lake, tmp_path / "text.parquet", today=TODAY)
    assert (result.accepted, result.quarantined) == (2, 1)
    assert result.by_reason == {"impossible_date": 1}

    book = Workbook()
    sheet = book.active
    sheet.append(PAYMENT_HEADER)
    for row in [payment("X1", payment_date="2022-09-31"), payment("X2")]:
        sheet.append(row)
    book.save(tmp_path / "dates.xlsx")
    result = import_payments(engine, lake, tmp_path / "dates.xlsx", today=TODAY)
    assert (result.accepted, result.quarantined) == (1, 1)
    assert problems_of(engine, result.import_id) == [
        (1, "payment_date", "impossible_date", "2022-09-31")
    ]


def _real_date(text: str) -> dt.date | None:
    """The oracle: the calendar date a text names (ISO or DD.MM.YYYY), or None."""
    text = text.strip(" \t")
    if (iso := re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", text, flags=re.ASCII)) is not None:
        y, m, d = (int(g) for g in iso.groups())
    elif (dotted := re.fullmatch(r"(\d{2})\.(\d{2})\.(\d{4})", text, flags=re.ASCII)) is not None:
        d, m, y = (int(g) for g in dotted.groups())
    else:
        return None
    try:
        return dt.date(y, m, d)
    except ValueError:
        return None


_DATE_LIKE = st.builds(
    lambda y, m, d, dotted: f"{d:02d}.{m:02d}.{y:04d}" if dotted else f"{y:04d}-{m:02d}-{d:02d}",
    st.one_of(st.integers(1900, 2100), st.integers(0, 9999)),
    st.one_of(st.integers(1, 12), st.integers(0, 99)),
    st.one_of(st.integers(28, 31), st.integers(0, 99)),
    st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            _DATE_LIKE, st.text(alphabet="0123456789-./ ", max_size=12), st.text(max_size=12)
        ),
        min_size=1,
        max_size=30,
    )
)
def test_a_text_that_is_not_a_real_calendar_date_is_never_accepted(values: list[str]) -> None:
    column = pa.array([v if v.strip(" \t") else None for v in values], pa.string())
    problems = Problems(len(values))
    out = convert(FieldSpec("d", "date", required=False), column, problems).to_pylist()
    for value, stored, rejected in zip(values, out, problems.rejected.tolist(), strict=True):
        expected = _real_date(value)
        if stored is not None:
            assert stored == expected, value
            assert not rejected
        elif value.strip(" \t"):
            assert rejected, value
        if expected is not None and value == value.strip():
            assert stored == expected, value


# --------------------------------------------------------------------------------------------
# Amounts of every Parquet type: exact or quarantined, never an Arrow traceback


def _parquet_payments(path: Path, amounts: pa.Array, prefix: str) -> Path:
    n = len(amounts)
    columns: dict[str, Any] = {
        "reference": [f"{prefix}{i}" for i in range(n)],
        "payer_id": [EMPLOYER] * n,
        "person_iin": [ALICE] * n,
        "payment_type": ["employer_deduction"] * n,
        "period": pa.array([dt.date(2022, 3, 1)] * n, pa.date32()),
        "amount": amounts,
        "payment_date": pa.array([dt.date(2022, 4, 20)] * n, pa.date32()),
    }
    pq.write_table(pa.table(columns), path)
    return path


@pytest.mark.parametrize(
    "kind", [pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint32(), pa.uint64()]
)
def test_whole_tenge_of_every_integer_type_are_exact(
    engine: Engine, lake: FactsLake, tmp_path: Path, kind: pa.DataType
) -> None:
    load_register(engine, lake, tmp_path)
    path = _parquet_payments(tmp_path / "ints.parquet", pa.array([100, 127, 1], kind), "I")
    result = import_payments(engine, lake, path, today=TODAY)
    assert (result.read, result.accepted, result.quarantined) == (3, 3, 0)
    amounts = lake.query("SELECT amount FROM payments ORDER BY source_row").column(0)
    assert amounts.to_pylist() == [Decimal("100.00"), Decimal("127.00"), Decimal("1.00")]
    assert amounts.type == pa.decimal128(18, 2)


def test_decimals_of_any_scale_and_floats_are_accepted_only_when_exact(
    engine: Engine, lake: FactsLake, tmp_path: Path
) -> None:
    load_register(engine, lake, tmp_path)
    decimals = pa.array(
        [Decimal("5478.3000"), Decimal("12.3456"), Decimal("100")], pa.decimal128(20, 4)
    )
    result = import_payments(
        engine, lake, _parquet_payments(tmp_path / "d.parquet", decimals, "D"), today=TODAY
    )
    assert (result.accepted, result.quarantined) == (2, 1)
    assert problems_of(engine, result.import_id) == [(2, "amount", "inexact_amount", "12.3456")]
    floats = pa.array([5478.3, 0.1 + 0.2, float("nan"), 2.5e15, 100.0], pa.float64())
    result = import_payments(
        engine, lake, _parquet_payments(tmp_path / "f.parquet", floats, "F"), today=TODAY
    )
    assert (result.accepted, result.quarantined) == (2, 3)
    assert [(row, reason) for row, _, reason, _ in problems_of(engine, result.import_id)] == [
        (2, "inexact_amount"),
        (3, "schema"),
        (4, "inexact_amount"),
    ]
    stored = lake.query(
        "SELECT reference, amount FROM payments WHERE reference LIKE 'F%' ORDER BY 1"
    ).to_pylist()
    assert stored == [
        {"reference": "F0", "amount": Decimal("5478.30")},
        {"reference": "F4", "amount": Decimal("100.00")},
    ]


# --------------------------------------------------------------------------------------------
# The files Kazakh users produce


def _semicolon_text(rows: list[list[str]], header: list[str] = PAYMENT_HEADER) -> str:
    return "\r\n".join(";".join(row) for row in [header, *rows]) + "\r\n"


def test_a_russian_locale_excel_csv_in_windows_1251_is_read_and_reported(
    engine: Engine, lake: FactsLake, tmp_path: Path
) -> None:
    load_register(engine, lake, tmp_path)
    path = tmp_path / "платежи.csv"
    header = [*PAYMENT_HEADER, "комментарий"]
    rows = [
        [*payment("Ж1", amount="1 234,56"), "Оплата за март"],
        [*payment("Ж2", amount="5\u00a0478,3", payment_date="20.04.2022"), "взнос"],
        [*payment("Ж3", amount="100"), "пеня"],
        [*payment("Ж4", amount="12,345"), "три знака"],
    ]
    text = _semicolon_text(rows, header)
    path.write_bytes(text.encode("cp1251"))
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")
    result = import_payments(engine, lake, path, today=TODAY)
    assert result.detected == {
        "format": "csv",
        "encoding": "Windows-1251",
        "delimiter": ";",
        "decimal_mark": ",",
    }
    assert (result.read, result.accepted, result.quarantined) == (4, 3, 1)
    [problem] = quarantine_rows(engine, import_id=result.import_id)
    assert (problem["row"], problem["reason"], problem["value"]) == (4, "schema", "12,345")
    assert "2 decimals" in problem["message"]
    stored = lake.query("SELECT reference, amount, payment_date FROM payments ORDER BY 1")
    assert stored.to_pylist() == [
        {"reference": "Ж1", "amount": Decimal("1234.56"), "payment_date": dt.date(2022, 4, 20)},
        {"reference": "Ж2", "amount": Decimal("5478.30"), "payment_date": dt.date(2022, 4, 20)},
        {"reference": "Ж3", "amount": Decimal("100.00"), "payment_date": dt.date(2022, 4, 20)},
    ]


def test_utf8_with_bom_and_a_decimal_comma_in_a_comma_file(
    engine: Engine, lake: FactsLake, tmp_path: Path
) -> None:
    load_register(engine, lake, tmp_path)
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + _semicolon_text([payment("B1", amount="7,5")]).encode())
    result = import_payments(engine, lake, bom, today=TODAY)
    assert result.detected["encoding"] == "UTF-8 with BOM"
    assert result.accepted == 1
    unicode_text = tmp_path / "unicode.txt"  # Excel's "Unicode text": UTF-16, tab-delimited
    lines = ["\t".join(PAYMENT_HEADER), "\t".join(payment("U1", amount="12,5"))]
    unicode_text.write_bytes("\r\n".join(lines).encode("utf-16"))
    result = import_payments(engine, lake, unicode_text, today=TODAY)
    assert result.detected == {
        "format": "csv",
        "encoding": "UTF-16",
        "delimiter": "\t",
        "decimal_mark": ",",
    }
    assert result.accepted == 1
    comma = write_csv(tmp_path / "comma.csv", PAYMENT_HEADER, [payment("C1", amount="1,5")])
    result = import_payments(engine, lake, comma, today=TODAY)
    assert result.detected == {
        "format": "csv",
        "encoding": "UTF-8",
        "delimiter": ",",
        "decimal_mark": ".",
    }
    [problem] = quarantine_rows(engine, import_id=result.import_id)
    assert problem["reason"] == "schema"
    assert "decimal mark" in problem["message"] and "2 decimals" not in problem["message"]


def test_files_that_cannot_be_read_without_a_guess_are_refused_with_the_reason(
    engine: Engine, lake: FactsLake, tmp_path: Path
) -> None:
    load_register(engine, lake, tmp_path)
    short = tmp_path / "short.csv"
    short.write_text(_semicolon_text([payment("S1")[:-1]], PAYMENT_HEADER[:-1]), "utf-8")
    with pytest.raises(InputError) as caught:
        import_payments(engine, lake, short, today=TODAY)
    assert str(caught.value).startswith(f"{short}: column payment_date: missing")
    mixed = tmp_path / "mixed.csv"
    mixed.write_text(
        ",".join(PAYMENT_HEADER) + "\n" + "\n".join(";".join(payment(f"M{i}")) for i in range(5)),
        "utf-8",
    )
    with pytest.raises(InputError, match="semicolon-delimited rows"):
        import_payments(engine, lake, mixed, today=TODAY)
    marks = tmp_path / "marks.csv"
    marks.write_text(
        _semicolon_text([payment("A1", amount="1,50"), payment("A2", amount="2.50")]), "utf-8"
    )
    with pytest.raises(InputError, match="both decimal marks"):
        import_payments(engine, lake, marks, today=TODAY)
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"reference,amount\n\x00\x01\x02")
    with pytest.raises(InputError, match="not text"):
        import_payments(engine, lake, binary, today=TODAY)
    assert lake.count("payments") == 0


def test_an_xlsx_workbook_is_read_with_typed_cells(
    engine: Engine, lake: FactsLake, tmp_path: Path
) -> None:
    from openpyxl import Workbook

    load_register(engine, lake, tmp_path)
    book = Workbook()
    sheet = book.active
    sheet.title = "Платежи"
    sheet.append(PAYMENT_HEADER)
    typed: list[list[Any]] = [
        [
            "X1",
            EMPLOYER,
            ALICE,
            "employer_deduction",
            dt.date(2022, 3, 1),
            5478.3,
            dt.date(2022, 4, 20),
        ],
        ["X2", EMPLOYER, BOLAT, "employer_deduction", "2022-03", 5000, dt.datetime(2022, 4, 20)],
        ["X3", EMPLOYER, BOLAT, "employer_deduction", "2022-04", 12.345, "2022-05-20"],
        [None] * 7,
        ["X4", EMPLOYER, BOLAT, "employer_deduction", "2022-05", "1 000.50", "2022-06-20"],
    ]
    for row in typed:
        sheet.append(row)
    book.save(tmp_path / "payments.xlsx")
    result = import_payments(engine, lake, tmp_path / "payments.xlsx", today=TODAY)
    assert result.detected == {"format": "xlsx", "sheet": "Платежи", "decimal_mark": "."}
    assert (result.read, result.accepted, result.quarantined) == (4, 3, 1)
    [problem] = quarantine_rows(engine, import_id=result.import_id)
    assert (problem["row"], problem["field"]) == (3, "amount")
    stored = lake.query("SELECT reference, amount, source_row FROM payments ORDER BY 1")
    assert stored.to_pylist() == [
        {"reference": "X1", "amount": Decimal("5478.30"), "source_row": 1},
        {"reference": "X2", "amount": Decimal("5000.00"), "source_row": 2},
        {"reference": "X4", "amount": Decimal("1000.50"), "source_row": 5},
    ]


# --------------------------------------------------------------------------------------------
# Implausible amounts


def test_an_amount_above_the_dated_cap_of_its_type_is_quarantined(
    engine: Engine, lake: FactsLake, tmp_path: Path
) -> None:
    load_register(engine, lake, tmp_path)
    rules = load_rules()
    cap = rules.decimal("mshi.plausibility.amount_cap_employer_deduction", dt.date(2022, 3, 1))
    self_cap = rules.decimal("mshi.plausibility.amount_cap_self_payer", dt.date(2022, 3, 1))
    assert rules.lookup("mshi.plausibility.amount_cap_self_payer", TODAY).verified is False
    assert self_cap < cap
    rows = [
        payment("Q1", amount="9999999999999999.99"),
        payment("Q2", amount=str(cap)),
        payment("Q3", amount=str(cap + Decimal("0.01"))),
        payment("Q4", amount=str(cap), payment_type="self_payer", payer_id=ALICE),
    ]
    path = write_csv(tmp_path / "big.csv", PAYMENT_HEADER, rows)
    result = import_payments(engine, lake, path, today=TODAY)
    assert (result.accepted, result.quarantined) == (1, 3)
    assert [(r, reason) for r, _, reason, _ in problems_of(engine, result.import_id)] == [
        (1, "implausible_amount"),
        (3, "implausible_amount"),
        (4, "implausible_amount"),
    ]
    total = lake.query("SELECT sum(amount) FROM payments").column(0)[0].as_py()
    assert total == cap


# --------------------------------------------------------------------------------------------
# Category periods of several registers


def _entitled(lake: FactsLake, person: str, first: str, last: str) -> dict[str, str | None]:
    from saqta.mshi.status._engine import status_of

    start, end = parse_month(first), parse_month(last)
    wanted = [Month.from_index(i) for i in range(start.index, end.index + 1)]
    table = status_of(lake, wanted, iins=[person])
    return {
        str(row["month"])[:7]: row["category"] if row["entitled"] else None
        for row in table.to_pylist()
    }


def test_a_category_file_of_one_register_never_erases_another_registers_periods(
    engine: Engine, lake: FactsLake, tmp_path: Path
) -> None:
    load_register(engine, lake, tmp_path)
    child = write_csv(
        tmp_path / "civil.csv",
        CATEGORY_HEADER,
        [[ALICE, "disabled", "2021-01-01", "2022-07-31"]],
    )
    [first] = import_persons(engine, lake, child, today=TODAY, source="disability_register")
    assert first.accepted == 1
    students = write_csv(
        tmp_path / "students.csv",
        [*CATEGORY_HEADER, "source"],
        [[ALICE, "student", "2022-09-01", "2023-06-30", "Education"]],
    )
    [second] = import_persons(engine, lake, students, today=TODAY)
    assert second.accepted == 1
    months = _entitled(lake, ALICE, "2022-01", "2022-10")
    assert months == {
        **{f"2022-{m:02d}": "disabled" for m in range(1, 8)},
        "2022-08": None,
        "2022-09": "student",
        "2022-10": "student",
    }
    # the education register ends its own period: the disability period stays
    ended = write_csv(
        tmp_path / "students-2.csv",
        [*CATEGORY_HEADER, "source"],
        [[ALICE, "student", "2022-09-01", "2022-09-30", "education"]],
    )
    [third] = import_persons(engine, lake, ended, today=TODAY)
    assert third.accepted == 1
    months = _entitled(lake, ALICE, "2022-07", "2022-10")
    assert months == {"2022-07": "disabled", "2022-08": None, "2022-09": "student", "2022-10": None}
    # a row whose source differs from the one given for the whole file is quarantined
    wrong = write_csv(
        tmp_path / "wrong.csv",
        [*CATEGORY_HEADER, "source"],
        [[BOLAT, "pensioner", "2022-01-01", "", "pension_fund"]],
    )
    [fourth] = import_persons(engine, lake, wrong, today=TODAY, source="education")
    assert fourth.by_reason == {"source_mismatch": 1}


def test_without_a_source_each_category_is_its_own_register(
    engine: Engine, lake: FactsLake, tmp_path: Path
) -> None:
    load_register(engine, lake, tmp_path)
    first = write_csv(
        tmp_path / "a.csv", CATEGORY_HEADER, [[ALICE, "disabled", "2022-01-01", "2022-07-31"]]
    )
    second = write_csv(tmp_path / "b.csv", CATEGORY_HEADER, [[ALICE, "student", "2022-09-01", ""]])
    import_persons(engine, lake, first, today=TODAY)
    import_persons(engine, lake, second, today=TODAY)
    months = _entitled(lake, ALICE, "2022-07", "2022-09")
    assert months == {"2022-07": "disabled", "2022-08": None, "2022-09": "student"}
    sources = lake.query("SELECT source FROM state_categories ORDER BY 1").column(0).to_pylist()
    assert sources == ["disabled", "student"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(allow_nan=True, allow_infinity=True, width=64),
            st.integers(-(10**14), 10**14).map(lambda tiyn: tiyn / 100),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_a_float_amount_is_accepted_exactly_when_it_round_trips_to_the_tiyn(
    values: list[float],
) -> None:
    problems = Problems(len(values))
    out = convert(FieldSpec("a", "money"), pa.array(values, pa.float64()), problems).to_pylist()
    for value, stored in zip(values, out, strict=True):
        exact = value == value and abs(value) < 0.01 * 2.0**52 and round(value * 100) / 100 == value
        if exact:
            assert stored == Decimal(round(value * 100)) / 100, value
            assert float(stored) == value
        else:
            assert stored is None, value


@settings(max_examples=200, deadline=None)
@given(
    st.integers(-(10**16) + 1, 10**16 - 1),
    st.sampled_from(["", " ", "\u00a0", "\u202f"]),
    st.booleans(),
)
def test_an_amount_written_with_any_grouping_and_mark_reads_back_exactly(
    tiyn: int, group: str, comma: bool
) -> None:
    amount = Decimal(tiyn) / 100
    whole, _, cents = f"{abs(amount):.2f}".partition(".")
    if group:
        whole = f"{int(whole):,}".replace(",", group)
    text = ("-" if tiyn < 0 else "") + whole + ("," if comma else ".") + cents
    problems = Problems(1)
    [stored] = convert(
        FieldSpec("a", "money"), pa.array([text]), problems, decimal_comma=comma
    ).to_pylist()
    assert stored == amount, text
    other = Problems(1)
    [refused] = convert(
        FieldSpec("a", "money"), pa.array([text]), other, decimal_comma=not comma
    ).to_pylist()
    if tiyn % 100:
        assert refused is None, text
        assert "decimal mark" in other.messages[0] and "2 decimals" not in other.messages[0]
