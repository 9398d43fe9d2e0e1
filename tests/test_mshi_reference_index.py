"""The reference index of payments: a few merged segments however many files were imported,
every duplicate still found exactly, and nothing of an import kept in memory after it."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

import saqta.mshi.contributions._payments as payments_module
from saqta.mshi.contributions._payments import REFERENCE_INDEX, ReferenceIndex, import_payments
from saqta.mshi.intake import quarantine_rows
from saqta.store.lake import FactsLake
from test_mshi_ingest import (
    BOLAT,
    PAYMENT_HEADER,
    TODAY,
    load_register,
    payment,
    write_csv,
)


@pytest.fixture
def lake(tmp_path: Path) -> FactsLake:
    return FactsLake(tmp_path / "lake")


def segments(lake: FactsLake) -> list[Path]:
    """The index's segments once the replaced ones are deleted (as the next import does)."""
    ReferenceIndex.tidy(lake)
    return sorted((lake.root / REFERENCE_INDEX).glob("seg-*.npy"))


def indexed(lake: FactsLake) -> np.ndarray:
    """Every hash in the index, sorted (repeats kept)."""
    return np.sort(np.concatenate([np.load(path) for path in segments(lake)]))


def import_file(engine: Engine, lake: FactsLake, folder: Path, name: str, refs: list[str]) -> None:
    path = write_csv(folder / f"{name}.csv", PAYMENT_HEADER, [payment(ref) for ref in refs])
    result = import_payments(engine, lake, path, today=TODAY)
    assert result.read == len(refs)


def test_many_imports_leave_a_few_segments_and_every_duplicate_is_still_found(
    engine: Engine, lake: FactsLake, tmp_path: Path
) -> None:
    load_register(engine, lake, tmp_path)
    accepted: list[str] = []
    for k in range(1, 18):
        refs = [f"F{k}-{i}" for i in range(k % 3 + 1)]
        import_file(engine, lake, tmp_path, f"f{k}", refs)
        accepted += refs
        # at most log2(imports) + 1 segments, whose hashes are exactly those accepted
        assert len(segments(lake)) <= int(np.log2(k)) + 1
        assert indexed(lake).size == len(accepted)
    assert len(segments(lake)) < 17 // 2
    # a reference of the first file, of a middle one and of the last is refused; a new one is not
    again = write_csv(
        tmp_path / "again.csv",
        PAYMENT_HEADER,
        [payment("F1-0", person=BOLAT), payment("F10-1"), payment("F17-2"), payment("NEW")],
    )
    result = import_payments(engine, lake, again, today=TODAY)
    assert (result.accepted, result.quarantined) == (1, 3)
    assert result.by_reason == {"duplicate_reference": 3}
    assert lake.count("payments") == len(accepted) + 1


def test_replaced_segments_go_only_after_their_merge_is_committed(
    engine: Engine, lake: FactsLake, tmp_path: Path
) -> None:
    """A merge's segment and the list of the segments it replaces are committed with the
    import; the replaced segments are deleted by the next import. Whatever is left between the
    two (or by a crash while deleting) costs a lookup, and imports stay exact."""
    load_register(engine, lake, tmp_path)
    folder = lake.root / REFERENCE_INDEX
    import_file(engine, lake, tmp_path, "a", ["A1", "A2"])
    [first] = folder.glob("seg-*.npy")
    import_file(engine, lake, tmp_path, "b", ["B1", "B2"])  # merges a's segment into its own
    [listing] = folder.glob("seg-*.replaces.json")
    assert first.exists()  # until the next import: both segments hold A1 and A2
    again = write_csv(
        tmp_path / "c.csv", PAYMENT_HEADER, [payment("A1"), payment("B2"), payment("C1")]
    )
    result = import_payments(engine, lake, again, today=TODAY)
    assert (result.accepted, result.quarantined) == (1, 2)
    assert {row["reason"] for row in quarantine_rows(engine)} == {"duplicate_reference"}
    assert not first.exists() and not listing.exists()
    assert sorted(np.load(path).size for path in folder.glob("seg-*.npy")) == [1, 4]
    # a deletion cut short (the list left, its segments partly gone) is finished next time
    leftover = folder / "seg-gone.replaces.json"
    leftover.write_text('["seg-never-there.npy"]')
    np.save(folder / "seg-gone.npy", np.array([], dtype=np.uint64))
    import_file(engine, lake, tmp_path, "d", ["D1"])
    assert not leftover.exists()
    assert np.unique(indexed(lake)).size == 6
    result = import_payments(
        engine, lake, write_csv(tmp_path / "e.csv", PAYMENT_HEADER, [payment("A2")]), today=TODAY
    )
    assert result.by_reason == {"duplicate_reference": 1}


