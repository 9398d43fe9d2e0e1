"""Every output of a computed report at once: XLSX (Kazakh and Russian), XML, JSON and HTML.

The renderers (:mod:`.render_xlsx`, :mod:`.render_xml`, :mod:`.render_json`, :mod:`.render_html`)
share :mod:`.rendering`; this module sits above them all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path

from saqta.prudential.render_html import write_html
from saqta.prudential.render_json import write_json
from saqta.prudential.render_xlsx import write_xlsx
from saqta.prudential.render_xml import write_xml
from saqta.prudential.rendering import layouts_for
from saqta.prudential.report import FormCode, FormLayout, ReportSet

__all__ = ["write_outputs"]


def write_outputs(
    report: ReportSet,
    out: Path,
    layouts: Mapping[FormCode, FormLayout] | None = None,
    *,
    signed_on: dt.date | None = None,
    xml: bool = True,
) -> dict[str, list[Path]]:
    """Every output of a report into the folder ``out``: one XLSX per form (Kazakh and Russian
    sheets), the XML filing (validated against its schema), the JSON (lossless and rounded) and
    the printable HTML in both languages. ``xml=False`` leaves the filing out (a report with
    errors is not to be filed)."""
    layouts = layouts if layouts is not None else layouts_for(report)
    written: dict[str, list[Path]] = {
        "xlsx": write_xlsx(report, layouts, out, signed_on=signed_on),
        "json": [write_json(report, out, layouts, signed_on=signed_on)],
        "html": write_html(report, layouts, out, signed_on=signed_on),
    }
    if xml:
        written["xml"] = [write_xml(report, out, layouts, signed_on=signed_on)]
    return written
