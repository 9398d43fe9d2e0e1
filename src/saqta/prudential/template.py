"""The input workbook: a blank template with instructions and validation lists, and writers that
put a branch's inputs into a workbook or a folder of CSV files (the inverse of
:mod:`saqta.prudential.loaders`).

The sheets and their columns come from :data:`saqta.prudential.loaders.SHEETS` (and so from the
input model): a column added to the model appears in the template and is read by the loader
without a change here. Drop-down lists come from the model's choices and from the rating-scale
rule file (agencies, scales, grades). Example rows start with ``#`` and are skipped by the loader.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from saqta.prudential.inputs import PrudentialInputs
from saqta.prudential.loaders import SHEETS, SheetSpec, field_kind, is_required, iter_sheet_rows
from saqta.prudential.rendering import write_atomically

if TYPE_CHECKING:
    from openpyxl import Workbook
    from openpyxl.worksheet.worksheet import Worksheet

HELP: dict[str, tuple[str, str]] = {
    # column or field: (Russian, English)
    "bin": ("БИН филиала (12 цифр)", "The branch's BIN (12 digits)"),
    "name": ("Наименование", "Name"),
    "address": ("Адрес филиала", "The branch's address"),
    "phone": ("Телефон", "Phone"),
    "email": ("Адрес электронной почты", "E-mail"),
    "signer": (
        "Руководитель или лицо, на которое возложена функция по подписанию отчета (ФИО)",
        "The head, or the person charged with signing (full name)",
    ),
    "executor": ("Исполнитель (ФИО)", "The executor (full name)"),
    "line": (
        "Отрасль: general (общее страхование, в т.ч. перестрахование) или life (страхование жизни)",
        "Line: general (general insurance, also reinsurance) or life",
    ),
    "period": ("Отчетный месяц ГГГГ-ММ", "The reporting month YYYY-MM"),
    "instrument_id": (
        "Уникальный код позиции (ISIN, номер счета или договора)",
        "A unique code of the position (ISIN, account or contract number)",
    ),
    "instrument_type": ("Вид актива", "Kind of asset"),
    "issuer_id": (
        "Код эмитента или банка (как в листе ratings)",
        "The issuer's or bank's code (as on the ratings sheet)",
    ),
    "issuer_name": ("Наименование эмитента или банка", "The issuer's or bank's name"),
    "issuer_kind": ("Вид эмитента", "Kind of issuer"),
    "issuer_residency": ("Резидентство эмитента", "The issuer's residency"),
    "parent_id": (
        "Код родительского банка-нерезидента (для дочернего банка)",
        "The non-resident parent bank's code (for a subsidiary bank)",
    ),
    "exchange_category": ("Категория/сектор биржи (KASE, AIX)", "Exchange category (KASE, AIX)"),
    "issuer_shares_premium": (
        "Акции эмитента в категории «премиум» сектора «акции» площадки «Основная» KASE",
        "The issuer's shares are in the KASE main market, shares sector, premium category",
    ),
    "issuer_in_exchange_index": (
        "Акции эмитента в представительском списке индекса биржи (TRUE/FALSE)",
        "The issuer's shares are in the exchange index list (TRUE/FALSE)",
    ),
    "main_index_member": (
        "Входит в основные фондовые индексы (TRUE/FALSE)",
        "In the main stock indices (TRUE/FALSE)",
    ),
    "currency": ("Валюта (ISO 4217)", "Currency (ISO 4217)"),
    "carrying_amount": (
        "Балансовая стоимость на конец последнего дня месяца, в тенге (не в тысячах)",
        "Carrying amount at the end of the month's last day, in tenge (not thousands)",
    ),
    "overdue": ("Просрочено (TRUE/FALSE)", "Overdue (TRUE/FALSE)"),
    "subject": (
        "Код объекта рейтинга: позиции, эмитента, банка или перестраховщика",
        "What is rated: a position's, issuer's, bank's or reinsurer's code",
    ),
    "agency": ("Рейтинговое агентство", "Rating agency"),
    "scale": ("Шкала агентства", "The agency's scale"),
    "grade": (
        "Рейтинг, как опубликован (NR/WD — отозван)",
        "Grade as published (NR/WD: withdrawn)",
    ),
    "date": ("Дата, с которой действует рейтинг", "The day the grade took effect"),
    "treaty_id": ("Номер договора перестрахования", "Treaty number"),
    "reinsurer_id": ("Код перестраховщика (как в листе ratings)", "Reinsurer code (as on ratings)"),
    "reinsurer_name": ("Наименование перестраховщика", "Reinsurer's name"),
    "block": (
        "non_resident (нерезидент, кроме ЕАЭС), resident_kz (резидент РК), eaeu (ЕАЭС)",
        "non_resident (excluding the EAEU), resident_kz (resident of Kazakhstan), eaeu",
    ),
    "ceded_liabilities": (
        "Объем обязательств, переданных в перестрахование, в тенге",
        "Liabilities ceded, in tenge",
    ),
    "solvency_ratio": (
        "Норматив достаточности маржи платежеспособности резидента без рейтинга",
        "A resident reinsurer's solvency margin ratio, when it has no rating",
    ),
    "reserves_net": (
        "Страховые резервы за вычетом доли перестраховщика, тенге",
        "Insurance reserves net of the reinsurer's share, tenge",
    ),
    "repo_liabilities": ("Обязательства по операциям РЕПО, тенге", "REPO liabilities, tenge"),
    "minimum_reserve_assets": (
        "Минимальный размер активов, принимаемых в качестве резерва, тенге",
        "Minimum amount of assets accepted as reserve, tenge",
    ),
    "assets_net_of_reinsurance": (
        "Активы филиала за вычетом активов перестрахования, тенге (база лимита 1% по кассе)",
        "The branch's assets net of reinsurance assets, tenge (base of the 1% cash cap)",
    ),
    "actual_margin": (
        "Фактическая маржа платежеспособности (п. 21 Методики), тенге",
        "Actual solvency margin (Methodology para 21), tenge",
    ),
    "decrease_p14": ("Уменьшение по п. 14 Методики, тенге", "Decrease of para 14, tenge"),
    "premium_method": (
        "МРМП по методу премий (п. 9), тенге — общее страхование",
        "MSM by the premium method (para 9), tenge: general",
    ),
    "claims_method": (
        "МРМП по методу выплат (п. 10), тенге — общее страхование",
        "MSM by the claims method (para 10), tenge: general",
    ),
    "life_100": ("1-PN_Z строка 100 (п. 16), тенге", "1-PN_Z row 100 (para 16), tenge"),
    "life_110": ("1-PN_Z строка 110 (п. 17), тенге", "1-PN_Z row 110 (para 17), tenge"),
    "life_120": ("1-PN_Z строка 120 (п. 19), тенге", "1-PN_Z row 120 (para 19), tenge"),
    "life_200": ("1-PN_Z строка 200 (п. 20), тенге", "1-PN_Z row 200 (para 20), tenge"),
    "category": (
        "Строка 1-PN_V, выбранная филиалом (например 4.7)",
        "The 1-PN_V row the branch chooses (e.g. 4.7)",
    ),
    "chosen_by": ("Кто выбрал (ФИО)", "Who chose it (full name)"),
    "reason": ("Обоснование выбора", "Why"),
    "chosen_on": ("Дата выбора", "When"),
}

SHEET_HELP: dict[str, tuple[str, str]] = {
    "branch": ("Профиль филиала и отчетный месяц", "The branch profile and the reporting month"),
    "holdings": (
        "Активы на конец последнего календарного дня месяца (одна строка — одна позиция)",
        "Assets at the end of the month's last calendar day (one row per position)",
    ),
    "ratings": (
        "История рейтингов (ежедневный мониторинг): каждая смена рейтинга — строка",
        "Rating history (daily monitoring): one row per change of grade",
    ),
    "treaties": (
        "Действующие договоры перестрахования (1-PN_M)",
        "Reinsurance treaties in force (1-PN_M)",
    ),
    "figures": ("Прочие показатели (1-PN_S, 1-PN_V)", "Other figures (1-PN_S, 1-PN_V)"),
    "methodology": (
        "Показатели, рассчитанные по Методике (постановление АРРФР № 32)",
        "Amounts computed under the Methodology (ARDFM resolution No. 32)",
    ),
    "overrides": (
        "Выбор филиалом категории 1-PN_V для актива, подходящего под несколько (п. 8 пояснения)",
        "The branch's choice of a 1-PN_V row for an asset that fits several (explanation para 8)",
    ),
}

INSTRUCTIONS: tuple[tuple[str, str], ...] = (
    (
        "Входные данные пруденциальной отчетности филиала за один месяц (формы 1-PN_S, 1-PN_M, "
        "1-PN_O, 1-PN_Z, 1-PN_V; постановление Правления НБРК от 2 марта 2021 года № 25).",
        "A branch's prudential reporting inputs for one month (forms 1-PN_S, 1-PN_M, 1-PN_O, "
        "1-PN_Z, 1-PN_V; NBRK Board resolution No. 25 of 2 March 2021).",
    ),
    (
        "Суммы — в тенге, без округления: формы сами переводят их в тысячи тенге (менее 500 тенге "
        "— 0, 500 тенге и более — 1 000 тенге).",
        "Amounts in tenge, unrounded: the forms convert them to thousands of tenge themselves "
        "(under 500 tenge to 0, 500 tenge or more up to 1,000).",
    ),
    (
        "Даты — ГГГГ-ММ-ДД или дата Excel. Флаги — TRUE/FALSE. Строки, первая ячейка которых "
        "начинается с #, — комментарии и примеры: они не читаются.",
        "Dates as YYYY-MM-DD or an Excel date. Flags as TRUE/FALSE. Rows whose first cell starts "
        "with # are comments or examples and are not read.",
    ),
    (
        "Рейтинги: вводится вся история изменений; в расчете используется рейтинг на конец "
        "отчетного периода (п. 3 Правил, приложение 7).",
        "Ratings: enter the whole history of changes; the forms use the grade in force at the end "
        "of the reporting period (Rules, Annex 7, para 3).",
    ),
    (
        "Все ошибки файла сообщаются сразу, с листом, строкой и графой; пока есть ошибка, расчет "
        "не выполняется.",
        "Every problem of the file is reported at once with its sheet, row and column; nothing is "
        "computed while there is one.",
    ),
    (
        "Тот же набор данных можно подать папкой CSV-файлов (UTF-8): <лист>.csv с теми же графами.",
        "The same data can be given as a folder of CSV files (UTF-8): <sheet>.csv with the same "
        "columns.",
    ),
)


def _examples() -> dict[str, list[dict[str, Any]]]:
    """Example rows of the table sheets; the first cell starts with "#" so they are not read."""
    return {
        "holdings": [
            {
                "instrument_id": "# example: KZKD00000001",
                "name": "МЕУКАМ-84",
                "instrument_type": "debt_security",
                "issuer_id": "KZ_MINFIN",
                "issuer_name": "Министерство финансов РК",
                "issuer_kind": "kz_government",
                "issuer_residency": "resident_kz",
                "exchange_category": "kase_main_debt",
                "issuer_in_exchange_index": False,
                "main_index_member": False,
                "currency": "KZT",
                "carrying_amount": Decimal("1500000000.00"),
                "overdue": False,
            }
        ],
        "ratings": [
            {
                "subject": "# example: HALYK",
                "agency": "sp",
                "scale": "international",
                "grade": "BB+",
                "date": dt.date(2024, 1, 15),
            }
        ],
        "treaties": [
            {
                "treaty_id": "# example: QS-2024-01",
                "reinsurer_id": "SWISS_RE",
                "reinsurer_name": "Swiss Reinsurance Company Ltd",
                "block": "non_resident",
                "ceded_liabilities": Decimal("820000000.00"),
            }
        ],
        "overrides": [
            {
                "instrument_id": "# example: KZ2C00001234",
                "category": "4.7",
                "chosen_by": "Ким Д.О.",
                "reason": "rated BB- by S&P",
                "chosen_on": dt.date(2024, 1, 31),
            }
        ],
    }


def _lists(workbook: Workbook) -> dict[str, str]:
    """A hidden sheet of drop-down lists; returns column -> its range reference."""
    from openpyxl.utils import get_column_letter, quote_sheetname

    from saqta.prudential.reference import rating_scales

    values: dict[str, list[str]] = {}
    for spec in SHEETS:
        for name in spec.fields if spec.shape == "fields" else spec.columns:
            if name == "period":
                continue
            kind, choices = field_kind(spec.model, name)
            if kind == "choice":
                values[name] = list(choices)
            elif kind == "flag":
                values.setdefault("flag", ["TRUE", "FALSE"])
    scales = rating_scales()
    values["agency"] = [agency.code for agency in scales.agencies]
    values["scale"] = sorted({s.code for agency in scales.agencies for s in agency.scales})
    grades: list[str] = []
    for agency in scales.agencies:
        for scale in agency.scales:
            for grade in (*scale.grades, *scale.withdrawn):
                if grade not in grades:
                    grades.append(grade)
    values["grade"] = grades
    from saqta.prudential.reference import hla_categories

    try:
        edition = hla_categories(dt.date.today())
        values["category"] = [c.code for c in edition.categories]
    except Exception:  # pragma: no cover - no edition in force: no list, free text
        pass
    sheet = workbook.create_sheet("lists")
    sheet.sheet_state = "hidden"
    refs: dict[str, str] = {}
    for index, (name, items) in enumerate(sorted(values.items()), start=1):
        letter = get_column_letter(index)
        sheet.cell(row=1, column=index, value=name)
        for row, item in enumerate(items, start=2):
            sheet.cell(row=row, column=index, value=item)
        refs[name] = f"{quote_sheetname('lists')}!${letter}$2:${letter}${len(items) + 1}"
    return refs


def _style_header(sheet: Worksheet, columns: Sequence[str], spec: SheetSpec) -> None:
    from openpyxl.comments import Comment
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    fill = PatternFill("solid", fgColor="DDEBF7")
    for index, name in enumerate(columns, start=1):
        cell = sheet.cell(row=1, column=index, value=name)
        cell.font = Font(bold=True)
        cell.fill = fill
        ru, en = HELP.get(name, ("", ""))
        if ru:
            cell.comment = Comment(f"{ru}\n{en}", "Saqta", width=320, height=110)
        sheet.column_dimensions[get_column_letter(index)].width = max(14, min(40, len(name) + 6))
    sheet.freeze_panes = "A2"


def _add_validation(
    sheet: Worksheet, column_index: int, ref: str, first: int, last: int, *, name: str
) -> None:
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    letter = get_column_letter(column_index)
    validation = DataValidation(type="list", formula1=ref, allow_blank=True)
    validation.error = f"{name}: choose a value from the list"
    validation.errorTitle = name
    validation.showErrorMessage = True
    sheet.add_data_validation(validation)
    validation.add(f"{letter}{first}:{letter}{last}")


def template_workbook() -> Workbook:
    """The blank input workbook."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    workbook = Workbook()
    intro = workbook.active
    intro.title = "instructions"
    intro.column_dimensions["A"].width = 24
    intro.column_dimensions["B"].width = 70
    intro.column_dimensions["C"].width = 70
    intro["A1"] = "Saqta"
    intro["B1"] = "Инструкция"
    intro["C1"] = "Instructions"
    for cell in intro[1]:
        cell.font = Font(bold=True, size=12)
    row = 2
    for ru, en in INSTRUCTIONS:
        intro.cell(row=row, column=2, value=ru)
        intro.cell(row=row, column=3, value=en)
        row += 1
    row += 1
    for spec in SHEETS:
        ru, en = SHEET_HELP[spec.name]
        intro.cell(row=row, column=1, value=spec.name).font = Font(bold=True)
        intro.cell(row=row, column=2, value=ru).font = Font(bold=True)
        intro.cell(row=row, column=3, value=en).font = Font(bold=True)
        row += 1
        names = spec.fields if spec.shape == "fields" else spec.columns
        for name in names:
            required = name == "period" or is_required(spec.model, name)
            mark = " *" if required else ""
            ru, en = HELP.get(name, ("", ""))
            intro.cell(row=row, column=1, value=f"  {name}{mark}")
            intro.cell(row=row, column=2, value=ru)
            intro.cell(row=row, column=3, value=en)
            row += 1
        row += 1
    intro.cell(row=row, column=1, value="*")
    intro.cell(row=row, column=2, value="обязательное поле")
    intro.cell(row=row, column=3, value="required")
    for line in intro.iter_rows(min_row=2, max_row=row):
        for cell in line:
            cell.alignment = Alignment(wrap_text=True, vertical="top")

    refs = _lists(workbook)
    examples = _examples()
    for spec in SHEETS:
        sheet = workbook.create_sheet(spec.name)
        if spec.shape == "fields":
            _style_header(sheet, ("field", "value", "description"), spec)
            sheet.column_dimensions["A"].width = 28
            sheet.column_dimensions["B"].width = 44
            sheet.column_dimensions["C"].width = 90
            for number, name in enumerate(spec.fields, start=2):
                sheet.cell(row=number, column=1, value=name)
                ru, en = HELP.get(name, ("", ""))
                sheet.cell(row=number, column=3, value=f"{ru} / {en}" if ru else None)
                kind, _ = ("text", ()) if name == "period" else field_kind(spec.model, name)
                ref = refs.get(name) or (refs.get("flag") if kind == "flag" else None)
                if ref:
                    _add_validation(sheet, 2, ref, number, number, name=name)
            continue
        _style_header(sheet, spec.columns, spec)
        for index, name in enumerate(spec.columns, start=1):
            kind, _ = field_kind(spec.model, name)
            ref = refs.get(name) or (refs.get("flag") if kind == "flag" else None)
            if ref:
                _add_validation(sheet, index, ref, 2, 5000, name=name)
        for example in examples.get(spec.name, []):
            sheet.append([example.get(column) for column in spec.columns])
            for cell in sheet[sheet.max_row]:
                cell.font = Font(italic=True, color="808080")
    workbook.move_sheet("lists", offset=len(workbook.sheetnames))
    return workbook


