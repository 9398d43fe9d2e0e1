"""``saqta demo``: every capability that exists, run on a small synthetic Kazakhstan.

The demo owns its output folder: it rebuilds it on every run (it refuses to touch a non-empty
folder that is not a previous demo's), so running it twice never doubles anything.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from hashlib import sha256
from pathlib import Path

import pyarrow.parquet as pq
from rich.table import Table

from saqta import __version__
from saqta.cli.common import console, progress_bar, seconds_since_process_start
from saqta.cli.synth_view import show_calibration, show_counts
from saqta.core.calendar import kazakhstan_calendar
from saqta.core.errors import StoreError
from saqta.core.iin import iin_problem, parse_iin
from saqta.core.periods import Month
from saqta.core.reference import regions
from saqta.core.rules import load_rules
from saqta.core.settings import get_settings
from saqta.core.version import code_version

MARKER = ".saqta-demo"


def _prepare(out: Path) -> None:
    """Make ``out`` (already resolved) an empty folder owned by the demo."""
    if out.exists():
        if not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).exists()):
            raise StoreError(
                "exists and is not a previous demo's folder: choose another --out",
                where=f"demo folder {out}",
            )
        shutil.rmtree(out)
    try:
        out.mkdir(parents=True)
        (out / MARKER).write_text(f"saqta {__version__} demo\n", encoding="utf-8")
    except OSError as exc:
        raise StoreError(
            f"cannot write: {exc.strerror or exc}", where=f"demo folder {out}"
        ) from exc


def _step(title: str) -> None:
    console.rule(f"[bold]{title}")


def run_demo(out: Path, scale: float, seed: int) -> None:
    from saqta.synth.generate import SynthOptions, generate

    started = time.perf_counter()
    out = out.resolve()
    options = SynthOptions(scale=scale, seed=seed, out=out / "country")  # refused before any change
    _prepare(out)
    settings = get_settings()
    on = dt.date(2022, 7, 1)

    _step("1. Rules as data")
    rules = load_rules()
    table = Table("parameter", f"value on {on}", "verified", "source")
    for name in (
        "economy.minimum_wage",
        "economy.mrp",
        "mshi.contributions.employer_deduction_rate",
        "mshi.contributions.employee_contribution_rate",
        "mshi.contributions.self_payer_rate",
        "mshi.contributions.state_contribution_rate",
    ):
        found = rules.lookup(name, on)
        value = "not given: the Fund sets it" if found.value is None else str(found.value)
        table.add_row(name, value, "yes" if found.verified else "no", found.source)
    console.print(table)
    console.print(
        f"{len(rules.files)} rule files, {len(rules.names())} dated parameters, "
        f"rule-set version {rules.version}"
    )

    _step("2. Working-day calendar: filing deadlines (6th working day of the next month)")
    calendar = kazakhstan_calendar()
    table = Table("reporting month", "deadline", "contributions for the month due (25th, moved)")
    for month in (Month(2022, 2), Month(2022, 5), Month(2022, 12), Month(2025, 12)):
        due = calendar.deadline(month.next().first_day.replace(day=25))
        table.add_row(str(month), str(calendar.nth_working_day(month.next(), 6)), str(due))
    console.print(table)

    _step("3. A synthetic Kazakhstan")
    with progress_bar(f"synth {options.population:,} persons") as update:
        result = generate(options, on_chunk=update)
    show_counts(result.counts, result.seconds, result.out)
    calibrated = show_calibration(result.out)
    if not calibrated and scale < 0.01:
        console.print(
            "[yellow]At this small scale sampling noise can exceed the tolerances; "
            "the calibration is held to them at --scale 0.01 and above.[/yellow]"
        )

    _step("4. IINs")
    persons = pq.read_table(result.out / "persons", columns=["iin", "birth_date", "sex"])
    sample = persons.column("iin")[0].as_py()
    parsed = parse_iin(sample)
    console.print(f"{sample}: valid, born {parsed.birth_date}, sex {parsed.sex.value}")
    broken = sample[:11] + str((int(sample[11]) + 1) % 10)
    console.print(f"{broken}: invalid, {iin_problem(broken)}")

    _step("5. System of record")
    from saqta.store.db import current_revision, make_engine, session_scope, upgrade
    from saqta.store.registry import finish_run, start_run, upsert_providers, upsert_regions

    url = settings.database_url or f"sqlite:///{out / 'saqta.db'}"
    engine = make_engine(url)
    upgrade(engine)
    providers = pq.read_table(result.out / "providers.parquet").to_pylist()
    with session_scope(engine) as session:
        manifest = (result.out / "manifest.json").read_bytes()
        run = start_run(
            session,
            "demo",
            {"synth manifest": sha256(manifest).hexdigest()},
            rules.version,
            code_version(),
        )
        n_regions = upsert_regions(
            session,
            [
                {
                    "code": r.code,
                    "name_en": r.name_en,
                    "name_kk": r.name_kk,
                    "name_ru": r.name_ru,
                    "established_on": r.established_on,
                    "reporting_region_code": r.reporting_region,
                }
                for r in regions()
            ],
        )
        n_providers = upsert_providers(
            session,
            [
                {
                    "bin": p["bin"],
                    "name": p["name"],
                    "region_code": p["region"],
                    "ownership": p["ownership"],
                    "primary_care": p["primary_care"],
                    "included_on": p["included_on"],
                }
                for p in providers
            ],
        )
        finish_run(session, run, "succeeded", {"regions": n_regions, "providers": n_providers})
    safe_url = engine.url.render_as_string(hide_password=True)
    console.print(
        f"{n_regions} regions and {n_providers} providers in {safe_url} "
        f"(schema revision {current_revision(engine)})"
    )
    engine.dispose()

    _step("6. Social health insurance: contributions, status, reports, eligibility")
    from saqta.cli.demo._mshi import run_mshi_demo
    from saqta.store.lake import FactsLake

    lake = FactsLake(settings.lake_dir or out / "lake")
    engine = make_engine(url)
    run_mshi_demo(result.out, engine, lake, out)
    engine.dispose()

    _step("6f. Access control: who may see what, and the audit")
    from saqta.cli.demo._access import run_access_demo

    engine = make_engine(url)
    run_access_demo(engine, lake, out, settings)
    engine.dispose()

    _step("7. Prudential reporting: three branches over a year, branch and regulator")
    from saqta.cli.demo._prudential import run_prudential_demo

    engine = make_engine(url)
    run_prudential_demo(out / "prudential", engine, seed)
    engine.dispose()

    _step("Summary")
    steps = time.perf_counter() - started
    console.print(
        f"demo finished in {seconds_since_process_start():.1f} s from the start of the process "
        f"({steps:.1f} s in the steps above); outputs in {out}:"
    )
    for name, what in (
        ("country/", "the synthetic country (Parquet) and calibration.json"),
        ("saqta.db", "the system of record (SQLite), unless SAQTA_DATABASE_URL is set"),
        ("lake/", "facts lake: payments, status, eligibility index (or SAQTA_LAKE_DIR)"),
        ("reports/", "coverage, collections and frequency reports (XLSX, CSV, JSON) and the chart"),
        ("prudential/inputs/", "sample input workbooks of three branches, 12 months"),
        ("prudential/forms/", "one branch-month's forms: XLSX (kk, ru), XML, JSON, HTML"),
        ("prudential/outbox/", "the filings as sent to the regulator, by day"),
    ):
        console.print(f"  {out / name}  {what}")
