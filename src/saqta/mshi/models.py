"""Tables of the system of record that belong to `saqta.mshi` (declared on the shared `Base`).

- ``mshi_imports``: one row per file imported into the facts lake (persons register, state
  category periods, payments) with its SHA-256, its counts (read = accepted + quarantined), the
  lake transaction that holds its rows and the run that imported it. A file is imported once per
  kind: the same SHA-256 again is a no-op.
- ``mshi_quarantine``: every problem of every rejected row: file, row, field, reason, message;
  an entry found by a retry names it (``retry_id``), and an entry whose row a retry processed
  again is resolved (``resolved_by``, ``resolution``: ``accepted`` or ``quarantined_again``),
  never deleted.
- ``mshi_retries``: one row per retry of an import's quarantined rows (counts, lake transaction,
  run): ``rows_read`` of the import = its ``rows_accepted`` + the retries' ``rows_accepted`` +
  the rows still open in the quarantine.
- ``mshi_refunds`` and ``mshi_refund_events``: refunds of wrongly paid amounts and every
  transition of their lifecycle (who, when, from which state to which).

The Alembic migrations ``0002_mshi`` and ``0005_formats`` create the same tables (a test compares
them).
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from saqta.store.models import Base, JsonDocument, Money, UtcDateTime, value_enum


class ImportKind(enum.Enum):
    """What an imported file holds."""

    PERSONS = "persons"
    STATE_CATEGORIES = "state_categories"
    PAYMENTS = "payments"


class RefundStatus(enum.Enum):
    """Where a refund is in its lifecycle: requested → checked → approved or refused → paid."""

    REQUESTED = "requested"
    CHECKED = "checked"
    APPROVED = "approved"
    REFUSED = "refused"
    PAID = "paid"


class ImportedFile(Base):
    """One imported file: what it was, what came of its rows, where they went."""

    __tablename__ = "mshi_imports"
    __table_args__ = (
        UniqueConstraint("kind", "sha256", name="uq_mshi_imports_kind_sha256"),
        CheckConstraint("rows_read = rows_accepted + rows_quarantined", name="rows_reconcile"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[ImportKind] = mapped_column(value_enum(ImportKind, "kind"))
    sha256: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(String(1000))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime)
    rows_read: Mapped[int] = mapped_column(BigInteger)
    rows_accepted: Mapped[int] = mapped_column(BigInteger)
    rows_quarantined: Mapped[int] = mapped_column(BigInteger)
    lake_transaction: Mapped[str] = mapped_column(String(64), unique=True)
    lake_files: Mapped[list[str]] = mapped_column(JsonDocument)
    loaded_seq: Mapped[int | None] = mapped_column(BigInteger)
    run_id: Mapped[int] = mapped_column(Integer, ForeignKey("runs.id"), index=True)

    def __repr__(self) -> str:
        return f"ImportedFile(id={self.id!r}, kind={self.kind!r}, file_name={self.file_name!r})"


class ImportRetry(Base):
    """One retry of an import's quarantined rows: how many were read again, accepted, and
    quarantined again, the lake transaction of the accepted ones and the run."""

    __tablename__ = "mshi_retries"
    __table_args__ = (
        CheckConstraint("rows_read = rows_accepted + rows_quarantined", name="rows_reconcile"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    import_id: Mapped[int] = mapped_column(Integer, ForeignKey("mshi_imports.id"), index=True)
    retried_at: Mapped[datetime] = mapped_column(UtcDateTime)
    rows_read: Mapped[int] = mapped_column(BigInteger)
    rows_accepted: Mapped[int] = mapped_column(BigInteger)
    rows_quarantined: Mapped[int] = mapped_column(BigInteger)
    lake_transaction: Mapped[str] = mapped_column(String(64), unique=True)
    lake_files: Mapped[list[str]] = mapped_column(JsonDocument)
    run_id: Mapped[int] = mapped_column(Integer, ForeignKey("runs.id"), index=True)


class QuarantinedRow(Base):
    """One problem of a rejected input row (a row with two problems has two entries)."""

    __tablename__ = "mshi_quarantine"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    import_id: Mapped[int] = mapped_column(Integer, ForeignKey("mshi_imports.id"), index=True)
    row: Mapped[int] = mapped_column(BigInteger)
    field: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(32), index=True)
    message: Mapped[str] = mapped_column(String(500))
    value: Mapped[str | None] = mapped_column(String(200))
    retry_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("mshi_retries.id"), nullable=True
    )  # the retry that found the problem (null: the import)
    resolved_by: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("mshi_retries.id"), nullable=True, index=True
    )  # the retry that processed the row again (null: still open)
    resolution: Mapped[str | None] = mapped_column(String(20), nullable=True)


class Refund(Base):
    """A refund of a wrongly paid amount, tied to the accepted payment it gives back."""

    __tablename__ = "mshi_refunds"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("(status = 'paid') = (paid_on IS NOT NULL)", name="paid_on_when_paid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(String(64), index=True)
    payer_id: Mapped[str] = mapped_column(String(12))
    person_iin: Mapped[str] = mapped_column(String(12), index=True)
    period: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money)
    reason: Mapped[str] = mapped_column(String(1000))
    status: Mapped[RefundStatus] = mapped_column(value_enum(RefundStatus, "status"))
    requested_by: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime)
    paid_on: Mapped[date | None] = mapped_column(Date)

    def __repr__(self) -> str:
        return f"Refund(id={self.id!r}, reference={self.reference!r}, status={self.status!r})"


class RefundEvent(Base):
    """One transition of a refund: who moved it, when, from which state to which, and why."""

    __tablename__ = "mshi_refund_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    refund_id: Mapped[int] = mapped_column(Integer, ForeignKey("mshi_refunds.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    note: Mapped[str | None] = mapped_column(String(1000))
    lake_transaction: Mapped[str | None] = mapped_column(String(64), unique=True)
    details: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)
