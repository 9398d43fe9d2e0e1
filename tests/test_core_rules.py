"""Rules as data: strict schema, dated lookups, clear refusals."""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from saqta.core.errors import RulesError
from saqta.core.rules import check_rules, load_rules

RULES = load_rules()


def write(tmp_path: Path, body: str, name: str = "r.yaml") -> Path:
    folder = tmp_path / "rules"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(body, encoding="utf-8")
    return folder


HEADER = "kind: parameters\nnamespace: t\ndescription: test\nparameters:\n"


def param(values: str, type_: str = "decimal") -> str:
    return HEADER + f"  rate:\n    description: a rate\n    type: {type_}\n    values:\n{values}"


def test_the_shipped_rules_are_valid():
    files, problems = check_rules()
    assert problems == []
    assert len(files) >= 4


def test_employer_rate_by_date():
    name = "mshi.contributions.employer_deduction_rate"
    assert RULES.value(name, dt.date(2022, 1, 1)) == Decimal("0.03")
    assert RULES.value(name, dt.date(2026, 6, 1)) == Decimal("0.03")
    assert RULES.lookup(name, dt.date(2021, 12, 31)).verified is False
    with pytest.raises(RulesError, match="no value in force"):
        RULES.value(name, dt.date(2017, 6, 30))


def test_minimum_wage_and_mrp_of_2022_to_2025():
    assert RULES.value("economy.minimum_wage", dt.date(2022, 6, 1)) == Decimal(60000)
    assert RULES.value("economy.minimum_wage", dt.date(2023, 6, 1)) == Decimal(70000)
    assert RULES.value("economy.minimum_wage", dt.date(2025, 12, 31)) == Decimal(85000)
    assert RULES.value("economy.mrp", dt.date(2022, 3, 31)) == Decimal(3063)
    assert RULES.value("economy.mrp", dt.date(2022, 4, 1)) == Decimal(3180)
    assert RULES.value("economy.mrp", dt.date(2025, 1, 1)) == Decimal(3932)


def test_values_the_source_does_not_give_are_parameters_not_inventions():
    found = RULES.lookup("mshi.contributions.state_contribution_rate", dt.date(2022, 1, 1))
    assert found.value is None and found.verified is False
    with pytest.raises(RulesError, match="overrides"):
        RULES.value("mshi.contributions.state_contribution_rate", dt.date(2022, 1, 1))


def test_an_override_folder_sets_an_unverified_value(tmp_path):
    folder = write(
        tmp_path,
        "kind: parameters\nnamespace: mshi.contributions\ndescription: Fund decision\nparameters:\n"
        "  state_contribution_rate:\n    description: set by the Fund\n    type: decimal\n"
        "    values:\n      - {from: 2022-01-01, value: 0.015, source: Fund order No. 1}\n",
    )
    from saqta.core.rules import packaged_rules_dir

    rules = load_rules([packaged_rules_dir(), folder])
    assert rules.value(
        "mshi.contributions.state_contribution_rate", dt.date(2022, 5, 1)
    ) == Decimal("0.015")


def test_decimals_are_exact_never_float(tmp_path):
    folder = write(tmp_path, param("      - {from: 2022-01-01, value: 0.1, source: law}\n"))
    value = load_rules([folder]).value("t.rate", dt.date(2022, 1, 1))
    assert isinstance(value, Decimal) and value == Decimal("0.1")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            param("      - {from: 2022-01-01, value: 1, source: law, colour: red}\n"),
            r"values\[0\]\.colour: unknown key",
        ),
        (param("      - {value: 1, source: law}\n"), r"values\[0\]\.from: missing date"),
        (
            param("      - {from: 2022-05-01, to: 2022-01-01, value: 1, source: law}\n"),
            r"values\[0\]: inverted range",
        ),
        (
            param(
                "      - {from: 2022-01-01, to: 2022-12-31, value: 1, source: law}\n"
                "      - {from: 2022-06-01, value: 2, source: law}\n"
            ),
            r"values\[1\]: overlapping range",
        ),
        (
            param("      - {from: 2022-01-01, value: abc, source: law}\n"),
            r"values\[0\]\.value: wrong type: expected a decimal number",
        ),
        (
            param("      - {from: 2022-01-01, value: 3, source: law}\n", type_="boolean"),
            r"values\[0\]\.value: wrong type: expected true or false",
        ),
        (
            param("      - {from: 2022-02-30, value: 3, source: law}\n"),
            r"values\[0\]\.from: wrong type: expected a date",
        ),
        (param("      - {from: 2022-01-01, value: null, source: law}\n"), r"missing value"),
        (HEADER + "  rate: [1, 2\n", r"r\.yaml:\d+:\d+: not valid YAML"),
        (
            param("      - {from: 2022-01-01, value: .inf, source: law}\n"),
            r"r\.yaml:\d+:\d+: not valid YAML: \.inf is not a finite number",
        ),
    ],
)
def test_broken_files_are_refused_naming_file_key_and_problem(tmp_path, body, message):
    folder = write(tmp_path, body)
    with pytest.raises(RulesError, match=message) as info:
        load_rules([folder])
    assert all("r.yaml" in p.where for p in info.value.problems)


def test_a_file_that_is_not_utf8_is_refused(tmp_path):
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "r.yaml").write_bytes(b"kind: parameters\ndescription: \xff\n")
    with pytest.raises(RulesError, match=r"r\.yaml: not UTF-8"):
        load_rules([folder])


def test_a_date_after_the_last_value_says_where_values_end():
    with pytest.raises(RulesError, match="values run 2017-01-01 to 2026-12-31"):
        RULES.value("economy.mrp", dt.date(2027, 1, 1))


def test_unknown_rule_names_suggest_close_ones():
    with pytest.raises(RulesError, match=r"did you mean economy\.mrp"):
        RULES.value("economy.mpr", dt.date(2022, 1, 1))


def test_the_same_parameter_twice_in_one_folder_is_refused(tmp_path):
    entry = param("      - {from: 2022-01-01, value: 1, source: law}\n")
    write(tmp_path, entry, "a.yaml")
    folder = write(tmp_path, entry, "b.yaml")
    with pytest.raises(RulesError, match="also defined"):
        load_rules([folder])


@given(
    st.lists(st.integers(0, 3000), min_size=1, max_size=8, unique=True),
    st.integers(0, 3200),
)
def test_the_value_in_force_is_the_latest_started_on_or_before_the_date(
    tmp_path_factory, starts, day
):
    starts = sorted(starts)
    base = dt.date(2017, 1, 1)
    lines = "".join(
        f"      - {{from: {base + dt.timedelta(s)}, value: {i}, source: law}}\n"
        for i, s in enumerate(starts)
    )
    folder = write(tmp_path_factory.mktemp("p"), param(lines, type_="integer"))
    rules = load_rules([folder])
    on = base + dt.timedelta(day)
    started = [i for i, s in enumerate(starts) if s <= day]
    if not started:
        with pytest.raises(RulesError):
            rules.value("t.rate", on)
    else:
        assert rules.value("t.rate", on) == started[-1]
