"""Ratings: grades of the accepted agencies resolved to S&P-equivalent grades, as of a date.

A :class:`RatingBook` holds the dated rating history of every subject (instruments, issuers,
parent banks, reinsurers). The forms use the rating in force at the end of the reporting period
(Annex 7, para 3): the latest record of each agency and scale dated on or before that day, so a
rating that changed on the last day of the month counts; a withdrawal (``NR``, ``WD``) ends a
rating. When several agencies rate a subject, the policy ``prudential.rating_selection``
(``best`` by default: the seed accepts "S&P's grade or a rating of a similar level of one of the
other agencies") picks the grade used.

Grades are compared by their position on the reference scale (best first), so "not lower than
B" is ``rank <= rank("B")``. Cyrillic letters that look like Latin ones (the seed itself writes
"В" and "А" in Cyrillic) are read as Latin.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from saqta.core.errors import InputError
from saqta.prudential.records import RatingRecord
from saqta.prudential.reference import (
    AgencyScale,
    GradeRange,
    RatingScalesFile,
    ScaleKind,
    rating_scales,
)

_HOMOGLYPHS = str.maketrans({"А": "A", "В": "B", "С": "C", "Е": "E", "а": "a", "с": "c", "е": "e"})

Policy = Literal["best", "worst"]


def normalize_grade(grade: str) -> str:
    """A grade as written in the scale tables: trimmed, Cyrillic look-alikes made Latin."""
    return grade.strip().translate(_HOMOGLYPHS)


@dataclass(frozen=True)
class ResolvedRating:
    subject: str
    agency: str
    scale: str  # the agency's scale code
    grade: str  # as recorded (normalised)
    date: dt.date
    kind: ScaleKind  # the reference scale it maps to
    equivalent: str | None  # the S&P-equivalent grade; None for a withdrawal
    rank: int  # position on the reference scale, 0 = best; -1 for a withdrawal
    verified: bool  # whether the agency's correspondence table is verified

    def describe(self) -> str:
        if self.equivalent is None:
            return f"{self.agency} {self.scale}: withdrawn ({self.grade}) on {self.date}"
        same = self.equivalent == self.grade
        eq = "" if same else f" = S&P {self.equivalent}"
        flag = "" if self.verified else " (unverified mapping)"
        return f"{self.agency} {self.grade}{eq}{flag} since {self.date}"


class RatingBook:
    """The rating history of every subject, resolved against the agencies' scale tables."""

    def __init__(self, scales: RatingScalesFile, records: Iterable[RatingRecord] = ()) -> None:
        self.scales = scales
        self._scale: dict[tuple[str, str], AgencyScale] = {
            (agency.code, scale.code): scale
            for agency in scales.agencies
            for scale in agency.scales
        }
        self._rank = {
            kind: {grade: i for i, grade in enumerate(grades)}
            for kind, grades in scales.reference_scales.items()
        }
        self._history: dict[str, list[ResolvedRating]] = defaultdict(list)
        self._selected: dict[tuple[str, dt.date, str, str], ResolvedRating | None] = {}
        for record in records:
            resolved = self.resolve(record)
            self._history[resolved.subject].append(resolved)

    @classmethod
    def empty(cls, dirs: Sequence[Path] | None = None) -> RatingBook:
        return cls(rating_scales(dirs))

    def rank(self, kind: ScaleKind, grade: str) -> int:
        return self._rank[kind][grade]

    def check(self, record: RatingRecord) -> str | None:
        """Why a record cannot be resolved (unknown agency, scale or grade), or ``None``."""
        agencies = {agency.code: agency for agency in self.scales.agencies}
        agency = agencies.get(record.agency)
        if agency is None:
            return f"unknown agency {record.agency!r} (known: {', '.join(sorted(agencies))})"
        scale = self._scale.get((record.agency, record.scale))
        if scale is None:
            known = ", ".join(s.code for s in agency.scales)
            return f"unknown scale {record.scale!r} of {record.agency} (known: {known})"
        grade = normalize_grade(record.grade)
        if grade not in scale.grades and grade not in scale.withdrawn:
            return (
                f"unknown grade {record.grade!r} on the {record.agency} {record.scale} scale "
                f"(known: {', '.join(scale.grades)}; withdrawn: {', '.join(scale.withdrawn)})"
            )
        return None

    def resolve(self, record: RatingRecord) -> ResolvedRating:
        problem = self.check(record)
        if problem:
            raise InputError(problem, where=f"rating of {record.subject!r}")
        scale = self._scale[(record.agency, record.scale)]
        grade = normalize_grade(record.grade)
        equivalent = scale.grades.get(grade)
        return ResolvedRating(
            subject=record.subject,
            agency=record.agency,
            scale=record.scale,
            grade=grade,
            date=record.date,
            kind=scale.maps_to,
            equivalent=equivalent,
            rank=self._rank[scale.maps_to][equivalent] if equivalent is not None else -1,
            verified=scale.verified,
        )

    def as_of(self, subject: str | None, on: dt.date) -> list[ResolvedRating]:
        """The ratings of ``subject`` in force at the end of day ``on``: per agency and scale the
        latest record dated on or before ``on``, withdrawals dropped."""
        if subject is None:
            return []
        latest: dict[tuple[str, str], ResolvedRating] = {}
        for rating in self._history.get(subject, ()):
            if rating.date > on:
                continue
            key = (rating.agency, rating.scale)
            current = latest.get(key)
            # Two records on the same day: the worse one stands (the cautious reading).
            if (
                current is None
                or rating.date > current.date
                or (rating.date == current.date and _worse(rating, current))
            ):
                latest[key] = rating
        return sorted(
            (r for r in latest.values() if r.equivalent is not None),
            key=lambda r: (r.kind, r.rank, r.agency, r.scale),
        )

    def select(
        self, subject: str | None, on: dt.date, kind: ScaleKind, policy: Policy = "best"
    ) -> ResolvedRating | None:
        """The one grade on reference scale ``kind`` used for ``subject`` on ``on``."""
        if subject is None:
            return None
        key = (subject, on, kind, policy)
        if key not in self._selected:
            found = [r for r in self.as_of(subject, on) if r.kind == kind]
            ordered = sorted(found, key=lambda r: (r.rank, r.agency, r.scale))
            self._selected[key] = (
                None if not ordered else ordered[0] if policy == "best" else ordered[-1]
            )
        return self._selected[key]

    def in_range(self, rating: ResolvedRating | None, grades: GradeRange) -> bool:
        if rating is None or rating.kind != grades.scale:
            return False
        ranks = self._rank[grades.scale]
        return ranks[grades.best] <= rating.rank <= ranks[grades.worst]


def _worse(a: ResolvedRating, b: ResolvedRating) -> bool:
    if a.equivalent is None:
        return True
    if b.equivalent is None:
        return False
    return a.rank > b.rank
