"""The discipline every import into the Fund's facts lake follows (persons, state categories,
payments): read in batches, check every row with vectorised checks, accept or quarantine, and
commit one file as one transaction.

For each file:

1. Its SHA-256 is computed. A file of the same kind with the same SHA-256 already imported is a
   no-op that says so.
2. The file is read in batches (CSV with every column as text, or Parquet with its own types);
   a missing required column refuses the whole file, naming the file and the column.
3. Each batch is converted field by field (text, date, month, money, boolean, integer): a value
   that does not convert is a ``schema`` problem naming the row and the field. The kind's own
   checks follow. Every rejected row goes to the quarantine with each of its problems (row,
   field, reason code, message, the value as read); read = accepted + quarantined always holds.
4. Accepted rows are staged in a lake transaction; then, holding the lake's writer lock, the
   system of record records the import (counts, quarantine, the run with the file's SHA-256 and
   the rule-set version) in one database transaction, and only then are the staged files moved
   into the lake. A crash before the database commit leaves nothing; a crash after it is
   finished by the next command that touches the lake (:func:`settle_lake`, which asks the
   database which lake transactions were committed), before anything reads the lake: the same
   import run again first finishes the interrupted one, then says "already imported".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from sqlalchemy import Engine, and_, case, func, insert, select, update
from sqlalchemy.orm import Session

from saqta.core.errors import InputError, Problem, SaqtaError, StoreError
from saqta.core.faults import crash_point
from saqta.core.periods import calendar_days
from saqta.core.rules import RuleSet, load_rules
from saqta.core.version import code_version
from saqta.mshi.intake._checks import QUARANTINE_SCHEMA, Problems, to_numpy_bool
from saqta.mshi.intake._formats import (
    FileFormat,
    FormatKind,
    csv_header_of,
    detect,
    format_kind,
    xlsx_batches,
)
from saqta.mshi.models import ImportedFile, ImportKind, ImportRetry, QuarantinedRow
from saqta.store.db import session_scope
from saqta.store.lake import FactsLake, LakeTransaction
from saqta.store.models import RunStatus
from saqta.store.registry import fail_interrupted_runs, finish_run, start_run

FieldType = Literal["text", "date", "month", "money", "bool", "int"]
Progress = Callable[[int, int], None]

BATCH_ROWS = 1_000_000
"""Rows per batch read from a Parquet file (CSV batches are about 16 MB of text)."""

_CSV_BLOCK = 16 << 20
_MONEY = pa.decimal128(18, 2)
_MONEY_LIMIT = 10**16  # decimal128(18, 2) holds less than 10^16 tenge
_GROUP_SEPARATOR = "[ \u00a0\u202f]"  # space, no-break space, narrow no-break space
_DATE_TEXT = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_DOTTED_DATE = r"^([0-9]{2})\.([0-9]{2})\.([0-9]{4})$"  # DD.MM.YYYY
_MONTH_TEXT = r"^[0-9]{4}-[0-9]{2}(-01)?$"
_DOTTED_MONTH = r"^(?:01\.)?([0-9]{2})\.([0-9]{4})$"  # MM.YYYY or 01.MM.YYYY
_INT_TEXT = r"^-?[0-9]{1,9}$"
_TRUE = ("true", "1", "yes", "t", "y")
_FALSE = ("false", "0", "no", "f", "n")
_QUARANTINE_CHUNK = 5_000
HELD_DIR = "_quarantine"
"""Lake folder of the raw values of every import's rejected rows (one Parquet file per import,
committed with it), from which ``retry`` processes them again."""
HELD_ROW = "__row"
_DECIMAL_MARK_KEY = b"saqta.decimal_mark"


@dataclass(frozen=True)
class FieldSpec:
    """One input field: its name in the file, its type, whether it may be empty."""

    name: str
    type: FieldType
    required: bool = True
    optional_column: bool = False  # the file may lack the column (all values null)


@dataclass
class ImportResult:
    """What came of one file: counts that reconcile, and where the rows went."""

    file: Path
    kind: str
    sha256: str
    read: int = 0
    accepted: int = 0
    quarantined: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    import_id: int | None = None
    run_id: int | None = None
    already_imported: bool = False
    previous_import_at: datetime | None = None
    lake_files: list[str] = field(default_factory=list)
    seconds: float = 0.0
    detected: dict[str, str] = field(default_factory=dict)  # how the file was read

    def summary(self) -> dict[str, Any]:
        return {
            "file": self.file.name,
            "detected": self.detected,
            "read": self.read,
            "accepted": self.accepted,
            "quarantined": self.quarantined,
            "by_reason": self.by_reason,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class RetryResult:
    """What came of one retry of an import's quarantined rows, and the import's counts after
    it (over the import and every retry: read = accepted + quarantined)."""

    import_id: int
    file: str
    kind: str
    retry_id: int | None = None
    run_id: int | None = None
    read: int = 0  # rows processed again
    accepted: int = 0
    quarantined: int = 0  # quarantined again
    not_retryable: int = 0  # open rows with no values to process (wrong number of fields)
    by_reason: dict[str, int] = field(default_factory=dict)
    total_read: int = 0
    total_accepted: int = 0
    total_quarantined: int = 0
    lake_files: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def nothing_to_retry(self) -> bool:
        """No row was open (and retryable): nothing was read again."""
        return self.read == 0

    @property
    def recorded(self) -> bool:
        """Whether the retry changed anything (it accepted rows): only then is it recorded."""
        return self.retry_id is not None

    def summary(self) -> dict[str, Any]:
        return {
            "import_id": self.import_id,
            "file": self.file,
            "read": self.read,
            "accepted": self.accepted,
            "quarantined": self.quarantined,
            "by_reason": self.by_reason,
            "total": {
                "read": self.total_read,
                "accepted": self.total_accepted,
                "quarantined": self.total_quarantined,
            },
        }


class _HeldRows:
    """The raw values of an import's rejected rows, written in its lake transaction as
    ``_quarantine/<kind>/<transaction>.parquet`` (with the file's decimal mark in the file's
    metadata), so that a retry can process them again after the original file is gone."""

    def __init__(self, transaction: LakeTransaction, kind: ImportKind, decimal_mark: str) -> None:
        self.transaction = transaction
        self.relative = f"{HELD_DIR}/{kind.value}/{transaction.id}.parquet"
        self.metadata = {_DECIMAL_MARK_KEY: decimal_mark.encode()}
        self.writer: pq.ParquetWriter | None = None

    def add(self, table: pa.Table) -> None:
        if self.writer is None:
            schema = table.schema.with_metadata(self.metadata)
            path = self.transaction.path_for(self.relative)
            self.writer = pq.ParquetWriter(path, schema, compression="zstd")
        if table.schema != self.writer.schema:
            table = table.cast(self.writer.schema)
        self.writer.write_table(table)

    def close(self, *, quietly: bool = False) -> None:
        if self.writer is None:
            return
        try:
            self.writer.close()
        except (OSError, pa.ArrowException):
            if not quietly:
                raise
        self.writer = None


@dataclass
class Batch:
    """A batch of input rows converted to typed columns, with the problems found so far."""

    columns: dict[str, pa.Array]
    problems: Problems
    raw: dict[str, pa.Array]
    rows: pa.Array  # the 1-based data row in the file of each row

    @property
    def size(self) -> int:
        return self.problems.size


class Validator:
    """The kind-specific part of an import: fields, checks, the lake dataset written."""

    kind: ImportKind
    fields: Sequence[FieldSpec]
    dataset: str
    partition_by: Sequence[str] = ()
    dictionary_columns: bool | Sequence[str] = True

    def start(self, import_: Importer, transaction: LakeTransaction) -> None:
        """Called once the lake is locked, before the first batch."""

    def check(self, batch: Batch) -> pa.Table:
        """Add the kind's problems to ``batch.problems``; return the rows to write (all rows;
        the caller keeps those not rejected)."""
        raise NotImplementedError

    def finish(self, transaction: LakeTransaction) -> None:
        """Called after the last batch, before the transaction is prepared."""

    def committed(self, lake: FactsLake, files: list[Path]) -> None:
        """Called after the transaction is committed, with the files now in the lake (for
        derived files that can be built again from them)."""


_RULES: dict[tuple[Any, ...], RuleSet] = {}


def rules_now() -> RuleSet:
    """The rules in force (loaded once and cached while no rule file changes)."""
    from saqta.core.rules import default_rule_dirs

    files = sorted(
        (str(path), path.stat().st_mtime_ns)
        for folder in default_rule_dirs()
        for path in folder.rglob("*.yaml")
    )
    key = tuple(files)
    if key not in _RULES:
        _RULES.clear()
        _RULES[key] = load_rules()
    return _RULES[key]


def rules_version_now() -> str:
    """The version of the rules in force (cached while no rule file changes)."""
    return rules_now().version


def sha256_of(path: Path) -> str:
    """The SHA-256 (hex) of a file's content."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# Reading


