"""An independent reference for the insured-status rules: plain Python, one person at a time.

Written from the rules' documentation (``docs/mshi-status.md``, ``rules/mshi/status.yaml`` and
the prepayment rule of ``rules/mshi/contributions.yaml``), not from the engine's SQL. It is slow
and obvious on purpose: a test oracle. Every rule is a small function of its own, so that a
change of one rule changes one function.

The rules implemented (months are :class:`~saqta.core.periods.Month` values; ``lag`` is 0 when
``current_month_payment_counts`` is true, else 1):

1. :func:`latest_person`: a person is the register row with the highest ``loaded_seq``.
2. :func:`in_population`: a person has a row in month M when born by the last day of M.
3. :func:`died_before`: dead before M (the month of death is before M): basis ``deceased``,
   not entitled.
4. :func:`category_periods`: a person's category periods are, per source (state register; the
   category when none is given), those of the person's latest load of that source.
   :func:`category_of_month`: a period counts in M when it covers at least one day of M; the row
   names the one that lasts longest (open-ended longest; equal ends: the greatest category name,
   which the documentation does not settle).
5. :func:`payments_left`: a payment is the distinct (reference, person, type, period, amount):
   duplicate rows count once. Its refunds are those of the same reference, person and period,
   summed; it counts when the amount left is above zero.
6. :func:`counted_month`: a counted payment counts for its period (``payment_counts_from:
   period``) or for the later of its period and the month it was paid (``receipt``), when its
   type is one of ``contribution_payment_types``.
7. :func:`by_contributions`: entitled in M when at least ``contribution_min_paid_months``
   counted months lie in [M - lookback + 1, M - lag] and the latest counted month up to M - lag
   is no older than M - survival.
8. :func:`prepaid_months`: self-payer payments (not refunded) made on one day D when the
   prepayment rule is in force on D (K months), one for each of K consecutive months beginning
   with the month of D or the next month: entitled from the month of D through the last of
   those months.
9. :func:`decide`: basis by priority deceased, state category, prepayment, contributions, none.
   ``payment_type``: for contributions, the type of the latest counted month up to M - lag (the
   first in :data:`~saqta.mshi.schema.PAYMENT_TYPES` order when the month has several);
   ``self_payer`` for a prepayment. ``paid_months``: counted months in the window;
   ``last_paid_period``: the latest counted month among the months the rule looks at, from
   M - max(lookback - 1, survival) up to M itself (:func:`last_paid_range`; older payments
   are not read).
10. :func:`valid_until`: the latest end among the bases that apply, capped by the date of death;
    a category: its ``valid_to`` (open: none); contributions: the last month the rule 7 still
    holds with only the counted months up to M; a prepayment: the months it covers, then the
    survival the rule 7 gives on the prepaid months alone (none when self-payer payments do not
    count toward contributions, or when fewer months are prepaid than the paid months needed).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from saqta.core.errors import RulesError
from saqta.core.periods import Month
from saqta.core.rules import RuleSet
from saqta.mshi.schema import PAYMENT_TYPES

STATUS_NS = "mshi.status"
PREPAYMENT_RULE = "mshi.contributions.self_payer_prepayment_months"

DECISION_COLUMNS = (
    "iin",
    "month",
    "entitled",
    "basis",
    "category",
    "payment_type",
    "paid_months",
    "last_paid_period",
    "valid_until",
)
"""The columns of a status row that are decisions or their parameters (not wording)."""


@dataclass(frozen=True)
class Person:
    iin: str
    birth_date: dt.date
    death_date: dt.date | None
    loaded_seq: int = 1


@dataclass(frozen=True)
class CategoryPeriod:
    iin: str
    category: str
    valid_from: dt.date
    valid_to: dt.date | None
    loaded_seq: int = 1
    source: str | None = None  # the state register; none given: the category


@dataclass(frozen=True)
class Payment:
    reference: str
    iin: str
    payment_type: str
    period: dt.date
    amount: Decimal
    payment_date: dt.date


@dataclass(frozen=True)
class Refund:
    reference: str
    iin: str
    period: dt.date
    amount: Decimal


@dataclass(frozen=True)
class Rules:
    """The status rules in force for a month, read by name from the rule set."""

    payment_types: frozenset[str]
    lookback: int
    min_paid: int
    survival: int
    current_month_counts: bool
    counts_from: str

    @property
    def lag(self) -> int:
        return 0 if self.current_month_counts else 1


def rules_for(rules: RuleSet, month: Month) -> Rules:
    """The status parameters in force on the first day of ``month``."""

    def value(name: str) -> object:
        return rules.value(f"{STATUS_NS}.{name}", month.first_day)

    return Rules(
        payment_types=frozenset(str(t) for t in value("contribution_payment_types")),  # type: ignore[attr-defined]
        lookback=int(str(value("contribution_lookback_months"))),
        min_paid=int(str(value("contribution_min_paid_months"))),
        survival=int(str(value("contribution_survival_months"))),
        current_month_counts=bool(value("current_month_payment_counts")),
        counts_from=str(value("payment_counts_from")),
    )


def prepayment_months_on(rules: RuleSet, day: dt.date) -> int | None:
    """K of the prepayment rule in force on ``day``; None when no value is in force."""
    try:
        return int(str(rules.value(PREPAYMENT_RULE, day)))
    except RulesError:
        return None


# ------------------------------------------------------------------------------------------------
# The register


def latest_person(rows: Iterable[Person]) -> dict[str, Person]:
    """Rule 1: each IIN's row with the highest ``loaded_seq``."""
    found: dict[str, Person] = {}
    for row in rows:
        if row.iin not in found or row.loaded_seq > found[row.iin].loaded_seq:
            found[row.iin] = row
    return found


