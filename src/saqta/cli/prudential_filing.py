"""``saqta prudential`` commands about deadlines and the filing history (added to the same app)."""

from __future__ import annotations

from saqta.cli.prudential import prudential_app

__all__ = ["prudential_app"]
