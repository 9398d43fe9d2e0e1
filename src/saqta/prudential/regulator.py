"""The National Bank's side: the register of branches, the intake of filings, the overview.

**Register.** The branches the regulator expects to file are registered beforehand
(:func:`register_branch`, :func:`import_branches`): a filing from a BIN that is not on the register
is rejected, because "branch identity" can only be checked against a register. For a first load
:func:`intake` can register unknown senders from their filing (``register_unknown=True``), recorded
as registered by ``intake`` and expected from the filed month.

**Intake** (:func:`intake`). Every file received is recorded exactly once (its SHA-256 is unique),
accepted or rejected, with its arrival time and the regulator's own findings. On arrival a file is:

1. read as a report set (JSON; XML through the XML reader) - a file that cannot be read is
   rejected with the reader's findings (file, field);
2. checked for completeness (1-PN_S, 1-PN_M, 1-PN_V and the line's 1-PN_O or 1-PN_Z, each
   under its own code);
3. checked for identity: a valid BIN, on the register, expected for that month, same line of
   business (a different name is a warning);
4. checked for its period: the reporting month must have ended when the file arrived;
5. given its deadline (:func:`saqta.prudential.deadlines.filing_deadline`) and lateness: calendar
   days after the deadline, by the arrival date in Kazakhstan's time zone;
6. validated again: the cross-form validation is re-run on the received forms, never trusting
   the findings the sender included (their error count is kept for comparison).

A file with any error finding is rejected. An accepted file for a month already accepted is a
correction: a new version linked to the one it replaces. A file whose bytes were already received,
or whose report equals an accepted version of that month, is a duplicate and is not recorded
again.

**Overview** (:func:`overview`, :func:`series`). For a month, each branch expected to file is
``on_time``, ``late``, ``missing`` (deadline passed, nothing accepted or rejected),
``rejected`` (only rejected files) or ``pending`` (nothing yet, deadline not passed), with the
ratios of its current version (1-PN_S rows 1 and 6) and its breaches (a ratio below 1, or a flag
of rows 4 or 10 saying "no"). Timeliness is that of the first accepted version: a correction sent
after the deadline does not make a timely filing late. Everything can be seen "as of" a moment:
receipts that arrived later are ignored.
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import hashlib
import io
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from saqta.core.errors import InputError, Problem, SaqtaError
from saqta.core.iin import bin_problem
from saqta.core.periods import Month, parse_month
from saqta.prudential.deadlines import filing_deadline
from saqta.prudential.filings import (
    _findings_json,
    canonical_json,
    decimal_text,
    parse_report_json,
    read_report_bytes,
)
from saqta.prudential.models import (
    BranchLine,
    Receipt,
    ReceiptStatus,
    RegisteredBranch,
    RegisteredBy,
)
from saqta.prudential.report import FORM_CODES, Finding, ReportSet
from saqta.store.db import session_scope

KAZAKHSTAN_TZ = ZoneInfo("Asia/Almaty")
"""The time zone in which an arrival's date is compared with the deadline (UTC+5 nationwide
since 1 March 2024, UTC+6 in Almaty before; the IANA database holds the history)."""

Validator = Callable[[ReportSet], Sequence[Finding]]
"""The cross-form validation re-run on every received report set."""

SUPPORTED_FORMATS = {".json": "json", ".xml": "xml"}


def default_validator() -> Validator:
    """The prudential context's own cross-form validation
    (:func:`saqta.prudential.validate.validate`): the same checks the branch's computation runs."""
    from saqta.prudential.validate import validate

    return validate


def local_date(moment: dt.datetime) -> dt.date:
    """The date in Kazakhstan at ``moment`` (aware)."""
    return moment.astimezone(KAZAKHSTAN_TZ).date()


def _aware(moment: dt.datetime | None, what: str) -> dt.datetime:
    if moment is None:
        return dt.datetime.now(dt.UTC)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InputError("give a time zone", where=what)
    return moment


# --------------------------------------------------------------------------------------------
# Register of branches


