"""The MSHI part of ``saqta demo``: a synthetic country through the Fund's first two functions.

Import of the register and a year of payments (checks, quarantine, reconciliation, idempotence),
obligations from the dated rules, a refund through its lifecycle, the insured status of every
person and month, the annual reports, and eligibility answers from the index.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from rich.table import Table
from sqlalchemy import Engine

from saqta.cli.common import console
from saqta.core.errors import StoreError
from saqta.core.periods import Month
from saqta.store.lake import FactsLake

YEAR = 2022


def run_mshi_demo(country: Path, engine: Engine, lake: FactsLake, out: Path) -> dict[str, Any]:
    """Run the MSHI steps on the synthetic ``country`` into ``lake``; outputs under ``out``."""
    summary: dict[str, Any] = {}
    summary["import"] = _import(country, engine, lake)
    _obligations_and_refund(country, engine, lake, out)
    summary["status"] = _status(engine, lake)
    summary["reports"] = _reports(engine, lake, out / "reports")
    summary["eligibility"] = _eligibility(country, engine, lake)
    return summary


def _import(country: Path, engine: Engine, lake: FactsLake) -> dict[str, int]:
    from saqta.mshi.contributions import import_payments, import_synth

    console.rule("[bold]6a. Import: the register of persons and a year of payments")
    results = import_synth(engine, lake, country)
    table = Table("input", "files", "read", "accepted", "quarantined", "reasons",
                  title="Every record accepted or reported")  # fmt: skip
    totals: dict[str, int] = {}
    for kind, items in results.items():
        read = sum(r.read for r in items)
        accepted = sum(r.accepted for r in items)
        quarantined = sum(r.quarantined for r in items)
        if read != accepted + quarantined:
            raise StoreError(f"read {read} != accepted {accepted} + quarantined {quarantined}",
                             where=f"import of {kind}")  # fmt: skip
        reasons: dict[str, int] = {}
        for r in items:
            for reason, count in r.by_reason.items():
                reasons[reason] = reasons.get(reason, 0) + count
        table.add_row(kind, str(len(items)), f"{read:,}", f"{accepted:,}", f"{quarantined:,}",
                      ", ".join(f"{k} {v:,}" for k, v in sorted(reasons.items())))  # fmt: skip
        totals[kind] = accepted
    console.print(table)
    console.print(f"{lake.count('payments'):,} payment rows in the lake", highlight=False)
    first = sorted((country / "payments").glob("*.parquet"))[0]
    again = import_payments(engine, lake, first)
    console.print(
        f"importing {first.name} again: "
        + ("already imported, nothing done" if again.already_imported else "imported (!)"),
        highlight=False,
    )
    return totals


def _obligations_and_refund(country: Path, engine: Engine, lake: FactsLake, out: Path) -> None:
    from saqta.core.rules import load_rules
    from saqta.mshi.contributions import (
        approve_refund,
        check_refund,
        obligation,
        pay_refund,
        refund_history,
        request_refund,
    )

    console.rule("[bold]6b. Obligations from the dated rules, and a refund")
    rules = load_rules()
    table = Table("payer type", "month", "base, ₸", "rate", "due, ₸", title="Fixed obligations")
    for kind in ("individual_entrepreneur", "self_payer"):
        for month in (Month(2022, 1), Month(2023, 1)):
            due = obligation(rules, kind, month)
            table.add_row(kind, str(month), f"{due.base:,}", str(due.rate), f"{due.amount:,}")
    console.print(table)

    payment = lake.query(
        "SELECT reference, amount FROM payments WHERE payment_type = 'self_payer' "
        "ORDER BY reference LIMIT 1"
    ).to_pylist()
    if not payment:
        return
    reference, amount = payment[0]["reference"], payment[0]["amount"]
    refund = request_refund(engine, lake, reference, amount, "paid twice", "operator")
    check_refund(engine, refund.id, "expert")
    approve_refund(engine, refund.id, "head of department")
    pay_refund(engine, lake, refund.id, "cashier", paid_on=dt.date(2022, 12, 20))
    _, events = refund_history(engine, refund.id)
    steps = " → ".join(f"{event.to_status} ({event.actor})" for event in events)
    console.print(f"refund {refund.id} of {reference} ({amount:,} ₸): {steps}", highlight=False)


def _status(engine: Engine, lake: FactsLake) -> dict[str, Any]:
    from saqta.mshi.status import compute_status, explain

    console.rule("[bold]6c. Insured status of every person and month")
    run = compute_status(lake, [Month(YEAR, m) for m in range(1, 13)], engine=engine)
    table = Table("month", "persons", "entitled", "share", title=f"Status run {run.run_id}")
    for month, rows in run.rows.items():
        entitled = run.entitled.get(month, 0)
        table.add_row(month, f"{rows:,}", f"{entitled:,}", f"{100 * entitled / max(rows, 1):.1f}%")
    console.print(table)
    console.print(f"computed in {run.seconds:.1f} s", highlight=False)
    sample = lake.query(
        "SELECT person_iin FROM payments WHERE payment_type = 'employer_deduction' "
        "ORDER BY reference LIMIT 1"
    ).to_pylist()
    if sample:
        iin = sample[0]["person_iin"]
        explanation = explain(lake, iin, Month(YEAR, 12))
        console.print(f"why {iin} in {YEAR}-12:", highlight=False)
        for reason in explanation.reasons:
            console.print(f"  - {reason}", highlight=False)
    return {"run": run.run_id, "entitled_december": run.entitled.get(f"{YEAR}-12", None)}


def _reports(engine: Engine, lake: FactsLake, out: Path) -> list[str]:
    from saqta.mshi.reports import (
        attach_run_records,
        coverage_document,
        coverage_report,
        print_document,
        write_all,
    )

    console.rule("[bold]6d. Reports: coverage (Table 2), collections, payment frequency")
    coverage = coverage_report(lake.root, YEAR)
    coverage = dataclasses.replace(
        coverage, provenance=attach_run_records(coverage.provenance, engine)
    )
    print_document(coverage_document(coverage), console)
    written = write_all(lake.root, YEAR, out, engine=engine)
    files = sorted({str(p.relative_to(out)) for paths in written.values() for p in paths})
    console.print(f"{len(files)} report files in {out}", highlight=False)
    return files


def _eligibility(country: Path, engine: Engine, lake: FactsLake) -> list[str]:
    from saqta.core.iin import Sex, make_iin
    from saqta.mshi.eligibility import (
        EligibilityInputError,
        build_index,
        default_index_root,
        open_index,
    )

    console.rule("[bold]6e. Online eligibility: answers from the index")
    build_index(lake.root, engine=engine)
    index = open_index(default_index_root(lake.root))
    persons = pq.read_table(country / "persons", columns=["iin", "category"]).to_pylist()
    picks = {p["category"]: p["iin"] for p in persons}
    stranger = next(
        iin
        for serial in range(9000, 9999)
        if (iin := make_iin(dt.date(1990, 1, 1), Sex.MALE, serial)) is not None
        and not lake.query("SELECT 1 FROM persons WHERE iin = ?", [iin]).num_rows
    )
    asked = [*list(picks.values())[:4], stranger, "000000000000", "900101300011"]
    answers: list[str] = []
    table = Table("IIN", "on", "answer", "reason", "valid until")
    for iin in asked:
        try:
            answer = index.check(iin, "2022-12-15")
            row = (iin, "2022-12-15", answer.outcome.value, answer.reason,
                   str(answer.valid_until or ""))  # fmt: skip
        except EligibilityInputError as exc:
            row = (iin, "2022-12-15", "refused", f"{exc.field}: {exc.reason}", "")
        table.add_row(*row)
        answers.append(row[2])
    console.print(table)
    return answers
