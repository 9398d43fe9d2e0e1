"""``saqta regulator``: the National Bank's intake of branches' filings and its overview."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from saqta.cli.common import console, progress_bar, report_errors
from saqta.cli.prudential_filing import local_text, parse_moment, store_engine
from saqta.core.periods import parse_month

regulator_app = typer.Typer(
    help="The regulator's side of prudential reporting.", no_args_is_help=True
)
branches_app = typer.Typer(help="The register of branches expected to file.", no_args_is_help=True)
regulator_app.add_typer(branches_app, name="branches")


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


_STATUS_STYLE = {
    "on_time": "green",
    "late": "yellow",
    "missing": "red",
    "rejected": "red",
    "pending": "dim",
}


@branches_app.command("add")
@report_errors(exit_code=1)
def branches_add(
    bin_: str = typer.Argument(..., metavar="BIN", help="The branch's 12-digit BIN"),
    name: str = typer.Option(..., "--name"),
    line: str = typer.Option(..., "--line", help="general or life"),
    expected_from: str = typer.Option(..., "--from", help="First reporting month YYYY-MM"),
    expected_to: str | None = typer.Option(None, "--to", help="Last reporting month YYYY-MM"),
    update: bool = typer.Option(False, "--update", help="Change a registered branch"),
) -> None:
    """Register a branch the National Bank expects to file."""
    from saqta.prudential.regulator import register_branch
    from saqta.store.db import session_scope

    with session_scope(store_engine()) as session:
        branch, outcome = register_branch(
            session, bin_, name, line, expected_from, expected_to, update=update
        )
    console.print(f"{outcome}: {branch.bin} {escape(branch.name)}", highlight=False)


@branches_app.command("import")
@report_errors(exit_code=1)
def branches_import(
    path: Path = typer.Argument(..., help="CSV: bin,name,line,expected_from,expected_to"),
) -> None:
    """Load the register from a CSV file (re-running it changes nothing)."""
    from saqta.prudential.regulator import import_branches
    from saqta.store.db import session_scope

    with session_scope(store_engine()) as session:
        counts = import_branches(session, path)
    console.print(", ".join(f"{v} {k}" for k, v in counts.items()), highlight=False)


@branches_app.command("list")
@report_errors(exit_code=1)
def branches_list(fmt: OutputFormat = typer.Option(OutputFormat.TABLE, "--format")) -> None:
    """List the register."""
    from saqta.prudential.regulator import list_branches, to_json
    from saqta.store.db import session_scope

    with session_scope(store_engine()) as session:
        branches = list_branches(session)
    rows = [
        {
            "bin": b.bin,
            "name": b.name,
            "line": b.line.value,
            "expected_from": b.expected_from,
            "expected_to": b.expected_to,
            "registered_at": b.registered_at.isoformat(),
            "registered_by": b.registered_by.value,
        }
        for b in branches
    ]
    if fmt is OutputFormat.JSON:
        console.out(to_json(rows), end="", highlight=False)
        return
    if fmt is OutputFormat.CSV:
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.DictWriter(
            buffer,
            fieldnames=["bin", "name", "line", "expected_from", "expected_to", "registered_at",
                        "registered_by"],
            lineterminator="\n",
        )  # fmt: skip
        writer.writeheader()
        writer.writerows(rows)
        console.out(buffer.getvalue(), end="", highlight=False)
        return
    table = Table("BIN", "name", "line", "expected", "registered", title="Registered branches")
    for row in rows:
        table.add_row(
            str(row["bin"]), escape(str(row["name"])), str(row["line"]),
            f"{row['expected_from']} to {row['expected_to'] or 'open'}",
            f"{row['registered_at']} ({row['registered_by']})",
        )  # fmt: skip
    console.print(table)


@regulator_app.command("intake")
@report_errors(exit_code=1)
def intake(
    paths: list[Path] = typer.Argument(..., help="Files, or folders of files, from branches"),
    received_at: str | None = typer.Option(
        None,
        "--received-at",
        help="Arrival time for replaying history (ISO; local time without an offset)",
    ),
    register_unknown: bool = typer.Option(
        False, "--register-unknown", help="Register unknown senders from their first filing"
    ),
    fmt: OutputFormat = typer.Option(OutputFormat.TABLE, "--format"),
) -> None:
    """Receive filings: validate each, record it accepted or rejected with its findings and
    lateness; corrections become new versions. Exit code 3 when any file was rejected."""
    from saqta.prudential.regulator import intake as run_intake
    from saqta.prudential.regulator import to_json

    moment = parse_moment(received_at, "--received-at") if received_at else None
    engine = store_engine()
    with progress_bar("intake") as update:
        result = run_intake(
            engine, paths, received_at=moment, register_unknown=register_unknown, on_file=update
        )
    if fmt is OutputFormat.JSON:
        console.out(to_json([item.as_dict() for item in result.items]), end="", highlight=False)
    elif fmt is OutputFormat.CSV:
        import csv
        import io

        buffer = io.StringIO()
        fields = ["source", "outcome", "receipt", "branch", "period", "version", "replaces",
                  "deadline", "days_late", "message"]  # fmt: skip
        writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore",
                                lineterminator="\n")  # fmt: skip
        writer.writeheader()
        writer.writerows(item.as_dict() for item in result.items)
        console.out(buffer.getvalue(), end="", highlight=False)
    else:
        table = Table("file", "outcome", "receipt", "branch", "period", "deadline", "message",
                      title=f"Intake at {result.received_at.isoformat()}")  # fmt: skip
        for item in result.items:
            style = {"accepted": "green", "rejected": "red"}.get(item.outcome, "dim")
            table.add_row(
                escape(item.source), f"[{style}]{item.outcome}[/{style}]",
                str(item.receipt_id or ""), item.branch_bin or "", item.period or "",
                item.deadline.isoformat() if item.deadline else "", escape(item.message),
            )  # fmt: skip
            for finding in item.findings:
                table.add_row(
                    "", f"  {finding.severity}", "", "", "", "",
                    escape(f"{finding.rule_id}: {finding.message}"),
                )  # fmt: skip
        console.print(table)
        counts = result.counts
        console.print(
            f"{len(result.items)} file(s): {counts['accepted']} accepted, {counts['rejected']} "
            f"rejected, {counts['duplicate']} already received",
            highlight=False,
        )
    if result.count("rejected"):
        raise typer.Exit(3)


@regulator_app.command("receipts")
@report_errors(exit_code=1)
def receipts(
    branch: str | None = typer.Option(None, "--branch", help="BIN"),
    period: str | None = typer.Option(None, "--period", help="YYYY-MM"),
    status: str | None = typer.Option(None, "--status", help="accepted or rejected"),
    fmt: OutputFormat = typer.Option(OutputFormat.TABLE, "--format"),
) -> None:
    """The submission history: every file received, its decision, version, lateness, findings."""
    from saqta.core.errors import InputError
    from saqta.prudential.models import ReceiptStatus
    from saqta.prudential.regulator import receipts as list_receipts
    from saqta.prudential.regulator import to_json
    from saqta.store.db import session_scope

    try:
        wanted = ReceiptStatus(status) if status else None
    except ValueError:
        raise InputError("expected accepted or rejected", where=f"--status {status!r}") from None
    month = str(parse_month(period)) if period else None
    with session_scope(store_engine()) as session:
        found = list_receipts(session, branch=branch, period=month, status=wanted)
    rows: list[dict[str, Any]] = [
        {
            "id": r.id,
            "received_at": r.received_at.isoformat(),
            "source": r.source_name,
            "status": r.status.value,
            "branch": r.branch_bin,
            "period": r.period,
            "version": r.version,
            "replaces": r.replaces_id,
            "deadline": r.deadline.isoformat() if r.deadline else None,
            "days_late": r.days_late,
            "sha256": r.content_sha256,
            "findings": r.findings,
        }
        for r in found
    ]
    if fmt is OutputFormat.JSON:
        console.out(to_json(rows), end="", highlight=False)
        return
    if fmt is OutputFormat.CSV:
        import csv
        import io

        buffer = io.StringIO()
        fields = [*RECEIPT_COLUMNS, "errors"]
        writer = csv.DictWriter(
            buffer, fieldnames=fields, extrasaction="ignore", lineterminator="\n"
        )
        writer.writeheader()
        for row in rows:
            errors = [f for f in row["findings"] if f["severity"] == "error"]
            text = "; ".join(f"{f['rule_id']}: {f['message']}" for f in errors)
            writer.writerow({**row, "errors": text})
        console.out(buffer.getvalue(), end="", highlight=False)
        return
    table = Table(title="Received filings")
    for heading in ("id", "received (KZ)", "file", "status", "branch", "period", "v", "replaces",
                    "late"):  # fmt: skip
        table.add_column(heading, no_wrap=heading != "file")
    table.add_column("findings")
    for row in rows:
        findings = "\n".join(
            f"{f['severity']} {f['rule_id']}: {f['message']}" for f in row["findings"]
        )
        table.add_row(
            str(row["id"]), local_text(row["received_at"]), escape(row["source"]),
            row["status"], row["branch"] or "", row["period"] or "",
            str(row["version"] or ""), str(row["replaces"] or ""),
            "" if row["days_late"] is None else str(row["days_late"]), escape(findings),
        )  # fmt: skip
    console.print(table)
    console.print(f"{len(rows)} file(s)", highlight=False)


RECEIPT_COLUMNS = ("id", "received_at", "source", "status", "branch", "period", "version",
                   "replaces", "deadline", "days_late", "sha256")  # fmt: skip


def ratio_text(value: str | None) -> str:
    if value is None:
        return ""
    from decimal import Decimal

    from saqta.core.money import round_percent

    return str(round_percent(Decimal(value)))


def status_table(title: str, rows: list[dict[str, object]], key: str) -> Table:
    table = Table(title=title)
    headings = (key, "status", "deadline", "received (KZ)", "late", "v", "rej", "solvency", "HLA")
    for heading in headings:
        table.add_column(heading, no_wrap=heading != key)
    table.add_column("breaches")
    for row in rows:
        status = str(row["status"])
        style = _STATUS_STYLE.get(status, "")
        breaches = "; ".join(row["breaches"])  # type: ignore[arg-type]
        table.add_row(
            escape(str(row[key])),
            f"[{style}]{status}[/{style}]",
            str(row["deadline"] or ""),
            local_text(row["first_accepted_at"]),  # type: ignore[arg-type]
            "" if row["days_late"] is None else str(row["days_late"]),
            str(row["versions"]),
            str(row["rejected"]),
            ratio_text(row["solvency_ratio"]),  # type: ignore[arg-type]
            ratio_text(row["hla_ratio"]),  # type: ignore[arg-type]
            f"[red]{escape(breaches)}[/red]" if breaches else "",
        )
    return table


@regulator_app.command("overview")
@report_errors(exit_code=1)
def overview(
    period: str = typer.Option(..., "--period", help="The reporting month YYYY-MM"),
    as_of: str | None = typer.Option(None, "--as-of", help="As known at this moment (ISO)"),
    fmt: OutputFormat = typer.Option(OutputFormat.TABLE, "--format"),
) -> None:
    """Each registered branch's status for a month (on time, late, missing, rejected, pending),
    its ratios (1-PN_S rows 1 and 6, printed to 2 decimals) and breaches."""
    from saqta.prudential.regulator import PeriodStatus, statuses_csv, to_json
    from saqta.prudential.regulator import overview as build_overview
    from saqta.store.db import session_scope

    month = parse_month(period)
    moment = parse_moment(as_of, "--as-of") if as_of else None
    with session_scope(store_engine()) as session:
        view = build_overview(session, month, as_of=moment)
    if fmt is OutputFormat.JSON:
        console.out(to_json(view.as_dict()), end="", highlight=False)
        return
    if fmt is OutputFormat.CSV:
        console.out(statuses_csv(view.branches), end="", highlight=False)
        return
    rows = [dict(b.as_dict(), name=f"{b.bin} {b.name}") for b in view.branches]
    deadline = view.deadline.isoformat() if view.deadline else "unknown"
    title = f"Prudential reports for {view.period} (deadline {deadline})"
    console.print(status_table(title, rows, "name"))
    counts = ", ".join(f"{view.count(s)} {s.value}" for s in PeriodStatus)
    console.print(
        f"{len(view.branches)} branch(es): {counts}; {len(view.in_breach)} in breach",
        highlight=False,
    )
    if view.unregistered:
        console.print(
            f"{len(view.unregistered)} file(s) from senders not on the register "
            f"(receipts {', '.join(map(str, view.unregistered))})",
            highlight=False,
        )


@regulator_app.command("series")
@report_errors(exit_code=1)
def series(
    branch: str = typer.Option(..., "--branch", help="BIN"),
    months: int = typer.Option(12, "--months", help="How many months"),
    until: str | None = typer.Option(None, "--until", help="Last month YYYY-MM"),
    as_of: str | None = typer.Option(None, "--as-of", help="As known at this moment (ISO)"),
    fmt: OutputFormat = typer.Option(OutputFormat.TABLE, "--format"),
) -> None:
    """One branch's status and ratios month by month."""
    from saqta.prudential.regulator import series as build_series
    from saqta.prudential.regulator import statuses_csv, to_json
    from saqta.store.db import session_scope

    last = parse_month(until) if until else None
    moment = parse_moment(as_of, "--as-of") if as_of else None
    with session_scope(store_engine()) as session:
        rows = build_series(session, branch, months=months, until=last, as_of=moment)
    if fmt is OutputFormat.JSON:
        console.out(to_json([r.as_dict() for r in rows]), end="", highlight=False)
        return
    if fmt is OutputFormat.CSV:
        console.out(statuses_csv(rows), end="", highlight=False)
        return
    data = [r.as_dict() for r in rows]
    console.print(status_table(f"Branch {branch}", data, "period"))
