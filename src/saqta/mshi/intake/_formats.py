"""What kind of file an import was given, and how to read it: detected from the file's first
64 KB, never guessed silently (the import's result and the command's output say what was
detected), and a file that cannot be read without a guess is refused with the reason.

- **Format**, from the name: ``.csv``/``.txt`` (text), ``.parquet``/``.pq``, ``.xlsx``/``.xlsm``
  (the first worksheet, read with openpyxl in read-only streaming mode). A workbook or a Parquet
  file named ``.csv`` is refused by its first bytes; an old ``.xls`` workbook is refused.
- **Encoding** of text: a byte-order mark says UTF-8 or UTF-16; otherwise the sample is UTF-8
  when it decodes as UTF-8, else Windows-1251 (what Excel writes in a Russian or Kazakh locale).
  Text that is neither is refused.
- **Delimiter**: the one of ``,`` ``;`` tab ``|`` that splits the header into every required
  column. None does: the missing columns are named, with a hint when the header holds another
  candidate ("semicolon-delimited?"). Most sample rows of another width than the header: refused.
- **Decimal mark** of amounts given as text: ``.`` in comma-delimited files (a decimal comma
  there is refused per row, with the reason); in other files and workbooks, the mark the sample's
  amounts use (``1 234,56`` or ``1234.56``; thousands may be grouped by spaces or no-break
  spaces). Both marks in the sample: refused as ambiguous. No decimals in the sample: ``,`` for
  ``;``-delimited files (Excel's convention: the list separator is ``;`` where the decimal mark
  is ``,``), else ``.``, and the result says it was not seen.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from saqta.core.errors import InputError, Problem

SAMPLE_BYTES = 1 << 16
XLSX_BATCH_ROWS = 100_000
DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_GROUP = "[ \u00a0\u202f]"
_COMMA_AMOUNT = re.compile(rf"^-?([0-9]{{1,3}}({_GROUP}[0-9]{{3}})+|[0-9]+),[0-9]{{1,2}}$")
_POINT_AMOUNT = re.compile(rf"^-?([0-9]{{1,3}}({_GROUP}[0-9]{{3}})+|[0-9]+)\.[0-9]{{1,2}}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

FormatKind = Literal["csv", "parquet", "xlsx"]


@dataclass(frozen=True)
class FileFormat:
    """How a file is read: what was detected."""

    kind: FormatKind
    encoding: str | None = None  # Python codec of a text file
    delimiter: str | None = None
    decimal_mark: str = "."
    decimal_mark_seen: bool = True  # False: no amount with decimals in the sample
    sheet: str | None = None
    header: tuple[str, ...] = field(default=())
    raw_header: tuple[str, ...] = field(default=())

    @property
    def decimal_comma(self) -> bool:
        return self.decimal_mark == ","

    def as_dict(self) -> dict[str, str]:
        """What was detected, for the import's result and its run."""
        out: dict[str, str] = {"format": self.kind}
        if self.encoding is not None:
            out["encoding"] = _ENCODING_NAMES.get(self.encoding, self.encoding)
        if self.delimiter is not None:
            out["delimiter"] = self.delimiter
        if self.sheet is not None:
            out["sheet"] = self.sheet
        if self.kind != "parquet":
            out["decimal_mark"] = self.decimal_mark + (
                "" if self.decimal_mark_seen else " (no decimals seen: the file's convention)"
            )
        return out

    def describe(self) -> str:
        """One line: ``CSV, Windows-1251, delimiter ';', decimal mark ','``."""
        parts = [self.kind.upper() if self.kind != "parquet" else "Parquet"]
        if self.encoding is not None:
            parts.append(_ENCODING_NAMES.get(self.encoding, self.encoding))
        if self.delimiter is not None:
            parts.append(f"delimiter {_DELIMITER_NAMES.get(self.delimiter, self.delimiter)!s}")
        if self.sheet is not None:
            parts.append(f"sheet {self.sheet!r}")
        if self.kind != "parquet":
            seen = "" if self.decimal_mark_seen else " (no decimals seen)"
            parts.append(f"decimal mark '{self.decimal_mark}'{seen}")
        return ", ".join(parts)


_ENCODING_NAMES = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 with BOM",
    "utf-16": "UTF-16",
    "cp1251": "Windows-1251",
}


def format_kind(path: Path) -> FormatKind:
    """The format a file's name says, checked against its first bytes."""
    suffix = path.suffix.lower()
    if suffix == ".xls":
        raise InputError("an old Excel .xls workbook: save it as .xlsx or as CSV", where=str(path))
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    if suffix not in (".csv", ".txt"):
        raise InputError("unknown file type: use .csv, .parquet or .xlsx", where=str(path))
    with path.open("rb") as handle:
        head = handle.read(4)
    if head.startswith(b"PK\x03\x04"):
        raise InputError("is a ZIP archive (an .xlsx workbook?), not CSV text", where=str(path))
    if head == b"PAR1":
        raise InputError("is a Parquet file, not CSV text: name it .parquet", where=str(path))
    return "csv"


