"""Reporting periods: months, quarters and years, with their first and last days."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from saqta.core.errors import InputError


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise ValueError(f"month {self.month} is not 1-12")
        if not 1 <= self.year <= 9999:
            raise ValueError(f"year {self.year} is out of range")

    @classmethod
    def of(cls, day: dt.date) -> Month:
        return cls(day.year, day.month)

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def last_day(self) -> dt.date:
        return dt.date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    @property
    def index(self) -> int:
        """Months since year 0: consecutive months have consecutive indices."""
        return self.year * 12 + self.month - 1

    @classmethod
    def from_index(cls, index: int) -> Month:
        return cls(index // 12, index % 12 + 1)

    def shift(self, months: int) -> Month:
        return Month.from_index(self.index + months)

    def next(self) -> Month:
        return self.shift(1)

    def previous(self) -> Month:
        return self.shift(-1)

    @property
    def quarter(self) -> Quarter:
        return Quarter(self.year, (self.month - 1) // 3 + 1)

    def months(self) -> Iterator[Month]:
        yield self

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and (day.year, day.month) == (self.year, self.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    quarter: int

    def __post_init__(self) -> None:
        if not 1 <= self.quarter <= 4:
            raise ValueError(f"quarter {self.quarter} is not 1-4")

    @property
    def first_month(self) -> Month:
        return Month(self.year, 3 * self.quarter - 2)

    @property
    def first_day(self) -> dt.date:
        return self.first_month.first_day

    @property
    def last_day(self) -> dt.date:
        return self.first_month.shift(2).last_day

    def months(self) -> Iterator[Month]:
        first = self.first_month
        for offset in range(3):
            yield first.shift(offset)

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and self.first_day <= day <= self.last_day

    def __str__(self) -> str:
        return f"{self.year:04d}-Q{self.quarter}"


@dataclass(frozen=True, order=True)
class Year:
    year: int

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, 1, 1)

    @property
    def last_day(self) -> dt.date:
        return dt.date(self.year, 12, 31)

    def months(self) -> Iterator[Month]:
        for month in range(1, 13):
            yield Month(self.year, month)

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and day.year == self.year

    def __str__(self) -> str:
        return f"{self.year:04d}"


Period = Month | Quarter | Year

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$", re.IGNORECASE)
_YEAR = re.compile(r"^(\d{4})$")


def parse_period(text: str) -> Period:
    """Parse ``YYYY-MM``, ``YYYY-Qn`` or ``YYYY``; raise :class:`InputError` otherwise."""
    value = text.strip()
    try:
        if match := _MONTH.match(value):
            return Month(int(match[1]), int(match[2]))
        if match := _QUARTER.match(value):
            return Quarter(int(match[1]), int(match[2]))
        if match := _YEAR.match(value):
            return Year(int(match[1]))
    except ValueError as exc:
        raise InputError(str(exc), where=f"period {text!r}") from exc
    raise InputError("expected YYYY-MM, YYYY-Qn or YYYY", where=f"period {text!r}")


def parse_month(text: str) -> Month:
    period = parse_period(text)
    if not isinstance(period, Month):
        raise InputError("expected a month as YYYY-MM", where=f"month {text!r}")
    return period


def parse_date(text: str, *, what: str = "date") -> dt.date:
    """An ISO date ``YYYY-MM-DD``; raise :class:`InputError` naming the value otherwise."""
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError as exc:
        raise InputError("expected an ISO date YYYY-MM-DD", where=f"{what} {text!r}") from exc


_DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


def calendar_days(
    year: npt.ArrayLike, month: npt.ArrayLike, day: npt.ArrayLike
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
    """``(ok, days)``, column-wise: whether each (year, month, day) is a real day of the
    Gregorian calendar (year 1-9999, leap years included), and that day as days since
    1970-01-01 (0 where it is not). Never rolls a day over into the next month: 30 February is
    not a day, it is not 2 March."""
    years = np.asarray(year, dtype=np.int64)
    months = np.asarray(month, dtype=np.int64)
    days = np.asarray(day, dtype=np.int64)
    leap = ((years % 4 == 0) & (years % 100 != 0)) | (years % 400 == 0)
    last = _DAYS_IN_MONTH[np.clip(months - 1, 0, 11)] + ((months == 2) & leap)
    ok = (years >= 1) & (years <= 9999) & (months >= 1) & (months <= 12) & (days >= 1)
    ok = np.asarray(ok & (days <= last), dtype=np.bool_)
    index = (np.where(ok, years, 1970) - 1970) * 12 + (np.where(ok, months, 1) - 1)
    first = index.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    return ok, np.asarray(np.where(ok, first + np.where(ok, days, 1) - 1, 0), dtype=np.int64)
