"""Validation of a report set: checks within each form and across forms.

Every check has a stable rule id and a severity from ``rules/prudential/checks.yaml``; every
message shows the numbers compared. :func:`validate` works on a :class:`ReportSet` alone, so the
regulator's intake can check a report set received from elsewhere; given the branch's inputs it
also checks what only the inputs hold (the para 14 decrease in row 400, the cash cap).
Amounts received already rounded (thousands of tenge, ratios to 2 decimals) can be checked with
``amount_tolerance`` and ``ratio_tolerance``.

Findings about the inputs (missing ratings, holdings fitting no category, a category override
the criteria do not allow...) are produced by :func:`saqta.prudential.compute.compute` and kept
by :func:`revalidate`, which recomputes the form checks of a report set and keeps those.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from saqta.core.errors import RulesError
from saqta.core.periods import Month
from saqta.prudential import reference
from saqta.prudential.inputs import PrudentialInputs
from saqta.prudential.reference import combine
from saqta.prudential.report import (
    CellValue,
    Finding,
    Form,
    FormCode,
    ReportSet,
    Row,
    sort_findings,
)

ZERO = Decimal(0)
HUNDRED = Decimal(100)

INPUT_RULES = frozenset(
    {
        "M-missing-rating",
        "M-resident-no-ratio",
        "R-unverified-mapping",
        "V-missing-rating",
        "V-no-category",
        "V-multi-category",
        "V-override-not-matching",
        "V-cash-cap",
    }
)
"""Rule ids found from the inputs by ``compute``; :func:`revalidate` keeps them."""


class _Checker:
    def __init__(
        self,
        report: ReportSet,
        inputs: PrudentialInputs | None,
        dirs: Sequence[Path] | None,
        amount_tolerance: Decimal,
        ratio_tolerance: Decimal,
    ) -> None:
        self.report = report
        self.inputs = inputs
        self.dirs = dirs
        self.amount_tol = amount_tolerance
        self.ratio_tol = ratio_tolerance
        year, month = report.period.split("-")
        self.on: dt.date = Month(int(year), int(month)).last_day
        self.specs = reference.checks(dirs)
        self.findings: list[Finding] = []

    def add(
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

    def same(self, a: CellValue, b: CellValue, tolerance: Decimal) -> bool:
        if isinstance(a, Decimal) and isinstance(b, Decimal):
            return abs(a - b) <= tolerance
        return a == b


_ROWS_CACHE: dict[int, tuple[Form, dict[str, Row]]] = {}


def _rows(form: Form) -> dict[str, Row]:
    """The layout rows of ``form`` by code (detail rows left out), cached for the last forms."""
    cached = _ROWS_CACHE.get(id(form))
    if cached is not None and cached[0] is form:
        return cached[1]
    rows = {row.code: row for row in form.rows if row.group is None}
    if len(_ROWS_CACHE) > 32:
        _ROWS_CACHE.clear()
    _ROWS_CACHE[id(form)] = (form, rows)
    return rows


def _get(form: Form, code: str, column: str) -> CellValue:
    row = _rows(form).get(code)
    return row.cells.get(column) if row is not None else None


def _num(value: CellValue) -> Decimal:
    return value if isinstance(value, Decimal) else ZERO


def _plain(value: Decimal) -> str:
    """A number as plain digits, without exponent or trailing zeros: 30200000.0 -> 30200000."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def _fmt(value: CellValue) -> str:
    if isinstance(value, Decimal):
        return _plain(value)
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return "empty" if value is None else str(value)


def validate(
    report: ReportSet,
    *,
    inputs: PrudentialInputs | None = None,
    dirs: Sequence[Path] | None = None,
    amount_tolerance: Decimal = ZERO,
    ratio_tolerance: Decimal = ZERO,
) -> list[Finding]:
    """Every form-level finding of ``report`` (not the input findings it already carries)."""
    c = _Checker(report, inputs, dirs, amount_tolerance, ratio_tolerance)
    _check_presence(c)
    forms = report.forms
    line_form: FormCode = "1-PN_Z" if report.branch.line == "life" else "1-PN_O"
    if "1-PN_M" in forms:
        _check_m(c, forms["1-PN_M"])
    if "1-PN_V" in forms:
        _check_v(c, forms["1-PN_V"])
    if line_form in forms:
        _check_msm(c, forms[line_form], forms.get("1-PN_M"))
    if "1-PN_S" in forms:
        _check_s(c, forms["1-PN_S"], forms.get(line_form), forms.get("1-PN_V"))
    return sort_findings(c.findings)


