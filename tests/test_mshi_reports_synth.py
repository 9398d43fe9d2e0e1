"""The reports on a small synthetic country, imported and given its status by the real pipeline,
cross-checked against direct queries of its files and of the status rows."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from saqta.core.periods import Month
from saqta.mshi.contributions import import_synth
from saqta.mshi.reports import collections_report, coverage_report, frequency_report
from saqta.mshi.status import compute_status
from saqta.store.db import make_engine, upgrade
from saqta.store.lake import FactsLake
from saqta.synth.generate import SynthOptions, generate


@pytest.fixture(scope="module")
def country(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A small synthetic country through the real pipeline: imports, then the status engine for
    December 2022."""
    base = tmp_path_factory.mktemp("synth")
    synth = base / "synth"
    generate(SynthOptions(scale=0.001, seed=3, out=synth, workers=1))
    lake = base / "lake"
    records = make_engine(f"sqlite:///{base / 'saqta.db'}")
    upgrade(records)
    try:
        imported = import_synth(records, FactsLake(lake), synth)
        assert all(r.quarantined == 0 for rs in imported.values() for r in rs)
        compute_status(lake, [Month(2022, 12)], engine=records)
    finally:
        records.dispose()
    return synth, lake


def _one(sql: str) -> object:
    with duckdb.connect() as con:
        row = con.execute(sql).fetchone()
    assert row is not None
    return row[0]


def test_coverage_adds_up_and_matches_the_country(country: tuple[Path, Path]) -> None:
    synth, lake = country
    report = coverage_report(lake, 2022)
    p = {row.key: row.persons for row in report.rows}
    assert p["population"] == p["entitled"] + p["uninsured"]
    keys = [row.key for row in report.rows[3:9]]
    assert sum(p[key] for key in keys) == p["paid_for"]
    for key in ("population", "entitled", "paid_for", "uninsured"):
        assert sum(getattr(region, key) for region in report.regions) == p[key]
    persons = f"read_parquet('{synth}/persons/*.parquet')"
    alive_in_december = _one(
        f"SELECT count(*) FROM {persons} WHERE death_date IS NULL OR death_date >= '2022-12-01'"
    )
    assert p["population"] == alive_in_december
    state = _one(f"SELECT count(*) FROM {persons} WHERE category = 'state_paid'")
    assert p["state_paid_exempt"] == state
    payments = f"read_parquet('{synth}/payments/*.parquet')"
    paid = _one(f"SELECT count(DISTINCT person_iin) FROM {payments} WHERE year(period) = 2022")
    assert p["paid_for"] == paid  # every state-paid person has a state contribution here
    status = f"read_parquet('{lake}/derived/status/month=2022-12-01/*.parquet')"
    entitled = _one(
        f"SELECT count(*) FROM {status} s JOIN {persons} p USING (iin) WHERE s.entitled "
        "AND (p.death_date IS NULL OR p.death_date >= '2022-12-01')"
    )
    assert p["entitled"] == entitled
    assert sum(report.entitled_by_basis.values()) == p["entitled"]
    assert report.row("state_paid_exempt").share == (
        Decimal(state) * 100 / Decimal(p["population"])
    ).quantize(Decimal("0.01"))


def test_collections_match_direct_sums(country: tuple[Path, Path]) -> None:
    synth, lake = country
    payments = f"read_parquet('{synth}/payments/*.parquet')"
    received = collections_report(lake, 2022)
    assert received.net == _one(
        f"SELECT sum(amount) FROM {payments} WHERE year(payment_date) = 2022"
    )
    by_period = collections_report(lake, 2022, basis="period")
    assert by_period.net == _one(f"SELECT sum(amount) FROM {payments} WHERE year(period) = 2022")
    assert by_period.source("state").net == _one(
        f"SELECT sum(amount) FROM {payments} "
        "WHERE year(period) = 2022 AND payment_type = 'state_contribution'"
    )
    deductions, months = (
        _one(
            f"SELECT (sum(amount), count(DISTINCT (person_iin, period)))::VARCHAR FROM {payments} "
            "WHERE year(period) = 2022 AND payment_type = 'employer_deduction'"
        )
        .strip("()")
        .split(", ")
    )  # type: ignore[union-attr]
    assert received.deductions == Decimal(deductions)
    assert received.employee_months == int(months)
    assert received.population == _one(f"SELECT count(*) FROM read_parquet('{synth}/persons/*')")


def test_frequency_matches_direct_counts(country: tuple[Path, Path]) -> None:
    synth, lake = country
    report = frequency_report(lake, 2022)
    payments = f"read_parquet('{synth}/payments/*.parquet')"
    with duckdb.connect() as con:
        expected = dict(
            con.execute(
                f"""SELECT months, count(*) FROM (
                    SELECT person_iin, count(DISTINCT period) AS months FROM {payments}
                    WHERE payment_type = 'employer_deduction' AND year(period) = 2022
                    GROUP BY 1) GROUP BY 1"""
            ).fetchall()
        )
    assert {row.months: row.employees for row in report.rows if row.employees} == expected
    assert report.employees == sum(expected.values())
    assert sum(r.employees for r in report.regions) == report.employees


def test_command_line(country: tuple[Path, Path], tmp_path: Path) -> None:
    _, lake = country

    def saqta(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "saqta", "report", *args, "--lake", str(lake)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            cwd=tmp_path,
        )

    result = saqta(
        "coverage", "--year", "2022", "--format", "csv", "--out", "c.csv", "--chart", "c.svg"
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "c.csv").is_file() and (tmp_path / "c-regions.csv").is_file()
    assert (tmp_path / "c.svg").read_text(encoding="utf-8").count("<svg") == 1
    result = saqta("frequency", "--year", "2022", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert '"mean"' in result.stdout
    result = saqta("collections", "--year", "2022", "--format", "xlsx", "--out", "r.xlsx")
    assert result.returncode == 0 and (tmp_path / "r.xlsx").is_file()
    result = saqta("collections", "--year", "2022")
    assert result.returncode == 0 and "Average deduction per employee-month" in result.stdout
    bad = saqta("frequency", "--year", "2022", "--format", "pdf")
    assert bad.returncode == 1
    assert bad.stderr.strip() == "error --format pdf: must be one of table, csv, xlsx, json"
    bad = saqta("coverage", "--year", "2021")
    assert bad.returncode == 1 and "no status results for 2021" in bad.stderr
    bad = saqta("collections", "--year", "2022", "--format", "xlsx")
    assert bad.returncode == 1 and "--out FILE is needed" in bad.stderr
