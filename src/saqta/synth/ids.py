"""Vectorised identifiers for synthetic data: IINs, BINs and fixed-width strings as Arrow arrays.

The check digit is :func:`saqta.core.iin.check_digits`, the vectorised form of the core's check,
over whole NumPy arrays, so that a country's worth of numbers costs seconds. Tests check every
generated number with the scalar validator.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from saqta.core.iin import check_digits


def number_digits(values: np.ndarray, width: int) -> np.ndarray:
    """An (n, width) matrix of the decimal digits of non-negative integers, zero-padded."""
    values = values.astype(np.int64)
    out = np.empty((values.shape[0], width), dtype=np.uint8)
    for position in range(width - 1, -1, -1):
        out[:, position] = values % 10
        values = values // 10
    return out


def digits_to_strings(digits: np.ndarray, prefix: bytes = b"") -> pa.StringArray:
    """Build an Arrow string array from an (n, w) digit matrix, each string ``prefix + digits``."""
    n, width = digits.shape
    total = width + len(prefix)
    chars = np.empty((n, total), dtype=np.uint8)
    if prefix:
        chars[:, : len(prefix)] = np.frombuffer(prefix, dtype=np.uint8)
    chars[:, len(prefix) :] = digits + ord("0")
    offsets = np.arange(0, (n + 1) * total, total, dtype=np.int64)
    return pa.Array.from_buffers(
        pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(chars.tobytes())]
    ).cast(pa.string())


def _complete(digits: np.ndarray) -> np.ndarray:
    """Fill in the check digit of numbers whose 11th digit is even; where that number would
    never be issued, the odd neighbour (same first pass, different second pass) is used."""
    check = check_digits(digits[:, :11])
    bad = check < 0
    if bad.any():
        digits[bad, 10] += 1
        check[bad] = check_digits(digits[bad, :11])
    digits[:, 11] = check
    return digits


def iin_digits(
    year: np.ndarray, month: np.ndarray, day: np.ndarray, male: np.ndarray, slot: np.ndarray
) -> np.ndarray:
    """(n, 12) digit matrices of valid IINs.

    ``slot`` (0-4999) picks the serial: serial ``2*slot`` when its number is valid, otherwise
    ``2*slot + 1``. The two serials differ only in the 11th digit, whose first-pass weight is 11,
    so both share the first pass; a first pass of 10 sends both to the second pass, where weights
    2 apart in the last digit cannot both give 10. So one of the pair is always valid, and distinct
    slots give distinct numbers.
    """
    if slot.size and int(slot.max()) > 4999:
        raise ValueError("IIN serial slots run out: more than 5,000 persons share a birth day")
    century = (year // 100 - 18) * 2 + np.where(male, 1, 2)
    n = year.shape[0]
    digits = np.empty((n, 12), dtype=np.uint8)
    digits[:, 0:2] = number_digits(year % 100, 2)
    digits[:, 2:4] = number_digits(month, 2)
    digits[:, 4:6] = number_digits(day, 2)
    digits[:, 6] = century
    digits[:, 7:11] = number_digits(2 * slot, 4)
    return _complete(digits)


def bin_digits(reg_year: np.ndarray, reg_month: np.ndarray, serial: np.ndarray) -> np.ndarray:
    """(n, 12) digit matrices of valid BINs of resident legal entities (5th digit 4).

    Layout: YYMM of registration, 4 (resident legal entity), 0 (head office), a 5-digit serial
    (``2*serial`` or ``2*serial + 1`` for the same reason as :func:`iin_digits`), check digit.
    """
    if serial.size and int(serial.max()) > 49999:
        raise ValueError("BIN serials run out: more than 50,000 entities in one month")
    n = reg_year.shape[0]
    digits = np.empty((n, 12), dtype=np.uint8)
    digits[:, 0:2] = number_digits(reg_year % 100, 2)
    digits[:, 2:4] = number_digits(reg_month, 2)
    digits[:, 4] = 4
    digits[:, 5] = 0
    digits[:, 6:11] = number_digits(2 * serial, 5)
    return _complete(digits)


def decimal_array(tiyn: np.ndarray, precision: int = 18, scale: int = 2) -> pa.Array:
    """An Arrow decimal128 array from int64 amounts in units of ``10**-scale`` (exact, no float)."""
    values = tiyn.astype(np.int64)
    words = np.empty((values.shape[0], 2), dtype=np.int64)
    words[:, 0] = values
    words[:, 1] = np.where(values < 0, -1, 0)
    return pa.Array.from_buffers(
        pa.decimal128(precision, scale), values.shape[0], [None, pa.py_buffer(words.tobytes())]
    )
