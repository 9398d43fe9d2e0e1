"""What a printed form shows: the legal header, the table with display values, the signature block.

Every renderer (XLSX, HTML, the rounded part of the JSON) lays out the same
:class:`RenderedForm`, so one place decides how a cell is shown:

- amounts in **thousand tenge** by the forms' rule (NBRK resolution No. 25, para. 4 of each form's
  explanation: under 500 ₸ goes to 0, 500 ₸ or more goes up to 1,000 ₸), by
  :func:`saqta.core.money.to_thousands`;
- ratios and percentages to **2 decimal places**, by :func:`saqta.core.money.round_percent`;
- yes/no flags as "иә"/"жоқ" (Kazakh) or "да"/"нет" (Russian).

Rounding happens here and only here; the :class:`~saqta.prudential.report.ReportSet` keeps the
unrounded values.

The header and signature texts are data (``templates/legal_header.yaml``); rows and columns come
from the form's :class:`~saqta.prudential.report.FormLayout`.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from saqta.core.errors import RulesError
from saqta.core.money import round_percent, to_thousands
from saqta.core.periods import Month, parse_month
from saqta.prudential.report import (
    FORM_CODES,
    CellValue,
    ColumnKind,
    ColumnSpec,
    Form,
    FormCode,
    FormLayout,
    ReportSet,
    Row,
    RowSpec,
)

Lang = Literal["kk", "ru"]
LANGS: tuple[Lang, ...] = ("kk", "ru")

MONTHS_KK_LOCATIVE = (
    "қаңтардағы", "ақпандағы", "наурыздағы", "сәуірдегі", "мамырдағы", "маусымдағы",
    "шілдедегі", "тамыздағы", "қыркүйектегі", "қазандағы", "қарашадағы", "желтоқсандағы",
)  # fmt: skip
MONTHS_KK = (
    "қаңтар", "ақпан", "наурыз", "сәуір", "мамыр", "маусым",
    "шілде", "тамыз", "қыркүйек", "қазан", "қараша", "желтоқсан",
)  # fmt: skip
MONTHS_RU_GENITIVE = (
    "января", "февраля", "марта", "апреля", "мая", "июня",
    "июля", "августа", "сентября", "октября", "ноября", "декабря",
)  # fmt: skip

NUMBER_LABELS = frozenset({"№"})
CODE_LABELS = frozenset({"Код строки", "Жол коды"})


def column_role(column: ColumnSpec) -> Literal["number", "code", "other"]:
    """Whether a text column prints the row's number (№), its code, or something else."""
    label = column.label_ru.strip().strip('"«»').strip()
    if label in NUMBER_LABELS:
        return "number"
    if label in CODE_LABELS:
        return "code"
    return "other"


@dataclass(frozen=True)
class RenderedCell:
    """One cell as printed: ``text`` for people, ``number`` (rounded) for spreadsheets."""

    column: str
    kind: ColumnKind
    text: str
    number: Decimal | None = None  # thousands (whole) for amounts; 2 decimals for ratio/percent


@dataclass(frozen=True)
class RenderedRow:
    code: str
    kind: str  # the layout row's kind, or "detail" for a row added per reinsurer
    level: int  # depth below sections, for indentation
    cells: tuple[RenderedCell, ...]  # one per layout column, in column order
    explanation: str | None = None


@dataclass(frozen=True)
class FormFrame:
    """The legal header and signature block of one form in one language."""

    annex: str
    purpose: str
    where: str
    published: str
    title: str
    index: str
    periodicity: str
    period: str
    respondents: str
    deadline: str
    form_word: str
    table: str | None
    unit: str | None
    labels: Mapping[str, str]  # name, address, phone, email, executor, signer, date and hints
    signed_on: str  # the filled date line, e.g. 'Күні 2024 жылғы "5" ақпан'


