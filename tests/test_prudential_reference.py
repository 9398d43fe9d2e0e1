"""Reference data of the prudential forms: layouts, groups, categories, scales, checks; inputs."""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from saqta.core.errors import InputError, RulesError
from saqta.core.rules import check_rules, packaged_rules_dir
from saqta.prudential import reference
from saqta.prudential.inputs import parse_inputs
from saqta.prudential.report import FORM_CODES

JAN_2024 = dt.date(2024, 1, 31)

# Accepted shares as printed in Annex 6 (column 4), row by row.
SEED_SHARES = {
    "1.1": 100, "1.2": 100, "1.3": 100, "1.4": 90, "1.5": 100, "1.6": 100, "2": 100,
    "3.1": 100, "3.2": 100, "3.3": 90, "3.4": 100, "3.5": 100, "3.6": 100,
    "4.1": 100, "4.2": 100, "4.3": 100, "4.4": 100, "4.5": 90, "4.6": 60, "4.7": 100,
    "4.8": 85, "4.9": 100, "4.10": 100, "4.11": 90, "4.12": 80, "4.13": 100, "4.14": 85,
    "4.15": 70, "5.1": 100, "5.2": 100, "5.3": 80, "5.4": 60, "5.5": 100, "5.6": 80,
    "5.7": 60, "6.1": 70, "6.2": 90, "6.3": 80, "6.4": 100, "6.5": 90, "6.6": 80, "6.7": 90,
    "7.1": 100, "7.2": 100,
}  # fmt: skip

# Percentages of the 18 groups of Annex 3.
SEED_PERCENTS = ["0", "0", "0.2", "0.75", "3.8", "22", "0", "0.2", "0.05", "0.1", "0.2", "0.5",
                 "3.8", "5", "0", "0.2", "0.5", "22"]  # fmt: skip


def test_every_form_has_a_layout_in_force_in_2024() -> None:
    layouts = reference.load_layouts()
    assert set(layouts) == set(FORM_CODES)
    for form in FORM_CODES:
        found = reference.layout(form, JAN_2024)
        assert found.form == form
        assert all(row.label_kk and row.label_ru for row in found.rows)
    assert [r.code for r in reference.layout("1-PN_O", JAN_2024).rows] == [
        "100", "200", "300", "400", "500"
    ]  # fmt: skip
    assert [r.code for r in reference.layout("1-PN_Z", JAN_2024).rows] == [
        "100", "110", "120", "200", "300", "400", "500"
    ]  # fmt: skip
    assert [r.code for r in reference.layout("1-PN_S", JAN_2024).rows] == [
        str(i) for i in range(1, 11)
    ]


def test_annex_4_5_earlier_edition_is_not_invented() -> None:
    # The seed has only the edition of 25.12.2023; before it there is no 1-PN_O / 1-PN_Z.
    with pytest.raises(RulesError, match="no edition of form 1-PN_O is in force on 2023-12-31"):
        reference.layout("1-PN_O", dt.date(2023, 12, 31))
    assert reference.layout("1-PN_S", dt.date(2023, 12, 31)).annex == 2
    editions = reference.layout_editions("1-PN_Z")
    assert editions[0].valid_from == dt.date(2024, 1, 1)
    assert editions[0].verified is False  # the in-force date is not in the seed


def test_hla_categories_match_layout_rows_and_seed_shares() -> None:
    categories = reference.hla_categories(JAN_2024).categories
    assert {c.code: int(c.share) for c in categories} == SEED_SHARES
    item_rows = [r.code for r in reference.layout("1-PN_V", JAN_2024).rows if r.kind == "item"]
    assert [c.code for c in categories] == [c for c in item_rows if c not in ("9", "10")]
    cash = next(c for c in categories if c.code == "1.1")
    assert cash.cash_cap


def test_reinsurer_groups_match_seed() -> None:
    groups = reference.reinsurer_groups(JAN_2024).groups
    assert [g.group for g in groups] == [str(i) for i in range(1, 19)]
    assert [g.percent for g in groups] == [Decimal(p) for p in SEED_PERCENTS]
    assert [g.block for g in groups] == ["non_resident"] * 6 + ["resident_kz"] * 8 + ["eaeu"] * 4
    m_rows = reference.layout("1-PN_M", JAN_2024).rows
    assert [r.code for r in m_rows if r.kind == "group"] == [g.group for g in groups]


def test_rating_scales_mark_unverified_correspondences() -> None:
    scales = reference.rating_scales()
    by_code = {a.code: a for a in scales.agencies}
    assert set(by_code) == {"sp", "moodys", "fitch", "ambest", "morningstar"}
    assert all(s.verified for s in by_code["sp"].scales)
    assert not any(s.verified for s in by_code["moodys"].scales)
    assert by_code["moodys"].scales[0].grades["Baa3"] == "BBB-"
    assert by_code["ambest"].scales[1].grades["A-"] == "A-"


def test_checks_have_stable_ids() -> None:
    found = reference.checks()
    assert found["S-3-eq-400"].severity == "error"
    assert found["S-1-breach"].severity == "warning"


