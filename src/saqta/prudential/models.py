"""Tables of the system of record that belong to `saqta.prudential` (on the shared `Base`).

Two sides share one schema here, as they would share one design in two deployments:

- the **branch's filing history** (:class:`FiledVersion`): every version of a month's report that
  the branch filed, with its canonical payload, SHA-256, signer, rule-set version and validation
  results; a correction links to the version it replaces;
- the **regulator's register and intake** (:class:`RegisteredBranch`, :class:`Receipt`): the
  branches the National Bank expects to file, and every file it received, accepted or rejected,
  with arrival time, lateness and findings; an accepted correction links to the version it
  replaces.

Filed versions and receipts are **never edited in place**: the code has no update path, an ORM
guard refuses a flush that would change or delete one (:func:`_refuse_changes`), and the migration
installs database triggers that refuse ``UPDATE`` and ``DELETE`` on both tables (SQLite and
PostgreSQL). Which version is current is derived (the one no other version replaces), never stored.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from saqta.core.errors import StoreError
from saqta.store.models import Base, JsonDocument, UtcDateTime, value_enum

IMMUTABLE_MESSAGE = "filed versions and receipts are immutable: record a correction instead"
"""What the database triggers and the ORM guard say when a change is attempted."""


class BranchLine(enum.Enum):
    """The line of business a branch reports its minimum solvency margin for (1-PN_O or 1-PN_Z)."""

    GENERAL = "general"
    LIFE = "life"


class RegisteredBy(enum.Enum):
    """How a branch came onto the regulator's register."""

    OPERATOR = "operator"  # added or imported by the regulator's staff
    INTAKE = "intake"  # registered from its first filing (``intake --register-unknown``)


