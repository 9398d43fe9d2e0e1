"""Reference data of prudential reporting as rule files, and their loaders.

Kinds of rule file registered here (all under ``rules/prudential/``):

- ``prudential_layout``: the editions of one form (rows, columns, Kazakh and Russian labels,
  dates in force), each validated into :class:`saqta.prudential.report.FormLayout`;
- ``prudential_rating_scales``: the accepted agencies, their scales and every grade's
  S&P-equivalent grade (international scale, the S&P national "kz" scale, or Morningstar stars);
- ``prudential_reinsurer_groups``: the 18 groups of form 1-PN_M with percentages and criteria;
- ``prudential_hla_categories``: the categories (rows 1.1-7.2) of form 1-PN_V with accepted
  shares and machine-readable criteria;
- ``prudential_checks``: rule ids, severities and descriptions of the validation checks.

Scalar parameters (the row-400 combining rules, the 1% cash cap, the rating-selection policy)
are ordinary dated ``parameters`` in ``rules/prudential/parameters.yaml`` (namespace
``prudential``).

Public API: :func:`load_layouts`, :func:`layout`, :func:`rating_scales`, :func:`reinsurer_groups`,
:func:`hla_categories`, :func:`checks`, :func:`prudential_rules`. Every loader takes an optional
list of rule folders (default: the shipped rules and the overrides folder) and caches by folder.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from saqta.core.errors import InputError, Problem, RulesError
from saqta.core.rules import RuleSet, check_ranges, load_rules, register_kind
from saqta.prudential.report import (
    FORM_CODES,
    ColumnSpec,
    Finding,
    FormCode,
    FormLayout,
    RowSpec,
    Severity,
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------------------------------------
# Form layouts


class LayoutEdition(_Strict):
    """One edition of a form as written in the rule file (a FormLayout plus provenance)."""

    annex: int = Field(ge=2, le=6)
    valid_from: dt.date
    valid_to: dt.date | None = None
    verified: bool = True  # false: a date or a detail the source text does not settle
    labels_ru_verified: bool = False  # Russian labels are a translation unless checked
    note: str | None = None
    title_kk: str
    title_ru: str
    source: str = Field(min_length=3)
    columns: tuple[ColumnSpec, ...] = Field(min_length=1)
    rows: tuple[RowSpec, ...] = Field(min_length=1)

    def to_layout(self, form: FormCode) -> FormLayout:
        return FormLayout(
            form=form,
            annex=self.annex,
            valid_from=self.valid_from,
            valid_to=self.valid_to,
            title_kk=self.title_kk,
            title_ru=self.title_ru,
            source=self.source,
            columns=self.columns,
            rows=self.rows,
        )


class LayoutFile(_Strict):
    kind: Literal["prudential_layout"]
    form: FormCode
    description: str
    editions: list[LayoutEdition] = Field(min_length=1)


def _layout_problems(path: Path, doc: LayoutFile) -> list[Problem]:
    problems: list[Problem] = []
    for i, edition in enumerate(doc.editions):
        base = f"{path}: editions[{i}]"
        codes = [row.code for row in edition.rows]
        for j, row in enumerate(edition.rows):
            if codes.count(row.code) > 1:
                problems.append(Problem(f"{base}.rows[{j}].code", f"duplicate row {row.code}"))
            if row.parent is not None and row.parent not in codes:
                problems.append(
                    Problem(f"{base}.rows[{j}].parent", f"unknown parent row {row.parent}")
                )
        numbers = [col.number for col in edition.columns]
        if len(set(numbers)) != len(numbers):
            problems.append(Problem(f"{base}.columns", "duplicate column numbers"))
    problems += check_ranges(
        [(e.valid_from, e.valid_to) for e in doc.editions],
        lambda i: f"{path}: editions[{i}]",
    )
    return problems


# ---------------------------------------------------------------------------------------------
# Rating agencies and scales

ScaleKind = Literal["international", "national_kz", "stars"]


class AgencyScale(_Strict):
    """One scale of one agency; every grade maps to a grade of a reference scale."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    maps_to: ScaleKind
    description: str
    source: str = Field(min_length=3)
    verified: bool = True
    note: str | None = None
    grades: dict[str, str] = Field(min_length=1)  # grade -> equivalent grade on maps_to
    withdrawn: tuple[str, ...] = ()  # markers meaning "no rating" (NR, WD)


