"""The facts lake: append-only hive-partitioned Parquet, read back exactly through DuckDB."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saqta.core.errors import StoreError
from saqta.store.lake import FactsLake

MONEY = pa.decimal128(18, 2)


def contributions(rows: list[tuple[str, date, str]]) -> pa.Table:
    """A batch of contributions: region, month, amount (text, turned into an exact decimal)."""
    return pa.table(
        {
            "region": pa.array([row[0] for row in rows], pa.string()),
            "month": pa.array([row[1] for row in rows], pa.date32()),
            "amount": pa.array([Decimal(row[2]) for row in rows], MONEY),
        }
    )


JAN, FEB = date(2024, 1, 1), date(2024, 2, 1)
BATCH_1 = contributions([("ALA", JAN, "5478.30"), ("AST", JAN, "100.01"), ("ALA", JAN, "0.99")])
BATCH_2 = contributions([("ALA", FEB, "1000.00"), ("ABA", FEB, "0.01")])


def relative(lake: FactsLake, paths: list[Path]) -> list[str]:
    return sorted(path.relative_to(lake.root).parent.as_posix() for path in paths)


def test_append_twice_keeps_both_batches(tmp_path: Path) -> None:
    lake = FactsLake(tmp_path / "lake")
    first = lake.append("contributions", BATCH_1)
    first_bytes = first[0].read_bytes()
    second = lake.append("contributions", BATCH_2)

    assert len(first) == 1 and len(second) == 1
    assert first[0] != second[0]
    assert first[0].read_bytes() == first_bytes  # never rewritten
    assert lake.files("contributions") == sorted(first + second)
    for path in first + second:
        assert path.parent == lake.root / "contributions"
        assert path.name.startswith("part-") and path.name.endswith(".parquet")
        assert len(path.name) == len("part-") + 36 + len(".parquet")  # a uuid4
        assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "ZSTD"
    assert lake.count("contributions") == 5
    assert lake.datasets() == ["contributions"]
    assert lake.query("SELECT count(*) AS n FROM contributions").to_pylist() == [{"n": 5}]


def test_partitions_are_folders_and_come_back_as_typed_columns(tmp_path: Path) -> None:
    lake = FactsLake(tmp_path / "lake")
    written = lake.append("contributions", BATCH_1, partition_by=["region", "month"])
    written += lake.append("contributions", BATCH_2, partition_by=("region", "month"))

    assert relative(lake, written) == [
        "contributions/region=ABA/month=2024-02-01",
        "contributions/region=ALA/month=2024-01-01",
        "contributions/region=ALA/month=2024-02-01",
        "contributions/region=AST/month=2024-01-01",
    ]
    assert all(pq.read_schema(path).names == ["amount"] for path in written)
    described = lake.query("DESCRIBE contributions").select(["column_name", "column_type"])
    assert dict(zip(*described.to_pydict().values(), strict=True)) == {
        "amount": "DECIMAL(18,2)",
        "region": "VARCHAR",
        "month": "DATE",
    }
    totals = lake.query(
        "SELECT region, month, sum(amount) AS total FROM contributions"
        " GROUP BY region, month ORDER BY region, month"
    ).to_pylist()
    assert totals == [
        {"region": "ABA", "month": FEB, "total": Decimal("0.01")},
        {"region": "ALA", "month": JAN, "total": Decimal("5479.29")},
        {"region": "ALA", "month": FEB, "total": Decimal("1000.00")},
        {"region": "AST", "month": JAN, "total": Decimal("100.01")},
    ]
    assert lake.query(
        "SELECT count(*) AS n FROM contributions WHERE region = ?", ["ALA"]
    ).to_pylist() == [{"n": 3}]


def test_partition_values_keep_their_text_and_nulls(tmp_path: Path) -> None:
    lake = FactsLake(tmp_path / "lake")
    batch = pa.table(
        {
            "code": pa.array(["007", "Алматы/Алатау", None, "a=b c%"], pa.string()),
            "year": pa.array([2024, 2024, 2025, 2025], pa.int32()),
            "n": pa.array([1, 2, 3, 4], pa.int64()),
        }
    )
    written = lake.append("codes", batch, partition_by=["code", "year"])
    assert len(written) == 4
    assert "code=__HIVE_DEFAULT_PARTITION__" in {path.parent.parent.name for path in written}
    rows = lake.query("SELECT code, year, n FROM codes ORDER BY n").to_pylist()
    assert rows == [
        {"code": "007", "year": 2024, "n": 1},
        {"code": "Алматы/Алатау", "year": 2024, "n": 2},
        {"code": None, "year": 2025, "n": 3},
        {"code": "a=b c%", "year": 2025, "n": 4},
    ]
    assert lake.query(
        "SELECT typeof(code) AS c, typeof(year) AS y FROM codes LIMIT 1"
    ).to_pylist() == [{"c": "VARCHAR", "y": "INTEGER"}]


def test_decimal_round_trip_is_exact(tmp_path: Path) -> None:
    lake = FactsLake(tmp_path / "lake")
    lake.append("contributions", BATCH_1, partition_by=["region"])
    result = lake.query("SELECT amount FROM contributions ORDER BY amount")
    assert result.schema.field("amount").type == MONEY
    assert result.column("amount").to_pylist() == [
        Decimal("0.99"),
        Decimal("100.01"),
        Decimal("5478.30"),
    ]
    with lake.connect() as connection:
        value = connection.execute(
            "SELECT amount FROM contributions WHERE amount = 5478.30"
        ).fetchone()
        total = connection.execute("SELECT sum(amount) FROM contributions").fetchone()
        kind = connection.execute("SELECT typeof(sum(amount)) FROM contributions").fetchone()
    assert value is not None and isinstance(value[0], Decimal)
    assert value[0] == Decimal("5478.30") and str(value[0]) == "5478.30"
    assert total == (Decimal("5579.30"),)
    assert kind == ("DECIMAL(38,2)",)


@pytest.mark.parametrize(
    "name",
    ["", "Contributions", "1st", "_hidden", ".tmp-x", "../escape", "a/b", "a-b", "a b", "x" * 64],
)
def test_invalid_dataset_names_are_refused(tmp_path: Path, name: str) -> None:
    lake = FactsLake(tmp_path / "lake")
    with pytest.raises(StoreError, match="invalid dataset name"):
        lake.append(name, BATCH_1)
    with pytest.raises(StoreError, match="invalid dataset name"):
        lake.files(name)
    with pytest.raises(StoreError, match="invalid dataset name"):
        lake.count(name)
    assert not (tmp_path / "lake").exists()


def test_batches_must_agree_with_the_dataset(tmp_path: Path) -> None:
    lake = FactsLake(tmp_path / "lake")
    lake.append("contributions", BATCH_1, partition_by=["region"])
    with pytest.raises(StoreError, match=r"partitioned by \['region'\], not by \['month'\]"):
        lake.append("contributions", BATCH_2, partition_by=["month"])
    with pytest.raises(StoreError, match="partitioned by"):
        lake.append("contributions", BATCH_2)
    as_float = BATCH_2.set_column(2, "amount", BATCH_2.column("amount").cast(pa.float64()))
    with pytest.raises(StoreError, match=r"column amount is decimal128\(18, 2\) in "):
        lake.append("contributions", as_float, partition_by=["region"])
    with pytest.raises(StoreError, match="partition column 'nope' is not in the batch"):
        lake.append("contributions", BATCH_2, partition_by=["nope"])
    with pytest.raises(StoreError, match="cannot partition by 'amount'"):
        lake.append("other", BATCH_2, partition_by=["amount"])
    with pytest.raises(StoreError, match="at least one column besides the partitions"):
        lake.append("other", BATCH_2.select(["region"]), partition_by=["region"])
    with pytest.raises(StoreError, match="partition_by must be a sequence"):
        lake.append("other", BATCH_2, partition_by="region")
    assert lake.count("contributions") == 3
    assert lake.datasets() == ["contributions"]


def test_new_columns_are_unioned_by_name(tmp_path: Path) -> None:
    lake = FactsLake(tmp_path / "lake")
    lake.append("contributions", BATCH_1)
    lake.append(
        "contributions", BATCH_2.append_column("payer", pa.array(["p1", "p2"], pa.string()))
    )
    rows = lake.query(
        "SELECT count(payer) AS with_payer, count(*) AS n FROM contributions"
    ).to_pylist()
    assert rows == [{"with_payer": 2, "n": 5}]


def test_empty_lake_and_empty_batch(tmp_path: Path) -> None:
    lake = FactsLake(tmp_path / "lake")
    assert lake.datasets() == []
    assert lake.files("contributions") == []
    assert lake.count("contributions") == 0
    assert lake.append("contributions", BATCH_1.slice(0, 0), partition_by=["region"]) == []
    assert lake.datasets() == []
    with lake.connect() as connection:
        assert connection.execute(
            "SELECT count(*) FROM duckdb_views() WHERE NOT internal"
        ).fetchone() == (0,)


def test_a_failed_write_leaves_nothing_visible(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = FactsLake(tmp_path / "lake")
    lake.append("contributions", BATCH_1, partition_by=["region"])
    before = lake.files("contributions")
    calls = {"n": 0}
    real_write = pq.write_table

    def failing_write(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk pulled out")
        real_write(*args, **kwargs)

    monkeypatch.setattr(pq, "write_table", failing_write)
    with pytest.raises(RuntimeError, match="disk pulled out"):
        lake.append("contributions", BATCH_2, partition_by=["region"])
    assert calls["n"] == 2
    assert lake.files("contributions") == before
    assert lake.count("contributions") == 3
    left = sorted(path.name for path in lake.root.iterdir())
    assert left == [".writer.lock", "contributions"]  # no temp (append holds the writer lock)


def test_lake_under_a_file_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    lake = FactsLake(blocker / "lake")
    with pytest.raises(StoreError) as caught:
        lake.append("contributions", BATCH_1)
    assert str(caught.value).startswith(f"cannot write in the facts lake folder {lake.root}: ")


def test_read_only_lake_is_a_store_error_but_can_be_read(tmp_path: Path) -> None:
    lake = FactsLake(tmp_path / "lake")
    lake.append("contributions", BATCH_1)
    lake.root.chmod(0o555)
    code = f"""
        import pyarrow as pa
        from saqta.core.errors import StoreError
        from saqta.store.lake import FactsLake
        lake = FactsLake({str(lake.root)!r})
        print(lake.count("contributions"))
        try:
            lake.append("other", pa.table({{"amount": [1]}}))
        except StoreError as error:
            print(error)
        """
    command = [sys.executable, "-c", textwrap.dedent(code)]
    if os.geteuid() == 0:  # root ignores file permissions unless it drops those capabilities
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.fail("running as root needs setpriv (util-linux) to drop DAC capabilities")
        command = [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--", *command]
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    finally:
        lake.root.chmod(0o755)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "3",
        f"cannot write in the facts lake folder {lake.root}: permission denied",
    ]


def test_bad_query_is_a_store_error(tmp_path: Path) -> None:
    lake = FactsLake(tmp_path / "lake")
    lake.append("contributions", BATCH_1)
    with pytest.raises(StoreError, match=r"^facts lake .*: query failed: Catalog Error"):
        lake.query("SELECT * FROM nothing_here")


REGIONS = ["ALA", "AST", "ABA", "Ұлытау"]
AMOUNTS = st.decimals(
    min_value=Decimal("-9999999999999.99"),
    max_value=Decimal("9999999999999.99"),
    places=2,
    allow_nan=False,
    allow_infinity=False,
)
BATCHES = st.lists(
    st.lists(st.tuples(st.sampled_from(REGIONS), AMOUNTS), min_size=0, max_size=30),
    min_size=1,
    max_size=6,
).filter(lambda batches: any(batches))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=BATCHES, partitioned=st.booleans())
def test_sums_in_duckdb_are_exactly_the_decimal_sums(
    batches: list[list[tuple[str, Decimal]]], partitioned: bool
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        lake = FactsLake(Path(folder))
        for batch in batches:
            table = pa.table(
                {
                    "region": pa.array([region for region, _ in batch], pa.string()),
                    "amount": pa.array([amount for _, amount in batch], MONEY),
                }
            )
            lake.append("payments", table, partition_by=["region"] if partitioned else [])
        rows = [row for batch in batches for row in batch]
        expected_by_region: dict[str, Decimal] = {}
        for region, amount in rows:
            expected_by_region[region] = expected_by_region.get(region, Decimal(0)) + amount

        assert lake.count("payments") == len(rows)
        total = lake.query("SELECT sum(amount) AS total FROM payments").column("total")
        assert total.type == pa.decimal128(38, 2)
        assert total.to_pylist() == [sum((amount for _, amount in rows), Decimal(0))]
        by_region = lake.query(
            "SELECT region, sum(amount) AS total FROM payments GROUP BY region"
        ).to_pylist()
        assert {row["region"]: row["total"] for row in by_region} == expected_by_region


# --------------------------------------------------------------------------------------------
# Transactions: many files, all or nothing


def test_a_transaction_writes_one_file_per_partition_and_commits_all_at_once(
    tmp_path: Path,
) -> None:
    lake = FactsLake(tmp_path / "lake")
    with lake.lock():
        transaction = lake.begin()
        transaction.write("contributions", BATCH_1, partition_by=["region"])
        transaction.write("contributions", BATCH_2, partition_by=["region"])
        index = transaction.path_for("_index/things/seg.bin")
        index.write_bytes(b"sorted")
        assert lake.count("contributions") == 0  # staged: invisible
        transaction.prepare()
        assert lake.prepared_transactions() == [transaction.id]
        assert lake.count("contributions") == 0
        moved = transaction.commit()
    assert relative(lake, [p for p in moved if p.suffix == ".parquet"]) == [
        "contributions/region=ABA",
        "contributions/region=ALA",
        "contributions/region=AST",
    ]
    assert lake.count("contributions") == 5
    assert (lake.root / "_index/things/seg.bin").read_bytes() == b"sorted"
    assert lake.prepared_transactions() == []
    assert not list(lake.root.glob(".tmp-*"))
    assert lake.datasets() == ["contributions"]


def test_recovery_rolls_committed_transactions_forward_and_the_others_back(
    tmp_path: Path,
) -> None:
    lake = FactsLake(tmp_path / "lake")
    kept, dropped, unprepared = lake.begin(), lake.begin(), lake.begin()
    for transaction, batch in ((kept, BATCH_1), (dropped, BATCH_2), (unprepared, BATCH_2)):
        transaction.write("contributions", batch, partition_by=["month"])
    kept.prepare()
    dropped.prepare()
    unprepared._close_writers()  # a writer killed before prepare leaves its staging folder
    with lake.lock():
        done = lake.recover(lambda txid: txid == kept.id)
    assert done["rolled_forward"] == [kept.id]
    assert sorted(done["rolled_back"]) == sorted([dropped.id, unprepared.id])
    assert lake.count("contributions") == 3
    assert lake.prepared_transactions() == []
    assert not list(lake.root.glob(".tmp-*"))


def test_an_aborted_transaction_leaves_nothing(tmp_path: Path) -> None:
    lake = FactsLake(tmp_path / "lake")
    transaction = lake.begin()
    transaction.write("contributions", BATCH_1)
    transaction.prepare()
    transaction.abort()
    assert lake.count("contributions") == 0
    assert lake.prepared_transactions() == []
    assert not list(lake.root.glob(".tmp-*"))
    with pytest.raises(StoreError, match="same partitioning"):
        again = lake.begin()
        again.write("contributions", BATCH_1, partition_by=["region"])
        again.write("contributions", BATCH_2, partition_by=["month"])


def _hold_lock_in_another_process(lake: FactsLake) -> subprocess.Popen[str]:
    """A live writer: another process holding the lake's lock until its stdin closes."""
    script = textwrap.dedent(
        f"""
        import sys
        from saqta.store.lake import FactsLake
        with FactsLake({str(lake.root)!r}).lock():
            print("held", flush=True)
            sys.stdin.read()
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "held"
    return child


def test_the_lock_is_reentrant_and_try_lock_says_when_another_writer_holds_it(
    tmp_path: Path,
) -> None:
    lake = FactsLake(tmp_path / "lake")
    with lake.lock(), lake.lock(), lake.try_lock() as held:
        assert held  # the same thread again: no deadlock
        lake.append("contributions", BATCH_1)  # append takes the lock too
    child = _hold_lock_in_another_process(lake)
    try:
        with lake.try_lock() as held:
            assert not held
    finally:
        child.communicate("", timeout=60)
    with lake.try_lock() as held:
        assert held


def test_settle_leaves_a_live_writers_uncommitted_work_alone_and_recovers_a_dead_ones(
    tmp_path: Path,
) -> None:
    lake = FactsLake(tmp_path / "lake")
    assert lake.settle(lambda txid: True) == {}  # nothing left behind: nothing to do
    transaction = lake.begin()
    transaction.write("contributions", BATCH_1, partition_by=["month"])
    transaction.prepare()
    child = _hold_lock_in_another_process(lake)
    try:
        # the live writer has not committed: its files are invisible, settle does not wait
        assert lake.settle(lambda txid: False) == {}
        assert lake.prepared_transactions() == [transaction.id]
    finally:
        child.communicate("", timeout=60)
    # the writer is gone and the record store says it committed: rolled forward
    interrupted: list[list[int]] = []
    with lake.lock(), lake.run_marker(41):
        pass
    (lake.root / "_runs").mkdir(exist_ok=True)
    (lake.root / "_runs" / "42.json").write_text('{"run_id": 42}')
    done = lake.settle(lambda txid: txid == transaction.id, interrupted.append)
    assert done["rolled_forward"] == [transaction.id]
    assert done["runs"] == ["42"] and interrupted == [[42]]
    assert lake.count("contributions") == 3
    assert not lake.needs_recovery()
    # a run of this very process is going, not interrupted
    with lake.lock(), lake.run_marker(43):
        assert lake.recover(lambda txid: False, interrupted.append)["runs"] == []
    assert interrupted == [[42]]
