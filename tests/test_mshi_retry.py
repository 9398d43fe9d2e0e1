"""Retrying an import's quarantined rows: after the missing person is registered, the rows
that now pass are accepted once, the quarantine keeps its history, the counts reconcile over the
import and its retries, and a killed retry leaves nothing half-done."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, func, select

from saqta.mshi.contributions import import_payments, retry_payments
from saqta.mshi.intake import import_totals, quarantine_rows, settle_lake
from saqta.mshi.models import ImportRetry
from saqta.mshi.registry import import_persons
from saqta.store.db import session_scope
from saqta.store.lake import FactsLake
from test_mshi_ingest import (
    ALICE,
    EMPLOYER,
    PAYMENT_HEADER,
    PERSON_HEADER,
    STRANGER,
    TODAY,
    load_register,
    payment,
    write_csv,
)


@pytest.fixture
def lake(tmp_path: Path) -> FactsLake:
    return FactsLake(tmp_path / "lake")


def register_stranger(engine: Engine, lake: FactsLake, folder: Path) -> None:
    path = write_csv(
        folder / "stranger.csv",
        PERSON_HEADER,
        [[STRANGER, "M", "1970-07-07", "ALA", "true", "", ""]],
    )
    [result] = import_persons(engine, lake, path, today=TODAY)
    assert result.accepted == 1


def test_a_retry_accepts_the_rows_that_now_pass_once_and_keeps_the_history(
    engine: Engine, lake: FactsLake, tmp_path: Path
) -> None:
    load_register(engine, lake, tmp_path)
    rows = [
        payment("R1"),
        payment("R2", person=STRANGER),
        payment("R3", person=STRANGER, period="2022-04"),
        payment("R4", person=STRANGER, amount="abc"),
        payment("R1", person=STRANGER),
    ]
    path = write_csv(tmp_path / "march.csv", PAYMENT_HEADER, rows)
    first = import_payments(engine, lake, path, today=TODAY)
    assert (first.read, first.accepted, first.quarantined) == (5, 1, 4)
    assert import_payments(engine, lake, path, today=TODAY).already_imported

    register_stranger(engine, lake, tmp_path)
    path.unlink()  # the retry needs only what the import kept
    assert first.import_id is not None
    retry = retry_payments(engine, lake, first.import_id, today=TODAY)
    assert (retry.read, retry.accepted, retry.quarantined) == (4, 2, 2)
    assert retry.by_reason == {"schema": 1, "duplicate_reference": 1}
    assert (retry.total_read, retry.total_accepted, retry.total_quarantined) == (5, 3, 2)
    assert import_totals(engine, first.import_id) == {
        "read": 5,
        "accepted": 3,
        "quarantined": 2,
        "retries": 1,
    }
    stored = lake.query("SELECT reference, person_iin, source_row, source_file FROM payments")
    assert sorted((r["reference"], r["source_row"]) for r in stored.to_pylist()) == [
        ("R1", 1),
        ("R2", 2),
        ("R3", 3),
    ]
    assert set(stored.column("source_file").to_pylist()) == {first.sha256}

    history = quarantine_rows(engine, import_id=first.import_id, limit=100)
    resolved = {
        (p["row"], p["reason"], p["retry"], p["resolved_by"], p["resolution"]) for p in history
    }
    r = retry.retry_id
    assert len(history) == len(resolved) == 8
    assert resolved == {
        (2, "unknown_person", None, r, "accepted"),
        (3, "unknown_person", None, r, "accepted"),
        (4, "schema", None, r, "quarantined_again"),
        (4, "unknown_person", None, r, "quarantined_again"),
        (4, "schema", r, None, None),
        (5, "duplicate_in_file", None, r, "quarantined_again"),
        (5, "unknown_person", None, r, "quarantined_again"),
        (5, "duplicate_reference", r, None, None),
    }
    still = quarantine_rows(engine, import_id=first.import_id, open_only=True)
    assert sorted(p["row"] for p in still) == [4, 5]

    again = retry_payments(engine, lake, first.import_id, today=TODAY)
    assert (again.read, again.accepted, again.quarantined, again.recorded) == (2, 0, 2, False)
    assert lake.count("payments") == 3
    assert import_totals(engine, first.import_id)["retries"] == 1
    assert len(quarantine_rows(engine, import_id=first.import_id, limit=100)) == len(history)


def test_a_retry_reads_the_kept_rows_with_the_files_decimal_comma(
    engine: Engine, lake: FactsLake, tmp_path: Path
) -> None:
    load_register(engine, lake, tmp_path)
    path = tmp_path / "semicolons.csv"
    lines = [";".join(PAYMENT_HEADER), ";".join(payment("S1", amount="1 234,56"))]
    lines.append(";".join(payment("S2", person=STRANGER, amount="5\u00a0000,5")))
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1251"))
    first = import_payments(engine, lake, path, today=TODAY)
    assert (first.accepted, first.quarantined) == (1, 1)
    register_stranger(engine, lake, tmp_path)
    assert first.import_id is not None
    retry = retry_payments(engine, lake, first.import_id, today=TODAY)
    assert retry.accepted == 1
    amounts = lake.query("SELECT reference, amount FROM payments ORDER BY 1").to_pylist()
    assert amounts == [
        {"reference": "S1", "amount": Decimal("1234.56")},
        {"reference": "S2", "amount": Decimal("5000.50")},
    ]


def test_nothing_open_is_nothing_to_retry_and_the_command_says_so(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from saqta.cli.app import app
    from saqta.core.settings import get_settings

    monkeypatch.setenv("SAQTA_DATABASE_URL", db_url)
    monkeypatch.setenv("SAQTA_LAKE_DIR", str(tmp_path / "lake"))
    get_settings.cache_clear()
    runner = CliRunner()
    persons = write_csv(
        tmp_path / "persons.csv", PERSON_HEADER, [[ALICE, "F", "1990-04-22", "ALA", "true", "", ""]]
    )
    good = write_csv(tmp_path / "good.csv", PAYMENT_HEADER, [payment("G1")])
    bad = write_csv(tmp_path / "bad.csv", PAYMENT_HEADER, [payment("B1", person=STRANGER)])
    refused = tmp_path / "refused.csv"
    refused.write_text("платёж;сумма\nX;1\n", "utf-8")
    last = write_csv(tmp_path / "last.csv", PAYMENT_HEADER, [payment("L1")])
    try:
        assert runner.invoke(app, ["persons", "import", str(persons)]).exit_code == 0
        result = runner.invoke(
            app, ["payments", "import", str(good), str(bad), str(refused), str(last)]
        )
        assert result.exit_code == 1, result.output
        assert "read as: CSV, UTF-8, comma-delimited, decimal mark '.'" in result.output
        assert f"refused: {refused}" in result.output
        assert "imported before it: good.csv (import 2), bad.csv (import 3)" in result.output
        assert f"skipped, not attempted: {last}" in result.output
        assert "semicolon-delimited?" in result.output
        both = runner.invoke(app, ["payments", "retry", "3", "--all"])
        assert both.exit_code == 1 and "give an import id or --all" in both.output
        waiting = runner.invoke(app, ["payments", "retry", "--all"])
        assert waiting.exit_code == 0, waiting.output
        assert "retried 1, none accepted: nothing changed" in waiting.output
        stranger = write_csv(
            tmp_path / "stranger.csv",
            PERSON_HEADER,
            [[STRANGER, "M", "1970-07-07", "ALA", "true", "", ""]],
        )
        assert runner.invoke(app, ["persons", "import", str(stranger)]).exit_code == 0
        done = runner.invoke(app, ["payments", "retry", "3"])
        assert done.exit_code == 0, done.output
        assert "retried 1 = accepted 1 + quarantined again 0 (retry 1" in done.output
        assert "the import now: read 1 = accepted 1 + quarantined 0" in done.output
        again = runner.invoke(app, ["payments", "retry", "3"])
        assert "nothing to retry (read 1 = accepted 1 + quarantined 0)" in again.output
        shown = runner.invoke(app, ["payments", "quarantine", "--import", "3", "--json"])
        [entry] = json.loads(shown.output)
        assert (entry["resolution"], entry["resolved_by"]) == ("accepted", 1)
        assert (
            json.loads(runner.invoke(app, ["payments", "quarantine", "--open", "--json"]).output)
            == []
        )
    finally:
        get_settings.cache_clear()


def _strangers_file(path: Path, rows: int) -> None:
    table = pa.table(
        {
            "reference": pa.array([f"K{i:09d}" for i in range(rows)]),
            "payer_id": pa.repeat(pa.scalar(EMPLOYER), rows),
            "person_iin": pa.repeat(pa.scalar(STRANGER), rows),
            "payment_type": pa.repeat(pa.scalar("employer_deduction"), rows),
            "period": pa.array(
                (np.datetime64("2022-01", "M") + np.arange(rows) % 12).astype("datetime64[D]")
            ).cast(pa.date32()),
            "amount": pa.repeat(pa.scalar(Decimal("10.00"), pa.decimal128(18, 2)), rows),
            "payment_date": pa.repeat(pa.scalar(dt.date(2023, 3, 1)), rows),
        }
    )
    pq.write_table(table, path)


def test_a_killed_retry_leaves_nothing_half_done(
    db_url: str, engine: Engine, lake: FactsLake, tmp_path: Path
) -> None:
    rows = 150_000
    load_register(engine, lake, tmp_path)
    big = tmp_path / "strangers.parquet"
    _strangers_file(big, rows)
    first = import_payments(engine, lake, big, today=TODAY)
    assert (first.accepted, first.quarantined) == (0, rows)
    register_stranger(engine, lake, tmp_path)
    script = textwrap.dedent(
        f"""
        import datetime as dt
        from saqta.store.db import make_engine
        from saqta.store.lake import FactsLake
        from saqta.mshi.contributions import retry_payments
        retry_payments(make_engine({db_url!r}), FactsLake({str(lake.root)!r}), {first.import_id},
                       today=dt.date(2024, 6, 30))
        """
    )
    assert first.import_id is not None

    def consistent() -> bool:
        """Either the whole retry is there (recorded, every row in the lake, the quarantine
        resolved) or none of it; returns whether it is there."""
        with session_scope(engine) as session:
            retries = session.scalar(select(func.count()).select_from(ImportRetry))
        totals = import_totals(engine, first.import_id or 0)
        in_lake = lake.count("payments") if lake.files("payments") else 0
        assert totals["read"] == totals["accepted"] + totals["quarantined"] == rows
        if retries:
            assert (in_lake, totals["accepted"], totals["quarantined"]) == (rows, rows, 0)
            return True
        assert (in_lake, totals["accepted"], totals["quarantined"]) == (0, 0, rows)
        return False

    # killed before the database commit (staging, prepared): nothing; after it: everything,
    # once the next command settles the lake
    for point, done in (
        ("import.staging", False),
        ("lake.prepared", False),
        ("retry.committed", True),
    ):
        child = subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "SAQTA_CRASH_AT": point},
            capture_output=True,
            timeout=300,
        )
        assert child.returncode == -signal.SIGKILL, (point, child.stderr.decode()[-2000:])
        settle_lake(lake, engine)
        assert consistent() is done, point
    result = retry_payments(engine, lake, first.import_id, today=TODAY)
    assert result.nothing_to_retry or result.accepted == rows
    assert consistent()
    assert lake.count("payments") == rows
    assert retry_payments(engine, lake, first.import_id, today=TODAY).nothing_to_retry
    assert lake.count("payments") == rows
    assert list(lake.root.glob(".tmp-*")) == []
