"""Imports of the register of persons and of payments: checks, quarantine, reconciliation,
idempotence, one file one transaction (a killed import leaves nothing)."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from saqta.core.errors import InputError
from saqta.core.iin import Sex, bin_problem, iin_problem, make_iin
from saqta.mshi.contributions._payments import (
    import_payments,
    import_synth,
    persons_of_import,
    reference_hashes,
)
from saqta.mshi.intake import check_iins, check_payers, imports, quarantine_rows
from saqta.mshi.models import ImportedFile, ImportKind, QuarantinedRow
from saqta.mshi.registry import import_persons
from saqta.mshi.schema import PAYMENTS
from saqta.store.db import session_scope
from saqta.store.lake import FactsLake
from saqta.store.models import Run, RunStatus

TODAY = dt.date(2024, 6, 30)
EMPLOYER = "990140000126"  # a valid BIN


def iin(birth: str, sex: Sex = Sex.MALE, serial: int = 1) -> str:
    """A valid IIN (the next serial when one would never be issued)."""
    day = dt.date.fromisoformat(birth)
    while (value := make_iin(day, sex, serial)) is None:
        serial += 1
    return value


ALICE = iin("1990-04-22", Sex.FEMALE, 11)
BOLAT = iin("1985-01-31", Sex.MALE, 12)
DANA = iin("2001-12-05", Sex.FEMALE, 13)
STRANGER = iin("1970-07-07", Sex.MALE, 14)  # valid, never registered


def with_bad_check_digit(value: str) -> str:
    return value[:11] + str((int(value[11]) + 1) % 10)


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


PERSON_HEADER = [
    "iin",
    "sex",
    "birth_date",
    "region",
    "urban",
    "attached_provider_id",
    "death_date",
]


def register_rows() -> list[list[Any]]:
    return [
        [ALICE, "F", "1990-04-22", "ALA", "true", "7", ""],
        [BOLAT, "M", "1985-01-31", "AST", "false", "", ""],
        [DANA, "F", "2001-12-05", "ABA", "1", "3", "2024-01-02"],
    ]


def load_register(engine: Engine, lake: FactsLake, folder: Path) -> None:
    path = write_csv(folder / "persons.csv", PERSON_HEADER, register_rows())
    [result] = import_persons(engine, lake, path, today=TODAY)
    assert (result.read, result.accepted, result.quarantined) == (3, 3, 0)


PAYMENT_HEADER = [
    "reference",
    "payer_id",
    "person_iin",
    "payment_type",
    "period",
    "amount",
    "payment_date",
]


def payment(ref: str, person: str = ALICE, **changes: str) -> list[str]:
    row = {
        "reference": ref,
        "payer_id": EMPLOYER,
        "person_iin": person,
        "payment_type": "employer_deduction",
        "period": "2022-03",
        "amount": "5478.30",
        "payment_date": "2022-04-20",
    }
    row.update(changes)
    return [row[name] for name in PAYMENT_HEADER]


@pytest.fixture
def lake(tmp_path: Path) -> FactsLake:
    return FactsLake(tmp_path / "lake")


# --------------------------------------------------------------------------------------------
# Vectorised checks agree with the scalar validators


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(alphabet="0123456789", min_size=12, max_size=12),
            st.text(alphabet="0123456789a ", min_size=0, max_size=14),
            st.builds(
                lambda d, s, n: make_iin(d, s, n) or "",
                st.dates(dt.date(1900, 1, 1), dt.date(2030, 12, 31)),
                st.sampled_from(list(Sex)),
                st.integers(0, 9999),
            ),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_vectorised_id_checks_agree_with_the_scalar_ones(values: list[str]) -> None:
    column = pa.array(values, pa.string())
    iins = check_iins(column, TODAY)
    payers = check_payers(column, TODAY)
    for i, value in enumerate(values):
        valid_iin = iin_problem(value, TODAY) is None
        assert bool(iins.valid[i]) == valid_iin, value
        assert bool(payers.valid[i]) == (valid_iin or bin_problem(value) is None), value
        failed = [reason for mask, reason, _ in iins.failures if mask[i]]
        assert len(failed) == (0 if valid_iin else 1), (value, failed)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=20), min_size=1, max_size=30))
def test_reference_hash_depends_only_on_the_text(values: list[str]) -> None:
    mixed = reference_hashes(pa.array(values))
    each = np.concatenate([reference_hashes(pa.array([v])) for v in values])
    assert (mixed == each).all()
    same_length = [v.ljust(20, "x") for v in values]
    fixed = reference_hashes(pa.array(same_length))
    assert (fixed == np.concatenate([reference_hashes(pa.array([v])) for v in same_length])).all()
    distinct = {v: h for v, h in zip(values, mixed.tolist(), strict=True)}
    assert len(set(distinct.values())) == len(distinct)


# --------------------------------------------------------------------------------------------
# The register of persons


def test_register_import_checks_every_row_and_reconciles(
    engine: Engine, lake: FactsLake, tmp_path: Path
) -> None:
    rows = [
        *register_rows(),
        [with_bad_check_digit(STRANGER), "M", "1970-07-07", "ALA", "true", "", ""],
        [STRANGER, "F", "1970-07-08", "XXX", "maybe", "x", "1960-01-01"],
        [ALICE, "F", "1990-04-22", "ALA", "true", "7", ""],
        ["", "M", "", "ALA", "true", "", ""],
    ]
    path = write_csv(tmp_path / "persons.csv", PERSON_HEADER, rows)
    [result] = import_persons(engine, lake, path, today=TODAY)
    assert (result.read, result.accepted, result.quarantined) == (7, 3, 4)
    problems = {(p["row"], p["field"], p["reason"]) for p in quarantine_rows(engine, limit=100)}
    assert problems == {
        (4, "iin", "iin_checksum"),
        (5, "sex", "sex_mismatch"),
        (5, "birth_date", "birth_date_mismatch"),
        (5, "region", "unknown_region"),
        (5, "urban", "schema"),
        (5, "attached_provider_id", "schema"),
        (5, "death_date", "death_before_birth"),
        (6, "iin", "duplicate_in_file"),
        (7, "iin", "missing"),
        (7, "birth_date", "missing"),
    }
    persons = lake.query("SELECT * FROM persons ORDER BY iin").to_pylist()
    assert [p["iin"] for p in persons] == sorted([ALICE, BOLAT, DANA])
    dana = next(p for p in persons if p["iin"] == DANA)
    assert dana["death_date"] == dt.date(2024, 1, 2)
    assert dana["urban"] is True and dana["attached_provider_id"] == 3
    assert {p["loaded_seq"] for p in persons} == {1}


def test_state_categories_need_a_registered_person(
    engine: Engine, lake: FactsLake, tmp_path: Path
) -> None:
    load_register(engine, lake, tmp_path)
    path = write_csv(
        tmp_path / "categories.csv",
        ["iin", "category", "valid_from", "valid_to"],
        [
            [DANA, "student", "2019-09-01", "2023-06-30"],
            [STRANGER, "pensioner", "2022-01-01", ""],
            [BOLAT, "astronaut", "2022-01-01", ""],
            [ALICE, "pregnant", "2022-05-01", "2022-01-31"],
            [DANA, "student", "2019-09-01", "2024-06-30"],
        ],
    )
    [result] = import_persons(engine, lake, path, today=TODAY)
    assert (result.read, result.accepted, result.quarantined) == (5, 1, 4)
    assert result.by_reason == {
        "unknown_person": 1,
        "unknown_category": 1,
        "inverted_period": 1,
        "duplicate_in_file": 1,
    }
    rows = lake.query("SELECT iin, category, valid_to, loaded_seq FROM state_categories")
    assert rows.to_pylist() == [
        {"iin": DANA, "category": "student", "valid_to": dt.date(2023, 6, 30), "loaded_seq": 2}
    ]


def test_synth_output_imports_cleanly(engine: Engine, lake: FactsLake, tmp_path: Path) -> None:
    from saqta.synth.generate import SynthOptions, generate

    out = generate(SynthOptions(scale=0.001, seed=3, out=tmp_path / "synth", workers=1)).out
    results = import_persons(engine, lake, out)
    kinds = [r.kind for r in results]
    assert kinds == ["persons", "state_categories"]
    persons, categories = results
    assert persons.read == pq.read_metadata(next((out / "persons").glob("*.parquet"))).num_rows
    assert persons.quarantined == 0
    assert categories.read == categories.accepted + categories.quarantined
    assert categories.accepted > 0
    assert set(categories.by_reason) <= {"inverted_period"}
    payments = [import_payments(engine, lake, f) for f in sorted((out / "payments").glob("*"))]
    total = sum(pq.read_metadata(f).num_rows for f in (out / "payments").glob("*.parquet"))
    assert sum(r.read for r in payments) == total
    assert sum(r.accepted for r in payments) == total == lake.count("payments")
    again = import_synth(engine, lake, out)
    assert [len(again[kind]) for kind in ("persons", "state_categories", "payments")] == [
        1,
        1,
        len(payments),
    ]
    assert all(r.already_imported for results in again.values() for r in results)
    assert lake.count("payments") == total


# --------------------------------------------------------------------------------------------
# Payments


def test_every_bad_payment_is_quarantined_with_file_row_field_and_reason(
    engine: Engine, lake: FactsLake, tmp_path: Path
) -> None:
    load_register(engine, lake, tmp_path)
    rows = [
        payment("R1"),
        payment("R2", person=with_bad_check_digit(BOLAT)),
        payment("R3", person=STRANGER),
        payment("R4", payer_id="123456789012"),
        payment("R5", amount="0.00"),
        payment("R6", amount="-10"),
        payment("R7", payment_date="2024-07-01"),
        payment("R8", period="2017-06"),
        payment("R1", person=BOLAT),
        payment("R9", payment_type="bonus"),
        payment("R10", amount="12.345", period="2022-13", payment_date="yesterday"),
        payment("", person=BOLAT),
        payment("R11", person=BOLAT, payment_type="self_payer", payer_id=BOLAT, amount="3000"),
        payment("R12", period="2022-03-01", payment_date="2024-06-30"),
    ]
    path = write_csv(tmp_path / "march.csv", PAYMENT_HEADER, rows)
    result = import_payments(engine, lake, path, today=TODAY)
    assert (result.read, result.accepted, result.quarantined) == (14, 3, 11)
    every = quarantine_rows(engine, import_id=result.import_id, limit=100)
    found = [(p["row"], p["field"], p["reason"]) for p in every]
    assert sorted(found) == [
        (2, "person_iin", "iin_checksum"),
        (3, "person_iin", "unknown_person"),
        (4, "payer_id", "payer_checksum"),
        (5, "amount", "non_positive_amount"),
        (6, "amount", "non_positive_amount"),
        (7, "payment_date", "future_date"),
        (8, "period", "period_before_2017_07"),
        (9, "reference", "duplicate_in_file"),
        (10, "payment_type", "unknown_payment_type"),
        (11, "amount", "schema"),
        (11, "payment_date", "schema"),
        (11, "period", "schema"),
        (12, "reference", "missing"),
    ]
    assert {p["file"] for p in every} == {"march.csv"}
    assert next(p for p in every if p["row"] == 11 and p["field"] == "amount")["value"] == "12.345"
    accepted = lake.query(
        "SELECT reference, amount, period, source_row, source_file, year, month FROM payments "
        "ORDER BY source_row"
    ).to_pylist()
    assert [(r["reference"], r["amount"], r["source_row"]) for r in accepted] == [
        ("R1", Decimal("5478.30"), 1),
        ("R11", Decimal("3000.00"), 13),
        ("R12", Decimal("5478.30"), 14),
    ]
    assert {r["source_file"] for r in accepted} == {result.sha256}
    assert {(r["year"], r["month"]) for r in accepted} == {(2022, 3)}
    with session_scope(engine) as session:
        record = session.scalars(
            select(ImportedFile).where(ImportedFile.kind == ImportKind.PAYMENTS)
        ).one()
        run = session.get(Run, record.run_id)
        assert run is not None and run.status is RunStatus.SUCCEEDED
        assert run.inputs == {"file": result.sha256}
        assert run.kind == "mshi.import.payments"
        assert len(run.rules_version) == 12
        assert record.rows_read == 14 and record.rows_quarantined == 11


def test_the_same_file_twice_is_a_no_op_and_a_reference_is_unique_across_files(
    engine: Engine, lake: FactsLake, tmp_path: Path
) -> None:
    load_register(engine, lake, tmp_path)
    first = write_csv(tmp_path / "a.csv", PAYMENT_HEADER, [payment("A1"), payment("A2")])
    assert import_payments(engine, lake, first, today=TODAY).accepted == 2
    again = import_payments(engine, lake, first, today=TODAY)
    assert again.already_imported and again.accepted == 2
    assert lake.count("payments") == 2
    second = write_csv(
        tmp_path / "b.csv",
        PAYMENT_HEADER,
        [payment("A2", person=BOLAT), payment("B1"), payment("B1")],
    )
    result = import_payments(engine, lake, second, today=TODAY)
    assert (result.accepted, result.quarantined) == (1, 2)
    assert result.by_reason == {"duplicate_reference": 1, "duplicate_in_file": 1}
    assert sorted(lake.query("SELECT reference FROM payments").column(0).to_pylist()) == [
        "A1",
        "A2",
        "B1",
    ]
    assert len(imports(engine, ImportKind.PAYMENTS)) == 2


def test_duplicates_are_found_across_batches_of_one_file(
    engine: Engine, lake: FactsLake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import saqta.mshi.intake._files as importing

    monkeypatch.setattr(importing, "BATCH_ROWS", 2)
    load_register(engine, lake, tmp_path)
    table = pa.table(
        {
            "reference": ["X1", "X2", "X3", "X1", "X4", "X2"],
            "payer_id": [EMPLOYER] * 6,
            "person_iin": [ALICE, BOLAT, DANA, BOLAT, ALICE, DANA],
            "payment_type": ["employer_deduction"] * 6,
            "period": pa.array([dt.date(2022, m, 1) for m in (1, 1, 2, 2, 3, 3)], pa.date32()),
            "amount": pa.array([Decimal("100.00")] * 6, pa.decimal128(18, 2)),
            "payment_date": pa.array([dt.date(2022, 5, 1)] * 6, pa.date32()),
        }
    )
    pq.write_table(table, tmp_path / "batches.parquet")
    result = import_payments(engine, lake, tmp_path / "batches.parquet", today=TODAY)
    assert (result.read, result.accepted, result.quarantined) == (6, 4, 2)
    assert sorted((p["row"], p["reason"]) for p in quarantine_rows(engine)) == [
        (4, "duplicate_in_file"),
        (6, "duplicate_in_file"),
    ]
    months = lake.query("SELECT month, count(*) AS n FROM payments GROUP BY month ORDER BY 1")
    assert months.to_pylist() == [{"month": 1, "n": 2}, {"month": 2, "n": 1}, {"month": 3, "n": 1}]
    assert persons_of_import(engine, lake, result.import_id or 0).to_pylist() == sorted(
        [ALICE, BOLAT, DANA]
    )
    described = lake.query("DESCRIBE payments").to_pylist()
    types = {row["column_name"]: row["column_type"] for row in described}
    assert types["amount"] == "DECIMAL(18,2)" and types["source_row"] == "BIGINT"
    assert set(PAYMENTS.names) <= set(types)


def test_csv_rows_of_the_wrong_width_keep_the_row_numbers(
    engine: Engine, lake: FactsLake, tmp_path: Path
) -> None:
    load_register(engine, lake, tmp_path)
    path = tmp_path / "ragged.csv"
    lines = [",".join(PAYMENT_HEADER)]
    lines += [",".join(payment("W1")), "W2,only,three", ",".join(payment("W3"))]
    lines += [",".join([*payment("W4"), "extra"]), ",".join(payment("W5", amount="x"))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = import_payments(engine, lake, path, today=TODAY)
    assert (result.read, result.accepted, result.quarantined) == (5, 2, 3)
    assert sorted((p["row"], p["field"]) for p in quarantine_rows(engine)) == [
        (2, "(row)"),
        (4, "(row)"),
        (5, "amount"),
    ]
    rows = lake.query("SELECT reference, source_row FROM payments ORDER BY 2").to_pylist()
    assert rows == [{"reference": "W1", "source_row": 1}, {"reference": "W3", "source_row": 3}]


def test_a_file_without_a_required_column_is_refused_whole(
    engine: Engine, lake: FactsLake, tmp_path: Path
) -> None:
    load_register(engine, lake, tmp_path)
    path = write_csv(tmp_path / "short.csv", PAYMENT_HEADER[:-1], [payment("S1")[:-1]])
    with pytest.raises(InputError) as caught:
        import_payments(engine, lake, path, today=TODAY)
    assert str(caught.value).startswith(f"{path}: column payment_date: missing")
    assert lake.count("payments") == 0
    assert len(imports(engine, ImportKind.PAYMENTS)) == 0
    floats = pa.table({name: pa.array(["1"]) for name in PAYMENT_HEADER}).set_column(
        5, "amount", pa.array([1.5])
    )
    pq.write_table(floats, tmp_path / "floats.parquet")
    # floating point is read value by value: 1.5 is exact (test_mshi_formats has the rest)
    result = import_payments(engine, lake, tmp_path / "floats.parquet", today=TODAY)
    fields = {p["field"] for p in quarantine_rows(engine, import_id=result.import_id)}
    assert result.quarantined == 1 and "amount" not in fields


def _big_payments_file(path: Path, rows: int) -> None:
    references = pa.array([f"K{i:012d}" for i in range(rows)])
    table = pa.table(
        {
            "reference": references,
            "payer_id": pa.repeat(pa.scalar(EMPLOYER), rows),
            "person_iin": pa.repeat(pa.scalar(ALICE), rows),
            "payment_type": pa.repeat(pa.scalar("employer_deduction"), rows),
            "period": pa.array(
                (np.datetime64("2022-01", "M") + np.arange(rows) % 12).astype("datetime64[D]")
            ).cast(pa.date32()),
            "amount": pa.repeat(pa.scalar(Decimal("10.00"), pa.decimal128(18, 2)), rows),
            "payment_date": pa.repeat(pa.scalar(dt.date(2023, 3, 1)), rows),
        }
    )
    pq.write_table(table, path, row_group_size=200_000)


def test_a_killed_import_leaves_nothing_and_the_next_one_succeeds(
    db_url: str, engine: Engine, lake: FactsLake, tmp_path: Path
) -> None:
    load_register(engine, lake, tmp_path)
    big = tmp_path / "big.parquet"
    _big_payments_file(big, 3_000_000)
    script = textwrap.dedent(
        f"""
        import datetime as dt
        from saqta.store.db import make_engine
        from saqta.store.lake import FactsLake
        from saqta.mshi.contributions import import_payments
        import_payments(make_engine({db_url!r}), FactsLake({str(lake.root)!r}), {str(big)!r},
                        today=dt.date(2024, 6, 30))
        print("finished")
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 120
        staged: list[Path] = []
        while time.monotonic() < deadline and child.poll() is None:
            staged = [p for p in lake.root.glob(".tmp-*/payments/**/*.parquet")]
            if staged:
                break
            time.sleep(0.05)
        assert staged, f"the import never started writing: {child.stderr.read().decode()[-2000:]}"
        time.sleep(0.3)  # well inside the file: 3 million rows take seconds
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL
    assert lake.count("payments") == 0
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(ImportedFile)) == 1  # persons
        assert session.scalar(select(func.count()).select_from(QuarantinedRow)) == 0
    result = import_payments(engine, lake, big, today=TODAY)
    assert (result.read, result.accepted) == (3_000_000, 3_000_000)
    assert lake.count("payments") == 3_000_000
    assert list(lake.root.glob(".tmp-*")) == []


