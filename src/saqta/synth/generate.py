"""The synthetic Kazakhstan: persons, state categories, employers, providers and a year of payments.

Deterministic for a seed: the country is cut into fixed chunks of persons and each chunk draws from
its own generator seeded by ``(seed, chunk)``, so the result does not depend on how many worker
processes ran. Each chunk is written to Parquet as soon as it is drawn: the country is never held in
memory. Everything is written into a staging folder beside the output and moved into place only when
complete, so a failed run leaves no half-written output.

Amounts follow the dated rules (:mod:`saqta.core.rules`): rates, minimum wage and МРП in force for
each month, rounded once to tiyn, carried as exact integers of tiyn and written as decimal128.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import multiprocessing as mp
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from saqta.core.errors import InputError, RulesError, StoreError
from saqta.core.periods import Month
from saqta.core.reference import regions
from saqta.core.rules import RuleSet, load_rules
from saqta.core.version import code_version
from saqta.store.sql import sql_literal
from saqta.synth.ids import (
    bin_digits,
    decimal_array,
    digits_to_strings,
    iin_digits,
    number_digits,
)
from saqta.synth.profile import Profile, load_profile, profile_path, published_dir

FULL_POPULATION = 19_741_283
DEFAULT_CHUNK = 500_000
MAX_CHUNKS = 100
"""IIN serial slots are shared out among chunks: 5,000 slots per birth day and sex, so a chunk
may hold up to 5,000 / chunks persons born on the same day (about 16 expected at full scale with
40 chunks)."""
CATEGORIES = (
    "state_paid",
    "employee",
    "individual_entrepreneur",
    "civil_law_contract",
    "single_payment",
    "self_payer",
    "none",
)
PAYMENTS_SCHEMA = pa.schema(
    [
        ("reference", pa.string()),
        ("payer_id", pa.string()),
        ("person_iin", pa.string()),
        ("payment_type", pa.string()),
        ("period", pa.date32()),
        ("amount", pa.decimal128(18, 2)),
        ("payment_date", pa.date32()),
    ]
)
EPOCH = np.datetime64("1970-01-01", "D")


@dataclass(frozen=True)
class SynthOptions:
    scale: float
    seed: int
    out: Path
    chunk_size: int = DEFAULT_CHUNK
    """Persons per chunk. Chunks are seeded by their number, so the country depends on the seed,
    the scale and the chunk size: the command line keeps the chunk size fixed."""
    workers: int = 2

    def __post_init__(self) -> None:
        if not 0.001 <= self.scale <= 1.0:
            raise InputError("must be between 0.001 and 1.0", where=f"scale {self.scale}")
        if self.seed < 0:
            raise InputError("must be 0 or more", where=f"seed {self.seed}")
        if self.workers < 1:
            raise InputError("must be 1 or more", where=f"workers {self.workers}")
        if self.chunk_size < 1000 or -(-self.population // self.chunk_size) > MAX_CHUNKS:
            raise InputError(
                f"must be at least 1,000 and give at most {MAX_CHUNKS} chunks "
                f"(at least {-(-self.population // MAX_CHUNKS):,} persons at this scale)",
                where=f"chunk size {self.chunk_size}",
            )

    @property
    def population(self) -> int:
        return round(FULL_POPULATION * self.scale)


@dataclass
class SynthResult:
    out: Path
    counts: dict[str, int]
    seconds: float
    manifest: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Rules, resolved per month into exact integer arithmetic


def _ratio(value: Decimal) -> tuple[int, int]:
    num, den = value.as_integer_ratio()
    return num, den


def _apply(base_tiyn: np.ndarray, ratio: tuple[int, int] | np.ndarray) -> np.ndarray:
    """``base × num/den`` rounded half up to whole tiyn, in exact integer arithmetic."""
    if isinstance(ratio, tuple):
        num, den = ratio
    else:
        num, den = ratio[0], ratio[1]
    return (2 * base_tiyn * num + den) // (2 * den)


def _tiyn(value: Decimal) -> int:
    return int((value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class MonthlyRules:
    """Contribution rules resolved month by month for ``months`` (index 0 = the first of them)."""

    months: tuple[Month, ...]
    employer_rate: np.ndarray  # (2, n): numerator, denominator
    employee_rate: np.ndarray
    civil_rate: np.ndarray
    employer_cap_tiyn: np.ndarray
    employee_cap_tiyn: np.ndarray
    min_wage_tiyn: np.ndarray
    ie_amount_tiyn: np.ndarray
    self_amount_tiyn: np.ndarray
    single_urban_tiyn: np.ndarray
    single_rural_tiyn: np.ndarray
    due_day: int
    prepayment_from: dt.date | None
    """The day a 12-month prepayment starts giving status, when that rule is in force by the
    end of the last month; ``None`` otherwise."""
    prepayment_months: int

    @classmethod
    def resolve(cls, rules: RuleSet, months: Sequence[Month]) -> MonthlyRules:
        c = "mshi.contributions."
        days = [m.first_day for m in months]

        def dec(name: str, day: dt.date) -> Decimal:
            return rules.decimal(name, day)

        def ratios(name: str) -> np.ndarray:
            return np.array([_ratio(dec(name, d)) for d in days], dtype=np.int64).T.reshape(
                2, len(days)
            )

        def amounts(fn: Callable[[dt.date], Decimal]) -> np.ndarray:
            return np.array([_tiyn(fn(d)) for d in days], dtype=np.int64)

        mw = "economy.minimum_wage"
        mrp = "economy.mrp"
        prepayment_from: dt.date | None = None
        prepayment_months = 0
        try:
            prepay = rules.lookup(c + "self_payer_prepayment_months", months[-1].last_day)
        except RulesError:
            prepay = None
        if prepay is not None and prepay.value is not None:
            prepayment_from, prepayment_months = prepay.from_, int(prepay.value)
        return cls(
            months=tuple(months),
            employer_rate=ratios(c + "employer_deduction_rate"),
            employee_rate=ratios(c + "employee_contribution_rate"),
            civil_rate=ratios(c + "civil_law_contract_rate"),
            employer_cap_tiyn=amounts(
                lambda d: dec(mw, d) * dec(c + "employer_base_cap_mw_multiple", d)
            ),
            employee_cap_tiyn=amounts(
                lambda d: dec(mw, d) * dec(c + "employee_base_cap_mw_multiple", d)
            ),
            min_wage_tiyn=amounts(lambda d: dec(mw, d)),
            ie_amount_tiyn=amounts(
                lambda d: (
                    dec(mw, d)
                    * dec(c + "individual_entrepreneur_base_mw_multiple", d)
                    * dec(c + "individual_entrepreneur_rate", d)
                )
            ),
            self_amount_tiyn=amounts(lambda d: dec(mw, d) * dec(c + "self_payer_rate", d)),
            single_urban_tiyn=amounts(
                lambda d: (
                    dec(mrp, d)
                    * dec(c + "single_payment_amount_urban_mrp", d)
                    * dec(c + "single_payment_mshi_share", d)
                )
            ),
            single_rural_tiyn=amounts(
                lambda d: (
                    dec(mrp, d)
                    * dec(c + "single_payment_amount_rural_mrp", d)
                    * dec(c + "single_payment_mshi_share", d)
                )
            ),
            due_day=int(rules.value(c + "payment_due_day", days[0])),
            prepayment_from=prepayment_from,
            prepayment_months=prepayment_months,
        )


STATUS_LOOKBACK_RULE = "mshi.status.contribution_lookback_months"
STATUS_SURVIVAL_RULE = "mshi.status.contribution_survival_months"


def lookback_needed(rules: RuleSet, month: Month) -> int:
    """Months before ``month`` whose payments the status of ``month`` can depend on: the
    look-back window less the month itself, or the survival after the last paid month, whichever
    is longer (read from the status rules in force on the first day of ``month``)."""
    day = month.first_day
    window = int(str(rules.value(STATUS_LOOKBACK_RULE, day)))
    survival = int(str(rules.value(STATUS_SURVIVAL_RULE, day)))
    return max(window - 1, survival)


def year_months(year: int) -> list[Month]:
    return [Month(year, m) for m in range(1, 13)]


def lookback_months(year: int, count: int) -> list[Month]:
    """The ``count`` months before January of ``year``, oldest first."""
    first = Month(year, 1).index
    return [Month.from_index(first - count + i) for i in range(count)]


# --------------------------------------------------------------------------------------------
# The plan shared by every chunk


@dataclass
class Plan:
    """Everything a chunk worker needs; built once, inherited by forked workers."""

    options: SynthOptions
    profile: Profile
    monthly: MonthlyRules
    lookback: MonthlyRules | None  # the months before the reported year, when any
    region_codes: list[str]
    region_weights: np.ndarray
    rural_share: np.ndarray
    wage_index: np.ndarray
    reporting_region: np.ndarray  # index of the region whose providers serve it
    phc_by_region: list[np.ndarray]  # provider ids taking attachment, per region index
    employer_bins: pa.StringArray
    employer_start: np.ndarray  # first employer index per region
    employer_cumw: list[np.ndarray]  # cumulative weights within each region
    state_payer_bin: str
    band_probs: np.ndarray
    category_probs: np.ndarray  # working-age persons: state_paid, payers..., none
    sub_names: list[str]
    salary_mu: float
    n_chunks: int
    chunk_bounds: list[tuple[int, int]]
    staging: Path = Path()


def _expected_shares(profile: Profile) -> tuple[float, float]:
    """Expected shares of children and of pensioners (by year end) under the age pyramid."""
    shares = np.array([float(x) for x in profile.age_pyramid])
    shares /= shares.sum()
    grid = (np.arange(100_000) + 0.5) / 100_000 * 5.0
    child = pension = 0.0
    male = float(profile.male_share)
    for band, share in enumerate(shares):
        ages = band * 5 + grid
        child += share * float(np.mean(ages < profile.child_until_age))
        pm = float(np.mean(ages + 1 >= float(profile.pension_age.male)))
        pf = float(np.mean(ages + 1 >= float(profile.pension_age.female)))
        pension += share * (male * pm + (1 - male) * pf) * float(ages[0] >= profile.child_until_age)
    return child, pension


def _category_probs(profile: Profile) -> np.ndarray:
    child, pension = _expected_shares(profile)
    working = 1.0 - child - pension
    n = profile.population
    c = profile.categories
    state_w = c.state_paid - n * (child + pension)
    targets = np.array(
        [
            state_w,
            c.employee,
            c.individual_entrepreneur,
            c.civil_law_contract,
            c.single_payment,
            c.self_payer,
        ],
        dtype=float,
    ) / (n * working)
    if state_w < 0 or targets.sum() > 1:
        raise InputError("category counts do not fit the age pyramid", where="synth profile")
    return np.append(targets, 1.0 - targets.sum())


def _salary_mu(
    profile: Profile, monthly: MonthlyRules, wage_index: np.ndarray, w: np.ndarray
) -> float:
    """The log-wage location that makes the mean capped base of deductions the published one.

    Solved by bisection on a fixed sample, so it is exact for a given profile and rules.
    """
    rng = np.random.default_rng(20220101)
    z = rng.standard_normal(400_000)
    idx = wage_index[rng.choice(len(w), size=z.size, p=w)]
    cap = float(monthly.employer_cap_tiyn.mean()) / 100
    floor = float(monthly.min_wage_tiyn.mean()) / 100
    sigma = float(profile.salary_sigma)
    target = float(profile.average_base)
    lo, hi = 9.0, 14.0
    for _ in range(60):
        mid = (lo + hi) / 2
        wage = np.clip(np.exp(mid + sigma * z) * idx, floor, cap)
        lo, hi = (mid, hi) if wage.mean() < target else (lo, mid)
    return (lo + hi) / 2


def _bins(rng: np.random.Generator, n: int) -> pa.StringArray:
    """``n`` distinct valid BINs, registered 1995-2021."""
    yymm = rng.integers(1995 * 12, 2022 * 12, size=n)
    order = np.argsort(yymm, kind="stable")
    sorted_keys = yymm[order]
    first = np.searchsorted(sorted_keys, sorted_keys, side="left")
    serial = np.empty(n, dtype=np.int64)
    serial[order] = np.arange(n) - first
    digits = bin_digits(yymm // 12, yymm % 12 + 1, serial)
    return digits_to_strings(digits)


def _providers(profile: Profile, rng: np.random.Generator, bins: pa.StringArray) -> pa.Table:
    """1,438 providers by region and ownership, exactly as the Fund's table 4 for 2022."""
    table = pacsv.read_csv(published_dir() / "providers_by_region_2022.csv").to_pylist()
    by_name = {r.name_en: r.code for r in regions()}
    rows: list[dict[str, Any]] = []
    for row in table:
        if row["region"] == "TOTAL":
            continue
        code = by_name[row["region"]]
        for ownership in ("state", "private"):
            count = int(row[f"{ownership}_2022"])
            share = float(profile.primary_care_share[ownership])
            phc = rng.random(count) < share
            if ownership == "state" and count and not phc.any():
                phc[0] = True
            for i in range(count):
                rows.append(
                    {
                        "region": code,
                        "ownership": ownership,
                        "primary_care": bool(phc[i]),
                        "number": i + 1,
                    }
                )
    ids = np.arange(1, len(rows) + 1, dtype=np.int32)
    names = [
        f"{'Polyclinic' if r['primary_care'] else 'Medical centre'} No. {r['number']} "
        f"({r['region']}, {r['ownership']})"
        for r in rows
    ]
    included = np.datetime64("2017-07-01") + rng.integers(0, 365 * 4, size=len(rows))
    return pa.table(
        {
            "provider_id": pa.array(ids),
            "bin": bins,
            "name": pa.array(names),
            "region": pa.array([r["region"] for r in rows]),
            "ownership": pa.array([r["ownership"] for r in rows]),
            "primary_care": pa.array([r["primary_care"] for r in rows]),
            "included_on": pa.array(included.astype("datetime64[D]")),
        }
    )


