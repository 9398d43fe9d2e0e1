"""`saqta demo`: every capability on a small synthetic Kazakhstan."""

from __future__ import annotations

from saqta.cli.demo._run import run_demo

__all__ = ["run_demo"]
