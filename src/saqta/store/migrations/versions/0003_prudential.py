"""Prudential tables: branches, filings and their versions, the regulator's intake.

Revision ID: 0003
Revises: 0002

Written by hand, like 0001: every constraint is named. Filed versions and receipts are immutable:
triggers refuse ``UPDATE`` and ``DELETE`` on them (and ``TRUNCATE`` on PostgreSQL). A later
migration that rebuilds one of these tables on SQLite (batch mode) must create its triggers again.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

IMMUTABLE_TABLES = ("prudential_filed_versions", "prudential_receipts")
IMMUTABLE_MESSAGE = "filed versions and receipts are immutable: record a correction instead"


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=op.f(name), native_enum=False, create_constraint=True, length=16)


def upgrade() -> None:
    op.create_table(
        "prudential_filed_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("branch_bin", sa.String(length=12), nullable=False),
        sa.Column("branch_name", sa.String(length=500), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("replaces_id", sa.Integer(), nullable=True),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signer", sa.String(length=300), nullable=False),
        sa.Column("rules_version", sa.String(length=64), nullable=False),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("findings", _JSON, nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("warning_count", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "version >= 1", name=op.f("ck_prudential_filed_versions_version_positive")
        ),
        sa.CheckConstraint(
            "(version = 1 AND replaces_id IS NULL) OR (version > 1 AND replaces_id IS NOT NULL)",
            name=op.f("ck_prudential_filed_versions_correction_links"),
        ),
        sa.CheckConstraint(
            "length(branch_bin) = 12", name=op.f("ck_prudential_filed_versions_bin_length")
        ),
        sa.CheckConstraint(
            "length(period) = 7 AND substr(period, 5, 1) = '-'",
            name=op.f("ck_prudential_filed_versions_period_format"),
        ),
        sa.CheckConstraint(
            "length(payload_sha256) = 64", name=op.f("ck_prudential_filed_versions_sha256_length")
        ),
        sa.CheckConstraint(
            "error_count >= 0 AND warning_count >= 0",
            name=op.f("ck_prudential_filed_versions_counts"),
        ),
        sa.ForeignKeyConstraint(
            ["replaces_id"],
            ["prudential_filed_versions.id"],
            name="fk_prudential_filed_versions_replaces",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prudential_filed_versions")),
        sa.UniqueConstraint("branch_bin", "period", "version", name="uq_prudential_filed_versions"),
        sa.UniqueConstraint("replaces_id", name="uq_prudential_filed_versions_replaces_id"),
    )
    op.create_index(
        "ix_prudential_filed_versions_branch_period",
        "prudential_filed_versions",
        ["branch_bin", "period"],
        unique=False,
    )

    op.create_table(
        "prudential_registered_branches",
        sa.Column("bin", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column(
            "line",
            _enum("ck_prudential_registered_branches_line", "general", "life"),
            nullable=False,
        ),
        sa.Column("expected_from", sa.String(length=7), nullable=False),
        sa.Column("expected_to", sa.String(length=7), nullable=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "registered_by",
            _enum("ck_prudential_registered_branches_registered_by", "operator", "intake"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "length(bin) = 12", name=op.f("ck_prudential_registered_branches_bin_length")
        ),
        sa.CheckConstraint(
            "length(expected_from) = 7 AND substr(expected_from, 5, 1) = '-'",
            name=op.f("ck_prudential_registered_branches_from_format"),
        ),
        sa.CheckConstraint(
            "expected_to IS NULL OR expected_to >= expected_from",
            name=op.f("ck_prudential_registered_branches_expected_range"),
        ),
        sa.PrimaryKeyConstraint("bin", name=op.f("pk_prudential_registered_branches")),
    )

    op.create_table(
        "prudential_receipts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_name", sa.String(length=500), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "status",
            _enum("ck_prudential_receipts_status", "accepted", "rejected"),
            nullable=False,
        ),
        sa.Column("branch_bin", sa.String(length=12), nullable=True),
        sa.Column("period", sa.String(length=7), nullable=True),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("payload_sha256", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("replaces_id", sa.Integer(), nullable=True),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("days_late", sa.Integer(), nullable=True),
        sa.Column("findings", _JSON, nullable=False),
        sa.Column("sender_error_count", sa.Integer(), nullable=True),
        sa.Column("rules_version", sa.String(length=64), nullable=False),
        sa.CheckConstraint(
            "status <> 'accepted' OR (branch_bin IS NOT NULL AND period IS NOT NULL"
            " AND payload IS NOT NULL AND version IS NOT NULL AND deadline IS NOT NULL"
            " AND days_late IS NOT NULL)",
            name=op.f("ck_prudential_receipts_accepted_complete"),
        ),
        sa.CheckConstraint(
            "status = 'accepted' OR (version IS NULL AND replaces_id IS NULL)",
            name=op.f("ck_prudential_receipts_rejected_unversioned"),
        ),
        sa.CheckConstraint(
            "version IS NULL OR (version = 1 AND replaces_id IS NULL)"
            " OR (version > 1 AND replaces_id IS NOT NULL)",
            name=op.f("ck_prudential_receipts_correction_links"),
        ),
        sa.CheckConstraint(
            "days_late IS NULL OR days_late >= 0", name=op.f("ck_prudential_receipts_days_late")
        ),
        sa.CheckConstraint(
            "length(content_sha256) = 64", name=op.f("ck_prudential_receipts_sha256_length")
        ),
        sa.ForeignKeyConstraint(
            ["replaces_id"], ["prudential_receipts.id"], name="fk_prudential_receipts_replaces"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prudential_receipts")),
        sa.UniqueConstraint("content_sha256", name="uq_prudential_receipts_content_sha256"),
        sa.UniqueConstraint(
            "branch_bin", "period", "version", name="uq_prudential_receipts_version"
        ),
        sa.UniqueConstraint("replaces_id", name="uq_prudential_receipts_replaces_id"),
    )
    op.create_index(
        "ix_prudential_receipts_period_branch",
        "prudential_receipts",
        ["period", "branch_bin"],
        unique=False,
    )
    _create_immutability_triggers()


def _create_immutability_triggers() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION saqta_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '%: {IMMUTABLE_MESSAGE}', TG_TABLE_NAME "
            "USING ERRCODE = 'integrity_constraint_violation'; END $$"
        )
        for table in IMMUTABLE_TABLES:
            op.execute(
                f"CREATE TRIGGER trg_{table}_immutable BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION saqta_refuse_change()"
            )
            op.execute(
                f"CREATE TRIGGER trg_{table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION saqta_refuse_change()"
            )
    elif dialect == "sqlite":
        for table in IMMUTABLE_TABLES:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER trg_{table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table}: {IMMUTABLE_MESSAGE}'); END"
                )


def _drop_immutability_triggers() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for table in IMMUTABLE_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_immutable ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS saqta_refuse_change()")
    elif dialect == "sqlite":
        for table in IMMUTABLE_TABLES:
            for action in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_no_{action}")


def downgrade() -> None:
    _drop_immutability_triggers()
    op.drop_index("ix_prudential_receipts_period_branch", table_name="prudential_receipts")
    op.drop_table("prudential_receipts")
    op.drop_table("prudential_registered_branches")
    op.drop_index(
        "ix_prudential_filed_versions_branch_period", table_name="prudential_filed_versions"
    )
    op.drop_table("prudential_filed_versions")
