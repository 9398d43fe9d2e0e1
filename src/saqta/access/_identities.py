"""Who acts: staff users (password, or the Fund's OpenID Connect) and clients (OAuth2 client
credentials). Passwords and secrets are kept only as Argon2 hashes (``pwdlib``)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from pwdlib import PasswordHash
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from saqta.access._models import Client, Role, User
from saqta.core.errors import InputError
from saqta.store.db import session_scope

_NAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,99}$")
MIN_PASSWORD_LENGTH = 12


class AuthenticationError(Exception):
    """Credentials that do not authenticate anyone: unknown, wrong, disabled or expired.

    The message never says which, so that it cannot be used to find out who exists.
    """

    def __init__(self, reason: str = "invalid credentials") -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Identity:
    """An authenticated principal: a user or a client, its role and, for scoped roles, the BIN
    of the organisation it acts for."""

    kind: str
    """``user`` or ``client``."""
    name: str
    role: Role
    scope_bin: str | None = None

    @property
    def principal(self) -> str:
        """How the audit log and the four-eyes rules name it: ``user:alice``, ``client:his-1``."""
        return f"{self.kind}:{self.name}"


@lru_cache(maxsize=1)
def _hasher() -> PasswordHash:
    return PasswordHash.recommended()


def hash_secret(secret: str) -> str:
    """An Argon2id hash of a password or client secret."""
    return _hasher().hash(secret)


def verify_secret(secret: str, hashed: str | None) -> bool:
    """True when ``secret`` matches ``hashed``; a dummy hash is checked when there is none, so
    that an unknown name takes as long as a wrong password."""
    if hashed is None:
        _hasher().verify(secret, _dummy_hash())
        return False
    try:
        return bool(_hasher().verify(secret, hashed))
    except Exception:  # a malformed stored hash authenticates nobody
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_secret(secrets.token_urlsafe(16))


def _check_name(name: str, what: str) -> str:
    name = name.strip()
    if not _NAME.match(name):
        raise InputError(
            "2-100 characters: lower-case letters, digits, '.', '_', '@', '-'", where=what
        )
    return name


def _check_scope(role: Role, scope_bin: str | None, where: str) -> str | None:
    if role.scoped:
        if scope_bin is None or not re.fullmatch(r"\d{12}", scope_bin):
            raise InputError(
                f"the role {role.value} is bound to an organisation: give its 12-digit BIN",
                where=where,
            )
        return scope_bin
    if scope_bin is not None:
        raise InputError(f"the role {role.value} is not bound to a BIN", where=where)
    return None


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(f"at least {MIN_PASSWORD_LENGTH} characters", where="password")
    return password


def add_user(
    engine: Engine,
    username: str,
    role: Role,
    *,
    password: str | None,
    display_name: str | None = None,
    scope_bin: str | None = None,
) -> User:
    """Add a member of staff. Without a password the user can sign in only through OpenID
    Connect. Raises :class:`InputError` for a taken name, a short password or a wrong scope."""
    username = _check_name(username, "username")
    scope = _check_scope(role, scope_bin, f"user {username}")
    hashed = hash_secret(check_password(password)) if password is not None else None
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        if session.scalar(select(User).where(User.username == username)) is not None:
            raise InputError("a user of that name exists", where=f"user {username}")
        user = User(
            username=username,
            display_name=display_name or username,
            password_hash=hashed,
            role=role,
            scope_bin=scope,
            disabled=False,
            created_at=now,
            changed_at=now,
        )
        session.add(user)
    return user


def _user(session: Session, username: str) -> User:
    found = session.scalar(select(User).where(User.username == username))
    if found is None:
        raise InputError("no such user", where=f"user {username}")
    return found


def list_users(engine: Engine) -> list[User]:
    with session_scope(engine) as session:
        return list(session.scalars(select(User).order_by(User.username)))


def set_user_disabled(engine: Engine, username: str, disabled: bool = True) -> User:
    with session_scope(engine) as session:
        user = _user(session, username)
        user.disabled = disabled
        user.changed_at = datetime.now(UTC)
    return user


def set_password(engine: Engine, username: str, password: str) -> User:
    hashed = hash_secret(check_password(password))
    with session_scope(engine) as session:
        user = _user(session, username)
        user.password_hash = hashed
        user.changed_at = datetime.now(UTC)
    return user


def set_role(engine: Engine, username: str, role: Role, scope_bin: str | None = None) -> User:
    scope = _check_scope(role, scope_bin, f"user {username}")
    with session_scope(engine) as session:
        user = _user(session, username)
        user.role, user.scope_bin = role, scope
        user.changed_at = datetime.now(UTC)
    return user


def authenticate_user(engine: Engine, username: str, password: str) -> Identity:
    """The identity of an active user whose password matches; :class:`AuthenticationError`
    otherwise (same answer, same time, for an unknown user and a wrong password)."""
    with session_scope(engine) as session:
        user = session.scalar(select(User).where(User.username == username.strip()))
    ok = verify_secret(password, user.password_hash if user is not None else None)
    if user is None or not ok or user.disabled:
        raise AuthenticationError()
    return Identity("user", user.username, user.role, user.scope_bin)


def user_identity(engine: Engine, username: str) -> Identity:
    """The identity of an active user (for a sign-in vouched for by OpenID Connect)."""
    with session_scope(engine) as session:
        user = session.scalar(select(User).where(User.username == username))
    if user is None or user.disabled:
        raise AuthenticationError()
    return Identity("user", user.username, user.role, user.scope_bin)


def add_client(
    engine: Engine, client_id: str, name: str, role: Role, *, scope_bin: str | None = None
) -> tuple[Client, str]:
    """Register a client; returns it and its secret, which is shown once and never stored."""
    client_id = _check_name(client_id, "client id")
    scope = _check_scope(role, scope_bin, f"client {client_id}")
    secret = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        if session.scalar(select(Client).where(Client.client_id == client_id)) is not None:
            raise InputError("a client with that id exists", where=f"client {client_id}")
        client = Client(
            client_id=client_id,
            name=name.strip() or client_id,
            secret_hash=hash_secret(secret),
            role=role,
            scope_bin=scope,
            disabled=False,
            created_at=now,
            changed_at=now,
        )
        session.add(client)
    return client, secret


def _client(session: Session, client_id: str) -> Client:
    found = session.scalar(select(Client).where(Client.client_id == client_id))
    if found is None:
        raise InputError("no such client", where=f"client {client_id}")
    return found


def list_clients(engine: Engine) -> list[Client]:
    with session_scope(engine) as session:
        return list(session.scalars(select(Client).order_by(Client.client_id)))


def set_client_disabled(engine: Engine, client_id: str, disabled: bool = True) -> Client:
    with session_scope(engine) as session:
        client = _client(session, client_id)
        client.disabled = disabled
        client.changed_at = datetime.now(UTC)
    return client


def rotate_client_secret(engine: Engine, client_id: str) -> tuple[Client, str]:
    """A new secret for the client (the old one stops working at once); shown once."""
    secret = secrets.token_urlsafe(32)
    with session_scope(engine) as session:
        client = _client(session, client_id)
        client.secret_hash = hash_secret(secret)
        client.changed_at = datetime.now(UTC)
    return client, secret


def authenticate_client(engine: Engine, client_id: str, secret: str) -> Identity:
    """The identity of an active client whose secret matches; :class:`AuthenticationError`
    otherwise."""
    with session_scope(engine) as session:
        client = session.scalar(select(Client).where(Client.client_id == client_id.strip()))
    ok = verify_secret(secret, client.secret_hash if client is not None else None)
    if client is None or not ok or client.disabled:
        raise AuthenticationError()
    return Identity("client", client.client_id, client.role, client.scope_bin)
