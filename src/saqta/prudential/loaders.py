"""A branch's inputs from the input workbook (XLSX) or from a folder of CSV files with the same
columns, into :class:`~saqta.prudential.inputs.PrudentialInputs`.

The workbook has one sheet per input (see :data:`SHEETS`; ``saqta prudential template`` writes a
blank one). Three sheets are lists of fields (``field``, ``value``): ``branch`` (the profile and
the reporting ``period``), ``figures`` and ``methodology``. Four are tables with one record per
row: ``holdings``, ``ratings``, ``treaties`` and ``overrides``. A CSV folder holds the same
sheets as ``<sheet>.csv`` (UTF-8, a header row, comma-separated).

Every problem names the sheet (or file), the row and the column: a missing sheet or column; a
text where an amount belongs; a negative carrying amount; an unknown agency or grade; a period
in the future; a duplicate instrument, and so on. All problems of a workbook are collected and
raised together as one :class:`~saqta.core.errors.InputError`; nothing is returned (so nothing is
computed or filed) while there is one.

Conventions: amounts are in **tenge**, unrounded (the forms round to thousands themselves);
dates are ``YYYY-MM-DD`` (or Excel dates); flags are ``TRUE``/``FALSE`` (also yes/no, да/нет,
иә/жоқ, 1/0); empty rows and rows whose first cell starts with ``#`` (comments and the template's
examples) are skipped; columns not listed here are ignored (notes of the branch's own).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import types
import typing
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from saqta.core.errors import InputError, Problem
from saqta.core.periods import Month, parse_month
from saqta.prudential.inputs import PrudentialInputs, input_problems, parse_inputs
from saqta.prudential.records import (
    CategoryOverride,
    Figures,
    Holding,
    Methodology,
    RatingRecord,
    Treaty,
)
from saqta.prudential.report import BranchProfile

FieldKind = Literal["amount", "text", "flag", "date", "choice"]


@dataclass(frozen=True)
class SheetSpec:
    """One sheet of the workbook (one CSV file of a folder)."""

    name: str
    key: str  # the key of PrudentialInputs it fills
    model: type[BaseModel]
    shape: Literal["fields", "table"]
    extra_fields: tuple[str, ...] = ()  # fields sheets: fields outside the model (branch period)

    @property
    def columns(self) -> tuple[str, ...]:
        if self.shape == "fields":
            return ("field", "value")
        return tuple(self.model.model_fields)

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(self.model.model_fields) + self.extra_fields


SHEETS: tuple[SheetSpec, ...] = (
    SheetSpec("branch", "branch", BranchProfile, "fields", extra_fields=("period",)),
    SheetSpec("holdings", "holdings", Holding, "table"),
    SheetSpec("ratings", "ratings", RatingRecord, "table"),
    SheetSpec("treaties", "treaties", Treaty, "table"),
    SheetSpec("figures", "figures", Figures, "fields"),
    SheetSpec("methodology", "methodology", Methodology, "fields"),
    SheetSpec("overrides", "overrides", CategoryOverride, "table"),
)
SHEETS_BY_NAME = {sheet.name: sheet for sheet in SHEETS}
SHEETS_BY_KEY = {sheet.key: sheet for sheet in SHEETS}

_TRUE = {"true", "yes", "y", "1", "да", "иә", "ия"}
_FALSE = {"false", "no", "n", "0", "нет", "жоқ"}


def field_kind(model: type[BaseModel], name: str) -> tuple[FieldKind, tuple[str, ...]]:
    """How a column is read, from the model's annotation: (kind, allowed values for choices)."""
    if name == "period":
        return "text", ()
    annotation: Any = model.model_fields[name].annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = options[0] if len(options) == 1 else str
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) is Literal:
        return "choice", tuple(str(a) for a in typing.get_args(annotation))
    if annotation is bool:
        return "flag", ()
    if annotation is Decimal:
        return "amount", ()
    if annotation is dt.date:
        return "date", ()
    return "text", ()


def is_required(model: type[BaseModel], name: str) -> bool:
    return name != "period" and model.model_fields[name].is_required()


# ---------------------------------------------------------------------------------------------
# Reading cells


@dataclass(frozen=True)
class Cell:
    value: Any
    where: str  # "file: sheet 'holdings', row 7, column 'carrying_amount' (M7)"