class Agency(_Strict):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    scales: list[AgencyScale] = Field(min_length=1)


class RatingScalesFile(_Strict):
    kind: Literal["prudential_rating_scales"]
    description: str
    source: str = Field(min_length=3)
    reference_scales: dict[ScaleKind, tuple[str, ...]]  # grades best first
    agencies: list[Agency] = Field(min_length=1)


def _scales_problems(path: Path, doc: RatingScalesFile) -> list[Problem]:
    problems: list[Problem] = []
    codes = [agency.code for agency in doc.agencies]
    for i, agency in enumerate(doc.agencies):
        if codes.count(agency.code) > 1:
            problems.append(Problem(f"{path}: agencies[{i}].code", f"duplicate {agency.code}"))
        for j, scale in enumerate(agency.scales):
            reference = doc.reference_scales.get(scale.maps_to)
            where = f"{path}: agencies[{i}].scales[{j}]"
            if reference is None:
                problems.append(Problem(f"{where}.maps_to", f"no reference scale {scale.maps_to}"))
                continue
            for grade, equivalent in scale.grades.items():
                if equivalent not in reference:
                    problems.append(
                        Problem(
                            f"{where}.grades.{grade}",
                            f"{equivalent!r} is not a grade of the {scale.maps_to} scale",
                        )
                    )
    return problems


# ---------------------------------------------------------------------------------------------
# 1-PN_M reinsurer groups

ReinsurerBlock = Literal["non_resident", "resident_kz", "eaeu"]


class GradeRange(_Strict):
    """Grades from ``best`` down to ``worst`` (both inclusive) of a reference scale."""

    scale: Literal["international", "national_kz"]
    best: str
    worst: str


class RatioBound(_Strict):
    op: Literal[">", ">=", "<", "<="]
    value: Decimal

    def holds(self, ratio: Decimal) -> bool:
        return {
            ">": ratio > self.value,
            ">=": ratio >= self.value,
            "<": ratio < self.value,
            "<=": ratio <= self.value,
        }[self.op]


class ReinsurerGroup(_Strict):
    group: str
    block: ReinsurerBlock
    percent: Decimal = Field(ge=0, le=100)  # the percentage as printed: 0.2 means 0.2 %
    ratings: tuple[GradeRange, ...] = ()  # any of these
    unrated: bool = False  # also matches a reinsurer without a rating (on the block's scales)
    ratio: RatioBound | None = None  # resident without a rating: its solvency margin ratio
    criterion_en: str
    source: str = Field(min_length=3)
    verified: bool = True
    note: str | None = None


class ReinsurerGroupsEdition(_Strict):
    valid_from: dt.date
    valid_to: dt.date | None = None
    source: str = Field(min_length=3)
    verified: bool = True  # false: the source does not give the edition's start
    groups: list[ReinsurerGroup] = Field(min_length=1)


class ReinsurerGroupsFile(_Strict):
    kind: Literal["prudential_reinsurer_groups"]
    description: str
    editions: list[ReinsurerGroupsEdition] = Field(min_length=1)


def _groups_problems(path: Path, doc: ReinsurerGroupsFile) -> list[Problem]:
    problems: list[Problem] = []
    for i, edition in enumerate(doc.editions):
        names = [g.group for g in edition.groups]
        for j, group in enumerate(edition.groups):
            where = f"{path}: editions[{i}].groups[{j}]"
            if names.count(group.group) > 1:
                problems.append(Problem(f"{where}.group", f"duplicate group {group.group}"))
            if not (group.ratings or group.unrated or group.ratio):
                problems.append(Problem(where, "a group needs ratings, unrated or ratio"))
    problems += check_ranges(
        [(e.valid_from, e.valid_to) for e in doc.editions],
        lambda i: f"{path}: editions[{i}]",
    )
    return problems


# ---------------------------------------------------------------------------------------------
# 1-PN_V categories

RatingOf = Literal["instrument_or_issuer", "issuer", "parent"]


class Condition(_Strict):
    """All of the stated attributes must hold (an attribute left out is not tested)."""

    instrument_types: tuple[str, ...] = Field(min_length=1)
    issuer_kinds: tuple[str, ...] | None = None
    issuer_residency: Literal["resident_kz", "non_resident"] | None = None
    exchange_categories: tuple[str, ...] | None = None
    issuer_shares_premium: bool | None = None  # the issuer's shares in the KASE premium category
    issuer_in_exchange_index: bool | None = None  # the issuer's shares in the index list
    main_index_member: bool | None = None  # in (or tracking) the main stock indices (No. 304)
    currency: str | None = None
    rating: tuple[GradeRange, ...] | None = None  # any of these ranges
    rating_of: RatingOf = "instrument_or_issuer"
    min_stars: int | None = Field(default=None, ge=1, le=5)
    overdue: bool | None = None


