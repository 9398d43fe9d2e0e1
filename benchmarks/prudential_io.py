"""Benchmark: the branch side end to end on the sample branches.

    .venv/bin/python benchmarks/prudential_io.py --out DIR [--seed 1] [--months 12]

Writes the sample inputs (3 branches x MONTHS workbooks and a correction), then for every
workbook: loads it, computes the forms, and writes every output (4 XLSX, XML validated against
its schema, JSON, 2 HTML). Reports the time of each stage in total and per branch-month.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from saqta.prudential.compute import compute
from saqta.prudential.loaders import load_inputs
from saqta.prudential.outputs import write_outputs
from saqta.prudential.sample import write_samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--months", type=int, default=12)
    args = parser.parse_args()

    started = time.perf_counter()
    manifest_path = write_samples(args.out / "inputs", seed=args.seed, months=args.months)
    sampled = time.perf_counter() - started
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    timings = {"load": 0.0, "compute": 0.0, "write": 0.0}
    count = 0
    for item in manifest["inputs"]:
        t0 = time.perf_counter()
        inputs = load_inputs(manifest_path.parent / item["path"])
        t1 = time.perf_counter()
        report = compute(inputs)
        t2 = time.perf_counter()
        suffix = "-correction" if item["correction"] else ""
        write_outputs(report, args.out / "forms" / f"{item['branch']}{suffix}" / item["period"])
        t3 = time.perf_counter()
        timings["load"] += t1 - t0
        timings["compute"] += t2 - t1
        timings["write"] += t3 - t2
        count += 1
    print(f"samples written: {len(manifest['inputs'])} workbooks in {sampled:.1f} s")
    for stage, seconds in timings.items():
        print(
            f"{stage:8} {seconds:7.2f} s total, {1000 * seconds / count:7.1f} ms per branch-month"
        )


if __name__ == "__main__":
    main()
