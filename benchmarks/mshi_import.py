"""Benchmark: import a synthetic country (persons, state categories, then payments) into a fresh
facts lake and system of record, reporting rows/s, wall time and peak RSS per step.

    flock LOCKFILE python benchmarks/mshi_import.py SYNTH_DIR WORK_DIR [--chunks N]

WORK_DIR is emptied first; the SQLite system of record and the lake are created inside it
(``--database-url`` to use PostgreSQL instead). ``--chunks N`` imports only the first N part files
of each folder (for profiling). The figures are printed and written to WORK_DIR/results.json.

Every payments file is imported in the same process, one after the other, as a long import run
does. For each file the benchmark records (``steps[-1]["files"]`` in the results, and a line on
standard error): wall and CPU seconds (user + system, all threads), and the process's memory
after the file, from ``/proc/self/status`` and ``/proc/self/smaps_rollup``:

- ``rss_mib`` (VmRSS) and ``peak_mib`` (VmHWM during that file; the peak is reset before each);
- ``private_mib`` (and ``peak_private_mib``, sampled during the file): anonymous memory
  (Arrow's and NumPy's buffers, the Python heap), which is what a leak would grow;
- ``file_mib``: file-backed resident pages (memory-mapped index segments and files read), page
  cache that the kernel can drop at any time; a page mapped twice counts twice in VmRSS, which
  is how VmRSS can exceed the machine's memory;
- ``index_mappings``: how many mappings of reference-index segments the process holds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import sys
import threading
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


def _kib_fields(path: str) -> dict[str, int]:
    fields: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path(path).read_text().splitlines():
            name, _, rest = line.partition(":")
            parts = rest.split()
            if len(parts) == 2 and parts[1] == "kB":
                fields[name] = int(parts[0])
    return fields


def _memory() -> dict[str, float]:
    """The process's memory now, in MiB (Linux; empty elsewhere)."""
    status = _kib_fields("/proc/self/status")
    if not status:
        return {}
    rollup = _kib_fields("/proc/self/smaps_rollup")
    with contextlib.suppress(OSError):
        maps = Path("/proc/self/maps").read_text().splitlines()
    figures = {
        "rss_mib": status.get("VmRSS", 0) / 1024,
        "peak_mib": status.get("VmHWM", 0) / 1024,
        "private_mib": status.get("RssAnon", 0) / 1024,
        "private_dirty_mib": rollup.get("Private_Dirty", 0) / 1024,
        "file_mib": status.get("RssFile", 0) / 1024,
        "pss_file_mib": rollup.get("Pss_File", 0) / 1024,
        "index_mappings": sum("_index/payment_references" in line for line in maps),
    }
    return {key: round(value) for key, value in figures.items()}


class _PrivatePeak:
    """The highest anonymous (private) resident memory while the block runs, sampled every
    0.2 s (VmHWM mixes it with file-backed pages)."""

    def __init__(self) -> None:
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while True:
            self.peak_kib = max(self.peak_kib, _kib_fields("/proc/self/status").get("RssAnon", 0))
            if self._stop.wait(0.2):
                return

    def __enter__(self) -> _PrivatePeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def _reset_peak() -> None:
    """Reset the peak RSS counter (Linux: writing 5 to clear_refs)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _step(
    name: str, results: list[Any], started: float, peak_mib: float | None = None
) -> dict[str, Any]:
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
        "peak_rss_mib": round(peak_mib if peak_mib is not None else _peak_rss_mib()),
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
    started = time.perf_counter()
    results = []
    per_file: list[dict[str, Any]] = []
    for index, path in enumerate(files, start=1):
        _reset_peak()
        cpu = _cpu_seconds()
        clock = time.perf_counter()
        with _PrivatePeak() as private:
            result = import_payments(engine, lake, path)
        figures: dict[str, Any] = {
            "file": path.name,
            "rows": result.read,
            "seconds": round(time.perf_counter() - clock, 2),
            "cpu_seconds": round(_cpu_seconds() - cpu, 2),
            **_memory(),
            "peak_private_mib": round(private.peak_kib / 1024),
        }
        results.append(result)
        per_file.append(figures)
        elapsed = time.perf_counter() - started
        print(
            f"  payments {index}/{len(files)} {json.dumps(figures)} (total {elapsed:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
    peak = max((figures.get("peak_mib", 0) for figures in per_file), default=None)
    steps.append(_step("payments", results, started, peak))
    steps[-1]["cpu_seconds"] = round(sum(figures["cpu_seconds"] for figures in per_file), 1)
    steps[-1]["peak_private_mib"] = max(
        (figures["peak_private_mib"] for figures in per_file), default=None
    )
    steps[-1]["files"] = per_file
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
