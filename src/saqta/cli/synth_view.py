"""Console views of a synthetic country: the generated counts and the calibration report."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from saqta.cli.common import console


def show_counts(counts: dict[str, int], seconds: float, out: Path) -> None:
    table = Table("generated", "rows", title=f"Synthetic Kazakhstan in {out}")
    for key in sorted(counts):
        table.add_row(key, f"{counts[key]:,}")
    console.print(table)
    console.print(f"built in {seconds:.1f} s")


def show_calibration(out: Path) -> bool:
    from saqta.synth.calibrate import calibrate, write_report

    checks = calibrate(out)
    path = write_report(out, checks)
    table = Table(
        "figure",
        "published",
        "generated",
        "tolerance",
        "result",
        title="Calibration against the Fund's 2022 figures",
    )
    for check in checks:
        if check.figure.startswith("Table 4: ") and check.passed and "total" not in check.figure:
            continue  # 34 exact region rows: shown only when one fails
        mark = "[green]pass[/green]" if check.passed else "[red]FAIL[/red]"
        table.add_row(
            check.figure, str(check.published), str(check.generated), check.tolerance, mark
        )
    console.print(table)
    passed = sum(c.passed for c in checks)
    console.print(f"{passed} of {len(checks)} figures pass; report written to {path}")
    return passed == len(checks)
