"""``saqta persons`` and ``saqta payments``: loading the register of persons and payments,
obligations and refunds. Commands parse input, call :mod:`saqta.mshi` and print."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape
from rich.table import Table

from saqta.cli.common import console, err_console, progress_bar, report_errors
from saqta.core.errors import InputError, SaqtaError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from saqta.mshi.intake import ImportResult
    from saqta.store.lake import FactsLake

persons_app = typer.Typer(help="The register of persons.", no_args_is_help=True)
payments_app = typer.Typer(help="Payments: import, obligations, refunds.", no_args_is_help=True)
refund_app = typer.Typer(help="Refunds of wrongly paid amounts.", no_args_is_help=True)
payments_app.add_typer(refund_app, name="refund")


def _stores() -> tuple[Engine, FactsLake]:
    from saqta.core.settings import get_settings
    from saqta.mshi.intake import settle_lake
    from saqta.store.db import make_engine, upgrade

    engine = make_engine()
    upgrade(engine)
    return engine, settle_lake(get_settings().resolved_lake_dir, engine)


def _show(result: ImportResult) -> None:
    name = escape(str(result.file))
    if result.already_imported:
        when = result.previous_import_at.isoformat() if result.previous_import_at else "?"
        console.print(
            f"{name}: already imported (import {result.import_id}, {when}); nothing done",
            highlight=False,
        )
        return
    console.print(
        f"{name}: read {result.read:,} = accepted {result.accepted:,} + quarantined "
        f"{result.quarantined:,} (import {result.import_id}, {result.seconds:.1f} s)",
        highlight=False,
    )
    if result.detected:
        console.print(f"  read as: {escape(_detected(result.detected))}", highlight=False)
    for reason, count in sorted(result.by_reason.items()):
        console.print(f"  {reason}: {count:,} problem(s)", highlight=False)


def _detected(detected: dict[str, str]) -> str:
    names = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
    parts = [detected.get("format", "?").upper()]
    if "encoding" in detected:
        parts.append(detected["encoding"])
    if "delimiter" in detected:
        parts.append(f"{names.get(detected['delimiter'], detected['delimiter'])}-delimited")
    if "sheet" in detected:
        parts.append(f"sheet {detected['sheet']!r}")
    if "decimal_mark" in detected:
        parts.append(f"decimal mark '{detected['decimal_mark']}'")
    return ", ".join(parts)


def _import_each(
    items: list[Any], import_one: Callable[[Any], ImportResult], name: Callable[[Any], str]
) -> list[ImportResult]:
    """Import each item in turn; when one is refused, say so, and say which of the others were
    imported (or found already imported) before it and which were skipped, then exit 1."""
    results: list[ImportResult] = []
    for position, item in enumerate(items):
        try:
            result = import_one(item)
        except SaqtaError as exc:
            for problem in exc.problems:
                err_console.print(f"[red]error[/red] {escape(str(problem))}", highlight=False)
            err_console.print(f"refused: {escape(name(item))}", highlight=False)
            if len(items) > 1:
                done = [
                    f"{escape(r.file.name)} (import {r.import_id}"
                    + (", already imported)" if r.already_imported else ")")
                    for r in results
                ]
                skipped = [escape(name(other)) for other in items[position + 1 :]]
                err_console.print(
                    "imported before it: " + (", ".join(done) or "none"), highlight=False
                )
                err_console.print(
                    "skipped, not attempted: " + (", ".join(skipped) or "none"), highlight=False
                )
            raise typer.Exit(1) from None
        _show(result)
        results.append(result)
    return results


def _totals(results: list[ImportResult]) -> None:
    if len(results) < 2:
        return
    read = sum(r.read for r in results)
    accepted = sum(r.accepted for r in results)
    quarantined = sum(r.quarantined for r in results)
    console.print(
        f"total: {len(results)} file(s), read {read:,} = accepted {accepted:,} + quarantined "
        f"{quarantined:,}",
        highlight=False,
    )


@persons_app.command("import")
@report_errors(exit_code=1)
def persons_import(
    paths: list[Path] = typer.Argument(..., help="Files or folders (e.g. a synth output)"),
    source: str | None = typer.Option(
        None,
        "--source",
        help="The state register of category files without a source column (default: each "
        "category is its own source)",
    ),
) -> None:
    """Import the register of persons and the periods of state-paid categories
    (CSV/Parquet/XLSX)."""
    from saqta.mshi.registry import import_persons, register_files

    engine, lake = _stores()

    def one(item: tuple[Path, Any]) -> ImportResult:
        with progress_bar(item[0].name) as update:
            [result] = import_persons(engine, lake, item[0], progress=update, source=source)
        return result

    results = _import_each(register_files(paths), one, lambda item: str(item[0]))
    _totals(results)


@payments_app.command("import")
@report_errors(exit_code=1)
def payments_import(
    files: list[Path] = typer.Argument(..., help="Payment files, .csv or .parquet"),
) -> None:
    """Import payments, one file one transaction; print read = accepted + quarantined and how
    each file was read (format, encoding, delimiter, decimal mark)."""
    from saqta.mshi.contributions import import_payments

    engine, lake = _stores()

    def one(path: Path) -> ImportResult:
        with progress_bar(path.name) as update:
            return import_payments(engine, lake, path, progress=update)

    _totals(_import_each(list(files), one, str))


@payments_app.command("retry")
@report_errors(exit_code=1)
def payments_retry(
    import_id: int | None = typer.Argument(None, help="The import whose quarantined rows to retry"),
    every: bool = typer.Option(False, "--all", help="Every payments import with open rows"),
) -> None:
    """Process again the quarantined rows of an import (after the missing person was registered,
    say); rows accepted leave the quarantine, nothing is doubled."""
    from saqta.mshi.contributions import retry_payments
    from saqta.mshi.intake import imports_with_open_rows
    from saqta.mshi.models import ImportKind

    if (import_id is None) == (not every):
        raise InputError("give an import id or --all (not both)", where="payments retry")
    engine, lake = _stores()
    chosen = imports_with_open_rows(engine, ImportKind.PAYMENTS) if every else [import_id]
    if not chosen:
        console.print("no payments import has rows open in the quarantine", highlight=False)
    for one in chosen:
        assert one is not None
        with progress_bar(f"import {one}") as update:
            result = retry_payments(engine, lake, one, progress=update)
        name = f"import {result.import_id} ({escape(result.file)})"
        totals = (
            f"read {result.total_read:,} = accepted {result.total_accepted:,} + quarantined "
            f"{result.total_quarantined:,}"
        )
        if result.nothing_to_retry:
            console.print(f"{name}: nothing to retry ({totals})", highlight=False)
        elif not result.recorded:
            console.print(
                f"{name}: retried {result.read:,}, none accepted: nothing changed ({totals})",
                highlight=False,
            )
            for reason, count in sorted(result.by_reason.items()):
                console.print(f"  {reason}: {count:,} problem(s)", highlight=False)
        else:
            console.print(
                f"{name}: retried {result.read:,} = accepted {result.accepted:,} + quarantined "
                f"again {result.quarantined:,} (retry {result.retry_id}, {result.seconds:.1f} s);"
                f" the import now: {totals}",
                highlight=False,
            )
            for reason, count in sorted(result.by_reason.items()):
                console.print(f"  {reason}: {count:,} problem(s)", highlight=False)
        if result.not_retryable:
            console.print(
                f"  {result.not_retryable:,} row(s) with the wrong number of fields cannot be "
                "retried",
                highlight=False,
            )


@payments_app.command("imports")
@report_errors(exit_code=1)
def payments_imports() -> None:
    """List every imported file (persons, state categories, payments)."""
    from saqta.mshi.intake import imports

    engine, _ = _stores()
    table = Table("id", "kind", "file", "read", "accepted", "quarantined", "imported at", "sha256")
    for item in imports(engine):
        table.add_row(
            str(item.id),
            item.kind.value,
            escape(item.file_name),
            f"{item.rows_read:,}",
            f"{item.rows_accepted:,}",
            f"{item.rows_quarantined:,}",
            item.imported_at.isoformat(timespec="seconds"),
            item.sha256[:12],
        )
    console.print(table)


@payments_app.command("quarantine")
@report_errors(exit_code=1)
def payments_quarantine(
    import_id: int | None = typer.Option(None, "--import", help="Only this import"),
    reason: str | None = typer.Option(None, "--reason", help="Only this reason code"),
    limit: int = typer.Option(50, "--limit", help="At most this many problems"),
    open_only: bool = typer.Option(False, "--open", help="Only rows still waiting"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """Show quarantined rows: file, row, field, reason, message, value, and what a retry made
    of them."""
    from saqta.mshi.intake import quarantine_rows

    engine, _ = _stores()
    rows = quarantine_rows(
        engine, import_id=import_id, reason=reason, limit=limit, open_only=open_only
    )
    if as_json:
        console.print_json(json.dumps(rows))
        return
    table = Table()
    for name in ("import", "file", "row", "field", "reason", "message", "value", "retry"):
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(
            str(row["import_id"]),
            escape(row["file"]),
            str(row["row"]),
            row["field"],
            row["reason"],
            escape(row["message"]),
            escape(row["value"] or ""),
            f"{row['resolution']} (retry {row['resolved_by']})" if row["resolved_by"] else "open",
        )
    console.print(table)


@payments_app.command("obligations")
@report_errors(exit_code=1)
def payments_obligations(
    payer: str = typer.Option(..., "--payer", help="BIN or IIN of the payer"),
    month: str = typer.Option(
        ..., "--month", help="Month paid for, YYYY-MM (or YYYY-Qn, YYYY for all its months)"
    ),
    penalties: bool = typer.Option(
        True, "--penalties/--no-penalties", help="Compute late-payment penalties (needs the rate)"
    ),
    declarations: Path | None = typer.Option(
        None, "--declarations", help="CSV/Parquet: payer_id, person_iin, period, income"
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """What was due from a payer for a month, against what was paid: under, over, late."""
    from saqta.core.periods import Month, parse_period
    from saqta.mshi.contributions import check_payer

    _, lake = _stores()
    period = parse_period(month)
    months = [period] if isinstance(period, Month) else list(period.months())
    findings = check_payer(lake, payer, months, declarations=declarations, penalties=penalties)
    if as_json:
        console.print_json(json.dumps([f.as_dict() for f in findings]))
        return
    table = Table(
        "month",
        "person",
        "type",
        "due",
        "paid",
        "difference",
        "due date",
        "paid on",
        "penalty",
        "finding",
    )
    for f in findings:
        table.add_row(
            str(f.month),
            f.person_iin,
            f.payment_type,
            _money(f.due),
            _money(f.paid),
            _money(f.difference),
            str(f.due_date),
            str(f.last_paid_on or ""),
            _money(f.penalty),
            ", ".join(f.findings) or "ok",
        )
    console.print(table)


@payments_app.command("declarations-from-synth")
@report_errors(exit_code=1)
def payments_declarations_from_synth(
    synth: Path = typer.Argument(..., help="A saqta synth output folder"),
    out: Path = typer.Option(..., "--out", help="The declarations file to write (.parquet)"),
    year: int = typer.Option(2022, "--year"),
    payer: str | None = typer.Option(None, "--payer", help="Only this payer"),
) -> None:
    """Write a demonstration declarations file from a synthetic country's incomes."""
    from saqta.mshi.contributions import declarations_from_synth

    rows = declarations_from_synth(synth, year, out, payer=payer)
    console.print(f"{rows:,} declaration rows written to {escape(str(out))}", highlight=False)


