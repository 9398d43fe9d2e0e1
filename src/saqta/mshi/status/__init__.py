"""Insured status of every person and month: the rules in force, the engine (DuckDB, months as
bits; the reference SQL, which PostgreSQL also runs) and the explanation of one person's status.
"""

from __future__ import annotations

from saqta.mshi.status._engine import (
    compute_status,
    explain,
    status_folder,
)
from saqta.mshi.status._postgres import (
    compute_postgres_month,
    export_result,
    load_month_inputs,
)

__all__ = [
    "compute_postgres_month",
    "compute_status",
    "explain",
    "export_result",
    "load_month_inputs",
    "status_folder",
]
