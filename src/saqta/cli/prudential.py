"""``saqta prudential``: a branch's monthly prudential forms (inputs, computation, output)."""

from __future__ import annotations

import typer

prudential_app = typer.Typer(
    help="Prudential reporting of a branch of a non-resident insurer.", no_args_is_help=True
)