def make_plan(
    options: SynthOptions, rules: RuleSet, profile: Profile
) -> tuple[Plan, pa.Table, pa.Table]:
    rng = np.random.default_rng([options.seed, 0xB1])
    monthly = MonthlyRules.resolve(rules, year_months(profile.year))
    needed = lookback_needed(rules, Month(profile.year, 1))
    if profile.lookback_months < needed:
        raise InputError(
            f"gives {profile.lookback_months} months before the reported year, but the status of "
            f"January {profile.year} reads {needed} (rules {STATUS_LOOKBACK_RULE} and "
            f"{STATUS_SURVIVAL_RULE})",
            where="synth profile, lookback_months",
        )
    lookback = (
        MonthlyRules.resolve(rules, lookback_months(profile.year, profile.lookback_months))
        if profile.lookback_months
        else None
    )
    region_list = list(regions())
    codes = [r.code for r in region_list]
    weights = np.array([float(profile.population_by_region[c]) for c in codes])
    weights /= weights.sum()
    rural = np.array([float(profile.rural_share_by_region[c]) for c in codes])
    wage_index = np.array([float(profile.wage_index_by_region[c]) for c in codes])
    reporting = np.array([codes.index(r.reporting_region or r.code) for r in region_list])

    expected_workers = (profile.categories.employee + profile.working_state_paid) * options.scale
    n_employers = max(
        len(codes), int(np.ceil(expected_workers / float(profile.mean_employer_size)))
    )
    provider_count = 1438
    all_bins = _bins(rng, 1 + provider_count + n_employers)
    state_payer_bin = all_bins[0].as_py()
    providers = _providers(profile, rng, all_bins.slice(1, provider_count))
    employer_bins = all_bins.slice(1 + provider_count)

    employer_region = np.sort(rng.choice(len(codes), size=n_employers, p=weights))
    employer_region[: len(codes)] = np.arange(len(codes))  # every region has an employer
    employer_region.sort()
    size_weight = rng.lognormal(0.0, 1.4, size=n_employers)
    start = np.searchsorted(employer_region, np.arange(len(codes) + 1))
    cumw = []
    for r in range(len(codes)):
        seg = np.cumsum(size_weight[start[r] : start[r + 1]])
        cumw.append(seg / seg[-1])
    employers = pa.table(
        {
            "bin": employer_bins,
            "region": pa.array([codes[i] for i in employer_region]),
        }
    )

    prov_region = providers.column("region").to_pylist()
    prov_phc = providers.column("primary_care").to_numpy(zero_copy_only=False)
    prov_ids = providers.column("provider_id").to_numpy()
    phc_by_region = []
    for r in range(len(codes)):
        serving = codes[reporting[r]]
        mask = np.array([reg == serving for reg in prov_region]) & prov_phc
        phc_by_region.append(prov_ids[mask])

    bands = np.array([float(x) for x in profile.age_pyramid])
    n = options.population
    chunk = max(1, options.chunk_size)
    bounds = [(s, min(n, s + chunk)) for s in range(0, n, chunk)]
    plan = Plan(
        options=options,
        profile=profile,
        monthly=monthly,
        lookback=lookback,
        region_codes=codes,
        region_weights=weights,
        rural_share=rural,
        wage_index=wage_index,
        reporting_region=reporting,
        phc_by_region=phc_by_region,
        employer_bins=employer_bins,
        employer_start=start,
        employer_cumw=cumw,
        state_payer_bin=state_payer_bin,
        band_probs=bands / bands.sum(),
        category_probs=_category_probs(profile),
        sub_names=list(profile.state_subcategories),
        salary_mu=_salary_mu(profile, monthly, wage_index, weights),
        n_chunks=len(bounds),
        chunk_bounds=bounds,
    )
    return plan, providers, employers


