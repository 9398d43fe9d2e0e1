"""Online eligibility: "is this person insured on this day?", answered from a compact index.

The status engine writes one row per person and month (:data:`saqta.mshi.schema.STATUS`) under
``<lake>/derived/status/month=YYYY-MM-01/``. Scanning those files per question is far too slow
for providers who ask millions of times a month, so :func:`build_index` turns them, together
with the register of persons (lake dataset ``persons``), into a folder of flat arrays that
:class:`EligibilityIndex` memory-maps once and answers from by binary search:

- ``keys.npy``: every IIN of the register as ``int64`` (12 digits fit; leading zeros are kept
  by the fixed width), sorted and unique;
- ``death.npy``: the person's death date as ``int32`` days since 1970-01-01, or ``NO_DATE``;
- ``status.npy``: a ``persons × months`` matrix of *profile* numbers (``uint16`` or
  ``uint32``), 0 meaning "no status row for this person and month";
- ``profiles.arrow``: the distinct status answers (entitled, basis, category, payment type,
  paid months, last paid period, valid-until, what would change it, run) in Arrow IPC format.
  Most person-months share one of a few thousand profiles, so the matrix holds a small number
  per person-month instead of the row itself;
- ``meta.json``: what the index was built from (status runs and their rule-set and code
  versions, months, row counts, rows that could not be used) and when.

An index is built in a temporary folder and moved into place whole; the file ``CURRENT`` in the
index root names the newest one, so a server that opens the index never sees a half-built one.

How an answer is decided (:meth:`EligibilityIndex.check`), in this order:

1. the IIN must be valid (12 digits, century/sex digit, birth date, check digit), else
   :class:`EligibilityInputError` on the field ``iin``;
2. the date's month must be one the index holds, else :class:`EligibilityInputError` on
   ``date`` saying which months it covers;
3. an IIN not in the register is :attr:`Outcome.UNKNOWN_PERSON`;
4. a person who died before the date is not insured (basis ``deceased``);
5. a known person with no status row for the month is not insured (basis ``no_status``);
6. otherwise the month's status row decides; an entitled row whose ``valid_until`` is before
   the date (entitlement ending within the month) answers not insured from the day after.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from saqta.core.errors import InputError, Problem, StoreError
from saqta.core.iin import iin_problem
from saqta.core.periods import Month
from saqta.core.version import code_version

__all__ = [
    "INDEX_FORMAT",
    "Eligibility",
    "EligibilityIndex",
    "EligibilityInputError",
    "IndexInfo",
    "Outcome",
    "build_index",
    "default_index_root",
    "open_index",
]

INDEX_FORMAT = 1
"""Version of the on-disk layout; an index of another format is refused on opening."""

NO_DATE = np.iinfo(np.int32).min
"""The ``int32`` day number that stands for "no date" in ``death.npy``."""

_EPOCH = dt.date(1970, 1, 1)
_EPOCH_ORDINAL = _EPOCH.toordinal()
_MONTH_FOLDER = re.compile(r"month=(\d{4})-(\d{2})-01")
_STATUS_COLUMNS = (
    "iin",
    "entitled",
    "basis",
    "category",
    "payment_type",
    "paid_months",
    "last_paid_period",
    "valid_until",
    "change",
    "run_id",
)
_TEXT_COLUMNS = ("basis", "category", "payment_type", "change")
_PROFILE_SCHEMA = pa.schema(
    [
        ("entitled", pa.bool_()),
        ("basis", pa.string()),
        ("category", pa.string()),
        ("payment_type", pa.string()),
        ("paid_months", pa.int16()),
        ("last_paid_period", pa.date32()),
        ("valid_until", pa.date32()),
        ("change", pa.string()),
        ("run_id", pa.int64()),
    ]
)


def default_index_root(lake_root: Path) -> Path:
    """Where the index of a lake lives by default: ``<lake>/derived/eligibility``."""
    return Path(lake_root) / "derived" / "eligibility"


# --------------------------------------------------------------------------------------------
# Answers


def _mix(x: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser, element-wise on ``uint64``: every input bit reaches every output
    bit, so combining fields through it does not collide the way XOR of the raw fields does."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    result: np.ndarray = x ^ (x >> np.uint64(31))
    return result


class Outcome(enum.Enum):
    """The three answers to "is this person insured on this day?"."""

    INSURED = "insured"
    NOT_INSURED = "not_insured"
    UNKNOWN_PERSON = "unknown_person"


class EligibilityInputError(InputError):
    """The question itself is wrong: an invalid IIN, a bad date, a month the index lacks.

    ``field`` names the input (``iin`` or ``date``) and ``reason`` says why, for API bodies.
    """

    def __init__(self, field: str, value: str, reason: str) -> None:
        super().__init__(Problem(f"{field} {value!r}", reason))
        self.field = field
        self.value = value
        self.reason = reason


@dataclass(frozen=True)
class Eligibility:
    """The answer for one person on one day, with the reason and what would change it."""

    iin: str
    on: dt.date
    outcome: Outcome
    basis: str | None = None
    category: str | None = None
    payment_type: str | None = None
    paid_months: int | None = None
    last_paid_period: dt.date | None = None
    valid_until: dt.date | None = None
    change: str | None = None
    death_date: dt.date | None = None
    run_id: int | None = None
    reason: str = ""

    @property
    def insured(self) -> bool:
        return self.outcome is Outcome.INSURED

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict: dates as ISO text, months as ``YYYY-MM``."""
        return {
            "iin": self.iin,
            "date": self.on.isoformat(),
            "month": f"{self.on:%Y-%m}",
            "outcome": self.outcome.value,
            "insured": self.insured,
            "reason": self.reason,
            "basis": self.basis,
            "category": self.category,
            "payment_type": self.payment_type,
            "paid_months": self.paid_months,
            "last_paid_period": (
                f"{self.last_paid_period:%Y-%m}" if self.last_paid_period else None
            ),
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
            "change": self.change,
            "death_date": self.death_date.isoformat() if self.death_date else None,
            "run_id": self.run_id,
        }


