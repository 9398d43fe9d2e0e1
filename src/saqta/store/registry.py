"""Reference data (regions, providers) and the audit record of runs in the system of record.

The upserts are idempotent: loading the same rows twice leaves exactly the same rows, and loading
changed rows updates them in place, matched by their natural key (a region's ``code``, a
provider's ``bin``). They use the database's own ``INSERT ... ON CONFLICT DO UPDATE``, so they
are safe against concurrent loads, and behave the same on SQLite and PostgreSQL.

Rows are checked before anything is written; a bad row raises :class:`InputError` naming the row
(1-based) and the field, and nothing of the batch is written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from saqta.core.errors import InputError, Problem, StoreError
from saqta.store.models import Ownership, Provider, Region, Run, RunStatus

__all__ = ["finish_run", "start_run", "upsert_providers", "upsert_regions"]

_CHUNK_ROWS = 500
"""Rows per INSERT statement: keeps under SQLite's limit of bound parameters per statement."""

_BIN = re.compile(r"\d{12}")
_CODE = re.compile(r"[A-Za-z0-9_-]{1,16}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


# --------------------------------------------------------------------------------------------
# Row checking


class _RowChecker:
    """Checks and converts the fields of one input row, collecting every problem found."""

    def __init__(self, what: str, index: int, row: Mapping[str, Any], allowed: set[str]) -> None:
        self.where = f"{what} row {index}"
        self.row = row
        self.problems: list[Problem] = []
        unknown = sorted(set(row) - allowed)
        if unknown:
            self.problem(
                f"unknown field(s) {', '.join(unknown)} (expected: {', '.join(sorted(allowed))})"
            )

    def problem(self, what: str) -> None:
        self.problems.append(Problem(self.where, what))

    def _get(self, name: str, required: bool) -> Any:
        if name not in self.row or self.row[name] is None:
            if required:
                self.problem(f"{name} is missing")
            return None
        return self.row[name]

    def text(self, name: str, max_length: int, required: bool = True) -> str | None:
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.problem(f"{name} must be non-empty text, got {value!r}")
            return None
        if value != value.strip():
            self.problem(f"{name} {value!r} has leading or trailing spaces")
            return None
        if len(value) > max_length:
            self.problem(f"{name} is longer than {max_length} characters")
            return None
        return value

    def matching(
        self, name: str, pattern: re.Pattern[str], expected: str, required: bool = True
    ) -> str | None:
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, str) or not pattern.fullmatch(value):
            self.problem(f"{name} {value!r} is not {expected}")
            return None
        return value

    def day(self, name: str, required: bool = True) -> date | None:
        value = self._get(name, required)
        if value is None:
            return None
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                self.problem(f"{name} {value!r} is not a date (YYYY-MM-DD)")
                return None
        if isinstance(value, datetime) or not isinstance(value, date):
            self.problem(f"{name} must be a date, got {value!r}")
            return None
        return value

    def flag(self, name: str) -> bool | None:
        value = self._get(name, required=True)
        if value is None:
            return None
        if not isinstance(value, bool):
            self.problem(f"{name} must be true or false, got {value!r}")
            return None
        return value

    def ownership(self, name: str) -> Ownership | None:
        value = self._get(name, required=True)
        if value is None:
            return None
        try:
            return value if isinstance(value, Ownership) else Ownership(value)
        except ValueError:
            allowed = ", ".join(member.value for member in Ownership)
            self.problem(f"{name} {value!r} is not one of {allowed}")
            return None


def _check_rows(
    what: str,
    rows: Iterable[Mapping[str, Any]],
    key: str,
    convert: Callable[[_RowChecker], dict[str, Any]],
    allowed: set[str],
) -> list[dict[str, Any]]:
    """Convert every row; raise one InputError listing all problems, duplicates included."""
    problems: list[Problem] = []
    converted: list[dict[str, Any]] = []
    first_row_of: dict[Any, int] = {}
    for index, row in enumerate(rows, start=1):
        checker = _RowChecker(what, index, row, allowed)
        values = convert(checker)
        if checker.problems:
            problems.extend(checker.problems)
            continue
        previous = first_row_of.setdefault(values[key], index)
        if previous != index:
            problems.append(
                Problem(checker.where, f"{key} {values[key]!r} already given in row {previous}")
            )
            continue
        converted.append(values)
    if problems:
        raise InputError(problems)
    return converted