def revalidate(
    report: ReportSet,
    *,
    inputs: PrudentialInputs | None = None,
    dirs: Sequence[Path] | None = None,
    amount_tolerance: Decimal = ZERO,
    ratio_tolerance: Decimal = ZERO,
) -> ReportSet:
    """``report`` with its form findings recomputed (input findings it carries are kept)."""
    kept = [f for f in report.findings if f.rule_id in INPUT_RULES]
    fresh = validate(
        report,
        inputs=inputs,
        dirs=dirs,
        amount_tolerance=amount_tolerance,
        ratio_tolerance=ratio_tolerance,
    )
    return report.model_copy(update={"findings": tuple(sort_findings([*kept, *fresh]))})


def _check_presence(c: _Checker) -> None:
    forms = c.report.forms
    line = c.report.branch.line
    expected: list[FormCode] = ["1-PN_S", "1-PN_M", "1-PN_O" if line == "general" else "1-PN_Z"]
    expected.append("1-PN_V")
    wrong: FormCode = "1-PN_Z" if line == "general" else "1-PN_O"
    if wrong in forms:
        c.add("F-line", f"a {line}-insurance branch files {expected[2]}, not {wrong}", form=wrong)
    for form_code in expected:
        if form_code not in forms:
            c.add("F-rows", f"form {form_code} is missing from the report set", form=form_code)
            continue
        form = forms[form_code]
        try:
            layout = reference.layout(form_code, c.on, c.dirs)
        except RulesError as exc:
            c.add("F-rows", str(exc), form=form_code)
            continue
        if form.layout_valid_from != layout.valid_from:
            c.add(
                "F-rows",
                f"{form_code} was made with the edition of {form.layout_valid_from}; the edition "
                f"in force on {c.on} starts {layout.valid_from}",
                form=form_code,
            )
        present = _rows(form)
        for spec in layout.rows:
            if spec.code not in present:
                c.add(
                    "F-rows",
                    f"{form_code} row {spec.code} is missing",
                    form=form_code,
                    row=spec.code,
                )


def _check_m(c: _Checker, form: Form) -> None:
    f: FormCode = "1-PN_M"
    groups = {g.group: g for g in reference.reinsurer_groups(c.on, c.dirs).groups}
    rows = _rows(form)
    by_group: dict[str, list[Row]] = {}
    for added in form.rows:
        if added.group is not None:
            by_group.setdefault(added.group, []).append(added)
    total3 = ZERO
    total5 = ZERO
    for code, group in groups.items():
        row = rows.get(code)
        if row is None:
            continue
        members = by_group.get(code, [])
        if row.cells.get("4") != group.percent:
            c.add(
                "M-col4",
                f"group {code} column 4 is {_fmt(row.cells.get('4'))}, the seed's percentage "
                f"is {_fmt(group.percent)}",
                form=f,
                row=code,
                column="4",
            )
        for member in members:
            col3, col4, col5 = (member.cells.get(k) for k in ("3", "4", "5"))
            if col4 != group.percent:
                c.add(
                    "M-col4",
                    f"{member.label}: column 4 is {_fmt(col4)}, group {code} has "
                    f"{_fmt(group.percent)}",
                    form=f,
                    row=member.code,
                    column="4",
                )
            expected = _num(col3) * _num(col4) / HUNDRED
            if not c.same(col5, expected, c.amount_tol):
                c.add(
                    "M-col5",
                    f"{member.label}: column 5 is {_fmt(col5)}, column 3 {_fmt(col3)} x column 4 "
                    f"{_fmt(col4)} % = {_fmt(expected)}",
                    form=f,
                    row=member.code,
                    column="5",
                )
        for column in ("3", "5"):
            summed = sum((_num(m.cells.get(column)) for m in members), ZERO)
            if not c.same(row.cells.get(column), summed, c.amount_tol * max(len(members), 1)):
                c.add(
                    "M-group-total",
                    f"group {code} column {column} is {_fmt(row.cells.get(column))}, its "
                    f"reinsurers add up to {_fmt(summed)}",
                    form=f,
                    row=code,
                    column=column,
                )
        total3 += _num(row.cells.get("3"))
        total5 += _num(row.cells.get("5"))
    total = rows.get("total")
    if total is not None:
        for column, summed in (("3", total3), ("5", total5)):
            if not c.same(total.cells.get(column), summed, c.amount_tol * len(groups)):
                c.add(
                    "M-total",
                    f"total column {column} is {_fmt(total.cells.get(column))}, the groups add "
                    f"up to {_fmt(summed)}",
                    form=f,
                    row="total",
                    column=column,
                )