def _bytes(workbook: Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def write_template(path: Path) -> Path:
    """Write the blank input workbook to ``path``."""
    return write_atomically(path, _bytes(template_workbook()))


def _cell(value: Any) -> Any:
    if isinstance(value, Decimal):
        return value  # openpyxl writes the exact decimal text
    return value


def inputs_workbook(inputs: PrudentialInputs) -> Workbook:
    """A branch's inputs as an input workbook (the template's sheets, filled)."""
    workbook = template_workbook()
    for spec, rows in iter_sheet_rows(inputs):
        sheet = workbook[spec.name]
        if spec.shape == "fields":
            positions = {sheet.cell(row=r, column=1).value: r for r in range(2, sheet.max_row + 1)}
            for name, value in rows[1:]:
                sheet.cell(row=positions[name], column=2, value=_cell(value))
            continue
        for row_number in range(sheet.max_row, 1, -1):  # drop the example rows
            sheet.delete_rows(row_number)
        for values in rows[1:]:
            sheet.append([_cell(v) for v in values])
    return workbook


def write_inputs_xlsx(inputs: PrudentialInputs, path: Path) -> Path:
    return write_atomically(path, _bytes(inputs_workbook(inputs)))


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def write_inputs_csv(inputs: PrudentialInputs, folder: Path) -> list[Path]:
    """A branch's inputs as a folder of ``<sheet>.csv`` files."""
    paths = []
    for spec, rows in iter_sheet_rows(inputs):
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        for values in rows:
            writer.writerow([_csv_text(v) for v in values])
        paths.append(
            write_atomically(folder / f"{spec.name}.csv", buffer.getvalue().encode("utf-8"))
        )
    return paths