def _reason(
    entitled: bool,
    basis: str | None,
    category: str | None,
    payment_type: str | None,
    paid_months: int | None,
    last_paid: dt.date | None,
) -> str:
    """The reason of a status row, in words."""
    if basis == "state_category":
        return f"the state pays for the person as a preferential category ({category or '?'})"
    if basis == "contributions":
        paid = f"{paid_months} paid month(s) in the look-back window" if paid_months else "paid"
        last = f", last paid period {last_paid:%Y-%m}" if last_paid else ""
        payer = payment_type or "unknown payer type"
        verdict = "" if entitled else "not enough: "
        return f"{verdict}contributions by {payer}: {paid}{last}"
    if basis == "prepayment":
        return "a self-payer's 12-month prepayment"
    if basis == "deceased":
        return "the person died before this month"
    if basis == "none":
        last = f" (last paid period {last_paid:%Y-%m})" if last_paid else ""
        return "no preferential category and not enough paid months in the look-back window" + last
    return f"status basis {basis!r}"


# --------------------------------------------------------------------------------------------
# The index on disk


@dataclass(frozen=True)
class IndexInfo:
    """What an index was built from: returned by :func:`build_index`, shown by ``/health``."""

    path: str
    format: int
    built_at: str
    build_seconds: float
    code_version: str
    months: list[str]
    persons: int
    status_rows: int
    status_rows_used: int
    status_rows_superseded: int
    status_rows_without_person: int
    duplicate_person_rows: int
    profiles: int
    runs: list[dict[str, Any]] = field(default_factory=list)
    rules_versions: list[str] = field(default_factory=list)
    rows_per_month: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _days(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A date32 column as ``int32`` days since 1970, nulls as :data:`NO_DATE`."""
    filled = pc.fill_null(pc.cast(values, pa.int32()), int(NO_DATE))
    return np.asarray(filled.to_numpy(), dtype=np.int32)


_POWERS = 10 ** np.arange(11, -1, -1, dtype=np.int64)


def _fast_keys(chunk: pa.Array) -> np.ndarray | None:
    """12-digit texts as ``int64`` straight from the Arrow buffers, or None if any is not."""
    if chunk.null_count or not pa.types.is_string(chunk.type):
        return None
    buffers = chunk.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int32)[
        chunk.offset : chunk.offset + len(chunk) + 1
    ]
    if len(offsets) and not (np.diff(offsets) == 12).all():
        return None
    if not len(chunk):
        return np.empty(0, dtype=np.int64)
    data = np.frombuffer(buffers[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    digits = data - np.uint8(48)
    if digits.size and digits.max() > 9:
        return None
    result: np.ndarray = digits.reshape(-1, 12).astype(np.int64) @ _POWERS
    return result


def _iin_keys(values: pa.ChunkedArray | pa.Array, where: str) -> np.ndarray:
    """IIN text as ``int64``; a value that is not 12 digits raises :class:`StoreError`."""
    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    parts = [_fast_keys(chunk) for chunk in chunks]
    if all(part is not None for part in parts):
        found = [part for part in parts if part is not None]
        return np.concatenate(found) if found else np.empty(0, dtype=np.int64)
    array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    well_formed = pc.match_substring_regex(array, r"^[0-9]{12}$")
    bad = pc.invert(pc.fill_null(well_formed, False))
    first = pc.index(bad, True).as_py()
    raise StoreError(f"row {first + 1}: iin {array[first].as_py()!r} is not 12 digits", where=where)


def _read(
    files: Sequence[Path], columns: Sequence[str], where: str, dictionaries: Sequence[str] = ()
) -> pa.Table:
    tables = []
    for path in files:
        try:
            table = pq.read_table(
                path, columns=list(columns), read_dictionary=list(dictionaries) or None
            )
        except (OSError, pa.ArrowInvalid, KeyError) as exc:
            raise StoreError(f"cannot read {path.name}: {exc}", where=where) from exc
        tables.append(table)
    if not tables:
        return pa.table({})
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise StoreError(f"files of different shapes: {exc}", where=where) from exc


def _load_persons(lake_root: Path) -> tuple[np.ndarray, np.ndarray, int]:
    """Sorted unique IIN keys, death days, and how many older register rows were superseded.

    A person re-imported with changes has several rows; the one with the highest ``loaded_seq``
    counts (see :mod:`saqta.mshi.schema`).
    """
    folder = lake_root / "persons"
    files = sorted(folder.rglob("*.parquet")) if folder.is_dir() else []
    where = f"facts lake {lake_root}, dataset persons"
    if not files:
        raise StoreError(
            "the register of persons is empty: import persons before building the index",
            where=where,
        )
    table = _read(files, ("iin", "death_date", "loaded_seq"), where)
    keys = _iin_keys(table.column("iin"), where)
    death = _days(table.column("death_date"))
    seq = np.asarray(pc.fill_null(table.column("loaded_seq"), 0).to_numpy(), dtype=np.int64)
    del table
    order = np.lexsort((seq, keys)) if seq.min() != seq.max() else np.argsort(keys, kind="stable")
    keys = keys[order]
    death = death[order]
    last = np.ones(len(keys), dtype=bool)
    last[:-1] = keys[1:] != keys[:-1]  # the last row of each IIN has the highest loaded_seq
    duplicates = int(len(keys) - last.sum())
    if duplicates:
        keys, death = keys[last], death[last]
    return keys, death, duplicates


def _status_months(lake_root: Path) -> list[tuple[Month, list[Path]]]:
    folder = lake_root / "derived" / "status"
    months: list[tuple[Month, list[Path]]] = []
    if not folder.is_dir():
        return months
    for entry in sorted(folder.iterdir()):
        match = _MONTH_FOLDER.fullmatch(entry.name)
        if not entry.is_dir() or match is None:
            continue
        files = sorted(entry.rglob("*.parquet"))
        if files:
            months.append((Month(int(match[1]), int(match[2])), files))
    return months


class _Dictionary:
    """A growing text dictionary: code 0 is null, codes follow first appearance."""

    def __init__(self) -> None:
        self.values: list[str | None] = [None]
        self.codes: dict[str | None, int] = {None: 0}

    def _lookup(self, dictionary: pa.Array) -> np.ndarray:
        """Global codes of a chunk's dictionary, plus a last entry 0 for nulls."""
        local = dictionary.to_pylist()
        lookup = np.empty(len(local) + 1, dtype=np.int64)
        for position, value in enumerate(local):
            code = self.codes.get(value)
            if code is None:
                code = self.codes[value] = len(self.values)
                self.values.append(value)
            lookup[position] = code
        lookup[len(local)] = 0
        return lookup

    def encode(self, column: pa.ChunkedArray) -> np.ndarray:
        """The code of every value (text or dictionary-encoded text) of ``column``."""
        parts = []
        for chunk in column.chunks:
            encoded = chunk if pa.types.is_dictionary(chunk.type) else pc.dictionary_encode(chunk)
            lookup = self._lookup(encoded.dictionary)
            indices = pc.fill_null(encoded.indices.cast(pa.int32()), len(lookup) - 1)
            parts.append(lookup[np.asarray(indices.to_numpy())])
        if not parts:
            return np.empty(0, dtype=np.int64)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)


