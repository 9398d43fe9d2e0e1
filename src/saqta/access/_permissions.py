"""Permissions, and the grants that give them to roles (rows of ``access_grants``).

Deny by default: a permission that no grant gives to a role is refused to that role, and every
interface asks :meth:`Grants.allows` before it answers. The migration seeds the grants below;
the Fund changes them in the system of record (``saqta users grant`` / ``revoke``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import Engine, delete, select

from saqta.access._models import Grant, Role
from saqta.core.errors import InputError
from saqta.store.db import session_scope


class Permission(enum.StrEnum):
    """Everything an interface can be asked to do on someone's behalf."""

    ELIGIBILITY_CHECK = "eligibility.check"
    """Is a person insured on a day, and until when (the minimal answer)."""
    ELIGIBILITY_FULL = "eligibility.full"
    """The full answer: basis, category, payments, death date; unknown persons are told apart."""
    PERSON_EXPLAIN = "person.explain"
    """A person's status explained month by month, from the register and the payments."""
    FILINGS_READ = "prudential.filings.read"
    """Prudential filings: a branch officer its own branch's, a regulator every branch's."""
    FILINGS_FILE = "prudential.filings.file"
    """File or correct a branch's monthly report (the branch officer signs)."""
    REFUND_REQUEST = "refunds.request"
    REFUND_CHECK = "refunds.check"
    REFUND_APPROVE = "refunds.approve"
    REFUND_PAY = "refunds.pay"
    AUDIT_READ = "audit.read"
    """Query the audit log ("who looked at me?")."""
    ACCESS_ADMIN = "access.admin"
    """Manage users, clients and grants."""


PUBLIC = "public"
"""What a route declares when it needs no identity (health, API documentation, token issue)."""

DEFAULT_GRANTS: Mapping[Permission, frozenset[Role]] = {
    Permission.ELIGIBILITY_CHECK: frozenset(
        {Role.PROVIDER, Role.OPERATOR, Role.FUND_ANALYST, Role.EXPERT, Role.HEAD_EXPERT}
    ),
    Permission.ELIGIBILITY_FULL: frozenset(
        {Role.OPERATOR, Role.FUND_ANALYST, Role.EXPERT, Role.HEAD_EXPERT}
    ),
    Permission.PERSON_EXPLAIN: frozenset(
        {Role.OPERATOR, Role.FUND_ANALYST, Role.EXPERT, Role.HEAD_EXPERT}
    ),
    Permission.FILINGS_READ: frozenset({Role.BRANCH_OFFICER, Role.REGULATOR}),
    Permission.FILINGS_FILE: frozenset({Role.BRANCH_OFFICER}),
    Permission.REFUND_REQUEST: frozenset({Role.OPERATOR, Role.EXPERT}),
    Permission.REFUND_CHECK: frozenset({Role.EXPERT, Role.HEAD_EXPERT}),
    Permission.REFUND_APPROVE: frozenset({Role.HEAD_EXPERT}),
    Permission.REFUND_PAY: frozenset({Role.FUND_ANALYST, Role.HEAD_EXPERT}),
    Permission.AUDIT_READ: frozenset({Role.ADMIN}),
    Permission.ACCESS_ADMIN: frozenset({Role.ADMIN}),
}
"""The grants the migration seeds (the migration holds its own copy; a test compares them)."""


@dataclass(frozen=True)
class Grants:
    """A snapshot of the grants table: which roles hold which permission."""

    by_permission: Mapping[str, frozenset[Role]]

    def allows(self, role: Role | None, permission: Permission | str) -> bool:
        """True only when a grant gives ``permission`` to ``role`` (deny by default)."""
        if role is None:
            return False
        return role in self.by_permission.get(str(permission), frozenset())

    def rows(self) -> list[tuple[str, Role]]:
        return sorted(
            ((p, r) for p, roles in self.by_permission.items() for r in roles),
            key=lambda pr: (pr[0], pr[1].value),
        )

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, Role]]) -> Grants:
        table: dict[str, set[Role]] = {}
        for permission, role in pairs:
            table.setdefault(permission, set()).add(role)
        return cls({p: frozenset(r) for p, r in table.items()})


def load_grants(engine: Engine) -> Grants:
    """The grants as the system of record holds them now."""
    with session_scope(engine) as session:
        return Grants.of((g.permission, g.role) for g in session.scalars(select(Grant)))


def _permission(name: str) -> Permission:
    try:
        return Permission(name)
    except ValueError:
        known = ", ".join(p.value for p in Permission)
        raise InputError(f"unknown permission (known: {known})", where=name) from None


def grant(engine: Engine, permission: str, role: Role) -> bool:
    """Give ``permission`` to ``role``; False when it already had it."""
    name = _permission(permission).value
    with session_scope(engine) as session:
        if session.get(Grant, (name, role)) is not None:
            return False
        session.add(Grant(permission=name, role=role))
    return True


def revoke(engine: Engine, permission: str, role: Role) -> bool:
    """Take ``permission`` from ``role``; False when it did not have it."""
    name = _permission(permission).value
    with session_scope(engine) as session:
        result = session.execute(
            delete(Grant).where(Grant.permission == name, Grant.role == role)
        )
        return bool(getattr(result, "rowcount", 0))