def _money(value: Any) -> str:
    return "" if value is None else f"{value:,.2f}"


# --------------------------------------------------------------------------------------------
# Refunds


def _print_refund(refund: Any) -> None:
    console.print(
        f"refund {refund.id}: {refund.status.value}, {refund.amount} KZT for payment "
        f"{escape(refund.reference)} (person {refund.person_iin}, {refund.period:%Y-%m})",
        highlight=False,
    )


@refund_app.command("request")
@report_errors(exit_code=1)
def refund_request(
    reference: str = typer.Option(..., "--reference", help="Reference of the accepted payment"),
    amount: str = typer.Option(..., "--amount", help="Amount to refund, tenge"),
    reason: str = typer.Option(..., "--reason", help="Why the amount was paid wrongly"),
) -> None:
    """Request a refund of (part of) an accepted payment, as the signed-in user."""
    from saqta.mshi.contributions import request_refund

    by = _actor("request")
    engine, lake = _stores()
    _print_refund(request_refund(engine, lake, reference, amount, reason, by))


def _actor(action: str) -> str:
    """The signed-in identity allowed to take this refund step (``user:NAME``): the four-eyes
    rules compare these, so one person cannot take two steps of a refund."""
    from saqta.access import Permission
    from saqta.cli.identity import access_control, acting

    permission = {
        "request": Permission.REFUND_REQUEST,
        "check": Permission.REFUND_CHECK,
        "refuse": Permission.REFUND_CHECK,
        "approve": Permission.REFUND_APPROVE,
        "pay": Permission.REFUND_PAY,
    }[action]
    with access_control() as control:
        return acting(control, permission).principal