class _ProfileTable:
    """The distinct status answers seen while building, numbered from 1."""

    def __init__(self) -> None:
        self.text = {name: _Dictionary() for name in ("basis", "category", "payment_type")}
        self.change = _Dictionary()
        self.runs: list[int] = []
        self.run_codes: dict[int, int] = {}
        self.key_a: list[np.ndarray] = []
        self.key_b: list[np.ndarray] = []
        self.number: dict[tuple[int, int, int], int] = {}

    def _run_code(self, run_ids: np.ndarray) -> np.ndarray:
        distinct, inverse = np.unique(run_ids, return_inverse=True)
        lookup = np.empty(len(distinct), dtype=np.int64)
        for position, run_id in enumerate(distinct.tolist()):
            if run_id not in self.run_codes:
                self.run_codes[run_id] = len(self.runs)
                self.runs.append(run_id)
            lookup[position] = self.run_codes[run_id]
        return lookup[inverse]

    def encode(self, table: pa.Table, where: str) -> np.ndarray:
        """The profile number (from 1) of every row of ``table``."""
        entitled = np.asarray(pc.fill_null(table.column("entitled"), False).to_numpy())
        basis = self.text["basis"].encode(table.column("basis"))
        category = self.text["category"].encode(table.column("category"))
        payment = self.text["payment_type"].encode(table.column("payment_type"))
        if max(len(d.values) for d in self.text.values()) > 127:
            raise StoreError("more than 127 distinct basis/category/payer values", where=where)
        paid = np.asarray(
            pc.fill_null(pc.cast(table.column("paid_months"), pa.int32()), -1).to_numpy()
        )
        if paid.size and (paid.min() < -1 or paid.max() > 65534):
            raise StoreError("paid_months out of range 0-65534", where=where)
        last_paid = _days(table.column("last_paid_period")).astype(np.int64)
        valid = _days(table.column("valid_until")).astype(np.int64)
        change = self.change.encode(table.column("change"))
        run_ids = np.asarray(pc.fill_null(table.column("run_id"), -1).to_numpy(), dtype=np.int64)
        runs = self._run_code(run_ids)
        # Two exact 64-bit keys per row: (entitled, basis, category, payer, paid months, run)
        # and (last paid period, valid until, change): both fit without loss.
        key_a = (
            entitled.astype(np.int64)
            | (basis << 1)
            | (category << 8)
            | (payment << 15)
            | ((paid + 1) << 22)
            | (runs << 38)
        ).astype(np.uint64)
        key_b = (
            ((last_paid - int(NO_DATE)) & 0xFFFFFFFF)
            | (((valid - int(NO_DATE)) & 0xFFFFFFFF) << 32)
        ).astype(np.uint64)
        # Hash the pair to one 64-bit value, number the distinct hashes with Arrow's hash
        # table, then check that no two different pairs share a hash.
        with np.errstate(over="ignore"):
            hashed = _mix(key_a ^ _mix(key_b ^ _mix(change.astype(np.uint64))))
        encoded = pc.dictionary_encode(pa.array(hashed))
        local = np.asarray(encoded.indices.to_numpy(), dtype=np.int64)
        first = np.empty(len(encoded.dictionary), dtype=np.int64)
        first[local] = np.arange(len(local))  # any row of each hash will do: checked below
        exact_a, exact_b, exact_c = key_a[first], key_b[first], change[first]
        if not (
            np.array_equal(exact_a[local], key_a)
            and np.array_equal(exact_b[local], key_b)
            and np.array_equal(exact_c[local], change)
        ):
            raise StoreError("profile hash collision: rebuild with another seed", where=where)
        lookup = np.empty(len(first), dtype=np.int64)
        for position, key in enumerate(
            zip(exact_a.tolist(), exact_b.tolist(), exact_c.tolist(), strict=True)
        ):
            number = self.number.get(key)
            if number is None:
                number = self.number[key] = len(self.number) + 1
            lookup[position] = number
        return lookup[local]

    def to_arrow(self) -> pa.Table:
        """Profile 0 ("no status row") then every profile in number order."""
        count = len(self.number) + 1
        entitled = [False] * count
        basis: list[str | None] = [None] * count
        category: list[str | None] = [None] * count
        payment: list[str | None] = [None] * count
        paid: list[int | None] = [None] * count
        last_paid: list[dt.date | None] = [None] * count
        valid: list[dt.date | None] = [None] * count
        change: list[str | None] = [None] * count
        run: list[int | None] = [None] * count

        def day(value: int) -> dt.date | None:
            days = value + int(NO_DATE)
            return None if days == int(NO_DATE) else _EPOCH + dt.timedelta(days=days)

        for (key_a, key_b, change_code), number in self.number.items():
            entitled[number] = bool(key_a & 1)
            basis[number] = self.text["basis"].values[(key_a >> 1) & 0x7F]
            category[number] = self.text["category"].values[(key_a >> 8) & 0x7F]
            payment[number] = self.text["payment_type"].values[(key_a >> 15) & 0x7F]
            months = ((key_a >> 22) & 0xFFFF) - 1
            paid[number] = None if months < 0 else months
            run_id = self.runs[key_a >> 38]
            run[number] = None if run_id == -1 else run_id
            last_paid[number] = day(key_b & 0xFFFFFFFF)
            valid[number] = day(key_b >> 32)
            change[number] = self.change.values[change_code]
        return pa.table(
            [entitled, basis, category, payment, paid, last_paid, valid, change, run],
            schema=_PROFILE_SCHEMA,
        )


