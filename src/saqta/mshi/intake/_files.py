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
   finished by the next import (:meth:`FactsLake.recover` asks the database which lake
   transactions were committed).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from sqlalchemy import Engine, func, insert, select

from saqta.core.errors import InputError, Problem, SaqtaError, StoreError
from saqta.core.rules import load_rules
from saqta.core.version import code_version
from saqta.mshi.intake._checks import QUARANTINE_SCHEMA, Problems, to_numpy_bool
from saqta.mshi.models import ImportedFile, ImportKind, QuarantinedRow
from saqta.store.db import session_scope
from saqta.store.lake import FactsLake, LakeTransaction
from saqta.store.models import RunStatus
from saqta.store.registry import finish_run, start_run

FieldType = Literal["text", "date", "month", "money", "bool", "int"]
Progress = Callable[[int, int], None]

BATCH_ROWS = 1_000_000
"""Rows per batch read from a Parquet file (CSV batches are about 16 MB of text)."""

_CSV_BLOCK = 16 << 20
_MONEY = pa.decimal128(18, 2)
_AMOUNT_TEXT = r"^-?[0-9]{1,16}(\.[0-9]{1,2})?$"
_DATE_TEXT = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_MONTH_TEXT = r"^[0-9]{4}-[0-9]{2}(-01)?$"
_INT_TEXT = r"^-?[0-9]{1,9}$"
_TRUE = ("true", "1", "yes", "t", "y")
_FALSE = ("false", "0", "no", "f", "n")
_QUARANTINE_CHUNK = 5_000


@dataclass(frozen=True)
class FieldSpec:
    """One input field: its name in the file, its type, whether it may be empty."""

    name: str
    type: FieldType
    required: bool = True


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

    def summary(self) -> dict[str, Any]:
        return {
            "file": self.file.name,
            "read": self.read,
            "accepted": self.accepted,
            "quarantined": self.quarantined,
            "by_reason": self.by_reason,
            "seconds": round(self.seconds, 3),
        }


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


_RULES_VERSION: dict[tuple[Any, ...], str] = {}


def rules_version_now() -> str:
    """The version of the rules in force (cached while no rule file changes)."""
    from saqta.core.rules import default_rule_dirs

    files = sorted(
        (str(path), path.stat().st_mtime_ns)
        for folder in default_rule_dirs()
        for path in folder.rglob("*.yaml")
    )
    key = tuple(files)
    if key not in _RULES_VERSION:
        _RULES_VERSION.clear()
        _RULES_VERSION[key] = load_rules().version
    return _RULES_VERSION[key]


def sha256_of(path: Path) -> str:
    """The SHA-256 (hex) of a file's content."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# Reading


def file_format(path: Path) -> Literal["csv", "parquet"]:
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix in (".csv", ".txt"):
        return "csv"
    raise InputError("unknown file type: use .csv or .parquet", where=str(path))


def csv_header(path: Path) -> list[str]:
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        try:
            return next(csv.reader(handle))
        except StopIteration:
            raise InputError(
                "the file is empty: a header row is expected", where=str(path)
            ) from None
        except UnicodeDecodeError as exc:
            raise InputError(f"not UTF-8 text (byte {exc.start})", where=str(path)) from exc


def _check_columns(path: Path, names: Sequence[str], fields: Sequence[FieldSpec]) -> None:
    missing = [spec.name for spec in fields if spec.name not in names]
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


def read_batches(
    path: Path, fields: Sequence[FieldSpec], invalid_out: list[pa.Table]
) -> tuple[int, Iterator[tuple[pa.Array, pa.Table]]]:
    """``(total, batches)``: the row count (for CSV an estimate from the file size) and an
    iterator of ``(file rows, table of the fields)``. CSV rows of the wrong width are added to
    ``invalid_out`` as quarantine entries (field ``(row)``, reason ``schema``) and skipped; row
    numbers stay those of the file's data rows."""
    names = [spec.name for spec in fields]
    if file_format(path) == "parquet":
        try:
            parquet = pq.ParquetFile(path)
        except (OSError, pa.ArrowException) as exc:
            raise InputError(f"not a readable Parquet file: {exc}", where=str(path)) from exc
        _check_columns(path, parquet.schema_arrow.names, fields)
        for spec in fields:
            kind = parquet.schema_arrow.field(spec.name).type
            if pa.types.is_floating(kind) and spec.type == "money":
                raise InputError(
                    f"is {kind}: money must be a decimal or text, never floating point",
                    where=f"{path}: column {spec.name}",
                )

        def parquet_batches() -> Iterator[tuple[pa.Array, pa.Table]]:
            first = 1
            for record_batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=names):
                table = pa.Table.from_batches([record_batch])
                rows = np.arange(first, first + table.num_rows, dtype=np.int64)
                yield pa.array(rows, pa.int64()), table
                first += table.num_rows

        return parquet.metadata.num_rows, parquet_batches()

    header = csv_header(path)
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

    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=False, block_size=_CSV_BLOCK),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                include_columns=names,
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
                table = pa.Table.from_batches([record_batch])
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
        except pa.ArrowInvalid as exc:
            raise InputError(f"cannot parse the CSV file: {exc}", where=str(path)) from exc

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


