"""Refunds of wrongly paid amounts: request → check → approve or refuse → paid.

The Fund refunds amounts paid wrongly (209.8 thousand refunds, 238.8 mln ₸ in 2022: annual report
2022, section 2). A refund gives back all or part of one accepted payment, named by its
reference. Lifecycle (:data:`TRANSITIONS`): a requested refund is checked, or refused; a checked
refund is approved, or refused; an approved refund is paid. Refused and paid are final. Every
transition is recorded in ``mshi_refund_events`` with who, when and a note; any other transition
is refused with :class:`InputError`.

Segregation of duties: the person who approves a refund is neither the one who requested it nor
the one who checked it.

The sum of the refunds of a payment that are not refused never exceeds the payment's amount.

A paid refund is written to the lake dataset ``payment_outflows`` (schema
:data:`saqta.mshi.schema.PAYMENT_OUTFLOWS`) in the same way an import is committed: the outflow
row is staged in a lake transaction, the database records the payment with the transaction's id,
then the row is moved into the lake (a crash in between is finished by the next writer).
"""

from __future__ import annotations

import datetime as dt
from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from saqta.core.errors import InputError
from saqta.core.faults import crash_point
from saqta.core.money import round_tiyn, to_money
from saqta.mshi.intake import recover_lake, settle_lake
from saqta.mshi.models import Refund, RefundEvent, RefundStatus
from saqta.mshi.schema import PAYMENT_OUTFLOWS
from saqta.store.db import session_scope
from saqta.store.lake import FactsLake

__all__ = [
    "TRANSITIONS",
    "approve_refund",
    "check_refund",
    "find_payment",
    "list_refunds",
    "pay_refund",
    "refund_history",
    "refuse_refund",
    "request_refund",
]

TRANSITIONS: dict[RefundStatus, frozenset[RefundStatus]] = {
    RefundStatus.REQUESTED: frozenset({RefundStatus.CHECKED, RefundStatus.REFUSED}),
    RefundStatus.CHECKED: frozenset({RefundStatus.APPROVED, RefundStatus.REFUSED}),
    RefundStatus.APPROVED: frozenset({RefundStatus.PAID}),
    RefundStatus.REFUSED: frozenset(),
    RefundStatus.PAID: frozenset(),
}
"""The lifecycle: which status may follow which."""


def _actor(by: str) -> str:
    if not isinstance(by, str) or not by.strip() or len(by) > 100:
        raise InputError("who acts must be named (1-100 characters)", where="refund actor")
    return by.strip()


def find_payment(lake: FactsLake, reference: str) -> dict[str, object]:
    """The accepted payment with this reference; :class:`InputError` if there is none."""
    settle_lake(lake)
    if "payments" not in lake.datasets():
        raise InputError(
            "no payment with this reference was accepted", where=f"payment {reference!r}"
        )
    rows = lake.query(
        "SELECT reference, payer_id, person_iin, payment_type, period, amount, payment_date "
        "FROM payments WHERE reference = ?",
        [reference],
    ).to_pylist()
    if not rows:
        raise InputError(
            "no payment with this reference was accepted", where=f"payment {reference!r}"
        )
    found: dict[str, object] = rows[0]
    return found


def _event(
    session: Session,
    refund: Refund,
    to: RefundStatus,
    by: str,
    note: str | None,
    at: datetime,
    lake_transaction: str | None = None,
    details: dict[str, object] | None = None,
) -> None:
    previous = None if refund.id is None else refund.status
    if previous is not None and to not in TRANSITIONS[previous]:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[previous])) or "none (final)"
        raise InputError(
            f"cannot go from {previous.value} to {to.value} (allowed: {allowed})",
            where=f"refund {refund.id}",
        )
    refund.status = to
    session.flush()
    session.add(
        RefundEvent(
            refund_id=refund.id,
            from_status=None if previous is None else previous.value,
            to_status=to.value,
            actor=by,
            at=at,
            note=note,
            lake_transaction=lake_transaction,
            details=details,
        )
    )
    session.flush()


def request_refund(
    engine: Engine,
    lake: FactsLake,
    reference: str,
    amount: Decimal | str | int,
    reason: str,
    by: str,
    *,
    at: datetime | None = None,
) -> Refund:
    """Request a refund of ``amount`` of the accepted payment ``reference``."""
    by = _actor(by)
    try:
        value = to_money(amount)
    except (TypeError, ValueError) as exc:
        raise InputError(str(exc), where="refund amount") from exc
    if value <= 0 or round_tiyn(value) != value:
        raise InputError("must be more than zero, in whole tiyn", where=f"refund amount {amount}")
    value = round_tiyn(value)  # 40 -> 40.00
    if not reason or not reason.strip():
        raise InputError("say why the amount was paid wrongly", where="refund reason")
    settle_lake(lake, engine)
    payment = find_payment(lake, reference)
    paid = payment["amount"]
    assert isinstance(paid, Decimal)
    when = at or datetime.now(UTC)
    with session_scope(engine) as session:
        already = session.scalar(
            select(func.coalesce(func.sum(Refund.amount), 0)).where(
                Refund.reference == reference, Refund.status != RefundStatus.REFUSED
            )
        )
        already = Decimal(already or 0)
        if already + value > paid:
            raise InputError(
                f"refunds of this payment would total {already + value}, more than the "
                f"{paid} paid (already requested or refunded: {already})",
                where=f"payment {reference!r}",
            )
        period = payment["period"]
        assert isinstance(period, dt.date)
        refund = Refund(
            reference=reference,
            payer_id=str(payment["payer_id"]),
            person_iin=str(payment["person_iin"]),
            period=period,
            amount=value,
            reason=reason.strip(),
            status=RefundStatus.REQUESTED,
            requested_by=by,
            requested_at=when,
        )
        session.add(refund)
        session.flush()
        session.add(
            RefundEvent(
                refund_id=refund.id,
                from_status=None,
                to_status=RefundStatus.REQUESTED.value,
                actor=by,
                at=when,
                note=reason.strip(),
            )
        )
    return refund


