"""Tables of the system of record, as SQLAlchemy 2 typed declarative models.

The models are the single description of the schema in Python; the Alembic migrations in
``saqta/store/migrations/versions`` create the same tables by hand (a test compares the two).

Conventions that every model follows:

- constraint and index names come from :data:`NAMING_CONVENTION`, so they are the same on SQLite
  and PostgreSQL and migrations can refer to them by name;
- statuses are Python :class:`enum.Enum` classes stored as their *value* (``"state"``, not
  ``"STATE"``) in a ``VARCHAR`` guarded by a named ``CHECK`` constraint (non-native enums), so
  both databases accept exactly the same values and adding a value needs no ``ALTER TYPE``;
- timestamps are timezone-aware: :class:`UtcDateTime` refuses naive datetimes, stores UTC and
  always gives back an aware UTC datetime, also on SQLite which has no time zone support;
- money columns are ``Numeric(18, 2)`` read back as :class:`decimal.Decimal` (see :data:`Money`).
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    TypeDecorator,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from saqta.core.errors import StoreError

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Names of constraints and indexes, identical on every database."""

ENUM_LENGTH = 16
"""Width of the ``VARCHAR`` that holds a non-native enum value (room for values added later)."""

Money = Numeric(18, 2, asdecimal=True)
"""The column type of every amount of money: 16 digits of tenge and 2 of tiyn, read as Decimal."""

JsonDocument = JSON().with_variant(JSONB(), "postgresql")
"""A JSON document: ``JSONB`` on PostgreSQL (comparable, indexable), ``JSON`` text on SQLite."""


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp, stored in UTC, always read back as an aware UTC datetime.

    Binding a naive datetime raises ``ValueError``: the database must never have to guess a zone.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused: give a time zone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:  # SQLite keeps no zone; what we stored was UTC
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _enum_values(enum_class: type[enum.Enum]) -> list[str]:
    return [str(member.value) for member in enum_class]


def value_enum(enum_class: type[enum.Enum], name: str) -> SAEnum:
    """A non-native enum column type storing ``member.value``, checked by ``ck_<table>_<name>``."""
    return SAEnum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=ENUM_LENGTH,
        values_callable=_enum_values,
        validate_strings=True,
    )


class Ownership(enum.Enum):
    """Who owns a healthcare provider."""

    STATE = "state"
    PRIVATE = "private"


class RunStatus(enum.Enum):
    """Where a batch run is: running until it finishes as succeeded or failed."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Base(DeclarativeBase):
    """Base of every model; its metadata carries :data:`NAMING_CONVENTION`."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Region(Base):
    """A region (oblast) or city of republican significance, e.g. ``ALA`` for Almaty.

    ``reporting_region_code`` is the region whose figures a newer region was reported under
    before it existed (Abai under East Kazakhstan before 2022, for instance).
    """

    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name_en: Mapped[str] = mapped_column(String(200))
    name_kk: Mapped[str] = mapped_column(String(200))
    name_ru: Mapped[str] = mapped_column(String(200))
    established_on: Mapped[date | None] = mapped_column(Date)
    reporting_region_code: Mapped[str | None] = mapped_column(
        String(16), ForeignKey("regions.code")
    )

    def __repr__(self) -> str:
        return f"Region(code={self.code!r}, name_en={self.name_en!r})"


class Provider(Base):
    """A healthcare provider contracted by the Fund, identified by its 12-digit BIN."""

    __tablename__ = "providers"
    __table_args__ = (
        CheckConstraint("length(bin) = 12", name="bin_length"),
        CheckConstraint("excluded_on IS NULL OR excluded_on >= included_on", name="period"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    bin: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(500))
    region_code: Mapped[str] = mapped_column(String(16), ForeignKey("regions.code"), index=True)
    ownership: Mapped[Ownership] = mapped_column(value_enum(Ownership, "ownership"))
    primary_care: Mapped[bool] = mapped_column(Boolean)
    included_on: Mapped[date] = mapped_column(Date)
    excluded_on: Mapped[date | None] = mapped_column(Date)

    def __repr__(self) -> str:
        return f"Provider(id={self.id!r}, bin={self.bin!r}, name={self.name!r})"


class Run(Base):
    """The audit record of one batch run: what ran, on which inputs, with which rules and code.

    ``inputs`` maps each input name to the SHA-256 (hex) of its content; ``summary`` is a free
    JSON document the run writes when it finishes. A run is ``running`` exactly while
    ``finished_at`` is empty (a check constraint enforces it).
    """

    __tablename__ = "runs"
    __table_args__ = (
        CheckConstraint(
            "finished_at IS NULL OR finished_at >= started_at", name="finished_after_started"
        ),
        CheckConstraint(
            "(status = 'running' AND finished_at IS NULL)"
            " OR (status <> 'running' AND finished_at IS NOT NULL)",
            name="finished_when_done",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    status: Mapped[RunStatus] = mapped_column(value_enum(RunStatus, "status"))
    inputs: Mapped[dict[str, str]] = mapped_column(JsonDocument)
    rules_version: Mapped[str] = mapped_column(String(64))
    code_version: Mapped[str] = mapped_column(String(64))
    summary: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)

    def __repr__(self) -> str:
        return f"Run(id={self.id!r}, kind={self.kind!r}, status={self.status!r})"


MODEL_ENTRY_POINTS = "saqta.models"
"""The entry-point group through which the bounded contexts declare their tables on :class:`Base`
(``pyproject.toml``, one module per context): the store finds them without importing upward."""


def load_all_models() -> MetaData:
    """Import every module that declares tables and return the complete metadata."""
    from importlib.metadata import entry_points

    found = entry_points(group=MODEL_ENTRY_POINTS)
    if not found:
        raise StoreError(
            "no tables are registered by the installed package; reinstall Saqta (./scripts/setup)",
            where=f"entry points {MODEL_ENTRY_POINTS}",
        )
    for entry in found:
        entry.load()
    return Base.metadata
