"""Computation of the monthly forms of one branch, exactly as NBRK resolution No. 25 states them.

:func:`compute` takes :class:`~saqta.prudential.inputs.PrudentialInputs` and returns a
:class:`~saqta.prudential.report.ReportSet`: 1-PN_S, 1-PN_M, 1-PN_V and, by the branch's line,
1-PN_O (general insurance) or 1-PN_Z (life insurance). Every value is an unrounded ``Decimal`` in
tenge (percentages as printed: 0.2 means 0.2 %; ratios as plain numbers); rounding to thousands
and to two decimals is the renderers' job. Every cell's row carries an ``explanation`` for the
audit trail. The findings of :mod:`saqta.prudential.validate` are attached.

Rows added to the fixed layout rows:

- 1-PN_M: one row per reinsurer after its group's row, code ``"<group>.<n>"``, ``group`` set to
  the group number and ``label`` to the reinsurer's name (reinsurers ordered by name, then id);
- 1-PN_V: one detail row per holding after its category's row, code ``"<category>/<instrument
  id>"``, ``group`` set to the category code. Renderers of the official layout print only the
  layout rows (rows whose ``group`` is ``None``) for 1-PN_V; the detail rows are the audit trail.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from saqta.core.errors import InputError
from saqta.core.periods import Month
from saqta.prudential import reference
from saqta.prudential.inputs import PrudentialInputs
from saqta.prudential.ratings import Policy, RatingBook, ResolvedRating
from saqta.prudential.records import Holding, Treaty
from saqta.prudential.reference import Condition, HlaCategory, ReinsurerGroup, ScaleKind, combine
from saqta.prudential.report import (
    CellValue,
    Finding,
    Form,
    FormCode,
    FormLayout,
    ReportSet,
    Row,
    sort_findings,
)

ZERO = Decimal(0)
HUNDRED = Decimal(100)


@dataclass
class Context:
    """What every form's computation needs: the period, the rules and the ratings."""

    inputs: PrudentialInputs
    month: Month
    on: dt.date  # the last day of the reporting month
    book: RatingBook
    policy: Policy
    dirs: Sequence[Path] | None
    findings: list[Finding] = field(default_factory=list)
    specs: dict[str, reference.CheckSpec] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.specs = reference.checks(self.dirs)

    def finding(
        self,
        rule_id: str,
        message: str,
        form: FormCode | None = None,
        row: str | None = None,
        column: str | None = None,
    ) -> None:
        self.findings.append(
            reference.make_finding(self.specs, rule_id, message, form, row, column)
        )

    def layout(self, form: FormCode) -> FormLayout:
        return reference.layout(form, self.on, self.dirs)

    def note_unverified(self, rating: ResolvedRating | None, form: FormCode, row: str) -> None:
        if rating is not None and not rating.verified:
            self.finding(
                "R-unverified-mapping",
                f"{rating.subject}: {rating.agency} {rating.scale} grade {rating.grade} read as "
                f"S&P {rating.equivalent} through a correspondence table marked unverified",
                form=form,
                row=row,
            )


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _n(value: CellValue) -> str:
    """A number as plain digits for an explanation: 30200000.0 -> 30200000; None -> empty."""
    if not isinstance(value, Decimal):
        return "empty" if value is None else str(value)
    text = format(value.normalize(), "f")
    return "0" if text == "-0" else text


