"""Insured status of every person and month: the rules in force, the engine (DuckDB, months as
bits; the reference SQL, which PostgreSQL also runs), the explanation of one person's status, and
its words per locale (the rows hold codes and parameters; :func:`reason_text` and
:func:`change_text` render them in Kazakh, Russian or English).
"""

from __future__ import annotations

from saqta.mshi.status._engine import (
    compute_status,
    explain,
    row_change,
    status_folder,
)
from saqta.mshi.status._postgres import (
    compute_postgres_month,
    export_result,
    load_month_inputs,
)
from saqta.mshi.status._wording import (
    ChangeCode,
    category_label,
    change_text,
    payment_type_label,
    reason_text,
)

__all__ = [
    "ChangeCode",
    "category_label",
    "change_text",
    "compute_postgres_month",
    "compute_status",
    "explain",
    "export_result",
    "load_month_inputs",
    "payment_type_label",
    "reason_text",
    "row_change",
    "status_folder",
]
