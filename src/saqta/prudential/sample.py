"""Realistic synthetic inputs of three branches over consecutive months, and a filing script.

Three branches of non-resident insurers, all fictional: a general insurer, a life insurer and a
reinsurer (a general-line branch whose business is reinsurance). Each has, month by month:

- holdings: cash in hand, current accounts and deposits at rated second-tier banks, a branch of a
  non-resident bank, government securities (MEUKAM/MEOKAM, National Bank notes), bonds of the
  development institutions, corporate bonds on KASE, foreign sovereign and corporate bonds,
  international financial organisations' bonds, shares; carrying amounts drift month to month;
- a rating history that is monitored daily: initial grades, occasional upgrades and downgrades
  on random days (some on the last day of a month, which counts for that month), a withdrawal,
  grades from S&P, Moody's, Fitch and A.M. Best on international and "kz" scales;
- treaties with non-resident, resident and EAEU reinsurers (one starts mid-year);
- figures and the Methodology's amounts, with one month in which the reinsurer breaches the
  solvency margin ratio (a catastrophe loss, restored the next month by the head office).

The filing script says when each branch files each month: on time (a working day before the 6th
working day of the next month), once late, once corrected (with what changed), and one month not
filed at all. Everything is deterministic for a seed: the same seed writes the same files.

Names of companies and banks are invented; state issuers named in the seed's categories (the
Ministry of Finance, the National Bank, the development institutions) are real categories.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Literal

from saqta.core.calendar import kazakhstan_calendar
from saqta.core.errors import InputError
from saqta.core.iin import check_digit
from saqta.core.periods import Month, parse_month
from saqta.core.version import code_version
from saqta.prudential.inputs import PrudentialInputs
from saqta.prudential.records import (
    CategoryOverride,
    Figures,
    Holding,
    Methodology,
    RatingRecord,
    Treaty,
)
from saqta.prudential.report import BranchProfile

DEADLINE_WORKING_DAY = 6  # resolution No. 25, para. 2: the 6th working day of the next month
SAMPLE_FORMAT = "saqta.prudential.sample"
SAMPLE_VERSION = 1

BranchKind = Literal["general", "life", "reinsurer"]


def make_bin(registered: Month, serial: int) -> str:
    """A BIN with a valid check digit: registration year and month, 5 = a non-resident, 1 = a
    branch, a serial; serials whose check digit would be 10 twice are skipped."""
    while True:
        first = f"{registered.year % 100:02d}{registered.month:02d}51{serial:05d}"
        digit = check_digit(first)
        if digit is not None:
            return f"{first}{digit}"
        serial += 1


def _money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Subject:
    """A rated subject with its starting grades: (agency, scale, grade)."""

    code: str
    grades: tuple[tuple[str, str, str], ...]


# The rating ladders used to move a grade one notch.
def _grades(text: str) -> list[str]:
    return text.split()


_INTERNATIONAL = _grades("AAA AA+ AA AA- A+ A A- BBB+ BBB BBB- BB+ BB BB- B+ B B- CCC+")
LADDERS: dict[tuple[str, str], list[str]] = {
    ("sp", "international"): _INTERNATIONAL,
    ("fitch", "international"): _INTERNATIONAL,
    ("moodys", "international"): (
        _grades("Aaa Aa1 Aa2 Aa3 A1 A2 A3 Baa1 Baa2 Baa3 Ba1 Ba2 Ba3 B1 B2 B3 Caa1")
    ),
    ("sp", "national_kz"): ["kz" + grade for grade in _INTERNATIONAL[:-1]],
    ("ambest", "fsr"): _grades("A++ A+ A A- B++ B+ B B- C++"),
}

SUBJECTS: tuple[Subject, ...] = (
    # second-tier banks of Kazakhstan (invented)
    Subject("BANK_DALA", (("sp", "international", "BB+"), ("moodys", "international", "Ba1"))),
    Subject("BANK_TENIR", (("sp", "international", "BB-"), ("sp", "national_kz", "kzA"))),
    Subject("BANK_SARYARKA", (("fitch", "international", "B+"),)),
    Subject("BANK_ALTAI", (("sp", "international", "B"), ("sp", "national_kz", "kzBB+"))),
    Subject("BANK_ORIENT_KZ", (("fitch", "international", "BBB"),)),  # branch of a foreign bank
    Subject("PARENT_ORIENT", (("fitch", "international", "A"),)),
    # issuers
    Subject("KZ_MINFIN", (("sp", "international", "BBB-"), ("moodys", "international", "Baa2"))),
    Subject("KZ_NBK", (("sp", "international", "BBB-"),)),
    Subject("KZ_DBK", (("sp", "international", "BBB-"),)),
    Subject("KZ_SAMRUK", (("sp", "international", "BBB-"),)),
    Subject("KTL", (("sp", "international", "BB"), ("sp", "national_kz", "kzA-"))),
    Subject("QAZAQ_URAN", (("moodys", "international", "Baa3"),)),
    Subject("STEPPE_ENERGY", (("fitch", "international", "B+"),)),
    Subject("US_TREASURY", (("sp", "international", "AA+"), ("moodys", "international", "Aaa"))),
    Subject("REP_TURKEY", (("sp", "international", "B+"), ("fitch", "international", "B+"))),
    Subject("ALPINE_PHARMA", (("sp", "international", "A-"),)),
    Subject("EBRD", (("sp", "international", "AAA"),)),
    # reinsurers (invented)
    Subject("HELVETIC_RE", (("sp", "international", "AA-"), ("ambest", "fsr", "A+"))),
    Subject("RHINE_RE", (("sp", "international", "AA-"),)),
    Subject("ATLAS_RE", (("sp", "international", "A"), ("ambest", "fsr", "A"))),
    Subject("CASPIAN_RE", (("sp", "national_kz", "kzBBB+"),)),
    Subject("MINSK_RE", (("fitch", "international", "BB-"),)),
)


@dataclass(frozen=True)
class RatingEvent:
    """A scheduled change of grade: ``month_offset`` from the first sample month, on ``day``
    (``0`` = the last day of that month)."""

    subject: str
    agency: str
    scale: str
    grade: str
    month_offset: int
    day: int
    why: str


SCHEDULED: tuple[RatingEvent, ...] = (
    RatingEvent(
        "BANK_SARYARKA",
        "fitch",
        "international",
        "B-",
        4,
        0,
        "a bank downgraded B+ -> B- on the last day of the month: current accounts and deposits "
        "move from rows 1.3/3.2 (100%) to rows 1.4/3.3 (90%) for that month already",
    ),
    RatingEvent(
        "REP_TURKEY",
        "sp",
        "international",
        "BB-",
        6,
        12,
        "a foreign sovereign upgraded B+ -> BB- (row 4.12, 80% -> row 4.11, 90%)",
    ),
    RatingEvent(
        "MINSK_RE",
        "fitch",
        "international",
        "B+",
        8,
        17,
        "an EAEU reinsurer downgraded BB- -> B+ (1-PN_M group 16, 0.2% -> group 17, 0.5%)",
    ),
    RatingEvent(
        "STEPPE_ENERGY",
        "fitch",
        "international",
        "WD",
        9,
        3,
        "a foreign corporate issuer's rating withdrawn: its bond no longer fits rows 4.13-4.15",
    ),
    RatingEvent(
        "KTL",
        "sp",
        "national_kz",
        "kzBBB+",
        10,
        25,
        "a KASE issuer downgraded kzA- -> kzBBB+ on the national scale",
    ),
)


@dataclass(frozen=True)
class Position:
    """A holding template: its attributes and its starting carrying amount (tenge)."""

    holding: dict[str, Any]
    amount: Decimal
    drift: Decimal = Decimal("0.02")  # the monthly relative change is within ±drift
    from_offset: int = 0  # first month held


def _h(instrument_id: str, instrument_type: str, **attributes: Any) -> dict[str, Any]:
    return {"instrument_id": instrument_id, "instrument_type": instrument_type, **attributes}


def _bank(bank: str, name: str, kind: str = "kz_second_tier_bank") -> dict[str, Any]:
    return {"issuer_id": bank, "issuer_name": name, "issuer_kind": kind}


DALA = {**_bank("BANK_DALA", 'АО "Dala Bank"'), "issuer_shares_premium": True}
TENIR = _bank("BANK_TENIR", 'АО "Tenir Bank"')
SARYARKA = _bank("BANK_SARYARKA", 'АО "Saryarka Bank"')
ALTAI = _bank("BANK_ALTAI", 'АО "Altai Bank"')
ORIENT = {
    **_bank("BANK_ORIENT_KZ", "Филиал Orient Commercial Bank", "nonresident_bank_branch"),
    "issuer_residency": "non_resident",
}
MINFIN = {
    "issuer_id": "KZ_MINFIN",
    "issuer_name": "Министерство финансов РК",
    "issuer_kind": "kz_government",
    "exchange_category": "kase_main_debt",
}
NBK = {"issuer_id": "KZ_NBK", "issuer_name": "Национальный Банк РК", "issuer_kind": "kz_government"}


def _positions(kind: BranchKind) -> list[Position]:
    """The portfolio of a branch of this kind, in tenge."""
    m = Decimal(1_000_000)
    common = [
        Position(_h("CASH-01", "cash_in_hand", name="Касса"), Decimal("3200000.00")),
        Position(_h("CA-DALA-KZT", "current_account", name="Текущий счет", **DALA), 410 * m),
        Position(_h("CA-SARYARKA-KZT", "current_account", name="Текущий счет", **SARYARKA), 95 * m),
        Position(
            _h("RES-DALA", "reserve_assets_account", name="Резервные активы", **DALA), 250 * m
        ),
        Position(_h("DEP-DALA-2025", "deposit", name="Депозит 12 мес.", **DALA), 1800 * m),
        Position(_h("DEP-SARYARKA-2025", "deposit", name="Депозит 6 мес.", **SARYARKA), 600 * m),
        Position(_h("KZKD00000950", "debt_security", name="МЕУКАМ-120 (2031)", **MINFIN), 3400 * m),
        Position(
            _h("KZW1KD283519", "debt_security", name="Ноты НБРК 28 дн.", **NBK),
            900 * m,
            drift=Decimal("0.15"),
        ),
    ]
    if kind == "general":
        return [
            *common,
            Position(
                _h(
                    "CA-ORIENT-USD",
                    "current_account",
                    name="Текущий счет USD",
                    currency="USD",
                    **ORIENT,
                ),
                120 * m,
            ),
            Position(_h("DEP-TENIR-2025", "deposit", name="Депозит", **TENIR), 1500 * m),
            Position(_h("DEP-ALTAI-2024", "deposit", name="Депозит", **ALTAI), 300 * m),
            Position(
                _h(
                    "KZ2C00007061",
                    "debt_security",
                    name="Облигации KazTransLine",
                    issuer_id="KTL",
                    issuer_name='АО "KazTransLine"',
                    issuer_kind="kz_legal_entity",
                    exchange_category="kase_main_debt",
                ),
                950 * m,
            ),
            Position(
                _h(
                    "KZ2C00003391",
                    "debt_security",
                    name="Облигации Банка Развития",
                    issuer_id="KZ_DBK",
                    issuer_name='АО "Банк Развития Казахстана"',
                    issuer_kind="kz_development_institution",
                    exchange_category="kase_main_debt",
                ),
                700 * m,
            ),
            Position(
                _h(
                    "XS2010030000",
                    "debt_security",
                    name="Turkey 2030 USD",
                    issuer_id="REP_TURKEY",
                    issuer_name="Republic of Turkey",
                    issuer_kind="foreign_state",
                    issuer_residency="non_resident",
                    currency="USD",
                ),
                260 * m,
            ),
            Position(
                _h(
                    "KZ1C00000876",
                    "share",
                    name="Акции Qazaq Uranium",
                    issuer_id="QAZAQ_URAN",
                    issuer_name='АО "Qazaq Uranium"',
                    issuer_kind="kz_legal_entity",
                    exchange_category="kase_main_shares_premium",
                    issuer_in_exchange_index=True,
                ),
                180 * m,
                drift=Decimal("0.06"),
            ),
        ]
    if kind == "life":
        return [
            *common,
            Position(
                _h("KZKD00001107", "debt_security", name="МЕУКАМ-180 (2036)", **MINFIN), 5200 * m
            ),
            Position(
                _h(
                    "KZ2C00006120",
                    "debt_security",
                    name="Облигации Самрук-Казына",
                    issuer_id="KZ_SAMRUK",
                    issuer_name='АО "Самрук-Казына"',
                    issuer_kind="kz_development_institution",
                    exchange_category="kase_main_debt",
                ),
                1400 * m,
            ),
            Position(
                _h(
                    "KZ2C00007079",
                    "debt_security",
                    name="Облигации KazTransLine-2",
                    issuer_id="KTL",
                    issuer_name='АО "KazTransLine"',
                    issuer_kind="kz_legal_entity",
                    exchange_category="kase_main_debt",
                ),
                800 * m,
            ),
            Position(
                _h(
                    "US91282CJN20",
                    "debt_security",
                    name="US Treasury 2028",
                    issuer_id="US_TREASURY",
                    issuer_name="United States Treasury",
                    issuer_kind="foreign_state",
                    issuer_residency="non_resident",
                    currency="USD",
                ),
                1100 * m,
                drift=Decimal("0.03"),
            ),
            Position(
                _h(
                    "XS2200000001",
                    "debt_security",
                    name="EBRD KZT 2027",
                    issuer_id="EBRD",
                    issuer_name="EBRD",
                    issuer_kind="international_financial_organisation",
                    issuer_residency="non_resident",
                ),
                500 * m,
            ),
            Position(
                _h(
                    "CH0012345678",
                    "share",
                    name="Alpine Pharma AG",
                    issuer_id="ALPINE_PHARMA",
                    issuer_name="Alpine Pharma AG",
                    issuer_kind="foreign_legal_entity",
                    issuer_residency="non_resident",
                    currency="CHF",
                ),
                150 * m,
                drift=Decimal("0.07"),
            ),
        ]
    return [
        *common,
        Position(_h("DEP-TENIR-2025", "deposit", name="Депозит", **TENIR), 2400 * m),
        Position(
            _h(
                "US91282CJN20",
                "debt_security",
                name="US Treasury 2028",
                issuer_id="US_TREASURY",
                issuer_name="United States Treasury",
                issuer_kind="foreign_state",
                issuer_residency="non_resident",
                currency="USD",
            ),
            2100 * m,
            drift=Decimal("0.03"),
        ),
        Position(
            _h(
                "XS2400000077",
                "debt_security",
                name="Steppe Energy 2029 USD",
                issuer_id="STEPPE_ENERGY",
                issuer_name="Steppe Energy B.V.",
                issuer_kind="foreign_legal_entity",
                issuer_residency="non_resident",
                currency="USD",
            ),
            350 * m,
        ),
        Position(
            _h(
                "KZ2C00003391",
                "debt_security",
                name="Облигации Банка Развития",
                issuer_id="KZ_DBK",
                issuer_name='АО "Банк Развития Казахстана"',
                issuer_kind="kz_development_institution",
                exchange_category="kase_main_debt",
            ),
            900 * m,
            from_offset=3,
        ),
    ]


@dataclass(frozen=True)
class TreatyPlan:
    treaty: dict[str, Any]
    amount: Decimal
    from_offset: int = 0


def _treaties(kind: BranchKind) -> list[TreatyPlan]:
    m = Decimal(1_000_000)

    def t(tid: str, rid: str, name: str, block: str, **extra: Any) -> dict[str, Any]:
        return {
            "treaty_id": tid,
            "reinsurer_id": rid,
            "reinsurer_name": name,
            "block": block,
            **extra,
        }

    helvetic = ("HELVETIC_RE", "Helvetic Reinsurance AG", "non_resident")
    atlas = ("ATLAS_RE", "Atlas Re Ltd (Bermuda)", "non_resident")
    rhine = ("RHINE_RE", "Rhine Rückversicherung SE", "non_resident")
    caspian = ("CASPIAN_RE", 'АО "Caspian Re"', "resident_kz")
    altyn = ("ALTYN_RE", 'АО "Altyn Re"', "resident_kz")
    minsk = ("MINSK_RE", 'ЗАО "Minsk Re"', "eaeu")
    ararat = ("ARARAT_RE", 'ЗАО "Ararat Re"', "eaeu")
    if kind == "general":
        return [
            TreatyPlan(t("QS-2024-PROP", *helvetic), 2600 * m),
            TreatyPlan(t("XL-2024-CAT", *atlas), 900 * m),
            TreatyPlan(t("FAC-2024-017", *caspian), 310 * m),
            TreatyPlan(t("FAC-2024-022", *altyn, solvency_ratio=Decimal("1.62")), 140 * m),
            TreatyPlan(t("QS-2024-CARGO", *minsk), 220 * m),
            TreatyPlan(t("XL-2024-MOTOR", *rhine), 450 * m, from_offset=3),
        ]
    if kind == "life":
        return [
            TreatyPlan(t("SURPLUS-LIFE-2024", *rhine), 1200 * m),
            TreatyPlan(t("QS-ACC-2024", *altyn, solvency_ratio=Decimal("1.62")), 90 * m),
        ]
    return [
        TreatyPlan(t("RETRO-2024-01", *helvetic), 3100 * m),
        TreatyPlan(t("RETRO-2024-02", *atlas), 1500 * m),
        TreatyPlan(t("RETRO-2024-03", *caspian), 400 * m),
        TreatyPlan(t("RETRO-2024-EA", *ararat), 60 * m),
        TreatyPlan(t("RETRO-2024-MN", *minsk), 180 * m),
    ]


@dataclass(frozen=True)
class BranchPlan:
    key: str
    kind: BranchKind
    profile: BranchProfile
    reserves_net: Decimal  # starting value, tenge
    premium_method: Decimal
    claims_method: Decimal
    margin_cover: Decimal  # actual margin / MSM in a normal month


def branch_plans() -> list[BranchPlan]:
    m = Decimal(1_000_000)
    return [
        BranchPlan(
            key="steppe-general",
            kind="general",
            profile=BranchProfile(
                bin=make_bin(Month(2021, 9), 1207),
                name='Филиал "Steppe General Insurance SE" в Республике Казахстан',
                address="050059, г. Алматы, пр. Аль-Фараби, 77/7, БЦ Esentai Tower, 12 этаж",
                phone="+7 727 356 10 10",
                email="prudential@steppe-general.kz",
                signer="Жумабекова Асель Кайратовна",
                executor="Ким Денис Олегович",
                line="general",
            ),
            reserves_net=10_400 * m,
            premium_method=2_150 * m,
            claims_method=1_870 * m,
            margin_cover=Decimal("1.45"),
        ),
        BranchPlan(
            key="nomad-life",
            kind="life",
            profile=BranchProfile(
                bin=make_bin(Month(2022, 3), 388),
                name='Филиал "Nomad Life Assurance plc" в Республике Казахстан',
                address="010000, г. Астана, пр. Мангилик Ел, 55/20, офис 1204",
                phone="+7 717 264 22 00",
                email="compliance@nomadlife.kz",
                signer="Оспанов Нурлан Серикович",
                executor="Абдрахманова Динара Болатовна",
                line="life",
            ),
            reserves_net=12_800 * m,
            premium_method=0 * m,
            claims_method=0 * m,
            margin_cover=Decimal("1.62"),
        ),
        BranchPlan(
            key="tengri-re",
            kind="reinsurer",
            profile=BranchProfile(
                bin=make_bin(Month(2021, 11), 52),
                name='Филиал "Tengri Re AG" в Республике Казахстан',
                address="050040, г. Алматы, ул. Тимирязева, 42, павильон 15, офис 301",
                phone="+7 727 339 45 45",
                email="reporting@tengri-re.kz",
                signer="Мюллер Томас",
                executor="Сейткали Айгерим Муратовна",
                line="general",
            ),
            reserves_net=7_900 * m,
            premium_method=1_640 * m,
            claims_method=1_720 * m,
            margin_cover=Decimal("1.31"),
        ),
    ]


BREACH = ("tengri-re", 6)
"""The reinsurer breaches the solvency margin ratio in the 7th month (a catastrophe loss)."""
LATE = ("steppe-general", 2, 2)
"""The general insurer files its 3rd month late: 2 working days after the deadline."""
CORRECTION = ("nomad-life", 1)
"""The life insurer corrects its 2nd month's filing after submitting it."""
MISSING = ("tengri-re", -1)
"""The reinsurer has not filed its last month by the end of the script."""


