"""Filing deadlines of the monthly prudential reports.

Rule (NBRK resolution No. 25 of 02.03.2021, para. 2; Annex 7, para. 4): a branch submits the five
forms for a reporting month no later than the **6th working day of the following month**; a
deadline that falls on a day off or a holiday moves to the next working day. The number of the
working day is the dated parameter ``prudential.filing.deadline_working_day``
(``rules/prudential/filing.yaml``), looked up on the first day of the month the deadline falls in.

Working days are counted on :func:`saqta.core.calendar.kazakhstan_calendar` (public holidays, their
statutory moves, and the Government's decreed day transfers). An N-th working day is a working day
by construction, so Annex 7 para. 4 is already satisfied; it is still applied explicitly
(:meth:`WorkingDayCalendar.next_working_day`), so that a rule change to a calendar-day deadline
would keep the move. Dates outside the calendar's coverage are refused by the calendar.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from saqta.core.calendar import WorkingDayCalendar, kazakhstan_calendar
from saqta.core.errors import InputError, RulesError
from saqta.core.periods import Month
from saqta.core.rules import RuleSet

DEADLINE_RULE = "prudential.filing.deadline_working_day"


@dataclass(frozen=True)
class CountedDay:
    """One day of the deadline month up to the deadline: counted as a working day or skipped."""

    day: dt.date
    working: bool
    number: int | None  # the working day's number (1-based), None when skipped
    reason: str  # the calendar's explanation: weekend, holiday, decreed transfer, ...


@dataclass(frozen=True)
class FilingDeadline:
    """The deadline of the reports for one reporting month, with how it was found."""

    period: Month  # the reporting month
    due: dt.date  # the last day on which the reports are on time
    working_day: int  # N in "the N-th working day of the following month"
    source: str  # the legal source of N
    days: tuple[CountedDay, ...]  # each day from the 1st of the following month to ``due``

    @property
    def skipped(self) -> tuple[CountedDay, ...]:
        """The days off passed over before the deadline, each with its reason."""
        return tuple(day for day in self.days if not day.working)

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": str(self.period),
            "due": self.due.isoformat(),
            "working_day": self.working_day,
            "source": self.source,
            "skipped": [
                {"date": day.day.isoformat(), "reason": day.reason} for day in self.skipped
            ],
        }


def _rules() -> RuleSet:
    """The rule set, loaded once per process (the prudential context's cache)."""
    from saqta.prudential.reference import prudential_rules

    return prudential_rules()


@lru_cache(maxsize=1)
def _calendar() -> WorkingDayCalendar:
    """The working-day calendar built from the same cached rule set (one load of the rules per
    process instead of two)."""
    from saqta.core.calendar import DayTransferFile

    tables = [d for d in _rules().documents.values() if isinstance(d, DayTransferFile)]
    return WorkingDayCalendar(tables) if tables else kazakhstan_calendar()


def deadline_working_day(period: Month, rules: RuleSet | None = None) -> tuple[int, str]:
    """N and its source: the working day of the month after ``period`` the reports are due."""
    rules = rules if rules is not None else _rules()
    found = rules.lookup(DEADLINE_RULE, period.next().first_day)
    if not isinstance(found.value, int) or found.value < 1:
        raise RulesError(
            f"must be a positive whole number of working days, got {found.value!r}",
            where=f"rule {DEADLINE_RULE!r} on {found.on}",
        )
    return found.value, found.source


def filing_deadline(
    period: Month,
    *,
    calendar: WorkingDayCalendar | None = None,
    rules: RuleSet | None = None,
) -> FilingDeadline:
    """The deadline of the reports for ``period`` (the reporting month).

    Guarantees: the result is a working day of the month after ``period``; ``days`` lists every
    day from the 1st of that month to the deadline with the reason it was or was not counted.
    Raises :class:`InputError` when the month lies outside the calendar's coverage and
    :class:`RulesError` when the resolution is not in force then.
    """
    calendar = calendar if calendar is not None else _calendar()
    n, source = deadline_working_day(period, rules)
    month = period.next()
    nth = calendar.nth_working_day(month, n)
    due = calendar.next_working_day(nth)  # Annex 7 para. 4 (a no-op for a working-day count)
    days: list[CountedDay] = []
    day, count = month.first_day, 0
    while day <= due:
        working = calendar.is_working_day(day)
        count += working
        days.append(CountedDay(day, working, count if working else None, calendar.why(day)))
        day += dt.timedelta(days=1)
    return FilingDeadline(period=period, due=due, working_day=n, source=source, days=tuple(days))


def filing_calendar(
    year: int,
    *,
    calendar: WorkingDayCalendar | None = None,
    rules: RuleSet | None = None,
) -> list[FilingDeadline]:
    """The twelve deadlines that fall in ``year``: reporting months December of ``year - 1`` to
    November of ``year``.

    A calendar year of deadlines needs only that year's working-day calendar (the deadline of the
    December report falls in January of the next year, and belongs to that year's calendar).
    Months for which the resolution was not yet in force are left out; a year with none is an
    error. A year outside the calendar's coverage is refused.
    """
    if not 1 <= year <= 9999:
        raise InputError("expected a four-digit year", where=f"year {year}")
    calendar = calendar if calendar is not None else _calendar()
    rules = rules if rules is not None else _rules()
    result: list[FilingDeadline] = []
    first_out_of_force: RulesError | None = None
    for offset in range(12):
        period = Month(year, 1).shift(offset - 1)
        try:
            result.append(filing_deadline(period, calendar=calendar, rules=rules))
        except RulesError as exc:
            first_out_of_force = first_out_of_force or exc
    if not result and first_out_of_force is not None:
        raise first_out_of_force
    return result


def calendar_csv(deadlines: list[FilingDeadline]) -> str:
    """One line per deadline: reporting month, due date, weekday, N, skipped days and reasons."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["period", "due", "weekday", "working_day", "skipped_days", "source"])
    for deadline in deadlines:
        skipped = "; ".join(f"{d.day.isoformat()} {d.reason}" for d in deadline.skipped)
        writer.writerow(
            [
                str(deadline.period),
                deadline.due.isoformat(),
                deadline.due.strftime("%A"),
                deadline.working_day,
                skipped,
                deadline.source,
            ]
        )
    return out.getvalue()


def calendar_json(deadlines: list[FilingDeadline]) -> str:
    return json.dumps([d.as_dict() for d in deadlines], ensure_ascii=False, indent=2) + "\n"


def _ics_text(text: str) -> str:
    """Escape a TEXT value (RFC 5545 §3.3.11)."""
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> list[str]:
    """Fold a content line at 75 octets (RFC 5545 §3.1) without splitting a UTF-8 character."""
    parts: list[str] = []
    current, size, limit = "", 0, 75
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            parts.append(current)
            current, size, limit = " ", 1, 75
        current += char
        size += width
    parts.append(current)
    return parts


def calendar_ics(
    deadlines: list[FilingDeadline], *, generated_at: dt.datetime, branch: str | None = None
) -> str:
    """An iCalendar file (RFC 5545) with one all-day event per deadline.

    UIDs are stable (reporting month and branch), so re-importing an updated file updates the
    events instead of duplicating them. ``generated_at`` (aware) is the DTSTAMP.
    """
    if generated_at.tzinfo is None:
        raise InputError("give a time zone", where="generated_at")
    stamp = generated_at.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    who = f" ({branch})" if branch else ""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Saqta//Prudential filing calendar//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
    ]
    for deadline in deadlines:
        skipped = "; ".join(f"{d.day.isoformat()} {d.reason}" for d in deadline.skipped)
        description = (
            f"Forms 1-PN_S, 1-PN_M, 1-PN_O, 1-PN_Z, 1-PN_V for {deadline.period}{who}: "
            f"working day {deadline.working_day} of {deadline.period.next()} ({deadline.source})."
            + (f" Days off passed over: {skipped}." if skipped else "")
        )
        end = deadline.due + dt.timedelta(days=1)
        lines += [
            "BEGIN:VEVENT",
            f"UID:prudential-{deadline.period}{'-' + branch if branch else ''}@saqta",
            f"DTSTAMP:{stamp}",
            f"DTSTART;VALUE=DATE:{deadline.due.strftime('%Y%m%d')}",
            f"DTEND;VALUE=DATE:{end.strftime('%Y%m%d')}",
            f"SUMMARY:{_ics_text(f'Prudential reports for {deadline.period} due{who}')}",
            f"DESCRIPTION:{_ics_text(description)}",
            "TRANSP:TRANSPARENT",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(part + "\r\n" for line in lines for part in _fold(line))
