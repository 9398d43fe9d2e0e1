"""A branch's filing history: every version of a monthly report it filed, and what changed.

- :func:`canonical_json` turns a :class:`ReportSet` into the bytes that are stored and hashed:
  keys sorted, rows in a fixed order (natural order of row codes, then group, label and cells),
  findings sorted, amounts as exact decimal strings without trailing zeros, timestamps in UTC.
  Two report sets that differ only in the order of their rows or findings, or in how a decimal is
  written (``1.50`` or ``1.5``), have the same payload and the same SHA-256.
- :func:`file_version` records a filed version (payload, SHA-256, time, signer, rule-set version,
  validation results). Filing the payload of the current version again is a no-op that says so;
  filing a different payload for a month already filed is a correction that links to the version
  it replaces. Versions are never edited: there is no update path, and the store refuses one.
- :func:`history`, :func:`get_version` and :func:`diff_versions` read the history back; the diff is
  cell by cell (form, row, column, old -> new), unrounded and at the form's precision.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from saqta.core.errors import InputError, Problem, StoreError
from saqta.core.iin import bin_problem
from saqta.core.money import round_percent, to_thousands
from saqta.prudential.models import FiledVersion
from saqta.prudential.report import (
    CellValue,
    ColumnKind,
    Finding,
    FormCode,
    FormLayout,
    ReportSet,
    Row,
)

# --------------------------------------------------------------------------------------------
# Canonical payload


def decimal_text(value: Decimal) -> str:
    """Plain notation, no exponent, no trailing zeros, no negative zero: ``1.50`` -> ``1.5``,
    ``1E+3`` -> ``1000``. Exact: never rounds, whatever the number of digits."""
    if not value.is_finite():
        raise InputError(f"{value} is not a finite number", where="amount")
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _natural(code: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key of a row code: ``4.9`` before ``4.10``, numbers before letters."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"[.\s]+", code)
    )


def _cell_json(value: CellValue) -> dict[str, Any]:
    """A typed cell, as in the JSON report format: nothing is guessed on reading, and an amount
    is a decimal string that no JSON reader turns into a float."""
    if value is None:
        return {"type": "empty"}
    if isinstance(value, bool):
        return {"type": "flag", "value": value}
    if isinstance(value, str):
        return {"type": "text", "value": value}
    return {"type": "decimal", "value": decimal_text(value)}


def _row_json(row: Row) -> dict[str, Any]:
    return {
        "code": row.code,
        "label": row.label,
        "group": row.group,
        "explanation": row.explanation,
        "cells": {column: _cell_json(value) for column, value in row.cells.items()},
    }


def _row_key(row: dict[str, Any]) -> tuple[Any, ...]:
    cells = json.dumps(row["cells"], sort_keys=True, ensure_ascii=False)
    return (_natural(row["code"]), row["group"] or "", row["label"] or "", cells)


def _finding_key(finding: dict[str, Any]) -> tuple[str, ...]:
    return tuple(
        finding[k] or "" for k in ("form", "row", "column", "rule_id", "severity", "message")
    )


def _timestamp(value: datetime) -> str:
    return (value.astimezone(UTC) if value.tzinfo else value).isoformat()


def canonical_document(report: ReportSet) -> dict[str, Any]:
    """The report set as plain JSON data in its canonical order (see the module docstring)."""
    forms: dict[str, dict[str, Any]] = {
        code: {
            "form": form.form,
            "layout_valid_from": form.layout_valid_from.isoformat(),
            "rows": sorted((_row_json(row) for row in form.rows), key=_row_key),
        }
        for code, form in report.forms.items()
    }
    findings = sorted((f.model_dump(mode="json") for f in report.findings), key=_finding_key)
    return {
        "branch": report.branch.model_dump(mode="json"),
        "period": report.period,
        "forms": forms,
        "findings": findings,
        "rules_version": report.rules_version,
        "computed_at": _timestamp(report.computed_at),
    }


def canonical_json(report: ReportSet) -> bytes:
    """The canonical payload: UTF-8 JSON, keys sorted, no insignificant white space."""
    text = json.dumps(
        canonical_document(report), sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return text.encode("utf-8")


def payload_sha256(report: ReportSet) -> str:
    return hashlib.sha256(canonical_json(report)).hexdigest()


# --------------------------------------------------------------------------------------------
# Reading a report set from a file


def _location(loc: Iterable[int | str]) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


REPORT_FORMAT = "saqta.prudential.report"
"""The ``format`` of the JSON report document (``{"format": ..., "version": 1, "report": ...}``)."""


def _decode_cell(cell: Any, where: str) -> CellValue:
    """A cell: typed (``{"type": "decimal", "value": "1.5"}``) or plain (a number, a string that
    is a number, another string, true/false, null - read as Pydantic reads JSON)."""
    if isinstance(cell, dict):
        kind, value = cell.get("type"), cell.get("value")
        if kind == "empty" and value is None:
            return None
        if kind == "flag" and isinstance(value, bool):
            return value
        if kind == "text" and isinstance(value, str):
            return value
        if (
            kind == "decimal"
            and isinstance(value, str | Decimal | int)
            and not isinstance(value, bool)
        ):
            try:
                number = Decimal(value)
            except ArithmeticError:
                number = Decimal("NaN")
            if number.is_finite():
                return number
        raise InputError(f"not a valid cell: {cell!r}", where=where)
    if isinstance(cell, bool) or cell is None:
        return cell
    if isinstance(cell, int | Decimal):
        return Decimal(cell)
    if isinstance(cell, str):
        try:
            number = Decimal(cell.strip())
        except ArithmeticError:
            return cell
        return number if number.is_finite() and cell.strip() else cell
    raise InputError(f"not a valid cell: {cell!r}", where=where)


def _decode_cells(data: Any, where: str) -> list[Problem]:
    """Replace every cell of ``data["forms"]`` by its value, in place; return the problems."""
    problems: list[Problem] = []
    forms = data.get("forms") if isinstance(data, dict) else None
    if not isinstance(forms, dict):
        return problems
    for code, form in forms.items():
        rows = form.get("rows") if isinstance(form, dict) else None
        for index, row in enumerate(rows if isinstance(rows, list) else []):
            cells = row.get("cells") if isinstance(row, dict) else None
            if not isinstance(cells, dict):
                continue
            for column, cell in list(cells.items()):
                try:
                    cells[column] = _decode_cell(
                        cell, f"{where}: forms.{code}.rows[{index}].cells.{column}"
                    )
                except InputError as exc:
                    problems += exc.problems
    return problems


def parse_report_json(data: bytes | str, where: str) -> ReportSet:
    """A :class:`ReportSet` from JSON text, exactly.

    Accepts the canonical payload, the JSON report document (``format``
    ``saqta.prudential.report``: its ``report`` part), and a plain report set. Cells may be typed
    or plain; numbers are never read through a float. Raises :class:`InputError` with one problem
    per field, ``where`` followed by the field's path (``forms.1-PN_S.rows[2].cells.3``).
    """
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})", where=where) from exc
    try:
        raw = json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)
    except ValueError as exc:
        raise InputError(f"not valid JSON: {exc}", where=where) from exc
    if isinstance(raw, dict) and raw.get("format") == REPORT_FORMAT:
        if raw.get("version") != 1:
            raise InputError(f"unsupported version {raw.get('version')!r}", where=where)
        raw, where = raw.get("report"), f"{where}: report"
    if not isinstance(raw, dict):
        raise InputError("a report set is a JSON object", where=where)
    problems = _decode_cells(raw, where)
    if problems:
        raise InputError(problems)
    try:
        return ReportSet.model_validate(raw)
    except ValidationError as exc:
        raise InputError(
            [
                Problem(f"{where}: {_location(error['loc']) or '(top level)'}", error["msg"])
                for error in exc.errors()
            ]
        ) from exc


def read_report_bytes(content: bytes, name: str) -> ReportSet:
    """A report set from a received file's bytes: ``.json`` (see :func:`parse_report_json`) or
    ``.xml`` (the filing format of ``filing.xsd``, checked against the schema)."""
    suffix = Path(name).suffix.lower()
    if suffix == ".xml":
        from saqta.prudential.render_xml import read_xml

        try:
            return read_xml(content)
        except InputError as exc:
            raise InputError(
                [Problem(p.where.replace("uploaded filing", name, 1), p.what) for p in exc.problems]
            ) from exc
    if suffix != ".json":
        raise InputError("expected a .json or .xml report file", where=name)
    return parse_report_json(content, name)


def read_report_file(path: Path) -> ReportSet:
    """Read a report set from a ``.json`` or ``.xml`` file."""
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", where=str(path)) from exc
    return read_report_bytes(content, str(path))


# --------------------------------------------------------------------------------------------
# Filing


@dataclass(frozen=True)
class FilingOutcome:
    """What :func:`file_version` did: ``created`` False means the payload was already filed."""

    version: FiledVersion
    created: bool
    message: str


def _findings_json(findings: Iterable[Finding]) -> list[dict[str, Any]]:
    return sorted((f.model_dump(mode="json") for f in findings), key=_finding_key)


def versions_of(session: Session, branch_bin: str, period: str) -> list[FiledVersion]:
    """Every filed version of one branch's month, oldest first."""
    stmt = (
        select(FiledVersion)
        .where(FiledVersion.branch_bin == branch_bin, FiledVersion.period == period)
        .order_by(FiledVersion.version)
    )
    return list(session.scalars(stmt))


