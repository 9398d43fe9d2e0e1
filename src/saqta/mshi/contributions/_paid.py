"""The compact form of the payments that the status engine reads: integers instead of text.

For every payments file of the lake, ``payments/year=Y/month=M/part-X.parquet``, a derived file
``_index/paid-v1/year=Y/month=M/part-X.parquet`` (beside the lake's other indexes, which are not
datasets) holds the same rows, in the order of payment type and person, with only what the status
rules look at:

============  ==========  ======================================================================
column        type        from
============  ==========  ======================================================================
``iin``       BIGINT      ``person_iin`` read as a number (an IIN is 12 digits)
``pm``        INTEGER     the month paid for, ``year * 12 + month - 1`` of ``period``
``type_rank`` TINYINT     the place of ``payment_type`` in ``PAYMENT_TYPES`` (from 0)
``amount``    DECIMAL     ``amount``
``paid_on``   DATE        ``payment_date``
``ref_hash``  BIGINT      :func:`._hashes.reference_hashes` of ``reference``
============  ==========  ======================================================================

Lake files are never rewritten, so a derived file, named after its payments file, stays valid;
the ``v1`` in the folder name changes whenever the columns change, which makes every file be
built anew. The import writes the derived files of a payments file right after committing it
(:func:`build_paid`); the status engine builds any that are missing (a crash between the two, or
a lake written by other means) before it reads them (:func:`paid_files`). A derived file appears
whole or not at all (written aside, then renamed).

A refund is matched with its payment on (``ref_hash``, ``iin``, ``pm``): the same reference, the
same person and the same period. Two different references of one person and one period would have
to share a 64-bit hash to be confused, a chance of about one in 10^18 for a pair.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from saqta.core.errors import StoreError
from saqta.mshi.contributions._hashes import reference_hashes
from saqta.mshi.schema import PAYMENT_TYPES
from saqta.store.lake import FactsLake

__all__ = [
    "PAID",
    "PAID_DIR",
    "build_paid",
    "built_after_import",
    "hashed_outflows",
    "month_index",
    "paid_files",
    "paid_path",
]

PAID_DIR = ("_index", "paid-v1")
PAID = pa.schema(
    [
        ("iin", pa.int64()),
        ("pm", pa.int32()),
        ("type_rank", pa.int8()),
        ("amount", pa.decimal128(18, 2)),
        ("paid_on", pa.date32()),
        ("ref_hash", pa.int64()),
    ]
)
_ROW_GROUP = 65_536  # small enough that a filter on type_rank skips whole row groups


def month_index(days: pa.Array | pa.ChunkedArray) -> pa.Array:
    """``year * 12 + month - 1`` of each date, as int32."""
    year = pc.cast(pc.year(days), pa.int32())
    month = pc.cast(pc.month(days), pa.int32())
    return pc.subtract(pc.add(pc.multiply(year, 12), month), 1)


def _iin_numbers(iins: pa.Array | pa.ChunkedArray, where: str) -> pa.Array:
    try:
        return pc.cast(iins, pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise StoreError(f"a person IIN is not 12 digits: {exc}", where=where) from exc


def paid_path(lake: FactsLake, payments_file: Path) -> Path:
    """Where the compact rows of a payments file go."""
    relative = payments_file.relative_to(lake.root / "payments")
    return lake.root.joinpath(*PAID_DIR, relative)


def _compact(table: pa.Table, where: str) -> pa.Table:
    kinds = pc.index_in(table.column("payment_type"), value_set=pa.array(PAYMENT_TYPES))
    if kinds.null_count:
        raise StoreError("a payment type is not one of the seven kinds", where=where)
    references = table.column("reference")
    compact = pa.table(
        {
            "iin": _iin_numbers(table.column("person_iin"), where),
            "pm": month_index(table.column("period")),
            "type_rank": pc.cast(kinds, pa.int8()),
            "amount": pc.cast(table.column("amount"), pa.decimal128(18, 2)),
            "paid_on": table.column("payment_date"),
            "ref_hash": pa.array(reference_hashes(references).view(np.int64), pa.int64()),
        },
        schema=PAID,
    )
    return compact.sort_by([("type_rank", "ascending"), ("iin", "ascending")])


def build_paid(lake: FactsLake, payments_file: Path) -> Path:
    """Write the compact rows of one payments file (again, if they exist); return the path."""
    target = paid_path(lake, payments_file)
    where = str(payments_file)
    try:
        table = pq.read_table(
            payments_file,
            columns=["reference", "person_iin", "payment_type", "period", "amount", "payment_date"],
        )
    except (OSError, pa.ArrowException) as exc:
        raise StoreError(f"cannot read the payments file: {exc}", where=where) from exc
    compact = _compact(table, where)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
        pq.write_table(
            compact,
            temporary,
            compression="zstd",
            row_group_size=_ROW_GROUP,
            use_dictionary=["type_rank", "pm", "paid_on"],
        )
        os.replace(temporary, target)
    except OSError as exc:
        raise StoreError(
            f"cannot write the derived payments file: {exc.strerror or exc}", where=str(target)
        ) from exc
    return target


def paid_files(
    lake: FactsLake, payments_files: Sequence[Path], *, workers: int | None = None
) -> list[Path]:
    """The derived files of ``payments_files``, building those that are missing."""
    wanted = [(source, paid_path(lake, source)) for source in payments_files]
    missing = [source for source, target in wanted if not target.exists()]
    if missing:
        count = workers or min(len(missing), os.cpu_count() or 1)
        with ThreadPoolExecutor(max_workers=max(count, 1)) as pool:
            list(pool.map(lambda source: build_paid(lake, source), missing))
    return [target for _, target in wanted]


def built_after_import(lake: FactsLake, committed: Iterable[Path]) -> None:
    """Build the derived files of the payments files an import has just committed.

    The import has succeeded whatever happens here: a file that cannot be built now is built by
    the status engine when it needs it (and fails there, with its reason, if it still cannot)."""
    root = (lake.root / "payments").resolve()
    sources = [
        path for path in committed if path.suffix == ".parquet" and root in path.resolve().parents
    ]
    with suppress(StoreError):
        paid_files(lake, sources)


def hashed_outflows(outflows: pa.Table) -> pa.Table:
    """Refunds keyed as the compact payments are: (ref_hash, iin, pm) and the amount."""
    where = "payment_outflows"
    return pa.table(
        {
            "ref_hash": pa.array(
                reference_hashes(outflows.column("reference")).view(np.int64), pa.int64()
            ),
            "iin": _iin_numbers(outflows.column("person_iin"), where),
            "pm": month_index(outflows.column("period")),
            "amount": pc.cast(outflows.column("amount"), pa.decimal128(18, 2)),
        }
    )
