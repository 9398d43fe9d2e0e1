"""Initial schema: regions, providers and the audit record of runs.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Written by hand. Every constraint is named explicitly (``op.f`` marks a final name) so the names
are the same on SQLite and PostgreSQL. Statuses are non-native enums: a ``VARCHAR(16)`` with a
named ``CHECK`` constraint, identical on both databases.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "regions",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("name_kk", sa.String(length=200), nullable=False),
        sa.Column("name_ru", sa.String(length=200), nullable=False),
        sa.Column("established_on", sa.Date(), nullable=True),
        sa.Column("reporting_region_code", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["reporting_region_code"],
            ["regions.code"],
            name=op.f("fk_regions_reporting_region_code_regions"),
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_regions")),
    )

    op.create_table(
        "providers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("bin", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("region_code", sa.String(length=16), nullable=False),
        sa.Column(
            "ownership",
            sa.Enum(
                "state",
                "private",
                name=op.f("ck_providers_ownership"),
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("primary_care", sa.Boolean(), nullable=False),
        sa.Column("included_on", sa.Date(), nullable=False),
        sa.Column("excluded_on", sa.Date(), nullable=True),
        sa.CheckConstraint("length(bin) = 12", name=op.f("ck_providers_bin_length")),
        sa.CheckConstraint(
            "excluded_on IS NULL OR excluded_on >= included_on",
            name=op.f("ck_providers_period"),
        ),
        sa.ForeignKeyConstraint(
            ["region_code"], ["regions.code"], name=op.f("fk_providers_region_code_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_providers")),
        sa.UniqueConstraint("bin", name=op.f("uq_providers_bin")),
    )
    op.create_index(op.f("ix_providers_region_code"), "providers", ["region_code"], unique=False)

    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "running",
                "succeeded",
                "failed",
                name=op.f("ck_runs_status"),
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("inputs", _JSON, nullable=False),
        sa.Column("rules_version", sa.String(length=64), nullable=False),
        sa.Column("code_version", sa.String(length=64), nullable=False),
        sa.Column("summary", _JSON, nullable=True),
        sa.CheckConstraint(
            "finished_at IS NULL OR finished_at >= started_at",
            name=op.f("ck_runs_finished_after_started"),
        ),
        sa.CheckConstraint(
            "(status = 'running' AND finished_at IS NULL)"
            " OR (status <> 'running' AND finished_at IS NOT NULL)",
            name=op.f("ck_runs_finished_when_done"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )


def downgrade() -> None:
    op.drop_table("runs")
    op.drop_index(op.f("ix_providers_region_code"), table_name="providers")
    op.drop_table("providers")
    op.drop_table("regions")
