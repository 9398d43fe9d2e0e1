"""``saqta payments import``: payments into the lake dataset ``payments``, one file one transaction.

Fields of a payments file (CSV or Parquet; extra columns are ignored): ``reference`` (the payment
reference, unique across all payments), ``payer_id`` (BIN or IIN of the payer), ``person_iin``
(whose insurance it pays), ``payment_type`` (one of :data:`saqta.mshi.schema.PAYMENT_TYPES`),
``period`` (the month paid for: ``YYYY-MM`` or its first day), ``amount`` (tenge, at most two
decimals) and ``payment_date``.

Checks of each row (reason codes in the quarantine):

- ``missing`` / ``schema``: an empty required field, or a value of the wrong type;
- ``iin_format``, ``iin_birth_date``, ``iin_future``, ``iin_checksum``: the person's IIN is invalid;
- ``payer_format``, ``payer_checksum``, ``payer_invalid``: the payer is neither a BIN nor an IIN;
- ``unknown_person``: a valid IIN that is not in the register of persons;
- ``unknown_payment_type``; ``non_positive_amount``; ``future_date`` (paid after today);
- ``implausible_amount``: above the dated cap of its payment type for the month paid for
  (``rules/mshi/plausibility.yaml``);
- ``impossible_date`` (a date that is not a day of the calendar), ``inexact_amount`` (a typed
  amount that is not exact to the tiyn);
- ``period_before_2017_07``: MSHI contributions are collected since 1 July 2017 (Law No. 405-V;
  the Fund's annual report 2022, section 2);
- ``reference_too_long`` (over 64 characters);
- ``duplicate_in_file``: the second and later rows with a reference already given in the file;
- ``duplicate_reference``: a reference already accepted from another file.

The duplicate check stays fast as the lake grows: each import adds a sorted segment of 64-bit
hashes of its accepted references under ``<lake>/_index/payment_references/`` (committed with the
import's data). A new batch is looked up in the segments by binary search (memory-mapped), and
only the rare hits are confirmed exactly against the stored references with DuckDB: a hash
collision never rejects a payment.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import Engine, select

from saqta.core.errors import InputError, StoreError
from saqta.mshi.contributions._hashes import reference_hashes
from saqta.mshi.contributions._paid import built_after_import
from saqta.mshi.contributions._plausibility import AmountCaps, P
from saqta.mshi.intake import (
    Batch,
    FieldSpec,
    Importer,
    ImportResult,
    Progress,
    RetryResult,
    Validator,
    check_distinct,
    check_iins,
    check_payers,
    distinct,
    rules_now,
    settle_lake,
    sorted_member,
    to_numpy_bool,
)
from saqta.mshi.models import ImportedFile, ImportKind
from saqta.mshi.registry import load_person_index
from saqta.mshi.schema import PAYMENT_TYPES, PAYMENTS
from saqta.store.db import session_scope
from saqta.store.lake import FactsLake, LakeTransaction

__all__ = [
    "FIRST_PERIOD",
    "PaymentsValidator",
    "import_payments",
    "import_synth",
    "persons_of_import",
    "retry_payments",
]

FIRST_PERIOD = dt.date(2017, 7, 1)
"""MSHI deductions and contributions are collected since 1 July 2017."""

MAX_REFERENCE = 64
REFERENCE_INDEX = "_index/payment_references"
_MERGE_SLACK = 1.5
"""A segment is merged with what is merged so far when it is at most this much larger: files of
about the same size merge as a binary counter would, whatever their exact row counts."""
_MERGE_CHUNK = 1 << 22
"""Hashes per step of a segment merge (32 MiB): a merge never holds a whole segment in memory."""


class ReferenceIndex:
    """The 64-bit hashes of every reference accepted so far: a few sorted segments
    ``<lake>/_index/payment_references/seg-<transaction>.npy``, memory-mapped while an import
    runs (file-backed pages, which the kernel can drop; :meth:`close` unmaps them).

    Each payments import adds one segment, written in its lake transaction. Its hashes are first
    merged with the newest segments while these are at most 1.5 times larger than what is merged
    so far (for files of similar size, a binary counter: segment sizes about double from the
    newest to the oldest, so there are about log2(imports) + 1 segments, and each hash is
    rewritten about log2(imports) times in all). The merged segment is written in the import's
    transaction, in bounded memory, with the list of the segments it replaces
    (``seg-<transaction>.replaces.json``): both appear when the transaction is committed, or
    neither. The replaced segments are deleted by the next import, holding the lake's writer
    lock, before it reads the index (:meth:`tidy`); until then both hold the same hashes, which
    costs a lookup, never a missed duplicate: every segment present is read.
    """

    def __init__(self, lake: FactsLake) -> None:
        self.folder = lake.root / REFERENCE_INDEX
        paths = sorted(self.folder.glob("seg-*.npy")) if self.folder.is_dir() else []
        segments = [(path, np.load(path, mmap_mode="r")) for path in paths]
        # newest (smallest) last, as the merge takes them
        segments.sort(key=lambda item: -item[1].size)
        self.paths = [path for path, _ in segments]
        self.segments: list[np.ndarray] = [segment for _, segment in segments]

    @staticmethod
    def tidy(lake: FactsLake) -> None:
        """Delete the segments that committed merges replaced; call it holding the writer lock.

        A list is deleted after its segments, and only when the merged segment is there: a
        crash part-way leaves the rest for the next call."""
        folder = lake.root / REFERENCE_INDEX
        if not folder.is_dir():
            return
        for listing in sorted(folder.glob("seg-*.replaces.json")):
            merged = folder / listing.name.replace(".replaces.json", ".npy")
            if not merged.is_file():
                continue
            for name in json.loads(listing.read_text(encoding="utf-8")):
                (folder / Path(name).name).unlink(missing_ok=True)
            listing.unlink()

    def close(self) -> None:
        """Unmap the segments (their pages stay in the page cache, not in this process)."""
        self.paths = []
        self.segments = []

    def contains_sorted(self, needles: np.ndarray) -> np.ndarray:
        """For sorted ``needles``, whether each is in some segment."""
        hit = np.zeros(needles.size, dtype=bool)
        for segment in self.segments:
            hit |= sorted_member(needles, segment)
        return hit

    def add(self, hashes: np.ndarray, transaction: LakeTransaction) -> None:
        """Stage the segment of an import's sorted ``hashes``, merged with the newest segments
        that are not much larger, and the list of the segments it replaces."""
        runs = [hashes]
        size = hashes.size
        replaced: list[str] = []
        while self.segments and self.segments[-1].size <= _MERGE_SLACK * size:
            segment = self.segments.pop()
            replaced.append(self.paths.pop().name)
            runs.append(segment)
            size += segment.size
        target = transaction.path_for(f"{REFERENCE_INDEX}/seg-{transaction.id}.npy")
        _write_merged(target, runs)
        if replaced:
            listing = f"{REFERENCE_INDEX}/seg-{transaction.id}.replaces.json"
            transaction.path_for(listing).write_text(json.dumps(replaced), encoding="utf-8")


def _write_merged(target: Path, runs: Sequence[np.ndarray]) -> None:
    """Write the sorted union (repeats kept) of sorted ``runs`` as one ``.npy`` file, a slice of
    hash values at a time."""
    total = sum(run.size for run in runs)
    # value bounds: every step-th hash of each run, so that between two bounds each run has at
    # most step hashes, and a slice at most _MERGE_CHUNK
    step = max(1, _MERGE_CHUNK // len(runs))
    bounds = np.unique(np.concatenate([np.asarray(run[step::step]) for run in runs]))
    starts = [0] * len(runs)
    with target.open("wb") as sink:
        header = {
            "descr": np.lib.format.dtype_to_descr(runs[0].dtype),
            "fortran_order": False,
            "shape": (total,),
        }
        np.lib.format.write_array_header_1_0(sink, header)
        for bound in [*bounds, None]:
            pieces = []
            for k, run in enumerate(runs):
                end = run.size if bound is None else int(np.searchsorted(run, bound))
                pieces.append(np.asarray(run[starts[k] : end]))
                starts[k] = end
            merged = np.concatenate(pieces)
            merged.sort(kind="stable")  # sorted runs: a merge
            merged.tofile(sink)


class PaymentsValidator(Validator):
    kind = ImportKind.PAYMENTS
    dataset = "payments"
    dictionary_columns = ("payer_id", "payment_type", "source_file")
    partition_by = ("year", "month")
    fields = (
        FieldSpec("reference", "text"),
        FieldSpec("payer_id", "text"),
        FieldSpec("person_iin", "text"),
        FieldSpec("payment_type", "text"),
        FieldSpec("period", "month"),
        FieldSpec("amount", "money"),
        FieldSpec("payment_date", "date"),
    )

    def __init__(self) -> None:
        self.persons = np.zeros(0, dtype=np.int64)
        self.index: ReferenceIndex | None = None
        self.file_hashes: list[np.ndarray] = []  # sorted hashes of earlier batches of the file
        self.work: Path = Path()
        self.batches = 0
        self.sha = ""

    def start(self, importer: Importer, transaction: LakeTransaction) -> None:
        # what is needed of the importer, not the importer itself (which holds this validator):
        # no reference cycle keeps the memory-mapped index alive after the import
        self.sha = importer.sha
        self.lake = importer.lake
        self.today = importer.today
        self.persons = load_person_index(importer.lake)
        if self.index is not None:
            self.index.close()
        ReferenceIndex.tidy(importer.lake)  # the lake is locked and recovered
        self.index = ReferenceIndex(importer.lake)
        self.caps = AmountCaps(rules_now())
        self.file_hashes = []
        self.work = transaction.staging / "_work"
        self.work.mkdir(parents=True, exist_ok=True)
        self.batches = 0

    def check(self, batch: Batch) -> pa.Table:
        problems = batch.problems
        c = batch.columns
        n = batch.size
        raw = batch.raw

        reference = _plain(c["reference"])
        too_long = to_numpy_bool(pc.greater(pc.utf8_length(reference), MAX_REFERENCE))
        problems.add(
            too_long,
            "reference",
            "reference_too_long",
            f"a payment reference has at most {MAX_REFERENCE} characters",
            raw["reference"],
        )
        usable = to_numpy_bool(pc.greater(pc.utf8_length(reference), 0)) & ~too_long

        person = c["person_iin"]
        dictionary, indices = distinct(person)
        distinct_check = check_iins(dictionary.cast(pa.string()), self.today)
        known_distinct = sorted_member(distinct_check.numbers, self.persons)
        iins = distinct_check.expand(indices)
        for mask, reason, message in iins.failures:
            problems.add(mask, "person_iin", reason, message, raw["person_iin"])
        known = known_distinct[np.maximum(indices, 0)]
        problems.add(
            iins.valid & ~known,
            "person_iin",
            "unknown_person",
            "no such person in the register of persons",
            raw["person_iin"],
        )

        payer = c["payer_id"]
        payers = check_distinct(payer, check_payers, self.today)
        for mask, reason, message in payers.failures:
            problems.add(mask, "payer_id", reason, message, raw["payer_id"])

        kind = c["payment_type"]
        kinds, kind_index = distinct(kind)
        bad_kind = (kind_index >= 0) & ~to_numpy_bool(
            pc.is_in(kinds.cast(pa.string()), pa.array(PAYMENT_TYPES))
        )[np.maximum(kind_index, 0)]
        problems.add(
            bad_kind,
            "payment_type",
            "unknown_payment_type",
            "not one of " + ", ".join(PAYMENT_TYPES),
            raw["payment_type"],
        )

        amount = c["amount"]
        not_positive = to_numpy_bool(pc.less_equal(amount, pa.scalar(0, amount.type)))
        problems.add(
            not_positive,
            "amount",
            "non_positive_amount",
            "the amount must be more than zero",
            raw["amount"],
        )

        implausible = self.caps.above(kinds, kind_index, c["period"], amount)
        problems.add(
            implausible,
            "amount",
            "implausible_amount",
            "above the plausible amount of one payment row for its payment type and month "
            f"(rules {P}amount_cap_<payment_type>)",
            raw["amount"],
        )

        paid = c["payment_date"]
        future = to_numpy_bool(pc.greater(paid, pa.scalar(self.today, pa.date32())))
        problems.add(
            future,
            "payment_date",
            "future_date",
            f"the payment date is after today ({self.today})",
            raw["payment_date"],
        )

        period = c["period"]
        early = to_numpy_bool(pc.less(period, pa.scalar(FIRST_PERIOD, pa.date32())))
        problems.add(
            early,
            "period",
            "period_before_2017_07",
            "MSHI contributions are collected since 2017-07",
            raw["period"],
        )

        accepted_sorted_hashes = self._duplicates(batch, reference, usable)
        if accepted_sorted_hashes.size:
            self.file_hashes.append(accepted_sorted_hashes)
            keep = ~problems.rejected
            pq.write_table(
                pa.table({"reference": reference.filter(pa.array(keep))}),
                self.work / f"refs-{self.batches:06d}.parquet",
                compression="none",
            )
        self.batches += 1

        return pa.table(
            {
                "reference": _plain(reference),
                "payer_id": _plain(payer),
                "person_iin": _plain(person),
                "payment_type": _plain(kind),
                "period": period,
                "amount": amount,
                "payment_date": paid,
                "source_file": pa.repeat(pa.scalar(self.sha, pa.string()), n),
                "source_row": batch.rows,
                "year": pc.year(period).cast(pa.int16()),
                "month": pc.month(period).cast(pa.int16()),
            },
        )

    def _duplicates(self, batch: Batch, reference: pa.Array, usable: np.ndarray) -> np.ndarray:
        """Record duplicate references; return the sorted hashes of the rows accepted."""
        problems = batch.problems
        n = batch.size
        rows = np.flatnonzero(usable)
        usable_refs = reference if rows.size == n else reference.take(pa.array(rows))
        hashes = reference_hashes(usable_refs)
        sorted_hashes = np.sort(hashes)
        message_in_file = "this reference is already given in an earlier row of the file"

        def rows_with(values: np.ndarray) -> np.ndarray:
            return np.asarray(rows[np.isin(hashes, values)])

        # within the batch: rows sharing a hash are compared exactly; after the first, each
        # row with the same reference is a duplicate
        same = sorted_hashes[1:] == sorted_hashes[:-1]
        if same.any():
            grouped = rows_with(np.unique(sorted_hashes[1:][same]))
            table = pa.table({"reference": reference.take(pa.array(grouped)), "i": grouped})
            first = table.group_by("reference", use_threads=False).aggregate([("i", "min")])
            later = np.zeros(n, dtype=bool)
            later[grouped] = True
            later[first.column("i_min").to_numpy()] = False
            problems.add(
                later, "reference", "duplicate_in_file", message_in_file, batch.raw["reference"]
            )

        # against earlier batches of the file and the lake: lookups of the sorted hashes,
        # the rare hits confirmed exactly
        in_file = np.zeros(sorted_hashes.size, dtype=bool)
        for earlier in self.file_hashes:
            in_file |= sorted_member(sorted_hashes, earlier)
        assert self.index is not None
        in_lake = self.index.contains_sorted(sorted_hashes) & ~in_file
        for hits, sources, reason, message in (
            (
                in_file,
                sorted(self.work.glob("refs-*.parquet")),
                "duplicate_in_file",
                message_in_file,
            ),
            (
                in_lake,
                self.lake.files("payments"),
                "duplicate_reference",
                "this reference was already accepted from another file",
            ),
        ):
            if hits.any() and sources:
                candidates = rows_with(sorted_hashes[hits])
                confirmed = _present(reference.take(pa.array(candidates)), sources)
                mask = np.zeros(n, dtype=bool)
                mask[candidates[confirmed]] = True
                problems.add(mask, "reference", reason, message, batch.raw["reference"])
        accepted = ~problems.rejected[rows]
        return sorted_hashes if accepted.all() else np.sort(hashes[accepted])

    def committed(self, lake: FactsLake, files: list[Path]) -> None:
        built_after_import(lake, files)
        # the batches are gone: give the memory Arrow's allocator keeps for reuse back to the
        # system, so that a long run of imports stays at the size of one
        pa.default_memory_pool().release_unused()

    def finish(self, transaction: LakeTransaction) -> None:
        assert self.index is not None
        try:
            if self.file_hashes:
                merged = np.sort(np.concatenate(self.file_hashes), kind="stable")  # sorted runs
                self.file_hashes = []
                self.index.add(merged, transaction)
        finally:
            self.index.close()


def _plain(values: pa.Array) -> pa.Array:
    """Text as a plain string column (a dictionary-encoded one decoded)."""
    return values.cast(pa.string()) if pa.types.is_dictionary(values.type) else values


def _present(references: pa.Array, sources: Sequence[Path]) -> np.ndarray:
    """Which of ``references`` occur in the ``reference`` column of the Parquet ``sources``."""
    candidates = pa.table({"reference": references})
    files = [str(path) for path in sources]
    with duckdb.connect(":memory:") as connection:
        connection.register("candidates", candidates)
        found = _arrow(
            connection,
            "SELECT DISTINCT s.reference FROM read_parquet(?, union_by_name = true) s "
            "SEMI JOIN candidates c ON s.reference = c.reference",
            [files],
        )
    return to_numpy_bool(pc.is_in(references, found.column("reference")))


def _arrow(connection: duckdb.DuckDBPyConnection, sql: str, params: list[object]) -> pa.Table:
    relation = connection.sql(sql, params=params)
    if relation is None:  # pragma: no cover - a SELECT always gives a relation
        raise StoreError("the query gave no result", where="facts lake")
    table: pa.Table = relation.to_arrow_table()
    return table


def import_payments(
    engine: Engine,
    lake: FactsLake,
    path: Path | str,
    *,
    today: dt.date | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Import one payments file (CSV or Parquet) as one transaction.

    Returns the counts (read = accepted + quarantined, by reason), the import id and run id, and
    ``already_imported`` when a file with the same SHA-256 was imported before (nothing is done).
    The register of persons must be imported first (unknown persons are quarantined).
    """
    return Importer(engine, lake, PaymentsValidator(), today=today).import_file(path, progress)


