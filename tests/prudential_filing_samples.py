"""Hand-built report sets for the filing, history and intake tests (not a test module).

The values are consistent across forms (1-PN_S row 3 = 1-PN_O row 400, rows 7-9 = the 1-PN_V
totals, the ratios are their quotients), so the cross-form validation finds no error in them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from saqta.prudential.report import BranchProfile, Finding, Form, ReportSet, Row

BIN_A = "990140000017"
BIN_B = "990240000020"
BIN_C = "990340000034"
BIN_D = "990440000048"


def branch(bin_: str = BIN_A, name: str | None = None, line: str = "general") -> BranchProfile:
    return BranchProfile.model_validate(
        {
            "bin": bin_,
            "name": name or f"Branch {bin_[-4:]} of Example Re SE",
            "address": "Almaty, Dostyk ave. 1",
            "phone": "+7 727 000 00 00",
            "email": "compliance@example.kz",
            "signer": "A. Head",
            "executor": "B. Executor",
            "line": line,
        }
    )


def report(
    period: str = "2025-01",
    *,
    bin_: str = BIN_A,
    actual_margin: Decimal = Decimal("5200000.40"),
    minimum_margin: Decimal = Decimal("4000000"),
    hla: Decimal = Decimal("3000000"),
    repo: Decimal = Decimal("200000"),
    reserves: Decimal = Decimal("2000000"),
    findings: tuple[Finding, ...] = (),
    computed_at: datetime | None = None,
    reverse: bool = False,
) -> ReportSet:
    """A consistent report set; ``reverse`` lists rows and findings in the opposite order."""
    solvency = actual_margin / minimum_margin
    hla_net = hla - repo
    hla_ratio = hla_net / reserves

    def rows(*items: Row) -> tuple[Row, ...]:
        return tuple(reversed(items)) if reverse else items

    s = Form(
        form="1-PN_S",
        layout_valid_from=date(2021, 3, 12),
        rows=rows(
            Row(code="1", cells={"3": solvency}),
            Row(code="2", cells={"3": actual_margin}),
            Row(code="3", cells={"3": minimum_margin}),
            Row(code="4", cells={"3": solvency >= 1}),
            Row(code="5", cells={"3": Decimal("1500000")}),
            Row(code="6", cells={"3": hla_ratio}),
            Row(code="7", cells={"3": hla_net}),
            Row(code="8", cells={"3": repo}),
            Row(code="9", cells={"3": reserves}),
            Row(code="10", cells={"3": hla_ratio >= 1}),
        ),
    )
    m = Form(
        form="1-PN_M",
        layout_valid_from=date(2021, 3, 12),
        rows=rows(
            Row(
                code="3",
                group="3",
                label="Example Re AG",
                cells={
                    "1": "Example Re AG",
                    "2": "BBB",
                    "3": Decimal("1000000"),
                    "4": Decimal("0.2"),
                    "5": Decimal("2000"),
                },
            ),
            Row(
                code="6",
                group="6",
                label="Unrated Re Ltd",
                cells={
                    "1": "Unrated Re Ltd",
                    "2": "none",
                    "3": Decimal("10000"),
                    "4": Decimal("22"),
                    "5": Decimal("2200"),
                },
            ),
            Row(code="total", cells={"5": Decimal("4200")}),
        ),
    )
    o = Form(
        form="1-PN_O",
        layout_valid_from=date(2024, 1, 5),
        rows=rows(
            Row(code="100", cells={"4": Decimal("3995800")}),
            Row(code="200", cells={"4": Decimal("3100000")}),
            Row(code="300", cells={"4": actual_margin}),
            Row(code="400", cells={"4": minimum_margin}),
            Row(code="500", cells={"4": solvency}),
        ),
    )
    z = Form(form="1-PN_Z", layout_valid_from=date(2024, 1, 5), rows=())
    v = Form(
        form="1-PN_V",
        layout_valid_from=date(2021, 3, 12),
        rows=rows(
            Row(code="1", cells={"3": Decimal("1000000"), "5": Decimal("1000000")}),
            Row(
                code="1.2",
                cells={"3": Decimal("1000000"), "4": Decimal("100"), "5": Decimal("1000000")},
            ),
            Row(code="4", cells={"3": Decimal("2000000"), "5": Decimal("2000000")}),
            Row(
                code="4.1",
                cells={"3": Decimal("2000000"), "4": Decimal("100"), "5": Decimal("2000000")},
            ),
            Row(code="8", cells={"5": hla}),
            Row(code="9", cells={"5": repo}),
            Row(code="10", cells={"5": reserves}),
            Row(code="11", cells={"5": hla_ratio}),
        ),
    )
    forms = (s, m, o, z, v)
    if reverse:
        forms = tuple(reversed(forms))
    return ReportSet(
        branch=branch(bin_),
        period=period,
        forms={f.form: f for f in forms},
        findings=tuple(reversed(findings)) if reverse else findings,
        rules_version="test-rules-1",
        computed_at=computed_at or datetime(2025, 2, 3, 9, 0, tzinfo=UTC),
    )
