"""Validation within and across forms; re-validation of a report set received from elsewhere."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saqta.core.money import round_percent, to_thousands
from saqta.core.rules import packaged_rules_dir
from saqta.prudential import reference
from saqta.prudential.compute import compute
from saqta.prudential.inputs import PrudentialInputs
from saqta.prudential.report import Finding, Form, ReportSet, Row
from saqta.prudential.validate import INPUT_RULES, revalidate, validate
from test_prudential_compute import AT, HOLDINGS, RATINGS, TREATIES, amounts, make, scenarios

D = Decimal


@pytest.fixture(scope="module")
def inputs() -> PrudentialInputs:
    return make(
        holdings=HOLDINGS,
        ratings=RATINGS,
        treaties=TREATIES,
        figures={"repo_liabilities": "800000"},
        methodology={"decrease_p14": "40000"},
    )


@pytest.fixture(scope="module")
def report(inputs: PrudentialInputs) -> ReportSet:
    return compute(inputs, computed_at=AT)


def edit(report: ReportSet, form: str, code: str, column: str, new: Any) -> ReportSet:
    """A copy of ``report`` with one cell changed."""
    old = report.forms[form]  # type: ignore[index]
    rows = tuple(
        row.model_copy(update={"cells": {**row.cells, column: new}})
        if row.code == code and row.group is None
        else row
        for row in old.rows
    )
    forms = {**report.forms, form: old.model_copy(update={"rows": rows})}
    return report.model_copy(update={"forms": forms, "findings": ()})


def by_id(findings: list[Finding], rule_id: str) -> Finding:
    found = [f for f in findings if f.rule_id == rule_id]
    assert found, f"no {rule_id} in {[f.rule_id for f in findings]}"
    return found[0]


def test_a_computed_report_set_is_consistent(report: ReportSet, inputs: PrudentialInputs) -> None:
    for findings in (validate(report), validate(report, inputs=inputs)):
        assert [f for f in findings if f.severity == "error"] == []


def test_row_3_must_equal_the_row_400_that_applies(report: ReportSet) -> None:
    broken = edit(report, "1-PN_S", "3", "3", D(30000000))
    finding = by_id(validate(broken), "S-3-eq-400")
    assert finding.severity == "error"
    assert finding.message == "1-PN_S row 3 is 30000000, 1-PN_O row 400 is 30200000"
    assert (finding.form, finding.row, finding.column) == ("1-PN_S", "3", "3")


@pytest.mark.parametrize(
    ("code", "rule_id", "bad"),
    [("7", "S-7-eq-V", D(75800000)), ("8", "S-8-eq-V9", D(0)), ("9", "S-9-eq-V10", D(1))],
)
def test_rows_7_8_9_equal_the_1pn_v_totals(
    report: ReportSet, code: str, rule_id: str, bad: Decimal
) -> None:
    assert by_id(validate(edit(report, "1-PN_S", code, "3", bad)), rule_id).severity == "error"


def test_row_400_includes_the_1pn_m_total(report: ReportSet, inputs: PrudentialInputs) -> None:
    without_m = edit(report, "1-PN_O", "400", "4", D(29960000))  # 30,000,000 - 40,000
    finding = by_id(validate(without_m, inputs=inputs), "O-400-includes-M")
    assert "+ 1-PN_M total 240000 - para 14 decrease 40000 = 30200000" in finding.message
    too_big = edit(report, "1-PN_O", "400", "4", D(30240001))
    assert by_id(validate(too_big), "O-400-includes-M").severity == "error"


def test_section_totals_and_row_8(report: ReportSet) -> None:
    broken = edit(report, "1-PN_V", "4", "5", D(1))
    findings = validate(broken)
    assert (
        "section 4 column 5 is 1, rows 4.1-4.15 add up to 50000000"
        in by_id(findings, "V-section-total").message
    )
    assert by_id(findings, "V-8-total").row == "8"


def test_item_product_and_share(report: ReportSet) -> None:
    findings = validate(edit(report, "1-PN_V", "1.4", "4", D(100)))
    assert by_id(findings, "V-col4").message == "row 1.4 column 4 is 100, the accepted share is 90"
    findings = validate(edit(report, "1-PN_V", "5.3", "5", D(2000000)))
    assert "column 3 2000000 x 80 % = 1600000" in by_id(findings, "V-col5").message


def test_flags_follow_the_ratios(report: ReportSet) -> None:
    findings = validate(edit(report, "1-PN_S", "4", "3", False))
    assert by_id(findings, "S-4-flag").message.endswith("expected yes")
    findings = validate(edit(report, "1-PN_S", "10", "3", False))
    assert by_id(findings, "S-10-flag").severity == "error"


def test_m_totals(report: ReportSet) -> None:
    findings = validate(edit(report, "1-PN_M", "total", "5", D(1)))
    assert by_id(findings, "M-total").message == "total column 5 is 1, the groups add up to 240000"
    findings = validate(edit(report, "1-PN_M", "6", "4", D(20)))
    assert by_id(findings, "M-col4").row == "6"


def test_missing_row_and_wrong_form_for_the_line(report: ReportSet) -> None:
    s = report.forms["1-PN_S"]
    cut = report.model_copy(
        update={"forms": {**report.forms, "1-PN_S": s.model_copy(update={"rows": s.rows[:-1]})}}
    )
    assert by_id(validate(cut), "F-rows").message == "1-PN_S row 10 is missing"
    z = Form(form="1-PN_Z", layout_valid_from=report.forms["1-PN_O"].layout_valid_from, rows=())
    extra = report.model_copy(update={"forms": {**report.forms, "1-PN_Z": z}})
    assert by_id(validate(extra), "F-line").form == "1-PN_Z"


def test_rounded_report_set_passes_with_tolerances() -> None:
    """The regulator receives thousands and 2-decimal ratios: checks hold within the rounding."""
    odd = compute(
        make(
            holdings=[
                {"instrument_id": "GS", "instrument_type": "debt_security",
                 "issuer_kind": "kz_government", "carrying_amount": "40000700.55"},
                {"instrument_id": "SH", "instrument_type": "share",
                 "issuer_kind": "kz_legal_entity", "carrying_amount": "2000001.11",
                 "exchange_category": "kase_main_shares_standard"},
            ],
            treaties=[TREATIES[1], {**TREATIES[2], "ceded_liabilities": "1234567.89"}],
            methodology={"actual_margin": "45300123.45", "premium_method": "30000456.78"},
            figures={"repo_liabilities": "800250.25"},
        ),
        computed_at=AT,
    )  # fmt: skip
    ratio_rows = {"1-PN_S": {"1", "6"}, "1-PN_O": {"500"}, "1-PN_V": {"11"}, "1-PN_M": set()}

    def rounded(form: str, row: Row) -> Row:
        cells: dict[str, Any] = {}
        for key, cell in row.cells.items():
            percent = key == "4" and form in ("1-PN_M", "1-PN_V")
            if not isinstance(cell, Decimal):
                cells[key] = cell
            elif row.code in ratio_rows[form] or percent:
                cells[key] = round_percent(cell)
            else:
                cells[key] = to_thousands(cell) * 1000
        return row.model_copy(update={"cells": cells})

    forms = {
        code: form.model_copy(update={"rows": tuple(rounded(code, r) for r in form.rows)})
        for code, form in odd.forms.items()
    }
    received = odd.model_copy(update={"forms": forms, "findings": ()})
    assert [f for f in validate(odd) if f.severity == "error"] == []
    assert any(f.severity == "error" for f in validate(received))  # exact checks see rounding
    loose = validate(received, amount_tolerance=D(1000), ratio_tolerance=D("0.01"))
    assert [f for f in loose if f.severity == "error"] == []


def test_json_round_trip_revalidates_and_keeps_input_findings(report: ReportSet) -> None:
    received = ReportSet.model_validate_json(report.model_dump_json())
    assert received == report
    again = revalidate(received)
    assert again.findings == report.findings
    kept = {f.rule_id for f in again.findings} & INPUT_RULES
    assert {"V-cash-cap", "V-missing-rating", "M-missing-rating"} <= kept


def test_breach_is_a_warning_not_an_error() -> None:
    report = compute(make(methodology={"actual_margin": "1000"}), computed_at=AT)
    breach = by_id(list(report.findings), "S-1-breach")
    assert breach.severity == "warning"
    assert "solvency margin adequacy ratio" in breach.message and "30000000" in breach.message
    assert not report.has_errors


def test_severity_comes_from_the_checks_file(tmp_path: Path, report: ReportSet) -> None:
    overrides = tmp_path / "overrides"
    overrides.mkdir()
    (overrides / "checks.yaml").write_text(
        "kind: prudential_checks\n"
        "description: the regulator treats a breach as an error\n"
        "checks:\n"
        "  - {rule_id: S-1-breach, severity: error, description: breach, source: policy}\n",
        encoding="utf-8",
    )
    dirs = [packaged_rules_dir(), overrides]
    assert reference.checks(dirs)["S-1-breach"].severity == "error"
    low = edit(report, "1-PN_S", "1", "3", D("0.5"))
    low = edit(low, "1-PN_S", "4", "3", False)
    assert by_id(validate(low, dirs=dirs), "S-1-breach").severity == "error"
    assert by_id(validate(low), "S-1-breach").severity == "warning"


def test_life_rows_110_and_120_are_parts_of_100() -> None:
    from test_prudential_compute import BRANCH

    life = make(
        branch={**BRANCH, "line": "life"},
        methodology={
            "actual_margin": "9000000", "premium_method": None, "claims_method": None,
            "life_100": "5000000", "life_110": "3000000", "life_120": "2500000",
            "life_200": "2000000",
        },
    )  # fmt: skip
    report = compute(life, computed_at=AT)
    finding = by_id(list(report.findings), "Z-110-120-parts")
    assert finding.message == "rows 110 3000000 + 120 2500000 = 5500000 exceed row 100 5000000"
    assert report.has_errors
    # row 400 above rows 100 + 200 + the 1-PN_M total (7,000,000) cannot come from para 14
    shifted = edit(report, "1-PN_Z", "400", "4", D(7000001))
    assert by_id(validate(shifted), "Z-400-includes-M").row == "400"


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios(), life=st.booleans(), margin=amounts)
def test_computed_report_sets_are_always_consistent(
    scenario: dict[str, Any], life: bool, margin: str
) -> None:
    """Whatever the inputs, compute never produces a form that its own checks reject."""
    from test_prudential_compute import BRANCH

    changes: dict[str, Any] = dict(scenario)
    if life:
        changes["branch"] = {**BRANCH, "line": "life"}
        changes["methodology"] = {
            "actual_margin": margin, "premium_method": None, "claims_method": None,
            "life_100": "5000000", "life_110": "1000000", "life_120": "3000000",
            "life_200": "2000000",
        }  # fmt: skip
    else:
        changes["methodology"] = {"actual_margin": margin}
    inputs = make(**changes)
    report = compute(inputs, computed_at=AT)
    for findings in (validate(report), validate(report, inputs=inputs)):
        form_errors = [f for f in findings if f.severity == "error"]
        assert form_errors == [], form_errors