def _transition(action: str, refund_id: int, note: str | None, **extra: Any) -> None:
    from saqta.mshi import contributions

    by = _actor(action)
    engine, lake = _stores()
    function = getattr(contributions, f"{action}_refund")
    if action == "pay":
        _print_refund(function(engine, lake, refund_id, by, note=note, **extra))
    else:
        _print_refund(function(engine, refund_id, by, note=note))


@refund_app.command("check")
@report_errors(exit_code=1)
def refund_check(
    refund_id: int = typer.Argument(...),
    note: str | None = typer.Option(None, "--note"),
) -> None:
    """Record that a refund was checked against the payment (as the signed-in user)."""
    _transition("check", refund_id, note)


@refund_app.command("approve")
@report_errors(exit_code=1)
def refund_approve(
    refund_id: int = typer.Argument(...),
    note: str | None = typer.Option(None, "--note"),
) -> None:
    """Approve a checked refund (as the signed-in user: not the one who requested or checked)."""
    _transition("approve", refund_id, note)


@refund_app.command("refuse")
@report_errors(exit_code=1)
def refund_refuse(
    refund_id: int = typer.Argument(...),
    note: str = typer.Option(..., "--note", help="Why it is refused"),
) -> None:
    """Refuse a requested or checked refund."""
    _transition("refuse", refund_id, note)


