"""The facts lake: append-only, hive-partitioned Parquet datasets queried with DuckDB.

Layout: ``<root>/<dataset>/<col>=<value>/.../part-<uuid4>.parquet``. Files are never rewritten or
deleted by Saqta: appending a batch only adds new files. Partition columns live in the folder
names only (their values percent-encoded, a null as ``__HIVE_DEFAULT_PARTITION__``); their types
are recorded in every file's Parquet metadata so that DuckDB reads them back with the types they
were written with (``"007"`` stays text, a date stays a date).

Crash safety: a batch is written into a temporary folder inside the lake root (same file system)
and each finished, fsynced file is then moved into place with ``os.replace``, so readers never see
a partly written file. :meth:`FactsLake.append` is for single files and tests: a crash can leave a
batch with only some of its files visible. Writers that must be all-or-nothing use a
:class:`LakeTransaction`, and every command starts with :meth:`FactsLake.settle` (or holds
:meth:`FactsLake.lock` and calls :meth:`FactsLake.recover`), which finishes or undoes whatever a
killed writer left: prepared transactions, staging folders, runs that were still going.

Money: Parquet ``DECIMAL`` columns come back from DuckDB as ``DECIMAL`` (Python
:class:`~decimal.Decimal`), never as floating point; sums over them are exact.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from saqta.core.errors import StoreError
from saqta.core.faults import crash_point
from saqta.store.sql import sql_identifier, sql_literal

__all__ = ["FactsLake", "LakeTransaction"]

_DATASET_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
_COLUMN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_PARTITION_KEY = b"saqta.partition_by"
_NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
_TEMP_PREFIX = ".tmp-"
_LOCK_FILE = ".writer.lock"
_TRANSACTIONS = "_transactions"
_RUNS = "_runs"
_KEPT_TEMP = ".tmp-duckdb"  # DuckDB's spill folder, used by readers that hold no lock
_GLOB_CHARACTERS = "*?[]{}\\"  # read by DuckDB as a file pattern

# The writer lock is re-entrant within a thread: a writer that holds it may call code that takes
# it again (flock on a second descriptor of the same file would wait for itself).
_HELD: dict[tuple[Path, int], list[Any]] = {}
_HELD_GUARD = threading.Lock()


def _duckdb_partition_type(arrow_type: pa.DataType) -> str | None:
    """The DuckDB type of a partition column, or None if the Arrow type cannot partition."""
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "VARCHAR"
    if pa.types.is_boolean(arrow_type):
        return "BOOLEAN"
    if pa.types.is_date32(arrow_type):
        return "DATE"
    integers = {
        pa.int8(): "TINYINT",
        pa.int16(): "SMALLINT",
        pa.int32(): "INTEGER",
        pa.int64(): "BIGINT",
        pa.uint8(): "UTINYINT",
        pa.uint16(): "USMALLINT",
        pa.uint32(): "UINTEGER",
        pa.uint64(): "UBIGINT",
    }
    return integers.get(arrow_type)


def _segment(value: Any) -> str:
    """The folder-name form of a partition value (DuckDB percent-decodes it on reading)."""
    if value is None:
        return _NULL_PARTITION
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return quote(str(value), safe="")


def _os_reason(exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    return reason[:1].lower() + reason[1:]


class FactsLake:
    """An append-only lake of Parquet datasets under ``root`` (created on the first append).

    Reading never needs write access: :meth:`datasets`, :meth:`files`, :meth:`connect`,
    :meth:`query` and :meth:`count` work on a read-only lake.
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser().resolve()

    def __repr__(self) -> str:
        return f"FactsLake({str(self.root)!r})"

    # ----------------------------------------------------------------------------------------
    # Names and listing

    def _check_dataset(self, dataset: str) -> Path:
        """The folder of ``dataset``, after checking that its name is a simple identifier."""
        if not isinstance(dataset, str) or not _DATASET_NAME.fullmatch(dataset):
            raise StoreError(
                f"invalid dataset name {dataset!r}: use lower-case letters, digits and _, "
                "starting with a letter (at most 63 characters)",
                where=f"facts lake {self.root}",
            )
        return self.root / dataset

    def datasets(self) -> list[str]:
        """The names of the datasets that hold at least one file, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(
            entry.name
            for entry in self.root.iterdir()
            if entry.is_dir() and _DATASET_NAME.fullmatch(entry.name) and self.files(entry.name)
        )

    def files(self, dataset: str) -> list[Path]:
        """Every data file of ``dataset`` (empty if it does not exist), sorted by path."""
        folder = self._check_dataset(dataset)
        if not folder.is_dir():
            return []
        return sorted(path for path in folder.rglob("*.parquet") if path.is_file())

    @staticmethod
    def _partitioning(path: Path) -> dict[str, str]:
        """The partition columns of a data file and their DuckDB types, in folder order."""
        metadata = pq.read_schema(path).metadata or {}
        raw = metadata.get(_PARTITION_KEY)
        if raw is None:
            return {}
        return {str(name): str(kind) for name, kind in json.loads(raw)}

    # ----------------------------------------------------------------------------------------
    # Writing

    def _check_batch(
        self, dataset: str, table: pa.Table, partition_by: Sequence[str]
    ) -> dict[str, str]:
        """Check the columns of a batch; return its partition columns with DuckDB types."""
        where = f"facts lake {self.root}, dataset {dataset}"
        names = list(table.column_names)
        bad = [name for name in names if not _COLUMN_NAME.fullmatch(name)]
        if bad:
            raise StoreError(
                f"invalid column name(s) {bad}: use letters, digits and _", where=where
            )
        if len(set(names)) != len(names):
            raise StoreError("the batch has duplicate column names", where=where)
        if isinstance(partition_by, str):
            raise StoreError("partition_by must be a sequence of column names", where=where)
        partition_types: dict[str, str] = {}
        for column in partition_by:
            if column not in names:
                raise StoreError(f"partition column {column!r} is not in the batch", where=where)
            if column in partition_types:
                raise StoreError(f"partition column {column!r} is given twice", where=where)
            kind = _duckdb_partition_type(table.schema.field(column).type)
            if kind is None:
                raise StoreError(
                    f"cannot partition by {column!r} of type {table.schema.field(column).type}: "
                    "use text, an integer, a date or a boolean",
                    where=where,
                )
            partition_types[column] = kind
        if len(partition_types) == len(names):
            raise StoreError(
                "a batch needs at least one column besides the partitions", where=where
            )
        return partition_types

    def _check_consistency(
        self, dataset: str, table: pa.Table, partition_types: dict[str, str]
    ) -> None:
        """Refuse a batch whose partitioning or column types differ from the existing files."""
        where = f"facts lake {self.root}, dataset {dataset}"
        data_schema = table.schema
        for path in self.files(dataset):
            existing = pq.read_schema(path)
            existing_partitions = self._partitioning(path)
            if existing_partitions != partition_types:
                raise StoreError(
                    f"the dataset is partitioned by {list(existing_partitions) or 'nothing'}, "
                    f"not by {list(partition_types) or 'nothing'}",
                    where=where,
                )
            for field in data_schema:
                index = existing.get_field_index(field.name)
                if index >= 0 and not existing.field(index).type.equals(field.type):
                    raise StoreError(
                        f"column {field.name} is {existing.field(index).type} in "
                        f"{path.relative_to(self.root)}, not {field.type}",
                        where=where,
                    )

    def _make_temp_folder(self) -> Path:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            temp = self.root / f"{_TEMP_PREFIX}{uuid.uuid4().hex}"
            temp.mkdir()
        except OSError as exc:
            raise StoreError(
                f"cannot write in the facts lake folder {self.root}: {_os_reason(exc)}"
            ) from exc
        return temp

    @staticmethod
    def _split(
        table: pa.Table, partition_by: Sequence[str]
    ) -> list[tuple[tuple[Any, ...], pa.Table]]:
        """The rows of ``table`` grouped by the values of the partition columns, in order.

        Vectorised: each partition column is dictionary-encoded, the codes are combined into one
        key, and the rows are taken in key order (stable, so rows keep their order in a group).
        """
        data = table.drop_columns(list(partition_by))
        if not partition_by:
            return [((), table)]
        if table.num_rows == 0:
            return []
        key = np.zeros(table.num_rows, dtype=np.int64)
        dictionaries = []
        for column in partition_by:
            encoded = pc.dictionary_encode(table.column(column)).combine_chunks()
            codes = encoded.indices.to_numpy(zero_copy_only=False)
            size = len(encoded.dictionary) + 1
            codes = np.where(
                encoded.indices.is_null().to_numpy(zero_copy_only=False), size - 1, codes
            )
            key = key * size + codes.astype(np.int64)
            dictionaries.append((encoded.dictionary.to_pylist(), size))
        order = np.argsort(key, kind="stable")
        sorted_key = key[order]
        starts = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
        ends = np.r_[starts[1:], sorted_key.size]
        taken = data.take(pa.array(order))
        parts = []
        for start, end in zip(starts, ends, strict=True):
            value = int(sorted_key[start])
            values: list[Any] = []
            for dictionary, size in reversed(dictionaries):
                code = value % size
                value //= size
                values.append(dictionary[code] if code < len(dictionary) else None)
            parts.append((tuple(reversed(values)), taken.slice(int(start), int(end - start))))
        parts.sort(key=lambda part: tuple((value is None, str(value)) for value in part[0]))
        return parts

    def append(self, dataset: str, table: pa.Table, partition_by: Sequence[str] = ()) -> list[Path]:
        """Append the rows of ``table`` to ``dataset`` as new Parquet files; return their paths.

        One zstd-compressed file ``part-<uuid4>.parquet`` is written per combination of the
        ``partition_by`` values, in the folder ``<dataset>/<col>=<value>/...``; the partition
        columns are stored in the folder names, not in the files. An empty table writes nothing.

        Guarantees: existing files are never overwritten or changed; a reader sees each new file
        complete or not at all; the dataset name must be a simple identifier; every batch of a
        dataset has the same partition columns, and a column has the same type in every file
        (checked against the files already there); an unwritable lake raises
        :class:`StoreError` naming the folder.
        """
        folder = self._check_dataset(dataset)
        if not isinstance(table, pa.Table):
            raise StoreError(
                f"append takes a pyarrow.Table, not {type(table).__name__}",
                where=f"facts lake {self.root}, dataset {dataset}",
            )
        partition_types = self._check_batch(dataset, table, partition_by)
        if table.num_rows == 0:
            return []
        self._check_consistency(dataset, table.drop_columns(list(partition_types)), partition_types)

        metadata = dict(table.schema.metadata or {})
        metadata[_PARTITION_KEY] = json.dumps(list(partition_types.items())).encode()

        with self.lock():  # recovery (under the lock) deletes staging folders
            temp = self._make_temp_folder()
            written: list[Path] = []
            try:
                staged: list[tuple[Path, Path]] = []
                for key, part in self._split(table, list(partition_types)):
                    if _NULL_PARTITION in key:
                        raise StoreError(
                            f"the partition value {_NULL_PARTITION} is reserved for empty values",
                            where=f"facts lake {self.root}, dataset {dataset}",
                        )
                    name = f"part-{uuid.uuid4()}.parquet"
                    target = folder.joinpath(
                        *(
                            f"{column}={_segment(value)}"
                            for column, value in zip(partition_types, key, strict=True)
                        ),
                        name,
                    )
                    source = temp / name
                    with source.open("wb") as sink:
                        pq.write_table(
                            part.replace_schema_metadata(metadata), sink, compression="zstd"
                        )
                        sink.flush()
                        os.fsync(sink.fileno())
                    staged.append((source, target))
                for source, target in staged:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    if target.exists():  # a uuid4 never repeats; never overwrite anyway
                        raise StoreError(f"refusing to overwrite {target}")
                    os.replace(source, target)
                    written.append(target)
                    _fsync_folder(target.parent)
            except OSError as exc:
                raise StoreError(
                    f"cannot write in the facts lake folder {self.root}: {_os_reason(exc)}"
                ) from exc
            finally:
                shutil.rmtree(temp, ignore_errors=True)
        return written

    # ----------------------------------------------------------------------------------------
    # Reading

    def _source(self, dataset: str) -> str | None:
        """The ``read_parquet(...)`` expression over ``dataset``, or None if it has no file."""
        files = self.files(dataset)
        if not files:
            return None
        folder = (self.root / dataset).as_posix()
        if any(character in folder for character in _GLOB_CHARACTERS):
            raise StoreError(
                "the lake folder's path holds one of * ? [ ] { } \\, which DuckDB reads as a "
                "file pattern: move the lake to a folder without them",
                where=f"facts lake {self.root}",
            )
        pattern = folder + "/**/*.parquet"
        options = ["hive_partitioning = true", "union_by_name = true"]
        partitions = self._partitioning(files[0])
        if partitions:
            types = ", ".join(f"{sql_literal(k)}: {sql_literal(v)}" for k, v in partitions.items())
            options.append(f"hive_types = {{{types}}}")
        return f"read_parquet({sql_literal(pattern)}, {', '.join(options)})"

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A new in-memory DuckDB connection with one view per dataset, named like the dataset.

        The views read the files at query time: files appended later are seen, datasets created
        later are not (connect again). The caller closes the connection.
        """
        connection = duckdb.connect(":memory:")
        try:
            for dataset in self.datasets():
                source = self._source(dataset)
                if source is not None:
                    view = sql_identifier(dataset)
                    connection.execute(f"CREATE VIEW {view} AS SELECT * FROM {source}")
        except (duckdb.Error, OSError) as exc:
            connection.close()
            raise StoreError(
                f"cannot open the facts lake: {str(exc).splitlines()[0]}",
                where=f"facts lake {self.root}",
            ) from exc
        return connection

    def query(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        """Run one SQL query over the datasets' views; return the result as an Arrow table.

        ``params`` bind the ``?`` placeholders. DECIMAL columns stay decimal. A failing query
        raises :class:`StoreError` with DuckDB's message.
        """
        connection = self.connect()
        try:
            relation = connection.sql(sql, params=params)
            if relation is None:
                return pa.table({})
            result: pa.Table = relation.to_arrow_table()
            return result
        except duckdb.Error as exc:
            raise StoreError(
                f"query failed: {str(exc).splitlines()[0]}", where=f"facts lake {self.root}"
            ) from exc
        finally:
            connection.close()

    def count(self, dataset: str) -> int:
        """The number of rows in ``dataset`` (0 if it does not exist)."""
        self._check_dataset(dataset)
        source = self._source(dataset)
        if source is None:
            return 0
        with duckdb.connect(":memory:") as connection:
            row = connection.execute(f"SELECT count(*) FROM {source}").fetchone()
        return int(row[0]) if row else 0

    # ----------------------------------------------------------------------------------------
    # Transactions: many files, all visible or none

    def _acquire(self, blocking: bool) -> bool:
        """Take the writer lock (re-entrant in a thread); False if busy and not ``blocking``."""
        key = (self.root, threading.get_ident())
        with _HELD_GUARD:
            held = _HELD.get(key)
            if held is not None:
                held[1] += 1
                return True
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            handle = (self.root / _LOCK_FILE).open("a+b")
        except OSError as exc:
            raise StoreError(
                f"cannot write in the facts lake folder {self.root}: {_os_reason(exc)}"
            ) from exc
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            handle.close()
            return False
        except BaseException:
            handle.close()
            raise
        with _HELD_GUARD:
            _HELD[key] = [handle, 1]
        return True

    def _release(self) -> None:
        key = (self.root, threading.get_ident())
        with _HELD_GUARD:
            held = _HELD[key]
            held[1] -= 1
            if held[1]:
                return
            del _HELD[key]
        handle = held[0]
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        handle.close()

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the lake's writer lock (an exclusive ``flock`` on ``<root>/.writer.lock``).

        Writers that must see a stable lake (an import checking duplicates against everything
        accepted so far, a status run) take it for the whole of their work; it is released when
        the process dies, so a killed writer never blocks the next one. Re-entrant within a
        thread.
        """
        self._acquire(blocking=True)
        try:
            yield
        finally:
            self._release()

    @contextmanager
    def try_lock(self) -> Iterator[bool]:
        """Hold the writer lock if it is free now; yields whether it is held."""
        acquired = self._acquire(blocking=False)
        try:
            yield acquired
        finally:
            if acquired:
                self._release()

    def begin(self) -> LakeTransaction:
        """Start a transaction: files are staged in ``<root>/.tmp-<id>/`` until :meth:`commit`.

        Hold :meth:`lock` around it (and call :meth:`recover` first) when several writers may
        run at once.
        """
        return LakeTransaction(self, uuid.uuid4().hex)

    def _transactions_folder(self) -> Path:
        return self.root / _TRANSACTIONS

    def prepared_transactions(self) -> list[str]:
        """Ids of transactions prepared but not finished (a crash between prepare and commit)."""
        folder = self._transactions_folder()
        if not folder.is_dir():
            return []
        return sorted(path.stem for path in folder.glob("*.json"))

    # ----------------------------------------------------------------------------------------
    # Runs that work on the lake while holding its lock (status runs)

    def _runs_folder(self) -> Path:
        return self.root / _RUNS

    @contextmanager
    def run_marker(self, run_id: int) -> Iterator[None]:
        """Mark ``run_id`` as working on the lake (``<root>/_runs/<id>.json``) while the block
        runs; call it holding :meth:`lock`. A marker that outlives its process (SIGKILL, power
        loss) tells :meth:`recover` that the run was interrupted."""
        folder = self._runs_folder()
        marker = folder / f"{int(run_id)}.json"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with marker.open("w", encoding="utf-8") as sink:
                json.dump({"run_id": int(run_id), "pid": os.getpid()}, sink)
                sink.flush()
                os.fsync(sink.fileno())
            _fsync_folder(folder)
        except OSError as exc:
            raise StoreError(
                f"cannot write in the facts lake folder {self.root}: {_os_reason(exc)}"
            ) from exc
        try:
            yield
        finally:
            marker.unlink(missing_ok=True)

    def interrupted_runs(self) -> list[int]:
        """Ids of runs whose marker is left (interrupted, or still going if the lock is held)."""
        folder = self._runs_folder()
        if not folder.is_dir():
            return []
        return sorted(int(path.stem) for path in folder.glob("*.json") if path.stem.isdigit())

    def _own_run(self, run_id: int) -> bool:
        """Whether a run marker belongs to this process (a run still going here)."""
        try:
            record = json.loads((self._runs_folder() / f"{run_id}.json").read_text())
        except (OSError, ValueError):
            return False
        return bool(record.get("pid") == os.getpid())

    # ----------------------------------------------------------------------------------------
    # Recovery

    def _leftover_folders(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return [
            folder
            for folder in self.root.glob(f"{_TEMP_PREFIX}*")
            if folder.is_dir() and not folder.name.startswith(_KEPT_TEMP)
        ]

    def needs_recovery(self) -> bool:
        """Whether a writer left anything behind (or is at work now): a prepared transaction,
        a staging folder, a run marker. A directory listing or two: cheap enough for every
        command."""
        return bool(
            self.prepared_transactions() or self.interrupted_runs() or self._leftover_folders()
        )

    def recover(
        self,
        committed: Callable[[str], bool],
        interrupted: Callable[[list[int]], None] | None = None,
    ) -> dict[str, list[str]]:
        """Finish what crashed writers left; call it holding :meth:`lock`.

        A prepared transaction for which ``committed(id)`` is true (the system of record says it
        was committed) is rolled forward: its remaining staged files are moved into place. Any
        other prepared transaction is rolled back, and every staging folder without a prepared
        record is deleted. Runs whose marker is left are passed to ``interrupted`` (which
        records them as failed) and their markers removed; without ``interrupted`` the markers
        stay for a caller that can record them. Returns the ids rolled forward and rolled back
        and the interrupted runs.
        """
        done: dict[str, list[str]] = {"rolled_forward": [], "rolled_back": [], "runs": []}
        for txid in self.prepared_transactions():
            transaction = LakeTransaction(self, txid)
            record = json.loads((self._transactions_folder() / f"{txid}.json").read_text())
            transaction.files = [str(path) for path in record["files"]]
            transaction.prepared = True
            if committed(txid):
                transaction.commit()
                done["rolled_forward"].append(txid)
            else:
                transaction.abort()
                done["rolled_back"].append(txid)
        transactions = self._transactions_folder()
        if transactions.is_dir():  # a record being written when the writer died
            for partial in transactions.glob("*.json.tmp"):
                partial.unlink(missing_ok=True)
        for folder in self._leftover_folders():
            shutil.rmtree(folder, ignore_errors=True)
            done["rolled_back"].append(folder.name.removeprefix(_TEMP_PREFIX))
        runs = [run_id for run_id in self.interrupted_runs() if not self._own_run(run_id)]
        if runs and interrupted is not None:
            interrupted(runs)
            for run_id in runs:
                (self._runs_folder() / f"{run_id}.json").unlink(missing_ok=True)
            done["runs"] = [str(run_id) for run_id in runs]
        return done

    def settle(
        self,
        committed: Callable[[str], bool],
        interrupted: Callable[[list[int]], None] | None = None,
    ) -> dict[str, list[str]]:
        """Make the lake safe to use: the one entry every command goes through first.

        Nothing left behind: returns at once. Otherwise, if the writer lock is free, takes it
        and :meth:`recover` finishes or undoes everything. If a live writer holds it, the
        leftovers are its own work in progress (writers recover when they take the lock):
        a transaction it has not committed yet is invisible to readers, and one the system of
        record has committed is being moved into place, so this waits for the lock and then
        recovers. A lake where the lock cannot be taken at all (no write access) is refused
        while it holds a prepared transaction.
        """
        if not self.needs_recovery():
            return {}
        try:
            with self.try_lock() as held:
                if held:
                    return self.recover(committed, interrupted)
        except StoreError:
            if self.prepared_transactions():
                raise StoreError(
                    "the lake holds an unfinished transaction of a writer that stopped; a "
                    "command with write access to the lake must finish it before it is read",
                    where=f"facts lake {self.root}",
                ) from None
            return {}
        if any(committed(txid) for txid in self.prepared_transactions()):
            with self.lock():
                return self.recover(committed, interrupted)
        return {}


class LakeTransaction:
    """Files written together: after :meth:`commit` all of them are in the lake, after
    :meth:`abort` (or a crash before :meth:`prepare`) none.

    Data files are staged under ``<root>/.tmp-<id>/`` with the same relative paths they take in
    the lake; :meth:`write` keeps one open Parquet writer per dataset and partition, so a long
    stream of batches makes one file per partition, not one per batch. :meth:`prepare` closes and
    fsyncs the files and durably records their list in ``<root>/_transactions/<id>.json``; after
    that the transaction can be finished by :meth:`commit` or, after a crash, by
    :meth:`FactsLake.recover`. Readers see a committed transaction's files appear within the time
    of a few renames.
    """

    def __init__(self, lake: FactsLake, txid: str) -> None:
        self.lake = lake
        self.id = txid
        self.staging = lake.root / f"{_TEMP_PREFIX}{txid}"
        self.files: list[str] = []
        self.prepared = False
        self._writers: dict[tuple[str, tuple[Any, ...]], pq.ParquetWriter] = {}
        self._partitioning: dict[str, dict[str, str]] = {}

    def __repr__(self) -> str:
        return f"LakeTransaction({self.id!r}, files={len(self.files)})"

    def _new_file(self, relative: str) -> Path:
        if self.prepared:
            raise StoreError("the transaction is already prepared", where=f"lake {self.id}")
        path = self.staging / relative
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot write in the facts lake folder {self.lake.root}: {_os_reason(exc)}"
            ) from exc
        self.files.append(relative)
        return path

    def path_for(self, relative: str) -> Path:
        """A staging path for a file of the transaction other than a dataset's data (an index
        segment, say); the caller writes it, commit moves it to ``<root>/<relative>``."""
        return self._new_file(relative)

    def write(
        self,
        dataset: str,
        table: pa.Table,
        partition_by: Sequence[str] = (),
        *,
        use_dictionary: bool | Sequence[str] = True,
    ) -> None:
        """Add the rows of ``table`` to ``dataset`` (same checks as :meth:`FactsLake.append`).

        ``use_dictionary`` names the columns worth dictionary-encoding (all by default; unique
        keys such as references only cost time)."""
        lake = self.lake
        lake._check_dataset(dataset)
        partition_types = lake._check_batch(dataset, table, partition_by)
        if table.num_rows == 0:
            return
        if dataset not in self._partitioning:
            lake._check_consistency(
                dataset, table.drop_columns(list(partition_types)), partition_types
            )
            self._partitioning[dataset] = partition_types
        elif self._partitioning[dataset] != partition_types:
            raise StoreError(
                "every batch of a transaction must use the same partitioning",
                where=f"facts lake {lake.root}, dataset {dataset}",
            )
        metadata = dict(table.schema.metadata or {})
        metadata[_PARTITION_KEY] = json.dumps(list(partition_types.items())).encode()
        for key, part in lake._split(table, list(partition_types)):
            if _NULL_PARTITION in key:
                raise StoreError(
                    f"the partition value {_NULL_PARTITION} is reserved for empty values",
                    where=f"facts lake {lake.root}, dataset {dataset}",
                )
            writer = self._writers.get((dataset, key))
            part = part.replace_schema_metadata(metadata)
            if writer is None:
                folders = [
                    f"{column}={_segment(value)}"
                    for column, value in zip(partition_types, key, strict=True)
                ]
                relative = "/".join([dataset, *folders, f"part-{self.id}.parquet"])
                writer = pq.ParquetWriter(self._new_file(relative), part.schema, compression="zstd")
                self._writers[(dataset, key)] = writer
            writer.write_table(part, row_group_size=1_000_000)

    def _close_writers(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()

    def prepare(self) -> None:
        """Close and fsync every staged file, then durably record the transaction's file list.

        After this returns, a crash leaves the transaction for :meth:`FactsLake.recover` to
        finish one way or the other."""
        if self.prepared:
            return
        self._close_writers()
        try:
            for relative in self.files:
                _fsync_file(self.staging / relative)
            folder = self.lake._transactions_folder()
            folder.mkdir(parents=True, exist_ok=True)
            record = folder / f"{self.id}.json"
            temporary = folder / f"{self.id}.json.tmp"
            with temporary.open("w", encoding="utf-8") as sink:
                json.dump({"id": self.id, "files": self.files}, sink)
                sink.flush()
                os.fsync(sink.fileno())
            os.replace(temporary, record)
            _fsync_folder(folder)
        except OSError as exc:
            raise StoreError(
                f"cannot prepare the lake transaction {self.id}: {_os_reason(exc)}"
            ) from exc
        self.prepared = True
        crash_point("lake.prepared")

    def commit(self) -> list[Path]:
        """Move every staged file into place (prepares first if needed); return their paths.

        Idempotent: files already moved by an earlier, interrupted commit are skipped."""
        self.prepare()
        root = self.lake.root
        moved: list[Path] = []
        try:
            for relative in self.files:
                source, target = self.staging / relative, root / relative
                if source.exists():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    if target.exists():
                        raise StoreError(f"refusing to overwrite {target}")
                    os.replace(source, target)
                    _fsync_folder(target.parent)
                    crash_point("lake.roll_forward")
                moved.append(target)
            (self.lake._transactions_folder() / f"{self.id}.json").unlink(missing_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot commit the lake transaction {self.id}: {_os_reason(exc)}"
            ) from exc
        shutil.rmtree(self.staging, ignore_errors=True)
        crash_point("lake.committed")
        return moved

    def abort(self) -> None:
        """Drop every staged file; nothing of the transaction reaches the lake."""
        with suppress(OSError, pa.ArrowException):
            self._close_writers()
        shutil.rmtree(self.staging, ignore_errors=True)
        (self.lake._transactions_folder() / f"{self.id}.json").unlink(missing_ok=True)
        self.files = []


def _fsync_file(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable, where the platform allows it."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
