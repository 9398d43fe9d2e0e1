"""MSHI tables: imported files, quarantine, refunds and their lifecycle events.

Revision ID: 0002
Revises: 0001

Written by hand, every constraint named explicitly (see 0001).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=op.f(name), native_enum=False, create_constraint=True, length=16)


def upgrade() -> None:
    op.create_table(
        "mshi_imports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(
            "kind",
            _enum("ck_mshi_imports_kind", "persons", "state_categories", "payments"),
            nullable=False,
        ),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.String(length=1000), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rows_read", sa.BigInteger(), nullable=False),
        sa.Column("rows_accepted", sa.BigInteger(), nullable=False),
        sa.Column("rows_quarantined", sa.BigInteger(), nullable=False),
        sa.Column("lake_transaction", sa.String(length=64), nullable=False),
        sa.Column("lake_files", _JSON, nullable=False),
        sa.Column("loaded_seq", sa.BigInteger(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "rows_read = rows_accepted + rows_quarantined",
            name=op.f("ck_mshi_imports_rows_reconcile"),
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_mshi_imports_run_id_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mshi_imports")),
        sa.UniqueConstraint("kind", "sha256", name=op.f("uq_mshi_imports_kind_sha256")),
        sa.UniqueConstraint("lake_transaction", name=op.f("uq_mshi_imports_lake_transaction")),
    )
    op.create_index(op.f("ix_mshi_imports_run_id"), "mshi_imports", ["run_id"], unique=False)

    op.create_table(
        "mshi_quarantine",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("row", sa.BigInteger(), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["mshi_imports.id"],
            name=op.f("fk_mshi_quarantine_import_id_mshi_imports"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mshi_quarantine")),
    )
    op.create_index(
        op.f("ix_mshi_quarantine_import_id"), "mshi_quarantine", ["import_id"], unique=False
    )
    op.create_index(op.f("ix_mshi_quarantine_reason"), "mshi_quarantine", ["reason"], unique=False)

    op.create_table(
        "mshi_refunds",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("payer_id", sa.String(length=12), nullable=False),
        sa.Column("person_iin", sa.String(length=12), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=False),
        sa.Column(
            "status",
            _enum("ck_mshi_refunds_status", "requested", "checked", "approved", "refused", "paid"),
            nullable=False,
        ),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=True),
        sa.CheckConstraint("amount > 0", name=op.f("ck_mshi_refunds_amount_positive")),
        sa.CheckConstraint(
            "(status = 'paid') = (paid_on IS NOT NULL)",
            name=op.f("ck_mshi_refunds_paid_on_when_paid"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mshi_refunds")),
    )
    op.create_index(op.f("ix_mshi_refunds_reference"), "mshi_refunds", ["reference"], unique=False)
    op.create_index(
        op.f("ix_mshi_refunds_person_iin"), "mshi_refunds", ["person_iin"], unique=False
    )

    op.create_table(
        "mshi_refund_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("refund_id", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=True),
        sa.Column("lake_transaction", sa.String(length=64), nullable=True),
        sa.Column("details", _JSON, nullable=True),
        sa.ForeignKeyConstraint(
            ["refund_id"],
            ["mshi_refunds.id"],
            name=op.f("fk_mshi_refund_events_refund_id_mshi_refunds"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mshi_refund_events")),
        sa.UniqueConstraint(
            "lake_transaction", name=op.f("uq_mshi_refund_events_lake_transaction")
        ),
    )
    op.create_index(
        op.f("ix_mshi_refund_events_refund_id"),
        "mshi_refund_events",
        ["refund_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_mshi_refund_events_refund_id"), table_name="mshi_refund_events")
    op.drop_table("mshi_refund_events")
    op.drop_index(op.f("ix_mshi_refunds_person_iin"), table_name="mshi_refunds")
    op.drop_index(op.f("ix_mshi_refunds_reference"), table_name="mshi_refunds")
    op.drop_table("mshi_refunds")
    op.drop_index(op.f("ix_mshi_quarantine_reason"), table_name="mshi_quarantine")
    op.drop_index(op.f("ix_mshi_quarantine_import_id"), table_name="mshi_quarantine")
    op.drop_table("mshi_quarantine")
    op.drop_index(op.f("ix_mshi_imports_run_id"), table_name="mshi_imports")
    op.drop_table("mshi_imports")