@dataclass(frozen=True)
class RenderedForm:
    form: FormCode
    lang: Lang
    layout: FormLayout
    frame: FormFrame
    columns: tuple[ColumnSpec, ...]
    rows: tuple[RenderedRow, ...]
    branch: Mapping[str, str]  # name, address, phone, email, signer, executor, bin

    def column_label(self, column: ColumnSpec) -> str:
        if column_role(column) == "number":
            return "№"  # the numbering column is headed "№" whatever quoting the layout keeps
        return column.label_kk if self.lang == "kk" else column.label_ru


@functools.cache
def legal_texts() -> dict[str, Any]:
    """The header and signature texts of ``templates/legal_header.yaml``."""
    source = resources.files("saqta.prudential").joinpath("templates/legal_header.yaml")
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:  # pragma: no cover - shipped file
        raise RulesError(f"cannot read the form headers: {exc}", where=str(source)) from exc
    return dict(data)


def frame_texts(form: FormCode, lang: Lang) -> dict[str, Any]:
    """The default texts overlaid with the form's own (the seed's wording differs per annex)."""
    texts = legal_texts()
    merged = dict(texts["default"][lang])
    merged.update((texts["forms"].get(form) or {}).get(lang) or {})
    return merged


def as_of_date(period: str | Month) -> dt.date:
    """The "as of" date printed as the reporting period: the first day after the month.

    The forms are filled "as of the end of the reporting period" (each form's explanation,
    para. 3; Annex 7, para. 3) and the header asks for a date ("20__ жылғы «__» ____ жағдай
    бойынша"). Following the National Bank's practice, the end of January is printed as "as of
    1 February".
    """
    month = parse_month(period) if isinstance(period, str) else period
    return month.next().first_day


def format_date(day: dt.date, lang: Lang, *, as_of: bool) -> str:
    if lang == "kk":
        if as_of:
            return f'{day.year} жылғы "{day.day}" {MONTHS_KK_LOCATIVE[day.month - 1]}'
        return f'{day.year} жылғы "{day.day}" {MONTHS_KK[day.month - 1]}'
    return f'"{day.day}" {MONTHS_RU_GENITIVE[day.month - 1]} {day.year} года'


def build_frame(report: ReportSet, layout: FormLayout, lang: Lang, signed_on: dt.date) -> FormFrame:
    texts = frame_texts(layout.form, lang)
    labels = {
        key: str(texts[key])
        for key in (
            "name",
            "address",
            "phone",
            "email",
            "executor",
            "person_hint",
            "executor_hint",
            "signer",
            "signer_hint",
            "date",
        )
    }
    return FormFrame(
        annex=str(texts["annex"]).format(annex=layout.annex),
        purpose=str(texts["purpose"]),
        where=str(texts["where"]),
        published=str(texts["published"]),
        title=layout.title_kk if lang == "kk" else layout.title_ru,
        index=str(texts["index"]).format(form=layout.form),
        periodicity=str(texts["periodicity"]),
        period=str(texts["period"]).format(
            date=format_date(as_of_date(report.period), lang, as_of=True)
        ),
        respondents=str(texts["respondents"]),
        deadline=str(texts["deadline"]),
        form_word=str(texts["form_word"]),
        table=texts.get("table"),
        unit=texts.get("unit"),
        labels=labels,
        signed_on=f"{texts['date']} {format_date(signed_on, lang, as_of=False)}",
    )


def yes_no(value: bool, lang: Lang) -> str:
    texts = legal_texts()["default"][lang]
    return str(texts["flag_yes"] if value else texts["flag_no"])


def cell_kind(column: ColumnSpec, spec: RowSpec | None, value: CellValue) -> ColumnKind:
    """How a value renders: its own type first, then the row's unit in a generic value column.

    A column of kind ``amount`` that holds mixed indicators (1-PN_S column 3, the closing ratio row
    of 1-PN_V) takes the row's unit; a number in a text column (1-PN_M column 2: a resident
    reinsurer's solvency ratio in place of a rating) is a ratio.
    """
    if isinstance(value, bool):
        return "flag"
    if isinstance(value, str):
        return "text"
    if column.kind == "amount":
        if spec is not None and spec.unit not in ("text", "flag"):
            return spec.unit
        return "amount"
    if column.kind in ("text", "flag"):
        return "ratio"
    return column.kind