# --------------------------------------------------------------------------------------------
# Upserts


def _upsert(
    session: Session,
    model: type[Region] | type[Provider],
    rows: Sequence[dict[str, Any]],
    key: str,
) -> None:
    """``INSERT ... ON CONFLICT (key) DO UPDATE`` every other column, in chunks."""
    dialect = session.get_bind().dialect.name
    insert: Any
    if dialect == "sqlite":
        insert = sqlite.insert
    elif dialect == "postgresql":
        insert = postgresql.insert
    else:
        raise StoreError(f"upserts are not supported on {dialect} databases", where="registry")
    session.flush()  # pending ORM changes first, so the statement sees them
    for start in range(0, len(rows), _CHUNK_ROWS):
        chunk = rows[start : start + _CHUNK_ROWS]
        statement = insert(model).values(chunk)
        updated = [column for column in chunk[0] if column != key]
        statement = statement.on_conflict_do_update(
            index_elements=[key], set_={column: statement.excluded[column] for column in updated}
        )
        session.execute(statement)
    # Objects of these rows already loaded in this session would still show the old values.
    keys = {row[key] for row in rows}
    for loaded in list(session.identity_map.values()):
        if isinstance(loaded, model) and getattr(loaded, key) in keys:
            session.refresh(loaded)


def _region_values(row: _RowChecker) -> dict[str, Any]:
    return {
        "code": row.matching("code", _CODE, "a region code (letters, digits, _ or -)"),
        "name_en": row.text("name_en", 200),
        "name_kk": row.text("name_kk", 200),
        "name_ru": row.text("name_ru", 200),
        "established_on": row.day("established_on", required=False),
        "reporting_region_code": row.matching(
            "reporting_region_code", _CODE, "a region code", required=False
        ),
    }


_REGION_FIELDS = {
    "code",
    "name_en",
    "name_kk",
    "name_ru",
    "established_on",
    "reporting_region_code",
}


def upsert_regions(session: Session, rows: Iterable[Mapping[str, Any]]) -> int:
    """Insert or update regions by ``code``; return the number of rows written.

    Each row has ``code``, ``name_en``, ``name_kk``, ``name_ru`` and optionally
    ``established_on`` (a date or ``YYYY-MM-DD``) and ``reporting_region_code``. Absent optional
    fields are stored as empty. Rows are written in the order given; a region reporting under
    another one given in the same call is fine in any order within a chunk of 500 rows.

    Guarantees: idempotent; a bad or duplicated row raises :class:`InputError` before anything is
    written; a reporting region that does not exist is refused by the database (foreign key).
    Nothing is committed: the caller's transaction (see ``session_scope``) decides.
    """
    values = _check_rows("regions", rows, "code", _region_values, _REGION_FIELDS)
    if values:
        _upsert(session, Region, values, "code")
    return len(values)


def _provider_values(row: _RowChecker) -> dict[str, Any]:
    values: dict[str, Any] = {
        "bin": row.matching("bin", _BIN, "a BIN of 12 digits"),
        "name": row.text("name", 500),
        "region_code": row.matching("region_code", _CODE, "a region code"),
        "ownership": row.ownership("ownership"),
        "primary_care": row.flag("primary_care"),
        "included_on": row.day("included_on"),
        "excluded_on": row.day("excluded_on", required=False),
    }
    included, excluded = values["included_on"], values["excluded_on"]
    if included is not None and excluded is not None and excluded < included:
        row.problem(f"excluded_on {excluded} is before included_on {included}")
    return values


_PROVIDER_FIELDS = {
    "bin",
    "name",
    "region_code",
    "ownership",
    "primary_care",
    "included_on",
    "excluded_on",
}