# --------------------------------------------------------------------------------------------
# One chunk of persons and their payments

_PLAN: Plan | None = None


def _months_mask(rng: np.random.Generator, k: np.ndarray, contiguous_share: float) -> np.ndarray:
    """(n, 12) mask with exactly ``k[i]`` paid months per row: one spell, or scattered months."""
    n = k.shape[0]
    months = np.arange(12)
    start = (rng.random(n) * (13 - k)).astype(np.int64)
    spell = (months >= start[:, None]) & (months < (start + k)[:, None])
    ranks = np.argsort(np.argsort(rng.random((n, 12)), axis=1), axis=1)
    scattered = ranks < k[:, None]
    contiguous = np.less(rng.random(n), contiguous_share)
    return np.asarray(np.where(contiguous[:, None], spell, scattered))


def _draw_months(rng: np.random.Generator, n: int, dist: list[Decimal], plan: Plan) -> np.ndarray:
    p = np.array([float(x) for x in dist])
    k = rng.choice(np.arange(1, 13), size=n, p=p / p.sum())
    return _months_mask(rng, k, float(plan.profile.contiguous_spell_share))


def _days(dates: np.ndarray) -> np.ndarray:
    return (dates - EPOCH).astype(np.int64)


def _month_starts(year: int) -> np.ndarray:
    return np.array(
        [np.datetime64(f"{year}-{m:02d}-01") for m in range(1, 13)], dtype="datetime64[D]"
    )