def test_a_merge_rolled_back_leaves_the_segments_it_would_have_replaced(
    engine: Engine, lake: FactsLake, tmp_path: Path
) -> None:
    load_register(engine, lake, tmp_path)
    import_file(engine, lake, tmp_path, "a", ["A1", "A2"])
    before = segments(lake)
    transaction = lake.begin()
    index = ReferenceIndex(lake)
    index.add(np.array([1, 2, 3], dtype=np.uint64), transaction)  # merges a's segment
    index.close()
    transaction.abort()
    assert segments(lake) == before
    result = import_payments(
        engine, lake, write_csv(tmp_path / "b.csv", PAYMENT_HEADER, [payment("A1")]), today=TODAY
    )
    assert result.by_reason == {"duplicate_reference": 1}


def _index_mappings() -> list[str]:
    maps = Path("/proc/self/maps")
    if not maps.exists():  # pragma: no cover - Linux only
        pytest.skip("needs /proc/self/maps")
    return [line for line in maps.read_text().splitlines() if REFERENCE_INDEX in line]


@pytest.fixture
def no_cyclic_gc() -> Iterator[None]:
    """Only reference counting frees memory (as between the rare full collections of a long
    import): what is kept alive by a cycle stays."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_an_import_keeps_no_index_segment_mapped_after_it_returns(
    engine: Engine, lake: FactsLake, tmp_path: Path, no_cyclic_gc: None
) -> None:
    load_register(engine, lake, tmp_path)
    for k in range(4):
        import_file(engine, lake, tmp_path, f"m{k}", [f"M{k}"])
        assert _index_mappings() == []


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(st.integers(0, 2**64 - 1), max_size=40),
        min_size=1,
        max_size=5,
    ),
    st.integers(1, 7),
)
def test_a_merge_in_slices_writes_the_sorted_union(
    tmp_path_factory: pytest.TempPathFactory, runs: list[list[int]], chunk: int
) -> None:
    arrays = [np.sort(np.array(run, dtype=np.uint64)) for run in runs]
    target = tmp_path_factory.mktemp("merge") / "seg.npy"
    saved = payments_module._MERGE_CHUNK
    payments_module._MERGE_CHUNK = chunk
    try:
        payments_module._write_merged(target, arrays)
    finally:
        payments_module._MERGE_CHUNK = saved
    merged = np.load(target)
    assert merged.dtype == np.uint64
    assert merged.tolist() == sorted(value for run in runs for value in run)


def test_the_index_answers_membership_over_all_its_segments(tmp_path: Path) -> None:
    lake = FactsLake(tmp_path / "lake")
    folder = lake.root / REFERENCE_INDEX
    folder.mkdir(parents=True)
    np.save(folder / "seg-a.npy", np.array([3, 9, 27], dtype=np.uint64))
    np.save(folder / "seg-b.npy", np.array([4, 9], dtype=np.uint64))
    index = ReferenceIndex(lake)
    needles = np.array([1, 3, 4, 9, 10, 27, 28], dtype=np.uint64)
    assert index.contains_sorted(needles).tolist() == [False, True, True, True, False, True, False]
    index.close()
    assert index.segments == []


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(-50, 50), max_size=60),
    st.lists(st.integers(-50, 50), max_size=60),
)
def test_membership_is_the_same_whatever_the_order_of_the_needles(
    needles: list[int], haystack: list[int]
) -> None:
    from saqta.mshi.intake import sorted_member

    values = np.array(needles, dtype=np.int64)
    found = sorted_member(values, np.sort(np.array(haystack, dtype=np.int64)))
    assert found.tolist() == [value in set(haystack) for value in needles]
