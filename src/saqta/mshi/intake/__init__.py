"""The discipline every import into the Fund's facts lake follows: one file one transaction,
vectorised row checks, the quarantine (file, row, field, reason), idempotence by SHA-256.
"""

from __future__ import annotations

from saqta.mshi.intake._checks import (
    check_distinct,
    check_iins,
    check_payers,
    distinct,
    iin_birth_dates,
    iin_numbers,
    iin_sex,
    sorted_member,
    to_numpy_bool,
)
from saqta.mshi.intake._files import (
    Batch,
    FieldSpec,
    Importer,
    ImportResult,
    Progress,
    Validator,
    csv_header,
    file_format,
    imports,
    lake_commits,
    quarantine_rows,
    recover_lake,
    settle_lake,
)

__all__ = [
    "Batch",
    "FieldSpec",
    "ImportResult",
    "Importer",
    "Progress",
    "Validator",
    "check_distinct",
    "check_iins",
    "check_payers",
    "csv_header",
    "distinct",
    "file_format",
    "iin_birth_dates",
    "iin_numbers",
    "iin_sex",
    "imports",
    "lake_commits",
    "quarantine_rows",
    "recover_lake",
    "settle_lake",
    "sorted_member",
    "to_numpy_bool",
]
