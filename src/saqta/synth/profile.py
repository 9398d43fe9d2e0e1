"""The synthetic country's profile: a validated, documented set of modelling assumptions.

The profile (``profile_2022.yaml``) is not law: it states the published 2022 figures the generator
is calibrated to and the assumptions it makes where nothing is published.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from saqta.core.errors import Problem, RulesError
from saqta.core.rules import read_yaml


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Categories(_Strict):
    state_paid: int
    employee: int
    individual_entrepreneur: int
    civil_law_contract: int
    single_payment: int
    self_payer: int


class SubCategory(_Strict):
    weight: Decimal
    min_age: int = 0
    max_age: int = 200
    sex: Literal["M", "F"] | None = None
    temporary_months: tuple[int, int] | None = None


class PensionAge(_Strict):
    male: Decimal
    female: Decimal


class Profile(_Strict):
    year: int
    lookback_months: int = Field(ge=0, le=120)
    population: int
    reference_date: dt.date
    categories: Categories
    working_state_paid: int
    average_base: Decimal
    salary_sigma: Decimal
    state_amount_per_person_month: Decimal
    age_pyramid: list[Decimal] = Field(min_length=20, max_length=20)
    male_share: Decimal
    pension_age: PensionAge
    child_until_age: int
    annual_mortality_by_band: list[Decimal] = Field(min_length=20, max_length=20)
    state_subcategories: dict[str, SubCategory]
    months_paid_employee: list[Decimal] = Field(min_length=12, max_length=12)
    months_paid_other_payers: list[Decimal] = Field(min_length=12, max_length=12)
    contiguous_spell_share: Decimal
    on_time_share: Decimal
    late_days_mean: Decimal
    prepaying_self_payer_share: Decimal
    rural_share_by_region: dict[str, Decimal]
    population_by_region: dict[str, Decimal]
    wage_index_by_region: dict[str, Decimal]
    civil_law_income_median: Decimal
    mean_employer_size: Decimal
    primary_care_share: dict[str, Decimal]


def profile_path() -> Path:
    return Path(str(resources.files("saqta.synth") / "profile_2022.yaml"))


@lru_cache(maxsize=1)
def load_profile(path: Path | None = None) -> Profile:
    source = path or profile_path()
    try:
        return Profile.model_validate(read_yaml(source))
    except ValidationError as exc:
        raise RulesError(
            [Problem(f"{source}: {'.'.join(map(str, e['loc']))}", e["msg"]) for e in exc.errors()]
        ) from exc


def published_dir() -> Path:
    """The Fund's published 2022 figures (copies of the annual report's tables), as CSV."""
    return Path(str(resources.files("saqta.synth") / "published"))
