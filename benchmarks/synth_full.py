"""Benchmark: build the synthetic Kazakhstan at full scale (19,741,283 persons) and report speed.

    .venv/bin/python benchmarks/synth_full.py [--scale 1.0] [--out DIR] [--workers 2]

Reports wall time, rows written per second (persons + state categories + payments) and peak
resident memory of the main process and of the worker processes. The output folder is removed
afterwards unless --keep is given.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from saqta.synth.generate import SynthOptions, generate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="saqta-bench-")) / "country"
    started = time.perf_counter()
    result = generate(SynthOptions(scale=args.scale, seed=args.seed, out=out, workers=args.workers))
    seconds = time.perf_counter() - started
    rows = result.counts["persons"] + result.counts["state_categories"] + result.counts["payments"]
    size = sum(f.stat().st_size for f in out.rglob("*.parquet"))
    report = {
        "scale": args.scale,
        "persons": result.counts["persons"],
        "payments": result.counts["payments"],
        "rows_written": rows,
        "seconds": round(seconds, 1),
        "rows_per_second": round(rows / seconds),
        "parquet_bytes": size,
        "peak_rss_main_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "peak_rss_worker_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024,
        "cpus": os.cpu_count(),
    }
    print(json.dumps(report, indent=2))
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
