"""The dated plausibility cap of one payment row, per payment type (``rules/mshi/
plausibility.yaml``): an amount above it is quarantined as ``implausible_amount``.

The cap is looked up once per distinct (payment type, month paid for) of a batch, never per
row; rows are compared with their cap as exact decimals.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from saqta.core.errors import RulesError
from saqta.core.periods import Month
from saqta.core.rules import RuleSet
from saqta.mshi.intake import to_numpy_bool
from saqta.mshi.schema import PAYMENT_TYPES

__all__ = ["AmountCaps", "P"]

P = "mshi.plausibility."


class AmountCaps:
    """Caps in tiyn by payment type and month, from a rule set (cached)."""

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        self._cache: dict[tuple[str, int], int] = {}

    def cap(self, payment_type: str, month_index: int) -> int:
        """The cap in tiyn, or -1 when none applies (an unknown type, a month before any
        value, or a value the Fund has not set)."""
        key = (payment_type, month_index)
        if key not in self._cache:
            cents = -1
            if payment_type in PAYMENT_TYPES:
                try:
                    found = self.rules.lookup(
                        f"{P}amount_cap_{payment_type}", Month.from_index(month_index).first_day
                    )
                except RulesError:
                    found = None
                if found is not None and found.value is not None:
                    cents = int(found.value * 100)
            self._cache[key] = cents
        return self._cache[key]

    def above(
        self, kinds: pa.Array, kind_index: np.ndarray, period: pa.Array, amount: pa.Array
    ) -> np.ndarray:
        """Rows whose ``amount`` is above the cap of their type (``kinds[kind_index]``, -1 for
        none) in their month paid for (``period``, date32, null for none)."""
        n = len(amount)
        if n == 0:
            return np.zeros(0, dtype=bool)
        present = to_numpy_bool(pc.is_valid(period)) & (kind_index >= 0)
        filled = pc.fill_null(period, pa.scalar(0, pa.date32()))
        year = np.asarray(pc.year(filled).to_numpy(zero_copy_only=False), dtype=np.int64)
        month = np.asarray(pc.month(filled).to_numpy(zero_copy_only=False), dtype=np.int64)
        months = year * 12 + month - 1
        width = max(len(kinds), 1)
        keys = np.where(present, months * width + kind_index, -1)
        low = int(keys.min())
        span = int(keys.max()) - low + 1
        if span <= 1 << 20:  # a dense table: no sort of the rows
            seen = np.zeros(span, dtype=bool)
            seen[keys - low] = True
            unique = np.flatnonzero(seen) + low
            table = np.full(span, -1, dtype=np.int64)
            table[unique - low] = self._caps(unique, kinds, width)
            row_cap = table[keys - low]
        else:
            unique, inverse = np.unique(keys, return_inverse=True)
            row_cap = self._caps(unique, kinds, width)[inverse.reshape(-1)]
        capped = (row_cap >= 0) & to_numpy_bool(pc.is_valid(amount))
        above: np.ndarray = capped & (_cents(amount) > row_cap)
        return above

    def _caps(self, keys: np.ndarray, kinds: pa.Array, width: int) -> np.ndarray:
        names = kinds.cast(pa.string()).to_pylist()
        return np.array(
            [
                -1 if key < 0 else self.cap(str(names[key % width]), int(key // width))
                for key in keys.tolist()
            ],
            dtype=np.int64,
        )


def _cents(amount: pa.Array) -> np.ndarray:
    """``decimal128(18, 2)`` amounts as int64 tiyn, read from the 128-bit values' low words
    (exact: an amount is below 10^18 tiyn); nulls give whatever their slot holds."""
    if isinstance(amount, pa.ChunkedArray):
        amount = amount.combine_chunks()
    words = np.frombuffer(amount.buffers()[1], dtype=np.int64)
    return words[2 * amount.offset : 2 * (amount.offset + len(amount)) : 2]
