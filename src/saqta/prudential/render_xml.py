"""The whole filing as XML, valid against ``filing.xsd``, and back.

:func:`filing_xml` turns a :class:`~saqta.prudential.report.ReportSet` into XML and validates it
against the schema kept beside this module before anything is written; :func:`read_xml` is the
regulator's side: it validates an uploaded file against the same schema, refuses it with one
problem per schema violation (naming the element path), and rebuilds the ``ReportSet``. The values
are unrounded, so ``read_xml(write_xml(report)) == report``.

Each amount, ratio or percentage cell may also carry ``rendered``: the value as printed on the
form (thousands of tenge, 2 decimals). It is derived, informative, and checked on reading when the
layouts are given.
"""

from __future__ import annotations

import datetime as dt
import functools
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from saqta.core.errors import InputError, Problem
from saqta.prudential.rendering import (
    as_of_date,
    cell_kind,
    output_name,
    render_value,
    row_spec,
    write_atomically,
)
from saqta.prudential.report import (
    FORM_CODES,
    BranchProfile,
    CellValue,
    Finding,
    Form,
    FormCode,
    FormLayout,
    ReportSet,
    Row,
)

if TYPE_CHECKING:
    import xmlschema

NAMESPACE = "urn:saqta:prudential:filing:1"
SCHEMA_VERSION = "1"
XSD_NAME = "filing.xsd"
_NS = f"{{{NAMESPACE}}}"
BRANCH_FIELDS = ("name", "address", "phone", "email", "signer", "executor")


def xsd_path() -> Path:
    """The schema file shipped with the package."""
    return Path(str(resources.files("saqta.prudential").joinpath(XSD_NAME)))


@functools.cache
def filing_schema() -> xmlschema.XMLSchema10:
    import xmlschema

    return xmlschema.XMLSchema10(str(xsd_path()))


def decimal_text(value: Decimal) -> str:
    """A decimal as xs:decimal wants it: plain digits, never an exponent."""
    text = format(value, "f")
    return "0" if text in ("-0", "+0") else text


def _rendered(value: Decimal, layout: FormLayout | None, row: Row, column: str) -> str | None:
    if layout is None:
        return None
    spec = row_spec(layout, row)
    columns = {c.number: c for c in layout.columns}
    if column not in columns:
        return None
    _, number = render_value(value, cell_kind(columns[column], spec, value), "ru")
    return None if number is None else decimal_text(number)


def _cell(parent: ET.Element, column: str, value: CellValue, rendered: str | None) -> None:
    if value is None:
        ET.SubElement(parent, f"{_NS}empty", column=column)
    elif isinstance(value, bool):
        ET.SubElement(parent, f"{_NS}flag", column=column).text = "true" if value else "false"
    elif isinstance(value, str):
        ET.SubElement(parent, f"{_NS}text", column=column).text = value
    else:
        element = ET.SubElement(parent, f"{_NS}decimal", column=column)
        element.text = decimal_text(value)
        if rendered is not None:
            element.set("rendered", rendered)


def filing_element(
    report: ReportSet,
    layouts: Mapping[FormCode, FormLayout] | None = None,
    *,
    signed_on: dt.date | None = None,
) -> ET.Element:
    root = ET.Element(
        f"{_NS}filing",
        {
            "schemaVersion": SCHEMA_VERSION,
            "period": report.period,
            "asOf": as_of_date(report.period).isoformat(),
            "rulesVersion": report.rules_version,
            "computedAt": report.computed_at.isoformat(),
        },
    )
    if signed_on is not None:
        root.set("signedOn", signed_on.isoformat())
    branch = report.branch
    branch_element = ET.SubElement(root, f"{_NS}branch", bin=branch.bin, line=branch.line)
    for field in BRANCH_FIELDS:
        ET.SubElement(branch_element, f"{_NS}{field}").text = getattr(branch, field)
    order = [code for code in FORM_CODES if code in report.forms]
    for code in order:
        form = report.forms[code]
        layout = layouts.get(code) if layouts else None
        form_element = ET.SubElement(
            root,
            f"{_NS}form",
            code=code,
            layoutValidFrom=form.layout_valid_from.isoformat(),
        )
        for row in form.rows:
            attributes = {"code": row.code}
            if row.label is not None:
                attributes["label"] = row.label
            if row.group is not None:
                attributes["group"] = row.group
            row_element = ET.SubElement(form_element, f"{_NS}row", attributes)
            for column, value in row.cells.items():
                rendered = (
                    _rendered(value, layout, row, column)
                    if isinstance(value, Decimal) and not isinstance(value, bool)
                    else None
                )
                _cell(row_element, column, value, rendered)
            if row.explanation is not None:
                ET.SubElement(row_element, f"{_NS}explanation").text = row.explanation
    if report.findings:
        findings = ET.SubElement(root, f"{_NS}findings")
        for finding in report.findings:
            attributes = {"ruleId": finding.rule_id, "severity": finding.severity}
            for key, value in (
                ("form", finding.form),
                ("row", finding.row),
                ("column", finding.column),
            ):
                if value is not None:
                    attributes[key] = value
            ET.SubElement(findings, f"{_NS}finding", attributes).text = finding.message
    return root