def _check_v(c: _Checker, form: Form) -> None:
    f: FormCode = "1-PN_V"
    categories = {x.code: x for x in reference.hla_categories(c.on, c.dirs).categories}
    rows = _rows(form)
    try:
        layout = reference.layout(f, c.on, c.dirs)
    except RulesError:
        return
    detail_rows: dict[str, list[Row]] = {}
    for added in form.rows:
        if added.group is not None:
            detail_rows.setdefault(added.group, []).append(added)
    for code, category in categories.items():
        row = rows.get(code)
        if row is None:
            continue
        col3, col4, col5 = (row.cells.get(k) for k in ("3", "4", "5"))
        if col4 != category.share:
            c.add(
                "V-col4",
                f"row {code} column 4 is {_fmt(col4)}, the accepted share is "
                f"{_fmt(category.share)}",
                form=f,
                row=code,
                column="4",
            )
        product = _num(col3) * category.share / HUNDRED
        if category.cash_cap:
            cap_ok = _num(col5) <= product + c.amount_tol
            if c.inputs is not None:
                share = reference.prudential_rules(c.dirs).decimal(
                    "prudential.cash_in_hand_cap_share", c.on
                )
                expected = min(product, share * c.inputs.figures.assets_net_of_reinsurance)
                cap_ok = c.same(col5, expected, c.amount_tol)
                wanted = str(expected)
            else:
                wanted = f"at most {_fmt(product)}"
            if not cap_ok:
                c.add(
                    "V-col5",
                    f"row {code} column 5 is {_fmt(col5)}; column 3 {_fmt(col3)} x "
                    f"{_fmt(category.share)} % = {_fmt(product)}, capped at 1 % of assets net of "
                    f"reinsurance assets: expected {wanted}",
                    form=f,
                    row=code,
                    column="5",
                )
        elif not c.same(col5, product, c.amount_tol):
            c.add(
                "V-col5",
                f"row {code} column 5 is {_fmt(col5)}, column 3 {_fmt(col3)} x "
                f"{_fmt(category.share)} % = {_fmt(product)}",
                form=f,
                row=code,
                column="5",
            )
        details = detail_rows.get(code, [])
        if details:
            columns = ("3",) if category.cash_cap else ("3", "5")
            for column in columns:
                summed = sum((_num(d.cells.get(column)) for d in details), ZERO)
                if not c.same(row.cells.get(column), summed, c.amount_tol * len(details)):
                    c.add(
                        "V-detail",
                        f"row {code} column {column} is {_fmt(row.cells.get(column))}, its "
                        f"holdings add up to {_fmt(summed)}",
                        form=f,
                        row=code,
                        column=column,
                    )
    for spec in layout.rows:
        if spec.kind != "section" or spec.code not in rows:
            continue
        items = [r.code for r in layout.rows if r.parent == spec.code]
        for column in ("3", "5"):
            summed = sum((_num(_get(form, i, column)) for i in items), ZERO)
            value = rows[spec.code].cells.get(column)
            if not c.same(value, summed, c.amount_tol * len(items)):
                c.add(
                    "V-section-total",
                    f"section {spec.code} column {column} is {_fmt(value)}, rows "
                    f"{items[0]}-{items[-1]} add up to {_fmt(summed)}",
                    form=f,
                    row=spec.code,
                    column=column,
                )
    tops = [r.code for r in layout.rows if r.parent is None and r.kind in ("section", "item")]
    tops = [t for t in tops if t not in ("9", "10")]
    summed = sum((_num(_get(form, t, "5")) for t in tops), ZERO)
    row8 = _get(form, "8", "5")
    if not c.same(row8, summed, c.amount_tol * len(tops)):
        c.add(
            "V-8-total",
            f"row 8 is {_fmt(row8)}, rows {', '.join(tops)} add up to {_fmt(summed)}",
            form=f,
            row="8",
            column="5",
        )
    v8, v9, v10 = _num(row8), _num(_get(form, "9", "5")), _num(_get(form, "10", "5"))
    row11 = _get(form, "11", "5")
    if v10 > 0:
        expected_ratio: Decimal | None = (v8 - v9) / v10
        if not c.same(row11, expected_ratio, c.ratio_tol):
            c.add(
                "V-11-ratio",
                f"row 11 is {_fmt(row11)}, (row 8 {_fmt(v8)} - row 9 {_fmt(v9)}) / row 10 "
                f"{_fmt(v10)} = "
                f"{_fmt(expected_ratio)}",
                form=f,
                row="11",
                column="5",
            )
    else:
        c.add(
            "V-11-undefined",
            f"row 10 (reserves net of the reinsurer's share) is {_fmt(v10)}: the HLA adequacy "
            "ratio is "
            f"not defined (row 11 is {_fmt(row11)})",
            form=f,
            row="11",
        )