@dataclass
class SampleMonth:
    branch: str
    period: str
    inputs: PrudentialInputs
    path: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass
class SampleSet:
    seed: int
    start: Month
    months: int
    plans: list[BranchPlan]
    months_data: list[SampleMonth]
    corrections: list[SampleMonth]
    ratings: dict[str, list[RatingRecord]]  # per branch: the whole history
    rating_events: list[dict[str, Any]]
    script: list[dict[str, Any]]


def _last_day(month: Month, day: int) -> dt.date:
    return month.last_day if day == 0 else dt.date(month.year, month.month, day)


def _rating_history(
    rng: random.Random, start: Month, months: int
) -> tuple[list[RatingRecord], list[dict[str, Any]]]:
    """Initial grades before the first month, scheduled changes, and random notches."""
    records: list[RatingRecord] = []
    events: list[dict[str, Any]] = []
    current: dict[tuple[str, str, str], str] = {}
    first = start.first_day
    for item in SUBJECTS:
        for agency, scale, grade in item.grades:
            since = first - dt.timedelta(days=rng.randrange(40, 700))
            records.append(
                RatingRecord(subject=item.code, agency=agency, scale=scale, grade=grade, date=since)
            )
            current[(item.code, agency, scale)] = grade
    records.append(
        RatingRecord(
            subject="ALTYN_RE",
            agency="sp",
            scale="national_kz",
            grade="NR",
            date=first - dt.timedelta(days=400),
        )
    )  # a resident that is not rated: 1-PN_M uses its solvency ratio
    scheduled = {(e.subject, e.agency, e.scale, e.month_offset): e for e in SCHEDULED}
    stable = {"KZ_MINFIN", "KZ_NBK", "US_TREASURY", "EBRD", "PARENT_ORIENT"}
    for offset in range(months):
        month = start.shift(offset)
        for (subject, agency, scale, at), event in scheduled.items():
            if at == offset:
                day = _last_day(month, event.day)
                records.append(
                    RatingRecord(
                        subject=subject, agency=agency, scale=scale, grade=event.grade, date=day
                    )
                )
                events.append(
                    {
                        "date": day.isoformat(),
                        "subject": subject,
                        "agency": agency,
                        "scale": scale,
                        "from": current[(subject, agency, scale)],
                        "to": event.grade,
                        "why": event.why,
                    }
                )
                current[(subject, agency, scale)] = event.grade
        # occasional outlook-driven notches on other subjects, on random days
        for _ in range(rng.randrange(0, 3)):
            key = rng.choice(sorted(current))
            subject, agency, scale = key
            ladder = LADDERS.get((agency, scale))
            if subject in stable or ladder is None or current[key] not in ladder:
                continue
            if any(e.subject == subject for e in SCHEDULED):
                continue
            position = ladder.index(current[key])
            step = rng.choice((-1, 1, 1))  # downgrades are the more common move here
            new = ladder[min(max(position + step, 1), len(ladder) - 2)]
            if new == current[key]:
                continue
            day = dt.date(month.year, month.month, rng.randrange(1, month.last_day.day + 1))
            records.append(
                RatingRecord(subject=subject, agency=agency, scale=scale, grade=new, date=day)
            )
            events.append(
                {
                    "date": day.isoformat(),
                    "subject": subject,
                    "agency": agency,
                    "scale": scale,
                    "from": current[key],
                    "to": new,
                    "why": "routine rating action",
                }
            )
            current[key] = new
    records.sort(key=lambda r: (r.date, r.subject, r.agency, r.scale))
    events.sort(key=lambda e: (e["date"], e["subject"]))
    return records, events


