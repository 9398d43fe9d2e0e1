"""``saqta prudential`` commands about deadlines and the filing history (added to the same app)."""

from __future__ import annotations

import datetime as dt
import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Table

from saqta.cli.common import console, report_errors
from saqta.cli.prudential import prudential_app
from saqta.core.errors import InputError
from saqta.core.periods import parse_month

if TYPE_CHECKING:
    from sqlalchemy import Engine

__all__ = ["prudential_app"]


class CalendarFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"
    ICS = "ics"


class ListFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


def parse_moment(text: str, what: str) -> dt.datetime:
    """An ISO date-time; without an offset it is Kazakhstan's local time. A bare date is the
    start of that day."""
    from saqta.prudential.regulator import KAZAKHSTAN_TZ

    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            "expected an ISO date-time, e.g. 2025-02-07T16:00 or 2025-02-07T11:00Z",
            where=f"{what} {text!r}",
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=KAZAKHSTAN_TZ)


def local_text(iso: str | None) -> str:
    """An ISO timestamp shown in Kazakhstan's local time, to the minute."""
    if not iso:
        return ""
    from saqta.prudential.regulator import KAZAKHSTAN_TZ

    return dt.datetime.fromisoformat(iso).astimezone(KAZAKHSTAN_TZ).strftime("%Y-%m-%d %H:%M")


def store_engine() -> Engine:
    """The system of record, migrated to the newest schema (a no-op when it already is)."""
    from saqta.store.db import make_engine, upgrade

    engine = make_engine()
    upgrade(engine)
    return engine


def write_or_print(text: str, out: Path | None) -> None:
    if out is None:
        console.out(text, end="", highlight=False)
        return
    try:
        out.write_text(text, encoding="utf-8", newline="")
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror or exc}", where=str(out)) from exc
    console.print(f"written to {escape(str(out))}", highlight=False)


@prudential_app.command("deadline")
@report_errors(exit_code=2)
def deadline(
    month: str = typer.Argument(..., help="The reporting month YYYY-MM"),
    why: bool = typer.Option(False, "--why", help="Show each day counted or passed over"),
) -> None:
    """Print the filing deadline of the reports for MONTH: the 6th working day of the next
    month (NBRK resolution No. 25, para. 2; Annex 7, para. 4)."""
    from saqta.prudential.deadlines import filing_deadline

    found = filing_deadline(parse_month(month))
    console.print(found.due.isoformat(), highlight=False)
    if why:
        for day in found.days:
            mark = f"working day {day.number}" if day.working else "skipped"
            console.print(
                f"  {day.day.isoformat()} {day.day:%a}  {mark}: {escape(day.reason)}",
                highlight=False,
            )
        console.print(f"  rule: {escape(found.source)}", highlight=False)


@prudential_app.command("calendar")
@report_errors(exit_code=2)
def calendar(
    year: int = typer.Option(..., "--year", help="The deadlines falling in this year"),
    fmt: CalendarFormat = typer.Option(CalendarFormat.TABLE, "--format", help="Output format"),
    out: Path | None = typer.Option(None, "--out", help="Write to this file"),
    branch: str | None = typer.Option(None, "--branch", help="Name the branch in ICS events"),
) -> None:
    """The filing calendar of a year: the twelve deadlines that fall in it (reports for December
    of the year before to November), with the days off passed over."""
    from saqta.prudential.deadlines import (
        calendar_csv,
        calendar_ics,
        calendar_json,
        filing_calendar,
    )

    deadlines = filing_calendar(year)
    if fmt is CalendarFormat.CSV:
        write_or_print(calendar_csv(deadlines), out)
    elif fmt is CalendarFormat.JSON:
        write_or_print(calendar_json(deadlines), out)
    elif fmt is CalendarFormat.ICS:
        ics = calendar_ics(deadlines, generated_at=dt.datetime.now(dt.UTC), branch=branch)
        write_or_print(ics, out)
    else:
        table = Table("reporting month", "due", "weekday", "days off passed over",
                      title=f"Prudential filing deadlines in {year}")  # fmt: skip
        for d in deadlines:
            notable = [s for s in d.skipped if s.reason != "weekend"]
            weekend = len(d.skipped) - len(notable)
            skipped = "\n".join(f"{s.day:%d %b} {s.reason}" for s in notable)
            if weekend:
                skipped += f"{chr(10) if notable else ''}{weekend} weekend day(s)"
            table.add_row(str(d.period), d.due.isoformat(), f"{d.due:%A}", escape(skipped))
        console.print(table)
        if deadlines:
            console.print(
                f"working day {deadlines[0].working_day} of the following month: "
                f"{escape(deadlines[0].source)}",
                highlight=False,
            )