def file_version(
    session: Session,
    report: ReportSet,
    *,
    signer: str | None = None,
    filed_at: datetime | None = None,
    replaces: int | None = None,
    reason: str | None = None,
    allow_errors: bool = False,
) -> FilingOutcome:
    """Record ``report`` as filed; return the version and whether a new one was written.

    - The first filing of a branch's month is version 1. A later filing with a different payload
      is a correction: version ``n + 1`` replacing the current version ``n``. ``replaces``, when
      given, must be the id of that current version (a guard against correcting a stale copy).
    - Filing the payload of a version already filed for that month again writes nothing and
      says so (the payload includes the computation time, so a recomputed report, even with the
      same figures, is a new version; the very same report is not).
    - ``signer`` defaults to the report's signer; ``filed_at`` (aware) defaults to now.
    - A report with error findings is refused unless ``allow_errors``: the regulator would
      reject it.

    Nothing is committed: the caller's transaction decides. Raises :class:`InputError` for a
    refused filing.
    """
    where = f"report {report.branch.bin} {report.period}"
    problem = bin_problem(report.branch.bin)
    if problem:
        raise InputError(problem, where=f"{where}: branch.bin")
    signer = (signer if signer is not None else report.branch.signer).strip()
    if not signer:
        raise InputError("a filed version needs a signer", where=where)
    if filed_at is None:
        filed_at = datetime.now(UTC)
    elif filed_at.tzinfo is None:
        raise InputError("give the filing time with a time zone", where=where)
    errors = [f for f in report.findings if f.severity == "error"]
    if errors and not allow_errors:
        raise InputError(
            [Problem(where, f"{len(errors)} error finding(s); fix them before filing")]
            + [Problem(f"{where}: {f.rule_id}", f.message) for f in errors]
        )

    payload = canonical_json(report)
    digest = hashlib.sha256(payload).hexdigest()
    existing = versions_of(session, report.branch.bin, report.period)
    current = existing[-1] if existing else None
    if replaces is not None and (current is None or current.id != replaces):
        now = f"version {current.id}" if current is not None else "no version"
        raise InputError(
            f"a correction must replace the current version; {now} is current, not {replaces}",
            where=where,
        )
    same = next((v for v in existing if v.payload_sha256 == digest), None)
    if same is not None:
        which = "the current version" if same is current else "an earlier version"
        return FilingOutcome(
            same,
            created=False,
            message=(
                f"identical to version {same.version} (#{same.id}, {which}) filed "
                f"{same.filed_at.isoformat()}: nothing recorded"
            ),
        )
    if current is not None and filed_at < current.filed_at:
        raise InputError(
            f"a correction cannot be filed before the version it replaces "
            f"({current.filed_at.isoformat()})",
            where=where,
        )
    record = FiledVersion(
        branch_bin=report.branch.bin,
        branch_name=report.branch.name,
        period=report.period,
        version=current.version + 1 if current else 1,
        replaces_id=current.id if current else None,
        filed_at=filed_at,
        recorded_at=datetime.now(UTC),
        signer=signer,
        rules_version=report.rules_version,
        payload_sha256=digest,
        payload=payload.decode("utf-8"),
        findings=_findings_json(report.findings),
        error_count=len(errors),
        warning_count=sum(f.severity == "warning" for f in report.findings),
        reason=reason,
    )
    session.add(record)
    session.flush()
    kind = f"correction of version {current.version} (#{current.id})" if current else "first"
    return FilingOutcome(
        record, created=True, message=f"filed version {record.version} (#{record.id}), {kind}"
    )


