"""The prudential part of ``saqta demo``: three sample branches over a year, both sides.

Branch side: sample input workbooks, the five forms computed and validated, every output written
(XLSX in Kazakh and Russian, XML checked against its schema, JSON, HTML), each month filed in the
branch's history. Regulator side: every filing received at its scripted moment, the overview of a
month and the time series of one branch's ratios.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.table import Table
from sqlalchemy import Engine

from saqta.cli.common import console
from saqta.core.money import round_percent, to_thousands
from saqta.core.periods import Month, parse_month

SAMPLE_START = "2024-01"
SAMPLE_MONTHS = 12


def run_prudential_demo(out: Path, engine: Engine, seed: int) -> dict[str, Any]:
    """Run both sides of prudential reporting on sample data under ``out``; return a summary."""
    from saqta.cli.regulator import ratio_text
    from saqta.prudential.compute import compute
    from saqta.prudential.loaders import load_inputs
    from saqta.prudential.outputs import write_outputs
    from saqta.prudential.reference import layout
    from saqta.prudential.regulator import overview, replay_filing_script, series
    from saqta.prudential.sample import generate_samples, load_script, write_samples
    from saqta.store.db import session_scope

    manifest = write_samples(
        out / "inputs", seed=seed, start=SAMPLE_START, months=SAMPLE_MONTHS, fmt="xlsx"
    )
    script = load_script(manifest)
    console.print(
        f"sample input workbooks for {SAMPLE_MONTHS} months written to {manifest.parent} "
        f"({len(script)} filing events)"
    )

    # One branch-month end to end, from its workbook.
    first = script[0]
    report = compute(load_inputs(first.inputs))
    paths = write_outputs(report, out / "forms" / f"{report.branch.bin}_{report.period}")
    form_s = layout("1-PN_S", parse_month(report.period).last_day)
    table = Table("row", "indicator", "on the form", "unrounded",
                  title=f"{report.branch.name}, {report.period}: 1-PN_S")  # fmt: skip
    for spec, row in zip(form_s.rows, report.forms["1-PN_S"].rows, strict=True):
        value = row.cells.get("3")
        table.add_row(row.code, spec.label_ru, _rendered(value, spec.unit), str(value))
    console.print(table)
    errors = [f for f in report.findings if f.severity == "error"]
    console.print(
        f"{len(report.findings)} findings ({len(errors)} errors); outputs: "
        + ", ".join(f"{len(v)} {k}" for k, v in sorted(paths.items()))
    )

    # Both sides over the year: file, send, receive, at the scripted moments.
    samples = generate_samples(seed, SAMPLE_START, SAMPLE_MONTHS)
    events = replay_filing_script(engine, samples, out / "outbox")
    accepted = sum(1 for e in events if e.intake.outcome == "accepted")
    console.print(
        f"{len(events)} filings replayed: {accepted} accepted by the regulator, "
        f"{len(events) - accepted} not"
    )
    months = [parse_month(SAMPLE_START).shift(offset) for offset in range(SAMPLE_MONTHS)]
    as_of = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    notable: list[tuple[Month, Any]] = []
    with session_scope(engine) as session:
        for month in months:
            view = overview(session, month, as_of=as_of)
            notable.extend(
                (month, b)
                for b in view.branches
                if b.status.value != "on_time" or b.breaches or b.versions > 1
            )
        reinsurer = next(p.profile for p in samples.plans if p.kind == "reinsurer")
        points = series(session, reinsurer.bin, months=SAMPLE_MONTHS, until=months[-1])
    table = Table("month", "branch", "status", "days late", "versions", "solvency", "HLA",
                  "breaches", title="Regulator: needing attention, as of 2025-03-01")  # fmt: skip
    for month, b in notable:
        data = b.as_dict()
        table.add_row(
            str(month), b.name.split('"')[1] if '"' in b.name else b.name, data["status"],
            str(data["days_late"] or ""), str(data["versions"]),
            ratio_text(data["solvency_ratio"]), ratio_text(data["hla_ratio"]),
            "; ".join(data["breaches"]),
        )  # fmt: skip
    console.print(table)
    table = Table("month", "solvency margin adequacy", "HLA adequacy",
                  title=f"{reinsurer.name}: ratios over the year")  # fmt: skip
    for point in points:
        data = point.as_dict()
        table.add_row(
            str(data["period"]), ratio_text(data["solvency_ratio"]), ratio_text(data["hla_ratio"])
        )
    console.print(table)
    return {"filings": len(events), "accepted": accepted, "needing attention": len(notable)}


def _rendered(value: object, unit: str) -> str:
    """A 1-PN_S value as the form prints it: thousands of tenge, 2 decimals, or yes/no."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if not isinstance(value, Decimal):
        return ""
    if unit == "amount":
        return f"{to_thousands(value):,.0f}"
    return str(round_percent(value))