def render_value(value: CellValue, kind: ColumnKind, lang: Lang) -> tuple[str, Decimal | None]:
    """The printed text and the rounded number of one value."""
    if value is None:
        return "", None
    if isinstance(value, bool):
        return yes_no(value, lang), None
    if isinstance(value, str):
        return value, None
    if kind == "amount":
        thousands = to_thousands(value)
        return format_number(thousands), thousands
    rounded = round_percent(value)
    text = format_number(rounded, places=2)
    return (f"{text}%" if kind == "percent" else text), rounded


def format_number(value: Decimal, places: int = 0) -> str:
    """Kazakh and Russian style: a space between thousands and a decimal comma: 1 234,50."""
    text = f"{value:,.{places}f}" if places else f"{value:,.0f}"
    return text.replace(",", " ").replace(".", ",")


def _level(spec: RowSpec, by_code: Mapping[str, RowSpec]) -> int:
    level, parent = 0, spec.parent
    seen: set[str] = set()
    while parent is not None and parent in by_code and parent not in seen:
        seen.add(parent)
        level += 1
        parent = by_code[parent].parent
    return level


PRINTED_DETAILS: frozenset[FormCode] = frozenset({"1-PN_M"})
"""Forms whose added rows are part of the official form: 1-PN_M prints one row per reinsurer.
The added rows of 1-PN_V (one per holding) are the audit trail, printed apart
(:func:`detail_rows`)."""


def detail_rows(report: ReportSet, form: FormCode) -> tuple[Row, ...]:
    """The rows added to a form that its official layout does not print (1-PN_V holdings)."""
    found = report.forms.get(form)
    if found is None or form in PRINTED_DETAILS:
        return ()
    return tuple(row for row in found.rows if row.group is not None)


def _placed_rows(form: Form | None, layout: FormLayout) -> list[tuple[RowSpec | None, Row | None]]:
    """Layout rows in order, each followed by the rows added under it (1-PN_M reinsurers).

    A computed row is a fixed row when its code is a layout row's code and it has neither a label
    nor a group; a row with a group is placed after the last row already placed under that group
    (only in forms that print their added rows, :data:`PRINTED_DETAILS`); any other row is placed
    after the layout row with its code, or at the end, so none is lost.
    """
    rows = list(form.rows) if form is not None else []
    if form is not None and form.form not in PRINTED_DETAILS:
        rows = [row for row in rows if row.group is None]
    fixed: dict[str, Row] = {}
    extra_by_anchor: dict[str, list[Row]] = {}
    unplaced: list[Row] = []
    codes = {spec.code for spec in layout.rows}
    for row in rows:
        if row.group is None and row.label is None and row.code in codes and row.code not in fixed:
            fixed[row.code] = row
        elif row.group is not None and row.group in codes:
            extra_by_anchor.setdefault(row.group, []).append(row)
        elif row.code in codes:
            extra_by_anchor.setdefault(row.code, []).append(row)
        else:
            unplaced.append(row)
    placed: list[tuple[RowSpec | None, Row | None]] = []
    for spec in layout.rows:
        placed.append((spec, fixed.get(spec.code)))
        placed.extend((None, extra) for extra in extra_by_anchor.get(spec.code, []))
    placed.extend((None, extra) for extra in unplaced)
    return placed


def row_spec(layout: FormLayout, row: Row) -> RowSpec | None:
    """The layout row a computed row fills: same code, and neither a label nor a group."""
    if row.group is not None or row.label is not None:
        return None
    return next((spec for spec in layout.rows if spec.code == row.code), None)