def register_branch(
    session: Session,
    bin_: str,
    name: str,
    line: BranchLine | str,
    expected_from: str,
    expected_to: str | None = None,
    *,
    by: RegisteredBy = RegisteredBy.OPERATOR,
    update: bool = False,
    now: dt.datetime | None = None,
) -> tuple[RegisteredBranch, str]:
    """Add a branch to the register (or, with ``update``, change its details); return it and
    ``"added"``, ``"updated"`` or ``"unchanged"``. Raises :class:`InputError` naming the field."""
    where = f"branch {bin_}"
    problem = bin_problem(bin_)
    if problem:
        raise InputError(problem, where=f"{where}: bin")
    if not name.strip():
        raise InputError("a name is required", where=f"{where}: name")
    try:
        line_value = line if isinstance(line, BranchLine) else BranchLine(line)
    except ValueError:
        raise InputError("expected general or life", where=f"{where}: line {line!r}") from None
    start = str(parse_month(expected_from))
    end = str(parse_month(expected_to)) if expected_to else None
    if end is not None and end < start:
        raise InputError(f"expected_to {end} is before expected_from {start}", where=where)
    existing = session.get(RegisteredBranch, bin_)
    if existing is not None:
        same = (existing.name, existing.line, existing.expected_from, existing.expected_to) == (
            name.strip(),
            line_value,
            start,
            end,
        )
        if same:
            return existing, "unchanged"
        if not update:
            raise InputError("already registered (update it instead)", where=where)
        existing.name, existing.line = name.strip(), line_value
        existing.expected_from, existing.expected_to = start, end
        session.flush()
        return existing, "updated"
    branch = RegisteredBranch(
        bin=bin_,
        name=name.strip(),
        line=line_value,
        expected_from=start,
        expected_to=end,
        registered_at=_aware(now, "registration time"),
        registered_by=by,
    )
    session.add(branch)
    session.flush()
    return branch, "added"


BRANCH_COLUMNS = ("bin", "name", "line", "expected_from", "expected_to")


def import_branches(session: Session, path: Path) -> dict[str, int]:
    """Load the register from a CSV file with the header ``bin,name,line,expected_from,
    expected_to`` (the last may be empty). Idempotent: a row equal to the register is
    ``unchanged``; a changed row updates the branch. Every problem names the row and field, and
    nothing is written when any row is bad."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", where=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})", where=str(path)) from exc
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in BRANCH_COLUMNS[:4] if c not in (reader.fieldnames or [])]
    if missing:
        raise InputError(f"missing column(s): {', '.join(missing)}", where=f"{path}: header")
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    counts = {"added": 0, "updated": 0, "unchanged": 0}
    for number, row in enumerate(reader, start=2):
        where = f"{path}: row {number}"
        bin_ = (row.get("bin") or "").strip()
        if bin_ in seen:
            problems.append(Problem(f"{where}: bin", f"{bin_} already on row {seen[bin_]}"))
            continue
        seen[bin_] = number
        try:
            with session.begin_nested():
                _, outcome = register_branch(
                    session,
                    bin_,
                    (row.get("name") or "").strip(),
                    (row.get("line") or "").strip(),
                    (row.get("expected_from") or "").strip(),
                    (row.get("expected_to") or "").strip() or None,
                    update=True,
                )
            counts[outcome] += 1
        except SaqtaError as exc:
            problems += [Problem(f"{where}: {p.where}", p.what) for p in exc.problems]
    if problems:
        raise InputError(problems)
    return counts


def list_branches(session: Session) -> list[RegisteredBranch]:
    return list(session.scalars(select(RegisteredBranch).order_by(RegisteredBranch.bin)))


# --------------------------------------------------------------------------------------------
# Intake


@dataclass(frozen=True)
class IntakeItem:
    """The outcome for one received file."""

    source: str
    outcome: str  # accepted, rejected or duplicate
    receipt_id: int | None
    branch_bin: str | None
    period: str | None
    version: int | None
    replaces_id: int | None
    deadline: dt.date | None
    days_late: int | None
    findings: tuple[Finding, ...]
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "outcome": self.outcome,
            "receipt": self.receipt_id,
            "branch": self.branch_bin,
            "period": self.period,
            "version": self.version,
            "replaces": self.replaces_id,
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "days_late": self.days_late,
            "findings": [f.model_dump(mode="json") for f in self.findings],
            "message": self.message,
        }


@dataclass
class IntakeResult:
    received_at: dt.datetime
    items: list[IntakeItem] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(item.outcome == outcome for item in self.items)

    @property
    def counts(self) -> dict[str, int]:
        return {k: self.count(k) for k in ("accepted", "rejected", "duplicate")}


def receivable_files(paths: Iterable[Path]) -> list[Path]:
    """The files to receive: each file given, and every visible file directly inside each folder
    given (any extension: a file of an unsupported kind is received and rejected, not ignored)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        elif path.is_file():
            files.append(path)
        else:
            raise InputError("no such file or folder", where=str(path))
    return files


