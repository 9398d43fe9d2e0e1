"""Individual identification numbers (IIN, ЖСН) and business identification numbers (BIN).

An IIN has 12 digits: ``YYMMDD`` birth date; a 7th digit for century and sex (1/2 = 1800s
male/female, 3/4 = 1900s, 5/6 = 2000s); four serial digits; a check digit.

Check digit (two passes, mod 11): take Σ dᵢ·i for i = 1..11, mod 11. If the result is 10, use
the weights 3,4,5,6,7,8,9,10,11,1,2 instead. If it is 10 again, the number is not issued.
Source: the Fund's annual report 2022 (IIN of the person as the key of the registers); the checksum
is the one of the national register of identification numbers.

A BIN has the same length and check digit; its first four digits are the registration year and
month.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from saqta.core.errors import InputError

WEIGHTS_FIRST = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
WEIGHTS_SECOND = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)

_CENTURY = {1: 1800, 2: 1800, 3: 1900, 4: 1900, 5: 2000, 6: 2000}


class Sex(StrEnum):
    MALE = "M"
    FEMALE = "F"


def check_digit(first_eleven: str) -> int | None:
    """The check digit for 11 digits, or ``None`` when both passes give 10 (never issued)."""
    digits = [int(c) for c in first_eleven]
    if len(digits) != 11:
        raise ValueError("the check digit is computed over exactly 11 digits")
    for weights in (WEIGHTS_FIRST, WEIGHTS_SECOND):
        value = sum(d * w for d, w in zip(digits, weights, strict=True)) % 11
        if value != 10:
            return value
    return None


def _checksum_problem(value: str) -> str | None:
    """Why the 12th digit of a 12-digit number is not its check digit, or ``None``."""
    expected = check_digit(value[:11])
    if expected is None:
        return "the checksum gives 10 in both passes: such a number is never issued"
    if expected != int(value[11]):
        return f"check digit is {value[11]}, expected {expected}"
    return None


@dataclass(frozen=True)
class IIN:
    """A valid IIN with what it encodes."""

    value: str
    birth_date: dt.date
    sex: Sex
    serial: str

    def __str__(self) -> str:
        return self.value


def iin_problem(value: str, today: dt.date | None = None) -> str | None:
    """Why ``value`` is not a valid IIN, or ``None`` when it is valid.

    A birth date after ``today`` (default: the current date) is refused: no such number has been
    issued yet.
    """
    if len(value) != 12:
        return f"an IIN has 12 digits, this has {len(value)} characters"
    if not value.isascii() or not value.isdigit():
        return "an IIN has digits only"
    century_digit = int(value[6])
    if century_digit not in _CENTURY:
        return f"7th digit {century_digit} is not a century/sex code (1-6)"
    year = _CENTURY[century_digit] + int(value[0:2])
    try:
        birth = dt.date(year, int(value[2:4]), int(value[4:6]))
    except ValueError:
        return f"{value[0:6]} is not a valid birth date (YYMMDD, century {year // 100 + 1})"
    if birth > (today or dt.date.today()):
        return f"birth date {birth} is in the future"
    return _checksum_problem(value)


def parse_iin(value: str, today: dt.date | None = None) -> IIN:
    """Parse and validate an IIN; raise :class:`InputError` saying why it is invalid."""
    text = value.strip()
    problem = iin_problem(text, today)
    if problem is not None:
        raise InputError(problem, where=f"IIN {value!r}")
    century_digit = int(text[6])
    birth = dt.date(_CENTURY[century_digit] + int(text[0:2]), int(text[2:4]), int(text[4:6]))
    sex = Sex.MALE if century_digit % 2 == 1 else Sex.FEMALE
    return IIN(value=text, birth_date=birth, sex=sex, serial=text[7:11])


def is_valid_iin(value: str, today: dt.date | None = None) -> bool:
    return iin_problem(value, today) is None


def make_iin(birth_date: dt.date, sex: Sex, serial: int) -> str | None:
    """Compose an IIN, or ``None`` when this serial gives a number that is never issued."""
    if not 1800 <= birth_date.year <= 2099:
        raise ValueError("IINs encode birth years 1800-2099")
    if not 0 <= serial <= 9999:
        raise ValueError("the serial has four digits")
    base = (birth_date.year // 100 - 18) * 2 + (1 if sex is Sex.MALE else 2)
    first = f"{birth_date:%y%m%d}{base}{serial:04d}"
    digit = check_digit(first)
    return None if digit is None else first + str(digit)


def bin_problem(value: str) -> str | None:
    """Why ``value`` is not a valid BIN, or ``None``."""
    if len(value) != 12:
        return f"a BIN has 12 digits, this has {len(value)} characters"
    if not value.isascii() or not value.isdigit():
        return "a BIN has digits only"
    if not 1 <= int(value[2:4]) <= 12:
        return f"digits 3-4 ({value[2:4]}) are not a registration month"
    return _checksum_problem(value)
