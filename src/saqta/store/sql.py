"""The one way Saqta writes a value or a name into SQL text.

Prefer bound parameters (``?`` or ``$1`` in DuckDB, ``%s`` through the PostgreSQL driver).
Some places cannot take one: DuckDB's ``CREATE VIEW``, ``COPY ... TO 'file'``, ``SET`` and the
options of ``read_parquet`` inside statements built as text (the status engine's setup). There,
and only there, these two functions quote: standard SQL, the same in DuckDB and PostgreSQL
(``standard_conforming_strings`` on, its default), so a backslash is an ordinary character.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

__all__ = ["sql_identifier", "sql_literal", "sql_path_list"]


def sql_literal(value: str | Path) -> str:
    """A SQL string literal holding ``value`` exactly (a path is written with ``/``)."""
    text = value.as_posix() if isinstance(value, Path) else value
    if not isinstance(text, str):
        raise TypeError(f"sql_literal takes text or a path, not {type(value).__name__}")
    if "\x00" in text:
        raise ValueError("a SQL literal cannot hold a NUL character")
    return "'" + text.replace("'", "''") + "'"


def sql_identifier(name: str) -> str:
    """A quoted SQL identifier (a table, view or column name) holding ``name`` exactly."""
    if not isinstance(name, str) or not name or "\x00" in name:
        raise ValueError(f"{name!r} cannot be a SQL identifier")
    return '"' + name.replace('"', '""') + '"'


def sql_path_list(paths: Iterable[Path]) -> str:
    """A SQL list literal of file paths, ``['a', 'b']``, for ``read_parquet``."""
    return "[" + ", ".join(sql_literal(path) for path in paths) + "]"