def _load(session: Session, refund_id: int) -> Refund:
    refund = session.get(Refund, refund_id, with_for_update=True, populate_existing=True)
    if refund is None:
        raise InputError("no such refund", where=f"refund {refund_id}")
    return refund


def _move(
    engine: Engine, refund_id: int, to: RefundStatus, by: str, note: str | None, at: datetime | None
) -> Refund:
    by = _actor(by)
    with session_scope(engine) as session:
        refund = _load(session, refund_id)
        if to is RefundStatus.APPROVED:
            actors = set(
                session.scalars(
                    select(RefundEvent.actor).where(
                        RefundEvent.refund_id == refund_id,
                        RefundEvent.to_status.in_(["requested", "checked"]),
                    )
                )
            )
            if by in actors:
                raise InputError(
                    f"{by} requested or checked this refund and cannot also approve it",
                    where=f"refund {refund_id}",
                )
        _event(session, refund, to, by, note, at or datetime.now(UTC))
    return refund


def check_refund(
    engine: Engine, refund_id: int, by: str, *, note: str | None = None, at: datetime | None = None
) -> Refund:
    """Record that the refund was checked against the payment (requested → checked)."""
    return _move(engine, refund_id, RefundStatus.CHECKED, by, note, at)


def approve_refund(
    engine: Engine, refund_id: int, by: str, *, note: str | None = None, at: datetime | None = None
) -> Refund:
    """Approve a checked refund (by someone who neither requested nor checked it)."""
    return _move(engine, refund_id, RefundStatus.APPROVED, by, note, at)


def refuse_refund(
    engine: Engine, refund_id: int, by: str, *, note: str | None = None, at: datetime | None = None
) -> Refund:
    """Refuse a requested or checked refund; the note says why."""
    if not note or not note.strip():
        raise InputError("say why the refund is refused", where=f"refund {refund_id}")
    return _move(engine, refund_id, RefundStatus.REFUSED, by, note, at)


def pay_refund(
    engine: Engine,
    lake: FactsLake,
    refund_id: int,
    by: str,
    *,
    paid_on: dt.date | None = None,
    note: str | None = None,
    at: datetime | None = None,
) -> Refund:
    """Record an approved refund as paid on ``paid_on`` (default today) and add its outflow row
    to the lake dataset ``payment_outflows``."""
    by = _actor(by)
    day = paid_on or dt.date.today()
    with lake.lock():
        recover_lake(lake, engine)
        with session_scope(engine) as session:
            refund = _load(session, refund_id)
            if RefundStatus.PAID not in TRANSITIONS[refund.status]:
                raise InputError(
                    f"cannot go from {refund.status.value} to paid (only an approved refund is "
                    "paid)",
                    where=f"refund {refund_id}",
                )
            outflow = pa.table(
                {
                    "refund_id": pa.array([refund.id], pa.int64()),
                    "reference": pa.array([refund.reference], pa.string()),
                    "person_iin": pa.array([refund.person_iin], pa.string()),
                    "period": pa.array([refund.period], pa.date32()),
                    "amount": pa.array([refund.amount], PAYMENT_OUTFLOWS.field("amount").type),
                    "paid_on": pa.array([day], pa.date32()),
                },
                schema=PAYMENT_OUTFLOWS,
            )
        transaction = lake.begin()
        try:
            transaction.write("payment_outflows", outflow)
            transaction.prepare()
            with session_scope(engine) as session:
                refund = _load(session, refund_id)
                refund.paid_on = day
                _event(
                    session,
                    refund,
                    RefundStatus.PAID,
                    by,
                    note,
                    at or datetime.now(UTC),
                    lake_transaction=transaction.id,
                    details={"paid_on": day.isoformat()},
                )
            crash_point("refund.committed")
        except BaseException:
            transaction.abort()
            raise
        transaction.commit()
    return refund


def refund_history(engine: Engine, refund_id: int) -> tuple[Refund, list[RefundEvent]]:
    """A refund and every transition it went through, oldest first."""
    with session_scope(engine) as session:
        refund = session.get(Refund, refund_id)
        if refund is None:
            raise InputError("no such refund", where=f"refund {refund_id}")
        events = list(
            session.scalars(
                select(RefundEvent)
                .where(RefundEvent.refund_id == refund_id)
                .order_by(RefundEvent.id)
            )
        )
    return refund, events


def list_refunds(engine: Engine, *, status: RefundStatus | str | None = None) -> list[Refund]:
    """Refunds, oldest first, optionally of one status."""
    statement = select(Refund).order_by(Refund.id)
    if status is not None:
        try:
            wanted = status if isinstance(status, RefundStatus) else RefundStatus(status)
        except ValueError:
            allowed = ", ".join(s.value for s in RefundStatus)
            raise InputError(f"not one of {allowed}", where=f"status {status!r}") from None
        statement = statement.where(Refund.status == wanted)
    with session_scope(engine) as session:
        return list(session.scalars(statement))