def history(
    session: Session, *, branch: str | None = None, period: str | None = None
) -> list[FiledVersion]:
    """Filed versions, by branch, month and version (filters optional)."""
    stmt = select(FiledVersion)
    if branch is not None:
        stmt = stmt.where(FiledVersion.branch_bin == branch)
    if period is not None:
        stmt = stmt.where(FiledVersion.period == period)
    stmt = stmt.order_by(FiledVersion.branch_bin, FiledVersion.period, FiledVersion.version)
    return list(session.scalars(stmt))


def current_ids(versions: Iterable[FiledVersion]) -> set[int]:
    """The ids among ``versions`` that no other version among them replaces."""
    items = list(versions)
    replaced = {v.replaces_id for v in items if v.replaces_id is not None}
    return {v.id for v in items if v.id not in replaced}


def get_version(session: Session, version_id: int) -> FiledVersion:
    found = session.get(FiledVersion, version_id)
    if found is None:
        raise InputError("no such filed version", where=f"version {version_id}")
    return found


def stored_report(version: FiledVersion) -> ReportSet:
    """The report set of a filed version, read back from its payload and checked against its
    SHA-256 (a mismatch means the store was tampered with)."""
    if hashlib.sha256(version.payload.encode("utf-8")).hexdigest() != version.payload_sha256:
        raise StoreError("the payload does not match its SHA-256", where=f"version {version.id}")
    return parse_report_json(version.payload, f"version {version.id}")