def _run_provenance(run_ids: Iterable[int], engine: Any | None) -> list[dict[str, Any]]:
    """What the system of record says about each status run (kind, rules, code, finish)."""
    runs: list[dict[str, Any]] = [{"run_id": run_id} for run_id in sorted(run_ids)]
    if engine is None or not runs:
        return runs
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.orm import Session

    from saqta.store.models import Run

    try:
        with Session(engine) as session:
            found = {
                run.id: run
                for run in session.scalars(
                    select(Run).where(Run.id.in_([r["run_id"] for r in runs]))
                )
            }
    except SQLAlchemyError:
        return [{**run, "recorded": False} for run in runs]
    for entry in runs:
        record = found.get(entry["run_id"])
        if record is None:
            entry["recorded"] = False
            continue
        entry.update(
            recorded=True,
            kind=record.kind,
            status=record.status.value,
            rules_version=record.rules_version,
            code_version=record.code_version,
            finished_at=record.finished_at.isoformat() if record.finished_at else None,
        )
    return runs


def build_index(
    lake_root: Path | str,
    out: Path | str | None = None,
    *,
    engine: Any | None = None,
    on_month: Callable[[int, int], None] | None = None,
) -> IndexInfo:
    """Build the eligibility index of a lake and make it the current one; return its info.

    ``out`` is the index root (default :func:`default_index_root`); the index is written to
    ``<out>/<build id>/`` and ``<out>/CURRENT`` is switched to it once complete. ``engine``
    (a SQLAlchemy engine of the system of record) adds each status run's rule-set and code
    version to the provenance; without it only the run ids are recorded. ``on_month(done,
    total)`` reports progress.

    Rows of several runs for the same person and month: the highest ``run_id`` wins (a later,
    incremental run corrects an earlier one); the others are counted as superseded. Status rows
    of an IIN that is not in the register are not indexed and are counted. Raises
    :class:`StoreError` when the register is empty, no status was computed, or a file is
    unreadable or holds a malformed IIN.
    """
    started = time.perf_counter()
    lake = Path(lake_root).expanduser().resolve()
    root = Path(out).expanduser().resolve() if out is not None else default_index_root(lake)
    months = _status_months(lake)
    if not months:
        raise StoreError(
            "no status has been computed: run the status engine first "
            "(expected derived/status/month=YYYY-MM-01/*.parquet)",
            where=f"facts lake {lake}",
        )
    keys, death, duplicates = _load_persons(lake)
    matrix = np.zeros((len(keys), len(months)), dtype=np.uint32)
    profiles = _ProfileTable()
    rows_total = rows_used = superseded = orphans = 0
    rows_per_month: dict[str, int] = {}
    run_ids: set[int] = set()
    previous: tuple[pa.ChunkedArray, np.ndarray, np.ndarray] | None = None
    seen = np.zeros(len(keys), dtype=bool)
    # The next month is read (Parquet decoding releases the GIL) while this one is encoded.
    reader = ThreadPoolExecutor(max_workers=1)

    def read_month(number: int) -> Future[pa.Table]:
        month, files = months[number]
        where = f"facts lake {lake}, status of {month}"
        return reader.submit(_read, files, _STATUS_COLUMNS, where, _TEXT_COLUMNS)

    pending = read_month(0)
    try:
        for column, (month, _files) in enumerate(months):
            where = f"facts lake {lake}, status of {month}"
            table = pending.result()
            if column + 1 < len(months):
                pending = read_month(column + 1)
            rows_total += table.num_rows
            rows_per_month[str(month)] = table.num_rows
            iin_text = table.column("iin")
            if previous is not None and previous[0].equals(iin_text):
                # The engine writes the months in the same order: reuse the lookup.
                iin_text, position, known = previous
            else:
                iin = _iin_keys(iin_text, where)
                position = np.searchsorted(keys, iin)
                np.minimum(position, len(keys) - 1, out=position)
                known = keys[position] == iin
                del iin
                previous = (iin_text, position, known)
            if not known.all():
                orphans += int((~known).sum())
                table = table.filter(pa.array(known))
                position = position[known]
            numbers = profiles.encode(table, where)
            run_column = pc.fill_null(table.column("run_id"), -1)
            run_ids.update(v for v in pc.unique(run_column).to_pylist() if v != -1)
            seen[:] = False
            seen[position] = True
            if int(np.count_nonzero(seen)) != len(position):
                # Several rows for one person: keep the highest run_id (the last after sorting).
                order = np.lexsort((np.asarray(run_column.to_numpy()), position))
                position, numbers = position[order], numbers[order]
                keep = np.ones(len(position), dtype=bool)
                keep[:-1] = position[1:] != position[:-1]
                superseded += int(len(position) - keep.sum())
                position, numbers = position[keep], numbers[keep]
            matrix[position, column] = numbers
            rows_used += len(position)
            del table
            if on_month is not None:
                on_month(column + 1, len(months))
    finally:
        reader.shutdown(cancel_futures=True)

    profile_table = profiles.to_arrow()
    if profile_table.num_rows <= np.iinfo(np.uint16).max:
        matrix = matrix.astype(np.uint16)
    runs = _run_provenance(run_ids, engine)
    info = IndexInfo(
        path="",
        format=INDEX_FORMAT,
        built_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        build_seconds=0.0,
        code_version=code_version(),
        months=[str(month) for month, _ in months],
        persons=len(keys),
        status_rows=rows_total,
        status_rows_used=rows_used,
        status_rows_superseded=superseded,
        status_rows_without_person=orphans,
        duplicate_person_rows=duplicates,
        profiles=profile_table.num_rows - 1,
        runs=runs,
        rules_versions=sorted({r["rules_version"] for r in runs if r.get("rules_version")}),
        rows_per_month=rows_per_month,
    )
    build_id = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]
    try:
        root.mkdir(parents=True, exist_ok=True)
        temp = root / f".tmp-{build_id}"
        temp.mkdir()
        try:
            np.save(temp / "keys.npy", keys)
            np.save(temp / "death.npy", death)
            np.save(temp / "status.npy", matrix)
            with ipc.new_file(temp / "profiles.arrow", profile_table.schema) as writer:
                writer.write_table(profile_table)
            final = root / build_id
            seconds = round(time.perf_counter() - started, 3)
            info = _replace(info, path=str(final), build_seconds=seconds)
            (temp / "meta.json").write_text(json.dumps(info.as_json(), indent=2) + "\n")
            os.replace(temp, final)
            pointer = root / f".CURRENT-{build_id}"
            pointer.write_text(build_id + "\n")
            os.replace(pointer, root / "CURRENT")
        finally:
            shutil.rmtree(temp, ignore_errors=True)
    except OSError as exc:
        raise StoreError(f"cannot write the index: {exc.strerror or exc}", where=str(root)) from exc
    return info