def _pay_dates(
    rng: np.random.Generator, month_idx: np.ndarray, plan: Plan, monthly: MonthlyRules
) -> np.ndarray:
    """Payment dates for months paid (indices into ``monthly.months``): most by the due day of
    the following month, some late."""
    next_month = np.array(
        [np.datetime64(str(m.next().first_day)) for m in monthly.months], dtype="datetime64[D]"
    )
    due = next_month[month_idx] + (monthly.due_day - 1)
    n = month_idx.shape[0]
    on_time = rng.random(n) < float(plan.profile.on_time_share)
    early = rng.integers(0, 21, size=n)
    late = 1 + rng.geometric(1.0 / float(plan.profile.late_days_mean), size=n)
    return np.asarray(np.where(on_time, due - early, due + np.minimum(late, 400)))


@dataclass
class _People:
    """One chunk of persons: who they are, as parallel arrays."""

    n: int
    band: np.ndarray
    age_years: np.ndarray
    birth: np.ndarray
    male: np.ndarray
    region: np.ndarray
    rural: np.ndarray
    iin: pa.StringArray


@dataclass
class _Status:
    """Table 2 category, state category and its validity, death."""

    category: np.ndarray  # index into CATEGORIES
    state_category: np.ndarray  # "" when not state-paid
    state_person: np.ndarray
    pensioner: np.ndarray
    working_age_state: np.ndarray
    valid_from: np.ndarray
    valid_to: np.ndarray  # NaT = open
    dies: np.ndarray
    death_date: np.ndarray
    death_month: np.ndarray  # 0-11, 99 = alive all year


@dataclass
class _Work:
    employer: np.ndarray  # employer index, -1 = none
    income_tiyn: np.ndarray
    provider: np.ndarray


@dataclass
class _Paid:
    """The paid months drawn for the reported year, before deaths and prepayments cut them:
    the look-back months repeat them."""

    employee: np.ndarray  # (n, 12)
    other: np.ndarray  # (n, 12)


@dataclass
class _Piece:
    kind: str
    person: np.ndarray
    month: np.ndarray  # 0 = the first month of its file; may pass December for prepayments
    amount: np.ndarray  # tiyn
    date: np.ndarray
    payer: pa.Array


def _draw_people(plan: Plan, index: int, n: int, rng: np.random.Generator) -> _People:
    """Age from the pyramid, sex, region, residence, and a unique valid IIN.

    IIN serial slots are interleaved across chunks (slot = chunk + chunks × rank within the birth
    day and sex), so chunks drawn apart never collide.
    """
    profile = plan.profile
    ref = np.datetime64(profile.reference_date.isoformat(), "D")
    band = rng.choice(len(plan.band_probs), size=n, p=plan.band_probs)
    age_days = ((band * 5 + rng.random(n) * 5) * 365.2425).astype(np.int64)
    birth = ref - age_days.astype("timedelta64[D]") - 1
    male = rng.random(n) < float(profile.male_share)
    region = rng.choice(len(plan.region_codes), size=n, p=plan.region_weights)
    rural = rng.random(n) < plan.rural_share[region]
    b_year = birth.astype("datetime64[Y]").astype(np.int64) + 1970
    b_month = birth.astype("datetime64[M]").astype(np.int64) % 12 + 1
    b_day = (birth - birth.astype("datetime64[M]")).astype(np.int64) + 1
    key = _days(birth) * 2 + male
    order = np.argsort(key, kind="stable")
    sk = key[order]
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - np.searchsorted(sk, sk, side="left")
    slot = index + plan.n_chunks * rank
    iin = digits_to_strings(iin_digits(b_year, b_month, b_day, male, slot))
    return _People(n, band, age_days / 365.2425, birth, male, region, rural, iin)