# --------------------------------------------------------------------------------------------
# Cell-by-cell difference


KindOf = Callable[[FormCode, str, str, CellValue], ColumnKind]
"""How a cell renders, from its form, row code, column number and value."""

# The seed's fixed non-amount cells (NBRK resolution No. 25, annexes 2-6), used when no layout
# says otherwise: 1-PN_S rows 1 and 6 are ratios and rows 4 and 10 yes/no; row 500 of 1-PN_O and
# 1-PN_Z is a ratio; 1-PN_V row 11 is a ratio and column 4 a percentage; 1-PN_M column 4 is a
# percentage and columns 1-2 text.
_SEED_ROW_KINDS: dict[tuple[str, str], ColumnKind] = {
    ("1-PN_S", "1"): "ratio",
    ("1-PN_S", "4"): "flag",
    ("1-PN_S", "6"): "ratio",
    ("1-PN_S", "10"): "flag",
    ("1-PN_O", "500"): "ratio",
    ("1-PN_Z", "500"): "ratio",
    ("1-PN_V", "11"): "ratio",
}
_SEED_COLUMN_KINDS: dict[tuple[str, str], ColumnKind] = {
    ("1-PN_M", "1"): "text",
    ("1-PN_M", "2"): "text",
    ("1-PN_M", "4"): "percent",
    ("1-PN_V", "4"): "percent",
}


def seed_kind(form: FormCode, row: str, column: str, value: CellValue) -> ColumnKind:
    """The rendering kind of a cell by the seed's forms: the value's type first (text, flag),
    then the fixed percentage columns and ratio rows, else an amount."""
    if isinstance(value, bool):
        return "flag"
    if isinstance(value, str):
        return "text"
    return _SEED_COLUMN_KINDS.get((form, column)) or _SEED_ROW_KINDS.get((form, row), "amount")


def layout_kind(report: ReportSet) -> KindOf:
    """Rendering kinds from the layouts ``report`` was computed with (rule files of kind
    ``prudential_layout``, the edition each form names), as the renderers decide them; the seed's
    fixed kinds (:func:`seed_kind`) where a layout or a column is not found."""
    from saqta.core.errors import RulesError
    from saqta.prudential.reference import layout
    from saqta.prudential.rendering import cell_kind

    found: dict[str, FormLayout | None] = {}

    def kind_of(form: FormCode, row: str, column: str, value: CellValue) -> ColumnKind:
        if form not in found:
            try:
                edition = report.forms[form].layout_valid_from if form in report.forms else None
                found[form] = layout(form, edition) if edition is not None else None
            except RulesError:
                found[form] = None
        spec_layout = found[form]
        columns = {c.number: c for c in spec_layout.columns} if spec_layout else {}
        if column not in columns or spec_layout is None:
            return seed_kind(form, row, column, value)
        spec = next((r for r in spec_layout.rows if r.code == row), None)
        return cell_kind(columns[column], spec, value)

    return kind_of