@dataclass
class RawRecord:
    row: int
    cells: dict[str, Cell]  # column -> cell, non-empty cells only


@dataclass
class RawSheet:
    spec: SheetSpec
    where: str  # "file: sheet 'holdings'" or "folder/holdings.csv"
    records: list[RawRecord] = field(default_factory=list)
    field_rows: dict[str, int] = field(default_factory=dict)  # fields sheets: field -> row
    column_letters: dict[str, str] = field(default_factory=dict)


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _cell_where(base: str, row: int, column: str, letter: str | None) -> str:
    ref = f" ({letter}{row})" if letter else ""
    return f"{base}, row {row}, column {column!r}{ref}"


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _read_rows(
    spec: SheetSpec, where: str, rows: Iterable[tuple[int, list[Any]]], excel: bool
) -> tuple[RawSheet, list[Problem]]:
    """Header row, then records; problems for missing columns and duplicated headers."""
    sheet = RawSheet(spec=spec, where=where)
    problems: list[Problem] = []
    iterator = iter(rows)
    header: list[Any] = []
    header_row = 1
    for number, values in iterator:
        if any(not _is_blank(v) for v in values):
            header, header_row = values, number
            break
    positions: dict[str, int] = {}
    for index, name in enumerate(header):
        if _is_blank(name):
            continue
        key = str(name).strip()
        if key in positions:
            problems.append(Problem(f"{where}, row {header_row}", f"column {key!r} appears twice"))
            continue
        positions[key] = index
    missing = [c for c in spec.columns if c not in positions]
    for column in missing:
        problems.append(
            Problem(
                f"{where}, row {header_row}",
                f"column {column!r} is missing (expected columns: {', '.join(spec.columns)})",
            )
        )
    if missing:
        return sheet, problems
    sheet.column_letters = {c: _column_letter(positions[c]) if excel else "" for c in spec.columns}
    for number, values in iterator:
        cells: dict[str, Cell] = {}
        first = values[0] if values else None
        if isinstance(first, str) and first.strip().startswith("#"):
            continue
        for column in spec.columns:
            index = positions[column]
            value = values[index] if index < len(values) else None
            if _is_blank(value):
                continue
            letter = sheet.column_letters[column] or None
            cells[column] = Cell(value, _cell_where(where, number, column, letter))
        if cells:
            sheet.records.append(RawRecord(row=number, cells=cells))
    return sheet, problems


def _xlsx_sheets(path: Path) -> tuple[dict[str, RawSheet], list[Problem]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except zipfile.BadZipFile as exc:
        raise InputError(f"not an XLSX workbook: {exc}", where=str(path)) from exc
    except (OSError, InvalidFileException, KeyError, ValueError) as exc:
        raise InputError(f"cannot open the workbook: {exc}", where=str(path)) from exc
    sheets: dict[str, RawSheet] = {}
    problems: list[Problem] = []
    try:
        for spec in SHEETS:
            if spec.name not in workbook.sheetnames:
                problems.append(
                    Problem(
                        str(path),
                        f"sheet {spec.name!r} is missing (expected sheets: "
                        f"{', '.join(s.name for s in SHEETS)})",
                    )
                )
                continue
            worksheet = workbook[spec.name]
            rows = (
                (number, list(values))
                for number, values in enumerate(worksheet.iter_rows(values_only=True), start=1)
            )
            sheet, found = _read_rows(spec, f"{path}: sheet {spec.name!r}", rows, excel=True)
            sheets[spec.name] = sheet
            problems += found
    finally:
        workbook.close()
    return sheets, problems


def _csv_sheets(folder: Path) -> tuple[dict[str, RawSheet], list[Problem]]:
    sheets: dict[str, RawSheet] = {}
    problems: list[Problem] = []
    for spec in SHEETS:
        path = folder / f"{spec.name}.csv"
        if not path.is_file():
            problems.append(Problem(str(folder), f"file {path.name!r} is missing"))
            continue
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(str(path), f"cannot read as UTF-8 text: {exc}"))
            continue
        rows = (
            (number, list(values))
            for number, values in enumerate(csv.reader(text.splitlines()), start=1)
        )
        sheet, found = _read_rows(spec, str(path), rows, excel=False)
        sheets[spec.name] = sheet
        problems += found
    return sheets, problems


# ---------------------------------------------------------------------------------------------
# Converting cells


