"""Access control: users, clients, grants (permissions as data), the append-only audit.

Revision ID: 0004_access
Revises: 0003

Written by hand: every constraint is named. The grants seeded here are the defaults (a test
compares them with ``saqta.access.DEFAULT_GRANTS``); the Fund changes them as rows. The audit is
append-only: triggers refuse ``UPDATE`` and ``DELETE`` (and ``TRUNCATE`` on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_access"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES = (
    "fund_analyst",
    "expert",
    "head_expert",
    "operator",
    "provider",
    "branch_officer",
    "regulator",
    "admin",
)
SCOPE_CHECK = (
    "(role IN ('provider', 'branch_officer') AND scope_bin IS NOT NULL AND length(scope_bin) = 12)"
    " OR (role NOT IN ('provider', 'branch_officer') AND scope_bin IS NULL)"
)
AUDIT_MESSAGE = "the audit log is append-only"

SEED_GRANTS = {
    "eligibility.check": ("provider", "operator", "fund_analyst", "expert", "head_expert"),
    "eligibility.full": ("operator", "fund_analyst", "expert", "head_expert"),
    "person.explain": ("operator", "fund_analyst", "expert", "head_expert"),
    "prudential.filings.read": ("branch_officer", "regulator"),
    "prudential.filings.file": ("branch_officer",),
    "refunds.request": ("operator", "expert"),
    "refunds.check": ("expert", "head_expert"),
    "refunds.approve": ("head_expert",),
    "refunds.pay": ("fund_analyst", "head_expert"),
    "audit.read": ("admin",),
    "access.admin": ("admin",),
}


def _role(table: str) -> sa.Enum:
    return sa.Enum(
        *ROLES, name=op.f(f"ck_{table}_role"), native_enum=False, create_constraint=True, length=16
    )


def upgrade() -> None:
    op.create_table(
        "access_users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("display_name", sa.String(length=300), nullable=False),
        sa.Column("password_hash", sa.String(length=300), nullable=True),
        sa.Column("role", _role("access_users"), nullable=False),
        sa.Column("scope_bin", sa.String(length=12), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(SCOPE_CHECK, name=op.f("ck_access_users_scope")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_users")),
        sa.UniqueConstraint("username", name=op.f("uq_access_users_username")),
    )
    op.create_table(
        "access_clients",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("secret_hash", sa.String(length=300), nullable=False),
        sa.Column("role", _role("access_clients"), nullable=False),
        sa.Column("scope_bin", sa.String(length=12), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(SCOPE_CHECK, name=op.f("ck_access_clients_scope")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_clients")),
        sa.UniqueConstraint("client_id", name=op.f("uq_access_clients_client_id")),
    )
    grants = op.create_table(
        "access_grants",
        sa.Column("permission", sa.String(length=64), nullable=False),
        sa.Column("role", _role("access_grants"), nullable=False),
        sa.PrimaryKeyConstraint("permission", "role", name=op.f("pk_access_grants")),
    )
    op.bulk_insert(
        grants,
        [
            {"permission": permission, "role": role}
            for permission, roles in SEED_GRANTS.items()
            for role in roles
        ],
    )
    op.create_table(
        "access_audit",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("principal", sa.String(length=120), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=True),
        sa.Column("interface", sa.String(length=8), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject_iin", sa.String(length=12), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_audit")),
    )
    op.create_index("ix_access_audit_subject_at", "access_audit", ["subject_iin", "at"])
    op.create_index("ix_access_audit_principal_at", "access_audit", ["principal", "at"])
    _create_audit_triggers()


def _create_audit_triggers() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION saqta_refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{AUDIT_MESSAGE}' "
            "USING ERRCODE = 'integrity_constraint_violation'; END $$"
        )
        op.execute(
            "CREATE TRIGGER trg_access_audit_append_only BEFORE UPDATE OR DELETE ON access_audit "
            "FOR EACH ROW EXECUTE FUNCTION saqta_refuse_audit_change()"
        )
        op.execute(
            "CREATE TRIGGER trg_access_audit_no_truncate BEFORE TRUNCATE ON access_audit "
            "FOR EACH STATEMENT EXECUTE FUNCTION saqta_refuse_audit_change()"
        )
    elif dialect == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER trg_access_audit_no_{action.lower()} BEFORE {action} "
                f"ON access_audit BEGIN SELECT RAISE(ABORT, '{AUDIT_MESSAGE}'); END"
            )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS trg_access_audit_append_only ON access_audit")
        op.execute("DROP TRIGGER IF EXISTS trg_access_audit_no_truncate ON access_audit")
        op.execute("DROP FUNCTION IF EXISTS saqta_refuse_audit_change()")
    elif dialect == "sqlite":
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS trg_access_audit_no_{action}")
    op.drop_index("ix_access_audit_principal_at", table_name="access_audit")
    op.drop_index("ix_access_audit_subject_at", table_name="access_audit")
    op.drop_table("access_audit")
    op.drop_table("access_grants")
    op.drop_table("access_clients")
    op.drop_table("access_users")