def file_format(path: Path) -> FormatKind:
    """``csv``, ``parquet`` or ``xlsx``, by the file's name (checked against its first bytes)."""
    return format_kind(path)


def csv_header(path: Path) -> list[str]:
    """The column names of a CSV file (encoding and delimiter detected)."""
    return csv_header_of(path)


def column_names(path: Path) -> list[str]:
    """The column names of a CSV, Parquet or XLSX file."""
    kind = format_kind(path)
    if kind == "parquet":
        try:
            return list(pq.read_schema(path).names)
        except (OSError, pa.ArrowException) as exc:
            raise InputError(f"not a readable Parquet file: {exc}", where=str(path)) from exc
    if kind == "xlsx":
        return list(detect(path).header)
    return csv_header_of(path)


def _check_columns(path: Path, names: Sequence[str], fields: Sequence[FieldSpec]) -> None:
    missing = [spec.name for spec in fields if spec.name not in names and not spec.optional_column]
    if missing:
        raise InputError(
            [
                Problem(
                    f"{path}: column {name}",
                    "missing (expected columns: " + ", ".join(spec.name for spec in fields) + ")",
                )
                for name in missing
            ]
        )


def detect_format(path: Path, fields: Sequence[FieldSpec]) -> FileFormat:
    """How to read ``path`` for these fields (see :mod:`saqta.mshi.intake._formats`)."""
    return detect(
        path,
        required=[spec.name for spec in fields if not spec.optional_column],
        money=[spec.name for spec in fields if spec.type == "money"],
    )


def _with_absent(table: pa.Table, names: Sequence[str]) -> pa.Table:
    """The table with a null text column for each of ``names`` it lacks (optional columns)."""
    for name in names:
        if name not in table.column_names:
            table = table.append_column(name, pa.nulls(table.num_rows, pa.string()))
    return table