def in_population(person: Person, month: Month) -> bool:
    """Rule 2."""
    return person.birth_date <= month.last_day


def died_before(person: Person, month: Month) -> bool:
    """Rule 3."""
    return person.death_date is not None and Month.of(person.death_date) < month


def category_periods(rows: Iterable[CategoryPeriod], iin: str) -> list[CategoryPeriod]:
    """Rule 4: per source (state register; the category when none is given), the periods of
    the person's latest load of that source."""
    mine = [row for row in rows if row.iin == iin]
    latest: dict[str, int] = {}
    for row in mine:
        source = row.source or row.category
        latest[source] = max(latest.get(source, row.loaded_seq), row.loaded_seq)
    return [row for row in mine if row.loaded_seq == latest[row.source or row.category]]


def category_of_month(periods: list[CategoryPeriod], month: Month) -> CategoryPeriod | None:
    """Rule 4: the period covering a day of ``month`` that lasts longest."""
    covering = [
        p
        for p in periods
        if p.valid_from <= month.last_day and (p.valid_to is None or p.valid_to >= month.first_day)
    ]
    if not covering:
        return None
    return max(covering, key=lambda p: (p.valid_to or dt.date.max, p.category))


# ------------------------------------------------------------------------------------------------
# Payments


def payments_left(
    payments: Iterable[Payment], refunds: Iterable[Refund], iin: str
) -> list[Payment]:
    """Rule 5: the person's distinct payments that are not refunded in full."""
    distinct: dict[tuple[str, str, dt.date, Decimal], list[Payment]] = defaultdict(list)
    for p in payments:
        if p.iin == iin:
            distinct[(p.reference, p.payment_type, p.period, p.amount)].append(p)
    refunded: dict[tuple[str, dt.date], Decimal] = defaultdict(Decimal)
    for r in refunds:
        if r.iin == iin:
            refunded[(r.reference, r.period)] += r.amount
    by_key: dict[tuple[str, dt.date], list[list[Payment]]] = defaultdict(list)
    for (reference, _, period, _), copies in distinct.items():
        by_key[(reference, period)].append(copies)
    kept: list[Payment] = []
    for key, groups in by_key.items():
        paid = sum((copies[0].amount for copies in groups), Decimal(0))
        if key in refunded and paid - refunded[key] <= 0:
            continue
        for copies in groups:
            kept.extend(copies)
    return kept


def counted_month(payment: Payment, rules: Rules) -> Month | None:
    """Rule 6: the month a payment counts for, or None when its type does not count."""
    if payment.payment_type not in rules.payment_types:
        return None
    month = Month.of(payment.period)
    if rules.counts_from == "receipt":
        month = max(month, Month.of(payment.payment_date))
    return month


def counted_months(payments: list[Payment], rules: Rules) -> dict[Month, set[str]]:
    """Each counted month with the types of the payments counted for it."""
    months: dict[Month, set[str]] = defaultdict(set)
    for p in payments:
        month = counted_month(p, rules)
        if month is not None:
            months[month].add(p.payment_type)
    return months


def window(month: Month, rules: Rules) -> tuple[Month, Month]:
    return month.shift(1 - rules.lookback), month.shift(-rules.lag)


def last_paid_range(month: Month, rules: Rules) -> tuple[Month, Month]:
    """Rule 9: the months in which the latest paid month is looked for: those the rule looks at
    (the window and the survival), up to M itself."""
    return month.shift(-max(rules.lookback - 1, rules.survival)), month


def by_contributions(months: Iterable[Month], month: Month, rules: Rules) -> bool:
    """Rule 7."""
    first, last = window(month, rules)
    inside = [m for m in months if first <= m <= last]
    up_to = [m for m in months if m <= last]
    return (
        len(inside) >= rules.min_paid and bool(up_to) and max(up_to) >= month.shift(-rules.survival)
    )


