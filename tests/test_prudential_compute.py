"""The five forms computed from the seed's rules; every expected value is worked out by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saqta.core.money import round_percent, to_thousands
from saqta.prudential.compute import cell, compute
from saqta.prudential.inputs import PrudentialInputs, parse_inputs
from saqta.prudential.report import Form, ReportSet

TODAY = dt.date(2024, 5, 1)
AT = dt.datetime(2024, 4, 5, 9, 0, tzinfo=dt.UTC)
D = Decimal

BRANCH = {
    "bin": "123456789012", "name": "Branch of Example Re", "address": "Almaty",
    "phone": "+7 727 000 00 00", "email": "office@example.kz", "signer": "A. Head",
    "executor": "B. Clerk", "line": "general",
}  # fmt: skip


def make(**changes: Any) -> PrudentialInputs:
    data: dict[str, Any] = {
        "branch": BRANCH,
        "period": "2024-03",
        "holdings": [],
        "ratings": [],
        "treaties": [],
        "figures": {
            "reserves_net": "50000000", "repo_liabilities": "0",
            "minimum_reserve_assets": "1000000", "assets_net_of_reinsurance": "100000000",
        },
        "methodology": {
            "actual_margin": "45300000", "premium_method": "30000000",
            "claims_method": "25000000", "decrease_p14": "0",
        },
    }  # fmt: skip
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return parse_inputs(data, today=TODAY)


def rating(subject: str, grade: str, day: str = "2023-06-01", agency: str = "sp",
           scale: str = "international") -> dict[str, str]:  # fmt: skip
    return {"subject": subject, "agency": agency, "scale": scale, "grade": grade, "date": day}


def treaty(rid: str, block: str, ceded: str, ratio: str | None = None) -> dict[str, Any]:
    t: dict[str, Any] = {
        "treaty_id": f"T-{rid}", "reinsurer_id": rid, "reinsurer_name": f"{rid} Re",
        "block": block, "ceded_liabilities": ceded,
    }  # fmt: skip
    if ratio is not None:
        t["solvency_ratio"] = ratio
    return t


def value(report: ReportSet, form: str, code: str, column: str) -> Any:
    return cell(report.forms[form], code, column)  # type: ignore[index]


def reinsurer_row(form: Form, name: str) -> Any:
    return next(r for r in form.rows if r.label == name)


def rule_ids(report: ReportSet) -> set[str]:
    return {f.rule_id for f in report.findings}


# ------------------------------------------------------------------------- a full example

HOLDINGS = [
    {"instrument_id": "CASH", "instrument_type": "cash_in_hand", "carrying_amount": "1500000"},
    {"instrument_id": "CA-HALYK", "instrument_type": "current_account", "issuer_id": "HALYK",
     "issuer_kind": "kz_second_tier_bank", "carrying_amount": "20000000"},
    {"instrument_id": "CA-SMALL", "instrument_type": "current_account", "issuer_id": "SMALL",
     "issuer_kind": "kz_second_tier_bank", "carrying_amount": "3000000"},
    {"instrument_id": "DEP-X", "instrument_type": "deposit", "issuer_id": "NOBANK",
     "issuer_kind": "kz_second_tier_bank", "carrying_amount": "5000000"},
    {"instrument_id": "GS", "instrument_type": "debt_security", "issuer_kind": "kz_government",
     "carrying_amount": "40000000"},
    {"instrument_id": "BOND", "instrument_type": "debt_security", "issuer_id": "KTZ",
     "issuer_kind": "kz_legal_entity", "exchange_category": "kase_main_debt",
     "carrying_amount": "10000000"},
    {"instrument_id": "SHARE", "instrument_type": "share", "issuer_id": "KEGOC",
     "issuer_kind": "kz_legal_entity", "exchange_category": "kase_main_shares_standard",
     "carrying_amount": "2000000"},
    {"instrument_id": "GOLD", "instrument_type": "precious_metal", "carrying_amount": "500000"},
]  # fmt: skip
RATINGS = [
    rating("HALYK", "BB+"),
    rating("SMALL", "kzBB-", scale="national_kz"),
    rating("KTZ", "Ba1", agency="moodys"),
    rating("SWISS", "AA-"),
    rating("EAEU1", "B-"),
]
TREATIES = [
    treaty("SWISS", "non_resident", "100000000"),
    treaty("NORATE", "non_resident", "1000000"),
    treaty("KZRE", "resident_kz", "10000000", ratio="1.75"),
    treaty("EAEU1", "eaeu", "2000000"),
]


@pytest.fixture(scope="module")
def full() -> ReportSet:
    inputs = make(
        holdings=HOLDINGS,
        ratings=RATINGS,
        treaties=TREATIES,
        figures={"repo_liabilities": "800000"},
        methodology={"decrease_p14": "40000"},
    )
    return compute(inputs, "2024-03", computed_at=AT)


def test_full_example_1pn_m(full: ReportSet) -> None:
    m = full.forms["1-PN_M"]
    assert reinsurer_row(m, "SWISS Re").cells["5"] == D(0)  # group 1, 0 %
    unrated = reinsurer_row(m, "NORATE Re")
    assert (unrated.group, unrated.cells["4"], unrated.cells["5"]) == ("6", D(22), D(220000))
    kz = reinsurer_row(m, "KZRE Re")  # ratio exactly 1.75 is not > 1.75: group 10, 0.1 %
    assert (kz.group, kz.cells["2"], kz.cells["5"]) == ("10", D("1.75"), D(10000))
    eaeu = reinsurer_row(m, "EAEU1 Re")  # EAEU rated B-: group 17, 0.5 %
    assert (eaeu.group, eaeu.cells["2"], eaeu.cells["5"]) == ("17", "B-", D(10000))
    assert cell(m, "total", "3") == D(113000000)
    assert cell(m, "total", "5") == D(240000)
    assert cell(m, "6", "5") == D(220000)


def test_full_example_1pn_v(full: ReportSet) -> None:
    v = full.forms["1-PN_V"]
    assert cell(v, "1.1", "3") == D(1500000)
    assert cell(v, "1.1", "5") == D(1000000)  # capped at 1 % of 100,000,000
    assert cell(v, "1.3", "5") == D(20000000)  # BB+ is not lower than B
    assert cell(v, "1.4", "5") == D(2700000)  # kzBB- : 90 %
    assert cell(v, "1", "3") == D(24500000)
    assert cell(v, "1", "5") == D(23700000)
    assert cell(v, "3", "5") == D(0)  # the unrated deposit is not counted
    assert cell(v, "4.7", "5") == D(10000000)  # fits 4.5 (90 %) and 4.7 (100 %)
    assert cell(v, "4.5", "5") == D(0)
    assert cell(v, "5.3", "5") == D(1600000)
    assert cell(v, "8", "5") == D(75800000)
    assert cell(v, "9", "5") == D(800000)
    assert cell(v, "11", "5") == D("1.5")  # (75,800,000 - 800,000) / 50,000,000
    detail = next(r for r in v.rows if r.code == "4.7/BOND")
    assert "fits 4.5, 4.7" in (detail.explanation or "")
    assert {"V-cash-cap", "V-missing-rating", "V-multi-category"} <= rule_ids(full)


def test_full_example_1pn_o_and_s(full: ReportSet) -> None:
    assert "1-PN_Z" not in full.forms
    # max(30,000,000, 25,000,000) + 240,000 - 40,000
    assert value(full, "1-PN_O", "400", "4") == D(30200000)
    assert value(full, "1-PN_O", "500", "4") == D("1.5")  # 45,300,000 / 30,200,000
    s = [value(full, "1-PN_S", str(code), "3") for code in range(1, 11)]
    assert s == [
        D("1.5"), D(45300000), D(30200000), True, D(1000000),
        D("1.5"), D(75000000), D(800000), D(50000000), True,
    ]  # fmt: skip
    assert not full.has_errors


def test_every_cell_row_has_an_explanation(full: ReportSet) -> None:
    for form in full.forms.values():
        for row in form.rows:
            if row.cells:
                assert row.explanation, (form.form, row.code)


# ------------------------------------------------------------------ 1-PN_M groups by hand


@pytest.mark.parametrize(
    ("ratio", "group", "increase"),
    [
        ("1.76", "9", "500"),  # 1,000,000 x 0.05 %
        ("1.75", "10", "1000"),  # not > 1.75
        ("1.5", "11", "2000"),  # not > 1.5
        ("1.25", "12", "5000"),  # not > 1.25
        ("1.1", "13", "38000"),  # not > 1.1, >= 1.0
        ("1.0", "13", "38000"),  # >= 1.0
        ("0.99", "14", "50000"),
    ],
)
def test_resident_by_solvency_ratio_boundaries(ratio: str, group: str, increase: str) -> None:
    report = compute(make(treaties=[treaty("KZ", "resident_kz", "1000000", ratio)]), computed_at=AT)
    row = reinsurer_row(report.forms["1-PN_M"], "KZ Re")
    assert (row.group, row.cells["5"]) == (group, D(increase))


def test_rated_resident_uses_rating_not_ratio() -> None:
    report = compute(
        make(
            treaties=[
                treaty("A", "resident_kz", "1000000", "2.0"),
                treaty("B", "resident_kz", "1000000", "2.0"),
                treaty("C", "resident_kz", "1000000", "2.0"),
            ],
            ratings=[
                rating("A", "kzBB", scale="national_kz"),
                rating("B", "kzB+", scale="national_kz"),
                rating("C", "kzB", scale="national_kz"),
            ],
        ),
        computed_at=AT,
    )
    m = report.forms["1-PN_M"]
    assert [reinsurer_row(m, f"{x} Re").group for x in "ABC"] == ["7", "8", "14"]


def test_resident_without_rating_or_ratio_is_an_error() -> None:
    report = compute(make(treaties=[treaty("KZ", "resident_kz", "1000000")]), computed_at=AT)
    assert reinsurer_row(report.forms["1-PN_M"], "KZ Re").group == "14"
    assert "M-resident-no-ratio" in rule_ids(report)
    assert report.has_errors


def test_eaeu_grades() -> None:
    report = compute(
        make(
            treaties=[treaty(x, "eaeu", "1000000") for x in ("E1", "E2", "E3", "E4")],
            ratings=[rating("E1", "AA"), rating("E2", "B-"), rating("E3", "CCC+")],
        ),
        computed_at=AT,
    )
    m = report.forms["1-PN_M"]
    assert [reinsurer_row(m, f"{x} Re").group for x in ("E1", "E2", "E3", "E4")] == [
        "15", "17", "18", "18"
    ]  # fmt: skip
    assert reinsurer_row(m, "E2 Re").cells["5"] == D(5000)  # 0.5 % of 1,000,000


def test_unrated_non_resident_is_group_6_with_a_warning() -> None:
    report = compute(make(treaties=[treaty("X", "non_resident", "1234567")]), computed_at=AT)
    row = reinsurer_row(report.forms["1-PN_M"], "X Re")
    assert (row.group, row.cells["2"], row.cells["5"]) == ("6", None, D("271604.74"))
    warning = next(f for f in report.findings if f.rule_id == "M-missing-rating")
    assert warning.severity == "warning" and "1,234,567.00" in warning.message


def test_rating_changed_on_last_day_counts() -> None:
    ratings = [rating("R", "A+", "2023-01-10"), rating("R", "BB", "2024-03-31")]
    march = compute(
        make(treaties=[treaty("R", "non_resident", "1000000")], ratings=ratings), computed_at=AT
    )
    row = reinsurer_row(march.forms["1-PN_M"], "R Re")
    assert (row.group, row.cells["5"]) == ("4", D(7500))  # BB: 0.75 %
    ratings_next_day = [rating("R", "A+", "2023-01-10"), rating("R", "BB", "2024-04-01")]
    earlier = compute(
        make(treaties=[treaty("R", "non_resident", "1000000")], ratings=ratings_next_day),
        computed_at=AT,
    )
    assert reinsurer_row(earlier.forms["1-PN_M"], "R Re").group == "2"


def test_treaties_with_one_reinsurer_are_one_row() -> None:
    t1 = treaty("R", "non_resident", "600000")
    t2 = {**treaty("R", "non_resident", "400000"), "treaty_id": "T-R-2"}
    report = compute(make(treaties=[t1, t2], ratings=[rating("R", "BBB")]), computed_at=AT)
    rows = [r for r in report.forms["1-PN_M"].rows if r.label == "R Re"]
    assert len(rows) == 1 and rows[0].cells["3"] == D(1000000) and rows[0].cells["5"] == D(2000)


# ------------------------------------------------------------------------- 1-PN_O, Z, S


def test_ratio_of_exactly_one() -> None:
    report = compute(make(methodology={"actual_margin": "30000000"}), computed_at=AT)
    assert value(report, "1-PN_S", "1", "3") == D(1)
    assert value(report, "1-PN_S", "4", "3") is True
    assert "S-1-breach" not in rule_ids(report)


def test_ratio_below_one_is_a_breach_warning() -> None:
    report = compute(make(methodology={"actual_margin": "29999999.99"}), computed_at=AT)
    assert value(report, "1-PN_S", "4", "3") is False
    breach = next(f for f in report.findings if f.rule_id == "S-1-breach")
    assert breach.severity == "warning"
    assert round_percent(value(report, "1-PN_S", "1", "3")) == D("1.00")  # rendered 1.00, yet "no"


@pytest.mark.parametrize(("premium", "thousands"), [("1000499", 1000), ("1000500", 1001)])
def test_499_and_500_tenge_rounding(premium: str, thousands: int) -> None:
    report = compute(
        make(methodology={"premium_method": premium, "claims_method": "0"}), computed_at=AT
    )
    row400 = value(report, "1-PN_O", "400", "4")
    assert row400 == D(premium)  # unrounded in the report set
    assert to_thousands(row400) == thousands


def test_life_branch_row_400() -> None:
    inputs = make(
        branch={**BRANCH, "line": "life"},
        methodology={
            "actual_margin": "9000000", "premium_method": None, "claims_method": None,
            "life_100": "5000000", "life_110": "1000000", "life_120": "3000000",
            "life_200": "2000000", "decrease_p14": "100000",
        },
        treaties=[treaty("X", "non_resident", "1000000")],
    )  # fmt: skip
    report = compute(inputs, computed_at=AT)
    assert "1-PN_O" not in report.forms
    # 5,000,000 + 2,000,000 + 220,000 (1-PN_M) - 100,000 = 7,120,000
    assert value(report, "1-PN_Z", "400", "4") == D(7120000)
    assert value(report, "1-PN_Z", "500", "4") == D(9000000) / D(7120000)
    assert value(report, "1-PN_S", "3", "3") == D(7120000)
    assert not report.has_errors


def test_zero_minimum_margin_is_an_error() -> None:
    report = compute(
        make(methodology={"premium_method": "0", "claims_method": "0"}), computed_at=AT
    )
    assert value(report, "1-PN_O", "500", "4") is None
    assert value(report, "1-PN_S", "4", "3") is False
    assert "MSM-zero" in rule_ids(report)


def test_period_must_match_inputs() -> None:
    from saqta.core.errors import InputError

    with pytest.raises(InputError, match="the inputs are for 2024-03, not 2024-04"):
        compute(make(), "2024-04")


# -------------------------------------------------------------------------------- 1-PN_V


def test_cash_in_hand_above_one_percent() -> None:
    holdings = [
        {"instrument_id": "C1", "instrument_type": "cash_in_hand", "carrying_amount": "700000"},
        {"instrument_id": "C2", "instrument_type": "cash_in_hand", "carrying_amount": "500000.50"},
    ]
    report = compute(
        make(holdings=holdings, figures={"assets_net_of_reinsurance": "100000000"}),
        computed_at=AT,
    )
    v = report.forms["1-PN_V"]
    assert cell(v, "1.1", "3") == D("1200000.50")
    assert cell(v, "1.1", "5") == D("1000000.00")
    cap = next(f for f in report.findings if f.rule_id == "V-cash-cap")
    assert "200,000.50 not counted" in cap.message
    under = compute(make(holdings=holdings[:1]), computed_at=AT)
    assert cell(under.forms["1-PN_V"], "1.1", "5") == D(700000)
    assert "V-cash-cap" not in rule_ids(under)


def test_override_records_who_and_why() -> None:
    holdings = [h for h in HOLDINGS if h["instrument_id"] == "BOND"]
    override = {"instrument_id": "BOND", "category": "4.5", "chosen_by": "C. Officer",
                "reason": "listing is the stable criterion", "chosen_on": "2024-04-02"}  # fmt: skip
    report = compute(make(holdings=holdings, ratings=RATINGS, overrides=[override]), computed_at=AT)
    v = report.forms["1-PN_V"]
    assert cell(v, "4.5", "5") == D(9000000)  # 90 % of 10,000,000
    assert cell(v, "4.7", "5") == D(0)
    detail = next(r for r in v.rows if r.code == "4.5/BOND")
    assert "chosen by C. Officer on 2024-04-02" in (detail.explanation or "")
    assert "listing is the stable criterion" in (detail.explanation or "")
    assert not report.has_errors


def test_override_to_a_category_not_met_is_an_error() -> None:
    holdings = [h for h in HOLDINGS if h["instrument_id"] == "BOND"]
    override = {"instrument_id": "BOND", "category": "4.1", "chosen_by": "C. Officer",
                "reason": "wrong"}  # fmt: skip
    report = compute(make(holdings=holdings, ratings=RATINGS, overrides=[override]), computed_at=AT)
    assert "V-override-not-matching" in rule_ids(report)
    assert report.has_errors


def test_holding_fitting_no_category() -> None:
    holdings = [{"instrument_id": "CAR", "instrument_type": "other", "carrying_amount": "10"}]
    report = compute(make(holdings=holdings), computed_at=AT)
    assert "V-no-category" in rule_ids(report)
    assert cell(report.forms["1-PN_V"], "8", "5") == D(0)


def test_subsidiary_of_a_well_rated_parent_and_etf_stars() -> None:
    holdings = [
        {"instrument_id": "D1", "instrument_type": "deposit", "issuer_id": "SUB",
         "issuer_kind": "kz_second_tier_bank", "parent_id": "PARENT", "carrying_amount": "100"},
        {"instrument_id": "ETF1", "instrument_type": "etf", "issuer_kind": "foreign_legal_entity",
         "issuer_residency": "non_resident", "carrying_amount": "100"},
        {"instrument_id": "ETF2", "instrument_type": "etf", "carrying_amount": "100"},
    ]  # fmt: skip
    ratings = [
        rating("PARENT", "A-"),
        rating("ETF1", "3", agency="morningstar", scale="stars"),
        rating("ETF2", "2", agency="morningstar", scale="stars"),
    ]
    report = compute(make(holdings=holdings, ratings=ratings), computed_at=AT)
    v = report.forms["1-PN_V"]
    assert cell(v, "3.2", "5") == D(100)
    assert cell(v, "6.3", "5") == D(80)  # ETF1 only: 3 stars x 80 %
    assert "V-missing-rating" not in rule_ids(report) or all(
        "ETF2" in f.message for f in report.findings if f.rule_id == "V-missing-rating"
    )


# ------------------------------------------------------------------------------ properties

SUBJECTS = ["S1", "S2", "S3", "S4"]
GRADES = ["AA", "A-", "BBB", "BB+", "BB-", "B+", "B-", "CCC"]
KINDS = [
    ("current_account", "kz_second_tier_bank", "resident_kz"),
    ("deposit", "kz_second_tier_bank", "resident_kz"),
    ("deposit", "nonresident_bank", "non_resident"),
    ("debt_security", "kz_legal_entity", "resident_kz"),
    ("debt_security", "foreign_state", "non_resident"),
    ("debt_security", "foreign_legal_entity", "non_resident"),
    ("share", "kz_legal_entity", "resident_kz"),
    ("cash_in_hand", "other", "resident_kz"),
]

amounts = st.integers(min_value=0, max_value=10**11).map(lambda tiyn: str(D(tiyn) / 100))


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(min_value=0, max_value=8))
    holdings = []
    for i in range(n):
        kind, issuer_kind, residency = draw(st.sampled_from(KINDS))
        holdings.append(
            {
                "instrument_id": f"H{i}", "instrument_type": kind,
                "issuer_id": draw(st.sampled_from(SUBJECTS)), "issuer_kind": issuer_kind,
                "issuer_residency": residency, "carrying_amount": draw(amounts),
                "exchange_category": draw(st.sampled_from([None, "kase_main_debt",
                                                           "kase_main_shares_standard"])),
            }
        )  # fmt: skip
    ratings = [
        rating(s, draw(st.sampled_from(GRADES)), "2024-01-15")
        for s in SUBJECTS
        if draw(st.booleans())
    ]
    m = draw(st.integers(min_value=0, max_value=5))
    treaties = [
        treaty(
            draw(st.sampled_from(SUBJECTS)) + f"-{j}",
            draw(st.sampled_from(["non_resident", "resident_kz", "eaeu"])),
            draw(amounts),
            draw(st.sampled_from([None, "0.9", "1.0", "1.3", "2"])),
        )
        for j in range(m)
    ]
    for t in treaties:  # reinsurers are rated under the id of the subject they were drawn from
        base = t["reinsurer_id"].split("-")[0]
        ratings += [{**r, "subject": t["reinsurer_id"]} for r in ratings if r["subject"] == base]
    return {"holdings": holdings, "ratings": ratings, "treaties": treaties}


def _strip(report: ReportSet) -> tuple[Any, Any]:
    return report.forms, report.findings


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios(), data=st.data())
def test_forms_do_not_depend_on_the_order_of_holdings_and_treaties(
    scenario: dict[str, Any], data: st.DataObject
) -> None:
    first = compute(make(**scenario), computed_at=AT)
    shuffled = {key: data.draw(st.permutations(items)) for key, items in scenario.items()}
    second = compute(make(**shuffled), computed_at=AT)
    assert _strip(first) == _strip(second)


def _worse(grade: str) -> str:
    return GRADES[min(GRADES.index(grade) + 1 + GRADES.index(grade) % 2, len(GRADES) - 1)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios(), which=st.integers(min_value=0, max_value=100))
def test_a_downgrade_never_raises_a_ratio(scenario: dict[str, Any], which: int) -> None:
    if not scenario["ratings"]:
        return
    before = compute(make(**scenario), computed_at=AT)
    target = scenario["ratings"][which % len(scenario["ratings"])]
    downgrade = {**target, "grade": _worse(target["grade"]), "date": "2024-03-31"}
    after = compute(make(**{**scenario, "ratings": [*scenario["ratings"], downgrade]}),
                    computed_at=AT)  # fmt: skip
    for form, code, column in (("1-PN_S", "1", "3"), ("1-PN_S", "6", "3")):
        old, new = value(before, form, code, column), value(after, form, code, column)
        if isinstance(old, Decimal) and isinstance(new, Decimal):
            assert new <= old
    assert value(after, "1-PN_O", "400", "4") >= value(before, "1-PN_O", "400", "4")
    assert value(after, "1-PN_V", "8", "5") <= value(before, "1-PN_V", "8", "5")


def test_forms_follow_their_layouts(full: ReportSet) -> None:
    """Renderers can rely on it: layout rows in layout order, cells only in layout columns."""
    from saqta.prudential.reference import layout

    for code, form in full.forms.items():
        lay = layout(code, dt.date(2024, 3, 31))
        assert form.layout_valid_from == lay.valid_from
        assert [r.code for r in form.rows if r.group is None] == [r.code for r in lay.rows]
        columns = {c.number for c in lay.columns}
        for row in form.rows:
            assert set(row.cells) <= columns, (code, row.code, set(row.cells))
