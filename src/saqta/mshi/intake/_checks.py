"""Vectorised row checks shared by the imports of persons and payments.

Every check works on whole Arrow/NumPy columns of a batch, never on Python rows: a batch of a
million payments is checked in a few dozen array operations. A check gives a boolean mask of the
rows that fail it; :class:`Problems` collects, per batch, every failing row with the field, a
reason code and a message, and turns them into quarantine entries.

Identification numbers (IIN of a person, BIN of a legal entity) are checked with the vectorised
forms of :mod:`saqta.core.iin` (its digit matrix, birth dates and check digits), with the reasons
of the quarantine: 12 digits; for an IIN, the 7th digit a century/sex code 1-6 and the first six
a real birth date not in the future; for a BIN, digits 3-4 a registration month; for both, the
two-pass mod-11 check digit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from saqta.core.iin import birth_dates, check_digit_ok, digit_matrix, numbers


def to_numpy_bool(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean Arrow column as NumPy, nulls as False."""
    filled = pc.fill_null(array, False)
    if isinstance(filled, pa.ChunkedArray):
        filled = filled.combine_chunks()
    return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=bool)


@dataclass(frozen=True)
class IdCheck:
    """The outcome of checking a column of identification numbers."""

    valid: np.ndarray
    failures: list[tuple[np.ndarray, str, str]]  # (mask, reason, message), mutually exclusive
    digits: np.ndarray  # (n, 12); empty (0, 12) when checked through distinct values
    numbers: np.ndarray  # the 12 digits as one int64 (0 where not 12 digits)

    def expand(self, indices: np.ndarray) -> IdCheck:
        """The check of a column from the check of its distinct values (``indices`` into them,
        -1 for an empty value, which fails no check)."""
        safe = np.maximum(indices, 0)
        present = indices >= 0

        def take(mask: np.ndarray) -> np.ndarray:
            return np.asarray(mask[safe] & present, dtype=bool)

        return IdCheck(
            valid=take(self.valid),
            failures=[(take(mask), reason, message) for mask, reason, message in self.failures],
            digits=np.zeros((0, 12), dtype=np.int64),
            numbers=np.where(present, self.numbers[safe], 0),
        )


