"""Money: exact ``Decimal`` tenge, and the rounding rules of the forms.

No float ever enters a money path: :func:`to_money` refuses floats outright.

Rounding rules (National Bank resolution No. 25 of 2021, annexes 1-5, paragraph 4 of each form's
filling instructions): value indicators are stated in thousands of tenge; an amount under 500 tenge
rounds to 0 and an amount of 500 tenge or more rounds up to 1,000 tenge; percentages are shown to
the second decimal place.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

TIYN = Decimal("0.01")
THOUSAND = Decimal(1000)
PERCENT_PLACES = Decimal("0.01")

Money = Decimal
"""Money is a plain ``Decimal`` of tenge; the alias names intent in signatures."""


def to_money(value: Decimal | int | str) -> Decimal:
    """Parse tenge exactly. Floats are refused: they cannot hold most tiyn amounts exactly."""
    if isinstance(value, bool | float):
        raise TypeError(f"money must be Decimal, int or str, not {type(value).__name__}")
    try:
        result = value if isinstance(value, Decimal) else Decimal(value)
    except InvalidOperation as exc:
        raise ValueError(f"not an amount of money: {value!r}") from exc
    if not result.is_finite():
        raise ValueError(f"not an amount of money: {value!r}")
    return result


def round_tiyn(amount: Decimal) -> Decimal:
    """Round to whole tiyn (0.01 ₸), half away from zero, as payment orders are stated."""
    return to_money(amount).quantize(TIYN, rounding=ROUND_HALF_UP)


def to_thousands(amount: Decimal) -> Decimal:
    """Tenge to whole thousands of tenge by the forms' rule.

    A remainder under 500 ₸ goes to 0 and 500 ₸ or more goes up to 1,000 ₸ (half away from zero,
    so negative amounts mirror positive ones). Returns the number of thousands, e.g. 1,500 ₸ -> 2.
    """
    return (to_money(amount) / THOUSAND).quantize(Decimal(1), rounding=ROUND_HALF_UP)


def round_percent(value: Decimal) -> Decimal:
    """A percentage to two decimal places, half away from zero."""
    return to_money(value).quantize(PERCENT_PLACES, rounding=ROUND_HALF_UP)


def percent_of(part: Decimal, whole: Decimal) -> Decimal:
    """``part`` as a percentage of ``whole``, to two decimals. A zero ``whole`` is an error."""
    whole = to_money(whole)
    if whole == 0:
        raise ZeroDivisionError("percentage of a zero total")
    return round_percent(to_money(part) * 100 / whole)


def apply_rate(base: Decimal, rate: Decimal) -> Decimal:
    """``base × rate`` rounded once, to tiyn."""
    return round_tiyn(to_money(base) * to_money(rate))