class HlaCategory(_Strict):
    code: str  # the row of form 1-PN_V
    share: Decimal = Field(ge=0, le=100)  # accepted share, percent
    summary_en: str
    source: str = Field(min_length=3)
    cash_cap: bool = False  # row 1.1: counted up to a share of assets net of reinsurance
    criteria: tuple[Condition, ...] = Field(min_length=1)  # any of these
    verified: bool = True
    note: str | None = None


class HlaCategoriesEdition(_Strict):
    valid_from: dt.date
    valid_to: dt.date | None = None
    source: str = Field(min_length=3)
    verified: bool = True  # false: the source does not give the edition's start
    categories: list[HlaCategory] = Field(min_length=1)


class HlaCategoriesFile(_Strict):
    kind: Literal["prudential_hla_categories"]
    description: str
    editions: list[HlaCategoriesEdition] = Field(min_length=1)


def _categories_problems(path: Path, doc: HlaCategoriesFile) -> list[Problem]:
    problems: list[Problem] = []
    for i, edition in enumerate(doc.editions):
        codes = [c.code for c in edition.categories]
        for j, category in enumerate(edition.categories):
            if codes.count(category.code) > 1:
                problems.append(
                    Problem(
                        f"{path}: editions[{i}].categories[{j}].code",
                        f"duplicate category {category.code}",
                    )
                )
    problems += check_ranges(
        [(e.valid_from, e.valid_to) for e in doc.editions],
        lambda i: f"{path}: editions[{i}]",
    )
    return problems


# ---------------------------------------------------------------------------------------------
# Validation checks


class CheckSpec(_Strict):
    rule_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    severity: Severity
    form: FormCode | None = None
    description: str
    source: str = Field(min_length=3)


class ChecksFile(_Strict):
    kind: Literal["prudential_checks"]
    description: str
    checks: list[CheckSpec] = Field(min_length=1)


def _checks_problems(path: Path, doc: ChecksFile) -> list[Problem]:
    ids = [c.rule_id for c in doc.checks]
    return [
        Problem(f"{path}: checks[{i}].rule_id", f"duplicate rule id {c.rule_id}")
        for i, c in enumerate(doc.checks)
        if ids.count(c.rule_id) > 1
    ]


register_kind("prudential_layout", LayoutFile, _layout_problems)
register_kind("prudential_rating_scales", RatingScalesFile, _scales_problems)
register_kind("prudential_reinsurer_groups", ReinsurerGroupsFile, _groups_problems)
register_kind("prudential_hla_categories", HlaCategoriesFile, _categories_problems)
register_kind("prudential_checks", ChecksFile, _checks_problems)


# ---------------------------------------------------------------------------------------------
# Loaders

_T = TypeVar("_T", bound=BaseModel)


@lru_cache(maxsize=8)
def _rules(dirs: tuple[Path, ...] | None) -> RuleSet:
    return load_rules(list(dirs) if dirs is not None else None)


def prudential_rules(dirs: Sequence[Path] | None = None) -> RuleSet:
    """The loaded rule set (cached per list of folders; see :func:`clear_cache`)."""
    return _rules(tuple(dirs) if dirs is not None else None)


def clear_cache() -> None:
    """Forget the loaded rules, e.g. after the files of the overrides folder changed."""
    _rules.cache_clear()


def _documents(kind: type[_T], dirs: Sequence[Path] | None) -> list[tuple[Path, _T]]:
    rules = prudential_rules(dirs)
    found = [(path, doc) for path, doc in rules.documents.items() if isinstance(doc, kind)]
    if not found:
        raise RulesError(f"no rule file of kind {kind.__name__} is loaded")
    return found


def make_finding(
    specs: dict[str, CheckSpec],
    rule_id: str,
    message: str,
    form: FormCode | None = None,
    row: str | None = None,
    column: str | None = None,
) -> Finding:
    """A finding of check ``rule_id`` with the severity the checks file gives it (an id the file
    does not list is an error)."""
    spec = specs.get(rule_id)
    return Finding(
        rule_id=rule_id,
        severity=spec.severity if spec is not None else "error",
        message=message,
        form=form,
        row=row,
        column=column,
    )


