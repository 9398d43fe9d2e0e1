"""The access commands as an administrator and a member of staff run them: users, clients,
signing in, the audit, and no secret on the screen."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PostgresServer

BIN = "100140011059"


def runner(home: Path, database: str):
    def saqta(*args: str, stdin: str | None = None, token: str | None = None):
        env = {**os.environ, "SAQTA_HOME": str(home), "SAQTA_DATABASE_URL": database,
               "COLUMNS": "200"}  # fmt: skip
        env.pop("SAQTA_TOKEN", None)
        if token is not None:
            env["SAQTA_TOKEN"] = token
        return subprocess.run(
            [sys.executable, "-m", "saqta", *args], input=stdin, capture_output=True,
            text=True, env=env, timeout=300, check=False,
        )  # fmt: skip

    return saqta


def test_users_clients_login_and_audit(tmp_path: Path) -> None:
    home = tmp_path / "home"
    saqta = runner(home, f"sqlite:///{home / 'saqta.db'}")
    assert saqta("db", "upgrade").returncode == 0
    # The first administrator needs no sign-in; after that, user management does.
    first = saqta("users", "add", "aigerim", "--role", "admin", "--password-stdin",
                  stdin="admin password 1\n")  # fmt: skip
    assert first.returncode == 0, first.stderr
    refused = saqta("users", "add", "olga", "--role", "operator", "--password-stdin",
                    stdin="operator pass 12\n")  # fmt: skip
    assert refused.returncode == 1 and "sign in first" in refused.stderr
    signed = saqta("login", "aigerim", "--password-stdin", stdin="admin password 1\n")
    assert signed.returncode == 0 and "signed in as user:aigerim (admin)" in signed.stdout
    session = home / "session.token"
    assert stat.S_IMODE(session.stat().st_mode) == 0o600
    assert saqta("users", "add", "olga", "--role", "operator", "--password-stdin",
                 stdin="operator pass 12\n").returncode == 0  # fmt: skip
    scoped = saqta("users", "add", "clinic", "--role", "provider", "--password-stdin",
                   stdin="provider pass 12\n")  # fmt: skip
    assert scoped.returncode == 1 and "give its 12-digit BIN" in scoped.stderr
    short = saqta("users", "add", "bolat", "--role", "expert", "--password-stdin", stdin="x\n")
    assert short.returncode == 1 and "at least 12 characters" in short.stderr
    listed = saqta("users", "list")
    assert "olga" in listed.stdout and "$argon2" not in listed.stdout

    added = saqta("clients", "add", "his-1", "--name", "Polyclinic HIS", "--bin", BIN)
    assert added.returncode == 0, added.stderr
    secret = added.stdout.strip().splitlines()[-1]
    assert len(secret) >= 40
    clients = saqta("clients", "list")
    assert "his-1" in clients.stdout and secret not in clients.stdout
    rotated = saqta("clients", "rotate", "his-1").stdout.strip().splitlines()[-1]
    assert rotated != secret
    assert saqta("clients", "disable", "his-1").returncode == 0

    grants = saqta("users", "roles")
    assert "eligibility.full" in grants.stdout
    # The operator signs in and looks somebody up; the admin asks who looked at that person.
    olga = saqta("login", "olga", "--password-stdin", stdin="operator pass 12\n")
    assert olga.returncode == 0
    assert saqta("whoami").stdout.strip() == "user:olga (operator)"
    not_admin = saqta("audit", "--iin", "900101300017")
    assert not_admin.returncode == 1 and "may not audit.read" in not_admin.stderr
    assert saqta("login", "olga", "--password-stdin", stdin="wrong password\n").returncode == 2
    disabled = saqta("login", "aigerim", "--password-stdin", stdin="admin password 1\n")
    assert disabled.returncode == 0
    assert saqta("users", "disable", "olga").returncode == 0
    saqta("logout")
    assert not session.exists()
    assert saqta("login", "olga", "--password-stdin", stdin="operator pass 12\n").returncode == 2


def test_explain_needs_an_identity_and_is_audited(tmp_path: Path) -> None:
    from access_helpers import sign_in
    from saqta.access import Role, query_audit
    from saqta.store.db import make_engine

    home = tmp_path / "home"
    database = f"sqlite:///{home / 'saqta.db'}"
    saqta = runner(home, database)
    anonymous = saqta("insured", "explain", "900101300017", "--month", "2022-01",
                      "--lake", str(tmp_path / "lake"))  # fmt: skip
    assert anonymous.returncode == 1 and "sign in first" in anonymous.stderr
    analyst = sign_in(home, database, "dana", Role.FUND_ANALYST)
    saqta("insured", "explain", "900101300017", "--month", "2022-01",
          "--lake", str(tmp_path / "lake"), token=analyst)  # fmt: skip
    engine = make_engine(database)
    records = query_audit(engine, iin="900101300017")
    engine.dispose()
    assert [(r.principal, r.interface, r.action) for r in records] == [
        ("user:dana", "cli", "person.explain")
    ]


@pytest.mark.postgres
def test_db_upgrade_never_prints_the_password(tmp_path: Path, postgres_server: PostgresServer):
    url = postgres_server.url().replace("postgres@", "postgres:Sup3r-Secret@")
    done = runner(tmp_path, url)("db", "upgrade")
    assert done.returncode == 0, done.stderr
    assert "Sup3r-Secret" not in done.stdout + done.stderr
    assert "postgres:***@" in done.stdout
