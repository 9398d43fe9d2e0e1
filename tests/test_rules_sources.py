"""Every shipped rule cites its source, and a rule is verified only when its source gives its start.

The checkable form: every dated entry of every shipped rule file (a parameter's value, an edition,
a decreed day transfer; anything with ``from``, ``valid_from`` or ``day_off``) has a source, its
own or its edition's; and an entry that is not marked ``verified: false`` (nor sits in an edition
so marked) states its start date in its own source, as "from YYYY" / "since YYYY" for a 1 January
start, or as a date "5 September 2022" / "05.09.2022". A start the source does not state, such as
a registration date standing in for an unknown publication date, or the first day of the year a
report describes, therefore cannot be marked verified.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from saqta.core.rules import check_rules, packaged_rules_dir, read_yaml

MONTHS = [dt.date(2000, m, 1).strftime("%B") for m in range(1, 13)]
_DAY_MONTH_YEAR = re.compile(r"\b(\d{1,2}) (" + "|".join(MONTHS) + r") (\d{4})\b")
_DOTTED = re.compile(r"\b(\d{2})\.(\d{2})\.(\d{4})\b")
_FROM_YEAR = re.compile(r"\b(?:from|since) (\d{4})\b(?![.\d])")
_START_KEYS = ("from", "valid_from", "day_off")
_NOT_RULES = ("covers",)  # the years a table covers: a range, not a rule value


def dates_stated(source: str) -> set[dt.date]:
    """The dates a source text states, in the forms described above."""
    found = {
        dt.date(int(y), MONTHS.index(m) + 1, int(d)) for d, m, y in _DAY_MONTH_YEAR.findall(source)
    }
    found |= {dt.date(int(y), int(m), int(d)) for d, m, y in _DOTTED.findall(source)}
    found |= {dt.date(int(y), 1, 1) for y in _FROM_YEAR.findall(source)}
    return found


def dated_entries(
    node: Any, where: str, source: str | None = None, verified: bool = True
) -> Iterator[tuple[str, dt.date, dict[str, Any], str | None, bool]]:
    """``(where, start, entry, source, verified)`` for every dated entry, the source and the
    verified flag inherited from an enclosing edition when the entry has none of its own."""
    if isinstance(node, dict):
        own = node.get("source")
        source = own if isinstance(own, str) else source
        verified = verified and node.get("verified", True) is not False
        start = next((node[k] for k in _START_KEYS if isinstance(node.get(k), dt.date)), None)
        if start is not None:
            yield where, start, node, source, verified
            for key, value in node.items():
                yield from _inside(value, f"{where}.{key}", source, verified, start)
            return
        for key, value in node.items():
            if key not in _NOT_RULES:
                yield from dated_entries(value, f"{where}.{key}", source, verified)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from dated_entries(item, f"{where}[{i}]", source, verified)


def _inside(
    node: Any, where: str, source: str | None, verified: bool, start: dt.date
) -> Iterator[tuple[str, dt.date, dict[str, Any], str | None, bool]]:
    """Entries of an edition (its categories, groups): dated by the edition's start."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            if isinstance(item, dict) and ("source" in item or "verified" in item):
                own = item.get("verified", True) is not False
                yield f"{where}[{i}]", start, item, item.get("source", source), verified and own
            yield from dated_entries(item, f"{where}[{i}]", source, verified)


def shipped() -> list[tuple[str, dt.date, dict[str, Any], str | None, bool]]:
    root = packaged_rules_dir()
    entries = []
    for path in sorted(root.rglob("*.yaml")):
        entries += list(dated_entries(read_yaml(path), str(path.relative_to(root))))
    return entries


def test_the_shipped_rules_have_dated_entries_to_check():
    files = {where.split(".yaml")[0] for where, *_ in shipped()}
    assert {"mshi/contributions", "mshi/status", "calendar/kz_day_transfers"} <= files
    assert len(shipped()) > 100


def test_every_dated_rule_has_a_source():
    missing = [where for where, _, _, source, _ in shipped() if not (source or "").strip()]
    assert missing == []


def test_a_verified_rule_states_its_start_in_its_source():
    wrong = [
        f"{where}: starts {start}, source states {sorted(map(str, dates_stated(source or '')))}"
        for where, start, _, source, verified in shipped()
        if verified and start not in dates_stated(source or "")
    ]
    assert wrong == []


def test_the_report_dates_that_are_verified():
    verified = {
        (where.split(".values")[0], start)
        for where, start, _, _, ok in shipped()
        if ok and where.startswith("mshi/")
    }
    assert verified == {
        ("mshi/contributions.yaml.parameters.employer_deduction_rate", dt.date(2022, 1, 1)),
        ("mshi/contributions.yaml.parameters.employee_contribution_rate", dt.date(2021, 1, 1)),
        ("mshi/contributions.yaml.parameters.self_payer_prepayment_months", dt.date(2022, 9, 5)),
    }


def test_contributions_cite_the_reports_own_numbering():
    text = (packaged_rules_dir() / "mshi" / "contributions.yaml").read_text(encoding="utf-8")
    assert "section 2" not in text
    assert 'Section 1, 1.1 \\"Increasing participation in MSHI\\"' in text
    for item in range(1, 7):
        assert f"item {item})" in text
    assert "discussion of the strategic indicators" in text


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("report: 3% from 2022", {dt.date(2022, 1, 1)}),
        ("since 5 September 2022 a self-payer", {dt.date(2022, 9, 5)}),
        ("resolution No. 25 of 02.03.2021, para. 2", {dt.date(2021, 3, 2)}),
        ("Law on the budget for 2022-2024, art. 9", set()),
        ("in force in 2022; the report does not say from when", set()),
    ],
)
def test_dates_stated_in_a_source(source, expected):
    assert dates_stated(source) == expected


def test_rules_check_refuses_a_day_transfer_without_source_or_verified_flag(tmp_path: Path):
    (tmp_path / "t.yaml").write_text(
        "kind: day_transfers\ncountry: KZ\ndescription: x\n"
        "covers: {from: 2027-01-01, to: 2027-12-31}\n"
        "transfers:\n"
        "  - {day_off: 2027-01-08, working_day: 2027-01-09, source: decree X}\n"
        "  - {day_off: 2027-03-19, working_day: 2027-03-20, verified: false}\n"
        "years_without_transfers: [{year: 2028, source: none published}]\n",
        encoding="utf-8",
    )
    _, problems = check_rules([tmp_path])
    lines = sorted(f"{p.where}: {p.what}" for p in problems)
    assert len(lines) == 3, lines
    assert "transfers[0].verified: missing required key" in lines[0]
    assert "transfers[1].source: missing required key" in lines[1]
    assert "years_without_transfers[0].verified: missing required key" in lines[2]