def _drifted(rng: random.Random, amount: Decimal, drift: Decimal) -> Decimal:
    factor = Decimal(1) + (Decimal(rng.randrange(-1000, 1001)) / 1000) * drift
    return _money(amount * factor)


def _month_inputs(
    plan: BranchPlan,
    rng: random.Random,
    month: Month,
    offset: int,
    state: dict[str, Decimal],
    ratings: list[RatingRecord],
) -> tuple[PrudentialInputs, list[str]]:
    notes: list[str] = []
    holdings = []
    for position in _positions(plan.kind):
        if offset < position.from_offset:
            continue
        key = position.holding["instrument_id"]
        state[key] = _drifted(rng, state.get(key, position.amount), position.drift)
        holdings.append(Holding.model_validate({**position.holding, "carrying_amount": state[key]}))
    treaties = []
    for treaty_plan in _treaties(plan.kind):
        if offset < treaty_plan.from_offset:
            continue
        key = treaty_plan.treaty["treaty_id"]
        state[key] = _drifted(rng, state.get(key, treaty_plan.amount), Decimal("0.05"))
        treaties.append(
            Treaty.model_validate({**treaty_plan.treaty, "ceded_liabilities": state[key]})
        )
    reserves = _drifted(rng, state.get("reserves", plan.reserves_net), Decimal("0.015"))
    state["reserves"] = reserves
    hla_scale = sum((h.carrying_amount for h in holdings), Decimal(0))
    assets_net = _money(hla_scale * Decimal("1.18"))
    repo = Decimal(0)
    if plan.kind == "general" and offset in (4, 5):
        repo = _money(Decimal(350_000_000) * (1 + Decimal(offset - 4) / 10))
        notes.append(f"REPO liabilities of {repo} tenge (short-term liquidity)")
    figures = Figures(
        reserves_net=reserves,
        repo_liabilities=repo,
        minimum_reserve_assets=_money(reserves * Decimal("0.42")),
        assets_net_of_reinsurance=assets_net,
    )
    cover = plan.margin_cover + Decimal(rng.randrange(-40, 41)) / 1000
    if plan.kind == "life":
        life_110 = _drifted(rng, Decimal(640_000_000), Decimal("0.03"))
        life_120 = _drifted(rng, Decimal(1_180_000_000), Decimal("0.03"))
        life_200 = _drifted(rng, Decimal(95_000_000), Decimal("0.05"))
        msm = life_110 + life_120 + life_200
        methodology = Methodology(
            actual_margin=_money(msm * cover),
            life_100=life_110 + life_120,
            life_110=life_110,
            life_120=life_120,
            life_200=life_200,
        )
    else:
        premium = _drifted(rng, plan.premium_method, Decimal("0.03"))
        claims = _drifted(rng, plan.claims_method, Decimal("0.03"))
        msm = max(premium, claims)
        if (plan.key, offset) == BREACH:
            cover = Decimal("0.86")
            claims = _money(claims * Decimal("1.22"))
            msm = max(premium, claims)
            notes.append(
                "BREACH: a catastrophe loss raises the claims-method MSM and cuts the actual "
                "margin below the minimum: solvency margin ratio < 1"
            )
        elif plan.key == BREACH[0] and offset == BREACH[1] + 1:
            cover = Decimal("1.24")
            notes.append("the head office restored the margin (an endowment of capital)")
        methodology = Methodology(
            actual_margin=_money(msm * cover),
            premium_method=premium,
            claims_method=claims,
            decrease_p14=Decimal(0),
        )
    overrides = []
    if plan.kind == "life":
        overrides.append(
            CategoryOverride(
                instrument_id="KZ2C00007079",
                category="4.5",
                chosen_by=plan.profile.executor,
                reason="KASE main debt sector; the conservative row agreed with the head office",
                chosen_on=month.last_day,
            )
        )
    end = month.last_day
    inputs = PrudentialInputs(
        branch=plan.profile,
        period=str(month),
        holdings=tuple(holdings),
        ratings=tuple(r for r in ratings if r.date <= end),
        treaties=tuple(treaties),
        figures=figures,
        methodology=methodology,
        overrides=tuple(overrides),
    )
    return inputs, notes


