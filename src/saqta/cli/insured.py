"""``saqta insured``: the insured-status engine (batch and incremental runs)."""

from __future__ import annotations

import typer

insured_app = typer.Typer(help="Insured status of every person and month.", no_args_is_help=True)
