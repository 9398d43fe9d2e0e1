"""Rendering the annual MSHI reports: sections of rows, then the console, CSV, XLSX, JSON and SVG.

A report becomes a :class:`Document`: a title, sections (a table each, with typed columns) and the
provenance. Every output format is written from the same document, so they agree figure for
figure. Heavy libraries (openpyxl, matplotlib) are imported inside the writers.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from saqta.core.errors import InputError
from saqta.core.reference import regions
from saqta.mshi.reports._tables import (
    COVERAGE_PRIORITY,
    SOURCES,
    CollectionsReport,
    CoverageReport,
    FrequencyReport,
    Provenance,
    as_published,
    percent,
)

Kind = Literal["text", "int", "money", "pct", "pct1", "dec1", "dec2", "ratio"]

NUMBER_FORMATS: dict[str, str] = {
    "text": "@",
    "int": "#,##0",
    "money": "#,##0.00",
    "pct": "0.00",
    "pct1": "0.0",
    "dec1": "#,##0.0",
    "dec2": "#,##0.00",
    "ratio": "0.0000",
}
"""Excel number formats by column kind (percentages are numbers of percent, e.g. 82.40)."""


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    kind: Kind
    console: bool = True
    """Shown on the console (files always hold every column)."""


@dataclass(frozen=True)
class Section:
    name: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Any, ...], ...]

    def records(self) -> list[dict[str, Any]]:
        return [
            {column.key: value for column, value in zip(self.columns, row, strict=True)}
            for row in self.rows
        ]


@dataclass(frozen=True)
class Document:
    name: str
    title: str
    sections: tuple[Section, ...]
    provenance: Provenance


def _published(year: int) -> bool:
    return year == 2022


# ------------------------------------------------------------------------------------------------
# Coverage


def coverage_document(report: CoverageReport) -> Document:
    published = report.rows[0].published_persons is not None
    columns = [
        Column("key", "Key", "text", console=False),
        Column("category", "Category", "text"),
        Column("persons", "Persons", "int"),
        Column("share_pct", "Share of population, %", "pct"),
        Column("share_pct_1dp", "Share, % (1 decimal, as published)", "pct1"),
    ]
    if published:
        columns += [
            Column("published_persons", f"Published {report.year}, persons", "int"),
            Column("published_share_pct", f"Published {report.year}, %", "pct1"),
            Column("difference_pp", "Difference, pp", "pct1"),
        ]
    rows = []
    for row in report.rows:
        values: list[Any] = [row.key, row.label, row.persons, row.share, row.share_as_published]
        if published:
            values += [row.published_persons, row.published_share, row.difference_pp]
        rows.append(tuple(values))
    table2 = Section(
        "table2",
        f"Insurance status by payer category, {report.year} (unique persons; entitled in "
        f"{report.status_month:%B %Y}, paid for during the year)",
        tuple(columns),
        tuple(rows),
    )
    entitled = report.persons("entitled")
    basis = Section(
        "entitled_by_basis",
        f"Entitled persons by basis of entitlement, {report.status_month:%B %Y}",
        (
            Column("basis", "Basis", "text"),
            Column("persons", "Persons", "int"),
            Column("share_pct", "Share of entitled, %", "pct"),
        ),
        tuple(
            (basis, count, percent(count, entitled))
            for basis, count in sorted(report.entitled_by_basis.items())
        ),
    )
    keys = [key for key, _, _ in COVERAGE_PRIORITY]
    labels = {key: label for key, label, _ in COVERAGE_PRIORITY}
    region_columns = (
        Column("code", "Code", "text"),
        Column("region", "Region", "text"),
        Column("population", "Population", "int"),
        Column("entitled", "Entitled", "int"),
        Column("entitled_pct", "Entitled, %", "pct"),
        Column("paid_for", "Paid for", "int"),
        Column("paid_for_pct", "Paid for, %", "pct"),
        Column("uninsured", "Uninsured", "int"),
        Column("uninsured_pct", "Uninsured, %", "pct"),
        *(Column(key, labels[key], "int", console=False) for key in keys),
    )
    region_rows = [
        (
            region.code,
            region.name,
            region.population,
            region.entitled,
            region.entitled_share,
            region.paid_for,
            region.paid_for_share,
            region.uninsured,
            percent(region.uninsured, region.population),
            *(region.categories[key] for key in keys),
        )
        for region in report.regions
    ]
    return Document(
        "coverage",
        f"MSHI coverage (Table 2), {report.year}",
        (
            table2,
            basis,
            Section(
                "regions",
                f"Coverage by region, {report.year}",
                region_columns,
                tuple(region_rows),
            ),
        ),
        report.provenance,
    )


# ------------------------------------------------------------------------------------------------
# Collections


def _billions(amount: Decimal) -> Decimal:
    return (amount / Decimal(10) ** 9).quantize(Decimal("0.0001"))


def collections_document(report: CollectionsReport) -> Document:
    published = _published(report.year)
    columns = [
        Column("key", "Key", "text", console=False),
        Column("source", "Source", "text"),
        Column("gross", "Paid in, ₸", "money"),
        Column("refunds", "Refunded, ₸", "money"),
        Column("net", "Net, ₸", "money"),
        Column("share_pct", "Share of net, %", "pct"),
        Column("share_pct_1dp", "Share, % (1 decimal)", "pct1"),
    ]
    if published:
        columns += [
            Column("published_bn", "Published 2022, bn ₸", "dec1"),
            Column("published_share_pct", "Published 2022, %", "pct1"),
            Column("published_scaled", "Published, scaled to this population, ₸", "money"),
        ]
    rows = []
    for row in report.sources:
        values: list[Any] = [
            row.key,
            row.label,
            row.gross,
            row.refunds,
            row.net,
            row.share,
            as_published(row.share),
        ]
        if published:
            values += [row.published_bn, row.published_share, row.published_scaled]
        rows.append(tuple(values))
    if report.unmatched_refunds:
        values = [
            "unmatched_refunds",
            "Refunds matching no payment",
            Decimal("0.00"),
            report.unmatched_refunds,
            -report.unmatched_refunds,
            None,
            None,
        ]
        if published:
            values += [None, None, None]
        rows.append(tuple(values))
    total: list[Any] = [
        "total",
        "Total",
        report.gross,
        report.refunds,
        report.net,
        percent(report.net, report.net) if report.net else Decimal("0.00"),
        Decimal("100.0") if report.net else Decimal("0.0"),
    ]
    if published:
        scaled = sum(
            (row.published_scaled for row in report.sources if row.published_scaled is not None),
            Decimal("0.00"),
        )
        total += [Decimal("1090.4"), Decimal("100.0"), scaled]
    rows.append(tuple(total))
    basis_text = "received in the year" if report.basis == "received" else "paid for the year"
    sources = Section(
        "sources",
        f"Receipts by source, {report.year} ({basis_text}, net of refunds)",
        tuple(columns),
        tuple(rows),
    )

    measures: list[tuple[str, str, Any, Any, Kind]] = [
        ("employee_months", "Employee-months with deductions", report.employee_months, None, "int"),
        ("deductions", "Employer deductions for the year, ₸", report.deductions, None, "money"),
        (
            "average_deduction",
            "Average deduction per employee-month, ₸",
            report.average_deduction,
            Decimal("5478.3") if published else None,
            "money",
        ),
        (
            "average_base",
            "Average base (deduction ÷ employer rate), ₸",
            report.average_base,
            Decimal("182600") if published else None,
            "money",
        ),
        ("population", "Population on the register in the year", report.population, None, "int"),
        (
            "scale",
            "Scale: population ÷ published 2022 population",
            report.scale.quantize(Decimal("0.000001")),
            None,
            "ratio",
        ),
        (
            "net_per_resident",
            "Net receipts per resident, ₸",
            report.net_per_resident,
            report.published_net_per_resident,
            "money",
        ),
    ]
    rates = sorted({rate for _, rate in report.employer_rates})
    for rate in rates:
        measures.append(("employer_rate", "Employer deduction rate in force", rate, None, "ratio"))
    averages = Section(
        "averages",
        f"Average deduction and base, {report.year} (per employee-month)",
        (
            Column("key", "Key", "text", console=False),
            Column("measure", "Measure", "text"),
            Column("value", "Value", "dec2"),
            Column("published", "Published 2022", "dec2"),
        ),
        tuple((key, label, value, pub) for key, label, value, pub, _ in measures),
    )

    keys = [key for key, _, _ in SOURCES]
    labels = {key: label for key, label, _ in SOURCES}
    excluding_state = sum((region.total_excluding_state for region in report.regions), Decimal(0))
    reporting = {region.code: (region.reporting_region or region.code) for region in regions()}
    rolled: dict[str, Decimal] = {}
    for region in report.regions:
        parent = reporting.get(region.code, region.code)
        rolled[parent] = rolled.get(parent, Decimal(0)) + region.total_excluding_state
    region_columns = [
        Column("code", "Code", "text"),
        Column("region", "Region", "text"),
        *(Column(key, labels[key] + ", ₸", "money", console=False) for key in keys),
        Column("total", "Total, ₸", "money"),
        Column("excluding_state", "Excluding state, ₸", "money", console=False),
        Column("share_excluding_state_pct", "Share excluding state, %", "pct"),
        Column(
            "share_as_reported_pct",
            "Share excluding state, regions as reported in 2022, %",
            "pct",
        ),
    ]
    if published:
        region_columns.append(
            Column("published_share_pct", "Published 2022 share excluding state, %", "pct1")
        )
    region_columns += [
        Column("employee_months", "Employee-months", "int"),
        Column("average_deduction", "Average deduction, ₸", "money"),
    ]
    from saqta.mshi.reports._tables import PUBLISHED_REGION_RECEIPT_SHARES

    region_rows = []
    for region in report.regions:
        parent_of_itself = reporting.get(region.code) == region.code
        values = [
            region.code,
            region.name,
            *(region.net[key] for key in keys),
            region.total,
            region.total_excluding_state,
            percent(region.total_excluding_state, excluding_state),
            percent(rolled[region.code], excluding_state) if parent_of_itself else None,
        ]
        if published:
            values.append(PUBLISHED_REGION_RECEIPT_SHARES.get(region.code))
        values += [region.employee_months, region.average_deduction]
        region_rows.append(tuple(values))
    return Document(
        "collections",
        f"MSHI receipts, {report.year}",
        (
            sources,
            averages,
            Section(
                "regions",
                f"Receipts by region, {report.year}",
                tuple(region_columns),
                tuple(region_rows),
            ),
        ),
        report.provenance,
    )


# ------------------------------------------------------------------------------------------------
# Frequency


def frequency_document(report: FrequencyReport) -> Document:
    published = report.published_total_thousand is not None
    columns = [
        Column("months_paid", "Months paid in the year", "int"),
        Column("employees", "Employees", "int"),
        Column("share_pct", "Share, %", "pct"),
    ]
    if published:
        columns += [
            Column("published_thousand", "Published 2022, thousand", "dec1"),
            Column("published_share_pct", "Published 2022, %", "pct"),
            Column("published_scaled", "Published, scaled to this population", "dec1"),
        ]
    scale = report.scale
    rows = []
    for row in report.rows:
        values: list[Any] = [row.months, row.employees, row.share]
        if published and row.published_thousand is not None:
            values += [
                row.published_thousand,
                row.published_share,
                (row.published_thousand * 1000 * scale).quantize(Decimal("0.1")),
            ]
        rows.append(tuple(values))
    total: list[Any] = [None, report.employees, Decimal("100.00") if report.employees else None]
    if published and report.published_total_thousand is not None:
        total += [
            report.published_total_thousand,
            Decimal("100.00"),
            (report.published_total_thousand * 1000 * scale).quantize(Decimal("0.1")),
        ]
    rows.append(tuple(total))
    distribution = Section(
        "distribution",
        f"Employees by months of the year with employer deductions, {report.year}",
        tuple(columns),
        tuple(rows),
    )
    scaled_12 = (
        (report.published_paid_12_thousand * 1000 * scale).quantize(Decimal("0.1"))
        if report.published_paid_12_thousand is not None
        else None
    )
    summary = Section(
        "summary",
        f"Payment frequency, {report.year}",
        (
            Column("key", "Key", "text", console=False),
            Column("measure", "Measure", "text"),
            Column("value", "Value", "dec2"),
            Column("published", "Published 2022 (counts scaled to this population)", "dec2"),
        ),
        (
            (
                "employees",
                "Employees with deductions",
                report.employees,
                (report.published_total_thousand * 1000 * scale).quantize(Decimal("0.1"))
                if report.published_total_thousand is not None
                else None,
            ),
            ("mean", "Mean months paid", report.mean, report.published_mean),
            (
                "paid_9_or_more",
                "Paid 9 months or more",
                report.paid_9_or_more,
                (Decimal("3777.6") * 1000 * scale).quantize(Decimal("0.1")) if published else None,
            ),
            (
                "share_9_or_more_pct",
                "Share paid 9 months or more, %",
                report.share_9_or_more,
                report.published_share_9_or_more,
            ),
            ("paid_12", "Paid all 12 months", report.paid_12, scaled_12),
        ),
    )
    region_columns = [
        Column("code", "Code", "text"),
        Column("region", "Region", "text"),
        Column("employees", "Employees", "int"),
        Column("mean", "Mean months paid", "dec2"),
    ]
    if published:
        region_columns.append(Column("published_mean", "Published 2022 mean", "dec1"))
    region_rows = []
    for region in report.regions:
        values = [region.code, region.name, region.employees, region.mean]
        if published:
            values.append(region.published_mean)
        region_rows.append(tuple(values))
    return Document(
        "frequency",
        f"Payment frequency of employer deductions (Diagram 4), {report.year}",
        (
            distribution,
            summary,
            Section(
                "regions",
                f"Payment frequency by region, {report.year}",
                tuple(region_columns),
                tuple(region_rows),
            ),
        ),
        report.provenance,
    )


def document(report: CoverageReport | CollectionsReport | FrequencyReport) -> Document:
    if isinstance(report, CoverageReport):
        return coverage_document(report)
    if isinstance(report, CollectionsReport):
        return collections_document(report)
    return frequency_document(report)


# ------------------------------------------------------------------------------------------------
# Writers


def _text(value: Any) -> str:
    """A value as CSV, JSON and console show it: exact decimals, ISO dates, empty for none."""
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _section_path(path: Path, section: Section, first: bool) -> Path:
    return path if first else path.with_name(f"{path.stem}-{section.name}{path.suffix or '.csv'}")


def write_csv(doc: Document, path: Path) -> list[Path]:
    """One CSV per section: the first to ``path``, the others to ``<stem>-<section>.csv``.

    A header row of column keys, then the rows; decimals are written exactly (``82.40``).
    """
    written = []
    for index, section in enumerate(doc.sections):
        target = _section_path(path, section, index == 0)
        _ensure_parent(target)
        with target.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow([column.key for column in section.columns])
            for row in section.rows:
                writer.writerow([_text(value) for value in row])
        written.append(target)
    return written


def _ensure_parent(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the folder: {exc.strerror}", where=f"{path}") from exc


def to_json(doc: Document) -> dict[str, Any]:
    """The document as JSON-ready data: numbers as exact decimal strings, counts as integers."""

    def value(item: Any) -> Any:
        if item is None or isinstance(item, bool | int):
            return item
        return _text(item)

    return {
        "report": doc.name,
        "title": doc.title,
        "sections": {
            section.name: {
                "title": section.title,
                "rows": [
                    {key: value(item) for key, item in record.items()}
                    for record in section.records()
                ],
            }
            for section in doc.sections
        },
        "provenance": {label: text for label, text in doc.provenance.lines() if label != "Note"}
        | {"notes": list(doc.provenance.notes)},
    }


def write_json(doc: Document, path: Path) -> Path:
    _ensure_parent(path)
    path.write_text(json.dumps(to_json(doc), indent=2, ensure_ascii=False) + "\n", "utf-8")
    return path


def write_xlsx(doc: Document, path: Path) -> Path:
    """One sheet per section (title row, header row, typed numbers) and a provenance sheet."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    first = True
    bold = Font(bold=True)
    header_fill = PatternFill("solid", fgColor="DDE4EE")
    for section in doc.sections:
        sheet = workbook.active if first else workbook.create_sheet()
        assert sheet is not None
        first = False
        sheet.title = section.name[:31]
        sheet.cell(row=1, column=1, value=doc.title).font = Font(bold=True, size=13)
        sheet.cell(row=2, column=1, value=section.title).font = Font(italic=True)
        for col, column in enumerate(section.columns, start=1):
            cell = sheet.cell(row=4, column=col, value=column.header)
            cell.font = bold
            cell.fill = header_fill
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            width = max(12, min(45, len(column.header) + 2))
            sheet.column_dimensions[get_column_letter(col)].width = width
        for r, row in enumerate(section.rows, start=5):
            for col, (column, value) in enumerate(zip(section.columns, row, strict=True), 1):
                cell = sheet.cell(row=r, column=col, value=value)
                if value is not None:
                    cell.number_format = NUMBER_FORMATS[column.kind]
        sheet.freeze_panes = "A5"
        end = 5 + len(section.rows) + 1
        sheet.cell(row=end, column=1, value="Source").font = bold
        sheet.cell(row=end, column=2, value="Saqta facts lake; see the sheet 'provenance'")
    info = workbook.create_sheet("provenance")
    info.cell(row=1, column=1, value=f"{doc.title}: data source and run").font = Font(
        bold=True, size=13
    )
    for r, (label, text) in enumerate(doc.provenance.lines(), start=3):
        info.cell(row=r, column=1, value=label).font = bold
        info.cell(row=r, column=2, value=text)
    info.column_dimensions["A"].width = 24
    info.column_dimensions["B"].width = 100
    _ensure_parent(path)
    workbook.save(path)
    return path