def distinct(values: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """``(dictionary, indices)``: the distinct values of a column and, per row, the index of its
    value (-1 for null). Checks on identifiers run once per distinct value."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    encoded = values if pa.types.is_dictionary(values.type) else pc.dictionary_encode(values)
    indices = pc.fill_null(encoded.indices.cast(pa.int64()), -1)
    return encoded.dictionary, np.asarray(indices.to_numpy(zero_copy_only=False), dtype=np.int64)


def check_iins(values: pa.Array, today: dt.date) -> IdCheck:
    """Check a column of IINs; each invalid row fails exactly one check (the first)."""
    shape_ok, digits = digit_matrix(values)
    date_ok, birth = birth_dates(digits)
    date_ok &= shape_ok
    today_days = (np.datetime64(today, "D") - np.datetime64("1970-01-01", "D")).astype(np.int64)
    future = date_ok & (birth > today_days)
    checksum_ok = check_digit_ok(digits)
    bad_shape = ~shape_ok
    bad_date = shape_ok & ~date_ok
    bad_checksum = date_ok & ~future & ~checksum_ok
    return IdCheck(
        valid=date_ok & ~future & checksum_ok,
        failures=[
            (bad_shape, "iin_format", "an IIN has exactly 12 digits"),
            (bad_date, "iin_birth_date", "digits 1-7 are not a birth date with a century code"),
            (future, "iin_future", "the birth date the IIN encodes is in the future"),
            (bad_checksum, "iin_checksum", "the check digit (12th) does not match"),
        ],
        digits=digits,
        numbers=numbers(digits),
    )


def check_payers(values: pa.Array, today: dt.date) -> IdCheck:
    """Check a column of payers: each must be a valid BIN or a valid IIN."""
    as_person = check_iins(values, today)
    digits = as_person.digits
    shape_ok = ~as_person.failures[0][0]
    checksum_ok = check_digit_ok(digits)
    as_iin = as_person.valid
    month = digits[:, 2] * 10 + digits[:, 3]
    as_bin = shape_ok & checksum_ok & (month >= 1) & (month <= 12)
    valid = as_iin | as_bin
    bad_shape = ~shape_ok
    bad_checksum = shape_ok & ~checksum_ok
    other = shape_ok & checksum_ok & ~valid
    return IdCheck(
        valid=valid,
        failures=[
            (bad_shape, "payer_format", "a payer's BIN or IIN has exactly 12 digits"),
            (bad_checksum, "payer_checksum", "the check digit (12th) does not match"),
            (other, "payer_invalid", "neither a BIN (digits 3-4 a month) nor an IIN"),
        ],
        digits=digits,
        numbers=as_person.numbers,
    )


def check_distinct(
    values: pa.Array, check: Callable[[pa.Array, dt.date], IdCheck], today: dt.date
) -> IdCheck:
    """``check`` run once per distinct value of the column, spread back over its rows."""
    dictionary, indices = distinct(values)
    return check(dictionary.cast(pa.string()), today).expand(indices)


def sorted_member(needles: np.ndarray, haystack_sorted: np.ndarray) -> np.ndarray:
    """For each needle, whether it is in the sorted ``haystack_sorted`` (vectorised).

    Needles that are not in order are sorted first: binary searches in order walk the haystack
    forwards and share their first steps, several times faster on a large haystack than the same
    searches in random order."""
    if haystack_sorted.size == 0 or needles.size == 0:
        return np.zeros(needles.shape[0], dtype=bool)
    if needles.size > 1 and not bool(np.all(needles[1:] >= needles[:-1])):
        order = np.argsort(needles, kind="stable")
        found = np.empty(needles.size, dtype=bool)
        found[order] = sorted_member(needles[order], haystack_sorted)
        return found
    index = np.searchsorted(haystack_sorted, needles)
    index = np.minimum(index, haystack_sorted.size - 1)
    return np.asarray(haystack_sorted[index] == needles)


@dataclass
class Problems:
    """Problems found in one batch: for each failing row, field, reason, message and value."""

    size: int
    rows: list[np.ndarray] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    values: list[pa.Array | None] = field(default_factory=list)
    rejected: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.rejected = np.zeros(self.size, dtype=bool)

    def add(
        self,
        mask: np.ndarray,
        field_name: str,
        reason: str,
        message: str,
        values: pa.Array | None = None,
    ) -> None:
        """Record every row of ``mask`` as failing; ``values`` is the raw column shown."""
        rows = np.flatnonzero(mask)
        if rows.size == 0:
            return
        self.rows.append(rows)
        self.fields.append(field_name)
        self.reasons.append(reason)
        self.messages.append(message)
        self.values.append(None if values is None else values.take(pa.array(rows)))
        self.rejected[rows] = True

    def add_id_check(self, check: IdCheck, field_name: str, values: pa.Array) -> None:
        for mask, reason, message in check.failures:
            self.add(mask, field_name, reason, message, values)

    def table(self, first_row: int) -> pa.Table:
        """The problems as a table (row is 1-based in the file: ``first_row`` + batch index)."""
        columns: dict[str, list[pa.Array]] = {
            "row": [],
            "field": [],
            "reason": [],
            "message": [],
            "value": [],
        }
        for rows, name, reason, message, values in zip(
            self.rows, self.fields, self.reasons, self.messages, self.values, strict=True
        ):
            n = rows.size
            columns["row"].append(pa.array(rows.astype(np.int64) + first_row, pa.int64()))
            columns["field"].append(pa.array(np.full(n, name), pa.string()))
            columns["reason"].append(pa.array(np.full(n, reason), pa.string()))
            columns["message"].append(pa.array(np.full(n, message), pa.string()))
            if values is None:
                columns["value"].append(pa.nulls(n, pa.string()))
            else:
                text = values.cast(pa.string()) if values.type != pa.string() else values
                sliced = pc.utf8_slice_codeunits(text, 0, 200)
                if isinstance(sliced, pa.ChunkedArray):
                    sliced = sliced.combine_chunks()
                columns["value"].append(sliced)
        return pa.table(
            {
                name: pa.concat_arrays(parts)
                if parts
                else pa.array([], pa.int64() if name == "row" else pa.string())
                for name, parts in columns.items()
            }
        )


QUARANTINE_SCHEMA = pa.schema(
    [
        ("row", pa.int64()),
        ("field", pa.string()),
        ("reason", pa.string()),
        ("message", pa.string()),
        ("value", pa.string()),
    ]
)
