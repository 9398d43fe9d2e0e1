"""Tables of access control: staff users, provider systems' clients, grants, the audit log.

The migration ``0004_access`` creates them by hand (a test compares both). The audit table is
append-only: the migration adds triggers that refuse ``UPDATE`` and ``DELETE`` (and
``TRUNCATE`` on PostgreSQL), and this package offers no call that changes a record.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from saqta.store.models import Base, UtcDateTime, value_enum


class Role(enum.Enum):
    """What a user or client is in the Fund's organisation; permissions are granted to roles."""

    FUND_ANALYST = "fund_analyst"
    EXPERT = "expert"
    HEAD_EXPERT = "head_expert"
    OPERATOR = "operator"
    PROVIDER = "provider"
    BRANCH_OFFICER = "branch_officer"
    REGULATOR = "regulator"
    ADMIN = "admin"

    @property
    def scoped(self) -> bool:
        """True for roles bound to one organisation by its BIN (a provider, a branch)."""
        return self in (Role.PROVIDER, Role.BRANCH_OFFICER)


_SCOPE_CHECK = (
    "(role IN ('provider', 'branch_officer') AND scope_bin IS NOT NULL AND length(scope_bin) = 12)"
    " OR (role NOT IN ('provider', 'branch_officer') AND scope_bin IS NULL)"
)


class User(Base):
    """A member of staff. ``password_hash`` is an Argon2 hash, or empty for a user who signs in
    only through the Fund's OpenID Connect provider."""

    __tablename__ = "access_users"
    __table_args__ = (CheckConstraint(_SCOPE_CHECK, name="scope"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(300))
    password_hash: Mapped[str | None] = mapped_column(String(300))
    role: Mapped[Role] = mapped_column(value_enum(Role, "role"))
    scope_bin: Mapped[str | None] = mapped_column(String(12))
    disabled: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Client(Base):
    """An information system calling with OAuth2 client credentials (a provider's, usually).

    Only the Argon2 hash of the secret is kept; the secret is shown once when made.
    """

    __tablename__ = "access_clients"
    __table_args__ = (CheckConstraint(_SCOPE_CHECK, name="scope"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    secret_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[Role] = mapped_column(value_enum(Role, "role"))
    scope_bin: Mapped[str | None] = mapped_column(String(12))
    disabled: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Grant(Base):
    """One permission granted to one role. A permission no row grants is denied to everyone."""

    __tablename__ = "access_grants"

    permission: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[Role] = mapped_column(value_enum(Role, "role"), primary_key=True)


class AuditRecord(Base):
    """One access to personal data (or to the audit log itself): who, when, through which
    interface, what, about whom, and how it ended. Never changed, never deleted."""

    __tablename__ = "access_audit"
    __table_args__ = (
        Index("ix_access_audit_subject_at", "subject_iin", "at"),
        Index("ix_access_audit_principal_at", "principal", "at"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    principal: Mapped[str] = mapped_column(String(120))
    role: Mapped[str | None] = mapped_column(String(32))
    interface: Mapped[str] = mapped_column(String(8))
    action: Mapped[str] = mapped_column(String(64))
    subject_iin: Mapped[str | None] = mapped_column(String(12))
    outcome: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(String(500))