@dataclass
class _Arrival:
    path: Path
    content: bytes
    format: str | None
    report: ReportSet | None
    findings: list[Finding]


def _error(rule_id: str, message: str, **where: str | None) -> Finding:
    return Finding(rule_id=rule_id, severity="error", message=message, **where)  # type: ignore[arg-type]


def _read(path: Path) -> _Arrival:
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", where=str(path)) from exc
    fmt = SUPPORTED_FORMATS.get(path.suffix.lower())
    if fmt is None:
        finding = _error("intake.format", f"{path.name}: not a .json or .xml report file")
        return _Arrival(path, content, None, None, [finding])
    try:
        report = read_report_bytes(content, path.name)
    except InputError as exc:
        findings = [_error("intake.schema", str(problem)) for problem in exc.problems]
        return _Arrival(path, content, fmt, None, findings)
    return _Arrival(path, content, fmt, report, [])


def _arrival_order(arrival: _Arrival) -> tuple[Any, ...]:
    """Reports in the order they were computed (a correction follows what it corrects), then by
    name; files that could not be read come last."""
    if arrival.report is None:
        return (1, dt.datetime.max.replace(tzinfo=dt.UTC), arrival.path.name)
    computed = arrival.report.computed_at
    if computed.tzinfo is None:
        computed = computed.replace(tzinfo=dt.UTC)
    return (0, computed, arrival.path.name)


