"""Loading a branch's inputs from the workbook and from CSV folders: every problem named."""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from saqta.core.errors import InputError
from saqta.prudential.inputs import PrudentialInputs
from saqta.prudential.loaders import SHEETS, convert, load_inputs
from saqta.prudential.sample import generate_samples
from saqta.prudential.template import (
    template_workbook,
    write_inputs_csv,
    write_inputs_xlsx,
    write_template,
)

TODAY = dt.date(2025, 3, 1)


@pytest.fixture(scope="module")
def general() -> PrudentialInputs:
    return generate_samples(seed=3, months=3).months_data[0].inputs


@pytest.fixture(scope="module")
def life() -> PrudentialInputs:
    samples = generate_samples(seed=3, months=3)
    return next(m.inputs for m in samples.months_data if m.inputs.branch.line == "life")


@pytest.fixture
def workbook(tmp_path: Path, general: PrudentialInputs) -> Path:
    return write_inputs_xlsx(general, tmp_path / "inputs.xlsx")


def _problems(path: Path, **kwargs: object) -> list[str]:
    with pytest.raises(InputError) as caught:
        load_inputs(path, today=TODAY, **kwargs)  # type: ignore[arg-type]
    return [str(p) for p in caught.value.problems]


def _edit(path: Path, sheet: str, cell: str, value: object) -> None:
    book = load_workbook(path)
    book[sheet][cell] = value
    book.save(path)


def _column(path: Path, sheet: str, name: str) -> str:
    book = load_workbook(path)
    for cell in book[sheet][1]:
        if cell.value == name:
            return str(cell.column_letter)
    raise AssertionError(name)


def test_a_workbook_and_a_csv_folder_load_to_the_same_inputs(
    tmp_path: Path, general: PrudentialInputs, life: PrudentialInputs
) -> None:
    for inputs in (general, life):
        book = write_inputs_xlsx(inputs, tmp_path / f"{inputs.branch.line}.xlsx")
        folder = tmp_path / f"{inputs.branch.line}-csv"
        write_inputs_csv(inputs, folder)
        assert load_inputs(book, today=TODAY) == inputs
        assert load_inputs(folder, period=inputs.period, today=TODAY) == inputs
    assert {p.name for p in (tmp_path / "general-csv").iterdir()} == {
        f"{s.name}.csv" for s in SHEETS
    }


def test_the_blank_template_has_every_sheet_column_and_list(tmp_path: Path) -> None:
    path = write_template(tmp_path / "template.xlsx")
    book = load_workbook(path)
    assert book.sheetnames[0] == "instructions"
    for spec in SHEETS:
        sheet = book[spec.name]
        header = [c.value for c in sheet[1]]
        if spec.shape == "table":
            assert header == list(spec.columns)
        else:
            assert header[:2] == ["field", "value"]
            assert [sheet.cell(row=r, column=1).value for r in range(2, sheet.max_row + 1)] == list(
                spec.fields
            )
    holdings = book["holdings"]
    assert str(holdings["A2"].value).startswith("# example")
    formulas = {dv.formula1 for dv in holdings.data_validations.dataValidation}
    lists = book["lists"]
    assert lists.sheet_state == "hidden"
    names = [c.value for c in lists[1]]
    assert {"agency", "instrument_type", "issuer_residency", "exchange_category"} <= set(names)
    agencies = [lists.cell(row=r, column=names.index("agency") + 1).value for r in range(2, 7)]
    assert agencies == ["sp", "moodys", "fitch", "ambest", "morningstar"]
    assert any("lists" in f for f in formulas)
    residency_col = names.index("issuer_residency") + 1
    assert [lists.cell(row=r, column=residency_col).value for r in (2, 3)] == [
        "resident_kz",
        "non_resident",
    ]
    ratings = book["ratings"]
    assert any("lists" in (dv.formula1 or "") for dv in ratings.data_validations.dataValidation)
    instructions = " ".join(str(c.value) for row in book["instructions"].iter_rows() for c in row)
    assert "в тенге" in instructions and "in tenge" in instructions


def test_the_blank_template_loads_with_one_problem_per_required_field(tmp_path: Path) -> None:
    path = write_template(tmp_path / "template.xlsx")
    problems = _problems(path, period="2024-01")
    assert (
        f"{path}: sheet 'branch', field 'bin', row 2, column 'value' (B2): missing (required)"
        in problems
    )
    assert any("sheet 'figures', field 'reserves_net'" in p for p in problems)
    assert any("sheet 'methodology', field 'actual_margin'" in p for p in problems)
    # the example rows are skipped: no holdings, ratings or treaties problems
    assert not any("sheet 'holdings'" in p for p in problems)


def test_every_problem_of_a_workbook_is_reported_at_once(workbook: Path) -> None:
    amount = _column(workbook, "holdings", "carrying_amount")
    _edit(workbook, "holdings", f"{amount}3", "one million")
    _edit(workbook, "holdings", f"{amount}4", Decimal("-5.00"))
    instrument = _column(workbook, "holdings", "instrument_id")
    book = load_workbook(workbook)
    first_id = book["holdings"][f"{instrument}2"].value
    _edit(workbook, "holdings", f"{instrument}5", first_id)
    grade = _column(workbook, "ratings", "grade")
    _edit(workbook, "ratings", f"{grade}2", "ZZZ")
    agency = _column(workbook, "ratings", "agency")
    _edit(workbook, "ratings", f"{agency}3", "acme")
    problems = _problems(workbook)
    assert len(problems) == 5, problems
    joined = "\n".join(problems)
    assert (
        f"sheet 'holdings', row 3, column 'carrying_amount' ({amount}3): "
        "'one million' is not an amount" in joined
    )
    assert (
        f"sheet 'holdings', row 4, column 'carrying_amount' ({amount}4): "
        "must not be negative (got -5)" in joined
    )
    assert (
        f"sheet 'holdings', row 5, column 'instrument_id' ({instrument}5): "
        f"duplicate instrument {first_id!r} (also row 2)" in joined
    )
    assert f"sheet 'ratings', row 2, column 'grade' ({grade}2): unknown grade 'ZZZ'" in joined
    assert f"sheet 'ratings', row 3, column 'agency' ({agency}3): unknown agency 'acme'" in joined
    assert all(p.startswith(str(workbook)) for p in problems)


