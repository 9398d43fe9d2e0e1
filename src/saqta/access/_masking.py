"""IINs never reach a log line whole: a :class:`logging.Filter` masks every 12-digit number.

``9001013000 17`` style IINs become ``9001******17`` (the first four and the last two digits
kept, enough to tell log lines apart, not enough to name a person). The filter rewrites the
record's message and arguments, so it also covers uvicorn's access log, whose request line is
an argument of the record.
"""

from __future__ import annotations

import logging
import re

_IIN = re.compile(r"(?<!\d)(\d{4})\d{6}(\d{2})(?!\d)")

LOGGERS = ("", "uvicorn", "uvicorn.access", "uvicorn.error", "saqta")
"""The loggers the filter is installed on (the root and uvicorn's own, which do not
propagate)."""


def mask_iins(text: str) -> str:
    """``text`` with every run of exactly 12 digits masked as ``dddd******dd``."""
    return _IIN.sub(r"\1******\2", text)


def _mask(value: object) -> object:
    if isinstance(value, str):
        return mask_iins(value)
    if isinstance(value, bytes | bytearray):
        return mask_iins(bytes(value).decode("latin-1"))
    if isinstance(value, int) and not isinstance(value, bool) and len(str(abs(value))) == 12:
        return mask_iins(str(value))
    return value


class IinMaskingFilter(logging.Filter):
    """Masks IINs in a record's message and arguments; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = mask_iins(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_mask(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _mask(arg) for key, arg in record.args.items()}
        if record.exc_text:
            record.exc_text = mask_iins(record.exc_text)
        return True


def install_iin_masking(names: tuple[str, ...] = LOGGERS) -> IinMaskingFilter:
    """Install the filter on the named loggers and on every handler they have now (a filter on
    a logger does not see records that propagate from child loggers; one on the handler does).
    Installing twice does nothing more."""
    chosen: IinMaskingFilter | None = None
    for name in names:
        logger = logging.getLogger(name)
        targets: list[logging.Filterer] = [logger, *logger.handlers]
        for target in targets:
            existing = next((f for f in target.filters if isinstance(f, IinMaskingFilter)), None)
            if existing is None:
                existing = chosen or IinMaskingFilter()
                target.addFilter(existing)
            chosen = chosen or existing
    return chosen or IinMaskingFilter()