def _current_accepted(session: Session, bin_: str, period: str) -> Receipt | None:
    stmt = (
        select(Receipt)
        .where(
            Receipt.branch_bin == bin_,
            Receipt.period == period,
            Receipt.status == ReceiptStatus.ACCEPTED,
        )
        .order_by(Receipt.version.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


def _check(
    session: Session,
    report: ReportSet,
    received_at: dt.datetime,
    validator: Validator,
    register_unknown: bool,
) -> tuple[list[Finding], dt.date | None]:
    findings: list[Finding] = []
    # completeness: 1-PN_S, 1-PN_M, 1-PN_V and the line's form (1-PN_O general, 1-PN_Z life),
    # each under its own code; what the forms hold is the cross-form validation's to check
    line_form = "1-PN_O" if report.branch.line == "general" else "1-PN_Z"
    for code in FORM_CODES:
        form = report.forms.get(code)
        if form is None:
            if code in ("1-PN_S", "1-PN_M", "1-PN_V", line_form):
                findings.append(_error("intake.schema.forms", f"form {code} is missing", form=code))
        elif form.form != code:
            findings.append(
                _error("intake.schema.forms", f"form {form.form} filed as {code}", form=code)
            )
    # identity
    bin_ = report.branch.bin
    problem = bin_problem(bin_)
    if problem:
        findings.append(_error("intake.identity.bin", f"branch BIN {bin_!r}: {problem}"))
    else:
        registered = session.get(RegisteredBranch, bin_)
        if registered is None and register_unknown:
            registered, _ = register_branch(
                session,
                bin_,
                report.branch.name,
                report.branch.line,
                report.period,
                by=RegisteredBy.INTAKE,
                now=received_at,
            )
        if registered is None:
            findings.append(
                _error("intake.identity.unregistered", f"branch {bin_} is not on the register")
            )
        else:
            if not registered.expects(report.period):
                span = f"{registered.expected_from} to {registered.expected_to or 'open'}"
                findings.append(
                    _error(
                        "intake.identity.not_expected",
                        f"branch {bin_} is expected to file for {span}, not {report.period}",
                    )
                )
            if registered.line.value != report.branch.line:
                findings.append(
                    _error(
                        "intake.identity.line",
                        f"the report is for {report.branch.line} insurance; the register has "
                        f"{registered.line.value}",
                    )
                )
            if registered.name != report.branch.name:
                findings.append(
                    Finding(
                        rule_id="intake.identity.name",
                        severity="warning",
                        message=f"name {report.branch.name!r} differs from the register's "
                        f"{registered.name!r}",
                    )
                )
    # period: the reporting month must have ended
    period = parse_month(report.period)
    arrival_day = local_date(received_at)
    if arrival_day <= period.last_day:
        findings.append(
            _error(
                "intake.period.future",
                f"the reporting month {period} ends on {period.last_day}; "
                f"the file arrived on {arrival_day}",
            )
        )
        deadline = None
    else:
        try:
            deadline = filing_deadline(period).due
        except SaqtaError as exc:
            deadline = None
            findings += [_error("intake.deadline", str(p)) for p in exc.problems]
    # the regulator's own cross-form validation (the sender's findings are not trusted)
    findings += list(validator(report))
    return findings, deadline


def _receive(
    session: Session,
    arrival: _Arrival,
    received_at: dt.datetime,
    validator: Validator,
    register_unknown: bool,
    rules_version: str,
) -> IntakeItem:
    source = arrival.path.name
    content_sha = hashlib.sha256(arrival.content).hexdigest()
    earlier = session.scalars(select(Receipt).where(Receipt.content_sha256 == content_sha)).first()
    if earlier is not None:
        return IntakeItem(
            source, "duplicate", earlier.id, earlier.branch_bin, earlier.period, earlier.version,
            earlier.replaces_id, earlier.deadline, earlier.days_late, (),
            f"already received as #{earlier.id} on {earlier.received_at.isoformat()} "
            f"({earlier.status.value}): not recorded again",
        )  # fmt: skip
    report = arrival.report
    findings = list(arrival.findings)
    deadline: dt.date | None = None
    payload: bytes | None = None
    current: Receipt | None = None
    if report is not None:
        payload = canonical_json(report)
        current = _current_accepted(session, report.branch.bin, report.period)
        digest = hashlib.sha256(payload).hexdigest()
        same = session.scalars(
            select(Receipt).where(
                Receipt.branch_bin == report.branch.bin,
                Receipt.period == report.period,
                Receipt.status == ReceiptStatus.ACCEPTED,
                Receipt.payload_sha256 == digest,
            )
        ).first()
        if same is not None:
            return IntakeItem(
                source, "duplicate", same.id, same.branch_bin, same.period, same.version,
                same.replaces_id, same.deadline, same.days_late, (),
                f"same report as accepted version {same.version} (#{same.id}): "
                "not recorded again",
            )  # fmt: skip
        checks, deadline = _check(session, report, received_at, validator, register_unknown)
        findings += checks
    rejected = any(f.severity == "error" for f in findings)
    days_late = None
    if deadline is not None:
        days_late = max(0, (local_date(received_at) - deadline).days)
    accepted = not rejected and report is not None
    version = None
    if accepted:
        version = (current.version or 0) + 1 if current is not None else 1
    receipt = Receipt(
        received_at=received_at,
        source_name=source[:500],
        format=arrival.format or arrival.path.suffix.lower().lstrip(".")[:8] or "none",
        content=arrival.content,
        content_sha256=content_sha,
        status=ReceiptStatus.ACCEPTED if accepted else ReceiptStatus.REJECTED,
        branch_bin=report.branch.bin[:12] if report is not None else None,
        period=report.period if report is not None else None,
        payload=payload.decode("utf-8") if payload is not None else None,
        payload_sha256=hashlib.sha256(payload).hexdigest() if payload is not None else None,
        version=version,
        replaces_id=current.id if accepted and current is not None else None,
        deadline=deadline,
        days_late=days_late,
        findings=_findings_json(findings),
        sender_error_count=(
            sum(f.severity == "error" for f in report.findings) if report is not None else None
        ),
        rules_version=rules_version,
    )
    session.add(receipt)
    session.flush()
    if accepted:
        timing = "on time" if days_late == 0 else f"{days_late} day(s) late"
        corrects = f", correcting version {current.version} (#{current.id})" if current else ""
        message = f"accepted as version {version}{corrects}, {timing}"
    else:
        errors = sum(f.severity == "error" for f in findings)
        message = f"rejected with {errors} error finding(s)"
    return IntakeItem(
        source, receipt.status.value, receipt.id, receipt.branch_bin, receipt.period, version,
        receipt.replaces_id, deadline, days_late, tuple(findings), message,
    )  # fmt: skip


def intake(
    engine: Engine,
    paths: Sequence[Path],
    *,
    received_at: dt.datetime | None = None,
    validator: Validator | None = None,
    register_unknown: bool = False,
    on_file: Callable[[int, int], None] | None = None,
) -> IntakeResult:
    """Receive files (or every file in folders) from branches; record and decide each one.

    ``received_at`` (aware) is the arrival time of every file of this intake (default now; give
    it to replay history). Each file is received in its own transaction, so one broken file never
    loses the others, and receiving the same files again records nothing new. ``on_file(done,
    total)`` reports progress. Returns one :class:`IntakeItem` per file.
    """
    from saqta.prudential.reference import prudential_rules

    moment = _aware(received_at, "received_at")
    check = validator if validator is not None else default_validator()
    rules_version = prudential_rules().version
    files = receivable_files(paths)
    arrivals = sorted((_read(path) for path in files), key=_arrival_order)
    result = IntakeResult(received_at=moment)
    for done, arrival in enumerate(arrivals, start=1):
        with session_scope(engine) as session:
            result.items.append(
                _receive(session, arrival, moment, check, register_unknown, rules_version)
            )
        if on_file is not None:
            on_file(done, len(arrivals))
    return result


def receipts(
    session: Session,
    *,
    branch: str | None = None,
    period: str | None = None,
    status: ReceiptStatus | None = None,
) -> list[Receipt]:
    """Received files, oldest first (filters optional): the regulator's submission history."""
    stmt = select(Receipt)
    if branch is not None:
        stmt = stmt.where(Receipt.branch_bin == branch)
    if period is not None:
        stmt = stmt.where(Receipt.period == period)
    if status is not None:
        stmt = stmt.where(Receipt.status == status)
    return list(session.scalars(stmt.order_by(Receipt.received_at, Receipt.id)))


# --------------------------------------------------------------------------------------------
# Replaying a filing script (sample branches filing month after month)


@dataclass(frozen=True)
class ReplayEvent:
    """One step of a filing script as it played out on both sides."""

    action: str  # submit or correct
    branch_bin: str
    period: str
    submitted_at: dt.datetime
    filed: str  # the branch side's message (filed version n, or identical)
    intake: IntakeItem  # the regulator's decision


def replay_filing_script(
    engine: Engine,
    samples: Any,
    outbox: Path,
    *,
    file_format: str = "json",
    register: bool = True,
    validator: Validator | None = None,
) -> list[ReplayEvent]:
    """Play a sample set's filing script (:func:`saqta.prudential.sample.generate_samples`) on
    both sides: for each event, compute the month's report from its inputs, record it in the
    branch's filing history at the submission time, write it (XML or JSON) into
    ``outbox/<date>/``, and receive that file at the same moment. With ``register`` the sample
    branches are first put on the register, expected from the first sample month. Re-running it
    on the same store records nothing twice."""
    from saqta.prudential.compute import compute
    from saqta.prudential.filings import file_version

    script_events: list[dict[str, Any]] = samples.script
    if register:
        with session_scope(engine) as session:
            for plan in samples.plans:
                existing = session.get(RegisteredBranch, plan.profile.bin)
                if existing is None:
                    register_branch(
                        session, plan.profile.bin, plan.profile.name, plan.profile.line,
                        str(samples.start), now=dt.datetime.now(dt.UTC),
                    )  # fmt: skip
    pools = {"submit": samples.months_data, "correct": samples.corrections}
    events: list[ReplayEvent] = []
    for event in script_events:
        at = dt.datetime.fromisoformat(event["submitted_at"])
        if at.tzinfo is None:
            at = at.replace(tzinfo=KAZAKHSTAN_TZ)
        item = next(
            m for m in pools[event["action"]]
            if m.branch == event["branch"] and m.period == event["period"]
        )  # fmt: skip
        report = compute(item.inputs, item.period, computed_at=at.astimezone(dt.UTC))
        with session_scope(engine) as session:
            outcome = file_version(
                session, report, signer=event.get("signer"), filed_at=at,
                reason=event.get("reason"), allow_errors=True,
            )  # fmt: skip
        folder = outbox / local_date(at).isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        suffix = "" if event["action"] == "submit" else "_correction"
        name = f"{report.branch.bin}_{report.period}{suffix}.{file_format}"
        if file_format == "xml":
            from saqta.prudential.render_xml import filing_xml

            (folder / name).write_bytes(filing_xml(report))
        else:
            from saqta.prudential.render_json import report_json

            (folder / name).write_text(report_json(report), encoding="utf-8")
        result = intake(engine, [folder / name], received_at=at, validator=validator)
        events.append(
            ReplayEvent(
                event["action"], report.branch.bin, report.period, at, outcome.message,
                result.items[0],
            )
        )  # fmt: skip
    return events


# --------------------------------------------------------------------------------------------
# Overview


class PeriodStatus(enum.StrEnum):
    ON_TIME = "on_time"
    LATE = "late"
    MISSING = "missing"
    REJECTED = "rejected"
    PENDING = "pending"


@dataclass(frozen=True)
class KeyFigures:
    """The ratios and flags of 1-PN_S (rows 1, 4, 6, 10), unrounded."""

    solvency_ratio: Decimal | None
    solvency_met: bool | None
    hla_ratio: Decimal | None
    hla_met: bool | None

    @property
    def breaches(self) -> tuple[str, ...]:
        found = []
        if self.solvency_ratio is not None and self.solvency_ratio < 1:
            found.append("solvency margin adequacy ratio < 1")
        if self.solvency_met is False:
            found.append("solvency ratio flag: no")
        if self.hla_ratio is not None and self.hla_ratio < 1:
            found.append("HLA adequacy ratio < 1")
        if self.hla_met is False:
            found.append("HLA ratio flag: no")
        return tuple(found)


_YES = {"yes", "иә", "да", "true"}
_NO = {"no", "жоқ", "нет", "false"}


def _row_value(report: ReportSet, code: str) -> Decimal | bool | None:
    form = report.forms.get("1-PN_S")
    if form is None:
        return None
    for row in form.rows:
        if row.code != code:
            continue
        for value in row.cells.values():
            if isinstance(value, bool | Decimal):
                return value
            if isinstance(value, str) and value.strip().lower() in _YES | _NO:
                return value.strip().lower() in _YES
    return None


def key_figures(report: ReportSet) -> KeyFigures:
    """The compliance figures of a report set's 1-PN_S: the value cell of rows 1 and 6 (ratios)
    and of rows 4 and 10 (flags)."""

    def ratio(code: str) -> Decimal | None:
        value = _row_value(report, code)
        return value if isinstance(value, Decimal) else None

    def flag(code: str) -> bool | None:
        value = _row_value(report, code)
        return value if isinstance(value, bool) else None

    return KeyFigures(ratio("1"), flag("4"), ratio("6"), flag("10"))


@dataclass(frozen=True)
class BranchStatus:
    """One branch's standing for one month."""

    bin: str
    name: str
    period: str
    status: PeriodStatus
    deadline: dt.date | None
    first_accepted_at: dt.datetime | None
    days_late: int | None
    versions: int  # accepted versions
    rejected: int  # rejected files
    current_receipt: int | None
    figures: KeyFigures | None

    @property
    def breaches(self) -> tuple[str, ...]:
        return self.figures.breaches if self.figures is not None else ()

    def as_dict(self) -> dict[str, Any]:
        figures = self.figures
        return {
            "bin": self.bin,
            "name": self.name,
            "period": self.period,
            "status": self.status.value,
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "first_accepted_at": (
                self.first_accepted_at.isoformat() if self.first_accepted_at else None
            ),
            "days_late": self.days_late,
            "versions": self.versions,
            "rejected": self.rejected,
            "current_receipt": self.current_receipt,
            "solvency_ratio": _text(figures.solvency_ratio if figures else None),
            "solvency_met": figures.solvency_met if figures else None,
            "hla_ratio": _text(figures.hla_ratio if figures else None),
            "hla_met": figures.hla_met if figures else None,
            "breaches": list(self.breaches),
        }


def _text(value: Decimal | None) -> str | None:
    return decimal_text(value) if value is not None else None


def _status_of(
    branch: RegisteredBranch,
    period: Month,
    receipts: list[Receipt],
    as_of: dt.datetime,
    deadline: dt.date | None,
) -> BranchStatus:
    accepted = sorted(
        (r for r in receipts if r.status is ReceiptStatus.ACCEPTED), key=lambda r: r.version or 0
    )
    rejected = [r for r in receipts if r.status is ReceiptStatus.REJECTED]
    figures = None
    if accepted:
        first, current = accepted[0], accepted[-1]
        status = PeriodStatus.ON_TIME if first.days_late == 0 else PeriodStatus.LATE
        assert current.payload is not None
        figures = key_figures(parse_report_json(current.payload, f"receipt {current.id}"))
        return BranchStatus(
            branch.bin, branch.name, str(period), status, first.deadline or deadline,
            first.received_at, first.days_late, len(accepted), len(rejected), current.id, figures,
        )  # fmt: skip
    if rejected:
        status = PeriodStatus.REJECTED
    elif deadline is not None and local_date(as_of) <= deadline:
        status = PeriodStatus.PENDING
    else:
        status = PeriodStatus.MISSING
    return BranchStatus(
        branch.bin, branch.name, str(period), status, deadline, None, None, 0, len(rejected),
        None, None,
    )  # fmt: skip


def _deadline_or_none(period: Month) -> dt.date | None:
    try:
        return filing_deadline(period).due
    except SaqtaError:
        return None


def _receipts(
    session: Session, periods: Sequence[str], as_of: dt.datetime, bin_: str | None = None
) -> dict[tuple[str, str], list[Receipt]]:
    stmt = select(Receipt).where(Receipt.period.in_(periods), Receipt.received_at <= as_of)
    if bin_ is not None:
        stmt = stmt.where(Receipt.branch_bin == bin_)
    grouped: dict[tuple[str, str], list[Receipt]] = {}
    for receipt in session.scalars(stmt.order_by(Receipt.id)):
        assert receipt.branch_bin is not None and receipt.period is not None
        grouped.setdefault((receipt.branch_bin, receipt.period), []).append(receipt)
    return grouped


@dataclass(frozen=True)
class Overview:
    period: str
    deadline: dt.date | None
    as_of: dt.datetime
    branches: tuple[BranchStatus, ...]
    unregistered: tuple[int, ...]  # receipts for the month from senders not on the register

    def count(self, status: PeriodStatus) -> int:
        return sum(b.status is status for b in self.branches)

    @property
    def in_breach(self) -> tuple[BranchStatus, ...]:
        return tuple(b for b in self.branches if b.breaches)

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "as_of": self.as_of.isoformat(),
            "counts": {s.value: self.count(s) for s in PeriodStatus},
            "branches": [b.as_dict() for b in self.branches],
            "unregistered_receipts": list(self.unregistered),
        }


def overview(session: Session, period: Month, *, as_of: dt.datetime | None = None) -> Overview:
    """Each registered branch expected to file for ``period``: its status, ratios and breaches,
    as known at ``as_of`` (default now)."""
    moment = _aware(as_of, "as_of")
    key = str(period)
    deadline = _deadline_or_none(period)
    grouped = _receipts(session, [key], moment)
    branches = [b for b in list_branches(session) if b.expects(key)]
    known = {b.bin for b in list_branches(session)}
    rows = tuple(
        _status_of(b, period, grouped.get((b.bin, key), []), moment, deadline) for b in branches
    )
    unregistered = tuple(
        r.id for (bin_, _), receipts in sorted(grouped.items()) if bin_ not in known
        for r in receipts
    )  # fmt: skip
    return Overview(key, deadline, moment, rows, unregistered)


def series(
    session: Session,
    bin_: str,
    *,
    months: int = 12,
    until: Month | None = None,
    as_of: dt.datetime | None = None,
) -> list[BranchStatus]:
    """One branch's status and ratios for the ``months`` months up to ``until`` (default: the
    last month that has ended at ``as_of``), oldest first; months it was not expected to file
    are left out."""
    if months < 1:
        raise InputError("must be 1 or more", where=f"months {months}")
    moment = _aware(as_of, "as_of")
    branch = session.get(RegisteredBranch, bin_)
    if branch is None:
        raise InputError("not on the register", where=f"branch {bin_}")
    last = until if until is not None else Month.of(local_date(moment)).previous()
    periods = [last.shift(-offset) for offset in reversed(range(months))]
    grouped = _receipts(session, [str(p) for p in periods], moment, bin_)
    return [
        _status_of(branch, p, grouped.get((bin_, str(p)), []), moment, _deadline_or_none(p))
        for p in periods
        if branch.expects(str(p))
    ]


# --------------------------------------------------------------------------------------------
# Exports


STATUS_COLUMNS = (
    "bin",
    "name",
    "period",
    "status",
    "deadline",
    "first_accepted_at",
    "days_late",
    "versions",
    "rejected",
    "current_receipt",
    "solvency_ratio",
    "solvency_met",
    "hla_ratio",
    "hla_met",
    "breaches",
)


def statuses_csv(rows: Iterable[BranchStatus]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(STATUS_COLUMNS)
    for row in rows:
        data = row.as_dict()
        data["breaches"] = "; ".join(data["breaches"])
        writer.writerow(["" if data[c] is None else data[c] for c in STATUS_COLUMNS])
    return out.getvalue()


def to_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