def retry_payments(
    engine: Engine,
    lake: FactsLake,
    import_id: int,
    *,
    today: dt.date | None = None,
    progress: Progress | None = None,
) -> RetryResult:
    """Process again the rows of a payments import still open in the quarantine (after the
    missing person was registered, say), as one transaction; see :meth:`Importer.retry`."""
    importer = Importer(engine, lake, PaymentsValidator(), today=today)
    return importer.retry(import_id, progress)


def persons_of_import(engine: Engine, lake: FactsLake, import_id: int) -> pa.Array:
    """The distinct IINs of the persons whose payments an import accepted (sorted).

    The status engine's incremental mode recomputes only these persons."""
    with session_scope(engine) as session:
        record = session.scalar(select(ImportedFile).where(ImportedFile.id == import_id))
    if record is None:
        raise InputError("no such import", where=f"import {import_id}")
    if record.kind is not ImportKind.PAYMENTS:
        raise InputError(
            f"is an import of {record.kind.value}, not payments", where=f"import {import_id}"
        )
    settle_lake(lake, engine)  # the import's files are all in place
    files = [str(lake.root / name) for name in record.lake_files if name.startswith("payments/")]
    if not files:
        return pa.array([], pa.string())
    try:
        with duckdb.connect(":memory:") as connection:
            table = _arrow(
                connection,
                "SELECT DISTINCT person_iin FROM read_parquet(?) ORDER BY person_iin",
                [files],
            )
    except duckdb.Error as exc:
        raise StoreError(
            f"cannot read the import's files: {exc}", where=f"import {import_id}"
        ) from exc
    return table.column("person_iin").combine_chunks()


PAYMENTS_COLUMNS = [field.name for field in PAYMENTS]


def import_synth(
    engine: Engine,
    lake: FactsLake,
    synth_dir: Path | str,
    *,
    today: dt.date | None = None,
    progress: Progress | None = None,
) -> dict[str, list[ImportResult]]:
    """Import a ``saqta synth`` output folder: the register of persons and the state category
    periods, then every payments file (each file one transaction; files already imported are
    skipped). Returns the results by kind: ``persons``, ``state_categories``, ``payments``."""
    from saqta.mshi.registry import import_persons

    folder = Path(synth_dir)
    if not (folder / "persons").is_dir() or not (folder / "payments").is_dir():
        raise InputError("not a synth output folder (no persons/ or payments/)", where=str(folder))
    results: dict[str, list[ImportResult]] = {
        "persons": [],
        "state_categories": [],
        "payments": [],
    }
    for result in import_persons(engine, lake, folder, today=today, progress=progress):
        results[result.kind].append(result)
    for path in sorted((folder / "payments").glob("*.parquet")):
        results["payments"].append(
            import_payments(engine, lake, path, today=today, progress=progress)
        )
    return results
