"""A printable HTML of all the forms of a report, one page per form (Jinja2, print CSS).

One document per language. Each form prints its legal header, its table and its signature block,
as on paper; the validation findings follow on a page of their own. Values are the rounded ones
of :mod:`saqta.prudential.rendering`; each row's explanation (how its value was obtained) is kept
as the row's tooltip.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from saqta.prudential.rendering import (
    LANGS,
    Lang,
    column_role,
    output_name,
    render_all,
    write_atomically,
)
from saqta.prudential.report import FormCode, FormLayout, ReportSet

if TYPE_CHECKING:
    import jinja2

FINDING_TEXTS: dict[Lang, dict[str, str]] = {
    "kk": {
        "findings_title": "Тексеру нәтижелері",
        "severity": "Деңгейі",
        "rule": "Ереже",
        "where": "Нысан / жол / баған",
        "message": "Сипаттама",
        "error": "қате",
        "warning": "ескерту",
        "rules_version": "Ережелер нұсқасы",
        "computed_at": "Есептелген уақыты",
    },
    "ru": {
        "findings_title": "Результаты проверки",
        "severity": "Уровень",
        "rule": "Правило",
        "where": "Форма / строка / графа",
        "message": "Описание",
        "error": "ошибка",
        "warning": "предупреждение",
        "rules_version": "Версия правил",
        "computed_at": "Время расчета",
    },
}


@functools.cache
def _environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("saqta.prudential", "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def report_html(
    report: ReportSet,
    layouts: Mapping[FormCode, FormLayout],
    lang: Lang,
    *,
    signed_on: dt.date | None = None,
) -> str:
    """All forms of ``report`` in ``lang`` as one printable HTML document."""
    template = _environment().get_template("report.html.j2")
    return template.render(
        lang=lang,
        period=report.period,
        branch=report.branch,
        forms=render_all(report, layouts, lang, signed_on=signed_on),
        findings=report.findings,
        texts=FINDING_TEXTS[lang],
        rules_version=report.rules_version,
        computed_at=report.computed_at.isoformat(timespec="seconds"),
        role=column_role,
    )


def write_html(
    report: ReportSet,
    layouts: Mapping[FormCode, FormLayout],
    out: Path,
    *,
    signed_on: dt.date | None = None,
) -> list[Path]:
    """One HTML per language into the folder ``out``; return the paths."""
    return [
        write_atomically(
            out / output_name(report, f"forms_{lang}", "html"),
            report_html(report, layouts, lang, signed_on=signed_on).encode("utf-8"),
        )
        for lang in LANGS
    ]
