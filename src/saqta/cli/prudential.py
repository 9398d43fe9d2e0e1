"""``saqta prudential``: a branch's monthly prudential forms (inputs, computation, output)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from saqta.cli.common import console, err_console, progress_bar, report_errors
from saqta.core.periods import parse_date, parse_month

if TYPE_CHECKING:
    from saqta.prudential.report import ReportSet

prudential_app = typer.Typer(
    help="Prudential reporting of a branch of a non-resident insurer.", no_args_is_help=True
)

INPUTS_HELP = "The input workbook (.xlsx) or a folder of CSV files with the same columns"


@prudential_app.command("template")
@report_errors(exit_code=1)
def template(
    out: Path = typer.Option(..., "--out", help="Where to write the blank workbook (.xlsx)"),
    example: bool = typer.Option(
        False, "--example", help="Write a filled example (a sample general insurer) instead"
    ),
) -> None:
    """Write the input workbook: instructions, one sheet per input, drop-down lists."""
    if example:
        from saqta.prudential.sample import generate_samples
        from saqta.prudential.template import write_inputs_xlsx

        first = generate_samples(seed=1, months=3).months_data[0]
        path = write_inputs_xlsx(first.inputs, out)
        console.print(f"example inputs of {first.inputs.branch.name} for {first.period}: {path}")
        return
    from saqta.prudential.template import write_template

    console.print(f"blank input workbook: {write_template(out)}", highlight=False)


def _load_and_compute(inputs: Path, period: str, today: str | None) -> ReportSet:
    from saqta.prudential.compute import compute
    from saqta.prudential.loaders import load_inputs

    month = parse_month(period)
    loaded = load_inputs(
        inputs, period=month, today=parse_date(today, what="--today") if today else None
    )
    return compute(loaded, str(month))


def _print_findings(report: ReportSet) -> None:
    from rich.markup import escape

    if not report.findings:
        console.print("[green]no findings[/green]")
        return
    for finding in report.findings:
        colour = "red" if finding.severity == "error" else "yellow"
        where = " ".join(
            part
            for part in (
                finding.form,
                f"row {finding.row}" if finding.row else None,
                f"column {finding.column}" if finding.column else None,
            )
            if part
        )
        console.print(
            f"[{colour}]{finding.severity}[/{colour}] {escape(finding.rule_id)}"
            f"{' (' + escape(where) + ')' if where else ''}: {escape(finding.message)}",
            highlight=False,
        )


def _print_summary(report: ReportSet) -> None:
    from rich.table import Table

    from saqta.prudential.rendering import layouts_for, render_form

    layout = layouts_for(report)["1-PN_S"]
    rendered = render_form(report, layout, "ru")
    table = Table(
        "№",
        "норматив / показатель",
        "значение",
        title=f"1-PN_S {report.branch.name}, {report.period}",
    )
    for row in rendered.rows:
        table.add_row(*(cell.text for cell in row.cells))
    console.print(table)


@prudential_app.command("compute")
@report_errors(exit_code=1)
def compute_command(
    inputs: Path = typer.Option(..., "--inputs", help=INPUTS_HELP),
    period: str = typer.Option(..., "--period", help="The reporting month YYYY-MM"),
    out: Path = typer.Option(..., "--out", help="Folder for the forms (XLSX, XML, JSON, HTML)"),
    signed_on: str = typer.Option(
        None, "--signed-on", help="The date printed in the signature block (default: today)"
    ),
    today: str = typer.Option(None, "--today", help="Today's date, for the future-period check"),
) -> None:
    """Compute the five forms and write them; exit 1 when the inputs or the forms have errors.

    A report with errors is written for review but its XML filing is not: it is not to be filed.
    """
    report = _load_and_compute(inputs, period, today)
    from saqta.prudential.outputs import write_outputs

    signed = parse_date(signed_on, what="--signed-on") if signed_on else None
    written = write_outputs(report, out, signed_on=signed, xml=not report.has_errors)
    _print_summary(report)
    _print_findings(report)
    for kind, paths in written.items():
        for path in paths:
            console.print(f"{kind:5} {path}", highlight=False)
    if report.has_errors:
        err_console.print("[red]the report has errors: the XML filing was not written[/red]")
        raise typer.Exit(1)


@prudential_app.command("validate")
@report_errors(exit_code=1)
def validate_command(
    inputs: Path = typer.Option(None, "--inputs", help=INPUTS_HELP),
    period: str = typer.Option(None, "--period", help="The reporting month YYYY-MM"),
    filing: Path = typer.Option(
        None, "--filing", help="Check a received XML filing instead (schema and form checks)"
    ),
    today: str = typer.Option(None, "--today", help="Today's date, for the future-period check"),
) -> None:
    """Print the findings of a branch's report (or of an XML filing); exit 1 on errors."""
    if filing is not None:
        from saqta.core.errors import InputError
        from saqta.prudential.render_xml import read_xml
        from saqta.prudential.rendering import layouts_for
        from saqta.prudential.validate import revalidate

        if inputs is not None:
            raise InputError("give either --inputs or --filing", where="validate")
        received = read_xml(filing)
        received = read_xml(filing, layouts_for(received))
        report = revalidate(received)
    else:
        if inputs is None or period is None:
            from saqta.core.errors import InputError

            raise InputError("--inputs and --period are required", where="validate")
        report = _load_and_compute(inputs, period, today)
    _print_findings(report)
    errors = sum(f.severity == "error" for f in report.findings)
    warnings = len(report.findings) - errors
    console.print(f"{errors} errors, {warnings} warnings", highlight=False)
    if errors:
        raise typer.Exit(1)


@prudential_app.command("sample")
@report_errors(exit_code=1)
def sample(
    out: Path = typer.Option(..., "--out", help="Folder for the sample inputs and manifest"),
    seed: int = typer.Option(1, "--seed", help="Same seed, same files"),
    start: str = typer.Option("2024-01", "--start", help="The first month YYYY-MM"),
    months: int = typer.Option(12, "--months", help="Consecutive months"),
    file_format: str = typer.Option("xlsx", "--format", help="xlsx (workbooks) or csv (folders)"),
) -> None:
    """Write sample inputs of three branches (general, life, reinsurer) and a filing script.

    One workbook (or CSV folder) per branch and month, the corrected inputs, the filing script
    (on-time, late, corrected and missing filings) and a manifest with every file's SHA-256.
    """
    from saqta.core.errors import InputError
    from saqta.prudential.sample import write_samples

    if file_format not in ("xlsx", "csv"):
        raise InputError("expected xlsx or csv", where=f"--format {file_format!r}")
    with progress_bar("sample inputs") as update:
        manifest = write_samples(
            out,
            seed=seed,
            start=parse_month(start),
            months=months,
            fmt="xlsx" if file_format == "xlsx" else "csv",
            on_file=update,
        )
    console.print(f"manifest: {manifest}", highlight=False)
