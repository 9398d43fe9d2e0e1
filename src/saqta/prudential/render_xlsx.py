"""Each form as an XLSX workbook laid out like the printed form: a Kazakh and a Russian sheet.

A sheet reads top to bottom as the form in the resolution does: the annex reference, "form for the
collection of administrative data", where it is submitted, the title, the form index, periodicity,
reporting period, respondents and deadline; the table with its column labels and the row of column
numbers; then the branch's name, address, phone and e-mail, the executor, the head (or the person
charged with signing) and the date. Amounts are whole thousands of tenge (number format
``#,##0``), ratios and percentages are rounded to 2 decimals: the cells hold the rounded numbers,
so what a reader sums is what the form shows.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from saqta.prudential.rendering import (
    LANGS,
    RenderedForm,
    column_role,
    detail_rows,
    forms_in_order,
    output_name,
    render_form,
    write_atomically,
)
from saqta.prudential.report import FormCode, FormLayout, ReportSet, Row

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

NUMBER_FORMATS = {"amount": "#,##0", "ratio": "0.00", "percent": '0.00"%"'}
SHEET_SUFFIX = {"kk": "қаз", "ru": "рус"}


def sheet_title(form: FormCode, lang: str) -> str:
    return f"{form} {SHEET_SUFFIX[lang]}"


def _column_width(rendered: RenderedForm, index: int) -> float:
    column = rendered.columns[index]
    if column_role(column) != "other":
        return 9
    if column.kind == "text":
        longest = max((len(row.cells[index].text) for row in rendered.rows), default=0)
        return 60 if longest > 30 else 24
    return 20


def _estimate_height(text: str, width: float) -> float:
    """Rows do not grow by themselves in every viewer: estimate the wrapped line count."""
    lines = max(1, -(-len(text) // max(1, int(width * 1.1))))
    return 15.0 * lines


def _style(sheet: Worksheet, name: str) -> str:
    """A named style of the workbook, registered on first use: one style per kind of cell, so
    that thousands of cells share a handful of styles (and styling stays fast)."""
    from openpyxl.styles import Alignment, Border, Font, NamedStyle, Side

    workbook = sheet.parent
    if name in workbook.named_styles:
        return name
    thin = Side(style="thin")
    grid = Border(left=thin, right=thin, top=thin, bottom=thin)
    parts = name.split(":")
    kind, bold = parts[0], "bold" in parts
    style = NamedStyle(name=name)
    style.font = Font(bold=bold)
    if kind in ("left", "center", "right", "title"):  # the header and signature lines
        align = "center" if kind == "title" else kind
        style.alignment = Alignment(horizontal=align, vertical="top", wrap_text=True)
    elif kind == "head":
        style.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        style.border = grid
    elif kind in NUMBER_FORMATS:
        style.number_format = NUMBER_FORMATS[kind]
        style.alignment = Alignment(horizontal="right", vertical="top")
        style.border = grid
    elif kind == "label":
        level = int(parts[1])
        style.alignment = Alignment(horizontal="left", vertical="top", wrap_text=True, indent=level)
        style.border = grid
    else:  # "cell": a short text, centred
        style.alignment = Alignment(horizontal="center", vertical="top", wrap_text=True)
        style.border = grid
    workbook.add_named_style(style)
    return name


def write_sheet(sheet: Worksheet, rendered: RenderedForm) -> None:
    from openpyxl.utils import get_column_letter

    frame = rendered.frame
    n_columns = len(rendered.columns)
    widths = [_column_width(rendered, i) for i in range(n_columns)]
    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width
    total_width = sum(widths)
    row = 1

    def line(text: str | None, *, style: str = "left") -> None:
        nonlocal row
        if text is None:
            return
        if n_columns > 1:
            sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=n_columns)
        cell = sheet.cell(row=row, column=1, value=text)
        cell.style = _style(sheet, style)
        sheet.row_dimensions[row].height = _estimate_height(text, total_width)
        row += 1

    line(frame.annex, style="right")
    row += 1
    line(frame.purpose, style="center")
    line(frame.where)
    line(frame.published)
    row += 1
    line(frame.title, style="title:bold")
    row += 1
    for text in (frame.index, frame.periodicity, frame.period, frame.respondents, frame.deadline):
        line(text)
    row += 1
    line(frame.form_word, style="right")
    line(frame.table, style="center")
    line(frame.unit, style="right")

    header_row = row
    for i, column in enumerate(rendered.columns, start=1):
        label_cell = sheet.cell(row=row, column=i, value=rendered.column_label(column))
        label_cell.style = _style(sheet, "head:bold")
        number_cell = sheet.cell(row=row + 1, column=i, value=column.number)
        number_cell.style = _style(sheet, "head")
    longest_label = max(
        (len(rendered.column_label(c)) / max(widths[i], 1) for i, c in enumerate(rendered.columns)),
        default=1,
    )
    sheet.row_dimensions[row].height = 15.0 * max(1, int(longest_label * 1.1) + 1)
    row += 2
    sheet.print_title_rows = f"{header_row}:{header_row + 1}"

    for table_row in rendered.rows:
        weight = ":bold" if table_row.kind in ("section", "total") else ""
        height = 15.0
        for i, cell in enumerate(table_row.cells, start=1):
            if cell.number is not None:
                value: object = int(cell.number) if cell.kind == "amount" else cell.number
                style = f"{cell.kind}{weight}"
            else:
                value = cell.text or None
                is_label = rendered.columns[i - 1].kind == "text" and len(cell.text) > 12
                if is_label:
                    style = f"label:{min(table_row.level, 8)}{weight}"
                    height = max(height, _estimate_height(cell.text, widths[i - 1]))
                else:
                    style = f"cell{weight}"
            target = sheet.cell(row=row, column=i, value=value)
            target.style = _style(sheet, style)
        sheet.row_dimensions[row].height = height
        row += 1

    row += 1
    labels = frame.labels
    branch = rendered.branch
    for key in ("name", "address", "phone", "email"):
        line(f"{labels[key]}: {branch[key]}")
    row += 1
    line(f"{labels['executor']}: {branch['executor']}   ______________")
    line(f"({labels['person_hint']})   ({labels['executor_hint']}: {branch['phone']})")
    line(f"{labels['signer']}: {branch['signer']}   ______________")
    line(f"({labels['person_hint']})   ({labels['signer_hint']})")
    line(frame.signed_on)

    sheet.page_setup.orientation = "landscape" if n_columns >= 5 else "portrait"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True


def write_details(sheet: Worksheet, layout: FormLayout, rows: tuple[Row, ...]) -> None:
    """The rows behind the form (1-PN_V: one per holding), unrounded, with their explanation."""
    from openpyxl.styles import Alignment, Font

    columns = [c for c in layout.columns if c.kind != "text"]
    header = [
        "Жол / Строка",
        "Позиция",
        "Атауы / Наименование",
        *(f"{c.number}: {c.label_ru}" for c in columns),
        "Түсіндірме / Пояснение",
    ]
    sheet.append(header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for row in rows:
        values = [row.cells.get(c.number) for c in columns]
        sheet.append(
            [row.group, row.code, row.label, *(_plain(v) for v in values), row.explanation]
        )
    widths = [10, 30, 40, *(20 for _ in columns), 90]
    from openpyxl.utils import get_column_letter

    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"


def _plain(value: object) -> object:
    return value if not isinstance(value, bool) else ("TRUE" if value else "FALSE")


def form_workbook_bytes(
    report: ReportSet, layout: FormLayout, *, signed_on: dt.date | None = None
) -> bytes:
    """One form as an XLSX workbook with a Kazakh and a Russian sheet."""
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.remove(workbook.active)
    for lang in LANGS:
        sheet = workbook.create_sheet(sheet_title(layout.form, lang))
        write_sheet(sheet, render_form(report, layout, lang, signed_on=signed_on))
    details = detail_rows(report, layout.form)
    if details:
        write_details(workbook.create_sheet(f"{layout.form} детализация"), layout, details)
    workbook.properties.title = f"{layout.form} {report.period} {report.branch.name}"
    workbook.properties.creator = "Saqta"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def write_xlsx(
    report: ReportSet,
    layouts: Mapping[FormCode, FormLayout],
    out: Path,
    *,
    signed_on: dt.date | None = None,
) -> list[Path]:
    """Write one workbook per form of ``report`` into the folder ``out``; return the paths."""
    paths = []
    for layout in forms_in_order(report, layouts):
        data = form_workbook_bytes(report, layout, signed_on=signed_on)
        paths.append(write_atomically(out / output_name(report, layout.form, "xlsx"), data))
    return paths
