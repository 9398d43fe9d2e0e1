"""The message catalogues: every message the code marks is translated into Kazakh and Russian,
with the same parameters, and the catalogues ship with the package."""

from __future__ import annotations

import re
import string
from importlib import resources
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from saqta.core.i18n import LOCALES, negotiate, normalize_locale, translations
from saqta.mshi.schema import PAYMENT_TYPES, STATE_CATEGORIES

SOURCE = Path(__file__).resolve().parent.parent / "src" / "saqta"


def marked_messages() -> set[str]:
    return {
        message
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(SOURCE), method_map=[("**.py", "python")]
        )
        if isinstance(message, str)
    }


def catalog(locale: str):
    path = resources.files("saqta").joinpath("locale", locale, "LC_MESSAGES", "saqta.po")
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_the_code_marks_messages():
    found = marked_messages()
    assert "a payment for {month} would restore entitlement" in found
    assert len(found) > 40


@pytest.mark.parametrize("locale", ["kk", "ru"])
def test_every_marked_message_is_translated_with_the_same_parameters(locale):
    entries = {}
    for message in catalog(locale):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert not message.fuzzy, ids[0]
        for one in ids:
            entries[(message.context, one)] = (ids, strings)
    missing = sorted(m for m in marked_messages() if (None, m) not in entries)
    assert missing == []
    for ids, strings in entries.values():
        assert all(s.strip() for s in strings), f"{locale}: {ids[0]!r} is not translated"
        expected = fields(ids[0])
        for text in strings:
            assert fields(text) == expected, f"{locale}: {text!r} against {ids[0]!r}"
        assert not re.search(r"[A-Za-z]{4,}", re.sub(r"\{[a-z_]+\}", "", strings[0])), (
            f"{locale}: {strings[0]!r} keeps English words"
        )


@pytest.mark.parametrize("locale", ["kk", "ru"])
def test_categories_and_payer_types_have_names(locale):
    t = translations(locale)
    for category in STATE_CATEGORIES:
        assert t.pgettext("category", category) != category
    for payment_type in PAYMENT_TYPES:
        assert t.pgettext("payment type", payment_type) != payment_type


def test_russian_plurals_follow_the_number():
    t = translations("ru")
    singular = "payments for {count} more month from {start} to {month} would restore entitlement"
    plural = "payments for {count} more months from {start} to {month} would restore entitlement"
    words = {n: t.ngettext(singular, plural, n).split()[4] for n in (1, 2, 5, 11, 21, 22)}
    assert words == {
        1: "месяц",
        2: "месяца",
        5: "месяцев",
        11: "месяцев",
        21: "месяц",
        22: "месяца",
    }


def test_the_domain_says_insured_in_its_own_terms():
    assert translations("kk").gettext("insured") == "МӘМС жүйесінде сақтандырылған"
    assert translations("ru").gettext("insured") == "застрахован в системе ОСМС"
    assert translations("en").gettext("insured") == "insured"


def test_language_negotiation():
    assert negotiate(None) == "en"
    assert negotiate("ru-RU,ru;q=0.9,en;q=0.8") == "ru"
    assert negotiate("en;q=0.5, kk") == "kk"
    assert negotiate("de, *;q=0.1") == "en"
    assert negotiate("de") == "en"
    assert negotiate("ru;q=0, en") == "en"
    assert negotiate("kz") == "kk"
    assert normalize_locale("KK_kz") == "kk"
    assert normalize_locale("fr") is None
    with pytest.raises(ValueError, match="no catalogue"):
        translations("de")
    assert set(LOCALES) == {"kk", "ru", "en"}


def test_the_catalogues_are_package_data():
    """The sources ship in the wheel; nothing else is needed to render a message."""
    import tomllib

    pyproject = tomllib.loads((SOURCE.parent.parent / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["saqta"]
    assert "locale/*/LC_MESSAGES/*.po" in patterns
    for locale in LOCALES:
        assert resources.files("saqta").joinpath(
            "locale", locale, "LC_MESSAGES", "saqta.po"
        ).is_file()
