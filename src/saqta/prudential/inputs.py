"""The inputs of one branch's monthly prudential report: a strict Pydantic model in ``Decimal``.

Everything the five forms need and the seed does not let the system compute itself is an input:

- :class:`Holding`: one asset position at the end of the last calendar day of the month (1-PN_V
  column 3, Annex 6 explanation para 9) with the attributes the 1-PN_V criteria test;
- :class:`RatingRecord`: one dated rating of a subject (an instrument, an issuer, a parent bank,
  a reinsurer) by an accepted agency; the forms use the rating in force at the end of the period
  (Annex 7, para 3), so a change on the last day counts;
- :class:`Treaty`: liabilities ceded to one reinsurer under existing treaties (1-PN_M column 3);
- :class:`Figures`: reserves net of the reinsurer's share, REPO liabilities, the minimum reserve
  assets and the assets net of reinsurance assets (for the 1% cash-in-hand cap);
- :class:`Methodology`: the amounts of ARDFM resolution No. 32 (the "Methodology", whose text
  is not available here): actual margin (para 21), premium and claims methods (paras 9, 10), the
  para 14 decrease, and the life rows 100/110/120/200 (paras 16, 17, 19, 20);
- :class:`CategoryOverride`: the branch's own choice of a 1-PN_V category for a holding that fits
  several (Annex 6 explanation para 8), with who chose it and why.

:func:`parse_inputs` turns raw data (from a loader, JSON, a test) into :class:`PrudentialInputs`
and reports every problem as an :class:`~saqta.core.errors.InputError` line naming its place
(``holdings[3].carrying_amount``). Amounts are tenge, unrounded.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from saqta.core.errors import InputError, Problem
from saqta.core.money import to_money
from saqta.core.periods import Month
from saqta.prudential.report import BranchProfile


def _decimal(value: Any) -> Any:
    """Exact decimals from Decimal, int or text; floats (and booleans) are refused."""
    if isinstance(value, Decimal | int | str) and not isinstance(value, bool):
        try:
            return to_money(value.strip() if isinstance(value, str) else value)
        except ValueError as exc:
            raise ValueError(f"not a number: {value!r}") from exc
    if isinstance(value, float):
        raise ValueError(f"a float ({value!r}) cannot hold an exact amount; give a decimal")
    return value


def _date(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError as exc:
            raise ValueError(f"not a date YYYY-MM-DD: {value!r}") from exc
    if isinstance(value, dt.datetime):
        raise ValueError("a date is expected, not a date and time")
    return value


def _tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


Amount = Annotated[Decimal, BeforeValidator(_decimal), Field(ge=0)]
"""A non-negative amount in tenge."""
SignedAmount = Annotated[Decimal, BeforeValidator(_decimal)]
"""An amount that may be negative (an actual margin can be)."""
Ratio = Annotated[Decimal, BeforeValidator(_decimal), Field(ge=0)]
Day = Annotated[dt.date, BeforeValidator(_date)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


InstrumentType = Literal[
    "cash_in_hand",  # 1.1
    "broker_account",  # 1.2: money on accounts of a broker/dealer, at banks or the depository
    "current_account",  # 1.3-1.5
    "portfolio_manager_account",  # 1.6
    "reserve_assets_account",  # 2: the minimum reserve assets on a current account
    "deposit",  # 3.x
    "debt_security",  # 4.x
    "share",  # 5.x
    "depositary_receipt",  # 5.x (on shares that meet the criterion)
    "fund_unit",  # 6.1
    "etf",  # 6.2, 6.3
    "etc",  # 6.3
    "etn",  # 6.3
    "islamic_instrument",  # 6.4-6.7
    "precious_metal",  # 7.1 refined precious metals
    "metal_deposit",  # 7.1
    "matured_security_claim",  # 7.2
    "other",  # fits no category
]

IssuerKind = Literal[
    "kz_second_tier_bank",
    "nonresident_bank_branch",  # a branch in Kazakhstan of a non-resident bank
    "nonresident_bank",
    "central_depository",
    "international_financial_organisation",  # on the list of NBRK resolution No. 304
    "eurasian_development_bank",
    "kz_government",  # Ministry of Finance, National Bank
    "kz_local_executive_body",
    "nbk_mortgage_entity",  # the National Bank's mortgage-purchasing legal entity (4.3)
    "kz_development_institution",  # DBK, Samruk-Kazyna, Baiterek, Problem Loans Fund (4.4)
    "kz_legal_entity",
    "foreign_state",
    "foreign_legal_entity",
    "other",
]

ExchangeCategory = Literal[
    "kase_main_shares_premium",
    "kase_main_shares_standard",
    "kase_main_debt",
    "kase_alternative_shares",
    "kase_alternative_debt",
    "kase_official_list",  # on the official list, no category above (4.2, 6.1)
    "aix_main_debt_equivalent",  # AIX, meeting the requirements of the KASE main debt sector
    "aix_alternative_debt_equivalent",
    "aix_official_list",  # AIX official list, admitted to public trading (5.3)
    "aix_regional_shares",  # AIX "regional share market segment" (5.4)
]

Residency = Literal["resident_kz", "non_resident"]
ReinsurerBlock = Literal["non_resident", "resident_kz", "eaeu"]
"""1-PN_M blocks: non-residents (excluding EAEU states); residents of Kazakhstan and branches of
non-resident Islamic insurers; reinsurers of EAEU member states."""


class Holding(_Strict):
    instrument_id: str = Field(min_length=1)
    name: str = ""
    instrument_type: InstrumentType
    issuer_id: str | None = None  # the bank, issuer or state; the subject of its ratings
    issuer_name: str | None = None
    issuer_kind: IssuerKind = "other"
    issuer_residency: Residency = "resident_kz"
    parent_id: str | None = None  # the non-resident parent bank of a resident subsidiary bank
    exchange_category: ExchangeCategory | None = None
    issuer_shares_premium: bool = False  # the issuer's shares: KASE main, "shares", "premium"
    issuer_in_exchange_index: bool = False  # the issuer's shares are in the exchange index list
    main_index_member: bool = False  # in the main stock indices (No. 304), or an ETF tracking one
    currency: str = Field(default="KZT", pattern=r"^[A-Z]{3}$")
    carrying_amount: Amount
    overdue: bool = False  # 7.2: a claim for the nominal value that is overdue


class RatingRecord(_Strict):
    subject: str = Field(min_length=1)  # instrument id, issuer id, parent id or reinsurer id
    agency: str  # code in rating_scales.yaml: sp, moodys, fitch, ambest, morningstar
    scale: str  # the agency's scale code: international, national_kz, fsr, icr, stars
    grade: str = Field(min_length=1)  # as published; "NR"/"WD" record a withdrawal
    date: Day  # the day the grade took effect


class Treaty(_Strict):
    treaty_id: str = Field(min_length=1)
    reinsurer_id: str = Field(min_length=1)
    reinsurer_name: str = Field(min_length=1)
    block: ReinsurerBlock
    ceded_liabilities: Amount  # liabilities ceded (to be ceded) under the treaty, tenge
    solvency_ratio: Ratio | None = None  # a resident's own solvency margin ratio if unrated


class Figures(_Strict):
    reserves_net: Amount  # insurance reserves net of the reinsurer's share (1-PN_V row 10)
    repo_liabilities: Amount = Decimal(0)  # 1-PN_V row 9
    minimum_reserve_assets: Amount  # Methodology appendix 1 (1-PN_S row 5)
    assets_net_of_reinsurance: Amount  # the base of the 1% cash-in-hand cap (row 1.1)


class Methodology(_Strict):
    """Amounts computed under the Methodology (ARDFM No. 32), whose text is not available here."""

    actual_margin: SignedAmount  # para 21 (1-PN_S row 2, 1-PN_O/Z row 300)
    decrease_p14: Amount = Decimal(0)  # para 14: decreases row 400
    premium_method: Amount | None = None  # 1-PN_O row 100 (para 9)
    claims_method: Amount | None = None  # 1-PN_O row 200 (para 10)
    life_100: Amount | None = None  # 1-PN_Z row 100 (para 16)
    life_110: Amount | None = None  # of which, death cover (para 17)
    life_120: Amount | None = None  # of which, other life contracts (para 19)
    life_200: Amount | None = None  # accident, illness, compulsory employee accident (para 20)


class CategoryOverride(_Strict):
    instrument_id: str = Field(min_length=1)
    category: str = Field(pattern=r"^[1-7](\.\d{1,2})?$")  # a 1-PN_V row, e.g. "4.7"
    chosen_by: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    chosen_on: Day | None = None


class PrudentialInputs(_Strict):
    branch: BranchProfile
    period: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    holdings: Annotated[tuple[Holding, ...], BeforeValidator(_tuple)] = ()
    ratings: Annotated[tuple[RatingRecord, ...], BeforeValidator(_tuple)] = ()
    treaties: Annotated[tuple[Treaty, ...], BeforeValidator(_tuple)] = ()
    figures: Figures
    methodology: Methodology
    overrides: Annotated[tuple[CategoryOverride, ...], BeforeValidator(_tuple)] = ()

    @property
    def month(self) -> Month:
        year, month = self.period.split("-")
        return Month(int(year), int(month))

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> PrudentialInputs:
        problems = input_problems(self, today=(info.context or {}).get("today"))
        if problems:
            raise ValueError("; ".join(str(p) for p in problems))
        return self


def input_problems(inputs: PrudentialInputs, today: dt.date | None = None) -> list[Problem]:
    """Problems across records: duplicates, unknown agencies or grades, a future period,
    ratings dated after the period, missing methodology rows for the branch's line."""
    from saqta.prudential.ratings import RatingBook

    problems: list[Problem] = []
    month = inputs.month
    today = today or dt.date.today()
    if month > Month.of(today):
        problems.append(Problem("period", f"{inputs.period} is in the future (today is {today})"))
    seen: dict[str, int] = {}
    for i, holding in enumerate(inputs.holdings):
        if holding.instrument_id in seen:
            problems.append(
                Problem(
                    f"holdings[{i}].instrument_id",
                    f"duplicate instrument {holding.instrument_id!r} "
                    f"(also holdings[{seen[holding.instrument_id]}])",
                )
            )
        seen.setdefault(holding.instrument_id, i)
    treaty_ids: dict[str, int] = {}
    reinsurers: dict[str, Treaty] = {}
    for i, treaty in enumerate(inputs.treaties):
        if treaty.treaty_id in treaty_ids:
            problems.append(
                Problem(
                    f"treaties[{i}].treaty_id",
                    f"duplicate treaty {treaty.treaty_id!r} "
                    f"(also treaties[{treaty_ids[treaty.treaty_id]}])",
                )
            )
        treaty_ids.setdefault(treaty.treaty_id, i)
        first = reinsurers.setdefault(treaty.reinsurer_id, treaty)
        if (first.block, first.solvency_ratio, first.reinsurer_name) != (
            treaty.block,
            treaty.solvency_ratio,
            treaty.reinsurer_name,
        ):
            problems.append(
                Problem(
                    f"treaties[{i}]",
                    f"reinsurer {treaty.reinsurer_id!r} has a different name, block or solvency "
                    f"ratio than in treaty {first.treaty_id!r}",
                )
            )
    book = RatingBook.empty()
    for i, record in enumerate(inputs.ratings):
        problem = book.check(record)
        if problem:
            problems.append(Problem(f"ratings[{i}]", problem))
    seen_overrides: set[str] = set()
    for i, override in enumerate(inputs.overrides):
        if override.instrument_id not in seen:
            problems.append(
                Problem(
                    f"overrides[{i}].instrument_id",
                    f"no holding {override.instrument_id!r} in this report",
                )
            )
        if override.instrument_id in seen_overrides:
            problems.append(
                Problem(
                    f"overrides[{i}].instrument_id",
                    f"a second override for {override.instrument_id!r}",
                )
            )
        seen_overrides.add(override.instrument_id)
    m = inputs.methodology
    if inputs.branch.line == "general":
        for name in ("premium_method", "claims_method"):
            if getattr(m, name) is None:
                problems.append(
                    Problem(f"methodology.{name}", "required for a general-insurance branch")
                )
    else:
        for name in ("life_100", "life_110", "life_120", "life_200"):
            if getattr(m, name) is None:
                problems.append(
                    Problem(f"methodology.{name}", "required for a life-insurance branch")
                )
    return problems


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def parse_inputs(
    data: Any, *, source: str = "inputs", today: dt.date | None = None
) -> PrudentialInputs:
    """Validate raw data into :class:`PrudentialInputs`; every problem is one line of an
    :class:`InputError` naming ``source`` and the place (``holdings[2].carrying_amount``)."""
    if isinstance(data, PrudentialInputs):
        data = data.model_dump()
    try:
        return PrudentialInputs.model_validate(data, context={"today": today})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = f"{source}: {_location(tuple(error['loc']))}"
            message = str(error["msg"]).removeprefix("Value error, ")
            if error["type"] == "value_error" and not error["loc"]:
                problems += [Problem(f"{source}: {part}", "") for part in message.split("; ")]
                continue
            if error["type"] == "missing":
                message = "missing required field"
            elif error["type"] == "extra_forbidden":
                message = "unknown field"
            problems.append(Problem(where, message))
        raise InputError([_tidy(p) for p in problems]) from None


def _tidy(problem: Problem) -> Problem:
    if problem.what:
        return problem
    where, _, what = problem.where.partition(": ")
    place, _, message = what.partition(": ")
    return Problem(f"{where}: {place}", message)
