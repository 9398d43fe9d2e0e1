"""MSHI: retries of quarantined rows (``mshi_retries``) and the quarantine's history columns.

Revision ID: 0005_formats
Revises: 0004_access

Written by hand, every constraint named explicitly (see 0001). SQLite cannot add a foreign key
to an existing table, so the quarantine's columns are added in batch mode (the table is copied
on SQLite, altered in place on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005_formats"
down_revision: str | Sequence[str] | None = "0004_access"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "mshi_retries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("retried_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rows_read", sa.BigInteger(), nullable=False),
        sa.Column("rows_accepted", sa.BigInteger(), nullable=False),
        sa.Column("rows_quarantined", sa.BigInteger(), nullable=False),
        sa.Column("lake_transaction", sa.String(length=64), nullable=False),
        sa.Column("lake_files", _JSON, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "rows_read = rows_accepted + rows_quarantined",
            name=op.f("ck_mshi_retries_rows_reconcile"),
        ),
        sa.ForeignKeyConstraint(
            ["import_id"], ["mshi_imports.id"], name=op.f("fk_mshi_retries_import_id_mshi_imports")
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_mshi_retries_run_id_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mshi_retries")),
        sa.UniqueConstraint("lake_transaction", name=op.f("uq_mshi_retries_lake_transaction")),
    )
    op.create_index(op.f("ix_mshi_retries_import_id"), "mshi_retries", ["import_id"], unique=False)
    op.create_index(op.f("ix_mshi_retries_run_id"), "mshi_retries", ["run_id"], unique=False)
    with op.batch_alter_table("mshi_quarantine") as batch:
        batch.add_column(sa.Column("retry_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("resolved_by", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("resolution", sa.String(length=20), nullable=True))
        batch.create_foreign_key(
            op.f("fk_mshi_quarantine_retry_id_mshi_retries"), "mshi_retries", ["retry_id"], ["id"]
        )
        batch.create_foreign_key(
            op.f("fk_mshi_quarantine_resolved_by_mshi_retries"),
            "mshi_retries",
            ["resolved_by"],
            ["id"],
        )
        batch.create_index(op.f("ix_mshi_quarantine_resolved_by"), ["resolved_by"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("mshi_quarantine") as batch:
        batch.drop_index(op.f("ix_mshi_quarantine_resolved_by"))
        batch.drop_constraint(
            op.f("fk_mshi_quarantine_resolved_by_mshi_retries"), type_="foreignkey"
        )
        batch.drop_constraint(op.f("fk_mshi_quarantine_retry_id_mshi_retries"), type_="foreignkey")
        batch.drop_column("resolution")
        batch.drop_column("resolved_by")
        batch.drop_column("retry_id")
    op.drop_index(op.f("ix_mshi_retries_run_id"), table_name="mshi_retries")
    op.drop_index(op.f("ix_mshi_retries_import_id"), table_name="mshi_retries")
    op.drop_table("mshi_retries")
