"""``saqta regulator``: the National Bank's intake of branches' filings and its overview."""

from __future__ import annotations

import typer

regulator_app = typer.Typer(
    help="The regulator's side of prudential reporting.", no_args_is_help=True
)
