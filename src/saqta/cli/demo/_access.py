"""The access part of ``saqta demo``: users and clients, tokens, and who sees what.

A contact-centre operator signs in with a password and gets the full eligibility answer; a
provider's system authenticates with client credentials and gets the minimal one (and cannot
tell an unknown IIN from a person who is not insured); a request without a token is refused.
Every question lands in the audit, which then answers "who looked at this person?".
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table
from sqlalchemy import Engine

from saqta.cli.common import console
from saqta.core.errors import InputError
from saqta.store.lake import FactsLake

DAY = "2022-12-15"
PROVIDER_BIN = "100140011059"


def run_access_demo(engine: Engine, lake: FactsLake, out: Path, settings: Any) -> dict[str, Any]:
    """Create users and clients on ``engine``, ask the API as each, and show the audit."""
    import secrets
    import warnings

    with warnings.catch_warnings():  # Starlette's note about its test client's HTTP library
        warnings.simplefilter("ignore", DeprecationWarning)
        from fastapi.testclient import TestClient

    from saqta.access import (
        AccessControl,
        AccessSettings,
        Role,
        add_client,
        add_user,
        query_audit,
        rotate_client_secret,
        set_password,
        set_role,
    )
    from saqta.api.app import create_asgi
    from saqta.core.iin import Sex, make_iin
    from saqta.mshi.eligibility import default_index_root, open_index

    access_settings = dataclasses.replace(AccessSettings.of(settings), home=out)
    password = secrets.token_urlsafe(12)
    users = [
        ("aigerim", Role.ADMIN, None),
        ("olga", Role.OPERATOR, None),
        ("bolat", Role.EXPERT, None),
        ("arfr", Role.REGULATOR, None),
    ]
    table = Table("who", "kind", "role", "BIN", title="Users and clients (Argon2 hashes only)")
    for name, role, bin_ in users:
        try:
            add_user(engine, name, role, password=password, scope_bin=bin_)
        except InputError:  # a previous demo on the same database: same users, new password
            set_role(engine, name, role, bin_)
            set_password(engine, name, password)
        table.add_row(name, "user", role.value, bin_ or "")
    try:
        _, secret = add_client(
            engine, "his-astana-1", "City polyclinic No. 1 HIS", Role.PROVIDER,
            scope_bin=PROVIDER_BIN,
        )  # fmt: skip
    except InputError:
        _, secret = rotate_client_secret(engine, "his-astana-1")
    table.add_row("his-astana-1", "client", "provider", PROVIDER_BIN)
    console.print(table)

    index = open_index(default_index_root(lake.root))
    known = next(
        iin
        for iin in (f"{int(key):012d}" for key in index.keys[:5000])
        if index.check(iin, DAY).insured
    )
    stranger = next(
        iin
        for serial in range(9000, 9999)
        if (iin := make_iin(dt.date(1990, 1, 1), Sex.MALE, serial))
        and index.position(iin) is None
    )
    control = AccessControl(engine, access_settings)
    shown: dict[str, Any] = {}
    with TestClient(create_asgi(index, control)) as http:
        staff = http.post(
            "/oauth/token",
            data={"grant_type": "password", "username": "olga", "password": password},
        ).json()["access_token"]
        system = http.post(
            "/oauth/token", data={"grant_type": "client_credentials"},
            auth=("his-astana-1", secret),
        ).json()["access_token"]  # fmt: skip

        def ask(token: str | None, iin: str) -> tuple[int, Any]:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            got = http.post("/v1/eligibility", json={"iin": iin, "date": DAY}, headers=headers)
            return got.status_code, got.json()

        for label, token, iin in (
            ("operator (password grant), a registered person", staff, known),
            ("provider's system (client credentials), the same person", system, known),
            ("provider's system, an IIN not in the register", system, stranger),
            ("operator, the same unregistered IIN", staff, stranger),
            ("no token", None, known),
        ):
            status, body = ask(token, iin)
            shown[label] = {"status": status, "body": body}
            console.print(f"[bold]{escape(label)}[/bold] → {status}", highlight=False)
            console.print(json.dumps(body, ensure_ascii=False), highlight=False, soft_wrap=True)
    # the lifespan's end wrote the queued audit
    table = Table("at (UTC)", "who", "role", "via", "outcome", title=f"Who looked at {known}?")
    for record in query_audit(engine, iin=known):
        table.add_row(
            f"{record.at:%H:%M:%S}", record.principal, record.role or "", record.interface,
            record.outcome,
        )  # fmt: skip
    console.print(table)
    console.print(
        "IINs are masked in log lines (e.g. "
        f"{known[:4]}******{known[-2:]}); `saqta audit --iin IIN` answers the same question.",
        highlight=False,
    )
    return shown
