"""Filing deadlines: the 6th working day of the month after the reporting month."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from saqta.core.errors import InputError, RulesError
from saqta.core.periods import Month
from saqta.core.rules import load_rules
from saqta.prudential.deadlines import (
    calendar_csv,
    calendar_ics,
    calendar_json,
    filing_calendar,
    filing_deadline,
)

DECREE_2022 = "Government Decree No. 713 of 6 October 2021 on the transfer of days off in 2022"


def test_deadline_crossing_a_decreed_transfer_and_a_holiday() -> None:
    """February 2022 reports: in March 2022 Saturday the 5th was worked in exchange for Monday the
    7th (decree), and the 8th is International Women's Day, so the 6th working day is the 9th."""
    deadline = filing_deadline(Month(2022, 2))
    assert deadline.due == dt.date(2022, 3, 9)
    assert [(d.day.day, d.number) for d in deadline.days if d.working] == [
        (1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (9, 6)]  # fmt: skip
    assert [(d.day.day, d.reason) for d in deadline.skipped] == [
        (6, "weekend"),
        (7, f"day off transferred by decree ({DECREE_2022})"),
        (8, "public holiday: International Women's Day"),
    ]
    assert deadline.days[4].reason == f"working day transferred by decree ({DECREE_2022})"


def test_deadline_after_the_new_year_holidays_and_a_sunday_worked() -> None:
    """December 2024 reports: 1-2 January are holidays, Friday the 3rd was moved to Sunday the 5th
    by decree, 7 January is Orthodox Christmas: the 6th working day is Monday 13 January 2025."""
    deadline = filing_deadline(Month(2024, 12))
    assert deadline.due == dt.date(2025, 1, 13)
    assert [d.day.day for d in deadline.days if d.working] == [5, 6, 8, 9, 10, 13]
    assert [d.day.day for d in deadline.skipped] == [1, 2, 3, 4, 7, 11, 12]


def test_deadline_moved_by_a_holiday_observed_on_a_monday() -> None:
    """February 2025 reports: 8 March 2025 is a Saturday, observed on Monday the 10th."""
    deadline = filing_deadline(Month(2025, 2))
    assert deadline.due == dt.date(2025, 3, 11)
    assert "(observed)" in next(d.reason for d in deadline.skipped if d.day.day == 10)


def test_a_plain_month_is_the_sixth_weekday() -> None:
    assert filing_deadline(Month(2025, 1)).due == dt.date(2025, 2, 10)
    assert filing_deadline(Month(2025, 1)).working_day == 6


def test_dates_beyond_the_calendar_are_refused() -> None:
    with pytest.raises(
        InputError, match="out of range: the calendar covers 2017-01-01 to 2026-12-31"
    ):
        filing_deadline(Month(2026, 12))


def test_months_before_the_resolution_are_refused() -> None:
    with pytest.raises(RulesError, match="no value in force on 2020-01-01"):
        filing_deadline(Month(2019, 12))


def test_the_working_day_number_is_a_dated_rule(tmp_path: Path) -> None:
    """A change of the resolution is a data change: an overriding rule file moves the deadline."""
    from saqta.core.rules import packaged_rules_dir

    override = tmp_path / "override"
    override.mkdir()
    (override / "filing.yaml").write_text(
        "kind: parameters\nnamespace: prudential.filing\ndescription: test override\n"
        "parameters:\n  deadline_working_day:\n    description: test\n    type: integer\n"
        "    values:\n      - {from: 2021-03-12, value: 10, source: a hypothetical amendment}\n",
        encoding="utf-8",
    )
    rules = load_rules([packaged_rules_dir(), override])
    assert filing_deadline(Month(2025, 1), rules=rules).due == dt.date(2025, 2, 14)


def test_calendar_of_a_year_lists_the_deadlines_falling_in_it() -> None:
    deadlines = filing_calendar(2025)
    assert [str(d.period) for d in deadlines] == [
        "2024-12",
        *[f"2025-{m:02d}" for m in range(1, 12)],
    ]
    assert [d.due.isoformat() for d in deadlines] == [
        "2025-01-13", "2025-02-10", "2025-03-11", "2025-04-08", "2025-05-13",
        "2025-06-10",  # Eid al-Adha on Friday 6 June
        "2025-07-09",  # Capital Day on Sunday 6 July, observed on Monday the 7th
        "2025-08-08",
        "2025-09-09",  # Constitution Day on Saturday 30 August, observed on Monday 1 September
        "2025-10-08", "2025-11-10", "2025-12-08",
    ]  # fmt: skip
    assert all(d.due.year == 2025 and d.due.weekday() < 5 for d in deadlines)


def test_calendar_of_the_first_year_starts_when_the_resolution_applies() -> None:
    assert str(filing_calendar(2021)[0].period) == "2021-03"


def test_calendar_exports() -> None:
    deadlines = filing_calendar(2022)
    rows = list(csv.DictReader(io.StringIO(calendar_csv(deadlines))))
    march = next(r for r in rows if r["period"] == "2022-02")
    assert (march["due"], march["weekday"], march["working_day"]) == (
        "2022-03-09",
        "Wednesday",
        "6",
    )
    assert march["skipped_days"].startswith("2022-03-06 weekend; 2022-03-07 day off transferred")
    data = json.loads(calendar_json(deadlines))
    assert data[2]["due"] == "2022-03-09" and len(data[2]["skipped"]) == 3
    ics = calendar_ics(deadlines, generated_at=dt.datetime(2022, 1, 1, tzinfo=dt.UTC))
    assert ics.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
    assert ics.count("BEGIN:VEVENT") == 12
    assert "UID:prudential-2022-02@saqta\r\nDTSTAMP:20220101T000000Z\r\n" in ics
    assert "DTSTART;VALUE=DATE:20220309\r\nDTEND;VALUE=DATE:20220310\r\n" in ics
    assert all(len(line.encode()) <= 75 for line in ics.split("\r\n"))
    with pytest.raises(InputError, match="time zone"):
        calendar_ics(deadlines, generated_at=dt.datetime(2022, 1, 1))


def saqta(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "saqta", *args], capture_output=True, text=True, env=env, check=False
    )


def test_cli_deadline_and_why() -> None:
    result = saqta("prudential", "deadline", "2022-02", "--why")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "2022-03-09"
    assert lines[7] == f"  2022-03-07 Mon  skipped: day off transferred by decree ({DECREE_2022})"
    assert lines[9] == "  2022-03-09 Wed  working day 6: ordinary working day"
    refused = saqta("prudential", "deadline", "2026-12")
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "error date 2027-01-01: out of range: the calendar covers 2017-01-01 to 2026-12-31"
    )
    bad = saqta("prudential", "deadline", "2025-13")
    assert bad.returncode == 2 and "month 13 is not 1-12" in bad.stderr


def test_cli_calendar_csv(tmp_path: Path) -> None:
    out = tmp_path / "deadlines.ics"
    result = saqta("prudential", "calendar", "--year", "2025", "--format", "ics", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_text(encoding="utf-8").count("BEGIN:VEVENT") == 12
    csv_result = saqta("prudential", "calendar", "--year", "2025", "--format", "csv")
    assert csv_result.stdout.splitlines()[2].startswith("2025-01,2025-02-10,Monday,6,")
