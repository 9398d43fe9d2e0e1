"""The records a branch's prudential inputs are made of: holdings, dated ratings, treaties, the
figures and the Methodology amounts, each a strict Pydantic model in ``Decimal``.

:mod:`saqta.prudential.inputs` assembles them into `PrudentialInputs`
and checks them across records; :mod:`saqta.prudential.ratings` reads the dated ratings.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from saqta.core.money import to_money


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
