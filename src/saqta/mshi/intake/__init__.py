"""The discipline every import into the Fund's facts lake follows: one file one transaction,
vectorised row checks, the quarantine (file, row, field, reason), idempotence by SHA-256.
"""

from __future__ import annotations

from saqta.mshi.intake._checks import (
    check_distinct,
    check_iins,
    check_payers,
    distinct,
    sorted_member,
    to_numpy_bool,
)
from saqta.mshi.intake._files import (
    Batch,
    FieldSpec,
    Importer,
    ImportResult,
    Progress,
    RetryResult,
    Validator,
    column_names,
    csv_header,
    file_format,
    import_totals,
    imports,
    imports_with_open_rows,
    lake_commits,
    money_from_cents,
    quarantine_rows,
    recover_lake,
    rules_now,
    settle_lake,
)

__all__ = [
    "Batch",
    "FieldSpec",
    "ImportResult",
    "Importer",
    "Progress",
    "RetryResult",
    "Validator",
    "check_distinct",
    "check_iins",
    "check_payers",
    "column_names",
    "csv_header",
    "distinct",
    "file_format",
    "import_totals",
    "imports",
    "imports_with_open_rows",
    "lake_commits",
    "money_from_cents",
    "quarantine_rows",
    "recover_lake",
    "rules_now",
    "settle_lake",
    "sorted_member",
    "to_numpy_bool",
]