def _draw_status(plan: Plan, p: _People, rng: np.random.Generator) -> _Status:
    """Children and pensioners are state-paid by age; working-age persons draw their Table 2
    category, and the state-paid among them a preferential category with its validity."""
    profile = plan.profile
    n = p.n
    year = profile.year
    ref = np.datetime64(profile.reference_date.isoformat(), "D")
    year_end = np.datetime64(f"{year}-12-31", "D")

    def reach(age_years: float) -> np.ndarray:
        return np.asarray(p.birth + np.timedelta64(int(age_years * 365.2425), "D"))

    pension_at = np.where(
        p.male, reach(float(profile.pension_age.male)), reach(float(profile.pension_age.female))
    )
    adult_at = reach(profile.child_until_age)
    child = adult_at > ref
    pensioner = ~child & (pension_at <= year_end)
    working = ~child & ~pensioner
    category = np.full(n, 0, dtype=np.int8)  # state_paid
    draw = rng.choice(len(CATEGORIES), size=n, p=plan.category_probs)
    category[working] = draw[working]

    state_w = working & (category == 0)
    subs = profile.state_subcategories
    weights = np.zeros((n, len(subs)))
    for j, (name, sub) in enumerate(subs.items()):
        ok = (p.age_years >= sub.min_age) & (p.age_years <= sub.max_age)
        if sub.sex == "M":
            ok &= p.male
        elif sub.sex == "F":
            ok &= ~p.male
        if name == "other_exempt":
            ok[:] = True
        weights[:, j] = np.where(ok, float(sub.weight), 0.0)
    cum = np.cumsum(weights, axis=1)
    u = rng.random(n) * cum[:, -1]
    sub_idx = (cum < u[:, None]).sum(axis=1)
    sub_names = np.array(plan.sub_names)
    state_cat = np.where(child, "child", np.where(pensioner, "pensioner", ""))
    state_cat = np.where(state_w, sub_names[np.minimum(sub_idx, len(sub_names) - 1)], state_cat)

    valid_from = np.where(
        child, p.birth, np.where(pensioner, np.maximum(pension_at, ref), ref)
    ).astype("datetime64[D]")
    valid_to = np.where(child, adult_at - 1, np.datetime64("NaT")).astype("datetime64[D]")
    starts = _month_starts(year)
    for name, sub in subs.items():
        if sub.temporary_months is None:
            continue
        rows = state_w & (state_cat == name)
        k = rng.integers(sub.temporary_months[0], sub.temporary_months[1] + 1, size=n)
        first = rng.integers(0, 12, size=n)
        end_month = (np.datetime64(f"{year}-01", "M") + first + k).astype("datetime64[D]") - 1
        valid_from = np.where(rows, starts[first], valid_from)
        valid_to = np.where(rows, end_month, valid_to)
    childcare = state_w & (state_cat == "childcare_leave")
    valid_to = np.where(childcare, ref + rng.integers(30, 3 * 365, size=n), valid_to)

    mortality = np.array([float(x) for x in profile.annual_mortality_by_band])[p.band]
    dies = rng.random(n) < mortality
    death_date = np.where(dies, ref + rng.integers(0, 365, size=n), np.datetime64("NaT"))
    death_month = np.where(dies, death_date.astype("datetime64[M]").astype(np.int64) % 12, 99)
    state_person = child | pensioner | state_w
    ends_later = np.isnat(valid_to) | (valid_to > death_date)
    valid_to = np.where(dies & state_person & ends_later, death_date, valid_to)
    return _Status(
        category=category,
        state_category=state_cat,
        state_person=state_person,
        pensioner=pensioner,
        working_age_state=state_w,
        valid_from=valid_from,
        valid_to=valid_to,
        dies=dies,
        death_date=death_date.astype("datetime64[D]"),
        death_month=death_month,
    )


def _draw_work(plan: Plan, p: _People, s: _Status, rng: np.random.Generator) -> _Work:
    """Primary-care attachment in the region, employers for employees and some state-paid
    persons (working pensioners, students, disabled), wages, and civil-law contract income."""
    profile = plan.profile
    options = plan.options
    n = p.n
    provider = np.zeros(n, dtype=np.int32)
    for r in range(len(plan.region_codes)):
        rows = np.nonzero(p.region == r)[0]
        choices = plan.phc_by_region[r]
        provider[rows] = choices[rng.integers(0, len(choices), size=rows.size)]

    eligible = (s.pensioner & (p.age_years < 70)) | (
        s.working_age_state
        & np.isin(s.state_category, ["student", "disabled", "other_exempt", "large_family_mother"])
    )
    share = profile.working_state_paid * options.scale * n / max(options.population, 1)
    p_work = min(1.0, share / max(int(eligible.sum()), 1))
    works = (s.category == 1) | (eligible & (rng.random(n) < p_work))
    employer = np.full(n, -1, dtype=np.int64)
    for r in range(len(plan.region_codes)):
        rows = np.nonzero(works & (p.region == r))[0]
        if rows.size == 0:
            continue
        pick = np.searchsorted(plan.employer_cumw[r], rng.random(rows.size))
        pick = np.minimum(pick, len(plan.employer_cumw[r]) - 1)
        employer[rows] = plan.employer_start[r] + pick
    salary = np.exp(plan.salary_mu + float(profile.salary_sigma) * rng.standard_normal(n))
    salary *= plan.wage_index[p.region]
    salary_tiyn = np.maximum((salary * 100).astype(np.int64), plan.monthly.min_wage_tiyn.max())
    civil_income = (
        float(profile.civil_law_income_median) * np.exp(0.5 * rng.standard_normal(n)) * 100
    ).astype(np.int64)
    income = np.where(works, salary_tiyn, np.where(s.category == 3, civil_income, 0))
    return _Work(employer=employer, income_tiyn=income, provider=provider)


_PAYERS = (
    (2, "individual_entrepreneur"),
    (3, "civil_law_contract"),
    (4, "single_payment"),
    (5, "self_payer"),
)