def detect(
    path: Path,
    required: Sequence[str] = (),
    money: Sequence[str] = (),
) -> FileFormat:
    """How to read ``path`` (see the module's docstring). ``required``: the columns the file
    must have (they choose the delimiter); ``money``: the amount columns (they show the decimal
    mark). Raises :class:`InputError` for a file that cannot be read without guessing."""
    kind = format_kind(path)
    if kind == "parquet":
        return FileFormat("parquet")
    if kind == "xlsx":
        return _detect_xlsx(path, money)
    return _detect_csv(path, required, money)


def _decode_sample(path: Path) -> tuple[str, str, bool]:
    """``(text, encoding, complete)`` of the file's first bytes."""
    with path.open("rb") as handle:
        raw = handle.read(SAMPLE_BYTES + 1)
    complete = len(raw) <= SAMPLE_BYTES
    raw = raw[:SAMPLE_BYTES]
    if not raw.strip():
        raise InputError("the file is empty: a header row is expected", where=str(path))
    if raw.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        try:
            codecs.getincrementaldecoder("utf-8")().decode(raw, final=complete)
            encoding = "utf-8"
        except UnicodeDecodeError:
            encoding = "cp1251"
    try:
        text = codecs.getincrementaldecoder(encoding)().decode(raw, final=complete)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"neither UTF-8 nor Windows-1251 text (byte {exc.start} cannot be read)",
            where=str(path),
        ) from exc
    bad = _CONTROL.search(text)
    if bad is not None:
        raise InputError(
            f"not text: control character {bad.group()!r} at character {bad.start()} "
            f"(read as {_ENCODING_NAMES[encoding]})",
            where=str(path),
        )
    return text, encoding, complete


def _records(text: str, delimiter: str, complete: bool, limit: int = 200) -> list[list[str]]:
    lines = text.splitlines()
    if not complete and lines:
        lines = lines[:-1]  # the last line may be cut
    rows = []
    for row in csv.reader(io.StringIO("\n".join(lines[: limit + 1])), delimiter=delimiter):
        if row:
            rows.append(row)
    return rows


def _detect_csv(path: Path, required: Sequence[str], money: Sequence[str]) -> FileFormat:
    text, encoding, complete = _decode_sample(path)
    first_line = text.lstrip("\ufeff").splitlines()[0]
    headers = {
        d: [name.strip().lstrip("\ufeff") for name in next(csv.reader([first_line], delimiter=d))]
        for d in DELIMITERS
    }
    fitting = [d for d in DELIMITERS if all(name in headers[d] for name in required)]
    if len(fitting) != 1:
        best = max(DELIMITERS, key=lambda d: (sum(n in headers[d] for n in required), d == ","))
        if len(fitting) > 1:
            best = fitting[0]
        else:
            _refuse_columns(path, headers[best], required, best, first_line)
    delimiter = fitting[0]
    header = headers[delimiter]
    rows = _records(text.lstrip("\ufeff"), delimiter, complete)[1:]
    wrong = sum(len(row) != len(header) for row in rows)
    if rows and 2 * wrong > len(rows):
        others = [
            d
            for d in DELIMITERS
            if d != delimiter and all(len(r) > 1 for r in _records(text, d, complete)[1:])
        ]
        hint = f" ({_DELIMITER_NAMES[others[0]]}-delimited rows?)" if others else ""
        raise InputError(
            f"{wrong} of the first {len(rows)} rows do not split into the header's "
            f"{len(header)} fields on {_DELIMITER_NAMES[delimiter]}s{hint}",
            where=str(path),
        )
    raw_header = tuple(next(csv.reader([first_line.lstrip("\ufeff")], delimiter=delimiter)))
    fmt = FileFormat(
        "csv",
        encoding=encoding,
        delimiter=delimiter,
        header=tuple(header),
        raw_header=raw_header,
    )
    if delimiter == ",":
        return fmt
    samples = [
        row[header.index(name)].strip()
        for name in money
        if name in header
        for row in rows
        if len(row) == len(header)
    ]
    return _with_decimal_mark(path, fmt, samples, default="," if delimiter == ";" else ".")


def _with_decimal_mark(
    path: Path, fmt: FileFormat, samples: Sequence[str], default: str
) -> FileFormat:
    comma = next((v for v in samples if _COMMA_AMOUNT.match(v)), None)
    point = next((v for v in samples if _POINT_AMOUNT.match(v)), None)
    if comma is not None and point is not None:
        raise InputError(
            f"amounts in the first rows use both decimal marks ({comma!r} and {point!r}): "
            "which one the file uses is ambiguous",
            where=str(path),
        )
    if comma is None and point is None:
        return replace(fmt, decimal_mark=default, decimal_mark_seen=False)
    return replace(fmt, decimal_mark="," if comma is not None else ".")


