"""Signing in for command-line tests: a real user in the system of record and a real token
signed with the key the command line will use (``SAQTA_HOME/token.key``, or a given key)."""

from __future__ import annotations

from pathlib import Path

from saqta.access import AccessControl, AccessSettings, Identity, Role, add_user
from saqta.store.db import make_engine, upgrade


def sign_in(
    home: Path,
    database_url: str,
    username: str,
    role: Role,
    scope_bin: str | None = None,
    *,
    token_key: str | None = None,
) -> str:
    """Add ``username`` with ``role`` (if new) and return a token for it (``SAQTA_TOKEN``)."""
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        try:
            add_user(engine, username, role, password=None, scope_bin=scope_bin)
        except Exception as exc:  # already there
            if "exists" not in str(exc):
                raise
        control = AccessControl(
            engine, AccessSettings(home=home, token_key=token_key), audit_async=False
        )
        return control.tokens.issue(Identity("user", username, role, scope_bin)).access_token
    finally:
        engine.dispose()
