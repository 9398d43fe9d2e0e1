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
  paid months, last paid period, valid-until, day of the month entitled from, the change code
  and its parameters, run) in Arrow IPC format.
  Most person-months share one of a few thousand profiles, so the matrix holds a small number
  per person-month instead of the row itself;
- ``meta.json``: what the index was built from (status runs and their rule-set and code
  versions, months, row counts, rows that could not be used) and when.

An index is built in a temporary folder and moved into place whole; the file ``CURRENT`` in the
index root names the newest one, so a server that opens the index never sees a half-built one.
Only the newest builds are kept (``SAQTA_ELIGIBILITY_INDEX_KEEP``, default 3); the one
``CURRENT`` names is never deleted. An index is built only from status months whose runs
finished successfully: a month written by a run that failed or is still going is refused.

How an answer is decided (:meth:`EligibilityIndex.check`), in this order:

1. the IIN must be valid (12 digits, century/sex digit, birth date, check digit), else
   :class:`EligibilityInputError` on the field ``iin``;
2. the date's month must be one the index holds, else :class:`EligibilityInputError` on
   ``date`` saying which months it covers;
3. an IIN not in the register is :attr:`Outcome.UNKNOWN_PERSON`;
4. a person who died before the date is not insured (basis ``deceased``);
5. a known person with no status row for the month is not insured (basis ``no_status``);
6. otherwise the month's status row decides; an entitled row whose ``valid_until`` is before
   the date (entitlement ending within the month: a category's end, death) answers not insured
   from the day after, and one whose status starts later in the month (``valid_from_day``:
   birth, a category's ``valid_from``, a prepayment's day of payment) answers not insured
   before that day.

The rows and the index hold codes and parameters, never sentences: the reason and what would
change the answer are rendered in the asked locale (Kazakh, Russian, English) from the message
catalogues (:mod:`saqta.core.i18n`, :mod:`saqta.mshi.status`), once per profile and locale.
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
from saqta.core.i18n import DEFAULT_LOCALE, N_, translations
from saqta.core.iin import iin_problem
from saqta.core.periods import Month
from saqta.core.version import code_version
from saqta.mshi.intake import settle_lake
from saqta.mshi.status import ChangeCode, change_text, reason_text

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

INDEX_FORMAT = 2
"""Version of the on-disk layout; an index of another format is refused on opening."""

NO_DATE = np.iinfo(np.int32).min
"""The ``int32`` day number that stands for "no date" in ``death.npy``."""

_EPOCH = dt.date(1970, 1, 1)
_EPOCH_ORDINAL = _EPOCH.toordinal()
_MONTH_FOLDER = re.compile(r"month=(\d{4})-(\d{2})-01")
_BUILD_FOLDER = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{8}")
_STATUS_COLUMNS = (
    "iin",
    "entitled",
    "basis",
    "category",
    "payment_type",
    "paid_months",
    "last_paid_period",
    "valid_until",
    "valid_from_day",
    "change_code",
    "change_date",
    "change_month",
    "change_count",
    "offer_months",
    "run_id",
)
_TEXT_COLUMNS = ("basis", "category", "payment_type")
_PROFILE_SCHEMA = pa.schema(
    [
        ("entitled", pa.bool_()),
        ("basis", pa.string()),
        ("category", pa.string()),
        ("payment_type", pa.string()),
        ("paid_months", pa.int16()),
        ("last_paid_period", pa.date32()),
        ("valid_until", pa.date32()),
        ("valid_from_dom", pa.int8()),  # day of the month entitled from (null: not entitled)
        ("change_code", pa.int16()),
        ("change_date", pa.date32()),
        ("change_month", pa.date32()),
        ("change_count", pa.int16()),
        ("offer_months", pa.int16()),
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


_INSURED = N_("insured")
_NOT_INSURED = N_("not insured")
_WOULD_CHANGE = N_("what would change it: {change}")
_UNKNOWN = N_("the IIN is not in the register")
_DIED_ON = N_("the person died on {date}")
_NO_STATUS = N_("no status has been computed for this person for {month}")
_NO_STATUS_CHANGE = N_("a status run that includes the person for this month")
_ENDED = N_("entitlement ended on {date} ({reason})")
_NOT_YET = N_("entitlement begins on {date} ({reason})")


@dataclass(frozen=True)
class Eligibility:
    """The answer for one person on one day: codes and parameters, and the reason and what
    would change it in words of ``locale``.

    ``reason_code`` is the basis of the month's row (``state_category``, ``contributions``,
    ``prepayment``, ``none``, ``deceased``), or what the day itself decided: ``unknown_person``,
    ``died`` (the day is after the death date), ``no_status``, ``ended`` (after ``valid_until``
    within the month) or ``not_yet`` (before ``valid_from``, the day status starts in the
    month: birth, a category's start, a prepayment's day of payment)."""

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
    reason_code: str = ""
    change_code: str | None = None
    valid_from: dt.date | None = None
    locale: str = DEFAULT_LOCALE

    @property
    def insured(self) -> bool:
        return self.outcome is Outcome.INSURED

    @property
    def verdict(self) -> str:
        """Insured or not, in words of the answer's locale."""
        return translations(self.locale).gettext(_INSURED if self.insured else _NOT_INSURED)

    def change_sentence(self) -> str | None:
        """"What would change it: ...", in words of the answer's locale."""
        if not self.change:
            return None
        return translations(self.locale).gettext(_WOULD_CHANGE).format(change=self.change)

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict: dates as ISO text, months as ``YYYY-MM``."""
        return {
            "iin": self.iin,
            "date": self.on.isoformat(),
            "month": f"{self.on:%Y-%m}",
            "outcome": self.outcome.value,
            "insured": self.insured,
            "reason": self.reason,
            "reason_code": self.reason_code,
            "basis": self.basis,
            "category": self.category,
            "payment_type": self.payment_type,
            "paid_months": self.paid_months,
            "last_paid_period": (
                f"{self.last_paid_period:%Y-%m}" if self.last_paid_period else None
            ),
            "valid_from": self.valid_from.isoformat() if self.valid_from else None,
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
            "change": self.change,
            "change_code": self.change_code,
            "death_date": self.death_date.isoformat() if self.death_date else None,
            "run_id": self.run_id,
            "lang": self.locale,
        }


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


def _small(column: pa.ChunkedArray, bits: int, name: str, where: str) -> np.ndarray:
    """A small non-negative integer column as ``int64``, null as 0 and a value as value + 1."""
    values = np.asarray(pc.fill_null(pc.cast(column, pa.int64()), -1).to_numpy(), dtype=np.int64)
    if values.size and (values.min() < -1 or values.max() + 1 >= 1 << bits):
        raise StoreError(f"{name} out of range 0-{(1 << bits) - 2}", where=where)
    return values + 1


def _per_distinct(
    column: pa.ChunkedArray, convert: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """``convert`` (day numbers → ``int64``, :data:`NO_DATE` → 0) applied to the few distinct
    days of a date column only, then spread to its rows."""
    encoded = pc.dictionary_encode(pc.cast(column, pa.int32()).combine_chunks())
    distinct = np.asarray(pc.fill_null(encoded.dictionary, int(NO_DATE)).to_numpy(), np.int32)
    values = np.append(convert(distinct), 0)  # the last entry for nulls
    indices = pc.fill_null(encoded.indices.cast(pa.int32()), len(distinct))
    result: np.ndarray = values[np.asarray(indices.to_numpy())]
    return result


def _month_number_of(days: np.ndarray) -> np.ndarray:
    months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return np.where(days == NO_DATE, 0, months + 1970 * 12 + 1)


def _day_of_month_of(days: np.ndarray) -> np.ndarray:
    starts = days.astype("datetime64[D]").astype("datetime64[M]").astype("datetime64[D]")
    return np.where(days == NO_DATE, 0, days - starts.astype(np.int64) + 1).astype(np.int64)


def _month_numbers(column: pa.ChunkedArray) -> np.ndarray:
    """A date column as month index + 1 (``year * 12 + month - 1 + 1``), null as 0: 17 bits."""
    return _per_distinct(column, _month_number_of)


def _day_of_month(column: pa.ChunkedArray) -> np.ndarray:
    """A date column as its day of the month (1-31), null as 0: 5 bits."""
    return _per_distinct(column, _day_of_month_of)


def _ordinals(column: pa.ChunkedArray) -> np.ndarray:
    """A date column as ``int64`` day ordinals (0001-01-01 is 1), null as 0: 22 bits."""
    return _per_distinct(
        column,
        lambda days: np.where(days == NO_DATE, 0, days.astype(np.int64) + _EPOCH_ORDINAL),
    )


class _ProfileTable:
    """The distinct status answers seen while building, numbered from 1."""

    def __init__(self) -> None:
        self.text = {name: _Dictionary() for name in ("basis", "category", "payment_type")}
        self.runs: list[int] = []
        self.run_codes: dict[int, int] = {}
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
        dom = _day_of_month(table.column("valid_from_day"))
        code = _small(table.column("change_code"), 5, "change_code", where)
        offer = _small(table.column("offer_months"), 7, "offer_months", where)
        count = _small(table.column("change_count"), 7, "change_count", where)
        change_month = _month_numbers(table.column("change_month"))
        change_date = _ordinals(table.column("change_date"))
        run_ids = np.asarray(pc.fill_null(table.column("run_id"), -1).to_numpy(), dtype=np.int64)
        runs = self._run_code(run_ids)
        # Three exact 64-bit keys per row: (entitled, basis, category, payer, paid months, run),
        # (last paid period, valid until) and (change code, offer, count, day entitled from,
        # change month, change date): each fits without loss.
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
        key_c = (
            code
            | (offer << 5)
            | (count << 12)
            | (dom << 19)
            | (change_month << 24)
            | (change_date << 41)
        ).astype(np.uint64)
        # Hash the keys to one 64-bit value, number the distinct hashes with Arrow's hash
        # table, then check that no two different triples share a hash.
        with np.errstate(over="ignore"):
            hashed = _mix(key_a ^ _mix(key_b ^ _mix(key_c)))
        encoded = pc.dictionary_encode(pa.array(hashed))
        local = np.asarray(encoded.indices.to_numpy(), dtype=np.int64)
        first = np.empty(len(encoded.dictionary), dtype=np.int64)
        first[local] = np.arange(len(local))  # any row of each hash will do: checked below
        exact_a, exact_b, exact_c = key_a[first], key_b[first], key_c[first]
        if not (
            np.array_equal(exact_a[local], key_a)
            and np.array_equal(exact_b[local], key_b)
            and np.array_equal(exact_c[local], key_c)
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
        columns: dict[str, list[Any]] = {name: [None] * count for name in _PROFILE_SCHEMA.names}
        columns["entitled"] = [False] * count

        def day(value: int) -> dt.date | None:
            days = value + int(NO_DATE)
            return None if days == int(NO_DATE) else _EPOCH + dt.timedelta(days=days)

        def small(value: int) -> int | None:
            return None if value == 0 else value - 1

        for (key_a, key_b, key_c), number in self.number.items():
            columns["entitled"][number] = bool(key_a & 1)
            columns["basis"][number] = self.text["basis"].values[(key_a >> 1) & 0x7F]
            columns["category"][number] = self.text["category"].values[(key_a >> 8) & 0x7F]
            columns["payment_type"][number] = self.text["payment_type"].values[
                (key_a >> 15) & 0x7F
            ]
            months = ((key_a >> 22) & 0xFFFF) - 1
            columns["paid_months"][number] = None if months < 0 else months
            run_id = self.runs[key_a >> 38]
            columns["run_id"][number] = None if run_id == -1 else run_id
            columns["last_paid_period"][number] = day(key_b & 0xFFFFFFFF)
            columns["valid_until"][number] = day(key_b >> 32)
            columns["change_code"][number] = small(key_c & 0x1F)
            columns["offer_months"][number] = small((key_c >> 5) & 0x7F)
            columns["change_count"][number] = small((key_c >> 12) & 0x7F)
            dom = (key_c >> 19) & 0x1F
            columns["valid_from_dom"][number] = dom or None
            month_number = (key_c >> 24) & 0x1FFFF
            columns["change_month"][number] = (
                dt.date((month_number - 1) // 12, (month_number - 1) % 12 + 1, 1)
                if month_number
                else None
            )
            ordinal = key_c >> 41
            columns["change_date"][number] = dt.date.fromordinal(ordinal) if ordinal else None
        return pa.table(columns, schema=_PROFILE_SCHEMA)


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


def _file_runs(path: Path) -> set[int]:
    """The status run ids in one status file (from the row groups' statistics when each holds
    one run, else from the column)."""
    metadata = pq.ParquetFile(path).metadata
    names = metadata.schema.names
    if "run_id" not in names:
        return set()
    column = names.index("run_id")
    found: set[int] = set()
    for group in range(metadata.num_row_groups):
        stats = metadata.row_group(group).column(column).statistics
        if stats is None or not stats.has_min_max or stats.min != stats.max:
            values = pq.read_table(path, columns=["run_id"]).column("run_id")
            return {int(v) for v in pc.unique(values).to_pylist() if v is not None}
        found.add(int(stats.min))
    return found


def _check_finished(lake: Path, months: list[tuple[Month, list[Path]]], engine: Any | None) -> None:
    """Refuse status months written by a run that failed or has not finished."""
    from saqta.store.lake import FactsLake

    going = FactsLake(lake).interrupted_runs()
    if going:
        raise StoreError(
            f"status run {', '.join(map(str, going))} has not finished: build the index when "
            "it has (a run that was killed is recorded as failed by the next command)",
            where=f"facts lake {lake}",
        )
    if engine is None:
        return
    by_run: dict[int, list[str]] = {}
    for month, files in months:
        for path in files:
            for run_id in _file_runs(path):
                by_run.setdefault(run_id, []).append(str(month))
    problems = []
    for entry in _run_provenance(by_run, engine):
        status = entry.get("status")
        if entry.get("recorded") and status != "succeeded":
            shown = sorted(set(by_run[entry["run_id"]]))
            problems.append(
                Problem(
                    f"status of {', '.join(shown)}",
                    f"written by run {entry['run_id']}, which "
                    + ("failed" if status == "failed" else "has not finished")
                    + ": compute these months again with `saqta insured compute`",
                )
            )
    if problems:
        raise StoreError(problems)


def _prune(root: Path, keep: int) -> list[str]:
    """Delete all but the ``keep`` newest builds in ``root``, never the one ``CURRENT`` names;
    return the names deleted."""
    pointer = root / "CURRENT"
    current = pointer.read_text().strip() if pointer.is_file() else None
    builds = sorted(
        (
            entry
            for entry in root.iterdir()
            if entry.is_dir() and _BUILD_FOLDER.fullmatch(entry.name)
        ),
        key=lambda entry: (entry.name[:16], entry.stat().st_mtime_ns),
    )
    deleted = []
    for entry in builds[: max(0, len(builds) - keep)]:
        if entry.name == current:
            continue
        shutil.rmtree(entry, ignore_errors=True)
        deleted.append(entry.name)
    return deleted


def build_index(
    lake_root: Path | str,
    out: Path | str | None = None,
    *,
    engine: Any | None = None,
    on_month: Callable[[int, int], None] | None = None,
    keep_builds: int | None = None,
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
    :class:`StoreError` when the register is empty, no status was computed, a status run is
    still going, a month was written by a run that failed or never finished (checked in the
    system of record when ``engine`` is given), or a file is unreadable or holds a malformed
    IIN.

    The lake is settled first (see :func:`saqta.mshi.intake.settle_lake`). After the switch,
    builds beyond the ``keep_builds`` newest (default: the setting ``eligibility_index_keep``) are
    deleted, never the current one.
    """
    from saqta.core.settings import get_settings

    started = time.perf_counter()
    kept = keep_builds if keep_builds is not None else get_settings().eligibility_index_keep
    if kept < 1:
        raise InputError("at least one index build must be kept", where=f"keep_builds {kept}")
    lake = settle_lake(Path(lake_root).expanduser().resolve(), engine).root
    root = Path(out).expanduser().resolve() if out is not None else default_index_root(lake)
    months = _status_months(lake)
    if not months:
        raise StoreError(
            "no status has been computed: run the status engine first "
            "(expected derived/status/month=YYYY-MM-01/*.parquet)",
            where=f"facts lake {lake}",
        )
    _check_finished(lake, months, engine)
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
        _prune(root, kept)
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
        self._words: dict[tuple[str, int], tuple[str, str | None]] = {}
        self._change_labels = [
            ChangeCode(p[8]).label if number and p[8] is not None else None
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

    def _texts(self, locale: str, number: int) -> tuple[str, str | None]:
        """The reason and the change of a profile in ``locale`` (rendered once, then kept)."""
        key = (locale, number)
        found = self._words.get(key)
        if found is None:
            profile = self._profiles[number]
            entitled, basis, category, payer, paid, last_paid = profile[:6]
            code, change_date, change_month, count, offer = profile[8:13]
            reason = reason_text(
                locale,
                entitled=entitled,
                basis=basis,
                category=category,
                payment_type=payer,
                paid_months=paid,
                last_paid_period=last_paid,
            )
            change = change_text(
                locale,
                code,
                category=category,
                date=change_date,
                month=change_month,
                count=count,
                offer_months=offer,
            )
            found = self._words[key] = (reason, change)
        return found

    def check(self, iin: str, on: dt.date | str, locale: str = DEFAULT_LOCALE) -> Eligibility:
        """Is the person with this IIN insured on ``on``? See the module docstring for the rules.

        ``on`` is a date or ISO text ``YYYY-MM-DD``; the words are in ``locale`` (``kk``, ``ru``
        or ``en``). Raises :class:`EligibilityInputError` for an invalid IIN, a bad date or a
        month the index does not hold.
        """
        t = translations(locale)  # refuses an unknown locale; cached
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
                text,
                day,
                Outcome.UNKNOWN_PERSON,
                reason=t.gettext(_UNKNOWN),
                reason_code="unknown_person",
                locale=locale,
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
                reason=t.gettext(_DIED_ON).format(date=death.isoformat()),
                reason_code="died",
                locale=locale,
            )
        if number == 0:
            return Eligibility(
                text,
                day,
                Outcome.NOT_INSURED,
                basis="no_status",
                death_date=death,
                reason=t.gettext(_NO_STATUS).format(month=f"{day:%Y-%m}"),
                reason_code="no_status",
                change=t.gettext(_NO_STATUS_CHANGE),
                locale=locale,
            )
        profile = self._profiles[number]
        entitled, basis, category, payer, paid, last_paid, valid, dom = profile[:8]
        words = self._words.get((locale, number))
        reason, change = words if words is not None else self._texts(locale, number)
        reason_code = basis
        outcome = Outcome.INSURED if entitled else Outcome.NOT_INSURED
        valid_from = None
        if entitled and dom:
            valid_from = day.replace(day=dom) if dom != day.day else day
        if entitled and valid is not None and day > valid:
            outcome = Outcome.NOT_INSURED
            reason = t.gettext(_ENDED).format(date=valid.isoformat(), reason=reason)
            reason_code = "ended"
        elif valid_from is not None and day < valid_from:
            outcome = Outcome.NOT_INSURED
            reason = t.gettext(_NOT_YET).format(date=valid_from.isoformat(), reason=reason)
            reason_code = "not_yet"
        elif valid_from is not None and valid_from.day > 1:
            reason = reason_text(
                locale,
                entitled=True,
                basis=basis,
                category=category,
                payment_type=payer,
                paid_months=paid,
                last_paid_period=last_paid,
                valid_from_day=valid_from,
            )
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
            run_id=profile[-1],
            reason=reason,
            reason_code=reason_code,
            change_code=self._change_labels[number],
            valid_from=valid_from,
            locale=locale,
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
