"""Individual identification numbers (IIN, ЖСН) and business identification numbers (BIN).

An IIN has 12 digits: ``YYMMDD`` birth date; a 7th digit for century and sex (1/2 = 1800s
male/female, 3/4 = 1900s, 5/6 = 2000s); four serial digits; a check digit.

Check digit (two passes, mod 11): take Σ dᵢ·i for i = 1..11, mod 11. If the result is 10, use
the weights 3,4,5,6,7,8,9,10,11,1,2 instead. If it is 10 again, the number is not issued.
Source: the Fund's annual report 2022 (IIN of the person as the key of the registers); the checksum
is the one of the national register of identification numbers.

A BIN has the same length and check digit; its first four digits are the registration year and
month.

Each check has a scalar form (:func:`iin_problem`, :func:`bin_problem`: one value, the reason in
words) and a vectorised form over whole Arrow/NumPy columns (:func:`iin_problem_codes`,
:func:`bin_problem_codes` and the digit-matrix functions they are built from), which give the same
answer for every value: a test compares them on random values.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from saqta.core.errors import InputError
from saqta.core.periods import calendar_days

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


# ------------------------------------------------------------------------------------------------
# Vectorised forms: whole columns at once, the same answers as the scalar forms above

Digits = npt.NDArray[np.int64]
"""An (n, 12) matrix of decimal digits, one identification number a row."""
Mask = npt.NDArray[np.bool_]

_W1 = np.array(WEIGHTS_FIRST, dtype=np.int64)
_W2 = np.array(WEIGHTS_SECOND, dtype=np.int64)
_PLACEHOLDER = "000000000000"
_POWERS = 10 ** np.arange(11, -1, -1, dtype=np.int64)


class IINCode(IntEnum):
    """Why a value is not a valid IIN (vectorised form); the first failing check, in the order
    of :func:`iin_problem`."""

    VALID = 0
    FORMAT = 1  # not exactly 12 ASCII digits
    BIRTH_DATE = 2  # 7th digit not a century/sex code, or the first six not a real date
    FUTURE = 3  # the birth date is after today
    CHECKSUM = 4  # the 12th digit is not the check digit, or the number is never issued


class BINCode(IntEnum):
    """Why a value is not a valid BIN (vectorised form), in the order of :func:`bin_problem`."""

    VALID = 0
    FORMAT = 1
    MONTH = 2  # digits 3-4 are not a registration month
    CHECKSUM = 3


def _as_array(values: Any) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not isinstance(values, pa.Array):
        values = pa.array(list(values), pa.string())
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    return values.cast(pa.string())


def digit_matrix(values: pa.Array | pa.ChunkedArray | Any) -> tuple[Mask, Digits]:
    """``(ok, digits)`` for a column of strings (Arrow, or any sequence of ``str``): the rows that
    are exactly 12 ASCII digits, and their (n, 12) digit matrix (other rows hold zeros)."""
    array = _as_array(values)
    ok = _bools(pc.match_substring_regex(array, r"^[0-9]{12}$"))
    clean = pc.if_else(pa.array(ok), array, pa.scalar(_PLACEHOLDER, pa.string()))
    if isinstance(clean, pa.ChunkedArray):
        clean = clean.combine_chunks()
    clean = clean.cast(pa.string())
    n = len(clean)
    if n == 0:
        return ok, np.zeros((0, 12), dtype=np.int64)
    offsets = np.frombuffer(clean.buffers()[1], dtype=np.int32)
    start = int(offsets[clean.offset])
    data = np.frombuffer(clean.buffers()[2], dtype=np.uint8)[start : start + 12 * n]
    digits: Digits = data.reshape(n, 12).astype(np.int64) - ord("0")
    return ok, digits


def _bools(array: pa.Array | pa.ChunkedArray) -> Mask:
    filled = pc.fill_null(array, False)
    if isinstance(filled, pa.ChunkedArray):
        filled = filled.combine_chunks()
    return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=np.bool_)


def check_digits(first_eleven: npt.NDArray[np.integer[Any]]) -> Digits:
    """Check digits of an (n, 11) digit matrix; -1 where both passes give 10 (never issued)."""
    d = np.asarray(first_eleven, dtype=np.int64)
    first = (d @ _W1) % 11
    second = (d @ _W2) % 11
    result = np.where(first != 10, first, second)
    return np.asarray(np.where(result == 10, -1, result), dtype=np.int64)


def check_digit_ok(digits: Digits) -> Mask:
    """Rows of an (n, 12) digit matrix whose 12th digit is the check digit of the first 11."""
    expected = check_digits(digits[:, :11])
    return np.asarray((expected >= 0) & (expected == digits[:, 11]), dtype=np.bool_)


def birth_dates(digits: Digits) -> tuple[Mask, Digits]:
    """``(ok, days)``: rows whose first seven digits encode a real birth date with a century/sex
    code, and that date as days since 1970-01-01 (0 where not)."""
    century_digit = digits[:, 6]
    century_ok = (century_digit >= 1) & (century_digit <= 6)
    year = 1800 + 100 * ((century_digit - 1) // 2) + digits[:, 0] * 10 + digits[:, 1]
    month = digits[:, 2] * 10 + digits[:, 3]
    day = digits[:, 4] * 10 + digits[:, 5]
    real, days = calendar_days(year, month, day)
    ok = np.asarray(century_ok & real, dtype=np.bool_)
    return ok, np.asarray(np.where(ok, days, 0), dtype=np.int64)


def sexes(digits: Digits) -> npt.NDArray[np.str_]:
    """'M' or 'F' per row, from the century/sex digit (odd = male)."""
    return np.asarray(np.where(digits[:, 6] % 2 == 1, Sex.MALE.value, Sex.FEMALE.value))


def numbers(digits: Digits) -> Digits:
    """The 12 digits of each row as one int64 (exact: 12 digits fit), for sorted lookups."""
    return np.asarray(digits @ _POWERS, dtype=np.int64)


def _days(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days


def iin_problem_codes(
    values: pa.Array | pa.ChunkedArray | Any, today: dt.date | None = None
) -> npt.NDArray[np.int8]:
    """Per value, an :class:`IINCode`: the vectorised :func:`iin_problem` (nulls are FORMAT)."""
    shape_ok, digits = digit_matrix(values)
    date_ok, birth = birth_dates(digits)
    future = birth > _days(today or dt.date.today())
    checksum_ok = check_digit_ok(digits)
    codes = np.full(shape_ok.shape[0], IINCode.FORMAT, dtype=np.int8)
    codes[shape_ok] = IINCode.BIRTH_DATE
    codes[shape_ok & date_ok] = IINCode.FUTURE
    codes[shape_ok & date_ok & ~future] = IINCode.CHECKSUM
    codes[shape_ok & date_ok & ~future & checksum_ok] = IINCode.VALID
    return codes


def bin_problem_codes(values: pa.Array | pa.ChunkedArray | Any) -> npt.NDArray[np.int8]:
    """Per value, a :class:`BINCode`: the vectorised :func:`bin_problem` (nulls are FORMAT)."""
    shape_ok, digits = digit_matrix(values)
    month = digits[:, 2] * 10 + digits[:, 3]
    month_ok = (month >= 1) & (month <= 12)
    checksum_ok = check_digit_ok(digits)
    codes = np.full(shape_ok.shape[0], BINCode.FORMAT, dtype=np.int8)
    codes[shape_ok] = BINCode.MONTH
    codes[shape_ok & month_ok] = BINCode.CHECKSUM
    codes[shape_ok & month_ok & checksum_ok] = BINCode.VALID
    return codes


def valid_iins(values: pa.Array | pa.ChunkedArray | Any, today: dt.date | None = None) -> Mask:
    """Per value, whether it is a valid IIN (the vectorised :func:`is_valid_iin`)."""
    return np.asarray(iin_problem_codes(values, today) == IINCode.VALID, dtype=np.bool_)


def valid_bins(values: pa.Array | pa.ChunkedArray | Any) -> Mask:
    """Per value, whether it is a valid BIN."""
    return np.asarray(bin_problem_codes(values) == BINCode.VALID, dtype=np.bool_)