def convert(value: Any, kind: FieldKind, choices: tuple[str, ...]) -> Any:
    """A cell value as the model wants it; ``ValueError`` says why it cannot be."""
    if kind == "amount":
        if isinstance(value, bool):
            raise ValueError(f"{value!r} is not an amount")
        if isinstance(value, int | Decimal):
            return Decimal(value)
        if isinstance(value, float):
            # Excel keeps numbers as binary doubles; the shortest decimal that reads back as the
            # same double is the number as typed.
            return Decimal(repr(value))
        text = str(value).strip().replace("\u00a0", "").replace(" ", "")
        if re.fullmatch(r"[-+]?\d+(,\d+)?", text):
            text = text.replace(",", ".")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"{value!r} is not an amount") from None
        if not number.is_finite():
            raise ValueError(f"{value!r} is not an amount")
        return number
    if kind == "flag":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if isinstance(value, int | float) and value in (0, 1):
            return bool(value)
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(f"{value!r} is not TRUE or FALSE")
    if kind == "date":
        if isinstance(value, dt.datetime):
            if value.time() != dt.time(0):
                raise ValueError(f"{value!r} has a time of day; a date is expected")
            return value.date()
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value).strip())
        except ValueError:
            raise ValueError(f"{value!r} is not a date YYYY-MM-DD") from None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dt.datetime | dt.date):
        raise ValueError(f"{value!r} is a date; a text is expected")
    text = str(value).strip()
    if kind == "choice" and text not in choices:
        raise ValueError(f"{text!r} is not one of: {', '.join(choices)}")
    return text


def _pydantic_message(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    value = error.get("input")
    if kind == "greater_than_equal" and error.get("ctx", {}).get("ge") == 0:
        return f"must not be negative (got {value})"
    if kind == "missing":
        return "missing (required)"
    if kind == "string_too_short":
        return "must not be empty"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{message} (got {value!r})" if value is not None and kind != "value_error" else message


def _record_data(
    spec: SheetSpec, cells: Mapping[str, Cell], problems: list[Problem]
) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for column, cell in cells.items():
        kind, choices = field_kind(spec.model, column)
        try:
            data[column] = convert(cell.value, kind, choices)
        except ValueError as exc:
            problems.append(Problem(cell.where, str(exc)))
    return data


def _validate_record(
    spec: SheetSpec,
    data: dict[str, Any],
    where_of: Mapping[str, str],
    row_where: str,
    problems: list[Problem],
    failed: set[str],
) -> bool:
    """Check one record against its model; problems name the cell. True when valid."""
    try:
        spec.model.model_validate({k: v for k, v in data.items() if k in spec.model.model_fields})
    except ValidationError as exc:
        for error in exc.errors():
            column = str(error["loc"][0]) if error["loc"] else ""
            if column in failed:
                continue  # already reported as a conversion problem
            where = where_of.get(column) or (
                f"{row_where}, column {column!r}" if column else row_where
            )
            problems.append(Problem(where, _pydantic_message(error)))
        return False
    return True


# ---------------------------------------------------------------------------------------------
# Loading


@dataclass
class _Located:
    """Where each record and field of the assembled inputs came from, to name it in problems."""

    records: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)
    fields: dict[str, dict[str, str]] = field(default_factory=dict)
    sheets: dict[str, str] = field(default_factory=dict)