def _payer_amount(
    kind: str,
    person: np.ndarray,
    month: np.ndarray,
    monthly: MonthlyRules,
    p: _People,
    w: _Work,
) -> np.ndarray:
    """Amounts (tiyn) of payments by persons of payer category ``kind`` for months paid."""
    if kind == "individual_entrepreneur":
        return np.asarray(monthly.ie_amount_tiyn[month])
    if kind == "civil_law_contract":
        return _apply(w.income_tiyn[person], monthly.civil_rate[:, month])
    if kind == "single_payment":
        return np.asarray(
            np.where(
                p.rural[person], monthly.single_rural_tiyn[month], monthly.single_urban_tiyn[month]
            )
        )
    return np.asarray(monthly.self_amount_tiyn[month])


def _draw_payments(
    plan: Plan, p: _People, s: _Status, w: _Work, rng: np.random.Generator
) -> tuple[list[_Piece], _Paid]:
    """Every payment of the year by type: paid months drawn from the published (employees) or
    assumed (other payers) distributions, amounts by the rules of each month, and dates."""
    profile = plan.profile
    monthly = plan.monthly
    n = p.n
    year = profile.year
    year_end = np.datetime64(f"{year}-12-31", "D")
    starts = _month_starts(year)
    alive = np.arange(12)[None, :] <= s.death_month[:, None]
    works = w.employer >= 0
    paid = _Paid(
        employee=_draw_months(rng, n, profile.months_paid_employee, plan),
        other=_draw_months(rng, n, profile.months_paid_other_payers, plan),
    )
    emp_mask = paid.employee & works[:, None] & alive
    other_mask = paid.other & alive
    month_last = np.array(
        [np.datetime64(str(Month(year, m).last_day)) for m in range(1, 13)], dtype="datetime64[D]"
    )
    valid_to = np.where(np.isnat(s.valid_to), np.datetime64("9999-12-31"), s.valid_to)
    state_mask = (
        s.state_person[:, None]
        & (s.valid_from[:, None] <= month_last[None, :])
        & (valid_to[:, None] >= starts[None, :])
        & alive
    )
    pieces: list[_Piece] = []

    person, month = np.nonzero(emp_mask)
    dates = _pay_dates(rng, month, plan, monthly)
    payer = plan.employer_bins.take(pa.array(w.employer[person]))
    for kind, cap, rate in (
        ("employer_deduction", monthly.employer_cap_tiyn, monthly.employer_rate),
        ("employee_contribution", monthly.employee_cap_tiyn, monthly.employee_rate),
    ):
        base = np.minimum(w.income_tiyn[person], cap[month])
        pieces.append(_Piece(kind, person, month, _apply(base, rate[:, month]), dates, payer))

    for cat, kind in _PAYERS:
        mask = other_mask & (s.category == cat)[:, None]
        prepay_from = np.full(n, 99)
        if kind == "self_payer" and monthly.prepayment_from is not None:
            rule_day = np.datetime64(monthly.prepayment_from.isoformat(), "D")
            prepays = (
                (s.category == 5)
                & (rng.random(n) < float(profile.prepaying_self_payer_share))
                & ~s.dies
            )
            pay_day = rule_day + rng.integers(0, (year_end - rule_day).astype(int) + 1, size=n)
            prepay_from = np.where(prepays, pay_day.astype("datetime64[M]").astype(int) % 12, 99)
            mask &= np.arange(12)[None, :] < prepay_from[:, None]
        person, month = np.nonzero(mask)
        amount = _payer_amount(kind, person, month, monthly, p, w)
        dates = _pay_dates(rng, month, plan, monthly)
        if kind == "civil_law_contract":
            customer = rng.integers(0, len(plan.employer_bins), size=person.size)
            payer = plan.employer_bins.take(pa.array(customer))
        else:
            # persons paying for themselves cannot pay after their death
            alive_then = ~(s.dies[person] & (dates > s.death_date[person]))
            person, month, amount, dates = (
                person[alive_then],
                month[alive_then],
                amount[alive_then],
                dates[alive_then],
            )
            payer = p.iin.take(pa.array(person))
        pieces.append(_Piece(kind, person, month, amount, dates, payer))
        if kind == "self_payer":
            # a prepayment covers the month paid in and the following ones, into the next year,
            # at the amount in force on the day of payment
            who = np.nonzero(prepay_from < 12)[0]
            ahead = monthly.prepayment_months
            person = np.repeat(who, ahead)
            month = prepay_from[person] + np.tile(np.arange(ahead), who.size)
            amount = monthly.self_amount_tiyn[prepay_from[person]]
            payer = p.iin.take(pa.array(person))
            pieces.append(_Piece(kind, person, month, amount, pay_day[person], payer))

    person, month = np.nonzero(state_mask)
    pieces.append(
        _Piece(
            "state_contribution",
            person,
            month,
            np.full(person.size, _tiyn(profile.state_amount_per_person_month)),
            starts[month] + 24,
            pa.array(np.full(person.size, plan.state_payer_bin)),
        )
    )
    return pieces, paid


