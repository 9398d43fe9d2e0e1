"""The words of insured status, per locale (Kazakh, Russian, English), from codes and parameters.

The engine's rows carry no sentences: the basis (``basis``, with ``category``, ``payment_type``,
``paid_months``, ``last_paid_period``, ``valid_from_day``) says why, and "what would change the
answer" is a code (:class:`ChangeCode`, a small integer in ``change_code``) with its parameters in
``change_date``, ``change_month``, ``change_count`` and ``offer_months``:

============== ===================================================================
code           parameters
============== ===================================================================
died           ``change_date`` = the day of death
until_death    ``change_date`` = the day of death
category_open  ``category``
child_18       ``change_date`` = the 18th birthday
category_ends  ``category``, ``change_date`` = the category's last day
prepaid        ``change_month`` = the last prepaid month, ``change_date`` = valid until
contributions  ``change_date`` = valid until, ``change_month`` = the next month to pay
restore_one    ``change_month`` = the month whose payment would restore status
restore_many   ``change_count`` = months missing, ``change_date`` = the first day of the
               window, ``change_month`` = its last month
============== ===================================================================

``offer_months`` (restore codes only, where the prepayment rule is in force) adds that a
self-payer's prepayment of that many months would give status at once.

The texts are rendered with the catalogues of :mod:`saqta.core.i18n`.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from saqta.core.i18n import N_, translations

__all__ = [
    "ChangeCode",
    "category_label",
    "change_text",
    "payment_type_label",
    "reason_text",
]


class ChangeCode(enum.IntEnum):
    """What would change a month's answer; stored as a small integer."""

    DIED = 1
    UNTIL_DEATH = 2
    CATEGORY_OPEN = 3
    CHILD_18 = 4
    CATEGORY_ENDS = 5
    PREPAID = 6
    CONTRIBUTIONS = 7
    RESTORE_ONE = 8
    RESTORE_MANY = 9

    @property
    def label(self) -> str:
        """The code as it appears on interfaces (``restore_one``)."""
        return self.name.lower()


_CHANGE = {
    ChangeCode.DIED: N_("died on {date}"),
    ChangeCode.UNTIL_DEATH: N_("entitled until death on {date}"),
    ChangeCode.CATEGORY_OPEN: N_("{category} status has no end date"),
    ChangeCode.CHILD_18: N_("child status ends on the 18th birthday {date}"),
    ChangeCode.CATEGORY_ENDS: N_("{category} status ends after {date}"),
    ChangeCode.PREPAID: N_(
        "prepaid through {month}; entitled until {date} unless a payment for a later month "
        "is counted"
    ),
    ChangeCode.CONTRIBUTIONS: N_(
        "entitled until {date} unless a payment for {month} or later is counted"
    ),
    ChangeCode.RESTORE_ONE: N_("a payment for {month} would restore entitlement"),
}
_RESTORE_MANY = (
    N_("payments for {count} more month from {start} to {month} would restore entitlement"),
    N_("payments for {count} more months from {start} to {month} would restore entitlement"),
)
_OFFER = (
    N_(
        "a self-payer's prepayment of {months} month ahead would give status at once, from the "
        "day of payment"
    ),
    N_(
        "a self-payer's prepayment of {months} months ahead would give status at once, from "
        "the day of payment"
    ),
)


def _month(value: dt.date | None) -> str:
    return f"{value:%Y-%m}" if value is not None else "?"


def _day(value: dt.date | None) -> str:
    return value.isoformat() if value is not None else "?"


def category_label(locale: str, category: str | None) -> str:
    """A preferential category's name in ``locale`` (English: the code itself)."""
    if category is None:
        return "?"
    return translations(locale).pgettext("category", category)


def payment_type_label(locale: str, payment_type: str | None) -> str:
    """A payer type's name in ``locale``."""
    if payment_type is None:
        return "?"
    return translations(locale).pgettext("payment type", payment_type)


def change_text(
    locale: str,
    code: int | None,
    *,
    category: str | None = None,
    date: dt.date | None = None,
    month: dt.date | None = None,
    count: int | None = None,
    offer_months: int | None = None,
) -> str | None:
    """What would change the answer, in ``locale`` (None without a code)."""
    if code is None:
        return None
    t = translations(locale)
    change = ChangeCode(code)
    params: dict[str, Any] = {
        "category": category_label(locale, category),
        "date": _day(date),
        "month": _month(month),
        "start": _month(date),
        "count": count,
    }
    if change is ChangeCode.RESTORE_MANY:
        text = t.ngettext(*_RESTORE_MANY, count or 0).format(**params)
    else:
        text = t.gettext(_CHANGE[change]).format(**params)
    if offer_months:
        offer = t.ngettext(*_OFFER, offer_months).format(months=offer_months)
        text = f"{text}; {offer}"
    return text


_REASON = {
    "state_category": N_("the state pays for the person as a preferential category ({category})"),
    "prepayment": N_("a self-payer's prepayment of contributions for the months ahead"),
    "deceased": N_("the person died before this month"),
}
_PAID = (
    N_(
        "contributions by {payer}: {paid} paid month in the look-back window, "
        "last paid period {last}"
    ),
    N_(
        "contributions by {payer}: {paid} paid months in the look-back window, "
        "last paid period {last}"
    ),
)
_NOT_ENOUGH = N_(
    "no preferential category and not enough paid months in the look-back window "
    "(last paid period {last})"
)
_NOTHING = N_("no preferential category and no paid month in the look-back window")
_FROM = N_("entitled from {date}")


def reason_text(
    locale: str,
    *,
    entitled: bool,
    basis: str | None,
    category: str | None = None,
    payment_type: str | None = None,
    paid_months: int | None = None,
    last_paid_period: dt.date | None = None,
    valid_from_day: dt.date | None = None,
    month: dt.date | None = None,
) -> str:
    """Why a month's row says what it says, in ``locale``; when the status starts after the
    first day of the month (``valid_from_day`` after ``month``), from which day."""
    t = translations(locale)
    if basis == "contributions":
        text = t.ngettext(*_PAID, paid_months or 0).format(
            payer=payment_type_label(locale, payment_type),
            paid=paid_months or 0,
            last=_month(last_paid_period),
        )
    elif basis == "none":
        text = (
            t.gettext(_NOT_ENOUGH).format(last=_month(last_paid_period))
            if last_paid_period is not None
            else t.gettext(_NOTHING)
        )
    elif basis in _REASON:
        text = t.gettext(_REASON[basis]).format(category=category_label(locale, category))
    else:
        text = str(basis)
    if entitled and valid_from_day is not None and (month is None or valid_from_day > month):
        text = f"{text}; {t.gettext(_FROM).format(date=valid_from_day.isoformat())}"
    return text