def test_the_import_commands_print_the_reconciled_counts(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from saqta.cli.app import app
    from saqta.core.settings import get_settings

    monkeypatch.setenv("SAQTA_DATABASE_URL", db_url)
    monkeypatch.setenv("SAQTA_LAKE_DIR", str(tmp_path / "lake"))
    get_settings.cache_clear()
    runner = CliRunner()
    persons = write_csv(tmp_path / "persons.csv", PERSON_HEADER, register_rows())
    payments = write_csv(
        tmp_path / "payments.csv",
        PAYMENT_HEADER,
        [payment("C1"), payment("C2", person=STRANGER), payment("C3", amount="0")],
    )
    try:
        result = runner.invoke(app, ["persons", "import", str(persons)])
        assert result.exit_code == 0, result.output
        assert "read 3 = accepted 3 + quarantined 0" in result.output
        result = runner.invoke(app, ["payments", "import", str(payments)])
        assert result.exit_code == 0, result.output
        assert "read 3 = accepted 1 + quarantined 2" in result.output
        assert "unknown_person: 1 problem(s)" in result.output
        again = runner.invoke(app, ["payments", "import", str(payments)])
        assert "already imported (import 2" in again.output
        assert "nothing done" in again.output
        shown = runner.invoke(
            app, ["payments", "quarantine", "--reason", "unknown_person", "--json"]
        )
        assert shown.exit_code == 0, shown.output
        assert [(r["row"], r["field"], r["value"]) for r in json.loads(shown.output)] == [
            (2, "person_iin", STRANGER)
        ]
        missing = runner.invoke(app, ["payments", "import", str(tmp_path / "nope.csv")])
        assert missing.exit_code == 1
        assert "no such file" in missing.output
    finally:
        get_settings.cache_clear()


_ROW_KINDS = {
    "good": {},
    "bad_iin": {"person_iin": with_bad_check_digit(BOLAT)},
    "stranger": {"person_iin": STRANGER},
    "zero": {"amount": "0"},
    "future": {"payment_date": "2030-01-01"},
    "early": {"period": "2016-12"},
    "bad_type": {"payment_type": "gift"},
    "bad_amount": {"amount": "1,5"},
}


@settings(max_examples=15, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(sorted(_ROW_KINDS)), st.integers(0, 30)),
        min_size=1,
        max_size=40,
    )
)
def test_every_row_is_either_accepted_or_quarantined(rows: list[tuple[str, int]]) -> None:
    import tempfile

    from saqta.store.db import make_engine, upgrade

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        engine = make_engine(f"sqlite:///{root / 'db.sqlite'}")
        try:
            upgrade(engine)
            lake = FactsLake(root / "lake")
            load_register(engine, lake, root)
            data = [payment(f"H{ref}", **_ROW_KINDS[kind]) for kind, ref in rows]
            result = import_payments(
                engine, lake, write_csv(root / "p.csv", PAYMENT_HEADER, data), today=TODAY
            )
            seen: set[int] = set()
            expected_refs = []
            for kind, ref in rows:
                if kind == "good" and ref not in seen:
                    expected_refs.append(f"H{ref}")
                seen.add(ref)
            assert result.read == len(rows) == result.accepted + result.quarantined
            if expected_refs:
                stored = lake.query("SELECT reference FROM payments ORDER BY source_row")
                assert stored.column(0).to_pylist() == expected_refs
            else:
                assert lake.count("payments") == 0
            assert result.accepted == len(expected_refs)
            rejected = {
                p["row"] for p in quarantine_rows(engine, import_id=result.import_id, limit=1000)
            }
            assert len(rejected) == result.quarantined
        finally:
            engine.dispose()