def _draw_lookback(
    plan: Plan, p: _People, s: _Status, w: _Work, paid: _Paid, rng: np.random.Generator
) -> list[_Piece]:
    """The payers' payments for the months before the reported year, so that the first months'
    status has its look-back.

    Modelling assumption (profile ``lookback_months``): the year before is like the reported one;
    each person's months paid before the year repeat the months drawn for the same calendar
    months of the year (before deaths, which fall in the reported year, and prepayments, which
    start in it), with the same employer and income, and amounts by the rules in force in each
    month. Nobody pays for a month before being born. The state's contributions are not
    generated: status by a preferential category comes from the category periods, not from the
    state's payments.
    """
    monthly = plan.lookback
    if monthly is None:
        return []
    calendar = np.array([m.month - 1 for m in monthly.months])
    starts = np.array(
        [np.datetime64(str(m.first_day)) for m in monthly.months], dtype="datetime64[D]"
    )
    born = p.birth[:, None] < starts[None, :]
    works = w.employer >= 0
    pieces: list[_Piece] = []

    person, month = np.nonzero(paid.employee[:, calendar] & works[:, None] & born)
    dates = _pay_dates(rng, month, plan, monthly)
    payer = plan.employer_bins.take(pa.array(w.employer[person]))
    for kind, cap, rate in (
        ("employer_deduction", monthly.employer_cap_tiyn, monthly.employer_rate),
        ("employee_contribution", monthly.employee_cap_tiyn, monthly.employee_rate),
    ):
        base = np.minimum(w.income_tiyn[person], cap[month])
        pieces.append(_Piece(kind, person, month, _apply(base, rate[:, month]), dates, payer))

    other = paid.other[:, calendar] & born
    for cat, kind in _PAYERS:
        person, month = np.nonzero(other & (s.category == cat)[:, None])
        amount = _payer_amount(kind, person, month, monthly, p, w)
        dates = _pay_dates(rng, month, plan, monthly)
        if kind == "civil_law_contract":
            customer = rng.integers(0, len(plan.employer_bins), size=person.size)
            payer = plan.employer_bins.take(pa.array(customer))
        else:
            payer = p.iin.take(pa.array(person))
        pieces.append(_Piece(kind, person, month, amount, dates, payer))
    return pieces


def _write_register(plan: Plan, index: int, p: _People, s: _Status, w: _Work) -> dict[str, int]:
    """Write one chunk's persons and their category periods."""
    out = plan.staging
    persons = pa.table(
        {
            "iin": p.iin,
            "sex": pa.array(np.where(p.male, "M", "F")),
            "birth_date": pa.array(p.birth),
            "region": pa.array(np.array(plan.region_codes)[p.region]),
            "urban": pa.array(~p.rural),
            "attached_provider_id": pa.array(w.provider),
            "category": pa.array(np.array(CATEGORIES)[s.category]),
            "employer_bin": pc.if_else(
                pa.array(w.employer >= 0),
                plan.employer_bins.take(pa.array(np.maximum(w.employer, 0))),
                pa.scalar(None, pa.string()),
            ),
            "monthly_income": pc.if_else(
                pa.array(w.income_tiyn > 0),
                decimal_array(w.income_tiyn),
                pa.scalar(None, pa.decimal128(18, 2)),
            ),
            "deceased": pa.array(s.dies),
            "death_date": pa.array(s.death_date),
        }
    )
    pq.write_table(persons, out / "persons" / f"part-{index:05d}.parquet", compression="zstd")
    srows = np.nonzero(s.state_person)[0]
    state_table = pa.table(
        {
            "iin": p.iin.take(pa.array(srows)),
            "category": pa.array(s.state_category[srows]),
            "valid_from": pa.array(s.valid_from[srows]),
            "valid_to": pa.array(s.valid_to[srows]),
        }
    )
    pq.write_table(
        state_table, out / "state_categories" / f"part-{index:05d}.parquet", compression="zstd"
    )
    return {"persons": p.n, "state_categories": int(srows.size), "deceased": int(s.dies.sum())}


def _write_payments(
    plan: Plan,
    index: int,
    p: _People,
    name: str,
    monthly: MonthlyRules,
    pieces: list[_Piece],
    first_row: int,
) -> dict[str, int]:
    """Write payments of one chunk into ``payments/<name>``; months count from the first of
    ``monthly.months``.

    References: P + year of the country (2 digits) + chunk (4) + row within the chunk (10), rows
    numbered across the chunk's files from ``first_row``: unique country-wide.
    """
    total = sum(piece.person.size for piece in pieces)
    ref_digits = np.concatenate(
        [
            np.tile(number_digits(np.array([plan.profile.year % 100]), 2), (total, 1)),
            np.tile(number_digits(np.array([index]), 4), (total, 1)),
            number_digits(np.arange(first_row, first_row + total, dtype=np.int64), 10),
        ],
        axis=1,
    )
    references = digits_to_strings(ref_digits, prefix=b"P")
    first = monthly.months[0]
    month_base = np.datetime64(f"{first.year}-{first.month:02d}", "M")
    counts: dict[str, int] = {}
    at = 0
    with pq.ParquetWriter(
        plan.staging / "payments" / name,
        PAYMENTS_SCHEMA,
        compression="zstd",
        compression_level=1,
        use_dictionary=["payer_id", "payment_type"],
    ) as writer:
        for piece in pieces:
            size = piece.person.size
            if size == 0:
                continue
            table = pa.table(
                {
                    "reference": references.slice(at, size),
                    "payer_id": piece.payer,
                    "person_iin": p.iin.take(pa.array(piece.person)),
                    "payment_type": pa.array(np.full(size, piece.kind)),
                    "period": pa.array((month_base + piece.month).astype("datetime64[D]")),
                    "amount": decimal_array(piece.amount),
                    "payment_date": pa.array(piece.date.astype("datetime64[D]")),
                },
                schema=PAYMENTS_SCHEMA,
            )
            writer.write_table(table, row_group_size=1_000_000)
            counts[f"payments.{piece.kind}"] = counts.get(f"payments.{piece.kind}", 0) + size
            at += size
    counts["payments"] = at
    return counts


def _add(counts: dict[str, int], more: dict[str, int]) -> None:
    for key, value in more.items():
        counts[key] = counts.get(key, 0) + value


