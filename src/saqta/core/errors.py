"""Errors that user-facing commands turn into one clear line per problem.

Every problem says *where* (a file, a row, a field or a key) and *what* went wrong. Commands print
``str(problem)`` and never a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One problem with an input: where it is and what is wrong."""

    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}" if self.where else self.what


class SaqtaError(Exception):
    """Base class of every error Saqta raises on purpose.

    It carries one or more :class:`Problem` objects; ``str()`` gives one line per problem.
    """

    def __init__(self, problems: Problem | str | Iterable[Problem], where: str = "") -> None:
        if isinstance(problems, str):
            items: Sequence[Problem] = (Problem(where, problems),)
        elif isinstance(problems, Problem):
            items = (problems,)
        else:
            items = tuple(problems)
        self.problems: tuple[Problem, ...] = tuple(items)
        super().__init__("\n".join(str(p) for p in self.problems))


class InputError(SaqtaError):
    """Bad input from a user or a file (an invalid IIN, a date out of range, a broken row)."""


class RulesError(SaqtaError):
    """A rules file is malformed, or a rule asked for does not exist or has no value in force."""


class StoreError(SaqtaError):
    """A store cannot be opened or written (bad URL, unwritable folder, failed migration)."""
