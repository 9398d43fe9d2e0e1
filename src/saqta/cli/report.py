"""``saqta report``: coverage, collections and payment-frequency reports."""

from __future__ import annotations

import typer

report_app = typer.Typer(help="MSHI reports for a year.", no_args_is_help=True)
