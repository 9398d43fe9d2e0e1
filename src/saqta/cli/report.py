"""``saqta report``: coverage, collections and payment-frequency reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from saqta.cli.common import console, err_console, report_errors
from saqta.core.errors import InputError

report_app = typer.Typer(help="MSHI reports for a year.", no_args_is_help=True)

FORMATS = ("table", "csv", "xlsx", "json")

_YEAR = typer.Option(..., "--year", help="The reporting year, e.g. 2022")
_FORMAT = typer.Option("table", "--format", help="table (console), csv, xlsx or json")
_OUT = typer.Option(
    None, "--out", help="Output file (csv: one file per section, named after this one)"
)
_LAKE = typer.Option(None, "--lake", help="Facts lake folder (default: SAQTA_LAKE_DIR)")


def _lake(lake: Path | None) -> Path:
    from saqta.core.settings import get_settings

    return lake if lake is not None else get_settings().resolved_lake_dir


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise InputError(f"must be one of {', '.join(FORMATS)}", where=f"--format {fmt}")


def _with_run_records(report: Any) -> Any:
    """Add the status runs' audit records from the system of record, when it holds them."""
    import dataclasses

    from saqta.core.settings import get_settings
    from saqta.mshi.reports import attach_run_records

    settings = get_settings()
    if not report.provenance.status_runs:
        return report
    if settings.database_url is None and not (settings.home / "saqta.db").is_file():
        return report
    try:
        from saqta.store.db import make_engine

        engine = make_engine()
        try:
            provenance = attach_run_records(report.provenance, engine)
        finally:
            engine.dispose()
    except Exception as exc:  # the audit record is a nicety: never fail a report for it
        err_console.print(f"[yellow]note[/yellow] status run records not read: {exc}")
        return report
    return dataclasses.replace(report, provenance=provenance)


def _emit(doc: Any, fmt: str, out: Path | None) -> None:
    from saqta.mshi.reports import print_document, to_json, write

    if fmt == "table":
        print_document(doc, console)
        return
    if fmt == "json" and out is None:
        import json

        console.print_json(json.dumps(to_json(doc), ensure_ascii=False))
        return
    for path in write(doc, fmt, out):
        console.print(f"wrote {path}", highlight=False)


@report_app.command("coverage")
@report_errors(exit_code=1)
def coverage(
    year: int = _YEAR,
    fmt: str = _FORMAT,
    out: Path | None = _OUT,
    chart: Path | None = typer.Option(None, "--chart", help="Also draw coverage by region (SVG)"),
    lake: Path | None = _LAKE,
) -> None:
    """Table 2: persons by payer category, entitled, paid for and uninsured, and by region."""
    _check_format(fmt)
    from saqta.mshi.reports import coverage_chart, coverage_document, coverage_report

    with console.status(f"coverage {year}"):
        report = _with_run_records(coverage_report(_lake(lake), year))
    _emit(coverage_document(report), fmt, out)
    if chart is not None:
        console.print(f"wrote {coverage_chart(report, chart)}", highlight=False)


@report_app.command("collections")
@report_errors(exit_code=1)
def collections(
    year: int = _YEAR,
    basis: str = typer.Option(
        "received", "--basis", help="received: money received in the year; period: for its months"
    ),
    fmt: str = _FORMAT,
    out: Path | None = _OUT,
    lake: Path | None = _LAKE,
) -> None:
    """Receipts by source and region net of refunds; the average deduction and base."""
    _check_format(fmt)
    if basis not in ("received", "period"):
        raise InputError("must be received or period", where=f"--basis {basis}")
    from saqta.mshi.reports import collections_document, collections_report

    with console.status(f"collections {year}"):
        report = collections_report(_lake(lake), year, basis=basis)  # type: ignore[arg-type]
    _emit(collections_document(report), fmt, out)


@report_app.command("frequency")
@report_errors(exit_code=1)
def frequency(
    year: int = _YEAR,
    fmt: str = _FORMAT,
    out: Path | None = _OUT,
    lake: Path | None = _LAKE,
) -> None:
    """Diagram 4: employees by the number of months with employer deductions in the year."""
    _check_format(fmt)
    from saqta.mshi.reports import frequency_document, frequency_report

    with console.status(f"frequency {year}"):
        report = frequency_report(_lake(lake), year)
    _emit(frequency_document(report), fmt, out)
