"""Hand-built layouts and reports for the renderer tests (no tests here).

The layouts follow the shape of the shipped layout files (the same columns and a subset of rows),
so the renderers are tested independently of the layout files' wording.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from saqta.prudential.report import (
    BranchProfile,
    ColumnSpec,
    Finding,
    Form,
    FormCode,
    FormLayout,
    ReportSet,
    Row,
    RowSpec,
)

NUMBER = ColumnSpec(number="1", label_kk="№", label_ru="№", kind="text")


def _layout(
    form: FormCode, annex: int, columns: list[ColumnSpec], rows: list[RowSpec]
) -> FormLayout:
    return FormLayout(
        form=form,
        annex=annex,
        valid_from=dt.date(2021, 3, 12),
        valid_to=None,
        title_kk=f"{form} есебі",
        title_ru=f"Отчет {form}",
        source="NBRK Board resolution No. 25, test edition",
        columns=tuple(columns),
        rows=tuple(rows),
    )


def layouts() -> dict[FormCode, FormLayout]:
    s = _layout(
        "1-PN_S",
        2,
        [
            NUMBER,
            ColumnSpec(
                number="2",
                label_kk="Нормативтің атауы",
                label_ru="Наименование норматива",
                kind="text",
            ),
            ColumnSpec(
                number="3",
                label_kk="Көрсеткіштің мәні",
                label_ru="Значение показателя",
                kind="amount",
            ),
        ],
        [
            RowSpec(
                code="1",
                kind="ratio",
                unit="ratio",
                label_kk="ТҚМ нормативі",
                label_ru="Норматив ДМП",
            ),
            RowSpec(code="2", kind="item", label_kk="Нақты маржа", label_ru="Фактическая маржа"),
            RowSpec(
                code="3", kind="item", label_kk="Ең төмен мөлшер", label_ru="Минимальный размер"
            ),
            RowSpec(
                code="4", kind="flag", unit="flag", label_kk="Орындалуы", label_ru="Выполнение"
            ),
        ],
    )
    m = _layout(
        "1-PN_M",
        3,
        [
            ColumnSpec(number="1", label_kk="Атауы", label_ru="Наименование", kind="text"),
            ColumnSpec(number="2", label_kk="Рейтинг", label_ru="Рейтинг", kind="text"),
            ColumnSpec(number="3", label_kk="Көлемі", label_ru="Объем", kind="amount"),
            ColumnSpec(number="4", label_kk="Пайызы", label_ru="Процент", kind="percent"),
            ColumnSpec(
                number="5", label_kk="Ұлғаю сомасы", label_ru="Сумма увеличения", kind="amount"
            ),
        ],
        [
            RowSpec(code="NR", kind="section", label_kk="Бейрезиденттер", label_ru="Нерезиденты"),
            RowSpec(code="3", kind="group", parent="NR", label_kk="3-топ", label_ru="3 группа"),
            RowSpec(code="RK", kind="section", label_kk="Резиденттер", label_ru="Резиденты"),
            RowSpec(
                code="10",
                kind="group",
                parent="RK",
                label_kk="10-топ > 1,5",
                label_ru="10 группа > 1,5",
            ),
            RowSpec(code="total", kind="total", label_kk="Жиынтығы", label_ru="Итого"),
        ],
    )
    o = _layout(
        "1-PN_O",
        4,
        [
            NUMBER,
            ColumnSpec(
                number="2",
                label_kk="Көрсеткіш атауы",
                label_ru="Наименование показателя",
                kind="text",
            ),
            ColumnSpec(number="3", label_kk="Жол коды", label_ru="Код строки", kind="text"),
            ColumnSpec(number="4", label_kk="Сомасы", label_ru="Сумма", kind="amount"),
        ],
        [
            RowSpec(
                code="100", kind="item", label_kk="Сыйлықақылар әдісі", label_ru="Метод премий"
            ),
            RowSpec(code="200", kind="item", label_kk="Төлемдер әдісі", label_ru="Метод выплат"),
            RowSpec(code="300", kind="item", label_kk="Нақты маржа", label_ru="Фактическая маржа"),
            RowSpec(
                code="400",
                kind="total",
                label_kk="Ең төменгі мөлшер",
                label_ru="Минимальный размер",
            ),
            RowSpec(
                code="500", kind="ratio", unit="ratio", label_kk="Норматив", label_ru="Норматив"
            ),
        ],
    )
    v = _layout(
        "1-PN_V",
        6,
        [
            NUMBER,
            ColumnSpec(
                number="2",
                label_kk="Көрсеткіштің атауы",
                label_ru="Наименование показателя",
                kind="text",
            ),
            ColumnSpec(
                number="3",
                label_kk="Баланс бойынша сома",
                label_ru="Балансовая стоимость",
                kind="amount",
            ),
            ColumnSpec(
                number="4",
                label_kk="Есепке алынатын көлем",
                label_ru="Принимаемый объем",
                kind="percent",
            ),
            ColumnSpec(
                number="5", label_kk="Есептеу сомасы", label_ru="Расчетная сумма", kind="amount"
            ),
        ],
        [
            RowSpec(
                code="4",
                kind="section",
                label_kk="Борыштық бағалы қағаздар",
                label_ru="Долговые ценные бумаги",
            ),
            RowSpec(code="4.1", kind="item", parent="4", label_kk="МБҚ", label_ru="ГЦБ"),
            RowSpec(code="8", kind="total", label_kk="ӨЖА жиынтығы", label_ru="Итого ВЛА"),
            RowSpec(
                code="11",
                kind="ratio",
                unit="ratio",
                label_kk="ӨЖА нормативі",
                label_ru="Норматив ВЛА",
            ),
        ],
    )
    return {"1-PN_S": s, "1-PN_M": m, "1-PN_O": o, "1-PN_V": v}


def branch() -> BranchProfile:
    return BranchProfile(
        bin="990840001234",
        name='Филиал "Steppe Re SE" в Республике Казахстан',
        address="050000, Алматы, пр. Абая, 1",
        phone="+7 727 300 00 00",
        email="reporting@steppe-re.kz",
        signer="Сейткали Айгерим Муратовна",
        executor="Ким Денис Олегович",
        line="general",
    )


def report(*, with_errors: bool = False) -> ReportSet:
    """A general branch for January 2024 with values chosen to test rounding at the edges."""
    layout = layouts()
    forms = {
        "1-PN_S": Form(
            form="1-PN_S",
            layout_valid_from=layout["1-PN_S"].valid_from,
            rows=(
                Row(code="1", cells={"3": Decimal("1.23456")}, explanation="row 2 / row 3"),
                Row(code="2", cells={"3": Decimal("1234499.99")}),
                Row(code="3", cells={"3": Decimal("1000500")}),
                Row(code="4", cells={"3": True}),
            ),
        ),
        "1-PN_M": Form(
            form="1-PN_M",
            layout_valid_from=layout["1-PN_M"].valid_from,
            rows=(
                Row(code="3", cells={"4": Decimal("0.2")}),
                Row(
                    code="3",
                    group="3",
                    label="Steppe Re SE",
                    cells={
                        "1": "Steppe Re SE",
                        "2": "BBB+",
                        "3": Decimal("5000000"),
                        "4": Decimal("0.2"),
                        "5": Decimal("10000"),
                    },
                ),
                Row(
                    code="10",
                    group="10",
                    label="Kazakh Re",
                    cells={
                        "1": "Kazakh Re",
                        "2": Decimal("1.6049"),
                        "3": Decimal("700000"),
                        "4": Decimal("0.1"),
                        "5": Decimal("700"),
                    },
                ),
                Row(code="total", cells={"3": Decimal("5700000"), "5": Decimal("10700")}),
            ),
        ),
        "1-PN_O": Form(
            form="1-PN_O",
            layout_valid_from=layout["1-PN_O"].valid_from,
            rows=(
                Row(code="100", cells={"4": Decimal("900499.99")}),
                Row(code="200", cells={"4": Decimal("-1500")}),
                Row(code="300", cells={"4": Decimal("1234499.99")}),
                Row(code="400", cells={"4": Decimal("1000500")}),
                Row(code="500", cells={"4": Decimal("1.234499")}),
            ),
        ),
        "1-PN_V": Form(
            form="1-PN_V",
            layout_valid_from=layout["1-PN_V"].valid_from,
            rows=(
                Row(code="4", cells={"3": Decimal("2000000"), "5": Decimal("2000000")}),
                Row(
                    code="4.1",
                    cells={"3": Decimal("2000000"), "4": Decimal("100"), "5": Decimal("2000000")},
                ),
                Row(code="8", cells={"5": Decimal("2000000")}),
                Row(code="11", cells={"5": Decimal("1.125")}),
            ),
        ),
    }
    findings: tuple[Finding, ...] = (
        Finding(
            rule_id="V-11-ratio",
            severity="warning",
            message="HLA ratio 1.13 is close to 1",
            form="1-PN_V",
            row="11",
            column="5",
        ),
    )
    if with_errors:
        findings += (
            Finding(
                rule_id="S-3-eq-row400",
                severity="error",
                message="1-PN_S row 3 1000 ≠ 1-PN_O row 400 999",
                form="1-PN_S",
                row="3",
                column="3",
            ),
        )
    return ReportSet(
        branch=branch(),
        period="2024-01",
        forms=forms,  # type: ignore[arg-type]
        findings=findings,
        rules_version="test-rules-1",
        computed_at=dt.datetime(2024, 2, 5, 9, 30, tzinfo=dt.UTC),
    )
