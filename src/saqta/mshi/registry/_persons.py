"""``saqta persons import``: the register of persons and the periods of state-paid categories.

Two kinds of file, CSV or Parquet (other columns, such as those ``saqta synth`` adds, are
ignored):

- persons: ``iin``, ``sex`` (M/F), ``birth_date``, ``region`` (a code of the 20 regions),
  ``urban`` (true/false), ``attached_provider_id`` (optional), ``death_date`` (optional) →
  lake dataset ``persons``;
- state category periods: ``iin``, ``category`` (one of
  :data:`saqta.mshi.schema.STATE_CATEGORIES`), ``valid_from``, ``valid_to`` (inclusive,
  optional), and optionally ``source`` (the state register that reports the period) → lake
  dataset ``state_categories``.

Both follow the import discipline of :mod:`saqta.mshi.intake._files` (one file one transaction,
SHA-256 idempotence, quarantine, reconciled counts). Each import gets the next ``loaded_seq``; a
re-import of a changed person adds a newer row, and readers take each person's row with the
highest ``loaded_seq``.

**Category periods come from several state registers.** Each period has a ``source``: the
file's ``source`` column, or the ``source`` given for the whole file (``saqta persons import
--source``), or, when neither is given, the period's category (each category its own source).
A file of one source gives, for each person it names, that source's whole current list of
periods for the person: it adds, corrects or ends that source's periods, and never touches
another source's. Readers take, per person and source, the periods of the highest
``loaded_seq`` (the status engine and the reports: ``PARTITION BY iin, source``).

Checks (reason codes): the IIN's (``iin_format``, ``iin_birth_date``, ``iin_future``,
``iin_checksum``); ``sex_mismatch`` and ``birth_date_mismatch`` (the IIN encodes both);
``unknown_sex``; ``unknown_region``; ``future_date``; ``death_before_birth``;
``unknown_category`` (the aliases of :data:`CATEGORY_ALIASES` are accepted and stored under
the contract's name); ``inverted_period``; ``source_too_long`` (over 64 characters);
``source_mismatch`` (a row's source differs from the one given for the whole file);
``unknown_person`` (a category period for an IIN not in the register); ``duplicate_in_file``
(same IIN, source, category and start). Any date field: ``impossible_date``.

Each import of persons also commits a sorted segment of its IINs (as 12-digit integers) under
``<lake>/_index/persons/``: the payments import checks "is this person in the register" by
binary search over it, without reading the register.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import Engine

from saqta.core.errors import InputError
from saqta.core.iin import birth_dates, sexes
from saqta.core.reference import regions
from saqta.mshi.intake import (
    Batch,
    FieldSpec,
    Importer,
    ImportResult,
    Progress,
    Validator,
    check_iins,
    column_names,
    sorted_member,
    to_numpy_bool,
)
from saqta.mshi.models import ImportKind
from saqta.mshi.schema import STATE_CATEGORIES
from saqta.store.lake import FactsLake, LakeTransaction

__all__ = [
    "PersonsValidator",
    "StateCategoriesValidator",
    "category_periods",
    "import_persons",
    "load_person_index",
    "register_files",
]

PERSON_INDEX = "_index/persons"
MAX_SOURCE = 64
CATEGORY_ALIASES = {"other_exempt": "other", "military_conscript": "conscript"}
"""Other names of state categories, stored under the name of
:data:`saqta.mshi.schema.STATE_CATEGORIES` (``saqta synth`` writes these)."""
_EPOCH = np.datetime64("1970-01-01", "D")
_SUFFIXES = (".csv", ".parquet", ".xlsx")
_cache: dict[tuple[str, ...], np.ndarray] = {}


def category_periods(lake: FactsLake) -> str | None:
    """The lake's state category periods as a DuckDB relation that always has a ``source``
    column (null in files written before periods had a source), or None when there are none.
    Readers take, per person and source, the periods of the highest ``loaded_seq``."""
    files = lake.files("state_categories")
    if not files:
        return None
    listed = ", ".join("'" + path.as_posix().replace("'", "''") + "'" for path in files)
    relation = f"read_parquet([{listed}], hive_partitioning = false, union_by_name = true)"
    if any("source" in pq.read_schema(path).names for path in reversed(files)):
        return relation
    return f"(SELECT *, CAST(NULL AS VARCHAR) AS source FROM {relation})"


def load_person_index(lake: FactsLake) -> np.ndarray:
    """Every IIN in the register as a sorted array of 12-digit integers (cached per process
    until a new segment appears)."""
    folder = lake.root / PERSON_INDEX
    paths = tuple(str(p) for p in sorted(folder.glob("seg-*.npy"))) if folder.is_dir() else ()
    cached = _cache.get(paths)
    if cached is not None:
        return cached
    if not paths:
        return np.zeros(0, dtype=np.int64)
    merged = np.sort(np.concatenate([np.load(path) for path in paths]))  # repeats are harmless
    _cache.clear()
    _cache[paths] = merged
    return merged


def _days(values: pa.Array) -> np.ndarray:
    """date32 values as int64 days (nulls as a very small number)."""
    filled = pc.fill_null(values, pa.scalar(dt.date(1, 1, 1), pa.date32()))
    return np.asarray(filled.cast(pa.int32()).to_numpy(zero_copy_only=False), dtype=np.int64)


def _duplicates(batch: Batch, keys: dict[str, pa.Array], usable: np.ndarray, field: str) -> None:
    index = np.arange(batch.size, dtype=np.int64)
    table = pa.table({**keys, "__i": pa.array(index)}).filter(pa.array(usable))
    first = table.group_by(list(keys), use_threads=False).aggregate([("__i", "min")])
    later = usable.copy()
    later[first.column("__i_min").to_numpy()] = False
    batch.problems.add(
        later,
        field,
        "duplicate_in_file",
        "already given in an earlier row of the file",
        batch.raw[field],
    )


class _RegisterValidator(Validator):
    def __init__(self) -> None:
        self.seen: list[np.ndarray] = []  # sorted IIN numbers of earlier batches of the file

    def start(self, importer: Importer, transaction: LakeTransaction) -> None:
        self.importer = importer
        self.today = importer.today
        self.seen = []

    def _earlier_in_file(self, batch: Batch, numbers: np.ndarray, usable: np.ndarray) -> None:
        """Rows whose key (the IIN) was already accepted from an earlier batch of the file."""
        hit = np.zeros(batch.size, dtype=bool)
        for earlier in self.seen:
            hit |= sorted_member(numbers, earlier)
        batch.problems.add(
            hit & usable,
            "iin",
            "duplicate_in_file",
            "already given in an earlier row of the file",
            batch.raw["iin"],
        )


class PersonsValidator(_RegisterValidator):
    kind = ImportKind.PERSONS
    dataset = "persons"
    fields = (
        FieldSpec("iin", "text"),
        FieldSpec("sex", "text"),
        FieldSpec("birth_date", "date"),
        FieldSpec("region", "text"),
        FieldSpec("urban", "bool"),
        FieldSpec("attached_provider_id", "int", required=False),
        FieldSpec("death_date", "date", required=False),
    )

    def check(self, batch: Batch) -> pa.Table:
        problems = batch.problems
        c = batch.columns
        raw = batch.raw
        today_days = int((np.datetime64(self.today, "D") - _EPOCH).astype(np.int64))
        iin = c["iin"]
        present = to_numpy_bool(pc.is_valid(iin))
        iins = check_iins(iin, self.today)
        for mask, reason, message in iins.failures:
            problems.add(mask & present, "iin", reason, message, raw["iin"])

        sex = c["sex"]
        sex_known = to_numpy_bool(pc.is_in(sex, pa.array(["M", "F"])))
        problems.add(
            to_numpy_bool(pc.is_valid(sex)) & ~sex_known,
            "sex",
            "unknown_sex",
            "expected M or F",
            raw["sex"],
        )
        encoded_sex = sexes(iins.digits)
        mismatch = (
            iins.valid
            & sex_known
            & (np.asarray(sex.to_numpy(zero_copy_only=False), dtype=object) != encoded_sex)
        )
        problems.add(
            mismatch, "sex", "sex_mismatch", "differs from the sex the IIN encodes", raw["sex"]
        )

        birth = c["birth_date"]
        birth_present = to_numpy_bool(pc.is_valid(birth))
        _, encoded_birth = birth_dates(iins.digits)
        birth_days = _days(birth)
        problems.add(
            iins.valid & birth_present & (birth_days != encoded_birth),
            "birth_date",
            "birth_date_mismatch",
            "differs from the birth date the IIN encodes",
            raw["birth_date"],
        )
        problems.add(
            birth_present & (birth_days > today_days),
            "birth_date",
            "future_date",
            f"after today ({self.today})",
            raw["birth_date"],
        )
        region = c["region"]
        codes = pa.array([r.code for r in regions()])
        problems.add(
            to_numpy_bool(pc.is_valid(region)) & ~to_numpy_bool(pc.is_in(region, codes)),
            "region",
            "unknown_region",
            "not a code of the regions of Kazakhstan",
            raw["region"],
        )
        death = c["death_date"]
        death_present = to_numpy_bool(pc.is_valid(death))
        death_days = _days(death)
        problems.add(
            death_present & birth_present & (death_days < birth_days),
            "death_date",
            "death_before_birth",
            "the death date is before the birth date",
            raw["death_date"],
        )
        problems.add(
            death_present & (death_days > today_days),
            "death_date",
            "future_date",
            f"after today ({self.today})",
            raw["death_date"],
        )
        numbers = iins.numbers
        _duplicates(batch, {"iin": iin}, iins.valid, "iin")
        self._earlier_in_file(batch, numbers, iins.valid)
        keep = ~problems.rejected
        if keep.any():
            self.seen.append(np.sort(numbers[keep]))
        assert self.importer.loaded_seq is not None
        return pa.table(
            {
                "iin": iin,
                "sex": sex,
                "birth_date": birth,
                "region": region,
                "urban": c["urban"],
                "attached_provider_id": c["attached_provider_id"],
                "death_date": death,
                "loaded_seq": pa.array(np.full(batch.size, self.importer.loaded_seq), pa.int64()),
            }
        )

    def finish(self, transaction: LakeTransaction) -> None:
        if self.seen:
            merged = np.sort(np.concatenate(self.seen))  # unique: duplicates are refused
            np.save(transaction.path_for(f"{PERSON_INDEX}/seg-{transaction.id}.npy"), merged)


class StateCategoriesValidator(_RegisterValidator):
    kind = ImportKind.STATE_CATEGORIES
    dataset = "state_categories"
    fields = (
        FieldSpec("iin", "text"),
        FieldSpec("category", "text"),
        FieldSpec("valid_from", "date"),
        FieldSpec("valid_to", "date", required=False),
        FieldSpec("source", "text", required=False, optional_column=True),
    )

    def __init__(self, source: str | None = None) -> None:
        super().__init__()
        self.source = None if source is None else source.strip().lower()
        if self.source is not None and not 0 < len(self.source) <= MAX_SOURCE:
            raise InputError(
                f"a source is 1 to {MAX_SOURCE} characters", where=f"source {source!r}"
            )

    def start(self, importer: Importer, transaction: LakeTransaction) -> None:
        super().start(importer, transaction)
        self.persons = load_person_index(importer.lake)

    def check(self, batch: Batch) -> pa.Table:
        problems = batch.problems
        c = batch.columns
        raw = batch.raw
        iin = c["iin"]
        present = to_numpy_bool(pc.is_valid(iin))
        iins = check_iins(iin, self.today)
        for mask, reason, message in iins.failures:
            problems.add(mask & present, "iin", reason, message, raw["iin"])
        numbers = iins.numbers
        known = sorted_member(numbers, self.persons)
        problems.add(
            iins.valid & ~known,
            "iin",
            "unknown_person",
            "no such person in the register of persons",
            raw["iin"],
        )
        category = c["category"]
        for alias, name in CATEGORY_ALIASES.items():
            category = pc.if_else(pc.equal(category, alias), pa.scalar(name), category)
        problems.add(
            to_numpy_bool(pc.is_valid(category))
            & ~to_numpy_bool(pc.is_in(category, pa.array(STATE_CATEGORIES))),
            "category",
            "unknown_category",
            "not one of " + ", ".join(STATE_CATEGORIES),
            raw["category"],
        )
        start, end = c["valid_from"], c["valid_to"]
        inverted = to_numpy_bool(pc.less(end, start))
        problems.add(
            inverted,
            "valid_to",
            "inverted_period",
            "valid_to is before valid_from",
            raw["valid_to"],
        )
        source = self._sources(batch, category)
        usable = (
            iins.valid & to_numpy_bool(pc.is_valid(category)) & to_numpy_bool(pc.is_valid(start))
        )
        keys = {"iin": iin, "source": source, "category": category, "valid_from": start}
        _duplicates(batch, keys, usable, "iin")
        assert self.importer.loaded_seq is not None
        return pa.table(
            {
                "iin": iin,
                "category": category,
                "valid_from": start,
                "valid_to": end,
                "loaded_seq": pa.array(np.full(batch.size, self.importer.loaded_seq), pa.int64()),
                "source": source,
            }
        )

    def _sources(self, batch: Batch, category: pa.Array) -> pa.Array:
        """Each row's source: its own, else the file's, else its category."""
        given = pc.utf8_lower(batch.columns["source"])
        given = pc.if_else(pc.equal(given, ""), pa.scalar(None, pa.string()), given)
        present = to_numpy_bool(pc.is_valid(given))
        batch.problems.add(
            to_numpy_bool(pc.greater(pc.utf8_length(given), MAX_SOURCE)),
            "source",
            "source_too_long",
            f"a source has at most {MAX_SOURCE} characters",
            batch.raw["source"],
        )
        if self.source is None:
            return pc.coalesce(given, category)
        file_source = pa.scalar(self.source, pa.string())
        batch.problems.add(
            present & ~to_numpy_bool(pc.equal(given, file_source)),
            "source",
            "source_mismatch",
            f"differs from the source given for the whole file ({self.source})",
            batch.raw["source"],
        )
        return pc.coalesce(given, file_source)


def register_files(paths: Iterable[Path | str]) -> list[tuple[Path, ImportKind]]:
    """The files to import, persons first, each with its kind.

    A folder is searched for ``*.csv`` and ``*.parquet`` files (a ``saqta synth`` output folder
    gives its ``persons/`` and ``state_categories/`` folders). A file with a ``valid_from`` column
    holds state category periods; any other holds persons."""
    files: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            found = [p for p in sorted(path.rglob("*")) if p.suffix.lower() in _SUFFIXES]
            if (path / "persons").is_dir() or (path / "state_categories").is_dir():
                found = [p for p in found if p.parent.name in ("persons", "state_categories")]
            if not found:
                raise InputError("no .csv, .parquet or .xlsx file in this folder", where=str(path))
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise InputError("no such file or folder", where=str(path))
    kinds = [
        (
            path,
            ImportKind.STATE_CATEGORIES
            if "valid_from" in column_names(path)
            else ImportKind.PERSONS,
        )
        for path in files
    ]
    return sorted(kinds, key=lambda item: item[1] is ImportKind.STATE_CATEGORIES)


def import_persons(
    engine: Engine,
    lake: FactsLake,
    paths: Sequence[Path | str] | Path | str,
    *,
    today: dt.date | None = None,
    progress: Progress | None = None,
    on_file: Callable[[ImportResult], None] | None = None,
    source: str | None = None,
) -> list[ImportResult]:
    """Import the register of persons, then the state category periods, file by file (each file
    one transaction). Returns one result per file, in the order imported. ``source``: the state
    register of the category files that have no ``source`` column."""
    items = [paths] if isinstance(paths, str | Path) else list(paths)
    results = []
    for path, kind in register_files(items):
        validator: Validator = (
            PersonsValidator() if kind is ImportKind.PERSONS else StateCategoriesValidator(source)
        )
        result = Importer(engine, lake, validator, today=today).import_file(path, progress)
        results.append(result)
        if on_file is not None:
            on_file(result)
    return results
