"""The status rules in force for a month, read from ``rules/mshi/status.yaml`` and the prepayment
rule of ``rules/mshi/contributions.yaml``.

Entitlement by contributions in month M (months as consecutive integers; ``lag`` is 0 when a
payment for M itself counts toward M, 1 otherwise):

- the counted months are the months with at least one counted payment (its period, or in
  ``receipt`` mode the later of its period and the month it was received);
- entitled when at least ``min_paid_months`` counted months lie in ``[M - lookback + 1, M - lag]``
  and the latest of them is no older than ``M - survival_months``.

A self-payer's prepayment (from the date ``self_payer_prepayment_months`` is in force: 5 Sep 2022,
12 months) is a set of self-payer payments made on one day for every one of K consecutive months
beginning with the month of payment or the next month (contributions paid ahead): it gives status
at once, from the day of payment through the last prepaid month.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from saqta.core.errors import Problem, RulesError
from saqta.core.periods import Month
from saqta.core.rules import RuleSet
from saqta.mshi.schema import PAYMENT_TYPES

NAMESPACE = "mshi.status"
PREPAYMENT_RULE = "mshi.contributions.self_payer_prepayment_months"
COUNT_FROM = ("period", "receipt")
_END_OF_TIME = dt.date(9999, 12, 31)


@dataclass(frozen=True)
class Prepayment:
    """One dated value of the prepayment rule: from, to (inclusive) and the months paid ahead."""

    valid_from: dt.date
    valid_to: dt.date
    months: int


@dataclass(frozen=True)
class StatusRules:
    """Every parameter the engine needs for one month (hashable: months with equal rules are
    computed together)."""

    payment_types: tuple[str, ...]
    lookback_months: int
    min_paid_months: int
    survival_months: int
    current_month_counts: bool
    count_from: str
    prepayments: tuple[Prepayment, ...]

    @property
    def lag(self) -> int:
        return 0 if self.current_month_counts else 1

    @property
    def max_prepayment_months(self) -> int:
        return max((p.months for p in self.prepayments), default=0)

    def prepayment_on(self, day: dt.date) -> Prepayment | None:
        for entry in self.prepayments:
            if entry.valid_from <= day <= entry.valid_to:
                return entry
        return None

    def check(self) -> StatusRules:
        """Refuse values the engine cannot apply, naming the parameter."""
        problems: list[tuple[str, str]] = []
        unknown = [t for t in self.payment_types if t not in PAYMENT_TYPES]
        if unknown or not self.payment_types:
            problems.append(
                (
                    "contribution_payment_types",
                    f"must be a non-empty list of {', '.join(PAYMENT_TYPES)}; "
                    f"unknown: {', '.join(map(str, unknown)) or 'none'}",
                )
            )
        if not 1 <= self.lookback_months <= 120:
            problems.append(("contribution_lookback_months", "must be 1 to 120 months"))
        if not 1 <= self.min_paid_months <= max(self.lookback_months - self.lag + 1, 1):
            problems.append(
                (
                    "contribution_min_paid_months",
                    "must be at least 1 and fit in the look-back window",
                )
            )
        if not self.lag <= self.survival_months <= 120:
            problems.append(
                (
                    "contribution_survival_months",
                    f"must be {self.lag} to 120 months (a payment must be able to count)",
                )
            )
        if self.count_from not in COUNT_FROM:
            problems.append(("payment_counts_from", f"must be one of {', '.join(COUNT_FROM)}"))
        for entry in self.prepayments:
            if not 1 <= entry.months <= 120:
                problems.append((PREPAYMENT_RULE, "must be 1 to 120 months"))
        if problems:
            raise RulesError(
                [
                    Problem(f"rule {name if '.' in name else f'{NAMESPACE}.{name}'!r}", what)
                    for name, what in problems
                ]
            )
        return self


def _prepayments(rules: RuleSet) -> tuple[Prepayment, ...]:
    try:
        param = rules.parameter(PREPAYMENT_RULE)
    except RulesError:
        return ()
    ordered = sorted(param.values, key=lambda v: v.from_)
    entries = []
    for i, entry in enumerate(ordered):
        if entry.value is None:
            continue
        following = ordered[i + 1].from_ - dt.timedelta(days=1) if i + 1 < len(ordered) else None
        ends = [d for d in (entry.to, following) if d is not None]
        entries.append(Prepayment(entry.from_, min(ends, default=_END_OF_TIME), int(entry.value)))
    return tuple(entries)


def status_rules(rules: RuleSet, month: Month) -> StatusRules:
    """The status rules in force on the first day of ``month``."""
    on = month.first_day

    def value(name: str) -> object:
        return rules.value(f"{NAMESPACE}.{name}", on)

    types = value("contribution_payment_types")
    return StatusRules(
        payment_types=tuple(str(t) for t in types) if isinstance(types, list) else (),
        lookback_months=int(str(value("contribution_lookback_months"))),
        min_paid_months=int(str(value("contribution_min_paid_months"))),
        survival_months=int(str(value("contribution_survival_months"))),
        current_month_counts=bool(value("current_month_payment_counts")),
        count_from=str(value("payment_counts_from")),
        prepayments=_prepayments(rules),
    ).check()