def _check_msm(c: _Checker, form: Form, m_form: Form | None) -> None:
    f = form.form
    rules = reference.prudential_rules(c.dirs)
    life = f == "1-PN_Z"
    try:
        if life:
            rule = str(rules.value("prudential.life_msm_combine", c.on))
            adjusted = bool(rules.value("prudential.life_msm_adjusted", c.on))
        else:
            rule = str(rules.value("prudential.general_msm_combine", c.on))
            adjusted = True
    except RulesError as exc:
        c.add("F-rows", str(exc), form=f)
        return
    r100, r200 = _num(_get(form, "100", "4")), _num(_get(form, "200", "4"))
    r300, r400 = _get(form, "300", "4"), _num(_get(form, "400", "4"))
    base = combine(rule, r100, r200)
    increase = _m_total(m_form) if adjusted else ZERO
    rule_id = "Z-400-includes-M" if life else "O-400-includes-M"
    if c.inputs is not None:
        decrease = c.inputs.methodology.decrease_p14 if adjusted else ZERO
        expected = base + increase - decrease
        if not c.same(r400, expected, c.amount_tol * 3):
            c.add(
                rule_id,
                f"row 400 is {_fmt(r400)}; {rule}(row 100 {_fmt(r100)}, row 200 {_fmt(r200)}) = "
                f"{_fmt(base)}, + 1-PN_M "
                f"total {_fmt(increase)} - para 14 decrease {_fmt(decrease)} = {_fmt(expected)}",
                form=f,
                row="400",
                column="4",
            )
    elif r400 > base + increase + c.amount_tol * 3:
        c.add(
            rule_id,
            f"row 400 is {_fmt(r400)}, more than {rule}(row 100 {_fmt(r100)}, row 200 "
            f"{_fmt(r200)}) = {_fmt(base)} + "
            f"1-PN_M total {_fmt(increase)} = {_fmt(base + increase)} (para 14 can only decrease "
            "it)",
            form=f,
            row="400",
            column="4",
        )
    row500 = _get(form, "500", "4")
    ratio_id = "Z-500-ratio" if life else "O-500-ratio"
    if r400 > 0:
        expected_ratio = _num(r300) / r400
        if not c.same(row500, expected_ratio, c.ratio_tol):
            c.add(
                ratio_id,
                f"row 500 is {_fmt(row500)}, row 300 {_fmt(r300)} / row 400 {_fmt(r400)} = "
                f"{_fmt(expected_ratio)}",
                form=f,
                row="500",
                column="4",
            )
    else:
        c.add(
            "MSM-zero",
            f"{f} row 400 is {_fmt(r400)}: the solvency margin adequacy ratio cannot be computed",
            form=f,
            row="400",
        )
    if life:
        r110, r120 = _num(_get(form, "110", "4")), _num(_get(form, "120", "4"))
        if r110 + r120 > r100 + c.amount_tol * 2:
            c.add(
                "Z-110-120-parts",
                f"rows 110 {_fmt(r110)} + 120 {_fmt(r120)} = {_fmt(r110 + r120)} exceed row 100 "
                f"{_fmt(r100)}",
                form=f,
                row="100",
                column="4",
            )


