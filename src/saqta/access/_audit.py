"""The append-only audit of every access to personal data.

Each record says who (``user:...`` or ``client:...``, and the role), when (UTC), through which
interface (``api``, ``fhir``, ``cli``, ``web``), what (the action), about whom (the IIN, kept in
full so that the Fund can answer a person's "who looked at me?") and how it ended.

Nothing here changes or deletes a record, and the database refuses it too (triggers made by the
migration). The HTTP interfaces hand records to an :class:`AuditWriter`, which writes them in
batches from a background thread (no database round trip on a request) and writes what is left
when it is closed: a clean shutdown loses nothing.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine, insert, select

from saqta.access._models import AuditRecord
from saqta.store.db import session_scope

log = logging.getLogger("saqta.access.audit")

INTERFACES = ("api", "fhir", "cli", "web")
_IIN = re.compile(r"\d{12}")


@dataclass(frozen=True)
class AuditEvent:
    principal: str
    role: str | None
    interface: str
    action: str
    subject_iin: str | None
    outcome: str
    detail: str | None = None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def row(self) -> dict[str, object]:
        iin = self.subject_iin if _IIN.fullmatch(self.subject_iin or "") else None
        return {
            "at": self.at,
            "principal": self.principal[:120],
            "role": self.role,
            "interface": self.interface,
            "action": self.action[:64],
            "subject_iin": iin,
            "outcome": self.outcome[:32],
            "detail": self.detail[:500] if self.detail else None,
        }


def write_audit(engine: Engine, events: Iterable[AuditEvent]) -> int:
    """Append ``events`` in one transaction; the number written."""
    rows = [event.row() for event in events]
    if not rows:
        return 0
    for row in rows:
        if row["interface"] not in INTERFACES:
            raise ValueError(f"unknown interface {row['interface']!r}")
    with session_scope(engine) as session:
        session.execute(insert(AuditRecord), rows)
    return len(rows)


def query_audit(
    engine: Engine,
    *,
    iin: str | None = None,
    who: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 1000,
) -> list[AuditRecord]:
    """Audit records, newest first (filters optional). ``who`` is a principal (``user:alice``)
    or a bare name, matched as user or client."""
    stmt = select(AuditRecord)
    if iin is not None:
        stmt = stmt.where(AuditRecord.subject_iin == iin)
    if who is not None:
        names = [who] if ":" in who else [f"user:{who}", f"client:{who}"]
        stmt = stmt.where(AuditRecord.principal.in_(names))
    if since is not None:
        stmt = stmt.where(AuditRecord.at >= since)
    if until is not None:
        stmt = stmt.where(AuditRecord.at < until)
    stmt = stmt.order_by(AuditRecord.at.desc(), AuditRecord.id.desc()).limit(limit)
    with session_scope(engine) as session:
        return list(session.scalars(stmt))


class AuditWriter:
    """Collects audit events from request handlers and writes them in batches.

    ``add`` never touches the database; a daemon thread writes every ``interval`` seconds (or
    as soon as ``batch`` events wait). ``close`` stops the thread and writes everything still
    queued. When a write fails the events are kept and tried again at the next turn (and the
    failure is logged); ``close`` raises if they still cannot be written.

    ``every_turn`` callbacks run on the same thread, for other slow work kept off requests
    (reloading the grants, for instance).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        interval: float = 0.2,
        batch: int = 2000,
        every_turn: Iterable[Callable[[], None]] = (),
    ) -> None:
        self.engine = engine
        self.interval = interval
        self.batch = batch
        self.every_turn = list(every_turn)
        self._queue: queue.SimpleQueue[AuditEvent] = queue.SimpleQueue()
        self._pending: list[AuditEvent] = []
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self.written = 0
        self._thread = threading.Thread(target=self._run, name="saqta-audit", daemon=True)
        self._thread.start()

    def add(self, event: AuditEvent) -> None:
        self._queue.put(event)
        if self._queue.qsize() >= self.batch:
            self._wake.set()

    def _drain(self) -> None:
        while True:
            try:
                self._pending.append(self._queue.get_nowait())
            except queue.Empty:
                return

    def flush(self) -> int:
        """Write what is queued now; the number written."""
        with self._lock:
            self._drain()
            if not self._pending:
                return 0
            count = write_audit(self.engine, self._pending)
            self._pending = []
            self.written += count
            return count

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            for callback in self.every_turn:
                try:
                    callback()
                except Exception:  # keep auditing whatever a side job does
                    log.exception("background job failed")
            try:
                self.flush()
            except Exception:
                log.exception("audit write failed; the records are kept and retried")

    def close(self) -> None:
        """Stop the thread and write every queued record (raises if they cannot be written)."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=30)
        self.flush()