def _correct(inputs: PrudentialInputs) -> tuple[PrudentialInputs, list[dict[str, str]]]:
    """The correction: a deposit's carrying amount was keyed with two digits swapped."""
    changes = []
    holdings = []
    for holding in inputs.holdings:
        if holding.instrument_id == "DEP-DALA-2025":
            was = holding.carrying_amount
            digits = list(f"{int(was):d}")
            digits[1], digits[2] = digits[2], digits[1]
            now = Decimal("".join(digits)) + (was - int(was))
            if now == was:
                now = was + Decimal(90_000_000)
            changes.append(
                {
                    "sheet": "holdings",
                    "key": holding.instrument_id,
                    "column": "carrying_amount",
                    "was": format(was, "f"),
                    "now": format(now, "f"),
                    "why": "two digits were swapped when the amount was keyed",
                }
            )
            holding = holding.model_copy(update={"carrying_amount": now})
        holdings.append(holding)
    return inputs.model_copy(update={"holdings": tuple(holdings)}), changes


def generate_samples(seed: int = 1, start: str | Month = "2024-01", months: int = 12) -> SampleSet:
    """The sample inputs, deterministic for ``seed``."""
    first = parse_month(start) if isinstance(start, str) else start
    if months < 3:
        raise InputError("at least 3 months are needed for the filing script", where="--months")
    if first < Month(2024, 1):
        raise InputError(
            "the samples start in 2024-01 or later (the editions of 1-PN_O and 1-PN_Z in the "
            "source text are in force from January 2024)",
            where="--start",
        )
    rng = random.Random(seed)
    ratings, events = _rating_history(rng, first, months)
    plans = branch_plans()
    data: list[SampleMonth] = []
    corrections: list[SampleMonth] = []
    for plan in plans:
        state: dict[str, Decimal] = {}
        branch_rng = random.Random(f"{seed}:{plan.key}")
        for offset in range(months):
            month = first.shift(offset)
            inputs, notes = _month_inputs(plan, branch_rng, month, offset, state, ratings)
            data.append(SampleMonth(plan.key, str(month), inputs, notes=notes))
            if (plan.key, offset) == CORRECTION:
                corrected, changes = _correct(inputs)
                correction = SampleMonth(plan.key, str(month), corrected)
                correction.notes = [json.dumps(change, ensure_ascii=False) for change in changes]
                corrections.append(correction)
    script = _filing_script(rng, plans, first, months, data, corrections)
    return SampleSet(
        seed, first, months, plans, data, corrections, {"all": ratings}, events, script
    )


