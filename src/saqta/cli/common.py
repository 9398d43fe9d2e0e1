"""What every command shares: the console, turning errors into clear lines, progress bars."""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from saqta.core.errors import SaqtaError

_IMPORTED_AT = time.monotonic()


def seconds_since_process_start() -> float:
    """Wall-clock seconds since this process started (interpreter start-up and imports included).

    Read from the kernel (``/proc/self/stat`` field 22 against ``/proc/uptime``); where that is not
    available, the time since this module was imported, which is early in every command.
    """
    try:
        with open("/proc/self/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime", encoding="ascii") as handle:
            uptime = float(handle.read().split()[0])
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")
        return max(0.0, uptime - started)
    except (OSError, ValueError, IndexError):
        return time.monotonic() - _IMPORTED_AT


console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

P = ParamSpec("P")
R = TypeVar("R")


def report_errors(exit_code: int = 1) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Print each problem of a :class:`SaqtaError` on its own line and exit, never a traceback."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(*args, **kwargs)
            except SaqtaError as exc:
                for problem in exc.problems:
                    err_console.print(
                        f"[red]error[/red] {escape(str(problem))}", highlight=False, soft_wrap=True
                    )
                raise typer.Exit(exit_code) from None

        return wrapper

    return decorate


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """A Rich progress bar; yields ``update(done, total)``."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    ) as progress:
        task = progress.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


def parse_locale(value: str) -> str:
    """A ``--lang`` value (``kk``, ``ru``, ``en``, or a tag such as ``ru-RU``) as a locale."""
    from saqta.core.i18n import LOCALES, normalize_locale

    found = normalize_locale(value)
    if found is None:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(LOCALES)}")
    return found
