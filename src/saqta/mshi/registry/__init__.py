"""The register of persons and the state-paid category periods (`saqta persons import`)."""

from __future__ import annotations

from saqta.mshi.registry._persons import (
    import_persons,
    load_person_index,
)

__all__ = [
    "import_persons",
    "load_person_index",
]