def prepaid_months(payments: list[Payment], rules: RuleSet) -> list[tuple[Month, Month, Month]]:
    """Rule 8: for each prepayment, the month status starts (the month of payment), the first
    and the last prepaid month (12 months ahead begin with the month of payment or the next)."""
    by_day: dict[dt.date, set[Month]] = defaultdict(set)
    for p in payments:
        if p.payment_type == "self_payer":
            by_day[p.payment_date].add(Month.of(p.period))
    found = []
    for day, months in by_day.items():
        k = prepayment_months_on(rules, day)
        if k is None:
            continue
        paid_in = Month.of(day)
        for start in (paid_in, paid_in.next()):
            if all(start.shift(i) in months for i in range(k)):
                found.append((paid_in, start, start.shift(k - 1)))
    return found


# ------------------------------------------------------------------------------------------------
# Ends


def contributions_end(months: Iterable[Month], month: Month, rules: Rules) -> Month:
    """The last month rule 7 holds, from ``month`` on, with only ``months`` counted."""
    known = [m for m in months]
    end = month
    while end.index - month.index < 240 and by_contributions(known, end.next(), rules):
        end = end.next()
    return end


def prepayment_end(first: Month, last: Month, rules: Rules) -> Month:
    """The prepaid months, then the survival rule 7 gives on them alone (none when self-payer
    payments do not count toward contributions)."""
    prepaid = [first.shift(i) for i in range(last.index - first.index + 1)]
    if "self_payer" not in rules.payment_types:
        return last
    end = last
    while end.index - last.index < 240 and by_contributions(prepaid, end.next(), rules):
        end = end.next()
    return end


def valid_until(
    person: Person,
    category: CategoryPeriod | None,
    prepaid_to: Month | None,
    contributions_to: Month | None,
) -> dt.date | None:
    """Rule 10 (only for an entitled row)."""
    if category is not None and category.valid_to is None:
        end = None
    else:
        ends = [
            d
            for d in (
                category.valid_to if category is not None else None,
                prepaid_to.last_day if prepaid_to is not None else None,
                contributions_to.last_day if contributions_to is not None else None,
            )
            if d is not None
        ]
        end = max(ends)
    if person.death_date is not None:
        return person.death_date if end is None else min(end, person.death_date)
    return end


# ------------------------------------------------------------------------------------------------
# One person, one month


def decide(
    person: Person,
    periods: list[CategoryPeriod],
    payments: list[Payment],
    month: Month,
    rules: RuleSet,
) -> dict[str, object] | None:
    """Rule 9: the decision columns of ``person`` in ``month`` (None: no row).

    ``payments`` are the person's payments left after refunds (:func:`payments_left`)."""
    if not in_population(person, month):
        return None
    r = rules_for(rules, month)
    counted = counted_months(payments, r)
    first, last = window(month, r)
    in_window = sorted(m for m in counted if first <= m <= last)
    looked_at = last_paid_range(month, r)
    up_to_m = [m for m in counted if looked_at[0] <= m <= looked_at[1]]
    row: dict[str, object] = {
        "iin": person.iin,
        "month": month.first_day,
        "entitled": False,
        "basis": "none",
        "category": None,
        "payment_type": None,
        "paid_months": len(in_window),
        "last_paid_period": max(up_to_m).first_day if up_to_m else None,
        "valid_until": None,
    }
    if died_before(person, month):
        row["basis"] = "deceased"
        return row
    category = category_of_month(periods, month)
    prepayments = [(f, b) for a, f, b in prepaid_months(payments, rules) if a <= month <= b]
    contributions = by_contributions(counted, month, r)
    prepaid_to = max(prepayment_end(f, b, r) for f, b in prepayments) if prepayments else None
    contributions_to = (
        contributions_end([m for m in counted if m <= month], month, r) if contributions else None
    )
    if category is not None:
        row.update(basis="state_category", category=category.category)
    elif prepayments:
        row.update(basis="prepayment", payment_type="self_payer")
    elif contributions:
        latest = max(m for m in counted if m <= last)
        kind = next(t for t in PAYMENT_TYPES if t in counted[latest])
        row.update(basis="contributions", payment_type=kind)
    else:
        return row
    row["entitled"] = True
    row["valid_until"] = valid_until(person, category, prepaid_to, contributions_to)
    return row


def reference_status(
    persons: Iterable[Person],
    categories: Iterable[CategoryPeriod],
    payments: Iterable[Payment],
    refunds: Iterable[Refund],
    months: Iterable[Month],
    rules: RuleSet,
) -> list[dict[str, object]]:
    """Every person's decision columns in every month, sorted by month and IIN."""
    categories = list(categories)
    payments = list(payments)
    refunds = list(refunds)
    rows = []
    for person in latest_person(persons).values():
        periods = category_periods(categories, person.iin)
        left = payments_left(payments, refunds, person.iin)
        for month in months:
            decided = decide(person, periods, left, month, rules)
            if decided is not None:
                rows.append(decided)
    return sorted(rows, key=lambda r: (r["month"], r["iin"]))  # type: ignore[arg-type,return-value]