def _ratio(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    return numerator / denominator if denominator > 0 else None


# ----------------------------------------------------------------------------------- 1-PN_M


@dataclass(frozen=True)
class Reinsurer:
    reinsurer_id: str
    name: str
    block: str
    ceded: Decimal
    solvency_ratio: Decimal | None
    treaties: tuple[str, ...]


@dataclass(frozen=True)
class Placement:
    reinsurer: Reinsurer
    group: ReinsurerGroup
    shown: str | Decimal | None  # column 2: the grade as published, or the ratio (a number)
    explanation: str
    rating: ResolvedRating | None


def _reinsurers(treaties: Sequence[Treaty]) -> list[Reinsurer]:
    by_id: dict[str, list[Treaty]] = defaultdict(list)
    for treaty in treaties:
        by_id[treaty.reinsurer_id].append(treaty)
    found = []
    for reinsurer_id, items in by_id.items():
        first = items[0]
        found.append(
            Reinsurer(
                reinsurer_id=reinsurer_id,
                name=first.reinsurer_name,
                block=first.block,
                ceded=sum((t.ceded_liabilities for t in items), ZERO),
                solvency_ratio=first.solvency_ratio,
                treaties=tuple(sorted(t.treaty_id for t in items)),
            )
        )
    return sorted(found, key=lambda r: (r.name, r.reinsurer_id))


def place_reinsurer(ctx: Context, reinsurer: Reinsurer) -> Placement:
    """The 1-PN_M group of a reinsurer by its rating at the end of the period (or, for a
    resident without a qualifying rating, by its solvency margin adequacy ratio)."""
    groups = [
        g for g in reference.reinsurer_groups(ctx.on, ctx.dirs).groups if g.block == reinsurer.block
    ]
    intl = ctx.book.select(reinsurer.reinsurer_id, ctx.on, "international", ctx.policy)
    kz = (
        ctx.book.select(reinsurer.reinsurer_id, ctx.on, "national_kz", ctx.policy)
        if reinsurer.block == "resident_kz"
        else None
    )
    ratings = [r for r in (intl, kz) if r is not None]
    matched: list[tuple[ReinsurerGroup, ResolvedRating]] = []
    for group in groups:
        for rating in ratings:
            if any(ctx.book.in_range(rating, grades) for grades in group.ratings):
                matched.append((group, rating))
                break
    if matched:
        ordered = sorted(matched, key=lambda m: m[0].percent)
        group, rating = ordered[0] if ctx.policy == "best" else ordered[-1]
        text = f"rated {rating.describe()} at {ctx.on}: group {group.group} ({group.criterion_en})"
        return Placement(reinsurer, group, rating.grade, text, rating)
    if reinsurer.block != "resident_kz":
        group = next(g for g in groups if g.unrated)
        text = f"no international rating in force at {ctx.on}: group {group.group}"
        return Placement(reinsurer, group, None, text, None)
    prefix = f"no rating in force at {ctx.on}; "
    ratio_groups = [g for g in groups if g.ratio is not None]
    if reinsurer.solvency_ratio is None:
        group = ratio_groups[-1]
        return Placement(
            reinsurer,
            group,
            None,
            prefix + f"no solvency margin ratio given: group {group.group} until it is",
            None,
        )
    for group in ratio_groups:
        assert group.ratio is not None
        if group.ratio.holds(reinsurer.solvency_ratio):
            text = (
                prefix + f"solvency margin adequacy ratio {_n(reinsurer.solvency_ratio)} "
                f"{group.ratio.op} {_n(group.ratio.value)}: group {group.group}"
            )
            return Placement(reinsurer, group, reinsurer.solvency_ratio, text, None)
    raise AssertionError("the ratio groups cover every ratio")  # pragma: no cover


def compute_m(ctx: Context) -> Form:
    form: FormCode = "1-PN_M"
    layout = ctx.layout(form)
    placements = [place_reinsurer(ctx, r) for r in _reinsurers(ctx.inputs.treaties)]
    by_group: dict[str, list[Placement]] = defaultdict(list)
    for placement in placements:
        by_group[placement.group.group].append(placement)
        reinsurer = placement.reinsurer
        if placement.rating is None and reinsurer.block != "resident_kz":
            ctx.finding(
                "M-missing-rating",
                f"{reinsurer.name} ({reinsurer.reinsurer_id}) has no rating in force at "
                f"{ctx.on}: group {placement.group.group}, {_n(placement.group.percent)} % of "
                f"{_money(reinsurer.ceded)}",
                form=form,
                row=placement.group.group,
            )
        if (
            reinsurer.block == "resident_kz"
            and placement.rating is None
            and reinsurer.solvency_ratio is None
        ):
            ctx.finding(
                "M-resident-no-ratio",
                f"{reinsurer.name} ({reinsurer.reinsurer_id}) is a resident without a qualifying "
                f"rating and without a solvency margin ratio: placed in group "
                f"{placement.group.group} ({_n(placement.group.percent)} %)",
                form=form,
                row=placement.group.group,
            )
        ctx.note_unverified(placement.rating, form, placement.group.group)
    groups = {g.group: g for g in reference.reinsurer_groups(ctx.on, ctx.dirs).groups}
    rows: list[Row] = []
    total_ceded = ZERO
    total_increase = ZERO
    for spec in layout.rows:
        if spec.kind == "section":
            rows.append(Row(code=spec.code, cells={}))
        elif spec.kind == "group":
            group = groups[spec.code]
            members = by_group.get(spec.code, [])
            detail = []
            ceded = ZERO
            increase = ZERO
            for n, placement in enumerate(members, start=1):
                reinsurer = placement.reinsurer
                amount = reinsurer.ceded * group.percent / HUNDRED
                ceded += reinsurer.ceded
                increase += amount
                detail.append(
                    Row(
                        code=f"{spec.code}.{n}",
                        label=reinsurer.name,
                        group=spec.code,
                        cells={
                            "1": reinsurer.name,
                            "2": placement.shown,
                            "3": reinsurer.ceded,
                            "4": group.percent,
                            "5": amount,
                        },
                        explanation=(
                            f"{reinsurer.reinsurer_id}, treaties {', '.join(reinsurer.treaties)}: "
                            f"{placement.explanation}; increase {_money(reinsurer.ceded)} x "
                            f"{_n(group.percent)} % = {_n(amount)}"
                        ),
                    )
                )
            total_ceded += ceded
            total_increase += increase
            rows.append(
                Row(
                    code=spec.code,
                    cells={"3": ceded, "4": group.percent, "5": increase},
                    explanation=(
                        f"group {spec.code} ({group.criterion_en}; {group.source}): "
                        f"{len(members)} reinsurer(s), ceded {_money(ceded)}, increase "
                        f"{_n(increase)}"
                    ),
                )
            )
            rows.extend(detail)
        elif spec.kind == "total":
            rows.append(
                Row(
                    code=spec.code,
                    cells={"3": total_ceded, "5": total_increase},
                    explanation="sum of the 18 groups' columns 3 and 5",
                )
            )
    return Form(form=form, layout_valid_from=layout.valid_from, rows=tuple(rows))


def m_total(form: Form) -> Decimal:
    for row in form.rows:
        if row.code == "total":
            value = row.cells.get("5")
            return value if isinstance(value, Decimal) else ZERO
    return ZERO


# ----------------------------------------------------------------------------------- 1-PN_V


def _rating_for(
    ctx: Context, holding: Holding, condition: Condition, scale: ScaleKind
) -> ResolvedRating | None:
    if condition.rating_of == "parent":
        return ctx.book.select(holding.parent_id, ctx.on, scale, ctx.policy)
    if condition.rating_of == "issuer":
        return ctx.book.select(holding.issuer_id, ctx.on, scale, ctx.policy)
    own = ctx.book.select(holding.instrument_id, ctx.on, scale, ctx.policy)
    return own or ctx.book.select(holding.issuer_id, ctx.on, scale, ctx.policy)


def _meets(
    ctx: Context, holding: Holding, condition: Condition
) -> tuple[bool, ResolvedRating | None]:
    """Whether ``holding`` meets ``condition``, and the rating that decided it (if any)."""
    if not (
        holding.instrument_type in condition.instrument_types
        and (condition.issuer_kinds is None or holding.issuer_kind in condition.issuer_kinds)
        and (
            condition.issuer_residency is None
            or holding.issuer_residency == condition.issuer_residency
        )
        and (
            condition.exchange_categories is None
            or holding.exchange_category in condition.exchange_categories
        )
        and (
            condition.issuer_shares_premium is None
            or holding.issuer_shares_premium == condition.issuer_shares_premium
        )
        and (
            condition.issuer_in_exchange_index is None
            or holding.issuer_in_exchange_index == condition.issuer_in_exchange_index
        )
        and (
            condition.main_index_member is None
            or holding.main_index_member == condition.main_index_member
        )
        and (condition.currency is None or holding.currency == condition.currency)
        and (condition.overdue is None or holding.overdue == condition.overdue)
    ):
        return False, None
    if condition.min_stars is not None:
        stars = ctx.book.select(holding.instrument_id, ctx.on, "stars", ctx.policy)
        if stars is None or stars.equivalent is None or int(stars.equivalent) < condition.min_stars:
            return False, None
        return True, stars
    if condition.rating is not None:
        for grades in condition.rating:
            rating = _rating_for(ctx, holding, condition, grades.scale)
            if ctx.book.in_range(rating, grades):
                return True, rating
        return False, None
    return True, None


@dataclass(frozen=True)
class Classified:
    holding: Holding
    category: HlaCategory | None
    matched: tuple[str, ...]
    rating: ResolvedRating | None
    explanation: str


Candidates = list[tuple[HlaCategory, tuple[Condition, ...]]]


def candidates_by_type(categories: Sequence[HlaCategory]) -> dict[str, Candidates]:
    """For each instrument type, the categories (form order) and their conditions naming it."""
    index: dict[str, Candidates] = defaultdict(list)
    for category in categories:
        types = {t for condition in category.criteria for t in condition.instrument_types}
        for kind in sorted(types):
            conditions = tuple(c for c in category.criteria if kind in c.instrument_types)
            index[kind].append((category, conditions))
    return index


def classify_holding(
    ctx: Context,
    holding: Holding,
    categories: Sequence[HlaCategory],
    index: dict[str, Candidates] | None = None,
) -> tuple[list[tuple[HlaCategory, ResolvedRating | None]], HlaCategory | None]:
    """Every category ``holding`` fits (form order) and the suggested one: the highest accepted
    share, the first in form order on a tie."""
    index = index if index is not None else candidates_by_type(categories)
    matches: list[tuple[HlaCategory, ResolvedRating | None]] = []
    for category, conditions in index.get(holding.instrument_type, ()):
        for condition in conditions:
            ok, rating = _meets(ctx, holding, condition)
            if ok:
                matches.append((category, rating))
                break
    suggested = None
    for category, _ in matches:
        if suggested is None or category.share > suggested.share:
            suggested = category
    return matches, suggested


def _needs_rating(holding: Holding, categories: Sequence[HlaCategory]) -> bool:
    return any(
        holding.instrument_type in c.instrument_types and (c.rating or c.min_stars)
        for category in categories
        for c in category.criteria
    )


def _classify_all(ctx: Context, categories: Sequence[HlaCategory]) -> list[Classified]:
    form: FormCode = "1-PN_V"
    by_code = {c.code: c for c in categories}
    overrides = {o.instrument_id: o for o in ctx.inputs.overrides}
    index = candidates_by_type(categories)
    result = []
    for holding in sorted(ctx.inputs.holdings, key=lambda h: h.instrument_id):
        matches, suggested = classify_holding(ctx, holding, categories, index)
        codes = tuple(c.code for c, _ in matches)
        chosen = suggested
        text = (
            f"fits {', '.join(codes)}; suggested {suggested.code} ({_n(suggested.share)} %)"
            if suggested is not None
            else "fits no category"
        )
        override = overrides.get(holding.instrument_id)
        if override is not None:
            picked = by_code.get(override.category)
            if picked is None:
                ctx.finding(
                    "V-override-not-matching",
                    f"{holding.instrument_id}: {override.chosen_by} chose category "
                    f"{override.category}, which is not a 1-PN_V category; the suggestion stands",
                    form=form,
                    row=override.category,
                )
            else:
                if picked.code not in codes:
                    ctx.finding(
                        "V-override-not-matching",
                        f"{holding.instrument_id}: {override.chosen_by} chose category "
                        f"{picked.code} but the holding meets only "
                        f"{', '.join(codes) or 'no category'}",
                        form=form,
                        row=picked.code,
                    )
                chosen = picked
                when = f" on {override.chosen_on}" if override.chosen_on else ""
                text += (
                    f"; category {picked.code} chosen by {override.chosen_by}{when} "
                    f"(Annex 6 para 8): {override.reason}"
                )
        elif len(codes) > 1:
            ctx.finding(
                "V-multi-category",
                f"{holding.instrument_id} ({_money(holding.carrying_amount)}) fits "
                f"{', '.join(codes)}; suggested {chosen.code if chosen else '-'} "
                "(the branch may choose, Annex 6 para 8)",
                form=form,
                row=chosen.code if chosen else None,
            )
        rating = next((r for c, r in matches if chosen is not None and c.code == chosen.code), None)
        if rating is not None:
            text += f"; rating used: {rating.describe()}"
            ctx.note_unverified(rating, form, chosen.code if chosen else "")
        if chosen is None:
            subjects = [s for s in (holding.instrument_id, holding.issuer_id) if s]
            has_rating = any(ctx.book.as_of(s, ctx.on) for s in subjects)
            if _needs_rating(holding, categories) and not has_rating:
                ctx.finding(
                    "V-missing-rating",
                    f"{holding.instrument_id} ({holding.instrument_type}, "
                    f"{_money(holding.carrying_amount)}) has no rating in force at {ctx.on} "
                    f"(instrument or issuer {holding.issuer_id or '-'}): not counted",
                    form=form,
                )
            else:
                ctx.finding(
                    "V-no-category",
                    f"{holding.instrument_id} ({holding.instrument_type}, "
                    f"{_money(holding.carrying_amount)}) fits no 1-PN_V category: not counted",
                    form=form,
                )
        result.append(Classified(holding, chosen, codes, rating, text))
    return result


def compute_v(ctx: Context) -> Form:
    form: FormCode = "1-PN_V"
    layout = ctx.layout(form)
    categories = reference.hla_categories(ctx.on, ctx.dirs).categories
    by_code = {c.code: c for c in categories}
    classified = _classify_all(ctx, categories)
    members: dict[str, list[Classified]] = defaultdict(list)
    for item in classified:
        if item.category is not None:
            members[item.category.code].append(item)
    figures = ctx.inputs.figures
    cap_share = reference.prudential_rules(ctx.dirs).decimal(
        "prudential.cash_in_hand_cap_share", ctx.on
    )
    item_values: dict[str, tuple[Decimal, Decimal]] = {}
    rows: list[Row] = []
    detail_rows: dict[str, list[Row]] = defaultdict(list)
    for code, category in by_code.items():
        carrying = ZERO
        amount = ZERO
        for item in members.get(code, []):
            value = item.holding.carrying_amount * category.share / HUNDRED
            carrying += item.holding.carrying_amount
            amount += value
            detail_rows[code].append(
                Row(
                    code=f"{code}/{item.holding.instrument_id}",
                    label=item.holding.name or item.holding.instrument_id,
                    group=code,
                    cells={"3": item.holding.carrying_amount, "4": category.share, "5": value},
                    explanation=item.explanation,
                )
            )
        explanation = (
            f"{len(members.get(code, []))} holding(s), carrying {_money(carrying)} x "
            f"{_n(category.share)} % = {_n(amount)} ({category.source})"
        )
        if category.cash_cap:
            cap = cap_share * figures.assets_net_of_reinsurance
            if amount > cap:
                ctx.finding(
                    "V-cash-cap",
                    f"cash in hand {_money(amount)} exceeds {cap_share * HUNDRED} % of assets net "
                    f"of reinsurance assets ({_money(figures.assets_net_of_reinsurance)}) = "
                    f"{_money(cap)}: {_money(amount - cap)} not counted",
                    form=form,
                    row=code,
                    column="5",
                )
                explanation += (
                    f"; capped at {cap_share} x {_money(figures.assets_net_of_reinsurance)} "
                    f"= {_n(cap)} (excess {_n(amount - cap)} not counted)"
                )
                amount = cap
        item_values[code] = (carrying, amount)
        rows_for = Row(
            code=code,
            cells={"3": carrying, "4": category.share, "5": amount},
            explanation=explanation,
        )
        detail_rows[code].insert(0, rows_for)
    row8_carrying = ZERO
    row8_amount = ZERO
    repo = figures.repo_liabilities
    reserves = figures.reserves_net
    for spec in layout.rows:
        if spec.kind == "section":
            items = [r.code for r in layout.rows if r.parent == spec.code]
            carrying = sum((item_values[c][0] for c in items), ZERO)
            amount = sum((item_values[c][1] for c in items), ZERO)
            rows.append(
                Row(
                    code=spec.code,
                    cells={"3": carrying, "5": amount},
                    explanation=f"sum of rows {', '.join(items)}",
                )
            )
        elif spec.code in by_code:
            rows.extend(detail_rows[spec.code])
        elif spec.code == "8":
            tops = [r.code for r in layout.rows if r.parent is None and r.code in _TOP_CODES]
            row8_carrying = sum((_top_value(rows, c, "3") for c in tops), ZERO)
            row8_amount = sum((_top_value(rows, c, "5") for c in tops), ZERO)
            rows.append(
                Row(
                    code="8",
                    cells={"3": row8_carrying, "5": row8_amount},
                    explanation=f"sum of rows {', '.join(tops)} (column 5: HLA before REPO)",
                )
            )
        elif spec.code == "9":
            rows.append(
                Row(code="9", cells={"5": repo}, explanation="REPO liabilities (input; para 10)")
            )
        elif spec.code == "10":
            rows.append(
                Row(
                    code="10",
                    cells={"5": reserves},
                    explanation=(
                        "insurance reserves net of the reinsurer's share at the end of the month "
                        "(input; NBRK resolution No. 13 of 31.01.2019; para 11)"
                    ),
                )
            )
        elif spec.code == "11":
            net = row8_amount - repo
            ratio = _ratio(net, reserves)
            rows.append(
                Row(
                    code="11",
                    cells={"5": ratio},
                    explanation=(
                        f"(row 8 {_n(row8_amount)} - row 9 {_n(repo)}) / row 10 {_n(reserves)} = "
                        f"{_n(ratio)}"
                        if ratio is not None
                        else "row 10 is zero: the ratio is not defined"
                    ),
                )
            )
    return Form(form=form, layout_valid_from=layout.valid_from, rows=tuple(rows))


_TOP_CODES = ("1", "2", "3", "4", "5", "6", "7")
"""The rows of 1-PN_V that add up to row 8: the six sections and row 2."""


def _top_value(rows: Sequence[Row], code: str, column: str) -> Decimal:
    for row in rows:
        if row.code == code and row.group is None:
            value = row.cells.get(column)
            return value if isinstance(value, Decimal) else ZERO
    return ZERO


def cell(form: Form, code: str, column: str) -> CellValue:
    for row in form.rows:
        if row.code == code and row.group is None:
            return row.cells.get(column)
    return None


def amount(form: Form, code: str, column: str) -> Decimal:
    value = cell(form, code, column)
    return value if isinstance(value, Decimal) else ZERO


# ------------------------------------------------------------------------------- 1-PN_O / Z


def compute_msm(ctx: Context, increase: Decimal) -> Form:
    m = ctx.inputs.methodology
    rules = reference.prudential_rules(ctx.dirs)
    life = ctx.inputs.branch.line == "life"
    form: FormCode = "1-PN_Z" if life else "1-PN_O"
    layout = ctx.layout(form)
    if life:
        rule = rules.value("prudential.life_msm_combine", ctx.on)
        adjusted = bool(rules.value("prudential.life_msm_adjusted", ctx.on))
        first, second = m.life_100 or ZERO, m.life_200 or ZERO
        inputs_rows = {
            "100": (first, "Methodology para 16 (input)"),
            "110": (m.life_110 or ZERO, "Methodology para 17 (input); part of row 100"),
            "120": (m.life_120 or ZERO, "Methodology para 19 (input); part of row 100"),
            "200": (second, "Methodology para 20 (input)"),
        }
    else:
        rule = rules.value("prudential.general_msm_combine", ctx.on)
        adjusted = True
        first, second = m.premium_method or ZERO, m.claims_method or ZERO
        inputs_rows = {
            "100": (first, "premium method, Methodology para 9 (input)"),
            "200": (second, "claims method, Methodology para 10 (input)"),
        }
    base = combine(str(rule), first, second)
    plus = increase if adjusted else ZERO
    minus = m.decrease_p14 if adjusted else ZERO
    row400 = base + plus - minus
    ratio = _ratio(m.actual_margin, row400)
    rows: list[Row] = []
    for spec in layout.rows:
        if spec.code in inputs_rows:
            value, why = inputs_rows[spec.code]
            rows.append(Row(code=spec.code, cells={"4": value}, explanation=why))
        elif spec.code == "300":
            rows.append(
                Row(
                    code="300",
                    cells={"4": m.actual_margin},
                    explanation="actual solvency margin, Methodology para 21 (input)",
                )
            )
        elif spec.code == "400":
            rows.append(
                Row(
                    code="400",
                    cells={"4": row400},
                    explanation=(
                        f"{rule}(row 100 {_n(first)}, row 200 {_n(second)}) = {_n(base)}"
                        + (
                            f" + 1-PN_M total {_n(plus)} (para 11) - para 14 decrease {_n(minus)}"
                            if adjusted
                            else " (not adjusted: parameter life_msm_adjusted is false)"
                        )
                        + f" = {_n(row400)}"
                    ),
                )
            )
        elif spec.code == "500":
            rows.append(
                Row(
                    code="500",
                    cells={"4": ratio},
                    explanation=(
                        f"row 300 {_n(m.actual_margin)} / row 400 {_n(row400)} = {_n(ratio)}"
                        if ratio is not None
                        else f"row 400 is {_n(row400)}: the ratio is not defined"
                    ),
                )
            )
    return Form(form=form, layout_valid_from=layout.valid_from, rows=tuple(rows))


# ----------------------------------------------------------------------------------- 1-PN_S


def compute_s(ctx: Context, msm: Form, hla: Form) -> Form:
    form: FormCode = "1-PN_S"
    layout = ctx.layout(form)
    rules = reference.prudential_rules(ctx.dirs)
    solvency_min = rules.decimal("prudential.solvency_ratio_minimum", ctx.on)
    hla_min = rules.decimal("prudential.hla_ratio_minimum", ctx.on)
    line_form = msm.form
    ratio = cell(msm, "500", "4")
    hla_ratio = cell(hla, "11", "5")
    v8, v9, v10 = amount(hla, "8", "5"), amount(hla, "9", "5"), amount(hla, "10", "5")
    solvency_met = isinstance(ratio, Decimal) and ratio >= solvency_min
    hla_met = hla_ratio >= hla_min if isinstance(hla_ratio, Decimal) else v10 == 0
    values: dict[str, tuple[CellValue, str]] = {
        "1": (ratio, f"{line_form} row 500 (Methodology ch. 2 para 1)"),
        "2": (cell(msm, "300", "4"), f"{line_form} row 300 (Methodology para 21)"),
        "3": (
            cell(msm, "400", "4"),
            f"{line_form} row 400 (Methodology paras 4, 8, 11, 12, 14, 15)",
        ),
        "4": (
            solvency_met,
            f"row 1 {_n(ratio)} >= {_n(solvency_min)}: {'yes' if solvency_met else 'no'}",
        ),
        "5": (
            ctx.inputs.figures.minimum_reserve_assets,
            "minimum reserve assets, Methodology appendix 1 (input)",
        ),
        "6": (hla_ratio, "1-PN_V row 11 (Methodology ch. 2 para 2)"),
        "7": (v8 - v9, f"1-PN_V row 8 {_n(v8)} - row 9 {_n(v9)} (HLA net of REPO liabilities)"),
        "8": (v9, "1-PN_V row 9"),
        "9": (v10, "1-PN_V row 10"),
        "10": (
            hla_met,
            f"row 6 {_n(hla_ratio)} >= {_n(hla_min)}: {'yes' if hla_met else 'no'}"
            + (" (no reserves: the norm is met)" if hla_ratio is None and v10 == 0 else ""),
        ),
    }
    rows = [
        Row(code=spec.code, cells={"3": values[spec.code][0]}, explanation=values[spec.code][1])
        for spec in layout.rows
    ]
    return Form(form=form, layout_valid_from=layout.valid_from, rows=tuple(rows))


# ------------------------------------------------------------------------------------- entry


def compute(
    inputs: PrudentialInputs,
    period: str | Month | None = None,
    *,
    dirs: Sequence[Path] | None = None,
    computed_at: dt.datetime | None = None,
) -> ReportSet:
    """The forms of ``inputs.branch`` for ``period`` (default: ``inputs.period``), with findings."""
    from saqta.prudential.validate import validate

    if period is not None and str(period) != inputs.period:
        raise InputError(
            f"the inputs are for {inputs.period}, not {period}", where="compute(period)"
        )
    month = inputs.month
    on = month.last_day
    rules = reference.prudential_rules(dirs)
    policy = rules.value("prudential.rating_selection", on)
    if policy not in ("best", "worst"):
        raise InputError(f"rating_selection must be best or worst, not {policy!r}")
    ctx = Context(
        inputs=inputs,
        month=month,
        on=on,
        book=RatingBook(reference.rating_scales(dirs), inputs.ratings),
        policy=policy,
        dirs=dirs,
    )
    m_form = compute_m(ctx)
    v_form = compute_v(ctx)
    msm_form = compute_msm(ctx, m_total(m_form))
    s_form = compute_s(ctx, msm_form, v_form)
    forms: dict[FormCode, Form] = {
        "1-PN_S": s_form,
        "1-PN_M": m_form,
        msm_form.form: msm_form,
        "1-PN_V": v_form,
    }
    report = ReportSet(
        branch=inputs.branch,
        period=inputs.period,
        forms=forms,
        rules_version=rules.version,
        computed_at=computed_at or dt.datetime.now(dt.UTC),
    )
    findings = sort_findings([*_dedupe(ctx.findings), *validate(report, inputs=inputs, dirs=dirs)])
    return report.model_copy(update={"findings": tuple(findings)})


def _dedupe(findings: Sequence[Finding]) -> list[Finding]:
    return list(dict.fromkeys(findings))
