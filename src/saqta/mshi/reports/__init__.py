"""The Fund's reports over the lake (Table 2 coverage, collections, Diagram 4 payment
frequency) and their renderings (console, CSV, XLSX, JSON, SVG chart).
"""

from __future__ import annotations

from saqta.mshi.reports._render import (
    collections_document,
    coverage_chart,
    coverage_document,
    document,
    frequency_document,
    print_document,
    to_json,
    write,
    write_all,
)
from saqta.mshi.reports._tables import (
    attach_run_records,
    collections_report,
    coverage_report,
    frequency_report,
)

__all__ = [
    "attach_run_records",
    "collections_document",
    "collections_report",
    "coverage_chart",
    "coverage_document",
    "coverage_report",
    "document",
    "frequency_document",
    "frequency_report",
    "print_document",
    "to_json",
    "write",
    "write_all",
]