def _assemble(
    sheets: Mapping[str, RawSheet], problems: list[Problem]
) -> tuple[dict[str, Any], _Located]:
    data: dict[str, Any] = {}
    located = _Located()
    for spec in SHEETS:
        sheet = sheets.get(spec.name)
        if sheet is None:
            continue
        located.sheets[spec.key] = sheet.where
        if spec.shape == "table":
            records: list[dict[str, Any]] = []
            located.records[spec.key] = []
            for record in sheet.records:
                before = len(problems)
                values = _record_data(spec, record.cells, problems)
                failed = {
                    column
                    for column, cell in record.cells.items()
                    if any(p.where == cell.where for p in problems[before:])
                }
                where_of = {column: cell.where for column, cell in record.cells.items()}
                letters = sheet.column_letters
                for column in spec.columns:
                    where_of.setdefault(
                        column, _cell_where(sheet.where, record.row, column, letters.get(column))
                    )
                row_where = f"{sheet.where}, row {record.row}"
                valid = _validate_record(spec, values, where_of, row_where, problems, failed)
                if valid and not failed:
                    records.append(values)
                    located.records[spec.key].append((record.row, where_of))
            data[spec.key] = records
            continue
        fields: dict[str, Any] = {}
        wheres: dict[str, str] = {}
        for record in sheet.records:
            name_cell = record.cells.get("field")
            value_cell = record.cells.get("value")
            if name_cell is None:
                where = value_cell.where if value_cell else f"{sheet.where}, row {record.row}"
                problems.append(Problem(where, "a value without a field name"))
                continue
            name = str(name_cell.value).strip()
            value_where = _cell_where(
                f"{sheet.where}, field {name!r}",
                record.row,
                "value",
                sheet.column_letters.get("value") or None,
            )
            if name not in spec.fields:
                problems.append(
                    Problem(
                        name_cell.where,
                        f"unknown field {name!r} (fields: {', '.join(spec.fields)})",
                    )
                )
                continue
            if name in wheres:
                problems.append(Problem(name_cell.where, f"field {name!r} is given twice"))
                continue
            wheres[name] = value_where
            if value_cell is None:
                continue
            kind, choices = ("text", ()) if name == "period" else field_kind(spec.model, name)
            try:
                fields[name] = convert(value_cell.value, kind, choices)
            except ValueError as exc:
                problems.append(Problem(value_where, str(exc)))
        for name in spec.fields:
            wheres.setdefault(name, f"{sheet.where}: field {name!r}")
        failed = {name for name, where in wheres.items() if any(p.where == where for p in problems)}
        model_fields = {k: v for k, v in fields.items() if k != "period"}
        _validate_record(spec, model_fields, wheres, sheet.where, problems, failed)
        if spec.key == "branch":
            period = fields.pop("period", None)
            if period is not None:
                data["period"] = period
            located.fields["period"] = {"period": wheres["period"]}
        data[spec.key] = fields
        located.fields[spec.key] = wheres
    return data, located


_LOCATION = re.compile(r"^(?P<key>[a-z_]+)(?:\[(?P<index>\d+)\])?(?:\.(?P<field>[a-z_0-9]+))?")


def _rows_in_message(what: str, located: _Located) -> str:
    """ "(also holdings[0])" said as "(also row 2)"."""

    def row_of(match: re.Match[str]) -> str:
        rows = located.records.get(match[1], [])
        index = int(match[2])
        return f"row {rows[index][0]}" if index < len(rows) else match[0]

    return re.sub(r"\b([a-z_]+)\[(\d+)\]", row_of, what)


def _relocate(problem: Problem, located: _Located, source: str) -> Problem:
    """A problem of the input checks ("holdings[3].instrument_id") moved to the sheet, row and
    column it came from."""
    problem = Problem(problem.where, _rows_in_message(problem.what, located))
    place = problem.where.removeprefix(f"{source}: ").strip()
    match = _LOCATION.match(place)
    if match is None:
        return Problem(located.sheets.get("branch", source), f"{place}: {problem.what}".strip(": "))
    key, index, name = match["key"], match["index"], match["field"]
    what = problem.what
    if key in located.records and index is not None:
        rows = located.records[key]
        if int(index) < len(rows):
            row, wheres = rows[int(index)]
            if name is None and key == "ratings":
                for column in ("agency", "scale", "grade"):
                    if what.startswith(f"unknown {column}"):
                        name = column
            if name is not None and name in wheres:
                return Problem(wheres[name], what)
            return Problem(f"{located.sheets[key]}, row {row}", what)
    if key in located.fields:
        wheres = located.fields[key]
        target = name or ("period" if key == "period" else None)
        if target is not None and target in wheres:
            return Problem(wheres[target], what)
        return Problem(located.sheets.get(key, source), what)
    return Problem(located.sheets.get(key, source), f"{place}: {what}")