def test_broken_layout_file_names_file_and_key(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    shutil.copytree(packaged_rules_dir(), folder)
    path = folder / "prudential" / "layout_1pn_o.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('parent: "100"', 'parent: "999"') + "\n", encoding="utf-8")
    zpath = folder / "prudential" / "layout_1pn_z.yaml"
    ztext = zpath.read_text(encoding="utf-8").replace('parent: "100"', 'parent: "999"', 1)
    zpath.write_text(ztext, encoding="utf-8")
    _, problems = check_rules([folder])
    assert any(
        "layout_1pn_z.yaml: editions[0].rows[1].parent" in str(p)
        and "unknown parent row 999" in str(p)
        for p in problems
    )


# --------------------------------------------------------------------------------- inputs


def base_inputs(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "branch": {
            "bin": "123456789012", "name": "Branch", "address": "Almaty", "phone": "+7 727",
            "email": "a@b.kz", "signer": "Head", "executor": "Clerk", "line": "general",
        },
        "period": "2024-03",
        "holdings": [
            {"instrument_id": "CASH", "instrument_type": "cash_in_hand", "carrying_amount": "100"},
        ],
        "ratings": [],
        "treaties": [],
        "figures": {
            "reserves_net": "1000", "minimum_reserve_assets": "10",
            "assets_net_of_reinsurance": "5000",
        },
        "methodology": {"actual_margin": "50", "premium_method": "10", "claims_method": "20"},
    }  # fmt: skip
    data.update(changes)
    return data


def test_valid_inputs_parse_to_decimals() -> None:
    inputs = parse_inputs(base_inputs(), today=dt.date(2024, 4, 10))
    assert inputs.holdings[0].carrying_amount == Decimal("100")
    assert inputs.month.last_day == dt.date(2024, 3, 31)


def test_negative_carrying_amount_is_refused_with_its_place() -> None:
    holdings = [{"instrument_id": "X", "instrument_type": "deposit", "carrying_amount": "-1"}]
    with pytest.raises(InputError) as err:
        parse_inputs(base_inputs(holdings=holdings), source="h.csv", today=dt.date(2024, 4, 1))
    assert "h.csv: holdings[0].carrying_amount" in str(err.value)
    assert "greater than or equal to 0" in str(err.value)


def test_float_amount_is_refused() -> None:
    holdings = [{"instrument_id": "X", "instrument_type": "deposit", "carrying_amount": 0.1}]
    with pytest.raises(InputError, match=r"holdings\[0\].carrying_amount.*float"):
        parse_inputs(base_inputs(holdings=holdings), today=dt.date(2024, 4, 1))


def test_unknown_agency_and_grade_and_duplicates_and_future_period() -> None:
    holdings = [
        {"instrument_id": "X", "instrument_type": "deposit", "carrying_amount": "1"},
        {"instrument_id": "X", "instrument_type": "deposit", "carrying_amount": "2"},
    ]
    ratings = [
        {"subject": "B1", "agency": "dagong", "scale": "international", "grade": "A",
         "date": "2024-01-01"},
        {"subject": "B1", "agency": "sp", "scale": "international", "grade": "A0",
         "date": "2024-01-01"},
    ]  # fmt: skip
    with pytest.raises(InputError) as err:
        parse_inputs(
            base_inputs(holdings=holdings, ratings=ratings, period="2024-05"),
            source="in.json",
            today=dt.date(2024, 4, 30),
        )
    text = str(err.value)
    assert "in.json: holdings[1].instrument_id: duplicate instrument 'X'" in text
    assert "in.json: ratings[0]: unknown agency 'dagong'" in text
    assert "in.json: ratings[1]: unknown grade 'A0'" in text
    assert "in.json: period: 2024-05 is in the future" in text


def test_cyrillic_grade_letters_are_read_as_latin() -> None:
    ratings = [{"subject": "B1", "agency": "sp", "scale": "international", "grade": "ВВ-",
                "date": "2024-01-01"}]  # fmt: skip
    inputs = parse_inputs(base_inputs(ratings=ratings), today=dt.date(2024, 4, 30))
    assert inputs.ratings[0].grade == "ВВ-"  # kept as given; resolved as BB- by the rating book


def test_life_branch_needs_life_rows() -> None:
    data = base_inputs()
    data["branch"] = {**data["branch"], "line": "life"}  # type: ignore[dict-item]
    with pytest.raises(InputError, match=r"methodology.life_100: required"):
        parse_inputs(data, today=dt.date(2024, 4, 30))


def test_overrides_folder_replaces_a_layout_and_cache_clears(tmp_path: Path) -> None:
    overrides = tmp_path / "overrides"
    overrides.mkdir()
    text = (packaged_rules_dir() / "prudential" / "layout_1pn_o.yaml").read_text(encoding="utf-8")
    earlier = text.replace("valid_from: 2024-01-01", "valid_from: 2021-03-12")
    (overrides / "layout_1pn_o.yaml").write_text(earlier, encoding="utf-8")
    dirs = [packaged_rules_dir(), overrides]
    assert reference.layout("1-PN_O", dt.date(2023, 12, 31), dirs).valid_from == dt.date(
        2021, 3, 12
    )
    reference.clear_cache()
    assert reference.layout("1-PN_O", JAN_2024).valid_from == dt.date(2024, 1, 1)