def _m_total(m_form: Form | None) -> Decimal:
    return _num(_get(m_form, "total", "5")) if m_form is not None else ZERO


def _check_s(c: _Checker, form: Form, msm: Form | None, hla: Form | None) -> None:
    f: FormCode = "1-PN_S"
    rules = reference.prudential_rules(c.dirs)
    solvency_min = rules.decimal("prudential.solvency_ratio_minimum", c.on)
    hla_min = rules.decimal("prudential.hla_ratio_minimum", c.on)
    s = {code: _get(form, code, "3") for code in map(str, range(1, 11))}
    if msm is not None:
        for code, other, tol, rule_id in (
            ("1", "500", c.ratio_tol, "S-1-eq-500"),
            ("2", "300", c.amount_tol, "S-2-eq-300"),
            ("3", "400", c.amount_tol, "S-3-eq-400"),
        ):
            value = _get(msm, other, "4")
            if not c.same(s[code], value, tol):
                c.add(
                    rule_id,
                    f"1-PN_S row {code} is {_fmt(s[code])}, {msm.form} row {other} is "
                    f"{_fmt(value)}",
                    form=f,
                    row=code,
                    column="3",
                )
    if hla is not None:
        v8, v9 = _num(_get(hla, "8", "5")), _num(_get(hla, "9", "5"))
        v10, v11 = _get(hla, "10", "5"), _get(hla, "11", "5")
        for code, value, text, rule_id, tol in (
            ("6", v11, "1-PN_V row 11", "S-6-eq-V11", c.ratio_tol),
            (
                "7",
                v8 - v9,
                f"1-PN_V row 8 {_fmt(v8)} - row 9 {_fmt(v9)}",
                "S-7-eq-V",
                c.amount_tol * 2,
            ),
            ("8", _get(hla, "9", "5"), "1-PN_V row 9", "S-8-eq-V9", c.amount_tol),
            ("9", v10, "1-PN_V row 10", "S-9-eq-V10", c.amount_tol),
        ):
            if not c.same(s[code], value, tol):
                c.add(
                    rule_id,
                    f"1-PN_S row {code} is {_fmt(s[code])}, {text} is {_fmt(value)}",
                    form=f,
                    row=code,
                    column="3",
                )
    ratio = s["1"]
    expected_flag = isinstance(ratio, Decimal) and ratio >= solvency_min
    if s["4"] is not expected_flag:
        c.add(
            "S-4-flag",
            f"row 4 is {_fmt(s['4'])} but row 1 is {_fmt(ratio)} (minimum {_fmt(solvency_min)}): "
            f"expected {_fmt(expected_flag)}",
            form=f,
            row="4",
            column="3",
        )
    if isinstance(ratio, Decimal) and ratio < solvency_min:
        c.add(
            "S-1-breach",
            f"solvency margin adequacy ratio {_fmt(ratio)} is below {_fmt(solvency_min)} (actual "
            "margin "
            f"{_fmt(s['2'])}, minimum margin {_fmt(s['3'])})",
            form=f,
            row="1",
            column="3",
        )
    hla_ratio = s["6"]
    no_reserves = hla_ratio is None and _num(s["9"]) == 0
    hla_flag = (isinstance(hla_ratio, Decimal) and hla_ratio >= hla_min) or no_reserves
    if s["10"] is not hla_flag:
        c.add(
            "S-10-flag",
            f"row 10 is {_fmt(s['10'])} but row 6 is {_fmt(hla_ratio)} (minimum {_fmt(hla_min)}): "
            f"expected {_fmt(hla_flag)}",
            form=f,
            row="10",
            column="3",
        )
    if isinstance(hla_ratio, Decimal) and hla_ratio < hla_min:
        c.add(
            "S-6-breach",
            f"HLA adequacy ratio {_fmt(hla_ratio)} is below {_fmt(hla_min)} (HLA net of REPO "
            f"{_fmt(s['7'])}, "
            f"reserves net of the reinsurer's share {_fmt(s['9'])})",
            form=f,
            row="6",
            column="3",
        )