def _finish(
    sheets: dict[str, RawSheet],
    problems: list[Problem],
    *,
    source: str,
    period: str | Month | None,
    today: dt.date | None,
) -> PrudentialInputs:
    data, located = _assemble(sheets, problems)
    if period is not None:
        wanted = str(period if isinstance(period, Month) else parse_month(period))
        given = data.get("period")
        if given is not None and str(given) != wanted:
            problems.append(
                Problem(
                    located.fields["period"]["period"],
                    f"the workbook is for {given}, not for the period asked ({wanted})",
                )
            )
        data["period"] = wanted
        if given is None:
            located.fields["period"] = {"period": f"--period {wanted}"}
    elif "period" not in data and "branch" in located.fields:
        problems.append(
            Problem(located.fields["branch"]["period"], "the reporting period YYYY-MM is missing")
        )
    candidate = _candidate(data)
    if candidate is not None:
        # checks across records (duplicates, unknown agencies or grades, a future period...) run
        # on whatever rows are valid, so they are reported together with the cells' problems
        for problem in input_problems(candidate, today=today):
            problems.append(_relocate(problem, located, source))
    if not problems:
        try:
            return parse_inputs(data, source=source, today=today)
        except InputError as exc:
            problems.extend(_relocate(p, located, source) for p in exc.problems)
    raise InputError(_unique(problems))


def _candidate(data: Mapping[str, Any]) -> PrudentialInputs | None:
    """The inputs built from the valid parts without the cross-record checks, or ``None`` when a
    part that every check needs (the profile, the figures, the Methodology) is not valid."""
    try:
        branch = BranchProfile.model_validate(data.get("branch", {}))
        figures = Figures.model_validate(data.get("figures", {}))
        methodology = Methodology.model_validate(data.get("methodology", {}))
        period = parse_month(str(data["period"])) if data.get("period") else None
    except (ValidationError, InputError):
        return None
    if period is None:
        return None
    return PrudentialInputs.model_construct(
        branch=branch,
        period=str(period),
        holdings=tuple(Holding.model_validate(r) for r in data.get("holdings", ())),
        ratings=tuple(RatingRecord.model_validate(r) for r in data.get("ratings", ())),
        treaties=tuple(Treaty.model_validate(r) for r in data.get("treaties", ())),
        figures=figures,
        methodology=methodology,
        overrides=tuple(CategoryOverride.model_validate(r) for r in data.get("overrides", ())),
    )


def _unique(problems: Iterable[Problem]) -> list[Problem]:
    seen: set[tuple[str, str]] = set()
    result = []
    for problem in problems:
        key = (problem.where, problem.what)
        if key not in seen:
            seen.add(key)
            result.append(problem)
    return result


def load_xlsx(
    path: Path, *, period: str | Month | None = None, today: dt.date | None = None
) -> PrudentialInputs:
    """The inputs of an input workbook; every problem of the workbook at once, or none."""
    if not path.is_file():
        raise InputError("no such file", where=str(path))
    sheets, problems = _xlsx_sheets(path)
    return _finish(sheets, problems, source=str(path), period=period, today=today)


def load_csv_folder(
    folder: Path, *, period: str | Month | None = None, today: dt.date | None = None
) -> PrudentialInputs:
    """The inputs of a folder of ``<sheet>.csv`` files with the workbook's columns."""
    if not folder.is_dir():
        raise InputError("no such folder", where=str(folder))
    sheets, problems = _csv_sheets(folder)
    return _finish(sheets, problems, source=str(folder), period=period, today=today)


def load_inputs(
    path: Path, *, period: str | Month | None = None, today: dt.date | None = None
) -> PrudentialInputs:
    """Inputs from an ``.xlsx`` workbook or a folder of CSV files.

    ``period`` (``YYYY-MM``) must agree with the workbook's own ``period`` when both are given;
    ``today`` (default: the system date) decides what "a period in the future" is.
    """
    if path.is_dir():
        return load_csv_folder(path, period=period, today=today)
    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        raise InputError("expected an .xlsx workbook or a folder of CSV files", where=str(path))
    return load_xlsx(path, period=period, today=today)


def iter_sheet_rows(inputs: PrudentialInputs) -> Iterator[tuple[SheetSpec, list[list[Any]]]]:
    """The inputs as sheet rows (header first), in the workbook's order: the inverse of loading,
    used to write input workbooks and CSV folders."""
    for spec in SHEETS:
        if spec.shape == "fields":
            model = getattr(inputs, spec.key)
            rows: list[list[Any]] = [["field", "value"]]
            for name in spec.model.model_fields:
                rows.append([name, getattr(model, name)])
            if spec.key == "branch":
                rows.append(["period", inputs.period])
            yield spec, rows
            continue
        rows = [list(spec.columns)]
        for record in getattr(inputs, spec.key):
            rows.append([getattr(record, column) for column in spec.columns])
        yield spec, rows