def _replace(info: IndexInfo, **changes: Any) -> IndexInfo:
    values = info.as_json()
    values.update(changes)
    return IndexInfo(**values)


# --------------------------------------------------------------------------------------------
# Answering


def _resolve(path: Path) -> Path:
    """An index folder, or the folder its root's ``CURRENT`` names."""
    if (path / "meta.json").is_file():
        return path
    pointer = path / "CURRENT"
    if pointer.is_file():
        return path / pointer.read_text().strip()
    raise StoreError(
        "no eligibility index here: build one with `saqta eligibility build-index`",
        where=str(path),
    )


class EligibilityIndex:
    """An eligibility index opened for answering; thread-safe for reading.

    Open it once (:func:`open_index`) and ask :meth:`check` as often as needed: each question is
    a validation of the IIN, a binary search over the sorted keys and two array reads.
    """

    def __init__(self, folder: Path, preload: bool = False) -> None:
        self.folder = folder
        try:
            meta = json.loads((folder / "meta.json").read_text())
            if meta.get("format") != INDEX_FORMAT:
                raise StoreError(
                    f"index format {meta.get('format')} is not {INDEX_FORMAT}: rebuild it",
                    where=str(folder),
                )
            mode: Literal["r"] | None = None if preload else "r"
            # Plain ndarray views of the maps: no memmap subclass overhead per lookup.
            self.keys: np.ndarray = np.asarray(np.load(folder / "keys.npy", mmap_mode=mode))
            self.death: np.ndarray = np.asarray(np.load(folder / "death.npy", mmap_mode=mode))
            self.matrix: np.ndarray = np.asarray(np.load(folder / "status.npy", mmap_mode=mode))
            with ipc.open_file(folder / "profiles.arrow") as reader:
                profiles = reader.read_all()
        except (OSError, ValueError, json.JSONDecodeError, pa.ArrowInvalid) as exc:
            raise StoreError(
                f"cannot open the eligibility index: {exc}", where=str(folder)
            ) from exc
        self.info = IndexInfo(**meta)
        self.months = [Month(int(m[:4]), int(m[5:7])) for m in self.info.months]
        self._column = {(m.year, m.month): j for j, m in enumerate(self.months)}
        columns = [profiles.column(name).to_pylist() for name in _PROFILE_SCHEMA.names]
        self._profiles: list[tuple[Any, ...]] = list(zip(*columns, strict=True))
        self._reasons = [
            _reason(p[0], p[1], p[2], p[3], p[4], p[5]) if number else ""
            for number, p in enumerate(self._profiles)
        ]
        self._size = len(self.keys)

    def __repr__(self) -> str:
        return f"EligibilityIndex({str(self.folder)!r}, persons={self._size})"

    @property
    def coverage(self) -> str:
        first, last = self.months[0], self.months[-1]
        if last.index - first.index + 1 != len(self.months):
            return ", ".join(str(month) for month in self.months)
        return str(first) if first == last else f"{first} to {last}"

    def position(self, iin: str) -> int | None:
        """The row of a (valid) IIN in the index, or ``None`` when the register lacks it."""
        key = int(iin)
        row = int(self.keys.searchsorted(key))
        if row < self._size and int(self.keys[row]) == key:
            return row
        return None

    def check(self, iin: str, on: dt.date | str) -> Eligibility:
        """Is the person with this IIN insured on ``on``? See the module docstring for the rules.

        ``on`` is a date or ISO text ``YYYY-MM-DD``. Raises :class:`EligibilityInputError` for an
        invalid IIN, a bad date or a month the index does not hold.
        """
        text = iin.strip() if isinstance(iin, str) else str(iin)
        problem = iin_problem(text)
        if problem is not None:
            raise EligibilityInputError("iin", text, problem)
        if isinstance(on, str):
            try:
                day = dt.date.fromisoformat(on.strip())
            except ValueError:
                raise EligibilityInputError("date", on, "expected an ISO date YYYY-MM-DD") from None
        else:
            day = on
        column = self._column.get((day.year, day.month))
        if column is None:
            raise EligibilityInputError(
                "date",
                day.isoformat(),
                f"no status has been computed for {day:%Y-%m}: the index covers {self.coverage}",
            )
        row = self.position(text)
        if row is None:
            return Eligibility(
                text, day, Outcome.UNKNOWN_PERSON, reason="the IIN is not in the register"
            )
        death_days = int(self.death[row])
        death = None if death_days == NO_DATE else _EPOCH + dt.timedelta(days=death_days)
        number = int(self.matrix[row, column])
        if death is not None and day > death:
            return Eligibility(
                text,
                day,
                Outcome.NOT_INSURED,
                basis="deceased",
                death_date=death,
                reason=f"the person died on {death.isoformat()}",
            )
        if number == 0:
            return Eligibility(
                text,
                day,
                Outcome.NOT_INSURED,
                basis="no_status",
                death_date=death,
                reason=f"no status has been computed for this person for {day:%Y-%m}",
                change="a status run that includes the person for this month",
            )
        entitled, basis, category, payer, paid, last_paid, valid, change, run = self._profiles[
            number
        ]
        reason = self._reasons[number]
        outcome = Outcome.INSURED if entitled else Outcome.NOT_INSURED
        if entitled and valid is not None and day > valid:
            outcome = Outcome.NOT_INSURED
            reason = f"entitlement ended on {valid.isoformat()} ({reason})"
        return Eligibility(
            text,
            day,
            outcome,
            basis=basis,
            category=category,
            payment_type=payer,
            paid_months=paid,
            last_paid_period=last_paid,
            valid_until=valid,
            change=change,
            death_date=death,
            run_id=run,
            reason=reason,
        )


def open_index(path: Path | str, *, preload: bool = False) -> EligibilityIndex:
    """Open an index folder, or the current index of an index root (see :func:`build_index`).

    The arrays are memory-mapped (the operating system keeps the pages it needs); ``preload``
    reads them into memory instead.
    """
    return EligibilityIndex(_resolve(Path(path).expanduser().resolve()), preload=preload)


def day_number(day: dt.date) -> int:
    """Days since 1970-01-01 (the unit of ``death.npy``)."""
    return day.toordinal() - _EPOCH_ORDINAL