def print_document(doc: Document, console: Any) -> None:
    """Rich tables on the console, one per section, then the provenance."""
    from rich.table import Table

    for section in doc.sections:
        table = Table(title=section.title, title_justify="left")
        shown = [i for i, column in enumerate(section.columns) if column.console]
        for i in shown:
            column = section.columns[i]
            table.add_column(column.header, justify="left" if column.kind == "text" else "right")
        for row in section.rows:
            table.add_row(*(_console(row[i], section.columns[i].kind) for i in shown))
        console.print(table)
    for label, text in doc.provenance.lines():
        console.print(f"[dim]{label}:[/dim] {text}", highlight=False)


def _console(value: Any, kind: Kind) -> str:
    if value is None:
        return ""
    if kind == "int" and isinstance(value, int):
        return f"{value:,}"
    if kind in ("money", "dec1", "dec2") and isinstance(value, Decimal):
        return f"{value:,}"
    if isinstance(value, int):
        return f"{value:,}"
    return _text(value)


def coverage_chart(report: CoverageReport, path: Path) -> Path:
    """SVG bar chart of the entitled and paid-for shares by region (Diagram 2's view)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sorted(
        (region for region in report.regions if region.population),
        key=lambda region: region.entitled_share,
    )
    if not rows:
        raise InputError("no region has population: nothing to chart", where=f"{path}")
    names = [region.name for region in rows]
    entitled = [float(region.entitled_share) for region in rows]
    paid = [float(region.paid_for_share) for region in rows]
    matplotlib.rcParams["svg.hashsalt"] = "saqta"
    figure, axis = plt.subplots(figsize=(9, 0.38 * len(rows) + 1.6))
    positions = range(len(rows))
    axis.barh(positions, paid, color="#c6d4e6", label="paid for during the year, %")
    axis.barh(positions, entitled, height=0.5, color="#2f5d8a", label="entitled, %")
    for y, share in zip(positions, entitled, strict=True):
        axis.text(share + 0.5, y, f"{share:.1f}", va="center", fontsize=8)
    national = float(report.row("entitled").share)
    axis.axvline(national, color="#b23b3b", linestyle="--", linewidth=1)
    axis.text(
        national, len(rows) - 0.3, f" Kazakhstan {national:.1f}%", color="#b23b3b", fontsize=8
    )
    axis.set_yticks(list(positions), names, fontsize=8)
    axis.set_xlim(0, 100)
    axis.set_xlabel("% of the region's population")
    axis.set_title(f"MSHI coverage by region, {report.status_month:%B %Y}", fontsize=11)
    axis.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    _ensure_parent(path)
    figure.savefig(path, format="svg", metadata={"Date": None})
    plt.close(figure)
    return path


def write(doc: Document, fmt: str, path: Path | None) -> Sequence[Path]:
    """Write ``doc`` in ``fmt`` (csv, xlsx or json) to ``path``; return the files written."""
    if path is None:
        raise InputError(f"--out FILE is needed for the {fmt} format", where="--out")
    if fmt == "csv":
        return write_csv(doc, path)
    if fmt == "xlsx":
        return [write_xlsx(doc, path)]
    if fmt == "json":
        return [write_json(doc, path)]
    raise InputError("must be table, csv, xlsx or json", where=f"--format {fmt}")


def write_all(
    lake_root: Path | str,
    year: int,
    out_dir: Path,
    formats: Sequence[str] = ("xlsx", "csv", "json"),
    engine: Any = None,
) -> dict[str, list[Path]]:
    """Run the three reports for ``year`` and write each in ``formats`` to ``out_dir``, with the
    coverage chart (``coverage.svg``); return the files written by report. With ``engine`` (the
    system of record) the provenance includes each status run's audit record."""
    import dataclasses

    from saqta.mshi.reports._tables import (
        attach_run_records,
        collections_report,
        coverage_report,
        frequency_report,
    )

    written: dict[str, list[Path]] = {}
    coverage = coverage_report(lake_root, year)
    for report in (
        coverage,
        collections_report(lake_root, year),
        frequency_report(lake_root, year),
    ):
        if engine is not None:
            provenance = attach_run_records(report.provenance, engine)
            report = dataclasses.replace(report, provenance=provenance)
        doc = document(report)
        files: list[Path] = []
        for fmt in formats:
            files.extend(write(doc, fmt, out_dir / f"{doc.name}-{year}.{fmt}"))
        written[doc.name] = files
    written["coverage"].append(coverage_chart(coverage, out_dir / f"coverage-{year}.svg"))
    return written
