"""Who is at the command line: ``saqta login`` keeps a short-lived token in ``SAQTA_HOME``
(mode 0600), or ``SAQTA_TOKEN`` carries one. Commands that touch personal data, refunds or
filings act as that identity (never as a typed name) and are audited.

``saqta users``, ``saqta clients`` and ``saqta audit`` manage and query access control.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from saqta.access import (
    AccessControl,
    AccessSettings,
    AuthenticationError,
    Identity,
    Permission,
    Role,
)
from saqta.cli.common import console, err_console, report_errors
from saqta.core.errors import InputError, SaqtaError

SESSION_FILE = "session.token"
TOKEN_ENVIRONMENT = "SAQTA_TOKEN"
EXIT_NO_IDENTITY = 2

users_app = typer.Typer(help="Staff users and their roles.", no_args_is_help=True)
clients_app = typer.Typer(
    help="Clients of providers' information systems (OAuth2 client credentials).",
    no_args_is_help=True,
)


class NotSignedIn(SaqtaError):
    """No usable identity for a command that needs one."""


def session_file() -> Path:
    from saqta.core.settings import get_settings

    return get_settings().home / SESSION_FILE


@contextmanager
def access_control() -> Iterator[AccessControl]:
    """Access control for one command (the system of record migrated to the newest schema, a
    no-op when it already is); audit records written at once."""
    from saqta.core.settings import get_settings
    from saqta.store.db import make_engine, upgrade

    engine = make_engine()
    upgrade(engine)
    control = AccessControl(engine, AccessSettings.of(get_settings()), audit_async=False)
    try:
        yield control
    finally:
        engine.dispose()


def _token() -> str | None:
    token = os.environ.get(TOKEN_ENVIRONMENT, "").strip()
    if token:
        return token
    path = session_file()
    try:
        return path.read_text(encoding="ascii").strip() or None
    except OSError:
        return None


def current_identity(control: AccessControl) -> Identity:
    """The signed-in identity (a user still active, with its current role)."""
    from saqta.access import user_identity

    token = _token()
    if token is None:
        raise NotSignedIn(
            f"sign in first: saqta login USERNAME (or set {TOKEN_ENVIRONMENT})", where="identity"
        )
    try:
        identity = control.tokens.verify(token)
        if identity.kind == "user":
            identity = user_identity(control.engine, identity.name)
    except AuthenticationError as exc:
        raise NotSignedIn(
            f"the sign-in is not valid any more ({exc.reason}): saqta login USERNAME",
            where="identity",
        ) from None
    return identity


def acting(control: AccessControl, permission: Permission) -> Identity:
    """The signed-in identity, if its role holds ``permission``."""
    identity = current_identity(control)
    if not control.allows(identity, permission):
        raise NotSignedIn(
            f"{identity.principal} ({identity.role.value}) may not {permission.value}",
            where="permission",
        )
    return identity


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(text + "\n")


def _read_secret(prompt: str, from_stdin: bool, confirm: bool = False) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm))


def login(
    username: str = typer.Argument(..., help="Your user name"),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input"
    ),
) -> None:
    """Sign in: keep a short-lived token in SAQTA_HOME (readable by you only)."""
    from saqta.access import authenticate_user

    password = _read_secret("password", password_stdin)
    with access_control() as control:
        try:
            identity = authenticate_user(control.engine, username, password)
        except AuthenticationError:
            err_console.print("[red]error[/red] wrong user name or password", highlight=False)
            raise typer.Exit(EXIT_NO_IDENTITY) from None
        issued = control.tokens.issue(identity)
    _write_private(session_file(), issued.access_token)
    until = dt.datetime.now().astimezone() + dt.timedelta(seconds=issued.expires_in)
    console.print(
        f"signed in as {identity.principal} ({identity.role.value}) until {until:%H:%M}",
        highlight=False,
    )


def logout() -> None:
    """Forget the sign-in kept in SAQTA_HOME."""
    session_file().unlink(missing_ok=True)
    console.print("signed out")


@report_errors(exit_code=EXIT_NO_IDENTITY)
def whoami() -> None:
    """Print who the commands act as."""
    with access_control() as control:
        identity = current_identity(control)
    scope = f" for BIN {identity.scope_bin}" if identity.scope_bin else ""
    console.print(f"{identity.principal} ({identity.role.value}{scope})", highlight=False)


def _admin(control: AccessControl) -> Identity | None:
    """The signed-in administrator; None while no active administrator exists (the first one
    is added by whoever holds the system of record)."""
    from saqta.access import list_users

    if not any(u.role is Role.ADMIN and not u.disabled for u in list_users(control.engine)):
        return None
    return acting(control, Permission.ACCESS_ADMIN)


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise InputError(f"unknown role (known: {known})", where=value) from None


@users_app.command("add")
@report_errors(exit_code=1)
def users_add(
    username: str = typer.Argument(...),
    role: str = typer.Option(..., "--role", help=", ".join(r.value for r in Role)),
    bin_: str | None = typer.Option(None, "--bin", help="BIN of a provider's or branch's user"),
    name: str | None = typer.Option(None, "--name", help="Full name"),
    oidc_only: bool = typer.Option(
        False, "--oidc-only", help="No password: signs in through the Fund's OpenID Connect"
    ),
    password_stdin: bool = typer.Option(False, "--password-stdin"),
) -> None:
    """Add a member of staff (an administrator's command; the first administrator may be
    added by whoever holds the system of record)."""
    from saqta.access import add_user

    with access_control() as control:
        _admin(control)
        password = None if oidc_only else _read_secret("password", password_stdin, confirm=True)
        user = add_user(
            control.engine, username, _role(role), password=password, display_name=name,
            scope_bin=bin_,
        )  # fmt: skip
    console.print(f"added user {user.username} ({user.role.value})", highlight=False)


@users_app.command("list")
@report_errors(exit_code=1)
def users_list() -> None:
    """List the users (never their password hashes)."""
    from saqta.access import list_users

    with access_control() as control:
        _admin(control)
        users = list_users(control.engine)
    table = Table("user", "name", "role", "BIN", "password", "state")
    for u in users:
        table.add_row(
            u.username, escape(u.display_name), u.role.value, u.scope_bin or "",
            "set" if u.password_hash else "OIDC only", "disabled" if u.disabled else "active",
        )  # fmt: skip
    console.print(table)


@users_app.command("disable")
@report_errors(exit_code=1)
def users_disable(
    username: str = typer.Argument(...),
    enable: bool = typer.Option(False, "--enable", help="Enable again instead"),
) -> None:
    """Disable a user (no new sign-in; tokens already issued expire within their lifetime)."""
    from saqta.access import set_user_disabled

    with access_control() as control:
        _admin(control)
        set_user_disabled(control.engine, username, not enable)
    console.print(f"user {username} {'enabled' if enable else 'disabled'}", highlight=False)


@users_app.command("passwd")
@report_errors(exit_code=1)
def users_passwd(
    username: str = typer.Argument(...),
    password_stdin: bool = typer.Option(False, "--password-stdin"),
) -> None:
    """Set a user's password (your own, or anyone's as an administrator)."""
    from saqta.access import set_password

    with access_control() as control:
        own = False
        try:
            me = current_identity(control)
            own = me.kind == "user" and me.name == username
        except NotSignedIn:
            pass
        if not own:
            _admin(control)
        set_password(control.engine, username, _read_secret("new password", password_stdin, True))
    console.print(f"password of {username} changed", highlight=False)


@users_app.command("roles")
@report_errors(exit_code=1)
def users_roles(
    username: str | None = typer.Argument(None, help="Change this user's role"),
    role: str | None = typer.Option(None, "--role"),
    bin_: str | None = typer.Option(None, "--bin"),
) -> None:
    """Without a user: which role holds which permission (the grants). With a user and
    --role: give the user that role."""
    from saqta.access import load_grants, set_role

    with access_control() as control:
        if username is not None:
            if role is None:
                raise InputError("give --role", where="users roles")
            _admin(control)
            user = set_role(control.engine, username, _role(role), bin_)
            console.print(f"user {user.username} is now {user.role.value}", highlight=False)
            return
        grants = load_grants(control.engine)
    table = Table("permission", *[r.value for r in Role], title="Grants (deny by default)")
    for permission in Permission:
        table.add_row(
            permission.value, *["x" if grants.allows(r, permission) else "" for r in Role]
        )
    console.print(table)


@users_app.command("grant")
@report_errors(exit_code=1)
def users_grant(permission: str = typer.Argument(...), role: str = typer.Argument(...)) -> None:
    """Give a permission to a role."""
    from saqta.access import grant

    with access_control() as control:
        _admin(control)
        changed = grant(control.engine, permission, _role(role))
    console.print(f"{role} {'now holds' if changed else 'already held'} {permission}")


@users_app.command("revoke")
@report_errors(exit_code=1)
def users_revoke(permission: str = typer.Argument(...), role: str = typer.Argument(...)) -> None:
    """Take a permission from a role."""
    from saqta.access import revoke

    with access_control() as control:
        _admin(control)
        changed = revoke(control.engine, permission, _role(role))
    console.print(f"{role} {'no longer holds' if changed else 'did not hold'} {permission}")


def _print_secret(client_id: str, secret: str) -> None:
    console.print(f"client {client_id}: secret (shown once, store it now):", highlight=False)
    console.out(secret, highlight=False)


@clients_app.command("add")
@report_errors(exit_code=1)
def clients_add(
    client_id: str = typer.Argument(...),
    name: str = typer.Option(..., "--name", help="Whose system"),
    role: str = typer.Option("provider", "--role"),
    bin_: str | None = typer.Option(None, "--bin", help="The provider's BIN"),
) -> None:
    """Register a client; prints its secret once (only a hash is kept)."""
    from saqta.access import add_client

    with access_control() as control:
        _admin(control)
        client, secret = add_client(control.engine, client_id, name, _role(role), scope_bin=bin_)
    _print_secret(client.client_id, secret)


@clients_app.command("list")
@report_errors(exit_code=1)
def clients_list() -> None:
    """List the clients (never their secrets)."""
    from saqta.access import list_clients

    with access_control() as control:
        _admin(control)
        clients = list_clients(control.engine)
    table = Table("client", "name", "role", "BIN", "state", "secret changed")
    for c in clients:
        table.add_row(
            c.client_id, escape(c.name), c.role.value, c.scope_bin or "",
            "disabled" if c.disabled else "active", f"{c.changed_at:%Y-%m-%d %H:%M} UTC",
        )  # fmt: skip
    console.print(table)


@clients_app.command("disable")
@report_errors(exit_code=1)
def clients_disable(
    client_id: str = typer.Argument(...),
    enable: bool = typer.Option(False, "--enable", help="Enable again instead"),
) -> None:
    """Disable a client (no new token; tokens already issued expire within their lifetime)."""
    from saqta.access import set_client_disabled

    with access_control() as control:
        _admin(control)
        set_client_disabled(control.engine, client_id, not enable)
    console.print(f"client {client_id} {'enabled' if enable else 'disabled'}", highlight=False)


@clients_app.command("rotate")
@report_errors(exit_code=1)
def clients_rotate(client_id: str = typer.Argument(...)) -> None:
    """Give a client a new secret (the old one stops working); prints it once."""
    from saqta.access import rotate_client_secret

    with access_control() as control:
        _admin(control)
        client, secret = rotate_client_secret(control.engine, client_id)
    _print_secret(client.client_id, secret)


def _moment(text: str | None, what: str) -> dt.datetime | None:
    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InputError("expected YYYY-MM-DD or an ISO date-time", where=what) from None
    if value.tzinfo is None:
        from zoneinfo import ZoneInfo

        value = value.replace(tzinfo=ZoneInfo("Asia/Almaty"))
    return value


@report_errors(exit_code=1)
def audit(
    iin: str | None = typer.Option(None, "--iin", help="Whose data: who looked at this person?"),
    who: str | None = typer.Option(None, "--who", help="user:NAME, client:ID or a bare name"),
    since: str | None = typer.Option(None, "--since", help="From (Kazakhstan time if no zone)"),
    until: str | None = typer.Option(None, "--until", help="Before"),
    limit: int = typer.Option(1000, "--limit", min=1),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Query the audit of accesses to personal data, newest first (the query is audited)."""
    import json

    from saqta.access import query_audit

    with access_control() as control:
        me = acting(control, Permission.AUDIT_READ)
        records = query_audit(
            control.engine, iin=iin, who=who, since=_moment(since, "--since"),
            until=_moment(until, "--until"), limit=limit,
        )  # fmt: skip
        control.record(me, "cli", "audit.query", iin, "answered", f"{len(records)} rows")
    rows = [
        {
            "at": r.at.isoformat(),
            "who": r.principal,
            "role": r.role,
            "interface": r.interface,
            "action": r.action,
            "iin": r.subject_iin,
            "outcome": r.outcome,
            "detail": r.detail,
        }
        for r in records
    ]
    if as_json:
        console.out(json.dumps(rows, ensure_ascii=False, indent=2), highlight=False)
        return
    table = Table("at (UTC)", "who", "role", "via", "action", "IIN", "outcome")
    for row in rows:
        table.add_row(
            str(row["at"])[:19], escape(str(row["who"])), str(row["role"] or ""),
            str(row["interface"]), str(row["action"]), str(row["iin"] or ""), str(row["outcome"]),
        )  # fmt: skip
    console.print(table)
    console.print(f"{len(rows)} record(s)", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("login")(login)
    app.command("logout")(logout)
    app.command("whoami")(whoami)
    app.command("audit")(audit)
    app.add_typer(users_app, name="users")
    app.add_typer(clients_app, name="clients")