def upsert_providers(session: Session, rows: Iterable[Mapping[str, Any]]) -> int:
    """Insert or update providers by ``bin``; return the number of rows written.

    Each row has ``bin`` (12 digits), ``name``, ``region_code``, ``ownership`` (an
    :class:`Ownership` or its value ``"state"``/``"private"``), ``primary_care`` (bool),
    ``included_on`` and optionally ``excluded_on`` (dates or ``YYYY-MM-DD``). The ``id`` is the
    database's: a provider keeps its id when it is updated.

    Guarantees: idempotent; a bad or duplicated row raises :class:`InputError` before anything is
    written; an unknown ``region_code`` is refused by the database (foreign key). Nothing is
    committed: the caller's transaction decides.
    """
    values = _check_rows("providers", rows, "bin", _provider_values, _PROVIDER_FIELDS)
    if values:
        _upsert(session, Provider, values, "bin")
    return len(values)


# --------------------------------------------------------------------------------------------
# Audit record of runs


def _check_run_text(name: str, value: object, max_length: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise InputError(
            f"{name} must be non-empty text of at most {max_length} characters, got {value!r}",
            where="run",
        )
    return value


def start_run(
    session: Session,
    kind: str,
    inputs: Mapping[str, str],
    rules_version: str,
    code_version: str,
) -> Run:
    """Record that a batch run starts now; return the flushed :class:`Run` (its id is set).

    ``inputs`` maps each input name to the SHA-256 of its content (64 hexadecimal digits; stored
    in lower case). The run is ``running`` with ``started_at`` the current UTC time.

    Nothing is committed: to keep the audit record even when the batch fails, start and finish
    the run in their own short transactions (``session_scope``), apart from the batch's work.
    """
    kind = _check_run_text("kind", kind, 32)
    rules_version = _check_run_text("rules_version", rules_version, 64)
    code_version = _check_run_text("code_version", code_version, 64)
    checked: dict[str, str] = {}
    for name, digest in inputs.items():
        if not isinstance(name, str) or not name:
            raise InputError(f"input name {name!r} must be non-empty text", where="run inputs")
        lowered = digest.lower() if isinstance(digest, str) else ""
        if not _SHA256.fullmatch(lowered):
            raise InputError(
                f"{digest!r} is not a SHA-256 digest (64 hexadecimal digits)",
                where=f"run input {name}",
            )
        checked[name] = lowered
    run = Run(
        kind=kind,
        started_at=datetime.now(UTC),
        status=RunStatus.RUNNING,
        inputs=checked,
        rules_version=rules_version,
        code_version=code_version,
    )
    session.add(run)
    session.flush()
    return run


def finish_run(
    session: Session,
    run: Run,
    status: RunStatus | str,
    summary: Mapping[str, Any] | None,
) -> None:
    """Record that ``run`` finished now with ``status`` (succeeded or failed) and ``summary``.

    ``summary`` must be JSON-serialisable. Guarantees: a run is finished once; finishing it again
    or with the status ``running`` raises :class:`InputError`. The change is flushed, not
    committed.
    """
    try:
        final = status if isinstance(status, RunStatus) else RunStatus(status)
    except ValueError:
        final = None
    if final is None or final is RunStatus.RUNNING:
        raise InputError(
            f"a run finishes as succeeded or failed, not {status!r}", where=f"run {run.id}"
        )
    record = session.get(Run, run.id, with_for_update=True, populate_existing=True)
    if record is None:
        raise StoreError("no such run in the database", where=f"run {run.id}")
    if record.status is not RunStatus.RUNNING:
        raise InputError(f"already finished ({record.status.value})", where=f"run {run.id}")
    record.status = final
    record.finished_at = max(datetime.now(UTC), record.started_at)
    record.summary = dict(summary) if summary is not None else None
    session.flush()
    if record is not run:  # a run object from another session: show it the same outcome
        for name in ("status", "finished_at", "summary"):
            set_committed_value(run, name, getattr(record, name))


def fail_interrupted_runs(session: Session, run_ids: Iterable[int], reason: str) -> list[int]:
    """Record as failed, with ``reason``, each of ``run_ids`` that is still ``running`` (its
    process died); return the ids changed. Runs already finished are left as they are."""
    changed = []
    for run_id in sorted(set(run_ids)):
        record = session.get(Run, run_id, with_for_update=True, populate_existing=True)
        if record is None or record.status is not RunStatus.RUNNING:
            continue
        summary = dict(record.summary or {})
        summary["error"] = reason
        summary["interrupted"] = True
        finish_run(session, record, RunStatus.FAILED, summary)
        changed.append(run_id)
    return changed