def convert(spec: FieldSpec, values: pa.Array, problems: Problems) -> pa.Array:
    """Convert one column to its type; record a ``schema`` problem for each value that does not
    convert (and ``missing`` for an empty required value). Bad values become null."""
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
        if pa.types.is_date32(values.type) or pa.types.is_timestamp(values.type):
            out = values.cast(pa.date32())
            bad = np.zeros(len(values), dtype=bool)
        else:
            text = pc.utf8_trim_whitespace(_text(values))
            pattern = _DATE_TEXT if kind == "date" else _MONTH_TEXT
            shaped = to_numpy_bool(pc.match_substring_regex(text, pattern))
            if kind == "month":
                text = pc.if_else(
                    pc.equal(pc.utf8_length(text), 7),
                    pc.binary_join_element_wise(text, "-01", ""),
                    text,
                )
            parsed = pc.strptime(text, format="%Y-%m-%d", unit="s", error_is_null=True)
            out = parsed.cast(pa.date32())
            bad = ~missing & ~(shaped & ~to_numpy_bool(out.is_null()))
            out = pc.if_else(pa.array(~bad), out, pa.scalar(None, pa.date32()))
        if kind == "month":
            not_first = ~missing & ~bad & (to_numpy_bool(pc.not_equal(pc.day(out), 1)))
            problems.add(
                not_first,
                spec.name,
                "schema",
                "expected a month YYYY-MM (or its first day)",
                values,
            )
            bad |= not_first
            problems.add(bad & ~not_first, spec.name, "schema", "expected a month YYYY-MM", values)
        else:
            problems.add(bad, spec.name, "schema", "expected a date YYYY-MM-DD", values)
        return pc.if_else(pa.array(~bad), out, pa.scalar(None, pa.date32()))
    if kind == "money":
        if pa.types.is_decimal(values.type):
            scaled = values.cast(pa.decimal128(38, 2), safe=False)
            exact = to_numpy_bool(pc.equal(scaled.cast(values.type, safe=False), values)) | missing
            fits = to_numpy_bool(pc.less(pc.abs(scaled), pa.scalar(10**16, pa.decimal128(38, 2))))
            bad = ~missing & ~(exact & fits)
            out = pc.if_else(pa.array(~bad), scaled, pa.scalar(None, pa.decimal128(38, 2)))
            out = out.cast(_MONEY)
        elif pa.types.is_integer(values.type):
            out = values.cast(_MONEY)
            bad = np.zeros(len(values), dtype=bool)
        else:
            text = pc.utf8_trim_whitespace(_text(values))
            shaped = to_numpy_bool(pc.match_substring_regex(text, _AMOUNT_TEXT))
            bad = ~missing & ~shaped
            safe = pc.if_else(pa.array(shaped), text, pa.scalar("0", pa.string()))
            out = pc.if_else(pa.array(shaped), safe.cast(_MONEY), pa.scalar(None, _MONEY))
        problems.add(
            bad, spec.name, "schema", "expected an amount in tenge with at most 2 decimals", values
        )
        return out
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


# --------------------------------------------------------------------------------------------
# The import of one file