def _filing_script(
    rng: random.Random,
    plans: list[BranchPlan],
    first: Month,
    months: int,
    data: list[SampleMonth],
    corrections: list[SampleMonth],
) -> list[dict[str, Any]]:
    calendar = kazakhstan_calendar()
    script: list[dict[str, Any]] = []
    for plan in plans:
        for offset in range(months):
            month = first.shift(offset)
            if (plan.key, offset - months) == MISSING:
                continue
            deadline = calendar.nth_working_day(month.next(), DEADLINE_WORKING_DAY)
            if (plan.key, offset) == LATE[:2]:
                day = deadline
                for _ in range(LATE[2]):
                    day = calendar.next_working_day(day + dt.timedelta(days=1))
                kind = "late"
            else:
                day = calendar.nth_working_day(
                    month.next(), rng.randrange(2, DEADLINE_WORKING_DAY + 1)
                )
                kind = "on_time"
            at = dt.datetime.combine(day, dt.time(rng.randrange(9, 18), rng.randrange(0, 60)))
            script.append(
                {
                    "action": "submit",
                    "branch": plan.key,
                    "bin": plan.profile.bin,
                    "period": str(month),
                    "deadline": deadline.isoformat(),
                    "submitted_at": at.isoformat(),
                    "timeliness": kind,
                    "signer": plan.profile.signer,
                }
            )
            if (plan.key, offset) == CORRECTION:
                fix_day = calendar.nth_working_day(month.shift(2), 3)
                correction = next(c for c in corrections if c.branch == plan.key)
                script.append(
                    {
                        "action": "correct",
                        "branch": plan.key,
                        "bin": plan.profile.bin,
                        "period": str(month),
                        "deadline": deadline.isoformat(),
                        "submitted_at": dt.datetime.combine(fix_day, dt.time(11, 5)).isoformat(),
                        "timeliness": "correction",
                        "signer": plan.profile.signer,
                        "reason": "a deposit's carrying amount was keyed wrongly",
                        "changes": [json.loads(note) for note in correction.notes],
                    }
                )
    script.sort(key=lambda event: (event["submitted_at"], event["bin"]))
    return script


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    if path.is_dir():
        for child in sorted(path.iterdir()):
            digest.update(child.name.encode())
            digest.update(child.read_bytes())
    else:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def write_samples(
    out: Path,
    *,
    seed: int = 1,
    start: str | Month = "2024-01",
    months: int = 12,
    fmt: Literal["xlsx", "csv"] = "xlsx",
    on_file: Callable[[int, int], None] | None = None,
) -> Path:
    """Write one input workbook (or CSV folder) per branch and month, the corrected inputs, the
    filing script and ``manifest.json`` into ``out``; return the manifest's path."""
    from saqta.prudential.template import write_inputs_csv, write_inputs_xlsx

    samples = generate_samples(seed, start, months)
    everything = [*samples.months_data, *samples.corrections]
    for index, item in enumerate(everything, start=1):
        suffix = "" if item not in samples.corrections else "_correction_1"
        relative = Path(item.branch) / item.period / f"inputs{suffix}"
        if fmt == "xlsx":
            path = out / relative.with_suffix(".xlsx")
            write_inputs_xlsx(item.inputs, path)
        else:
            path = out / relative
            write_inputs_csv(item.inputs, path)
        item.path = path.relative_to(out).as_posix()
        if on_file is not None:
            on_file(index, len(everything))
    for event in samples.script:
        match = next(
            item
            for item in (
                samples.corrections if event["action"] == "correct" else samples.months_data
            )
            if item.branch == event["branch"] and item.period == event["period"]
        )
        event["inputs"] = match.path
    manifest = {
        "format": SAMPLE_FORMAT,
        "version": SAMPLE_VERSION,
        "seed": seed,
        "start": str(samples.start),
        "months": months,
        "file_format": fmt,
        "synthetic": True,
        "code_version": code_version(),
        "branches": [
            {
                "key": p.key,
                "kind": p.kind,
                "bin": p.profile.bin,
                "name": p.profile.name,
                "line": p.profile.line,
            }
            for p in samples.plans
        ],
        "inputs": [
            {
                "branch": item.branch,
                "period": item.period,
                "path": item.path,
                "sha256": _sha256(out / item.path),
                "notes": item.notes,
                "correction": item in samples.corrections,
            }
            for item in everything
        ],
        "expected": {
            "breach": {
                "branch": BREACH[0],
                "period": str(samples.start.shift(BREACH[1])),
                "ratio": "solvency margin adequacy (1-PN_S row 1 < 1, row 4 = no)",
            },
            "late": {
                "branch": LATE[0],
                "period": str(samples.start.shift(LATE[1])),
                "working_days_late": LATE[2],
            },
            "correction": {
                "branch": CORRECTION[0],
                "period": str(samples.start.shift(CORRECTION[1])),
            },
            "missing": {"branch": MISSING[0], "period": str(samples.start.shift(months - 1))},
        },
        "rating_events": samples.rating_events,
        "filing_script": samples.script,
    }
    (out / "filing_script.json").write_text(
        json.dumps(samples.script, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    manifest_path = out / "manifest.json"
    manifest_path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return manifest_path


@dataclass(frozen=True)
class ScriptEvent:
    """One step of the filing script, with the inputs it files."""

    action: Literal["submit", "correct"]
    branch: str
    bin: str
    period: str
    deadline: dt.date
    submitted_at: dt.datetime
    timeliness: Literal["on_time", "late", "correction"]
    signer: str
    inputs: Path
    reason: str | None = None
    changes: tuple[dict[str, str], ...] = ()


def load_script(manifest_path: Path) -> list[ScriptEvent]:
    """The filing script of a sample folder in the order to replay it, with absolute input paths:
    for each event, ``compute(load_inputs(event.inputs))`` is what the branch files."""
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if not isinstance(manifest, dict) or manifest.get("format") != SAMPLE_FORMAT:
        raise InputError(f"not a {SAMPLE_FORMAT} manifest", where=str(manifest_path))
    root = manifest_path.parent
    return [
        ScriptEvent(
            action=event["action"],
            branch=event["branch"],
            bin=event["bin"],
            period=event["period"],
            deadline=dt.date.fromisoformat(event["deadline"]),
            submitted_at=dt.datetime.fromisoformat(event["submitted_at"]),
            timeliness=event["timeliness"],
            signer=event["signer"],
            inputs=root / event["inputs"],
            reason=event.get("reason"),
            changes=tuple(event.get("changes", ())),
        )
        for event in manifest["filing_script"]
    ]
