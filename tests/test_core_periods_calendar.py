"""Periods and Kazakhstan's working-day calendar."""

import datetime as dt

import holidays
import pytest
from hypothesis import given
from hypothesis import strategies as st

from saqta.core.calendar import kazakhstan_calendar, load_calendar, transfer_table_path
from saqta.core.errors import InputError, RulesError
from saqta.core.periods import Month, Quarter, Year, parse_date, parse_month, parse_period

CAL = kazakhstan_calendar()
covered = st.dates(min_value=dt.date(2017, 1, 1), max_value=dt.date(2026, 11, 30))


def test_periods_parse_and_bound():
    assert parse_period("2022-05") == Month(2022, 5)
    assert parse_period("2022-q2") == Quarter(2022, 2)
    assert parse_period("2022") == Year(2022)
    assert Month(2024, 2).last_day == dt.date(2024, 2, 29)
    assert Quarter(2022, 4).last_day == dt.date(2022, 12, 31)
    assert [str(m) for m in Quarter(2022, 1).months()] == ["2022-01", "2022-02", "2022-03"]
    assert Month(2022, 12).next() == Month(2023, 1)
    assert dt.date(2022, 5, 31) in Month(2022, 5)


@pytest.mark.parametrize("text", ["2022-13", "22-05", "2022-Q5", "May 2022"])
def test_bad_periods_are_refused_with_the_value(text):
    with pytest.raises(InputError, match=text):
        parse_period(text)


def test_bad_dates_name_the_value():
    with pytest.raises(InputError, match="2022-02-30"):
        parse_date("2022-02-30")
    with pytest.raises(InputError, match="YYYY-MM"):
        parse_month("2022")


@given(st.integers(12, 9999 * 12 - 1), st.integers(-240, 240))
def test_month_shifts_compose(index, k):
    month = Month.from_index(index)
    if 12 <= index + k < 9999 * 12:
        assert month.shift(k).shift(-k) == month
        assert month.shift(k).index - month.index == k


def test_a_day_off_moved_to_a_saturday_makes_that_saturday_a_working_day():
    assert CAL.is_working_day(dt.date(2022, 3, 5))  # Saturday, worked
    assert not CAL.is_working_day(dt.date(2022, 3, 7))  # Monday, day off instead
    assert CAL.is_working_day(dt.date(2023, 7, 1))
    assert not CAL.is_working_day(dt.date(2023, 7, 7))


def test_public_holidays_and_weekends_are_not_working_days():
    assert not CAL.is_working_day(dt.date(2022, 3, 8))  # Women's Day
    assert not CAL.is_working_day(dt.date(2022, 3, 21))  # Nauryz
    assert not CAL.is_working_day(dt.date(2022, 12, 17))  # Saturday
    assert CAL.is_working_day(dt.date(2022, 12, 19))


def test_a_holiday_on_a_weekend_moves_to_the_next_working_day():
    assert not CAL.is_working_day(dt.date(2026, 5, 11))  # 9 May 2026 is a Saturday


def test_the_nth_working_day_of_a_month():
    # June 2022: 1-3 working, 4-5 weekend, 6 (Mon) working, 7 working, 8 working
    assert CAL.nth_working_day(Month(2022, 6), 1) == dt.date(2022, 6, 1)
    assert CAL.nth_working_day(Month(2022, 6), 6) == dt.date(2022, 6, 8)
    # January 2023: 1-2 New Year, 3-6 working, 7 Christmas (Sat), 9 Monday
    assert CAL.nth_working_day(Month(2023, 1), 6) == dt.date(2023, 1, 11)
    with pytest.raises(InputError, match="working days"):
        CAL.nth_working_day(Month(2022, 2), 30)


def test_a_deadline_that_falls_on_a_holiday_moves_to_the_next_working_day():
    assert CAL.deadline(dt.date(2022, 3, 25)) == dt.date(2022, 3, 25)
    assert CAL.deadline(dt.date(2022, 3, 21)) == dt.date(2022, 3, 24)  # Nauryz 21-23
    assert CAL.deadline(dt.date(2022, 12, 16)) == dt.date(2022, 12, 19)


def test_dates_outside_the_transfer_table_are_refused():
    with pytest.raises(InputError, match="out of range"):
        CAL.is_working_day(dt.date(2030, 1, 1))


def test_the_table_agrees_with_the_holidays_package_on_decreed_days_off():
    # Every decreed day off 2017-2025 is also known to the holidays package as a day off.
    for day in CAL.days_off:
        if day.year <= 2025:
            assert day in holidays.country_holidays("KZ", years=day.year), day


@given(covered)
def test_next_working_day_is_a_working_day_on_or_after(day):
    result = CAL.next_working_day(day)
    assert result >= day and CAL.is_working_day(result)
    assert all(not CAL.is_working_day(day + dt.timedelta(d)) for d in range((result - day).days))


@given(covered)
def test_weekdays_that_are_not_holidays_or_transfers_are_working_days(day):
    if day.weekday() < 5 and day not in CAL.days_off and CAL.holiday_name(day) is None:
        assert CAL.is_working_day(day)


def test_an_overrides_table_extends_the_calendar_to_later_years(tmp_path):
    from saqta.core.calendar import DayTransferFile, WorkingDayCalendar
    from saqta.core.rules import read_yaml, validate_file

    extra = tmp_path / "kz_2027.yaml"
    extra.write_text(
        "kind: day_transfers\ncountry: KZ\ndescription: transfers of 2027\n"
        "covers: {from: 2027-01-01, to: 2027-12-31}\n"
        "transfers:\n  - {day_off: 2027-01-08, working_day: 2027-01-09, source: decree X, "
        "verified: false}\n",
        encoding="utf-8",
    )
    shipped = DayTransferFile.model_validate(read_yaml(transfer_table_path()))
    doc, problems = validate_file(extra)
    assert problems == [] and isinstance(doc, DayTransferFile)
    calendar = WorkingDayCalendar([shipped, doc])
    assert calendar.is_working_day(dt.date(2027, 1, 9))  # a Saturday worked by decree X
    assert not calendar.is_working_day(dt.date(2027, 1, 8))
    assert calendar.nth_working_day(Month(2027, 1), 1) == dt.date(2027, 1, 5)


def test_tables_leaving_a_gap_are_refused(tmp_path):
    from saqta.core.calendar import DayTransferFile, WorkingDayCalendar

    def table(start: str, end: str) -> DayTransferFile:
        return DayTransferFile.model_validate(
            {
                "kind": "day_transfers",
                "country": "KZ",
                "description": "t",
                "covers": {"from": start, "to": end},
                "transfers": [],
            }
        )

    with pytest.raises(RulesError, match="gap"):
        WorkingDayCalendar([table("2017-01-01", "2026-12-31"), table("2028-01-01", "2028-12-31")])


def test_a_broken_transfer_table_is_refused(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(
        "kind: day_transfers\ncountry: KZ\ndescription: x\n"
        "covers: {from: 2022-01-01, to: 2022-12-31}\n"
        "transfers:\n  - {day_off: 2022-03-07, working_day: 2022-03-09, source: decree, "
        "verified: true}\n",
        encoding="utf-8",
    )
    with pytest.raises(RulesError, match=r"transfers\[0\].*weekday"):
        load_calendar(path)
