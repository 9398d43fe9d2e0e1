"""Kazakhstan's working-day calendar.

Public holidays, and the statutory move of a holiday that falls on a Saturday or Sunday to the next
working day, come from the ``holidays`` package (Law of the RK "On holidays in the Republic of
Kazakhstan"). The Government's decreed day transfers (Labour Code art. 85(3)) come from the data
file ``rules/calendar/kz_day_transfers.yaml``, each citing its decree and saying whether it was
checked against the decree's text (``verified``), like every other rule: a transferred day off is
not a working day, and the weekend day it was moved from becomes a working day.

The calendar answers "is D a working day", "the n-th working day of month M" and "the deadline D
moved to the next working day". Dates outside the years the transfer table covers are refused,
because the answer there could silently be wrong.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import holidays
from pydantic import BaseModel, ConfigDict, Field

from saqta.core.errors import InputError, Problem, RulesError
from saqta.core.periods import Month
from saqta.core.rules import packaged_rules_dir, register_kind, validate_file

SATURDAY = 5


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DayTransfer(_Strict):
    day_off: dt.date
    working_day: dt.date
    source: str = Field(min_length=3)
    verified: bool  # required: false when the decree's text was not checked
    note: str | None = None


class Coverage(_Strict):
    from_: dt.date = Field(alias="from")
    to: dt.date


class YearWithoutTransfers(_Strict):
    year: int
    source: str = Field(min_length=3)
    verified: bool


class DayTransferFile(_Strict):
    kind: str = Field(pattern="^day_transfers$")
    country: str
    description: str
    covers: Coverage
    transfers: list[DayTransfer]
    years_without_transfers: list[YearWithoutTransfers] = []


def _transfer_problems(path: Path, doc: DayTransferFile) -> list[Problem]:
    problems = []
    if doc.covers.to < doc.covers.from_:
        problems.append(Problem(f"{path}: covers", "inverted range: to is before from"))
    seen: dict[dt.date, int] = {}
    for i, transfer in enumerate(doc.transfers):
        where = f"{path}: transfers[{i}]"
        for day in (transfer.day_off, transfer.working_day):
            if not doc.covers.from_ <= day <= doc.covers.to:
                problems.append(Problem(where, f"{day} is outside the covered range"))
            if day in seen:
                problems.append(Problem(where, f"{day} already appears in transfers[{seen[day]}]"))
            seen[day] = i
        if transfer.working_day.weekday() < SATURDAY and not transfer.note:
            problems.append(
                Problem(
                    where,
                    f"working_day {transfer.working_day} is a weekday: add a note saying which "
                    "statutory day off the decree cancelled",
                )
            )
    return problems


register_kind("day_transfers", DayTransferFile, _transfer_problems)


class WorkingDayCalendar:
    """Working days of a five-day week in Kazakhstan, over the years the transfer table covers."""

    def __init__(self, tables: Sequence[DayTransferFile]) -> None:
        """Combine transfer tables in order: the shipped one, then any from the overrides folder
        (which may extend the covered years or correct an entry for the same day off)."""
        if not tables:
            raise RulesError("no day-transfer table found among the rule files")
        ordered = sorted(tables, key=lambda t: t.covers.from_)
        self.first_day = ordered[0].covers.from_
        self.last_day = ordered[0].covers.to
        for table in ordered[1:]:
            if table.covers.from_ > self.last_day + dt.timedelta(days=1):
                raise RulesError(
                    f"day-transfer tables leave a gap from {self.last_day} to {table.covers.from_}"
                )
            self.last_day = max(self.last_day, table.covers.to)
        by_day_off = {t.day_off: t for table in tables for t in table.transfers}
        self.days_off = by_day_off
        self.working_weekend_days = {t.working_day: t for t in by_day_off.values()}
        years = range(self.first_day.year, self.last_day.year + 1)
        self._holidays = holidays.country_holidays("KZ", years=years, language="en_US")

    def _check(self, day: dt.date) -> None:
        if not self.first_day <= day <= self.last_day:
            raise InputError(
                f"out of range: the calendar covers {self.first_day} to {self.last_day}",
                where=f"date {day}",
            )

    def holiday_name(self, day: dt.date) -> str | None:
        """The public holiday on ``day``, if any, as the holidays package names it."""
        self._check(day)
        name = self._holidays.get(day)
        return None if name is None else str(name)

    def is_working_day(self, day: dt.date) -> bool:
        self._check(day)
        if day in self.working_weekend_days:
            return True
        if day in self.days_off or day.weekday() >= SATURDAY:
            return False
        return day not in self._holidays

    def why(self, day: dt.date) -> str:
        """A short explanation of why ``day`` is or is not a working day."""
        self._check(day)
        if day in self.working_weekend_days:
            return f"working day transferred by decree ({self.working_weekend_days[day].source})"
        if day in self.days_off:
            return f"day off transferred by decree ({self.days_off[day].source})"
        if day in self._holidays:
            return f"public holiday: {self._holidays.get(day)}"
        if day.weekday() >= SATURDAY:
            return "weekend"
        return "ordinary working day"

    def next_working_day(self, day: dt.date) -> dt.date:
        """``day`` itself when it is a working day, else the first working day after it: the rule
        for a deadline that falls on a day off."""
        current = day
        while not self.is_working_day(current):
            current += dt.timedelta(days=1)
        return current

    deadline = next_working_day

    def nth_working_day(self, month: Month, n: int) -> dt.date:
        """The ``n``-th working day (1-based) of ``month``."""
        if n < 1:
            raise InputError("must be 1 or more", where=f"working day number {n}")
        count = 0
        day = month.first_day
        while day <= month.last_day:
            if self.is_working_day(day):
                count += 1
                if count == n:
                    return day
            day += dt.timedelta(days=1)
        raise InputError(f"{month} has only {count} working days", where=f"working day number {n}")

    def working_days(self, month: Month) -> list[dt.date]:
        days = (month.first_day + dt.timedelta(days=i) for i in range(month.last_day.day))
        return [d for d in days if self.is_working_day(d)]


def transfer_table_path() -> Path:
    return packaged_rules_dir() / "calendar" / "kz_day_transfers.yaml"


def load_calendar(path: Path | None = None) -> WorkingDayCalendar:
    """The calendar of one transfer table (by default the shipped one alone)."""
    source = path or transfer_table_path()
    doc, problems = validate_file(source)
    if problems or not isinstance(doc, DayTransferFile):
        raise RulesError(problems)
    return WorkingDayCalendar([doc])


@lru_cache(maxsize=1)
def kazakhstan_calendar() -> WorkingDayCalendar:
    """The calendar of every transfer table among the rules (shipped, then overrides), loaded
    once per process."""
    from saqta.core.rules import load_rules

    tables = [d for d in load_rules().documents.values() if isinstance(d, DayTransferFile)]
    return WorkingDayCalendar(tables)