def _chunk(index: int) -> dict[str, int]:
    """Draw and write one chunk of persons with their payments; return the row counts.

    The reported year's payments are written (``payments/part-NNNNN.parquet``) and let go before
    the months before it are drawn (``payments/lookback-NNNNN.parquet``), so a chunk never holds
    both."""
    plan = _PLAN
    assert plan is not None
    lo, hi = plan.chunk_bounds[index]
    rng = np.random.default_rng([plan.options.seed, index, 0x5A])
    people = _draw_people(plan, index, hi - lo, rng)
    status = _draw_status(plan, people, rng)
    work = _draw_work(plan, people, status, rng)
    counts = _write_register(plan, index, people, status, work)
    pieces, paid = _draw_payments(plan, people, status, work, rng)
    year = _write_payments(
        plan, index, people, f"part-{index:05d}.parquet", plan.monthly, pieces, 0
    )
    del pieces
    _add(counts, year)
    if plan.lookback is not None:
        lookback = _draw_lookback(plan, people, status, work, paid, rng)
        before = _write_payments(
            plan,
            index,
            people,
            f"lookback-{index:05d}.parquet",
            plan.lookback,
            lookback,
            year["payments"],
        )
        _add(counts, before)
        counts["payments.lookback"] = before["payments"]
    return counts


# --------------------------------------------------------------------------------------------
# The whole run


def _prepare_staging(out: Path) -> Path:
    out = out.resolve()
    if out.exists() and not out.is_dir():
        raise StoreError("exists and is not a folder", where=f"output {out}")
    if out.is_dir() and any(out.iterdir()) and not (out / "manifest.json").exists():
        raise StoreError(
            "is not empty and holds no synthetic country: refusing to replace it",
            where=f"output {out}",
        )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = out.parent / f".{out.name}.staging-{uuid.uuid4().hex[:8]}"
        for sub in ("persons", "state_categories", "payments"):
            (staging / sub).mkdir(parents=True)
    except OSError as exc:
        raise StoreError(
            f"cannot write: {exc.strerror or exc}", where=f"output folder {out.parent}"
        ) from exc
    return staging


def _swap_into_place(staging: Path, out: Path) -> Path:
    """Move the finished staging folder to ``out``; a previous country there is moved aside
    first and deleted only once the new one is in place, so a failure never leaves half of it."""
    aside = out.parent / f".{out.name}.previous-{uuid.uuid4().hex[:8]}"
    try:
        if out.exists():
            os.replace(out, aside)
        try:
            os.replace(staging, out)
        except OSError:
            if aside.exists():
                os.replace(aside, out)
            raise
    except OSError as exc:
        raise StoreError(f"cannot replace: {exc.strerror or exc}", where=f"output {out}") from exc
    shutil.rmtree(aside, ignore_errors=True)
    return out


def _employers_table(staging: Path, employers: pa.Table) -> pa.Table:
    """Employers with the headcount and monthly payroll of the persons drawn to them."""
    import duckdb

    con = duckdb.connect()
    con.register("employers", employers)
    persons = sql_literal(staging.as_posix() + "/persons/*.parquet")
    return con.sql(
        f"""
        SELECT e.bin, e.region,
               coalesce(p.headcount, 0)::INTEGER AS headcount,
               coalesce(p.payroll, 0)::DECIMAL(18, 2) AS monthly_payroll
        FROM employers e
        LEFT JOIN (
            SELECT employer_bin, count(*) AS headcount, sum(monthly_income) AS payroll
            FROM read_parquet({persons}) WHERE employer_bin IS NOT NULL
            GROUP BY employer_bin
        ) p ON p.employer_bin = e.bin
        ORDER BY e.bin
        """
    ).to_arrow_table()


def _input_hashes() -> dict[str, str]:
    """SHA-256 of the profile and the published figures the country was built from."""
    files = [profile_path(), *sorted(published_dir().glob("*.csv"))]
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


def generate(
    options: SynthOptions,
    on_chunk: Callable[[int, int], None] | None = None,
) -> SynthResult:
    """Build the synthetic country into ``options.out``; report progress as (done, total) chunks."""
    global _PLAN
    started = time.perf_counter()
    rules = load_rules()
    profile = load_profile()
    staging = _prepare_staging(options.out)
    try:
        plan, providers, employers = make_plan(options, rules, profile)
        pq.write_table(providers, staging / "providers.parquet")
        plan.staging = staging
        _PLAN = plan
        counts: dict[str, int] = {}
        done = 0
        if on_chunk:
            on_chunk(0, plan.n_chunks)
        workers = max(1, min(options.workers, plan.n_chunks, os.cpu_count() or 1))
        with ExitStack() as stack:
            results: Iterator[dict[str, int]] = map(_chunk, range(plan.n_chunks))
            if workers > 1:
                context = mp.get_context("fork")
                pool = stack.enter_context(ProcessPoolExecutor(workers, mp_context=context))
                results = pool.map(_chunk, range(plan.n_chunks))
            for result in results:
                done += 1
                for k, v in result.items():
                    counts[k] = counts.get(k, 0) + v
                if on_chunk:
                    on_chunk(done, plan.n_chunks)
        employer_table = _employers_table(staging, employers)
        pq.write_table(employer_table, staging / "employers.parquet")
        counts["employers"] = employer_table.num_rows
        counts["providers"] = providers.num_rows
        manifest = {
            "kind": "saqta synthetic Kazakhstan",
            "seed": options.seed,
            "scale": options.scale,
            "year": profile.year,
            "lookback_months": profile.lookback_months,
            "lookback_from": str(plan.lookback.months[0]) if plan.lookback else None,
            "population": options.population,
            "chunks": plan.n_chunks,
            "chunk_size": options.chunk_size,
            "state_payer_bin": plan.state_payer_bin,
            "rules_version": rules.version,
            "inputs": _input_hashes(),
            "code_version": code_version(),
            "counts": counts,
            "seconds": round(time.perf_counter() - started, 1),
        }
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        out = _swap_into_place(staging, options.out.resolve())
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        _PLAN = None
    return SynthResult(
        out=out, counts=counts, seconds=time.perf_counter() - started, manifest=manifest
    )
