"""The register of persons and the state-paid category periods (`saqta persons import`)."""

from __future__ import annotations

from saqta.mshi.registry._persons import (
    category_periods,
    import_persons,
    load_person_index,
    register_files,
)

__all__ = [
    "category_periods",
    "import_persons",
    "load_person_index",
    "register_files",
]
