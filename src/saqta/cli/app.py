"""The ``saqta`` command line. Commands parse input and print; the work lives in the packages."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from saqta.cli import eligibility, identity
from saqta.cli.common import console, progress_bar, report_errors
from saqta.cli.insured import insured_app
from saqta.cli.payments import payments_app, persons_app
from saqta.cli.prudential_filing import prudential_app
from saqta.cli.regulator import regulator_app
from saqta.cli.report import report_app
from saqta.cli.synth_view import show_calibration, show_counts
from saqta.core.calendar import kazakhstan_calendar
from saqta.core.errors import InputError
from saqta.core.iin import parse_iin
from saqta.core.periods import parse_date, parse_month
from saqta.core.rules import check_rules, load_rules

app = typer.Typer(
    help="Saqta: Kazakhstan's social health insurance fund and insurers' prudential reporting.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
iin_app = typer.Typer(help="Individual identification numbers.", no_args_is_help=True)
calendar_app = typer.Typer(help="Kazakhstan's working-day calendar.", no_args_is_help=True)
rules_app = typer.Typer(
    help="Effective-dated rules: rates, parameters, tables.", no_args_is_help=True
)
db_app = typer.Typer(help="The system of record.", no_args_is_help=True)
app.add_typer(iin_app, name="iin")
app.add_typer(calendar_app, name="calendar")
app.add_typer(rules_app, name="rules")
app.add_typer(db_app, name="db")
app.add_typer(persons_app, name="persons")
app.add_typer(payments_app, name="payments")
app.add_typer(insured_app, name="insured")
app.add_typer(report_app, name="report")
app.add_typer(prudential_app, name="prudential")
app.add_typer(regulator_app, name="regulator")
eligibility.register(app)
identity.register(app)


@iin_app.command("check")
@report_errors(exit_code=1)
def iin_check(iin: str = typer.Argument(..., help="The 12-digit IIN")) -> None:
    """Validate an IIN: print its birth date and sex, or exit 1 with the reason."""
    parsed = parse_iin(iin)
    sex = "male" if parsed.sex.value == "M" else "female"
    console.print(f"valid: born {parsed.birth_date.isoformat()}, {sex}")


@calendar_app.command("working-day")
@report_errors(exit_code=2)
def calendar_working_day(
    date: str = typer.Argument(..., help="YYYY-MM-DD"),
    why: bool = typer.Option(False, "--why", help="Also say why"),
) -> None:
    """Print yes when DATE is a working day in Kazakhstan, no otherwise."""
    day = parse_date(date)
    calendar = kazakhstan_calendar()
    answer = "yes" if calendar.is_working_day(day) else "no"
    console.print(f"{answer} ({calendar.why(day)})" if why else answer, highlight=False)


@calendar_app.command("next-working-day")
@report_errors(exit_code=2)
def calendar_next_working_day(date: str = typer.Argument(..., help="YYYY-MM-DD")) -> None:
    """Print DATE when it is a working day, else the first working day after it (a deadline
    that falls on a day off moves there)."""
    console.print(kazakhstan_calendar().next_working_day(parse_date(date)).isoformat())


@calendar_app.command("deadline")
@report_errors(exit_code=2)
def calendar_deadline(
    month: str = typer.Option(..., "--month", help="The reporting month YYYY-MM"),
    working_day: int = typer.Option(..., "--working-day", help="N: the N-th working day"),
) -> None:
    """Print the N-th working day of the month after the reporting month (a filing deadline)."""
    reporting = parse_month(month)
    console.print(
        kazakhstan_calendar().nth_working_day(reporting.next(), working_day).isoformat(),
        highlight=False,
    )


@rules_app.command("check")
@report_errors(exit_code=1)
def rules_check(
    folder: list[Path] = typer.Option(
        None, "--dir", help="Check these folders instead of the shipped rules and overrides"
    ),
) -> None:
    """Validate every rule file; one line per problem."""
    files, problems = check_rules(folder or None)
    if problems:
        from saqta.core.errors import RulesError

        raise RulesError(problems)
    rules = load_rules(folder or None)
    console.print(
        f"{len(files)} rule files valid, {len(rules.names())} dated parameters, "
        f"rule-set version {rules.version}"
    )


@rules_app.command("show")
@report_errors(exit_code=1)
def rules_show(
    name: str = typer.Argument(..., help="e.g. mshi.contributions.employer_deduction_rate"),
    on: str = typer.Option(..., "--on", help="The date YYYY-MM-DD"),
) -> None:
    """Print the value of NAME in force on a date, and its source."""
    rules = load_rules()
    found = rules.lookup(name, parse_date(on, what="--on date"))
    value = "not given by the source" if found.value is None else str(found.value)
    unit = f" {found.unit}" if found.unit and found.value is not None else ""
    console.print(f"{name} on {found.on}: {value}{unit}", highlight=False)
    console.print(f"  in force {found.from_} to {found.to or 'open'}", highlight=False)
    console.print(f"  source: {found.source}", highlight=False)
    if not found.verified:
        console.print("  [yellow]unverified[/yellow]: the source does not settle this value")
    if found.note:
        console.print(f"  note: {found.note}", highlight=False)


@rules_app.command("list")
@report_errors(exit_code=1)
def rules_list() -> None:
    """List every dated parameter with its description."""
    rules = load_rules()
    table = Table("parameter", "type", "unit", "description")
    for name in rules.names():
        param = rules.parameter(name)
        table.add_row(name, param.type, param.unit or "", param.description)
    console.print(table)


@app.command("synth")
@report_errors(exit_code=1)
def synth(
    scale: float = typer.Option(0.001, "--scale", help="0.001 to 1.0; 1.0 = 19,741,283 persons"),
    seed: int = typer.Option(1, "--seed", help="Same seed, same country"),
    out: Path = typer.Option(Path("synth-out"), "--out", help="Output folder"),
    calibrate: bool = typer.Option(True, "--calibrate/--no-calibrate", help="Compare with 2022"),
    workers: int = typer.Option(2, "--workers", help="Worker processes"),
) -> None:
    """Build a synthetic Kazakhstan: persons, categories, employers, providers, payments."""
    from saqta.synth.generate import SynthOptions, generate

    options = SynthOptions(scale=scale, seed=seed, out=out, workers=workers)
    with progress_bar(f"synth {options.population:,} persons") as update:
        result = generate(options, on_chunk=update)
    show_counts(result.counts, result.seconds, result.out)
    if calibrate:
        show_calibration(result.out)


@app.command("demo")
@report_errors(exit_code=1)
def demo(
    out: Path = typer.Option(Path("saqta-demo"), "--out", help="Folder for the demo's outputs"),
    scale: float = typer.Option(0.001, "--scale", help="Scale of the synthetic country"),
    seed: int = typer.Option(1, "--seed"),
) -> None:
    """Run every capability on a small synthetic Kazakhstan and summarise the results."""
    from saqta.cli.demo import run_demo

    run_demo(out=out, scale=scale, seed=seed)


@db_app.command("upgrade")
@report_errors(exit_code=1)
def db_upgrade() -> None:
    """Create or migrate the system of record to the latest schema."""
    from saqta.store.db import current_revision, describe, make_engine, upgrade

    engine = make_engine()
    upgrade(engine)
    console.print(
        f"system of record at {describe(engine)} is at revision "
        f"{current_revision(engine)}",
        highlight=False,
    )


def main() -> None:
    try:
        app()
    except InputError as exc:  # pragma: no cover - commands report their own errors
        raise SystemExit(str(exc)) from None
