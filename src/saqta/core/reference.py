"""Reference lists shipped as rule files: the regions of Kazakhstan."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from saqta.core.errors import Problem, RulesError
from saqta.core.rules import packaged_rules_dir, register_kind, validate_file


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Region(_Strict):
    code: str = Field(pattern=r"^[A-Z]{3}$")
    name_en: str
    name_kk: str
    name_ru: str
    established_on: dt.date | None = None
    reporting_region: str | None = None


class RegionsFile(_Strict):
    kind: str = Field(pattern="^regions$")
    description: str
    source: str = Field(min_length=3)
    regions: list[Region]


def _region_problems(path: Path, doc: RegionsFile) -> list[Problem]:
    problems = []
    codes = [r.code for r in doc.regions]
    for i, region in enumerate(doc.regions):
        if codes.count(region.code) > 1:
            problems.append(Problem(f"{path}: regions[{i}].code", f"duplicate code {region.code}"))
        if region.reporting_region is not None and region.reporting_region not in codes:
            problems.append(
                Problem(
                    f"{path}: regions[{i}].reporting_region",
                    f"unknown region {region.reporting_region}",
                )
            )
    return problems


register_kind("regions", RegionsFile, _region_problems)


@lru_cache(maxsize=1)
def regions() -> tuple[Region, ...]:
    """The 20 regions, in file order."""
    path = packaged_rules_dir() / "reference" / "regions.yaml"
    doc, problems = validate_file(path)
    if problems or not isinstance(doc, RegionsFile):
        raise RulesError(problems)
    return tuple(doc.regions)


def region_by_name(name_en: str) -> Region:
    for region in regions():
        if region.name_en == name_en:
            return region
    raise RulesError(f"unknown region name {name_en!r}")
