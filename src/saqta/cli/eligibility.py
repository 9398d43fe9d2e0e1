"""``saqta status`` and ``saqta serve``: online eligibility answers."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the eligibility commands to the top-level ``app``."""