def read_batches(
    path: Path,
    fields: Sequence[FieldSpec],
    invalid_out: list[pa.Table],
    fmt: FileFormat | None = None,
) -> tuple[int, Iterator[tuple[pa.Array, pa.Table]]]:
    """``(total, batches)``: the row count (for CSV an estimate from the file size) and an
    iterator of ``(file rows, table of the fields)``. CSV rows of the wrong width are added to
    ``invalid_out`` as quarantine entries (field ``(row)``, reason ``schema``) and skipped; row
    numbers stay those of the file's data rows. ``fmt``: how to read the file (detected when not
    given)."""
    fmt = fmt if fmt is not None else detect_format(path, fields)
    names = [spec.name for spec in fields]
    if fmt.kind == "parquet":
        try:
            parquet = pq.ParquetFile(path)
        except (OSError, pa.ArrowException) as exc:
            raise InputError(f"not a readable Parquet file: {exc}", where=str(path)) from exc
        present = parquet.schema_arrow.names
        _check_columns(path, present, fields)
        readable = [name for name in names if name in present]

        def parquet_batches() -> Iterator[tuple[pa.Array, pa.Table]]:
            first = 1
            for record_batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=readable):
                table = _with_absent(pa.Table.from_batches([record_batch]), names)
                rows = np.arange(first, first + table.num_rows, dtype=np.int64)
                yield pa.array(rows, pa.int64()), table
                first += table.num_rows

        return parquet.metadata.num_rows, parquet_batches()

    if fmt.kind == "xlsx":
        _check_columns(path, fmt.header, fields)
        return xlsx_batches(path, fmt, names)

    header = list(fmt.header)
    _check_columns(path, header, fields)
    invalid: list[tuple[int, str]] = []

    def on_invalid(row: Any) -> str:
        invalid.append(
            (
                int(row.number or 0),
                f"expected {row.expected_columns} columns, got {row.actual_columns}",
            )
        )
        return "skip"

    # the header's names as detected (trimmed); Arrow reads the rows after it
    unique = [name if header.index(name) == i else f"\x00{i}" for i, name in enumerate(header)]
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(
                use_threads=False,
                block_size=_CSV_BLOCK,
                column_names=unique,
                skip_rows=1,
                encoding="utf8" if fmt.encoding in ("utf-8", "utf-8-sig") else str(fmt.encoding),
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=fmt.delimiter or ",", invalid_row_handler=on_invalid
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in unique},
                include_columns=[name for name in names if name in header],
                strings_can_be_null=True,
                null_values=[""],
            ),
        )
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"not a readable CSV file: {exc}", where=str(path)) from exc

    def csv_batches() -> Iterator[tuple[pa.Array, pa.Table]]:
        valid_before = 0
        reported = 0
        try:
            for record_batch in reader:
                table = _with_absent(pa.Table.from_batches([record_batch]), names)
                # data row of the k-th valid row: k + the invalid rows that come before it
                lines = np.array(sorted(line - 1 for line, _ in invalid), dtype=np.int64)
                shifted = lines - np.arange(1, lines.size + 1)
                k = np.arange(valid_before + 1, valid_before + table.num_rows + 1)
                rows = k + np.searchsorted(shifted, k, side="left")
                valid_before += table.num_rows
                if len(invalid) > reported:
                    fresh = invalid[reported:]
                    reported = len(invalid)
                    invalid_out.append(
                        pa.table(
                            {
                                "row": pa.array([line - 1 for line, _ in fresh], pa.int64()),
                                "field": pa.array(["(row)"] * len(fresh)),
                                "reason": pa.array(["schema"] * len(fresh)),
                                "message": pa.array([text for _, text in fresh]),
                                "value": pa.nulls(len(fresh), pa.string()),
                            },
                            schema=QUARANTINE_SCHEMA,
                        )
                    )
                yield pa.array(rows, pa.int64()), table
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            raise InputError(
                f"cannot parse the CSV file (read as {fmt.describe()}): {exc}", where=str(path)
            ) from exc

    size = path.stat().st_size
    header_bytes = len(",".join(header)) + 1
    estimate = max(0, (size - header_bytes) // max(1, 8 * len(header) + 1))
    return estimate, csv_batches()


# --------------------------------------------------------------------------------------------
# Converting fields


def _text(values: pa.Array) -> pa.Array:
    if pa.types.is_string(values.type):
        return values
    if pa.types.is_large_string(values.type) or pa.types.is_dictionary(values.type):
        return values.cast(pa.string())
    return pc.cast(values, pa.string())


def convert(
    spec: FieldSpec, values: pa.Array, problems: Problems, *, decimal_comma: bool = False
) -> pa.Array:
    """Convert one column to its type; record a ``schema`` problem for each value that does not
    convert (and ``missing`` for an empty required value, ``impossible_date`` for a date that is
    not a day of the calendar, ``inexact_amount`` for a typed amount that is not exact to the
    tiyn). Bad values become null. ``decimal_comma``: amounts given as text use ``,`` as their
    decimal mark (the file's detected mark)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    missing = to_numpy_bool(values.is_null())
    if spec.required:
        problems.add(missing, spec.name, "missing", f"{spec.name} is empty")
    kind = spec.type
    if pa.types.is_dictionary(values.type):
        if kind == "text":  # checked once per distinct value, kept encoded
            dictionary = pc.utf8_trim_whitespace(_text(values.dictionary))
            indices = pc.fill_null(values.indices.cast(pa.int64()), -1).to_numpy(
                zero_copy_only=False
            )
            empty = to_numpy_bool(pc.equal(dictionary, ""))[np.maximum(indices, 0)]
            if spec.required:
                problems.add(empty & (indices >= 0), spec.name, "missing", f"{spec.name} is empty")
            return pa.DictionaryArray.from_arrays(values.indices, dictionary)
        values = values.cast(values.type.value_type)
    out: pa.Array
    bad: np.ndarray
    if kind == "text":
        out = _text(values)
        text = pc.utf8_trim_whitespace(out)
        empty = to_numpy_bool(pc.equal(text, ""))
        if spec.required:
            problems.add(empty, spec.name, "missing", f"{spec.name} is empty")
        return text
    if kind in ("date", "month"):
        return _convert_date(spec, values, missing, problems)
    if kind == "money":
        return _convert_money(spec, values, missing, problems, decimal_comma)
    if kind == "bool":
        if pa.types.is_boolean(values.type):
            return values
        text = pc.utf8_lower(pc.utf8_trim_whitespace(_text(values)))
        true = to_numpy_bool(pc.is_in(text, pa.array(_TRUE)))
        false = to_numpy_bool(pc.is_in(text, pa.array(_FALSE)))
        bad = ~missing & ~true & ~false
        problems.add(bad, spec.name, "schema", "expected true or false", values)
        return pc.if_else(pa.array(true | false), pa.array(true), pa.scalar(None, pa.bool_()))
    if kind == "int":
        if pa.types.is_integer(values.type):
            return values.cast(pa.int32())
        text = pc.utf8_trim_whitespace(_text(values))
        shaped = to_numpy_bool(pc.match_substring_regex(text, _INT_TEXT))
        bad = ~missing & ~shaped
        problems.add(bad, spec.name, "schema", "expected a whole number", values)
        safe = pc.if_else(pa.array(shaped), text, pa.scalar("0", pa.string()))
        return pc.if_else(pa.array(shaped), safe.cast(pa.int32()), pa.scalar(None, pa.int32()))
    raise ValueError(f"unknown field type {kind}")  # pragma: no cover


def _match(text: pa.Array, pattern: str) -> np.ndarray:
    return to_numpy_bool(pc.match_substring_regex(text, pattern))


def _digits(text: pa.Array, start: int, stop: int) -> np.ndarray:
    part = pc.utf8_slice_codeunits(text, start, stop)
    return np.asarray(part.cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)


def _convert_date(
    spec: FieldSpec, values: pa.Array, missing: np.ndarray, problems: Problems
) -> pa.Array:
    """A date (``YYYY-MM-DD`` or ``DD.MM.YYYY``) or month (``YYYY-MM``, its first day, or
    ``MM.YYYY``) column as date32. The text is checked against the calendar itself (year, month,
    day as numbers): a day that does not exist (30 February, 31 June) is ``impossible_date``,
    never moved into the next month."""
    kind = spec.type
    if pa.types.is_date32(values.type) or pa.types.is_timestamp(values.type):
        out = values.cast(pa.date32())
        bad = np.zeros(len(values), dtype=bool)
    else:
        text = pc.utf8_trim_whitespace(_text(values))
        iso = _match(text, _DATE_TEXT if kind == "date" else _MONTH_TEXT)
        dotted = np.zeros(len(values), dtype=bool)
        if not (iso | missing).all():  # the other forms only when some value needs them
            dotted = _match(text, _DOTTED_DATE if kind == "date" else _DOTTED_MONTH)
        if dotted.any():
            if kind == "date":
                text = pc.replace_substring_regex(text, _DOTTED_DATE, r"\3-\2-\1")
            else:
                text = pc.replace_substring_regex(text, _DOTTED_MONTH, r"\2-\1-01")
        if kind == "month":
            text = pc.replace_substring_regex(text, r"^([0-9]{4})-([0-9]{2})$", r"\1-\2-01")
        shaped = iso | dotted
        safe = pc.if_else(pa.array(shaped), text, pa.scalar("1970-01-01", pa.string()))
        year, month, day = _digits(safe, 0, 4), _digits(safe, 5, 7), _digits(safe, 8, 10)
        real, days = calendar_days(year, month, day)
        in_range = (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= 31)
        impossible = ~missing & shaped & in_range & ~real
        bad = ~missing & ~(shaped & real)
        problems.add(
            impossible,
            spec.name,
            "impossible_date",
            f"{spec.name}: no such day in the calendar (the month has fewer days); "
            "a date is never moved into the next month",
            values,
        )
        bad_shape = bad & ~impossible
        if kind == "date":
            problems.add(
                bad_shape, spec.name, "schema", "expected a date YYYY-MM-DD (or DD.MM.YYYY)", values
            )
        else:
            problems.add(bad_shape, spec.name, "schema", "expected a month YYYY-MM", values)
        ok = shaped & real & ~missing
        stored = pa.array(np.where(ok, days, 0).astype(np.int32), pa.int32()).cast(pa.date32())
        return pc.if_else(pa.array(ok), stored, pa.scalar(None, pa.date32()))
    if kind == "month":
        not_first = ~missing & (to_numpy_bool(pc.not_equal(pc.day(out), 1)))
        problems.add(
            not_first, spec.name, "schema", "expected a month YYYY-MM (or its first day)", values
        )
        bad |= not_first
    return pc.if_else(pa.array(~bad), out, pa.scalar(None, pa.date32()))


def money_from_cents(cents: np.ndarray) -> pa.Array:
    """Whole tiyn (int64) as exact ``decimal128(18, 2)`` tenge, without any float or text."""
    cents = np.ascontiguousarray(cents, dtype=np.int64)
    words = np.empty((cents.size, 2), dtype=np.int64)  # little-endian 128-bit integers
    words[:, 0] = cents
    words[:, 1] = cents >> 63
    return pa.Array.from_buffers(_MONEY, cents.size, [None, pa.py_buffer(words)])


def _convert_money(
    spec: FieldSpec,
    values: pa.Array,
    missing: np.ndarray,
    problems: Problems,
    decimal_comma: bool,
) -> pa.Array:
    """An amount column as exact ``decimal128(18, 2)`` tenge.

    - integers of any width (whole tenge) are exact;
    - decimals of any scale are accepted when exact to the tiyn (``12.3400``), else
      ``inexact_amount``;
    - floating point is accepted per value when the value is exactly the double nearest to an
      amount in tiyn (``5478.3``, as a spreadsheet writes it) and small enough that no two
      amounts in tiyn share a double; otherwise ``inexact_amount``. NaN and infinities are
      ``schema``;
    - text: ``1234.56`` (or ``1234,56`` when the file's decimal mark is a comma), thousands
      grouped by spaces or no-break spaces allowed (``1 234,56``).
    Anything of 10^16 tenge or more does not fit and is ``schema``."""
    name = spec.name
    n = len(values)
    cents = np.zeros(n, dtype=np.int64)
    ok = np.zeros(n, dtype=bool)
    too_large = f"{name}: 10^16 tenge or more does not fit an amount"
    if pa.types.is_integer(values.type):
        whole = np.asarray(pc.fill_null(values, 0).to_numpy(zero_copy_only=False))
        if pa.types.is_unsigned_integer(values.type):
            fits = whole < _MONEY_LIMIT
        else:
            whole = whole.astype(np.int64)
            fits = (whole < _MONEY_LIMIT) & (whole > -_MONEY_LIMIT)
        cents = np.where(fits, whole, 0).astype(np.int64) * 100
        ok = ~missing & fits
        problems.add(~missing & ~fits, name, "schema", too_large, values)
    elif pa.types.is_floating(values.type):
        floats = np.asarray(pc.fill_null(values, 0).to_numpy(zero_copy_only=False))
        limit = 0.01 * 2.0 ** np.finfo(floats.dtype).nmant  # beyond, doubles skip tiyn
        wide = floats.astype(np.float64)
        finite = np.isfinite(wide)
        small = finite & (np.abs(np.where(finite, wide, 0)) < limit)
        rounded = np.round(np.where(small, wide, 0) * 100)
        exact = small & ((rounded / 100).astype(floats.dtype) == floats)
        cents = np.where(exact, rounded, 0).astype(np.int64)
        ok = ~missing & exact
        problems.add(~missing & ~finite, name, "schema", "not a number", values)
        problems.add(
            ~missing & finite & ~exact,
            name,
            "inexact_amount",
            f"{name}: a floating-point value that is not exactly an amount in tiyn "
            f"(or {limit:,.0f} tenge or more, where floating point cannot tell tiyn apart)",
            values,
        )
    elif (
        pa.types.is_decimal128(values.type)
        and values.type.scale <= 2
        and values.type.precision - values.type.scale <= 16
    ):  # every value is exact to the tiyn and fits (the usual decimal(18, 2))
        return values if values.type == _MONEY else values.cast(_MONEY)
    elif pa.types.is_decimal(values.type):
        scale = values.type.scale
        wide_type = pa.decimal256(76, max(scale, 2))
        wide = values.cast(wide_type)
        rounded = pc.round(wide, 2)
        exact = to_numpy_bool(pc.equal(rounded, wide))
        fits = to_numpy_bool(pc.less(pc.abs(wide), pa.scalar(Decimal(_MONEY_LIMIT), wide_type)))
        ok = ~missing & exact & fits
        problems.add(~missing & ~fits, name, "schema", too_large, values)
        problems.add(
            ~missing & fits & ~exact,
            name,
            "inexact_amount",
            f"{name}: more precise than the tiyn (2 decimals)",
            values,
        )
        zero = pa.scalar(Decimal(0), wide_type)
        exact_values = pc.if_else(pa.array(ok), rounded, zero).cast(_MONEY)
        return pc.if_else(pa.array(ok), exact_values, pa.scalar(None, _MONEY))
    else:
        text = pc.utf8_trim_whitespace(_text(values))
        mark, other = (",", ".") if decimal_comma else (".", ",")
        ok = ~missing & _match(text, _amount_pattern(mark))
        normal = text
        rest = ~missing & ~ok
        if rest.any():  # thousands grouped by spaces, only when some value needs it
            grouped = rest & _match(text, _amount_pattern(mark, grouped=True))
            if grouped.any():
                normal = pc.replace_substring_regex(text, _GROUP_SEPARATOR, "")
                ok |= grouped & _match(normal, _amount_pattern(mark))
        if decimal_comma:
            normal = pc.replace_substring(normal, ",", ".")
        rest = ~missing & ~ok
        other_mark = np.zeros(len(values), dtype=bool)
        if rest.any():
            other_mark = rest & (
                _match(text, _amount_pattern(other))
                | _match(text, _amount_pattern(other, grouped=True))
            )
        problems.add(
            other_mark,
            name,
            "schema",
            f"{name}: the decimal mark of this file is '{mark}', this amount uses '{other}'"
            + ("" if decimal_comma else " (a decimal comma is read in ;-delimited files)"),
            values,
        )
        problems.add(
            rest & ~other_mark,
            name,
            "schema",
            f"expected an amount in tenge with at most 2 decimals, like 1234{mark}56",
            values,
        )
        safe = pc.if_else(pa.array(ok), normal, pa.scalar("0", pa.string()))
        return pc.if_else(pa.array(ok), safe.cast(_MONEY), pa.scalar(None, _MONEY))
    return pc.if_else(pa.array(ok), money_from_cents(cents), pa.scalar(None, _MONEY))


def _amount_pattern(mark: str, *, grouped: bool = False) -> str:
    """An amount of at most 16 digits before ``mark``, its decimal mark, and at most 2 after;
    its thousands grouped by spaces or not."""
    decimals = "(" + re.escape(mark) + "[0-9]{1,2})?$"
    if grouped:
        return r"^-?[0-9]{1,3}(" + _GROUP_SEPARATOR + r"[0-9]{3}){1,5}" + decimals
    return r"^-?[0-9]{1,16}" + decimals


# --------------------------------------------------------------------------------------------
# The import of one file


def lake_commits(engine: Engine) -> Callable[[str], bool]:
    """For :meth:`FactsLake.recover`: whether the system of record committed a lake transaction
    (an import, a retry, or a paid refund's outflow)."""
    from saqta.mshi.models import RefundEvent

    def committed(txid: str) -> bool:
        with session_scope(engine) as session:
            found = session.scalar(
                select(ImportedFile.id).where(ImportedFile.lake_transaction == txid)
            )
            if found is None:
                found = session.scalar(
                    select(ImportRetry.id).where(ImportRetry.lake_transaction == txid)
                )
            if found is None:
                found = session.scalar(
                    select(RefundEvent.id).where(RefundEvent.lake_transaction == txid)
                )
        return found is not None

    return committed


INTERRUPTED = "interrupted: the process stopped before the run finished (found by recovery)"
"""The reason recorded on a run whose process died while it held the lake."""


def _interrupted(engine: Engine) -> Callable[[list[int]], None]:
    def record(run_ids: list[int]) -> None:
        with session_scope(engine) as session:
            fail_interrupted_runs(session, run_ids, INTERRUPTED)

    return record


class _Lazy:
    """The system of record, opened only when a lake has something to recover."""

    def __init__(self, engine: Engine | None) -> None:
        self._engine = engine

    def get(self) -> Engine:
        if self._engine is None:
            from saqta.store.db import make_engine, upgrade

            self._engine = make_engine()
            upgrade(self._engine)
        return self._engine

    def committed(self, txid: str) -> bool:
        return lake_commits(self.get())(txid)

    def interrupted(self, run_ids: list[int]) -> None:
        _interrupted(self.get())(run_ids)


def settle_lake(lake: FactsLake | Path | str, engine: Engine | None = None) -> FactsLake:
    """The lake, safe to use: every command that reads or writes the lake starts here.

    Finishes (rolls forward) the lake transactions the system of record committed, undoes the
    others, deletes staging folders, and records as failed the runs that were killed while they
    held the lake (:meth:`FactsLake.settle`). ``engine`` is the system of record (default: the
    configured one, opened only if there is something to recover)."""
    lake = lake if isinstance(lake, FactsLake) else FactsLake(lake)
    lazy = _Lazy(engine)
    lake.settle(lazy.committed, lazy.interrupted)
    return lake


def recover_lake(lake: FactsLake, engine: Engine) -> dict[str, list[str]]:
    """:func:`settle_lake` for a writer that already holds ``lake.lock()``."""
    return lake.recover(lake_commits(engine), _interrupted(engine))


def previous_import(engine: Engine, kind: ImportKind, sha256: str) -> ImportedFile | None:
    with session_scope(engine) as session:
        return session.scalar(
            select(ImportedFile).where(ImportedFile.kind == kind, ImportedFile.sha256 == sha256)
        )


def next_loaded_seq(engine: Engine) -> int:
    with session_scope(engine) as session:
        current = session.scalar(select(func.max(ImportedFile.loaded_seq)))
    return int(current or 0) + 1


class Importer:
    """Imports files of one kind into a lake and a system of record."""

    def __init__(
        self,
        engine: Engine,
        lake: FactsLake,
        validator: Validator,
        *,
        today: dt.date | None = None,
    ) -> None:
        self.engine = engine
        self.lake = lake
        self.validator = validator
        self.today = today or dt.date.today()
        self.loaded_seq: int | None = None
        self.sha = ""
        self.decimal_comma = False

    def import_file(self, path: Path | str, progress: Progress | None = None) -> ImportResult:
        """Import one file as one transaction (see the module's docstring)."""
        path = Path(path)
        started = time.perf_counter()
        if not path.is_file():
            raise InputError("no such file", where=str(path))
        validator = self.validator
        sha = sha256_of(path)
        self.sha = sha
        result = ImportResult(file=path, kind=validator.kind.value, sha256=sha)
        settle_lake(self.lake, self.engine)  # "already imported" must mean "in the lake"
        earlier = previous_import(self.engine, validator.kind, sha)
        if earlier is not None:
            return self._already(result, earlier, started)
        invalid: list[pa.Table] = []
        found: list[pa.Table] = []
        fmt = detect_format(path, validator.fields)
        result.detected = fmt.as_dict()
        self.decimal_comma = fmt.decimal_comma
        total, batches = read_batches(path, validator.fields, invalid, fmt)
        rules_version = rules_version_now()
        with self.lake.lock():
            recover_lake(self.lake, self.engine)
            earlier = previous_import(self.engine, validator.kind, sha)
            if earlier is not None:
                return self._already(result, earlier, started)
            transaction = self.lake.begin()
            held = _HeldRows(transaction, validator.kind, fmt.decimal_mark)
            try:
                self.loaded_seq = next_loaded_seq(self.engine)
                validator.start(self, transaction)
                crash_point("import.before_staging")
                self._run_batches(transaction, batches, total, progress, result, found, held)
                validator.finish(transaction)
                held.close()
                result.read += sum(table.num_rows for table in invalid)
                quarantine = self._reconcile(result, invalid + found, str(path))
                transaction.prepare()
                result.lake_files = list(transaction.files)
                self._record(result, path, transaction.id, quarantine, rules_version)
                crash_point("import.committed")
            except BaseException as exc:
                held.close(quietly=True)
                transaction.abort()
                if isinstance(exc, SaqtaError | OSError | pa.ArrowException):
                    self._record_failure(path, sha, rules_version, exc)
                raise
            committed = transaction.commit()
        validator.committed(self.lake, committed)
        result.seconds = time.perf_counter() - started
        return result

    def retry(self, import_id: int, progress: Progress | None = None) -> RetryResult:
        """Process again the rows of import ``import_id`` still open in the quarantine, from the
        raw values kept in the lake, as one transaction (like an import): rows accepted now go
        to the lake (``source_file`` and ``source_row`` of the original file) and their
        quarantine entries are resolved (``accepted``, with this retry's id); rows refused again
        get new entries naming this retry, and their old ones are resolved as
        ``quarantined_again``. Nothing open (``nothing_to_retry``), or nothing accepted: nothing
        is recorded and the quarantine stays as it was (the result still gives what each row
        failed on now)."""
        started = time.perf_counter()
        validator = self.validator
        with session_scope(self.engine) as session:
            record = session.get(ImportedFile, import_id)
        if record is None:
            raise InputError("no such import", where=f"import {import_id}")
        if record.kind is not validator.kind:
            raise InputError(
                f"is an import of {record.kind.value}, not {validator.kind.value}",
                where=f"import {import_id}",
            )
        where = f"import {import_id} ({record.file_name})"
        result = RetryResult(import_id, record.file_name, record.kind.value)
        rules_version = rules_version_now()
        with self.lake.lock():
            recover_lake(self.lake, self.engine)
            open_rows, wrong_width = _open_rows(self.engine, import_id)
            result.not_retryable = wrong_width
            if open_rows.size == 0:
                _totals(self.engine, record, result)
                result.seconds = time.perf_counter() - started
                return result
            table, decimal_mark = self._held_rows(record, open_rows, where)
            self.sha = record.sha256
            self.loaded_seq = record.loaded_seq
            self.decimal_comma = decimal_mark == ","
            transaction = self.lake.begin()
            try:
                validator.start(self, transaction)
                found: list[pa.Table] = []
                batches = (
                    (
                        part.column(HELD_ROW).combine_chunks(),
                        part.drop_columns([HELD_ROW]),
                    )
                    for part in (
                        table.slice(start, BATCH_ROWS)
                        for start in range(0, table.num_rows, BATCH_ROWS)
                    )
                )
                self._run_batches(
                    transaction, batches, table.num_rows, progress, result, found, None
                )
                validator.finish(transaction)
                quarantine = self._reconcile(result, found, where)
                if result.accepted == 0:  # nothing changes: nothing is recorded
                    transaction.abort()
                    _totals(self.engine, record, result)
                    result.seconds = time.perf_counter() - started
                    return result
                transaction.prepare()
                result.lake_files = list(transaction.files)
                self._record_retry(record, result, transaction.id, quarantine, rules_version)
                crash_point("retry.committed")
            except BaseException:
                transaction.abort()
                raise
            committed = transaction.commit()
        validator.committed(self.lake, committed)
        result.seconds = time.perf_counter() - started
        return result

    def _held_rows(
        self, record: ImportedFile, open_rows: np.ndarray, where: str
    ) -> tuple[pa.Table, str]:
        """The raw values of the open rows (sorted by row), and the file's decimal mark."""
        held = [name for name in record.lake_files if name.startswith(f"{HELD_DIR}/")]
        if not held:
            raise InputError(
                "kept no copy of its quarantined rows (imported before rows were kept for "
                "retries): import the corrected rows as a new file",
                where=where,
            )
        paths = [self.lake.root / name for name in held]
        try:
            table = pq.read_table(paths[0]) if len(paths) == 1 else pq.read_table(paths)
        except (OSError, pa.ArrowException) as exc:
            raise StoreError(f"cannot read the kept rows: {exc}", where=where) from exc
        metadata = table.schema.metadata or {}
        decimal_mark = metadata.get(_DECIMAL_MARK_KEY, b".").decode()
        table = table.filter(pc.is_in(table.column(HELD_ROW), pa.array(open_rows, pa.int64())))
        table = table.sort_by(HELD_ROW)
        if table.num_rows != open_rows.size:
            raise StoreError(
                f"the kept rows hold {table.num_rows} of the {open_rows.size} open rows",
                where=where,
            )
        return table, decimal_mark

    def _record_retry(
        self,
        record: ImportedFile,
        result: RetryResult,
        txid: str,
        quarantine: pa.Table,
        rules_version: str,
    ) -> None:
        """In one database transaction: the retry, its run, its quarantine entries, the old
        entries resolved, and the check that the import's counts still reconcile."""
        with session_scope(self.engine) as session:
            run = start_run(
                session,
                f"mshi.retry.{self.validator.kind.value}",
                {"file": record.sha256},
                rules_version,
                code_version(),
            )
            retry = ImportRetry(
                import_id=record.id,
                retried_at=datetime.now(UTC),
                rows_read=result.read,
                rows_accepted=result.accepted,
                rows_quarantined=result.quarantined,
                lake_transaction=txid,
                lake_files=list(result.lake_files),
                run_id=run.id,
            )
            session.add(retry)
            session.flush()
            still_open = np.unique(quarantine.column("row").to_numpy(zero_copy_only=False))
            open_entry = and_(
                QuarantinedRow.import_id == record.id,
                QuarantinedRow.resolved_by.is_(None),
                QuarantinedRow.field != WRONG_WIDTH,
            )
            session.execute(
                update(QuarantinedRow)
                .where(open_entry)
                .values(resolved_by=retry.id, resolution="accepted")
            )
            for start in range(0, still_open.size, _QUARANTINE_CHUNK):
                chunk = [int(v) for v in still_open[start : start + _QUARANTINE_CHUNK]]
                session.execute(
                    update(QuarantinedRow)
                    .where(QuarantinedRow.resolved_by == retry.id, QuarantinedRow.row.in_(chunk))
                    .values(resolution="quarantined_again")
                )
            _insert_quarantine(session, quarantine, record.id, retry.id)
            session.flush()
            _totals_in(session, record, result)
            if result.total_read != result.total_accepted + result.total_quarantined:
                raise StoreError(
                    f"the counts do not reconcile after the retry: read {result.total_read}, "
                    f"accepted {result.total_accepted}, quarantined {result.total_quarantined}",
                    where=f"import {record.id} ({record.file_name})",
                )
            outputs = {**result.summary(), "retry_id": retry.id}
            finish_run(session, run, RunStatus.SUCCEEDED, outputs)
            result.retry_id = retry.id
            result.run_id = run.id

    def _run_batches(
        self,
        transaction: LakeTransaction,
        batches: Iterable[tuple[pa.Array, pa.Table]],
        total: int,
        progress: Progress | None,
        result: ImportResult | RetryResult,
        found: list[pa.Table],
        held: _HeldRows | None,
    ) -> None:
        """Check every batch: accepted rows to the lake transaction, problems to ``found``, the
        raw values of rejected rows to ``held``."""
        validator = self.validator
        # one writer thread: batch k is written while batch k+1 is checked (Arrow and
        # Parquet release the GIL); at most one batch waits, so memory stays bounded
        with ThreadPoolExecutor(max_workers=1) as writer:
            pending: Future[None] | None = None
            for rows, table in batches:
                accepted, problem_table, rejected = self._check_batch(rows, table)
                result.read += table.num_rows
                result.accepted += accepted.num_rows
                if pending is not None:
                    pending.result()
                    pending = None
                if accepted.num_rows:
                    pending = writer.submit(
                        transaction.write,
                        validator.dataset,
                        accepted,
                        validator.partition_by,
                        use_dictionary=validator.dictionary_columns,
                    )
                if problem_table.num_rows:
                    found.append(problem_table)
                if held is not None and rejected is not None:
                    held.add(rejected)
                if progress is not None:
                    progress(result.read, max(total, result.read))
                crash_point("import.staging")
            if pending is not None:
                pending.result()

    def _reconcile(
        self, result: ImportResult | RetryResult, parts: list[pa.Table], where: str
    ) -> pa.Table:
        """The quarantine entries as one table; the result's quarantined rows and reasons, and
        the check that read = accepted + quarantined."""
        quarantine = pa.concat_tables(parts) if parts else QUARANTINE_SCHEMA.empty_table()
        result.quarantined = (
            int(pc.count_distinct(quarantine.column("row")).as_py()) if parts else 0
        )
        if result.read != result.accepted + result.quarantined:
            raise StoreError(
                f"the counts do not reconcile: read {result.read}, accepted "
                f"{result.accepted}, quarantined {result.quarantined}",
                where=where,
            )
        counts = quarantine.group_by("reason").aggregate([("row", "count")])
        result.by_reason = dict(
            zip(
                counts.column("reason").to_pylist(),
                counts.column("row_count").to_pylist(),
                strict=True,
            )
        )
        return quarantine

    def _check_batch(
        self, rows: pa.Array, table: pa.Table
    ) -> tuple[pa.Table, pa.Table, pa.Table | None]:
        """Convert and check one batch: the accepted rows, the quarantine entries, and the raw
        values of the rejected rows (with their file row in ``__row``; None when none is)."""
        problems = Problems(table.num_rows)
        fields = self.validator.fields
        raw = {spec.name: table.column(spec.name).combine_chunks() for spec in fields}
        columns = {
            spec.name: convert(spec, raw[spec.name], problems, decimal_comma=self.decimal_comma)
            for spec in fields
        }
        batch = Batch(columns=columns, problems=problems, raw=raw, rows=rows)
        out = self.validator.check(batch)
        accepted = out.filter(pa.array(~problems.rejected)) if problems.rejected.any() else out
        problem_table = problems.table(0)
        rejected = None
        if problem_table.num_rows:
            problem_table = problem_table.set_column(
                0, "row", rows.take(problem_table.column("row"))
            )
            mask = pa.array(problems.rejected)
            rejected = pa.table({**raw, HELD_ROW: rows}).filter(mask)
        return accepted, problem_table, rejected

    def _already(self, result: ImportResult, earlier: ImportedFile, started: float) -> ImportResult:
        result.already_imported = True
        result.import_id = earlier.id
        result.run_id = earlier.run_id
        result.previous_import_at = earlier.imported_at
        result.read = int(earlier.rows_read)
        result.accepted = int(earlier.rows_accepted)
        result.quarantined = int(earlier.rows_quarantined)
        result.lake_files = list(earlier.lake_files)
        result.seconds = time.perf_counter() - started
        return result

    def _record(
        self,
        result: ImportResult,
        path: Path,
        txid: str,
        quarantine: pa.Table,
        rules_version: str,
    ) -> None:
        with session_scope(self.engine) as session:
            run = start_run(
                session,
                f"mshi.import.{self.validator.kind.value}",
                {"file": result.sha256},
                rules_version,
                code_version(),
            )
            record = ImportedFile(
                kind=self.validator.kind,
                sha256=result.sha256,
                file_name=str(path.name),
                size_bytes=path.stat().st_size,
                imported_at=datetime.now(UTC),
                rows_read=result.read,
                rows_accepted=result.accepted,
                rows_quarantined=result.quarantined,
                lake_transaction=txid,
                lake_files=list(result.lake_files),
                loaded_seq=self.loaded_seq,
                run_id=run.id,
            )
            session.add(record)
            session.flush()
            _insert_quarantine(session, quarantine, record.id, None)
            finish_run(
                session, run, RunStatus.SUCCEEDED, {**result.summary(), "import_id": record.id}
            )
            result.import_id = record.id
            result.run_id = run.id

    def _record_failure(self, path: Path, sha: str, rules_version: str, exc: BaseException) -> None:
        try:
            with session_scope(self.engine) as session:
                run = start_run(
                    session,
                    f"mshi.import.{self.validator.kind.value}",
                    {"file": sha},
                    rules_version,
                    code_version(),
                )
                finish_run(
                    session,
                    run,
                    RunStatus.FAILED,
                    {
                        "file": path.name,
                        "error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                    },
                )
        except SaqtaError:
            pass


WRONG_WIDTH = "(row)"
"""The field of the quarantine entry of a CSV row with the wrong number of fields (no values are
kept for it: it cannot be retried)."""


def _insert_quarantine(
    session: Session, quarantine: pa.Table, import_id: int, retry_id: int | None
) -> None:
    for start in range(0, quarantine.num_rows, _QUARANTINE_CHUNK):
        rows = quarantine.slice(start, _QUARANTINE_CHUNK).to_pylist()
        for row in rows:
            row["import_id"] = import_id
            row["retry_id"] = retry_id
        session.execute(insert(QuarantinedRow), rows)


def _open_rows(engine: Engine, import_id: int) -> tuple[np.ndarray, int]:
    """The sorted rows of an import still open in the quarantine that can be retried, and the
    number of open rows that cannot (wrong number of fields)."""
    with session_scope(engine) as session:
        found = session.execute(
            select(
                QuarantinedRow.row,
                func.max(case((QuarantinedRow.field == WRONG_WIDTH, 1), else_=0)),
            )
            .where(QuarantinedRow.import_id == import_id, QuarantinedRow.resolved_by.is_(None))
            .group_by(QuarantinedRow.row)
        ).all()
    rows = np.array([row for row, wrong in found if not wrong], dtype=np.int64)
    return np.sort(rows), sum(1 for _, wrong in found if wrong)


def _totals_in(session: Session, record: ImportedFile, result: RetryResult) -> None:
    retried = session.scalar(
        select(func.coalesce(func.sum(ImportRetry.rows_accepted), 0)).where(
            ImportRetry.import_id == record.id
        )
    )
    still = session.scalar(
        select(func.count(func.distinct(QuarantinedRow.row))).where(
            QuarantinedRow.import_id == record.id, QuarantinedRow.resolved_by.is_(None)
        )
    )
    result.total_read = int(record.rows_read)
    result.total_accepted = int(record.rows_accepted) + int(retried or 0)
    result.total_quarantined = int(still or 0)


def _totals(engine: Engine, record: ImportedFile, result: RetryResult) -> None:
    with session_scope(engine) as session:
        _totals_in(session, record, result)


def import_totals(engine: Engine, import_id: int) -> dict[str, int]:
    """An import's counts over the import and all its retries: ``read`` = ``accepted`` (by the
    import and its retries) + ``quarantined`` (rows still open), and ``retries``."""
    with session_scope(engine) as session:
        record = session.get(ImportedFile, import_id)
        if record is None:
            raise InputError("no such import", where=f"import {import_id}")
        result = RetryResult(import_id, record.file_name, record.kind.value)
        _totals_in(session, record, result)
        retries = session.scalar(
            select(func.count()).select_from(ImportRetry).where(ImportRetry.import_id == import_id)
        )
    return {
        "read": result.total_read,
        "accepted": result.total_accepted,
        "quarantined": result.total_quarantined,
        "retries": int(retries or 0),
    }


def imports_with_open_rows(engine: Engine, kind: ImportKind) -> list[int]:
    """The imports of ``kind`` with rows still open in the quarantine, oldest first."""
    with session_scope(engine) as session:
        found = session.scalars(
            select(ImportedFile.id)
            .where(
                ImportedFile.kind == kind,
                ImportedFile.id.in_(
                    select(QuarantinedRow.import_id).where(QuarantinedRow.resolved_by.is_(None))
                ),
            )
            .order_by(ImportedFile.id)
        )
        return [int(value) for value in found]


def quarantine_rows(
    engine: Engine,
    *,
    import_id: int | None = None,
    reason: str | None = None,
    limit: int = 100,
    open_only: bool = False,
) -> list[dict[str, Any]]:
    """Quarantined problems, newest import first: file, row, field, reason, message, value,
    the retry that found it (``retry``), and, once a retry processed the row again, that retry
    (``resolved_by``) and its ``resolution`` (``accepted`` or ``quarantined_again``).
    ``open_only``: only the problems of rows still waiting."""
    statement = (
        select(
            ImportedFile.id,
            ImportedFile.file_name,
            ImportedFile.kind,
            QuarantinedRow.row,
            QuarantinedRow.field,
            QuarantinedRow.reason,
            QuarantinedRow.message,
            QuarantinedRow.value,
            QuarantinedRow.retry_id,
            QuarantinedRow.resolved_by,
            QuarantinedRow.resolution,
        )
        .join(ImportedFile, ImportedFile.id == QuarantinedRow.import_id)
        .order_by(ImportedFile.id.desc(), QuarantinedRow.row, QuarantinedRow.id)
        .limit(limit)
    )
    if import_id is not None:
        statement = statement.where(QuarantinedRow.import_id == import_id)
    if reason is not None:
        statement = statement.where(QuarantinedRow.reason == reason)
    if open_only:
        statement = statement.where(QuarantinedRow.resolved_by.is_(None))
    with session_scope(engine) as session:
        return [
            {
                "import_id": row[0],
                "file": row[1],
                "kind": row[2].value,
                "row": row[3],
                "field": row[4],
                "reason": row[5],
                "message": row[6],
                "value": row[7],
                "retry": row[8],
                "resolved_by": row[9],
                "resolution": row[10],
            }
            for row in session.execute(statement)
        ]


def imports(engine: Engine, kind: ImportKind | None = None) -> list[ImportedFile]:
    """Every import recorded, oldest first."""
    statement = select(ImportedFile).order_by(ImportedFile.id)
    if kind is not None:
        statement = statement.where(ImportedFile.kind == kind)
    with session_scope(engine) as session:
        return list(session.scalars(statement))


__all__ = [
    "Batch",
    "FieldSpec",
    "ImportResult",
    "Importer",
    "RetryResult",
    "Validator",
    "import_totals",
    "imports",
    "imports_with_open_rows",
    "quarantine_rows",
    "rules_now",
    "sha256_of",
]
