"""IIN: 12 digits, birth date, century/sex digit and the two-pass mod-11 checksum."""

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from saqta.core.errors import InputError
from saqta.core.iin import (
    BINCode,
    IINCode,
    Sex,
    bin_problem,
    bin_problem_codes,
    birth_dates,
    check_digit,
    check_digits,
    digit_matrix,
    iin_problem,
    iin_problem_codes,
    is_valid_iin,
    make_iin,
    numbers,
    parse_iin,
    sexes,
    valid_bins,
    valid_iins,
)


def test_a_valid_iin_gives_birth_date_and_sex():
    iin = parse_iin("900101300017")
    assert iin.birth_date == dt.date(1990, 1, 1)
    assert iin.sex is Sex.MALE
    assert iin.serial == "0001"


def test_a_woman_born_in_the_2000s():
    value = make_iin(dt.date(2005, 3, 8), Sex.FEMALE, 42)
    assert value is not None and value[6] == "6"
    assert parse_iin(value).birth_date == dt.date(2005, 3, 8)
    assert parse_iin(value).sex is Sex.FEMALE


def test_the_second_pass_is_used_when_the_first_gives_ten():
    # 1·0+2·0+3·0+4·0+5·0+6·0+7·0+8·0+9·0+10·1+11·0 = 10 -> second pass: 1·1 = 1
    assert check_digit("00000000010") == 1


def test_a_number_giving_ten_twice_is_never_issued():
    # find one such 11-digit prefix by search over serials and check it is refused
    for serial in range(10000):
        prefix = f"9001013{serial:04d}"
        if check_digit(prefix) is None:
            assert "never issued" in (iin_problem(prefix + "0") or "")
            return
    pytest.fail("no prefix with checksum 10 in both passes found")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("90010130001", "12 digits"),
        ("9001013000a7", "digits only"),
        ("900101900017", "7th digit 9"),
        ("901301300017", "not a valid birth date"),
        ("900101300010", "check digit is 0, expected 7"),
    ],
)
def test_invalid_iins_get_the_reason(value, reason):
    assert reason in (iin_problem(value) or "")
    with pytest.raises(InputError, match=reason):
        parse_iin(value)


@given(
    st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2099, 12, 31)),
    st.sampled_from(list(Sex)),
    st.integers(0, 9999),
)
def test_every_composed_iin_parses_back(birth, sex, serial):
    value = make_iin(birth, sex, serial)
    if value is None:
        century = (birth.year // 100 - 18) * 2 + (1 if sex is Sex.MALE else 2)
        assert check_digit(f"{birth:%y%m%d}{century}{serial:04d}") is None
        return
    parsed = parse_iin(value, today=dt.date(2099, 12, 31))
    assert (parsed.birth_date, parsed.sex, parsed.serial) == (birth, sex, f"{serial:04d}")


def _first_pass(body: str) -> int:
    return sum(int(d) * w for d, w in zip(body, range(1, 12), strict=True)) % 11


@given(
    st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2025, 12, 31)),
    st.sampled_from(list(Sex)),
    st.integers(0, 9999),
    st.integers(0, 9),
    st.integers(1, 9),
)
def test_a_typo_in_the_first_ten_digits_is_caught(birth, sex, serial, pos, delta):
    """Weights 1-10 are non-zero mod 11, so one wrong digit changes the first-pass sum; the typo
    goes unnoticed only if one of the two numbers needed the second pass."""
    value = make_iin(birth, sex, serial)
    if value is None:
        return
    mutated = value[:pos] + str((int(value[pos]) + delta) % 10) + value[pos + 1 :]
    if _first_pass(value[:11]) != 10 and _first_pass(mutated[:11]) != 10:
        assert iin_problem(mutated) is not None


def test_a_birth_date_in_the_future_is_refused():
    value = make_iin(dt.date(2090, 1, 1), Sex.MALE, 1)
    assert value is not None
    assert "in the future" in (iin_problem(value, today=dt.date(2026, 11, 22)) or "")
    assert iin_problem(value, today=dt.date(2090, 1, 1)) is None


def test_bin_checks():
    assert bin_problem("000140000000") is not None
    assert "registration month" in (bin_problem("001340000000") or "")


# ------------------------------------------------------------------------------------------------
# The vectorised forms give the scalar forms' answers


