"""The synthetic Kazakhstan: deterministic, valid identifiers, amounts by the dated rules."""

import datetime as dt
import json
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saqta.core.errors import InputError, StoreError
from saqta.core.iin import bin_problem, iin_problem
from saqta.core.periods import Month
from saqta.core.rules import load_rules
from saqta.core.version import code_version
from saqta.synth.calibrate import calibrate
from saqta.synth.generate import SynthOptions, generate, lookback_needed, make_plan
from saqta.synth.ids import decimal_array, iin_digits
from saqta.synth.profile import load_profile


@pytest.fixture(scope="module")
def country(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "country"
    generate(SynthOptions(scale=0.001, seed=7, out=out, chunk_size=6000, workers=2))
    return out


def sql(country: Path, query: str):
    con = duckdb.connect()
    for name in ("persons", "payments", "state_categories"):
        con.execute(
            f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{country}/{name}/*.parquet')"
        )
    con.execute(
        f"CREATE VIEW providers AS SELECT * FROM read_parquet('{country}/providers.parquet')"
    )
    con.execute(
        f"CREATE VIEW employers AS SELECT * FROM read_parquet('{country}/employers.parquet')"
    )
    return con.execute(query).fetchall()


def test_same_seed_same_country_whatever_the_workers(country, tmp_path):
    again = tmp_path / "again"
    generate(SynthOptions(scale=0.001, seed=7, out=again, chunk_size=6000, workers=1))
    for part in ("persons", "payments", "state_categories"):
        assert pq.read_table(country / part).equals(pq.read_table(again / part)), part
    assert pq.read_table(country / "employers.parquet").equals(
        pq.read_table(again / "employers.parquet")
    )


def test_another_seed_another_country(country, tmp_path):
    other = tmp_path / "other"
    generate(SynthOptions(scale=0.001, seed=8, out=other, chunk_size=6000))
    assert not pq.read_table(country / "persons").equals(pq.read_table(other / "persons"))


def test_every_iin_is_valid_and_unique(country):
    iins = pq.read_table(country / "persons", columns=["iin"]).column("iin").to_pylist()
    assert len(iins) == round(19_741_283 * 0.001)
    assert len(set(iins)) == len(iins)
    assert [i for i in iins if iin_problem(i) is not None] == []


def test_every_bin_is_valid_and_unique(country):
    bins = sql(country, "SELECT bin FROM providers UNION ALL SELECT bin FROM employers")
    values = [b for (b,) in bins]
    assert len(set(values)) == len(values)
    assert [b for b in values if bin_problem(b) is not None] == []


def test_birth_date_and_sex_agree_with_the_iin(country):
    rows = sql(country, "SELECT iin, birth_date, sex FROM persons LIMIT 2000")
    for iin, birth, sex in rows:
        assert iin[:6] == birth.strftime("%y%m%d")
        assert (int(iin[6]) % 2 == 1) == (sex == "M")


def test_providers_match_table_4(country):
    assert sql(
        country, "SELECT count(*), count(*) FILTER (ownership = 'state') FROM providers"
    ) == [(1438, 685)]
    assert sql(country, "SELECT count(*) FROM providers WHERE region = 'ALA'") == [(190,)]


def test_everyone_is_attached_to_a_primary_care_provider_of_their_region(country):
    """Residents of the regions formed in 2022 attach to providers of the region their figures
    were reported under (table 4 has no Abai, Zhetisu or Ulytau rows)."""
    from saqta.core.reference import regions

    serving = {r.code: r.reporting_region or r.code for r in regions()}
    rows = sql(
        country,
        """SELECT p.region, v.region, v.primary_care, count(*) FROM persons p
           JOIN providers v ON v.provider_id = p.attached_provider_id GROUP BY 1, 2, 3""",
    )
    assert sum(r[3] for r in rows) == round(19_741_283 * 0.001)
    assert all(primary for _, _, primary, _ in rows)
    assert all(serving[person] == provider for person, provider, _, _ in rows)
    assert {"ABA", "ZHT", "ULY"} <= {person for person, _, _, _ in rows}
    assert sql(country, "SELECT count(DISTINCT region) FROM persons") == [(20,)]


def test_fixed_amounts_follow_the_rules_of_their_month(country):
    amounts = dict(
        (kind, set(values))
        for kind, values in sql(
            country,
            """SELECT payment_type, list(DISTINCT amount) FROM payments
               WHERE payment_type IN ('individual_entrepreneur', 'self_payer')
               AND year(period) = 2022 GROUP BY 1""",
        )
    )
    assert amounts["individual_entrepreneur"] == {Decimal("4200.00")}  # 5% × 1.4 × 60,000
    assert amounts["self_payer"] == {Decimal("3000.00")}  # 5% × 60,000
    single = sql(
        country,
        """SELECT month(period) < 4, p.urban, list(DISTINCT amount) FROM payments
           JOIN persons p ON p.iin = person_iin WHERE payment_type = 'single_payment'
           AND year(period) = 2022 GROUP BY 1, 2""",
    )
    expected = {
        (True, True): {Decimal("1225.20")},  # 40% × 1 × 3,063
        (False, True): {Decimal("1272.00")},  # 40% × 1 × 3,180
        (True, False): {Decimal("612.60")},  # 40% × 0.5 × 3,063
        (False, False): {Decimal("636.00")},
    }
    for before_april, urban, values in single:
        assert set(values) == expected[(before_april, urban)]


def test_employer_deductions_are_3_percent_of_the_capped_income(country):
    rows = sql(
        country,
        """SELECT p.monthly_income, d.amount, c.amount FROM payments d
           JOIN persons p ON p.iin = d.person_iin
           JOIN payments c ON c.person_iin = d.person_iin AND c.period = d.period
                AND c.payment_type = 'employee_contribution'
           WHERE d.payment_type = 'employer_deduction' AND year(d.period) = 2022
           LIMIT 3000""",
    )
    assert rows
    for income, deduction, contribution in rows:
        assert deduction == (min(income, Decimal(600000)) * Decimal("0.03")).quantize(
            Decimal("0.01"), "ROUND_HALF_UP"
        )
        assert contribution == (min(income, Decimal(1200000)) * Decimal("0.02")).quantize(
            Decimal("0.01"), "ROUND_HALF_UP"
        )


def test_no_payment_for_a_month_after_death(country):
    assert sql(
        country,
        """SELECT count(*) FROM payments JOIN persons p ON p.iin = person_iin
           WHERE p.deceased AND period > date_trunc('month', p.death_date)""",
    ) == [(0,)]
    assert sql(country, "SELECT count(*) > 0 FROM persons WHERE deceased") == [(True,)]


def test_the_dead_neither_pay_for_themselves_nor_stay_state_paid(country):
    assert sql(
        country,
        """SELECT count(*) FROM payments JOIN persons p ON p.iin = person_iin
           WHERE p.deceased AND payer_id = person_iin AND payment_date > p.death_date""",
    ) == [(0,)]
    assert sql(
        country,
        """SELECT count(*) FROM state_categories s JOIN persons p USING (iin)
           WHERE p.deceased AND (s.valid_to IS NULL OR s.valid_to > p.death_date)""",
    ) == [(0,)]


def test_state_pays_only_within_the_category_validity(country):
    assert sql(
        country,
        """SELECT count(*) FROM payments p JOIN state_categories s ON s.iin = p.person_iin
           WHERE p.payment_type = 'state_contribution'
           AND (last_day(p.period) < s.valid_from
                OR p.period > coalesce(s.valid_to, DATE '9999-12-31'))""",
    ) == [(0,)]
    children_turning_18 = sql(
        country,
        "SELECT count(*) FROM state_categories WHERE category = 'child' AND year(valid_to) = 2022",
    )
    assert children_turning_18[0][0] > 0


def test_payment_references_are_unique(country):
    assert sql(country, "SELECT count(*) = count(DISTINCT reference) FROM payments") == [(True,)]


def test_self_payers_prepay_twelve_months_only_after_5_september_2022(country):
    rows = sql(
        country,
        """SELECT min(payment_date), count(DISTINCT period) FROM payments
           WHERE payment_type = 'self_payer' AND period >= DATE '2023-01-01'
           GROUP BY person_iin""",
    )
    assert rows, "some self-payers prepay"
    assert all(first >= dt.date(2022, 9, 5) for first, _ in rows)


def test_calibration_passes_at_scale_0_01(tmp_path):
    out = tmp_path / "c"
    generate(SynthOptions(scale=0.01, seed=1, out=out))
    failed = [c for c in calibrate(out) if not c.passed]
    assert failed == []


def test_scale_out_of_range_is_refused(tmp_path):
    with pytest.raises(InputError, match="scale 2"):
        SynthOptions(scale=2, seed=1, out=tmp_path)


def test_an_unwritable_output_leaves_nothing_behind(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot write"):
        generate(SynthOptions(scale=0.001, seed=1, out=blocker / "country"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_a_folder_that_is_not_a_synthetic_country_is_not_replaced(tmp_path):
    (tmp_path / "precious.txt").write_text("keep")
    with pytest.raises(StoreError, match="refusing to replace"):
        generate(SynthOptions(scale=0.001, seed=1, out=tmp_path))
    assert (tmp_path / "precious.txt").read_text() == "keep"


@settings(max_examples=50)
@given(
    st.lists(st.integers(0, 4999), min_size=1, max_size=300, unique=True),
    st.dates(dt.date(1900, 1, 1), dt.date(2099, 12, 31)),
    st.booleans(),
)
def test_vectorised_iins_are_valid_and_distinct(slots, birth, male):
    n = len(slots)
    digits = iin_digits(
        np.full(n, birth.year),
        np.full(n, birth.month),
        np.full(n, birth.day),
        np.full(n, male),
        np.array(slots),
    )
    values = ["".join(map(str, row)) for row in digits]
    assert len(set(values)) == n
    assert all(iin_problem(v, today=dt.date(2099, 12, 31)) is None for v in values)


@given(st.lists(st.integers(-(10**15), 10**15), min_size=1, max_size=50))
def test_decimal_arrays_are_exact(tiyn):
    array = decimal_array(np.array(tiyn, dtype=np.int64))
    assert array.to_pylist() == [Decimal(t).scaleb(-2) for t in tiyn]


# --------------------------------------------------------------------------------------------
# The months before the reported year


def test_the_manifest_records_the_code_version(country):
    manifest = json.loads((country / "manifest.json").read_text())
    assert manifest["code_version"] == code_version()
    assert manifest["code_version"] != "0.1.0"


def test_the_profile_covers_the_look_back_of_the_status_rules():
    profile = load_profile()
    needed = lookback_needed(load_rules(), Month(profile.year, 1))
    assert needed == 11  # window 12 less the month itself; survival 3
    assert profile.lookback_months >= needed


def test_a_profile_short_of_the_look_back_is_refused(tmp_path):
    profile = load_profile().model_copy(update={"lookback_months": 3})
    with pytest.raises(InputError, match="lookback_months"):
        make_plan(SynthOptions(scale=0.001, seed=1, out=tmp_path), load_rules(), profile)


def test_look_back_months_are_written_apart_and_end_before_the_year(country):
    manifest = json.loads((country / "manifest.json").read_text())
    assert manifest["lookback_months"] == 11 and manifest["lookback_from"] == "2021-02"
    lookback = f"read_parquet('{country}/payments/lookback-*.parquet')"
    year = f"read_parquet('{country}/payments/part-*.parquet')"
    assert sql(country, f"SELECT min(period), max(period), count(*) FROM {lookback}") == [
        (dt.date(2021, 2, 1), dt.date(2021, 12, 1), manifest["counts"]["payments.lookback"])
    ]
    assert sql(country, f"SELECT min(period) FROM {year}") == [(dt.date(2022, 1, 1),)]
    assert sql(
        country, f"SELECT count(*) FROM {lookback} WHERE payment_type = 'state_contribution'"
    ) == [(0,)]
    assert sql(country, "SELECT count(*) FROM payments") == [(manifest["counts"]["payments"],)]


def test_look_back_months_repeat_the_same_calendar_months_of_the_year(country):
    """A living employee's paid months of 2021 are those of 2022 (February to December)."""
    rows = sql(
        country,
        """SELECT person_iin, year(period), list(DISTINCT month(period) ORDER BY month(period))
           FROM payments JOIN persons p ON p.iin = person_iin
           WHERE payment_type = 'employer_deduction' AND NOT p.deceased
           GROUP BY 1, 2""",
    )
    by_person: dict[str, dict[int, list[int]]] = {}
    for iin, year, months in rows:
        by_person.setdefault(iin, {})[year] = months
    assert len(by_person) > 1000
    for years in by_person.values():
        assert years.get(2021, []) == [m for m in years.get(2022, []) if m >= 2]


def test_look_back_amounts_follow_the_rules_of_their_month(country):
    amounts = dict(
        (kind, set(values))
        for kind, values in sql(
            country,
            """SELECT payment_type, list(DISTINCT amount) FROM payments
               WHERE payment_type IN ('individual_entrepreneur', 'self_payer')
               AND year(period) = 2021 GROUP BY 1""",
        )
    )
    assert amounts["individual_entrepreneur"] == {Decimal("2975.00")}  # 5% × 1.4 × 42,500
    assert amounts["self_payer"] == {Decimal("2125.00")}  # 5% × 42,500
    rows = sql(
        country,
        """SELECT p.monthly_income, d.amount FROM payments d JOIN persons p ON p.iin = d.person_iin
           WHERE d.payment_type = 'employer_deduction' AND year(d.period) = 2021 LIMIT 3000""",
    )
    assert rows
    for income, deduction in rows:  # 2% of the income capped at 10 × 42,500
        assert deduction == (min(income, Decimal(425000)) * Decimal("0.02")).quantize(
            Decimal("0.01"), "ROUND_HALF_UP"
        )
    late = sql(
        country,
        """SELECT min(payment_date) FROM payments WHERE year(period) = 2021
           AND month(period) = 12 AND payment_type = 'employer_deduction'""",
    )
    assert late[0][0] >= dt.date(2022, 1, 5)  # paid in the following month, by the 25th or later


def test_the_look_back_leaves_the_calibration_alone(country, tmp_path):
    bare = tmp_path / "bare"
    shutil.copytree(country, bare)
    for path in (bare / "payments").glob("lookback-*.parquet"):
        path.unlink()
    assert calibrate(country) == calibrate(bare)


def test_january_status_has_its_look_back(country, tmp_path):
    """The status engine on the country: January is entitled about as much as December (without
    the months before the year, January lacked a third of those entitled by contributions)."""
    from saqta.mshi.contributions import import_synth
    from saqta.mshi.status import compute_status
    from saqta.store.db import make_engine, upgrade
    from saqta.store.lake import FactsLake

    engine = make_engine(f"sqlite:///{tmp_path / 'saqta.db'}")
    upgrade(engine)
    lake = FactsLake(tmp_path / "lake")
    import_synth(engine, lake, country)
    run = compute_status(lake, [Month(2022, 1), Month(2022, 12)], engine=engine)
    january, december = run.entitled["2022-01"], run.entitled["2022-12"]
    assert abs(january - december) <= december * 3 // 100, (january, december)