def test_a_period_in_the_future_is_refused_at_its_cell(
    workbook: Path, general: PrudentialInputs
) -> None:
    with pytest.raises(InputError) as caught:
        load_inputs(workbook, today=dt.date(2023, 12, 15))
    text = str(caught.value)
    assert "sheet 'branch', field 'period'" in text
    assert f"{general.period} is in the future" in text


def test_the_period_asked_must_be_the_workbooks(workbook: Path, general: PrudentialInputs) -> None:
    problems = _problems(workbook, period="2023-11")
    assert any(
        "field 'period'" in p
        and f"the workbook is for {general.period}, not for the period asked (2023-11)" in p
        for p in problems
    )


def test_a_missing_sheet_and_a_missing_column_are_named(workbook: Path) -> None:
    book = load_workbook(workbook)
    del book["treaties"]
    amount = _column(workbook, "holdings", "carrying_amount")
    book["holdings"].delete_cols(book["holdings"][f"{amount}1"].column)
    book.save(workbook)
    problems = _problems(workbook)
    assert any("sheet 'treaties' is missing" in p for p in problems)
    assert any(
        "sheet 'holdings', row 1: column 'carrying_amount' is missing" in p for p in problems
    )


def test_a_csv_folder_names_the_file_row_and_column(
    tmp_path: Path, general: PrudentialInputs
) -> None:
    folder = tmp_path / "csv"
    write_inputs_csv(general, folder)
    lines = (folder / "holdings.csv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    cells = lines[2].split(",")
    cells[header.index("carrying_amount")] = "12abc"
    lines[2] = ",".join(cells)
    (folder / "holdings.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "overrides.csv").unlink()
    problems = _problems(folder)
    assert (
        f"{folder / 'holdings.csv'}, row 3, column 'carrying_amount': '12abc' is not an amount"
        in problems
    )
    assert f"{folder}: file 'overrides.csv' is missing" in problems


def test_not_a_workbook_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.xlsx"
    path.write_text("not a zip", encoding="utf-8")
    assert "not an XLSX workbook" in _problems(path)[0] or "cannot open" in _problems(path)[0]
    other = tmp_path / "x.txt"
    other.write_text("", encoding="utf-8")
    assert "expected an .xlsx workbook or a folder" in _problems(other)[0]


def test_comment_rows_and_unknown_columns_are_ignored(
    workbook: Path, general: PrudentialInputs
) -> None:
    book = load_workbook(workbook)
    sheet = book["holdings"]
    sheet.cell(row=1, column=sheet.max_column + 1, value="my notes")
    sheet.cell(row=2, column=sheet.max_column, value="checked by audit")
    sheet.append(["# a comment row", "anything", "not a type"])
    book.save(workbook)
    assert load_inputs(workbook, today=TODAY) == general


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        (1234.56, "amount", Decimal("1234.56")),
        ("1 234,5", "amount", Decimal("1234.5")),
        ("1234.50", "amount", Decimal("1234.50")),
        (7, "amount", Decimal(7)),
        ("да", "flag", True),
        ("FALSE", "flag", False),
        (dt.datetime(2024, 1, 31), "date", dt.date(2024, 1, 31)),
        ("2024-01-31", "date", dt.date(2024, 1, 31)),
        (12345.0, "text", "12345"),
    ],
)
def test_cells_are_read_as_typed(value: object, kind: str, expected: object) -> None:
    assert convert(value, kind, ()) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("abc", "amount"),
        (True, "amount"),
        ("NaN", "amount"),
        ("maybe", "flag"),
        ("31.01.2024", "date"),
    ],
)
def test_bad_cells_say_why(value: object, kind: str) -> None:
    with pytest.raises(ValueError, match=repr(value)):
        convert(value, kind, ())  # type: ignore[arg-type]


def test_a_workbook_copied_elsewhere_still_loads(
    tmp_path: Path, workbook: Path, general: PrudentialInputs
) -> None:
    copy = tmp_path / "sub" / "copy.xlsx"
    copy.parent.mkdir()
    shutil.copy(workbook, copy)
    assert load_inputs(copy, today=TODAY) == general
    assert template_workbook().sheetnames[-1] == "lists"


@settings(max_examples=25, deadline=None)
@given(
    amounts=st.lists(
        st.decimals(min_value=0, max_value=Decimal("9999999999999.99"), places=2),
        min_size=1,
        max_size=5,
    )
)
def test_any_amount_of_up_to_15_digits_survives_a_workbook_exactly(
    tmp_path_factory: pytest.TempPathFactory, amounts: list[Decimal]
) -> None:
    base = generate_samples(seed=3, months=3).months_data[0].inputs
    holdings = tuple(
        h.model_copy(update={"carrying_amount": amounts[i % len(amounts)]})
        for i, h in enumerate(base.holdings)
    )
    inputs = base.model_copy(update={"holdings": holdings})
    path = write_inputs_xlsx(inputs, tmp_path_factory.mktemp("h") / "inputs.xlsx")
    loaded = load_inputs(path, today=TODAY)
    assert [h.carrying_amount for h in loaded.holdings] == [h.carrying_amount for h in holdings]