def render_cell(value: CellValue, kind: ColumnKind) -> str:
    """A cell at the form's precision: thousands of tenge by the 500-tenge rule, ratios and
    percentages to 2 decimals, flags as yes/no."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        if kind == "amount":
            return decimal_text(to_thousands(value))
        if kind in ("ratio", "percent"):
            return str(round_percent(value))
        return decimal_text(value)
    return str(value)


def exact_cell(value: CellValue) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return decimal_text(value)
    return value


@dataclass(frozen=True)
class CellChange:
    """One cell that differs between two versions."""

    form: FormCode
    row: str  # the row code, with the item's label for rows added per item
    column: str
    kind: ColumnKind
    old: CellValue
    new: CellValue

    @property
    def old_exact(self) -> str:
        return exact_cell(self.old)

    @property
    def new_exact(self) -> str:
        return exact_cell(self.new)

    @property
    def old_rendered(self) -> str:
        return render_cell(self.old, self.kind)

    @property
    def new_rendered(self) -> str:
        return render_cell(self.new, self.kind)

    @property
    def visible(self) -> bool:
        """Whether the change shows on the rendered form (not only in the unrounded values)."""
        return self.old_rendered != self.new_rendered

    def as_dict(self) -> dict[str, Any]:
        return {
            "form": self.form,
            "row": self.row,
            "column": self.column,
            "kind": self.kind,
            "old": self.old_exact,
            "new": self.new_exact,
            "old_rendered": self.old_rendered,
            "new_rendered": self.new_rendered,
            "visible": self.visible,
        }


def _rows_by_key(report: ReportSet, form: FormCode) -> dict[str, Row]:
    """Rows keyed by code (and group and label for rows added per item, e.g. reinsurers)."""
    if form not in report.forms:
        return {}
    rows: dict[str, Row] = {}
    for row in report.forms[form].rows:
        key = row.code
        if row.group is not None:
            key += f" [group {row.group}]"
        if row.label is not None:
            key += f" {row.label}"
        n, base = 1, key
        while key in rows:  # the same item twice: keep both, numbered
            n += 1
            key = f"{base} #{n}"
        rows[key] = row
    return rows


def _row_order(form: FormCode, key: str) -> tuple[Any, ...]:
    return (_natural(key.split(" ", 1)[0]), key)


def _cells_equal(old: CellValue, new: CellValue) -> bool:
    if type(old) is not type(new):
        return False
    return old == new


def diff_report_sets(
    old: ReportSet, new: ReportSet, kind_of: KindOf | None = None
) -> list[CellChange]:
    """Every cell that differs between ``old`` and ``new``, form by form in the forms' order,
    rows in natural order. Equal values written differently (``1.50``, ``1.5``) are equal.
    A row or a cell present on one side only shows as empty on the other."""
    from saqta.prudential.report import FORM_CODES

    kind_of = kind_of or seed_kind
    changes: list[CellChange] = []
    for form in FORM_CODES:
        old_rows, new_rows = _rows_by_key(old, form), _rows_by_key(new, form)
        for key in sorted(set(old_rows) | set(new_rows), key=lambda k: _row_order(form, k)):
            old_cells = old_rows[key].cells if key in old_rows else {}
            new_cells = new_rows[key].cells if key in new_rows else {}
            code = (old_rows.get(key) or new_rows[key]).code
            for column in sorted(set(old_cells) | set(new_cells), key=_natural):
                a, b = old_cells.get(column), new_cells.get(column)
                if _cells_equal(a, b):
                    continue
                kind = kind_of(form, code, column, b if b is not None else a)
                changes.append(CellChange(form, key, column, kind, a, b))
    return changes


def diff_versions(
    session: Session, old_id: int, new_id: int, kind_of: KindOf | None = None
) -> tuple[FiledVersion, FiledVersion, list[CellChange]]:
    """The two versions and their cell-by-cell difference (old first)."""
    old, new = get_version(session, old_id), get_version(session, new_id)
    old_report, new_report = stored_report(old), stored_report(new)
    kinds = kind_of if kind_of is not None else layout_kind(new_report)
    return old, new, diff_report_sets(old_report, new_report, kinds)
