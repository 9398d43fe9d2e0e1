"""Ratings: agency grades to S&P-equivalent grades, in force at the end of a day."""

from __future__ import annotations

import datetime as dt

import pytest

from saqta.core.errors import InputError
from saqta.prudential.ratings import RatingBook, normalize_grade
from saqta.prudential.records import RatingRecord
from saqta.prudential.reference import GradeRange, rating_scales

END = dt.date(2024, 3, 31)


def rec(subject: str, agency: str, scale: str, grade: str, day: dt.date) -> RatingRecord:
    return RatingRecord(subject=subject, agency=agency, scale=scale, grade=grade, date=day)


def book(*records: RatingRecord) -> RatingBook:
    return RatingBook(rating_scales(), records)


def test_moodys_fitch_ambest_map_to_sp_equivalents() -> None:
    b = book(
        rec("A", "moodys", "international", "Baa1", dt.date(2024, 1, 1)),
        rec("B", "fitch", "international", "RD", dt.date(2024, 1, 1)),
        rec("C", "ambest", "fsr", "A-", dt.date(2024, 1, 1)),
        rec("D", "moodys", "national_kz", "A3.kz", dt.date(2024, 1, 1)),
        rec("E", "morningstar", "stars", "4", dt.date(2024, 1, 1)),
    )
    assert b.select("A", END, "international").equivalent == "BBB+"  # type: ignore[union-attr]
    assert b.select("B", END, "international").equivalent == "SD"  # type: ignore[union-attr]
    assert b.select("C", END, "international").equivalent == "A-"  # type: ignore[union-attr]
    assert b.select("D", END, "national_kz").equivalent == "kzA-"  # type: ignore[union-attr]
    assert b.select("E", END, "stars").equivalent == "4"  # type: ignore[union-attr]
    assert b.select("A", END, "national_kz") is None


def test_cyrillic_letters_read_as_latin() -> None:
    assert normalize_grade(" ВВВ- ") == "BBB-"
    b = book(rec("X", "sp", "international", "ВВ+", dt.date(2024, 1, 1)))
    assert b.select("X", END, "international").equivalent == "BB+"  # type: ignore[union-attr]


def test_change_on_last_day_counts_and_next_day_does_not() -> None:
    b = book(
        rec("R", "sp", "international", "A+", dt.date(2023, 5, 1)),
        rec("R", "sp", "international", "BB", END),  # downgrade on the last day of March
        rec("R", "sp", "international", "AAA", END + dt.timedelta(days=1)),
    )
    assert b.select("R", END, "international").grade == "BB"  # type: ignore[union-attr]
    assert b.select("R", END - dt.timedelta(days=1), "international").grade == "A+"  # type: ignore[union-attr]
    assert b.select("R", dt.date(2023, 4, 30), "international") is None


def test_withdrawal_ends_a_rating() -> None:
    b = book(
        rec("R", "sp", "international", "A", dt.date(2023, 1, 1)),
        rec("R", "sp", "international", "NR", dt.date(2024, 2, 1)),
    )
    assert b.select("R", END, "international") is None
    assert b.select("R", dt.date(2024, 1, 31), "international").grade == "A"  # type: ignore[union-attr]


def test_best_and_worst_policies_across_agencies() -> None:
    b = book(
        rec("R", "sp", "international", "BBB-", dt.date(2024, 1, 1)),
        rec("R", "moodys", "international", "A2", dt.date(2024, 1, 1)),
    )
    assert b.select("R", END, "international", "best").equivalent == "A"  # type: ignore[union-attr]
    assert b.select("R", END, "international", "worst").equivalent == "BBB-"  # type: ignore[union-attr]


def test_same_day_conflict_keeps_the_worse_grade() -> None:
    b = book(
        rec("R", "sp", "international", "A", END),
        rec("R", "sp", "international", "BB", END),
    )
    assert b.select("R", END, "international").grade == "BB"  # type: ignore[union-attr]


def test_ranges_are_inclusive_at_both_ends() -> None:
    b = book(
        rec("low", "sp", "international", "B", dt.date(2024, 1, 1)),
        rec("below", "sp", "international", "B-", dt.date(2024, 1, 1)),
    )
    not_lower_than_b = GradeRange(scale="international", best="AAA", worst="B")
    assert b.in_range(b.select("low", END, "international"), not_lower_than_b)
    assert not b.in_range(b.select("below", END, "international"), not_lower_than_b)
    national = GradeRange(scale="national_kz", best="kzAAA", worst="kzBB")
    assert not b.in_range(b.select("low", END, "international"), national)


def test_unknown_grade_is_refused() -> None:
    with pytest.raises(InputError, match="unknown grade 'Baa4'"):
        book(rec("R", "moodys", "international", "Baa4", END))
    assert book().check(rec("R", "sp", "fsr", "A", END)) == (
        "unknown scale 'fsr' of sp (known: international, national_kz)"
    )