def _refuse_columns(
    path: Path, header: Sequence[str], required: Sequence[str], delimiter: str, line: str
) -> None:
    problems = [
        Problem(
            f"{path}: column {name}",
            "missing (expected columns: " + ", ".join(required) + ")",
        )
        for name in required
        if name not in header
    ]
    hints = [
        f"{_DELIMITER_NAMES[d]}-delimited?" for d in DELIMITERS if d != delimiter and d in line
    ]
    if hints:
        problems.append(
            Problem(
                str(path),
                f"the header read as {_DELIMITER_NAMES[delimiter]}-delimited is "
                f"{list(header)[:8]}; it also holds another delimiter: " + " ".join(hints),
            )
        )
    raise InputError(problems)


def csv_header_of(path: Path) -> list[str]:
    """The column names of a CSV file (its delimiter and encoding detected, no column
    required: the delimiter that gives the most columns)."""
    text, _, _ = _decode_sample(path)
    first_line = text.lstrip("\ufeff").splitlines()[0]
    splits = [
        [name.strip() for name in next(csv.reader([first_line], delimiter=d))] for d in DELIMITERS
    ]
    return max(splits, key=len)


# --------------------------------------------------------------------------------------------
# XLSX


def _open_sheet(path: Path) -> tuple[Any, Any]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a broken workbook
        raise InputError(f"not a readable .xlsx workbook: {exc}", where=str(path)) from exc
    if not workbook.worksheets:
        workbook.close()
        raise InputError("the workbook has no worksheet", where=str(path))
    return workbook, workbook.worksheets[0]


def _detect_xlsx(path: Path, money: Sequence[str]) -> FileFormat:
    workbook, sheet = _open_sheet(path)
    try:
        rows = sheet.iter_rows(values_only=True)
        first = next(rows, None)
        if first is None:
            raise InputError(
                "the first worksheet is empty: a header row is expected", where=str(path)
            )
        header = tuple("" if v is None else str(v).strip() for v in first)
        columns = [header.index(name) for name in money if name in header]
        samples: list[str] = []
        for _, row in zip(range(200), rows, strict=False):
            samples += [row[i].strip() for i in columns if i < len(row) and isinstance(row[i], str)]
        fmt = FileFormat("xlsx", sheet=str(sheet.title), header=header, raw_header=header)
        return _with_decimal_mark(path, fmt, samples, default=".")
    finally:
        workbook.close()


def _cell_text(value: Any, decimal_comma: bool) -> str | None:
    """A cell as the text a CSV export would hold (numbers in the file's decimal mark, dates
    ISO)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        text = repr(value)  # the shortest text that reads back as the same double
        return text.replace(".", ",") if decimal_comma else text
    return str(value)


def xlsx_batches(
    path: Path, fmt: FileFormat, names: Sequence[str]
) -> tuple[int, Iterator[tuple[pa.Array, pa.Table]]]:
    """``(rows, batches)`` of the first worksheet: the named columns as text (absent ones
    null), each batch with the data row numbers (the sheet's row minus the header). Rows with
    no value at all are skipped."""
    index = {name: fmt.header.index(name) if name in fmt.header else -1 for name in names}
    workbook, sheet = _open_sheet(path)
    total = max(0, int(sheet.max_row or 1) - 1)
    comma = fmt.decimal_comma

    def batches() -> Iterator[tuple[pa.Array, pa.Table]]:
        try:
            rows = sheet.iter_rows(min_row=2, values_only=True)
            numbers: list[int] = []
            columns: dict[str, list[str | None]] = {name: [] for name in names}
            for number, row in enumerate(rows, start=1):
                if all(v is None or (isinstance(v, str) and not v.strip()) for v in row):
                    continue
                numbers.append(number)
                for name, i in index.items():
                    value = row[i] if 0 <= i < len(row) else None
                    columns[name].append(_cell_text(value, comma))
                if len(numbers) >= XLSX_BATCH_ROWS:
                    yield _xlsx_table(numbers, columns)
                    numbers = []
                    columns = {name: [] for name in names}
            if numbers:
                yield _xlsx_table(numbers, columns)
        finally:
            workbook.close()

    return total, batches()


def _xlsx_table(
    numbers: list[int], columns: dict[str, list[str | None]]
) -> tuple[pa.Array, pa.Table]:
    rows = pa.array(np.asarray(numbers, dtype=np.int64), pa.int64())
    return rows, pa.table({name: pa.array(values, pa.string()) for name, values in columns.items()})
