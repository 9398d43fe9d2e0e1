"""The report as JSON: the lossless ``ReportSet`` (unrounded) and the rounded rendering beside it.

```
{
  "format": "saqta.prudential.report", "version": 1,
  "report":   {... the ReportSet, every value exact ...},
  "rendered": {"1-PN_S": {"title": {"kk": ..., "ru": ...}, "rows": [...]}, ...}
}
```

In ``report`` each cell is typed, so nothing is guessed on reading: ``{"type": "decimal", "value":
"1234.56"}`` (a decimal is a string, so no JSON reader turns it into a float), ``{"type": "text",
"value": "BBB+"}``, ``{"type": "flag", "value": true}``, ``{"type": "empty"}``.
:func:`read_json` rebuilds the ``ReportSet`` exactly.

In ``rendered`` each cell is what the form prints: whole thousands of tenge, ratios and
percentages to 2 decimals (as strings), flags as true/false, texts as they are, with the row labels
in Kazakh and Russian.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from saqta.core.errors import InputError
from saqta.prudential.rendering import (
    RenderedCell,
    forms_in_order,
    output_name,
    render_form,
    write_atomically,
)
from saqta.prudential.report import (
    CellValue,
    FormCode,
    FormLayout,
    ReportSet,
)

FORMAT = "saqta.prudential.report"
VERSION = 1


def encode_cell(value: CellValue) -> dict[str, Any]:
    if value is None:
        return {"type": "empty"}
    if isinstance(value, bool):
        return {"type": "flag", "value": value}
    if isinstance(value, str):
        return {"type": "text", "value": value}
    return {"type": "decimal", "value": format(value, "f")}


def report_data(report: ReportSet) -> dict[str, Any]:
    """The lossless part: the ``ReportSet`` with typed cells."""
    data = report.model_dump(mode="json")
    for code, form in report.forms.items():
        for index, row in enumerate(form.rows):
            data["forms"][code]["rows"][index]["cells"] = {
                column: encode_cell(value) for column, value in row.cells.items()
            }
    return data


def _rendered_cell(cell: RenderedCell) -> Any:
    if cell.number is not None:
        return format(cell.number, "f")
    if cell.kind == "flag":
        return cell.text
    return cell.text or None


def rendered_data(
    report: ReportSet, layouts: Mapping[FormCode, FormLayout], *, signed_on: dt.date | None = None
) -> dict[str, Any]:
    """The rounded part: each form's rows as printed, labels in both languages."""
    out: dict[str, Any] = {}
    for layout in forms_in_order(report, layouts):
        kk = render_form(report, layout, "kk", signed_on=signed_on)
        ru = render_form(report, layout, "ru", signed_on=signed_on)
        rows = []
        for row_kk, row_ru in zip(kk.rows, ru.rows, strict=True):
            rows.append(
                {
                    "code": row_kk.code,
                    "kind": row_kk.kind,
                    "cells": {
                        cell.column: (
                            {"kk": cell.text, "ru": other.text}
                            if cell.kind in ("text", "flag") and cell.text != other.text
                            else _rendered_cell(cell)
                        )
                        for cell, other in zip(row_kk.cells, row_ru.cells, strict=True)
                    },
                }
            )
        out[layout.form] = {
            "title": {"kk": layout.title_kk, "ru": layout.title_ru},
            "annex": layout.annex,
            "edition": layout.valid_from.isoformat(),
            "units": {"amount": "thousand tenge", "ratio": "2 decimals", "percent": "2 decimals"},
            "columns": [
                {"number": c.number, "kind": c.kind, "label": {"kk": c.label_kk, "ru": c.label_ru}}
                for c in layout.columns
            ],
            "rows": rows,
        }
    return out


def report_json(
    report: ReportSet,
    layouts: Mapping[FormCode, FormLayout] | None = None,
    *,
    signed_on: dt.date | None = None,
) -> str:
    document: dict[str, Any] = {"format": FORMAT, "version": VERSION, "report": report_data(report)}
    if layouts is not None:
        document["rendered"] = rendered_data(report, layouts, signed_on=signed_on)
    return json.dumps(document, ensure_ascii=False, indent=2)


def write_json(
    report: ReportSet,
    out: Path,
    layouts: Mapping[FormCode, FormLayout] | None = None,
    *,
    signed_on: dt.date | None = None,
) -> Path:
    """Write the JSON into the folder ``out`` (or to ``out`` itself when it ends in .json)."""
    path = out if out.suffix == ".json" else out / output_name(report, "report", "json")
    text = report_json(report, layouts, signed_on=signed_on)
    return write_atomically(path, text.encode("utf-8"))


def read_json(source: Path | str) -> ReportSet:
    """The lossless ``ReportSet`` of a JSON written by :func:`write_json` (a path or the text).

    One reader serves every JSON report: the branch's filing history and the regulator's intake
    read with the same :func:`saqta.prudential.filings.parse_report_json`."""
    from saqta.prudential.filings import parse_report_json

    where = str(source) if isinstance(source, Path) else "JSON report"
    try:
        text = source.read_bytes() if isinstance(source, Path) else source
    except OSError as exc:
        raise InputError(f"not a readable JSON report: {exc}", where=where) from exc
    return parse_report_json(text, where)