def filing_xml(
    report: ReportSet,
    layouts: Mapping[FormCode, FormLayout] | None = None,
    *,
    signed_on: dt.date | None = None,
) -> bytes:
    """The filing as UTF-8 XML bytes, validated against the schema (a failure is a bug here)."""
    ET.register_namespace("", NAMESPACE)
    root = filing_element(report, layouts, signed_on=signed_on)
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    problems = schema_problems(data, where="the generated filing")
    if problems:
        raise InputError(problems)
    return data


def write_xml(
    report: ReportSet,
    out: Path,
    layouts: Mapping[FormCode, FormLayout] | None = None,
    *,
    signed_on: dt.date | None = None,
) -> Path:
    """Write the filing into the folder ``out`` (or to ``out`` itself when it ends in .xml)."""
    path = out if out.suffix == ".xml" else out / output_name(report, "filing", "xml")
    return write_atomically(path, filing_xml(report, layouts, signed_on=signed_on))


def schema_problems(source: bytes | Path, *, where: str) -> list[Problem]:
    """Every violation of ``filing.xsd`` in ``source``: one problem each, naming the element."""
    import xmlschema

    schema = filing_schema()
    try:
        resource = xmlschema.XMLResource(
            source if isinstance(source, bytes) else str(source), defuse="always"
        )
    except (xmlschema.XMLResourceError, ET.ParseError, OSError, ValueError) as exc:
        return [Problem(where, f"not well-formed XML: {exc}")]
    problems = []
    for error in schema.iter_errors(resource):
        path = error.path or "/"
        reason = error.reason or error.message
        problems.append(Problem(f"{where}: {path}", reason.strip()))
    return problems


def _cell_value(element: ET.Element) -> CellValue:
    tag = element.tag.removeprefix(_NS)
    text = element.text or ""
    if tag == "decimal":
        return Decimal(text.strip())
    if tag == "flag":
        return text.strip() in ("true", "1")
    if tag == "text":
        return text
    return None


def read_xml(path: Path | bytes, layouts: Mapping[FormCode, FormLayout] | None = None) -> ReportSet:
    """A filing read back into a :class:`ReportSet`.

    Raises :class:`InputError` with every schema violation (and, when ``layouts`` are given, every
    ``rendered`` value that does not match its unrounded value) naming the element.
    """
    import xmlschema

    where = "uploaded filing" if isinstance(path, bytes) else str(path)
    problems = schema_problems(path, where=where)
    if problems:
        raise InputError(problems)
    resource = xmlschema.XMLResource(
        path if isinstance(path, bytes) else str(path), defuse="always"
    )
    root: Any = resource.root
    branch_element = root.find(f"{_NS}branch")
    branch = BranchProfile(
        bin=branch_element.get("bin"),
        line=branch_element.get("line"),
        **{field: branch_element.findtext(f"{_NS}{field}") or "" for field in BRANCH_FIELDS},
    )
    forms: dict[FormCode, Form] = {}
    mismatches: list[Problem] = []
    for form_element in root.findall(f"{_NS}form"):
        code = form_element.get("code")
        rows = []
        for row_element in form_element.findall(f"{_NS}row"):
            cells: dict[str, CellValue] = {}
            for cell in row_element:
                if cell.tag == f"{_NS}explanation":
                    continue
                cells[cell.get("column")] = _cell_value(cell)
            row = Row(
                code=row_element.get("code"),
                cells=cells,
                label=row_element.get("label"),
                group=row_element.get("group"),
                explanation=row_element.findtext(f"{_NS}explanation"),
            )
            rows.append(row)
            if layouts and code in layouts:
                mismatches.extend(_check_rendered(row_element, row, layouts[code], where, code))
        forms[code] = Form(
            form=code,
            layout_valid_from=dt.date.fromisoformat(form_element.get("layoutValidFrom")),
            rows=tuple(rows),
        )
    if mismatches:
        raise InputError(mismatches)
    findings = tuple(
        Finding(
            rule_id=element.get("ruleId"),
            severity=element.get("severity"),
            message=element.text or "",
            form=element.get("form"),
            row=element.get("row"),
            column=element.get("column"),
        )
        for element in root.iterfind(f"{_NS}findings/{_NS}finding")
    )
    return ReportSet(
        branch=branch,
        period=root.get("period"),
        forms=forms,
        findings=findings,
        rules_version=root.get("rulesVersion"),
        computed_at=dt.datetime.fromisoformat(root.get("computedAt")),
    )


def _check_rendered(
    row_element: ET.Element, row: Row, layout: FormLayout, where: str, code: str
) -> list[Problem]:
    problems = []
    for cell in row_element.iterfind(f"{_NS}decimal"):
        stated = cell.get("rendered")
        if stated is None:
            continue
        column = cell.get("column") or ""
        value = row.cells.get(column)
        if not isinstance(value, Decimal):
            continue
        expected = _rendered(value, layout, row, column)
        try:
            matches = expected is None or Decimal(stated) == Decimal(expected)
        except InvalidOperation:
            matches = False
        if not matches:
            problems.append(
                Problem(
                    f"{where}: form {code} row {row.code} column {column}",
                    f"rendered {stated} does not match the value {decimal_text(value)} "
                    f"(printed as {expected})",
                )
            )
    return problems
