"""One way to write values and names into SQL text, and a lake whose path would break any other."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saqta.store.sql import sql_identifier, sql_literal, sql_path_list

AWKWARD = "lake 'quoted' \"double\" Қазақ данные"


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
        max_size=40,
    )
)
def test_a_literal_and_an_identifier_hold_any_text_exactly_in_duckdb(value: str) -> None:
    with duckdb.connect(":memory:") as connection:
        row = connection.execute(f"SELECT {sql_literal(value)}").fetchone()
        assert row is not None and row[0] == value
        if value:
            connection.execute(f"CREATE TABLE t ({sql_identifier(value)} INTEGER)")
            assert [d[0] for d in connection.execute("SELECT * FROM t").description] == [value]


@pytest.mark.postgres
def test_a_literal_and_an_identifier_hold_awkward_text_in_postgresql(postgres_server) -> None:
    with psycopg.connect(postgres_server.conninfo(), autocommit=True) as connection:
        row = connection.execute(
            f"SELECT {sql_literal(AWKWARD)} AS {sql_identifier(AWKWARD)}"
        ).fetchone()
        assert row is not None and row[0] == AWKWARD


def test_a_lake_path_that_duckdb_would_read_as_a_pattern_is_refused_clearly(
    tmp_path: Path,
) -> None:
    import pyarrow as pa

    from saqta.core.errors import StoreError
    from saqta.store.lake import FactsLake

    lake = FactsLake(tmp_path / "lake [1] \\ *")
    lake.append("things", pa.table({"a": [1]}))
    with pytest.raises(StoreError, match="DuckDB reads as a file pattern"):
        lake.count("things")


def test_nul_and_non_text_are_refused() -> None:
    with pytest.raises(ValueError):
        sql_literal("a\x00b")
    with pytest.raises(ValueError):
        sql_identifier("")
    with pytest.raises(TypeError):
        sql_literal(3)  # type: ignore[arg-type]
    assert sql_literal(Path("/a/b'c")) == "'/a/b''c'"
    assert sql_path_list([Path("/x"), Path("/y'z")]) == "['/x', '/y''z']"


def test_only_the_store_quotes_sql() -> None:
    """No other module builds a quoted literal by hand."""
    source = Path(__file__).resolve().parents[1] / "src" / "saqta"
    hand_made = []
    for path in source.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if path.name != "sql.py" and """replace("'", "''")""" in text:
            hand_made.append(str(path.relative_to(source)))
    assert hand_made == []


def test_a_lake_whose_path_has_quotes_spaces_and_cyrillic_goes_through_everything(
    tmp_path: Path, engine
) -> None:
    from lake_samples import PEOPLE, payments_file, persons_file
    from saqta.core.periods import Month
    from saqta.mshi.contributions import import_payments
    from saqta.mshi.eligibility import build_index, open_index
    from saqta.mshi.registry import import_persons
    from saqta.mshi.reports import collections_report, coverage_report, frequency_report
    from saqta.mshi.status import compute_status, explain
    from saqta.mshi.status._engine import read_status
    from saqta.store.lake import FactsLake

    root = tmp_path / AWKWARD
    root.mkdir()
    lake = FactsLake(root / "lake ' \" Қ")
    [persons] = import_persons(engine, lake, persons_file(root), today=dt.date(2024, 6, 30))
    assert persons.accepted == len(PEOPLE)
    paid = import_payments(
        engine, lake, payments_file(root, "платежи '1'.csv", "Q"), today=dt.date(2024, 6, 30)
    )
    assert paid.accepted == len(PEOPLE) * 6
    assert lake.count("payments") == len(PEOPLE) * 6
    run = compute_status(lake, [Month(2022, m) for m in range(1, 13)], engine=engine)
    assert run.entitled["2022-07"] == len(PEOPLE)
    assert read_status(lake, Month(2022, 7)).num_rows == len(PEOPLE)
    assert explain(lake, PEOPLE[0], Month(2022, 7)).status is not None
    coverage = coverage_report(lake.root, 2022)
    assert coverage is not None
    collections = collections_report(lake.root, 2022)
    assert collections is not None
    assert frequency_report(lake.root, 2022) is not None
    info = build_index(lake.root, engine=engine)
    answer = open_index(Path(info.path)).check(PEOPLE[0], "2022-07-15")
    assert answer.insured