def _iin_code(value: str, today: dt.date) -> IINCode:
    problem = iin_problem(value, today)
    if problem is None:
        return IINCode.VALID
    for words, code in (
        ("12 digits", IINCode.FORMAT),
        ("digits only", IINCode.FORMAT),
        ("century/sex code", IINCode.BIRTH_DATE),
        ("not a valid birth date", IINCode.BIRTH_DATE),
        ("in the future", IINCode.FUTURE),
        ("check digit", IINCode.CHECKSUM),
        ("never issued", IINCode.CHECKSUM),
    ):
        if words in problem:
            return code
    raise AssertionError(problem)


def _bin_code(value: str) -> BINCode:
    problem = bin_problem(value)
    if problem is None:
        return BINCode.VALID
    for words, code in (
        ("12 digits", BINCode.FORMAT),
        ("digits only", BINCode.FORMAT),
        ("registration month", BINCode.MONTH),
        ("check digit", BINCode.CHECKSUM),
        ("never issued", BINCode.CHECKSUM),
    ):
        if words in problem:
            return code
    raise AssertionError(problem)


TEXT_CHARACTERS = st.characters(codec="utf-8")
"""Any character a decoded file can hold (lone surrogates cannot come out of a decoder)."""


def _near_valid(draw: st.DrawFn) -> str:
    """A valid IIN, possibly with one digit changed, one character dropped or replaced."""
    birth = draw(st.dates(min_value=dt.date(1800, 1, 1), max_value=dt.date(2099, 12, 31)))
    sex = draw(st.sampled_from(list(Sex)))
    value = make_iin(birth, sex, draw(st.integers(0, 9999))) or "000000000000"
    mutation = draw(st.sampled_from(["none", "digit", "drop", "char"]))
    pos = draw(st.integers(0, 11))
    if mutation == "digit":
        return value[:pos] + str(draw(st.integers(0, 9))) + value[pos + 1 :]
    if mutation == "drop":
        return value[:pos] + value[pos + 1 :]
    if mutation == "char":
        return value[:pos] + draw(TEXT_CHARACTERS) + value[pos + 1 :]
    return value


identifiers = st.one_of(
    st.composite(_near_valid)(),
    st.text(alphabet="0123456789", min_size=12, max_size=12),
    st.text(TEXT_CHARACTERS, max_size=14),
)


@given(
    st.lists(identifiers, max_size=60),
    st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2099, 12, 31)),
)
def test_vectorised_iin_check_agrees_with_the_scalar_one(values, today):
    codes = iin_problem_codes(pa.array(values, pa.string()), today)
    assert [IINCode(c) for c in codes] == [_iin_code(v, today) for v in values]
    assert list(valid_iins(values, today)) == [is_valid_iin(v, today) for v in values]


@given(st.lists(identifiers, max_size=60))
def test_vectorised_bin_check_agrees_with_the_scalar_one(values):
    chunked = pa.chunked_array(
        [pa.array(values[:3], pa.string()), pa.array(values[3:], pa.string())], pa.string()
    )
    assert [BINCode(c) for c in bin_problem_codes(chunked)] == [_bin_code(v) for v in values]
    assert list(valid_bins(values)) == [bin_problem(v) is None for v in values]


@given(st.lists(st.text(alphabet="0123456789", min_size=11, max_size=11), min_size=1, max_size=50))
def test_vectorised_check_digits_agree_with_the_scalar_one(prefixes):
    matrix = np.array([[int(c) for c in p] for p in prefixes], dtype=np.int64)
    expected = [check_digit(p) for p in prefixes]
    assert [None if d < 0 else int(d) for d in check_digits(matrix)] == expected


def test_vectorised_birth_dates_sexes_and_numbers():
    values = ["900101300017", "050308600004", "not an iin"]
    ok, digits = digit_matrix(values)
    assert list(ok) == [True, True, False]
    date_ok, days = birth_dates(digits)
    assert list(date_ok[:2]) == [True, True]
    assert [dt.date(1970, 1, 1) + dt.timedelta(days=int(d)) for d in days[:2]] == [
        dt.date(1990, 1, 1),
        dt.date(2005, 3, 8),
    ]
    assert list(sexes(digits[:2])) == ["M", "F"]
    assert list(numbers(digits)) == [900101300017, 50308600004, 0]
    assert iin_problem_codes([None, "900101300017"]).tolist() == [IINCode.FORMAT, IINCode.VALID]