def render_form(
    report: ReportSet,
    layout: FormLayout,
    lang: Lang,
    *,
    signed_on: dt.date | None = None,
) -> RenderedForm:
    """One form of ``report`` as printed in ``lang``, laid out by ``layout``."""
    form = report.forms.get(layout.form)
    by_code = {spec.code: spec for spec in layout.rows}
    has_code_column = any(column_role(col) == "code" for col in layout.columns)
    ordinal = 0
    rendered: list[RenderedRow] = []
    for spec, row in _placed_rows(form, layout):
        values: Mapping[str, CellValue] = row.cells if row is not None else {}
        if spec is not None and spec.kind != "section":
            ordinal += 1
        code = spec.code if spec is not None else (row.code if row is not None else "")
        label = (row.label if row is not None and row.label else None) or (
            (spec.label_kk if lang == "kk" else spec.label_ru) if spec is not None else ""
        )
        label_used = False
        cells = []
        for column in layout.columns:
            value = values.get(column.number)
            if value is None and column.kind == "text":
                if column_role(column) == "number":
                    text = (
                        str(ordinal)
                        if has_code_column and spec is not None
                        else (code if spec is not None else "")
                    )
                    cells.append(RenderedCell(column.number, "text", text))
                    continue
                if column_role(column) == "code":
                    cells.append(RenderedCell(column.number, "text", code if spec else ""))
                    continue
                if not label_used:
                    label_used = True
                    cells.append(RenderedCell(column.number, "text", label))
                    continue
            if (
                value is None
                and spec is not None
                and spec.kind == "section"
                and column.kind == "percent"
                and row is not None
                and row.cells
            ):
                # a section row is a sum: the form prints "Х" where a share would be
                cells.append(RenderedCell(column.number, "text", "Х"))
                continue
            kind = cell_kind(column, spec, value)
            text, number = render_value(value, kind, lang)
            cells.append(RenderedCell(column.number, kind, text, number))
        level = (
            _level(spec, by_code)
            if spec is not None
            else (
                _level(by_code[row.group], by_code) + 1
                if row is not None and row.group in by_code
                else 1
            )
        )
        rendered.append(
            RenderedRow(
                code=code,
                kind=spec.kind if spec is not None else "detail",
                level=level,
                cells=tuple(cells),
                explanation=row.explanation if row is not None else None,
            )
        )
    branch = report.branch
    return RenderedForm(
        form=layout.form,
        lang=lang,
        layout=layout,
        frame=build_frame(report, layout, lang, signed_on or report.computed_at.date()),
        columns=layout.columns,
        rows=tuple(rendered),
        branch={
            "bin": branch.bin,
            "name": branch.name,
            "address": branch.address,
            "phone": branch.phone,
            "email": branch.email,
            "signer": branch.signer,
            "executor": branch.executor,
        },
    )


def forms_in_order(report: ReportSet, layouts: Mapping[FormCode, FormLayout]) -> list[FormLayout]:
    """The layouts of the forms present in ``report``, in the resolution's order (Annex 2 to 6)."""
    missing = [code for code in report.forms if code not in layouts]
    if missing:
        raise RulesError(
            f"no layout given for {', '.join(missing)}", where=f"report {report.period}"
        )
    return [layouts[code] for code in FORM_CODES if code in report.forms]


def render_all(
    report: ReportSet,
    layouts: Mapping[FormCode, FormLayout],
    lang: Lang,
    *,
    signed_on: dt.date | None = None,
) -> list[RenderedForm]:
    return [
        render_form(report, layout, lang, signed_on=signed_on)
        for layout in forms_in_order(report, layouts)
    ]


def output_name(report: ReportSet, what: str, suffix: str) -> str:
    """A file name that says whose report it is: ``<BIN>_<YYYY-MM>_<what>.<suffix>``."""
    return f"{report.branch.bin}_{report.period}_{what}.{suffix}"


def write_atomically(path: Path, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path`` and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def layouts_for(
    report: ReportSet, dirs: Sequence[Path] | None = None
) -> dict[FormCode, FormLayout]:
    """The edition of each form's layout that the report was computed with."""
    from saqta.prudential.reference import layout

    return {code: layout(code, form.layout_valid_from, dirs) for code, form in report.forms.items()}