def lake_commits(engine: Engine) -> Callable[[str], bool]:
    """For :meth:`FactsLake.recover`: whether the system of record committed a lake transaction
    (an import, or a paid refund's outflow)."""
    from saqta.mshi.models import RefundEvent

    def committed(txid: str) -> bool:
        with session_scope(engine) as session:
            found = session.scalar(
                select(ImportedFile.id).where(ImportedFile.lake_transaction == txid)
            )
            if found is None:
                found = session.scalar(
                    select(RefundEvent.id).where(RefundEvent.lake_transaction == txid)
                )
        return found is not None

    return committed


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
        earlier = previous_import(self.engine, validator.kind, sha)
        if earlier is not None:
            return self._already(result, earlier, started)
        invalid: list[pa.Table] = []
        found: list[pa.Table] = []
        total, batches = read_batches(path, validator.fields, invalid)
        rules_version = rules_version_now()
        with self.lake.lock():
            self.lake.recover(lake_commits(self.engine))
            earlier = previous_import(self.engine, validator.kind, sha)
            if earlier is not None:
                return self._already(result, earlier, started)
            transaction = self.lake.begin()
            try:
                self.loaded_seq = next_loaded_seq(self.engine)
                validator.start(self, transaction)
                # one writer thread: batch k is written while batch k+1 is checked (Arrow and
                # Parquet release the GIL); at most one batch waits, so memory stays bounded
                with ThreadPoolExecutor(max_workers=1) as writer:
                    pending: Future[None] | None = None
                    for rows, table in batches:
                        accepted, problem_table = self._check_batch(rows, table)
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
                        if progress is not None:
                            progress(result.read, max(total, result.read))
                    if pending is not None:
                        pending.result()
                validator.finish(transaction)
                result.read += sum(table.num_rows for table in invalid)
                parts = invalid + found
                quarantine = pa.concat_tables(parts) if parts else QUARANTINE_SCHEMA.empty_table()
                result.quarantined = (
                    int(pc.count_distinct(quarantine.column("row")).as_py()) if parts else 0
                )
                if result.read != result.accepted + result.quarantined:
                    raise StoreError(
                        f"the counts do not reconcile: read {result.read}, accepted "
                        f"{result.accepted}, quarantined {result.quarantined}",
                        where=str(path),
                    )
                counts = quarantine.group_by("reason").aggregate([("row", "count")])
                result.by_reason = dict(
                    zip(
                        counts.column("reason").to_pylist(),
                        counts.column("row_count").to_pylist(),
                        strict=True,
                    )
                )
                transaction.prepare()
                result.lake_files = list(transaction.files)
                self._record(result, path, transaction.id, quarantine, rules_version)
            except BaseException as exc:
                transaction.abort()
                if isinstance(exc, SaqtaError | OSError | pa.ArrowException):
                    self._record_failure(path, sha, rules_version, exc)
                raise
            committed = transaction.commit()
        validator.committed(self.lake, committed)
        result.seconds = time.perf_counter() - started
        return result

    def _check_batch(self, rows: pa.Array, table: pa.Table) -> tuple[pa.Table, pa.Table]:
        """Convert and check one batch: the accepted rows and the quarantine entries."""
        problems = Problems(table.num_rows)
        fields = self.validator.fields
        raw = {spec.name: table.column(spec.name).combine_chunks() for spec in fields}
        columns = {spec.name: convert(spec, raw[spec.name], problems) for spec in fields}
        batch = Batch(columns=columns, problems=problems, raw=raw, rows=rows)
        out = self.validator.check(batch)
        accepted = out.filter(pa.array(~problems.rejected)) if problems.rejected.any() else out
        problem_table = problems.table(0)
        if problem_table.num_rows:
            problem_table = problem_table.set_column(
                0, "row", rows.take(problem_table.column("row"))
            )
        return accepted, problem_table

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
            for start in range(0, quarantine.num_rows, _QUARANTINE_CHUNK):
                rows = quarantine.slice(start, _QUARANTINE_CHUNK).to_pylist()
                for row in rows:
                    row["import_id"] = record.id
                session.execute(insert(QuarantinedRow), rows)
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


def quarantine_rows(
    engine: Engine,
    *,
    import_id: int | None = None,
    reason: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Quarantined problems, newest import first: file, row, field, reason, message, value."""
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
        )
        .join(ImportedFile, ImportedFile.id == QuarantinedRow.import_id)
        .order_by(ImportedFile.id.desc(), QuarantinedRow.row, QuarantinedRow.id)
        .limit(limit)
    )
    if import_id is not None:
        statement = statement.where(QuarantinedRow.import_id == import_id)
    if reason is not None:
        statement = statement.where(QuarantinedRow.reason == reason)
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
    "Validator",
    "imports",
    "quarantine_rows",
    "sha256_of",
]