@prudential_app.command("file")
@report_errors(exit_code=1)
def file(
    report: Path = typer.Argument(..., help="The report set: .json or .xml"),
    filed_at: str | None = typer.Option(
        None, "--filed-at", help="ISO date-time (default now; local time without an offset)"
    ),
    replaces: int | None = typer.Option(
        None, "--replaces", help="Assert that this version id is the one being corrected"
    ),
    reason: str | None = typer.Option(None, "--reason", help="Why this correction"),
    allow_errors: bool = typer.Option(
        False, "--allow-errors", help="File even though the report has error findings"
    ),
) -> None:
    """Record a filed version of a month's report (a correction when the month was filed).

    The signer is the signed-in branch officer (saqta login), who files only for its branch."""
    from saqta.access import Permission
    from saqta.cli.identity import access_control, acting
    from saqta.core.errors import InputError
    from saqta.prudential.filings import file_version, read_report_file
    from saqta.store.db import session_scope

    report_set = read_report_file(report)
    with access_control() as control:
        me = acting(control, Permission.FILINGS_FILE)
    if me.scope_bin != report_set.branch.bin:
        raise InputError(
            f"{me.principal} files for branch {me.scope_bin}, not {report_set.branch.bin}",
            where=str(report),
        )
    signer = me.principal
    moment = parse_moment(filed_at, "--filed-at") if filed_at else None
    with session_scope(store_engine()) as session:
        outcome = file_version(
            session, report_set, signer=signer, filed_at=moment, replaces=replaces,
            reason=reason, allow_errors=allow_errors,
        )  # fmt: skip
        version = outcome.version
    console.print(escape(outcome.message), highlight=False)
    console.print(f"  sha256 {version.payload_sha256}", highlight=False)


@prudential_app.command("history")
@report_errors(exit_code=1)
def history(
    branch: str | None = typer.Option(None, "--branch", help="BIN"),
    period: str | None = typer.Option(None, "--period", help="YYYY-MM"),
    fmt: ListFormat = typer.Option(ListFormat.TABLE, "--format"),
) -> None:
    """List the filed versions (current ones marked)."""
    from saqta.prudential.filings import current_ids
    from saqta.prudential.filings import history as list_history
    from saqta.store.db import session_scope

    month = str(parse_month(period)) if period else None
    with session_scope(store_engine()) as session:
        versions = list_history(session, branch=branch, period=month)
    current = current_ids(versions)
    rows = [
        {
            "id": v.id,
            "branch": v.branch_bin,
            "period": v.period,
            "version": v.version,
            "replaces": v.replaces_id,
            "current": v.id in current,
            "filed_at": v.filed_at.isoformat(),
            "signer": v.signer,
            "errors": v.error_count,
            "warnings": v.warning_count,
            "rules_version": v.rules_version,
            "sha256": v.payload_sha256,
            "reason": v.reason,
        }
        for v in versions
    ]
    if fmt is ListFormat.JSON:
        console.out(json.dumps(rows, ensure_ascii=False, indent=2), highlight=False)
        return
    if fmt is ListFormat.CSV:
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["id"])
        writer.writeheader()
        writer.writerows(rows)
        console.out(buffer.getvalue(), end="", highlight=False)
        return
    table = Table(title="Filed versions")
    for heading in ("id", "branch", "period", "v", "replaces", "filed at (KZ)", "signer"):
        table.add_column(heading, no_wrap=heading != "signer")
    table.add_column("err/warn")
    table.add_column("sha256", overflow="ellipsis", max_width=12)
    for row in rows:
        mark = "" if row["current"] else " (replaced)"
        table.add_row(
            str(row["id"]), str(row["branch"]), str(row["period"]), f"{row['version']}{mark}",
            str(row["replaces"] or ""), local_text(str(row["filed_at"])),
            escape(str(row["signer"])), f"{row['errors']}/{row['warnings']}", str(row["sha256"]),
        )  # fmt: skip
    console.print(table)
    console.print(f"{len(rows)} version(s)", highlight=False)


@prudential_app.command("diff")
@report_errors(exit_code=1)
def diff(
    old: int = typer.Argument(..., help="Id of the older version"),
    new: int = typer.Argument(..., help="Id of the newer version"),
    fmt: ListFormat = typer.Option(ListFormat.TABLE, "--format"),
) -> None:
    """Show what changed between two filed versions, cell by cell: as the form prints it
    (thousand tenge, 2 decimals) and unrounded."""
    from saqta.prudential.filings import diff_versions
    from saqta.store.db import session_scope

    with session_scope(store_engine()) as session:
        a, b, changes = diff_versions(session, old, new)
    rows = [change.as_dict() for change in changes]
    if fmt is ListFormat.JSON:
        console.out(json.dumps(rows, ensure_ascii=False, indent=2), highlight=False)
        return
    if fmt is ListFormat.CSV:
        import csv
        import io

        buffer = io.StringIO()
        fields = ["form", "row", "column", "kind", "old", "new", "old_rendered",
                  "new_rendered", "visible"]  # fmt: skip
        writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        console.out(buffer.getvalue(), end="", highlight=False)
        return
    title = (
        f"#{a.id} ({a.branch_bin} {a.period} v{a.version}) -> "
        f"#{b.id} ({b.branch_bin} {b.period} v{b.version})"
    )
    table = Table("form", "row", "col", "as printed", "unrounded", title=title)
    for change in changes:
        printed = f"{change.old_rendered} -> {change.new_rendered}"
        if not change.visible:
            printed += " (same when printed)"
        table.add_row(
            change.form, escape(change.row), change.column, escape(printed),
            escape(f"{change.old_exact} -> {change.new_exact}"),
        )  # fmt: skip
    console.print(table)
    console.print(f"{len(changes)} cell(s) changed", highlight=False)
