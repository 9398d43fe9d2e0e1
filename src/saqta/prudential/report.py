"""The computed report of one branch for one month: the shape every other part works from.

Computation (:mod:`saqta.prudential.compute`) produces a :class:`ReportSet`; validation adds
:class:`Finding` records to it; the renderers (XLSX, XML, JSON, HTML), the filing history and the
regulator's intake consume it. Values are unrounded ``Decimal`` amounts in tenge (or ratios, or
percentages as given by the seed); rounding to thousands and to 2 decimals happens only when a
form is rendered, by :func:`saqta.core.money.to_thousands` and
:func:`saqta.core.money.round_percent`.

Form layouts (rows, columns, labels in Kazakh and Russian, effective dates) are rule files of
kind ``prudential_layout`` described by :class:`FormLayout`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FormCode = Literal["1-PN_S", "1-PN_M", "1-PN_O", "1-PN_Z", "1-PN_V"]
FORM_CODES: tuple[FormCode, ...] = ("1-PN_S", "1-PN_M", "1-PN_O", "1-PN_Z", "1-PN_V")

CellValue = Decimal | str | bool | None
"""A cell: an amount or ratio (Decimal), a text (names, grades), a yes/no flag, or empty."""

ColumnKind = Literal["text", "amount", "ratio", "percent", "flag"]
"""How a column renders: amounts in thousand tenge, ratios and percents to 2 decimals."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnSpec(_Frozen):
    number: str  # "1", "2", ... as printed in the form's header
    label_kk: str
    label_ru: str
    kind: ColumnKind


class RowSpec(_Frozen):
    code: str  # the row's code or number as printed: "100", "4", "1.3", "8"
    label_kk: str
    label_ru: str
    kind: Literal["item", "section", "total", "ratio", "flag", "group"]
    parent: str | None = None  # the section or row this row is part of
    unit: ColumnKind = "amount"


class FormLayout(_Frozen):
    """One edition of one form, in force from ``valid_from`` to ``valid_to`` (inclusive)."""

    form: FormCode
    annex: int  # the annex of NBRK resolution No. 25 that sets the form
    valid_from: date
    valid_to: date | None
    title_kk: str
    title_ru: str
    source: str  # the legal source of this edition
    columns: tuple[ColumnSpec, ...]
    rows: tuple[RowSpec, ...]  # fixed rows; 1-PN_M adds one row per reinsurer within its group


class BranchProfile(_Frozen):
    bin: str
    name: str
    address: str
    phone: str
    email: str
    signer: str  # the head, or the person charged with signing
    executor: str
    line: Literal["general", "life"]


class Row(_Frozen):
    code: str
    cells: dict[str, CellValue]  # column number -> value
    label: str | None = None  # for rows added per item (a reinsurer's name, a holding)
    group: str | None = None  # for 1-PN_M reinsurer rows: the group number
    explanation: str | None = None  # how the value was obtained, for the audit trail


class Form(_Frozen):
    form: FormCode
    layout_valid_from: date  # which edition of the layout was used
    rows: tuple[Row, ...]


Severity = Literal["error", "warning"]


class Finding(_Frozen):
    rule_id: str  # stable, e.g. "S-3-eq-row400"
    severity: Severity
    message: str  # shows the numbers involved
    form: FormCode | None = None
    row: str | None = None
    column: str | None = None


class ReportSet(_Frozen):
    """The five forms of one branch for one month, with the validation findings."""

    branch: BranchProfile
    period: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")  # the reporting month, YYYY-MM
    forms: dict[FormCode, Form]
    findings: tuple[Finding, ...] = ()
    rules_version: str
    computed_at: datetime

    @property
    def has_errors(self) -> bool:
        return any(finding.severity == "error" for finding in self.findings)


def sort_findings(findings: Sequence[Finding]) -> list[Finding]:
    """Errors first, then by form, row and rule id: independent of the order of the inputs."""
    return sorted(
        findings,
        key=lambda f: (f.severity != "error", f.form or "", f.row or "", f.rule_id, f.message),
    )