class ReceiptStatus(enum.Enum):
    """The regulator's decision on a received file."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"


_PERIOD_CHECK = "length({col}) = 7 AND substr({col}, 5, 1) = '-'"


class FiledVersion(Base):
    """One version of a branch's monthly report as the branch filed it (branch side).

    ``payload`` is the canonical JSON of the :class:`~saqta.prudential.report.ReportSet`
    (:func:`saqta.prudential.filings.canonical_json`) and ``payload_sha256`` its SHA-256.
    ``version`` counts from 1 per branch and month; version ``n > 1`` replaces version ``n - 1``
    (``replaces_id``), and a version is replaced at most once, so the history is a chain.
    ``filed_at`` is when it was filed (it may be given when history is replayed); ``recorded_at``
    is when this row was written.
    """

    __tablename__ = "prudential_filed_versions"
    __table_args__ = (
        UniqueConstraint("branch_bin", "period", "version", name="uq_prudential_filed_versions"),
        UniqueConstraint("replaces_id", name="uq_prudential_filed_versions_replaces_id"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint(
            "(version = 1 AND replaces_id IS NULL) OR (version > 1 AND replaces_id IS NOT NULL)",
            name="correction_links",
        ),
        CheckConstraint("length(branch_bin) = 12", name="bin_length"),
        CheckConstraint(_PERIOD_CHECK.format(col="period"), name="period_format"),
        CheckConstraint("length(payload_sha256) = 64", name="sha256_length"),
        CheckConstraint("error_count >= 0 AND warning_count >= 0", name="counts"),
        Index("ix_prudential_filed_versions_branch_period", "branch_bin", "period"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    branch_bin: Mapped[str] = mapped_column(String(12))
    branch_name: Mapped[str] = mapped_column(String(500))
    period: Mapped[str] = mapped_column(String(7))
    version: Mapped[int] = mapped_column(Integer)
    replaces_id: Mapped[int | None] = mapped_column(
        Integer,
        ForeignKey("prudential_filed_versions.id", name="fk_prudential_filed_versions_replaces"),
    )
    filed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    signer: Mapped[str] = mapped_column(String(300))
    rules_version: Mapped[str] = mapped_column(String(64))
    payload_sha256: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument)
    error_count: Mapped[int] = mapped_column(Integer)
    warning_count: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)

    def __repr__(self) -> str:
        return (
            f"FiledVersion(id={self.id!r}, bin={self.branch_bin!r}, period={self.period!r}, "
            f"version={self.version!r})"
        )


class RegisteredBranch(Base):
    """A branch the regulator expects to file, from ``expected_from`` to ``expected_to``
    (reporting months, inclusive; open when ``expected_to`` is empty)."""

    __tablename__ = "prudential_registered_branches"
    __table_args__ = (
        CheckConstraint("length(bin) = 12", name="bin_length"),
        CheckConstraint(_PERIOD_CHECK.format(col="expected_from"), name="from_format"),
        CheckConstraint(
            "expected_to IS NULL OR expected_to >= expected_from", name="expected_range"
        ),
    )

    bin: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(500))
    line: Mapped[BranchLine] = mapped_column(value_enum(BranchLine, "line"))
    expected_from: Mapped[str] = mapped_column(String(7))
    expected_to: Mapped[str | None] = mapped_column(String(7))
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime)
    registered_by: Mapped[RegisteredBy] = mapped_column(value_enum(RegisteredBy, "registered_by"))

    def expects(self, period: str) -> bool:
        """Whether the branch must file for ``period`` (``YYYY-MM``)."""
        return self.expected_from <= period and (
            self.expected_to is None or period <= self.expected_to
        )

    def __repr__(self) -> str:
        return f"RegisteredBranch(bin={self.bin!r}, name={self.name!r})"


class Receipt(Base):
    """One file the regulator received, with its decision (regulator side).

    ``content`` holds the bytes exactly as received and ``content_sha256`` their SHA-256, unique:
    the same file received again is recognised and not recorded twice. When the file could be
    read as a report, ``branch_bin``, ``period`` and the canonical ``payload`` are kept, also for
    a rejected one. An accepted receipt has a ``version`` (from 1 per branch and month) and
    ``replaces_id`` points at the accepted version it corrects. ``deadline`` and ``days_late``
    (calendar days after the deadline, 0 when on time) are computed on arrival from
    ``received_at`` in Kazakhstan's time zone. ``findings`` are the regulator's own: the cross-form
    validation is re-run on the received forms; ``sender_error_count`` is what the sender claimed.
    """

    __tablename__ = "prudential_receipts"
    __table_args__ = (
        UniqueConstraint("content_sha256", name="uq_prudential_receipts_content_sha256"),
        UniqueConstraint("branch_bin", "period", "version", name="uq_prudential_receipts_version"),
        UniqueConstraint("replaces_id", name="uq_prudential_receipts_replaces_id"),
        CheckConstraint(
            "status <> 'accepted' OR (branch_bin IS NOT NULL AND period IS NOT NULL"
            " AND payload IS NOT NULL AND version IS NOT NULL AND deadline IS NOT NULL"
            " AND days_late IS NOT NULL)",
            name="accepted_complete",
        ),
        CheckConstraint(
            "status = 'accepted' OR (version IS NULL AND replaces_id IS NULL)",
            name="rejected_unversioned",
        ),
        CheckConstraint(
            "version IS NULL OR (version = 1 AND replaces_id IS NULL)"
            " OR (version > 1 AND replaces_id IS NOT NULL)",
            name="correction_links",
        ),
        CheckConstraint("days_late IS NULL OR days_late >= 0", name="days_late"),
        CheckConstraint("length(content_sha256) = 64", name="sha256_length"),
        Index("ix_prudential_receipts_period_branch", "period", "branch_bin"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    source_name: Mapped[str] = mapped_column(String(500))
    format: Mapped[str] = mapped_column(String(8))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    content_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[ReceiptStatus] = mapped_column(value_enum(ReceiptStatus, "status"))
    branch_bin: Mapped[str | None] = mapped_column(String(12))
    period: Mapped[str | None] = mapped_column(String(7))
    payload: Mapped[str | None] = mapped_column(Text)
    payload_sha256: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int | None] = mapped_column(Integer)
    replaces_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("prudential_receipts.id", name="fk_prudential_receipts_replaces")
    )
    deadline: Mapped[date | None] = mapped_column(Date)
    days_late: Mapped[int | None] = mapped_column(Integer)
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument)
    sender_error_count: Mapped[int | None] = mapped_column(Integer)
    rules_version: Mapped[str] = mapped_column(String(64))

    def __repr__(self) -> str:
        return (
            f"Receipt(id={self.id!r}, status={self.status.value!r}, bin={self.branch_bin!r}, "
            f"period={self.period!r}, version={self.version!r})"
        )


IMMUTABLE_TABLES: tuple[str, ...] = (FiledVersion.__tablename__, Receipt.__tablename__)


@event.listens_for(Session, "before_flush")
def _refuse_changes(session: Session, flush_context: object, instances: object) -> None:
    """The ORM half of immutability: a flush that would update or delete a filed version or a
    receipt raises before any SQL is sent (the database triggers are the other half)."""
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, FiledVersion | Receipt) and (
            obj in session.deleted or session.is_modified(obj, include_collections=False)
        ):
            raise StoreError(IMMUTABLE_MESSAGE, where=repr(obj))
