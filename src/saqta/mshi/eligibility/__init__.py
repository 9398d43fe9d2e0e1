"""Eligibility answers: the memory-mapped index built from the status runs, and its lookups."""

from __future__ import annotations

from saqta.mshi.eligibility._index import (
    Eligibility,
    EligibilityIndex,
    EligibilityInputError,
    Outcome,
    build_index,
    default_index_root,
    open_index,
)

__all__ = [
    "Eligibility",
    "EligibilityIndex",
    "EligibilityInputError",
    "Outcome",
    "build_index",
    "default_index_root",
    "open_index",
]
