"""The rendered forms: XLSX read back cell by cell, XML against its schema, JSON and HTML."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from saqta.core.errors import InputError
from saqta.prudential.render_html import report_html, write_html
from saqta.prudential.render_json import read_json, report_json, write_json
from saqta.prudential.render_xlsx import sheet_title, write_xlsx
from saqta.prudential.render_xml import filing_xml, read_xml, schema_problems, write_xml
from saqta.prudential.rendering import as_of_date, render_form, render_value
from saqta.prudential.report import Form, ReportSet, Row
from test_prudential_render_support import layouts, report


def _find(sheet, text: str) -> tuple[int, int]:
    for row in sheet.iter_rows():
        for cell in row:
            if cell.value == text:
                return cell.row, cell.column
    raise AssertionError(f"{text!r} not on sheet {sheet.title}")


def _row_values(sheet, row: int, width: int) -> list[object]:
    return [sheet.cell(row=row, column=c).value for c in range(1, width + 1)]


def test_an_amount_under_500_tenge_rounds_down_and_500_or_more_rounds_up() -> None:
    assert render_value(Decimal("1234499.99"), "amount", "ru") == ("1 234", Decimal(1234))
    assert render_value(Decimal("1000500"), "amount", "ru") == ("1 001", Decimal(1001))
    assert render_value(Decimal("-1500"), "amount", "kk") == ("-2", Decimal(-2))
    assert render_value(Decimal("1.234499"), "ratio", "ru") == ("1,23", Decimal("1.23"))
    assert render_value(Decimal("0.2"), "percent", "kk") == ("0,20%", Decimal("0.20"))
    assert render_value(True, "flag", "kk")[0] == "иә"
    assert render_value(False, "flag", "ru")[0] == "нет"


def test_the_reporting_period_prints_as_of_the_first_day_after_the_month() -> None:
    assert as_of_date("2024-12") == dt.date(2025, 1, 1)
    rendered = render_form(report(), layouts()["1-PN_S"], "kk")
    assert rendered.frame.period == 'Есепті кезең: 2024 жылғы "1" ақпандағы жағдай бойынша'
    ru = render_form(report(), layouts()["1-PN_O"], "ru")
    assert ru.frame.period == 'Отчетный период: по состоянию на "1" февраля 2024 года'
    assert ru.frame.signed_on == 'Дата "5" февраля 2024 года'


def test_xlsx_has_a_kazakh_and_a_russian_sheet_laid_out_like_the_form(tmp_path: Path) -> None:
    paths = write_xlsx(report(), layouts(), tmp_path, signed_on=dt.date(2024, 2, 6))
    assert [p.name for p in paths] == [
        "990840001234_2024-01_1-PN_S.xlsx",
        "990840001234_2024-01_1-PN_M.xlsx",
        "990840001234_2024-01_1-PN_O.xlsx",
        "990840001234_2024-01_1-PN_V.xlsx",
    ]
    book = load_workbook(paths[2])
    assert book.sheetnames == [sheet_title("1-PN_O", "kk"), sheet_title("1-PN_O", "ru")]
    kk = book[sheet_title("1-PN_O", "kk")]
    assert kk["A1"].value == (
        "Қазақстан Республикасы Ұлттық Банкі Басқармасының 2021 жылғы 2 наурыздағы № 25 "
        "қаулысына 4-қосымша"
    )
    _find(kk, "Әкімшілік деректер нысанының индексі: 1-PN_O")
    _find(kk, "(мың теңгемен)")
    header, _ = _find(kk, "Жол коды")
    assert _row_values(kk, header, 4) == ["№", "Көрсеткіш атауы", "Жол коды", "Сомасы"]
    assert _row_values(kk, header + 1, 4) == ["1", "2", "3", "4"]
    assert _row_values(kk, header + 2, 4) == ["1", "Сыйлықақылар әдісі", "100", 900]
    assert _row_values(kk, header + 3, 4)[3] == -2
    assert _row_values(kk, header + 5, 4)[3] == 1001  # 1,000,500 tenge
    assert kk.cell(row=header + 5, column=4).number_format == "#,##0"
    ratio = kk.cell(row=header + 6, column=4)
    assert Decimal(str(ratio.value)) == Decimal("1.23")
    assert ratio.number_format == "0.00"
    _find(kk, 'Атауы: Филиал "Steppe Re SE" в Республике Казахстан')
    _find(kk, "Орындаушы: Ким Денис Олегович   ______________")
    _find(kk, 'Күні 2024 жылғы "6" ақпан')

    ru = book[sheet_title("1-PN_O", "ru")]
    _find(ru, "Индекс формы административных данных: 1-PN_O")
    header_ru, _ = _find(ru, "Код строки")
    assert _row_values(ru, header_ru + 2, 4) == ["1", "Метод премий", "100", 900]
    _find(ru, 'Дата "6" февраля 2024 года')


def test_xlsx_1pn_m_puts_each_reinsurer_under_its_group(tmp_path: Path) -> None:
    paths = write_xlsx(report(), layouts(), tmp_path)
    sheet = load_workbook(paths[1])[sheet_title("1-PN_M", "ru")]
    group_row, _ = _find(sheet, "3 группа")
    assert _row_values(sheet, group_row + 1, 5)[:3] == ["Steppe Re SE", "BBB+", 5000]
    assert Decimal(str(sheet.cell(row=group_row + 1, column=4).value)) == Decimal("0.20")
    assert sheet.cell(row=group_row + 1, column=4).number_format == '0.00"%"'
    assert _row_values(sheet, group_row + 1, 5)[4] == 10
    resident, _ = _find(sheet, "Kazakh Re")
    assert Decimal(str(sheet.cell(row=resident, column=2).value)) == Decimal("1.60")
    total, _ = _find(sheet, "Итого")
    assert _row_values(sheet, total, 5)[2] == 5700
    # 1-PN_S has no unit line: its rows name their own units
    s_sheet = load_workbook(paths[0])[sheet_title("1-PN_S", "ru")]
    with pytest.raises(AssertionError):
        _find(s_sheet, "(в тысячах тенге)")
    flag_row, _ = _find(s_sheet, "Выполнение")
    assert s_sheet.cell(row=flag_row, column=3).value == "да"


def test_xml_is_valid_and_reads_back_to_the_same_report(tmp_path: Path) -> None:
    original = report(with_errors=True)
    path = write_xml(original, tmp_path, layouts())
    assert schema_problems(path, where="f") == []
    assert read_xml(path, layouts()) == original
    text = path.read_text(encoding="utf-8")
    assert '<decimal column="3" rendered="1001">1000500</decimal>' in text


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (('period="2024-01"', 'period="2024-13"'), "/filing: attribute period='2024-13'"),
        (('<flag column="3">true</flag>', '<flag column="3">yes</flag>'), "/flag"),
        (('bin="990840001234"', 'bin="99084000123X"'), "/filing/branch: attribute bin"),
        (("1234499.99", "1,234,499.99"), "/filing/form[1]/row[2]/decimal"),
        (('code="1-PN_O"', 'code="1-PN_S"'), "duplicate"),
        (
            (
                '<decimal column="4" rendered="0.20">0.2</decimal>\n',
                '<empty column="1"/><empty column="1"/>\n',
            ),
            "duplicate",
        ),
    ],
)
def test_a_broken_filing_is_refused_with_the_element_named(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    text = filing_xml(report(), layouts()).decode("utf-8")
    assert change[0] in text
    broken = tmp_path / "broken.xml"
    broken.write_text(text.replace(change[0], change[1], 1), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_xml(broken)
    assert expected in str(caught.value)
    assert str(broken) in str(caught.value)


def test_a_rendered_value_that_disagrees_with_its_value_is_refused() -> None:
    text = filing_xml(report(), layouts()).replace(b'rendered="1001"', b'rendered="1000"', 1)
    assert read_xml(text) is not None  # without layouts the rendering is not checked
    with pytest.raises(InputError, match=r"form 1-PN_S row 3 column 3: rendered 1000"):
        read_xml(text, layouts())


def test_not_xml_at_all_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.xml"
    path.write_text("<filing", encoding="utf-8")
    with pytest.raises(InputError, match="not well-formed"):
        read_xml(path)


cell_values = st.one_of(
    st.none(),
    st.booleans(),
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=20),
    st.decimals(
        allow_nan=False, allow_infinity=False, places=4, min_value=-(10**12), max_value=10**12
    ),
)


@settings(max_examples=60, deadline=None)
@given(
    cells=st.lists(st.dictionaries(st.sampled_from("12345"), cell_values, max_size=5), max_size=6)
)
def test_any_cells_round_trip_through_xml_and_json(cells: list[dict[str, object]]) -> None:
    base = report()
    rows = tuple(
        Row(code=f"r{i}", cells=c, label=f"item {i}", group="3") for i, c in enumerate(cells)
    )
    forms = dict(base.forms)
    forms["1-PN_M"] = Form(form="1-PN_M", layout_valid_from=dt.date(2021, 3, 12), rows=rows)
    changed = ReportSet.model_validate({**base.model_dump(), "forms": forms})
    assert read_xml(filing_xml(changed, layouts()), layouts()) == changed
    assert read_json(report_json(changed, layouts())) == changed


def test_json_keeps_the_unrounded_report_and_the_rounded_forms(tmp_path: Path) -> None:
    original = report(with_errors=True)
    path = write_json(original, tmp_path, layouts())
    assert read_json(path) == original
    document = json.loads(path.read_text(encoding="utf-8"))
    rows = document["report"]["forms"]["1-PN_S"]["rows"]
    assert rows[1]["cells"]["3"] == {"type": "decimal", "value": "1234499.99"}
    rendered = document["rendered"]["1-PN_S"]["rows"]
    assert rendered[1]["cells"]["3"] == "1234"
    assert rendered[3]["cells"]["3"] == {"kk": "иә", "ru": "да"}
    assert rendered[0]["cells"]["2"] == {"kk": "ТҚМ нормативі", "ru": "Норматив ДМП"}


def test_a_json_number_for_a_decimal_is_read_exactly_and_a_bad_cell_is_located() -> None:
    text = report_json(report()).replace('"value": "1234499.99"', '"value": 1234499.99')
    cell = read_json(text).forms["1-PN_S"].rows[1].cells["3"]
    assert isinstance(cell, Decimal) and cell == Decimal("1234499.99")  # never through a float
    broken = report_json(report()).replace('"value": "1234499.99"', '"value": "12,34"')
    with pytest.raises(InputError, match=r"report: forms.1-PN_S.rows\[1\].cells.3"):
        read_json(broken)


def test_html_prints_every_form_with_its_header_table_and_signatures(tmp_path: Path) -> None:
    paths = write_html(report(with_errors=True), layouts(), tmp_path)
    assert [p.name for p in paths] == [
        "990840001234_2024-01_forms_kk.html",
        "990840001234_2024-01_forms_ru.html",
    ]
    html = paths[1].read_text(encoding="utf-8")
    for code in ("1-PN_S", "1-PN_M", "1-PN_O", "1-PN_V"):
        assert '<section class="form' in html and f'id="{code}"' in html
    assert "@page" in html and "break-after: page" in html
    assert html.count("Руководитель или лицо, на которое возложена функция") == 4
    assert '<td class="num">1 001</td>' in html
    assert "S-3-eq-row400" in html and "ошибка" in html
    assert "&#34;Steppe Re SE&#34;" in html or "&quot;Steppe Re SE&quot;" in html
    kk = report_html(report(), layouts(), "kk")
    assert "Басшы немесе есепке қол қою жөніндегі функция жүктелген адам" in kk
    assert "Тексеру нәтижелері" in kk  # the warning of the report
