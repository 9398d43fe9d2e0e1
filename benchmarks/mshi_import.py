"""Benchmark: import a synthetic country (persons, state categories, then payments) into a fresh
facts lake and system of record, reporting rows/s, wall time and peak RSS per step.

    flock LOCKFILE python benchmarks/mshi_import.py SYNTH_DIR WORK_DIR [--chunks N]

WORK_DIR is emptied first; the SQLite system of record and the lake are created inside it
(``--database-url`` to use PostgreSQL instead). ``--chunks N`` imports only the first N part files
of each folder (for profiling). The figures are printed and written to WORK_DIR/results.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any


def _peak_rss_mib() -> float:
    """The peak resident set size since the last reset (Linux VmHWM), in MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak() -> None:
    """Reset the peak RSS counter (Linux: writing 5 to clear_refs)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _step(name: str, results: list[Any], started: float) -> dict[str, Any]:
    seconds = time.perf_counter() - started
    read = sum(r.read for r in results)
    figures = {
        "step": name,
        "files": len(results),
        "rows_read": read,
        "rows_accepted": sum(r.accepted for r in results),
        "rows_quarantined": sum(r.quarantined for r in results),
        "seconds": round(seconds, 1),
        "rows_per_second": round(read / seconds) if seconds else None,
        "peak_rss_mib": round(_peak_rss_mib()),
    }
    print(json.dumps(figures), flush=True)
    return figures


def _parts(folder: Path, chunks: int | None) -> list[Path]:
    return sorted(folder.glob("*.parquet"))[:chunks]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("synth", type=Path, help="a saqta synth output folder")
    parser.add_argument("work", type=Path, help="folder for the fresh lake and database")
    parser.add_argument(
        "--chunks",
        type=int,
        default=None,
        help="import only the first N part files of each folder (persons of chunk k are the "
        "payers of payments chunk k), for profiling",
    )
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args(argv)

    from saqta.mshi.contributions import import_payments
    from saqta.mshi.registry import import_persons
    from saqta.store.db import make_engine, upgrade
    from saqta.store.lake import FactsLake

    if args.work.exists():
        shutil.rmtree(args.work)
    args.work.mkdir(parents=True)
    engine = make_engine(args.database_url or f"sqlite:///{args.work / 'saqta.db'}")
    upgrade(engine)
    lake = FactsLake(args.work / "lake")
    steps = []

    _reset_peak()
    started = time.perf_counter()
    results = import_persons(engine, lake, _parts(args.synth / "persons", args.chunks))
    steps.append(_step("persons", results, started))
    _reset_peak()
    started = time.perf_counter()
    results = import_persons(engine, lake, _parts(args.synth / "state_categories", args.chunks))
    steps.append(_step("state_categories", results, started))

    files = _parts(args.synth / "payments", args.chunks)
    _reset_peak()
    started = time.perf_counter()
    results = []
    for index, path in enumerate(files, start=1):
        result = import_payments(engine, lake, path)
        results.append(result)
        elapsed = time.perf_counter() - started
        print(
            f"  payments {index}/{len(files)} {path.name}: {result.read:,} rows in "
            f"{result.seconds:.1f} s (total {elapsed:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
    steps.append(_step("payments", results, started))
    report = {
        "synth": str(args.synth),
        "cpus": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "steps": steps,
        "lake_bytes": sum(p.stat().st_size for p in lake.root.rglob("*") if p.is_file()),
    }
    (args.work / "results.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