def test_an_import_writes_the_compact_payments_the_status_engine_reads(
    engine: Engine, lake: FactsLake, tmp_path: Path
) -> None:
    from saqta.mshi.contributions._hashes import reference_hashes
    from saqta.mshi.contributions._paid import PAID_DIR, paid_files, paid_path

    load_register(engine, lake, tmp_path)
    rows = [
        payment("C1"),
        payment("C2", person=BOLAT, payment_type="self_payer", period="2022-11", amount="4200.00"),
    ]
    import_payments(engine, lake, write_csv(tmp_path / "c.csv", PAYMENT_HEADER, rows), today=TODAY)
    sources = lake.files("payments")
    compact = [paid_path(lake, source) for source in sources]
    assert len(sources) == 2 and all(path.is_file() for path in compact)
    table = pa.concat_tables(pq.read_table(path) for path in compact).sort_by("pm")
    assert table.to_pylist() == [
        {
            "iin": int(ALICE),
            "pm": 2022 * 12 + 2,
            "type_rank": 0,
            "amount": Decimal("5478.30"),
            "paid_on": dt.date(2022, 4, 20),
            "ref_hash": int(reference_hashes(pa.array(["C1"])).view(np.int64)[0]),
        },
        {
            "iin": int(BOLAT),
            "pm": 2022 * 12 + 10,
            "type_rank": 5,
            "amount": Decimal("4200.00"),
            "paid_on": dt.date(2022, 4, 20),
            "ref_hash": int(reference_hashes(pa.array(["C2"])).view(np.int64)[0]),
        },
    ]
    # an index, not facts: removed, it is built again the same
    shutil.rmtree(lake.root.joinpath(*PAID_DIR))
    assert not any(path.exists() for path in compact)
    assert paid_files(lake, sources) == compact
    assert pa.concat_tables(pq.read_table(path) for path in compact).sort_by("pm") == table
