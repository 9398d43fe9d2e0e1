"""``saqta insured``: the insured-status engine (batch and incremental runs, explanations)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from saqta.cli.common import console, parse_locale, progress_bar, report_errors
from saqta.core.errors import InputError
from saqta.core.i18n import DEFAULT_LOCALE
from saqta.core.periods import Month, parse_month

insured_app = typer.Typer(help="Insured status of every person and month.", no_args_is_help=True)


def _lake_dir(lake: Path | None) -> Path:
    from saqta.core.settings import get_settings

    return lake if lake is not None else get_settings().resolved_lake_dir


def _months(month: str | None, year: int | None) -> list[Month]:
    if (month is None) == (year is None):
        raise InputError("give either --month YYYY-MM or --year YYYY", where="insured compute")
    if month is not None:
        return [parse_month(month)]
    assert year is not None
    if not 1900 <= year <= 9999:
        raise InputError(f"{year} is not a year", where="--year")
    return [Month(year, m) for m in range(1, 13)]


@insured_app.command("compute")
@report_errors(exit_code=1)
def compute(
    month: str = typer.Option(None, "--month", help="One month YYYY-MM"),
    year: int = typer.Option(None, "--year", help="Every month of a year"),
    incremental_from: str = typer.Option(
        None,
        "--incremental-from",
        help="SHA-256 of an imported payments file: recompute only its persons",
    ),
    lake: Path = typer.Option(None, "--lake", help="Facts lake folder (default: SAQTA_LAKE_DIR)"),
) -> None:
    """Compute the status of every person (or of one file's persons) for a month or a year."""
    from saqta.mshi.status import compute_status

    chosen = _months(month, year)
    with progress_bar(f"status of {len(chosen)} month(s)") as update:
        run = compute_status(_lake_dir(lake), chosen, source_file=incremental_from, on_month=update)
    table = Table(
        "month",
        "persons",
        "entitled",
        "share",
        "state",
        "prepaid",
        "contrib.",
        "none",
        "deceased",
        title=f"Insured status, run {run.run_id}",
    )
    for key in sorted(run.rows):
        rows = run.rows[key]
        basis = run.by_basis.get(key, {})
        alive = rows - basis.get("deceased", 0)
        share = f"{100 * run.entitled[key] / alive:.1f}%" if alive else "-"
        table.add_row(
            key,
            f"{rows:,}",
            f"{run.entitled[key]:,}",
            share,
            *(
                f"{basis.get(b, 0):,}"
                for b in ("state_category", "prepayment", "contributions", "none", "deceased")
            ),
        )
    console.print(table)
    recomputed = f", {run.persons:,} persons recomputed" if run.persons is not None else ""
    console.print(f"run {run.run_id} done in {run.seconds:.1f} s{recomputed}", highlight=False)


@insured_app.command("explain")
@report_errors(exit_code=1)
def explain_person(
    iin: str = typer.Argument(..., help="The person's 12-digit IIN"),
    month: str = typer.Option(..., "--month", help="The month YYYY-MM"),
    lake: Path = typer.Option(None, "--lake", help="Facts lake folder (default: SAQTA_LAKE_DIR)"),
    lang: str = typer.Option(
        DEFAULT_LOCALE,
        "--lang",
        help="Language of the reasons: kk, ru or en",
        callback=parse_locale,
    ),
) -> None:
    """Why a person is (not) entitled in a month: the reasons and every payment looked at.

    Needs a signed-in identity allowed person.explain (saqta login); the look-up is audited."""
    from saqta.access import Permission
    from saqta.cli.identity import access_control, acting
    from saqta.mshi.status import explain

    with access_control() as control:
        me = acting(control, Permission.PERSON_EXPLAIN)
        try:
            result = explain(_lake_dir(lake), iin, parse_month(month), locale=lang)
        except Exception:
            control.record(me, "cli", "person.explain", iin, "failed", f"month {month}")
            raise
        control.record(me, "cli", "person.explain", iin, "answered", f"month {month}")
    status = result.status
    if status is None:
        verdict = "not in the population"
    else:
        verdict = "[green]entitled[/green]" if status["entitled"] else "[red]not entitled[/red]"
    console.print(f"{iin} in {result.month}: {verdict}")
    for reason in result.reasons:
        console.print(f"  - {reason}", highlight=False)
    if result.stored is not None:
        note = (
            " [yellow](stale: the lake or the rules changed since)[/yellow]" if result.stale else ""
        )
        console.print(f"  stored by run {result.stored['run_id']}{note}")
    for category in result.categories:
        console.print(
            f"  category {category['category']}: {category['valid_from']} to "
            f"{category['valid_to'] or 'open'} (load {category['loaded_seq']})",
            highlight=False,
        )
    if result.payments:
        table = Table("period", "type", "amount", "paid on", "reference", "source", "treatment")
        for line in result.payments:
            source = (
                f"{(line.source_file or '')[:12]}:{line.source_row}" if line.source_file else ""
            )
            table.add_row(
                str(line.period)[:7],
                line.payment_type,
                str(line.amount),
                str(line.payment_date),
                line.reference,
                source,
                line.treatment,
            )
        console.print(table)
    else:
        console.print("  no payments in the months the rules look at")
    r = result.rules
    console.print(
        f"  rules {result.rules_version}: {r.min_paid_months} paid month(s) in "
        f"{r.lookback_months}, status {r.survival_months} months after the last, counted from "
        f"the {r.count_from}, the month's own payment "
        f"{'counts' if r.current_month_counts else 'counts from the next month'}",
        highlight=False,
    )
