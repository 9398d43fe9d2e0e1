"""The inputs of one branch's monthly prudential report: a strict Pydantic model in ``Decimal``.

Everything the five forms need and the seed does not let the system compute itself is an input:

- :class:`Holding`: one asset position at the end of the last calendar day of the month (1-PN_V
  column 3, Annex 6 explanation para 9) with the attributes the 1-PN_V criteria test;
- :class:`RatingRecord`: one dated rating of a subject (an instrument, an issuer, a parent bank,
  a reinsurer) by an accepted agency; the forms use the rating in force at the end of the period
  (Annex 7, para 3), so a change on the last day counts;
- :class:`Treaty`: liabilities ceded to one reinsurer under existing treaties (1-PN_M column 3);
- :class:`Figures`: reserves net of the reinsurer's share, REPO liabilities, the minimum reserve
  assets and the assets net of reinsurance assets (for the 1% cash-in-hand cap);
- :class:`Methodology`: the amounts of ARDFM resolution No. 32 (the "Methodology", whose text
  is not available here): actual margin (para 21), premium and claims methods (paras 9, 10), the
  para 14 decrease, and the life rows 100/110/120/200 (paras 16, 17, 19, 20);
- :class:`CategoryOverride`: the branch's own choice of a 1-PN_V category for a holding that fits
  several (Annex 6 explanation para 8), with who chose it and why.

:func:`parse_inputs` turns raw data (from a loader, JSON, a test) into :class:`PrudentialInputs`
and reports every problem as an :class:`~saqta.core.errors.InputError` line naming its place
(``holdings[3].carrying_amount``). Amounts are tenge, unrounded.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import (
    BeforeValidator,
    Field,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from saqta.core.errors import InputError, Problem
from saqta.core.periods import Month
from saqta.prudential.records import (
    CategoryOverride,
    Figures,
    Holding,
    Methodology,
    RatingRecord,
    Treaty,
    _Strict,
    _tuple,
)
from saqta.prudential.report import BranchProfile


class PrudentialInputs(_Strict):
    branch: BranchProfile
    period: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    holdings: Annotated[tuple[Holding, ...], BeforeValidator(_tuple)] = ()
    ratings: Annotated[tuple[RatingRecord, ...], BeforeValidator(_tuple)] = ()
    treaties: Annotated[tuple[Treaty, ...], BeforeValidator(_tuple)] = ()
    figures: Figures
    methodology: Methodology
    overrides: Annotated[tuple[CategoryOverride, ...], BeforeValidator(_tuple)] = ()

    @property
    def month(self) -> Month:
        year, month = self.period.split("-")
        return Month(int(year), int(month))

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> PrudentialInputs:
        problems = input_problems(self, today=(info.context or {}).get("today"))
        if problems:
            raise ValueError("; ".join(str(p) for p in problems))
        return self


def input_problems(inputs: PrudentialInputs, today: dt.date | None = None) -> list[Problem]:
    """Problems across records: duplicates, unknown agencies or grades, a future period,
    ratings dated after the period, missing methodology rows for the branch's line."""
    from saqta.prudential.ratings import RatingBook

    problems: list[Problem] = []
    month = inputs.month
    today = today or dt.date.today()
    if month > Month.of(today):
        problems.append(Problem("period", f"{inputs.period} is in the future (today is {today})"))
    seen: dict[str, int] = {}
    for i, holding in enumerate(inputs.holdings):
        if holding.instrument_id in seen:
            problems.append(
                Problem(
                    f"holdings[{i}].instrument_id",
                    f"duplicate instrument {holding.instrument_id!r} "
                    f"(also holdings[{seen[holding.instrument_id]}])",
                )
            )
        seen.setdefault(holding.instrument_id, i)
    treaty_ids: dict[str, int] = {}
    reinsurers: dict[str, Treaty] = {}
    for i, treaty in enumerate(inputs.treaties):
        if treaty.treaty_id in treaty_ids:
            problems.append(
                Problem(
                    f"treaties[{i}].treaty_id",
                    f"duplicate treaty {treaty.treaty_id!r} "
                    f"(also treaties[{treaty_ids[treaty.treaty_id]}])",
                )
            )
        treaty_ids.setdefault(treaty.treaty_id, i)
        first = reinsurers.setdefault(treaty.reinsurer_id, treaty)
        if (first.block, first.solvency_ratio, first.reinsurer_name) != (
            treaty.block,
            treaty.solvency_ratio,
            treaty.reinsurer_name,
        ):
            problems.append(
                Problem(
                    f"treaties[{i}]",
                    f"reinsurer {treaty.reinsurer_id!r} has a different name, block or solvency "
                    f"ratio than in treaty {first.treaty_id!r}",
                )
            )
    book = RatingBook.empty()
    for i, record in enumerate(inputs.ratings):
        problem = book.check(record)
        if problem:
            problems.append(Problem(f"ratings[{i}]", problem))
    seen_overrides: set[str] = set()
    for i, override in enumerate(inputs.overrides):
        if override.instrument_id not in seen:
            problems.append(
                Problem(
                    f"overrides[{i}].instrument_id",
                    f"no holding {override.instrument_id!r} in this report",
                )
            )
        if override.instrument_id in seen_overrides:
            problems.append(
                Problem(
                    f"overrides[{i}].instrument_id",
                    f"a second override for {override.instrument_id!r}",
                )
            )
        seen_overrides.add(override.instrument_id)
    m = inputs.methodology
    if inputs.branch.line == "general":
        for name in ("premium_method", "claims_method"):
            if getattr(m, name) is None:
                problems.append(
                    Problem(f"methodology.{name}", "required for a general-insurance branch")
                )
    else:
        for name in ("life_100", "life_110", "life_120", "life_200"):
            if getattr(m, name) is None:
                problems.append(
                    Problem(f"methodology.{name}", "required for a life-insurance branch")
                )
    return problems


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def parse_inputs(
    data: Any, *, source: str = "inputs", today: dt.date | None = None
) -> PrudentialInputs:
    """Validate raw data into :class:`PrudentialInputs`; every problem is one line of an
    :class:`InputError` naming ``source`` and the place (``holdings[2].carrying_amount``)."""
    if isinstance(data, PrudentialInputs):
        data = data.model_dump()
    try:
        return PrudentialInputs.model_validate(data, context={"today": today})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = f"{source}: {_location(tuple(error['loc']))}"
            message = str(error["msg"]).removeprefix("Value error, ")
            if error["type"] == "value_error" and not error["loc"]:
                problems += [Problem(f"{source}: {part}", "") for part in message.split("; ")]
                continue
            if error["type"] == "missing":
                message = "missing required field"
            elif error["type"] == "extra_forbidden":
                message = "unknown field"
            problems.append(Problem(where, message))
        raise InputError([_tidy(p) for p in problems]) from None


def _tidy(problem: Problem) -> Problem:
    if problem.what:
        return problem
    where, _, what = problem.where.partition(": ")
    place, _, message = what.partition(": ")
    return Problem(f"{where}: {place}", message)
