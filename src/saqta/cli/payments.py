"""``saqta persons`` and ``saqta payments``: loading the register of persons and payments."""

from __future__ import annotations

import typer

persons_app = typer.Typer(help="The register of persons.", no_args_is_help=True)
payments_app = typer.Typer(help="Payments: import, obligations, refunds.", no_args_is_help=True)
