"""Money is exact Decimal tenge; the forms round to thousands and percentages to 2 decimals."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from saqta.core.money import (
    apply_rate,
    percent_of,
    round_percent,
    round_tiyn,
    to_money,
    to_thousands,
)

amounts = st.decimals(min_value=-(10**12), max_value=10**12, places=2, allow_nan=False)


def test_under_500_tenge_rounds_to_zero_thousands():
    assert to_thousands(Decimal("499.99")) == 0
    assert to_thousands(Decimal("1499.99")) == 1


def test_500_tenge_or_more_rounds_up_to_a_thousand():
    assert to_thousands(Decimal("500")) == 1
    assert to_thousands(Decimal("2500.00")) == 3
    assert to_thousands(Decimal("182600")) == 183


def test_negative_amounts_mirror_positive_ones():
    assert to_thousands(Decimal("-500")) == -1
    assert to_thousands(Decimal("-499")) == 0


def test_percentages_to_two_decimals():
    assert round_percent(Decimal("82.4049")) == Decimal("82.40")
    assert round_percent(Decimal("82.405")) == Decimal("82.41")
    assert percent_of(Decimal(16266563), Decimal(19741283)) == Decimal("82.40")


def test_float_is_refused_in_money_paths():
    with pytest.raises(TypeError):
        to_money(0.1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not an amount"):
        to_money("12,5")


def test_deduction_of_the_average_base_is_the_published_average():
    # 3% of 182,600 ₸ is 5,478 ₸; the report's 5,478.3 ₸ is an average over all deductions.
    assert apply_rate(Decimal("182600"), Decimal("0.03")) == Decimal("5478.00")
    assert apply_rate(Decimal("100.50"), Decimal("0.03")) == Decimal("3.02")  # 3.015 half up


@given(amounts)
def test_thousands_are_within_half_a_thousand(amount):
    rounded = to_thousands(amount) * 1000
    assert abs(rounded - amount) <= 500
    assert rounded == to_thousands(rounded) * 1000


@given(amounts)
def test_remainder_rule_matches_the_regulation(amount):
    whole, remainder = divmod(abs(amount), 1000)
    expected = whole + (1 if remainder >= 500 else 0)
    assert to_thousands(amount) == (expected if amount >= 0 else -expected)


@given(amounts)
def test_tiyn_rounding_is_idempotent_and_close(amount):
    once = round_tiyn(amount * Decimal("1.001"))
    assert round_tiyn(once) == once
    assert abs(once - amount * Decimal("1.001")) <= Decimal("0.005")
