"""Crash points: named places where a process can be made to die as if the power failed.

Crash safety is tested by killing real processes with SIGKILL at chosen moments. Setting the
environment variable ``SAQTA_CRASH_AT`` to ``<point>`` (or ``<point>:<n>``, the n-th time the
point is reached, counting from 1) makes the process send itself SIGKILL when it reaches that
point. Without the variable, :func:`crash_point` compares one module constant with ``None`` and
returns: nothing is read, written or allocated.

The points are listed in :data:`CRASH_POINTS`; a name not in the list is refused when the
variable is read, so a misspelt point cannot silently never fire.
"""

from __future__ import annotations

import os
import signal

__all__ = ["CRASH_POINTS", "crash_point"]

CRASH_POINTS = (
    "import.before_staging",  # the lake is locked and recovered; nothing staged yet
    "import.staging",  # after each batch is handed to the staging writer
    "lake.prepared",  # the transaction's file list is durable; the database has not committed
    "import.committed",  # the system of record committed the import; nothing moved yet
    "retry.committed",  # the system of record committed a retry of quarantined rows; nothing moved
    "refund.committed",  # the system of record committed a paid refund; nothing moved yet
    "lake.roll_forward",  # after each staged file is moved into place
    "lake.committed",  # every file moved, the transaction record removed
    "status.started",  # the status run is recorded as running
    "status.month",  # after each month of a status run is swapped into place
)


def _target() -> tuple[str, int] | None:
    raw = os.environ.get("SAQTA_CRASH_AT", "").strip()
    if not raw:
        return None
    name, _, count = raw.partition(":")
    if name not in CRASH_POINTS:
        raise ValueError(f"SAQTA_CRASH_AT={raw!r}: unknown crash point (known: {CRASH_POINTS})")
    return name, int(count) if count else 1


_TARGET = _target()
_SEEN = [0]


def crash_point(name: str) -> None:
    """Die here with SIGKILL if ``SAQTA_CRASH_AT`` names this point (see the module)."""
    if _TARGET is None:
        return
    if name != _TARGET[0]:
        return
    _SEEN[0] += 1
    if _SEEN[0] >= _TARGET[1]:
        os.kill(os.getpid(), signal.SIGKILL)