def load_layouts(dirs: Sequence[Path] | None = None) -> dict[FormCode, tuple[FormLayout, ...]]:
    """Every edition of every form, oldest first. A form defined in a later folder (the overrides)
    replaces the shipped one whole."""
    layouts: dict[FormCode, tuple[FormLayout, ...]] = {}
    for _, doc in _documents(LayoutFile, dirs):
        editions = sorted(doc.editions, key=lambda e: e.valid_from)
        layouts[doc.form] = tuple(e.to_layout(doc.form) for e in editions)
    missing = [form for form in FORM_CODES if form not in layouts]
    if missing:
        raise RulesError(f"no layout rule file for {', '.join(missing)}")
    return layouts


def layout_editions(
    form: FormCode, dirs: Sequence[Path] | None = None
) -> tuple[LayoutEdition, ...]:
    """The editions of ``form`` with their provenance (verified flags and notes)."""
    for _, doc in reversed(_documents(LayoutFile, dirs)):
        if doc.form == form:
            return tuple(sorted(doc.editions, key=lambda e: e.valid_from))
    raise RulesError(f"no layout rule file for {form}")


def _in_force(valid_from: dt.date, valid_to: dt.date | None, on: dt.date) -> bool:
    return valid_from <= on and (valid_to is None or on <= valid_to)


def layout(form: FormCode, on: dt.date, dirs: Sequence[Path] | None = None) -> FormLayout:
    """The edition of ``form`` in force on ``on`` (for a report: the last day of the month)."""
    editions = load_layouts(dirs)[form]
    for i, edition in enumerate(editions):
        following = editions[i + 1].valid_from if i + 1 < len(editions) else None
        end = edition.valid_to
        if following is not None and (end is None or end >= following):
            end = following - dt.timedelta(days=1)
        if _in_force(edition.valid_from, end, on):
            return edition
    spans = ", ".join(f"{e.valid_from}..{e.valid_to or 'open'}" for e in editions)
    raise RulesError(
        f"no edition of form {form} is in force on {on} (editions: {spans}); an edition the "
        "source text does not give can be added as a rule file in the overrides folder "
        "(SAQTA_RULES_OVERRIDES)",
        where=f"layout {form}",
    )


_E = TypeVar("_E", ReinsurerGroupsEdition, HlaCategoriesEdition)


def _edition_on(editions: Sequence[_E], on: dt.date, what: str) -> _E:
    ordered = sorted(editions, key=lambda e: e.valid_from)
    for i, edition in enumerate(ordered):
        following = ordered[i + 1].valid_from if i + 1 < len(ordered) else None
        if _in_force(edition.valid_from, edition.valid_to, on) and (
            following is None or on < following
        ):
            return edition
    raise RulesError(f"no edition in force on {on}", where=what)


def rating_scales(dirs: Sequence[Path] | None = None) -> RatingScalesFile:
    return _documents(RatingScalesFile, dirs)[-1][1]


def reinsurer_groups(on: dt.date, dirs: Sequence[Path] | None = None) -> ReinsurerGroupsEdition:
    doc = _documents(ReinsurerGroupsFile, dirs)[-1][1]
    return _edition_on(doc.editions, on, "1-PN_M reinsurer groups")


def hla_categories(on: dt.date, dirs: Sequence[Path] | None = None) -> HlaCategoriesEdition:
    doc = _documents(HlaCategoriesFile, dirs)[-1][1]
    return _edition_on(doc.editions, on, "1-PN_V categories")


def checks(dirs: Sequence[Path] | None = None) -> dict[str, CheckSpec]:
    """Every validation check by rule id (a later folder's file replaces a check of the same id)."""
    found: dict[str, CheckSpec] = {}
    for _, doc in _documents(ChecksFile, dirs):
        for spec in doc.checks:
            found[spec.rule_id] = spec
    return found


def combine(rule: str, first: Decimal, second: Decimal) -> Decimal:
    """Rows 100 and 200 combined by a named rule (the ``*_msm_combine`` parameters)."""
    if rule == "max":
        return max(first, second)
    if rule == "sum":
        return first + second
    if rule == "premium":
        return first
    if rule == "claims":
        return second
    raise InputError(f"unknown combining rule {rule!r} (max, sum, premium, claims)")