@refund_app.command("pay")
@report_errors(exit_code=1)
def refund_pay(
    refund_id: int = typer.Argument(...),
    paid_on: str | None = typer.Option(None, "--paid-on", help="YYYY-MM-DD (default today)"),
    note: str | None = typer.Option(None, "--note"),
) -> None:
    """Record an approved refund as paid: adds an outflow to the lake."""
    from saqta.core.periods import parse_date

    day = parse_date(paid_on, what="--paid-on") if paid_on else None
    _transition("pay", refund_id, note, paid_on=day)


@refund_app.command("show")
@report_errors(exit_code=1)
def refund_show(refund_id: int = typer.Argument(...)) -> None:
    """A refund with its full history."""
    from saqta.mshi.contributions import refund_history

    engine, _ = _stores()
    refund, events = refund_history(engine, refund_id)
    _print_refund(refund)
    console.print(f"  reason: {escape(refund.reason)}", highlight=False)
    for event in events:
        console.print(
            f"  {event.at.isoformat(timespec='seconds')} {event.from_status or '-'} -> "
            f"{event.to_status} by {escape(event.actor)}"
            + (f": {escape(event.note)}" if event.note else ""),
            highlight=False,
        )


@refund_app.command("list")
@report_errors(exit_code=1)
def refund_list(
    status: str | None = typer.Option(None, "--status", help="Only this status"),
) -> None:
    """List refunds."""
    from saqta.mshi.contributions import list_refunds

    engine, _ = _stores()
    table = Table("id", "status", "reference", "person", "month", "amount", "requested by")
    for refund in list_refunds(engine, status=status):
        table.add_row(
            str(refund.id),
            refund.status.value,
            escape(refund.reference),
            refund.person_iin,
            f"{refund.period:%Y-%m}",
            f"{refund.amount:,.2f}",
            escape(refund.requested_by),
        )
    console.print(table)
