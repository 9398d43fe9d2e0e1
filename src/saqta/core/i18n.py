"""Words for people, per locale: Kazakh (``kk``), Russian (``ru``) and English (``en``).

Code keeps meaning as codes and parameters; text is made only where a person reads it, from the
Babel message catalogues shipped with the package (``saqta/locale/<locale>/LC_MESSAGES/saqta.po``).
A catalogue is compiled in memory the first time its locale is asked for (nothing is written,
nothing is downloaded); a compiled ``saqta.mo`` beside the ``.po`` is used instead when a build
made one.

Messages are English source texts marked with :func:`N_` where they are defined (so that
``pybabel extract`` and the catalogue tests find them) and translated with :func:`gettext` or
:func:`ngettext` where they are rendered. Parameters are named ``{fields}`` of
:meth:`str.format`, filled after translation.

The default locale is English (:data:`DEFAULT_LOCALE`): the codes and field names of every
interface are English, and an answer without an asked language keeps the wording it always had.
"""

from __future__ import annotations

import gettext as _gettext
import io
from functools import cache
from importlib import resources

__all__ = [
    "DEFAULT_LOCALE",
    "LOCALES",
    "N_",
    "gettext",
    "negotiate",
    "ngettext",
    "normalize_locale",
    "translations",
]

LOCALES: tuple[str, ...] = ("kk", "ru", "en")
"""The locales with a catalogue."""

DEFAULT_LOCALE = "en"
DOMAIN = "saqta"


def N_(message: str) -> str:
    """Mark a message for the catalogues without translating it here."""
    return message


def normalize_locale(value: str | None) -> str | None:
    """``kk``, ``ru`` or ``en`` for a language tag (``ru-RU``, ``kk_KZ``, ``EN``), else None."""
    if not value:
        return None
    language = value.strip().replace("_", "-").split("-", 1)[0].lower()
    if language == "kz":  # the country code, often typed for the language
        language = "kk"
    return language if language in LOCALES else None


def negotiate(accept_language: str | None, default: str = DEFAULT_LOCALE) -> str:
    """The best of :data:`LOCALES` for an HTTP ``Accept-Language`` value (RFC 9110 weights;
    the first listed wins a tie); ``default`` when none is acceptable."""
    if not accept_language:
        return default
    best: tuple[float, int, str] | None = None
    for position, part in enumerate(accept_language.split(",")):
        tag, _, parameters = part.strip().partition(";")
        weight = 1.0
        for parameter in parameters.split(";"):
            name, _, value = parameter.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        locale = default if tag.strip() == "*" else normalize_locale(tag)
        if locale is None or weight <= 0:
            continue
        candidate = (-weight, position, locale)
        if best is None or candidate < best:
            best = candidate
    return best[2] if best is not None else default


def _compile(po: bytes) -> bytes:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    catalog = read_po(io.BytesIO(po), domain=DOMAIN)
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


@cache
def translations(locale: str) -> _gettext.NullTranslations:
    """The catalogue of ``locale`` (one of :data:`LOCALES`; anything else raises ValueError)."""
    if locale not in LOCALES:
        raise ValueError(f"no catalogue for locale {locale!r}: one of {', '.join(LOCALES)}")
    folder = resources.files("saqta").joinpath("locale", locale, "LC_MESSAGES")
    compiled = folder.joinpath(f"{DOMAIN}.mo")
    if compiled.is_file():
        data = compiled.read_bytes()
    else:
        data = _compile(folder.joinpath(f"{DOMAIN}.po").read_bytes())
    return _gettext.GNUTranslations(io.BytesIO(data))


def gettext(locale: str, message: str) -> str:
    return translations(locale).gettext(message)


def ngettext(locale: str, singular: str, plural: str, n: int) -> str:
    return translations(locale).ngettext(singular, plural, n)
