"""Benchmark: the regulator's intake and overview for a market of branches over a year.

The three sample branches' reports are computed for each month, then copied under N distinct
BINs (the branches of a market), written as JSON report files, received in one intake per month
(at the 5th working day) and summarised by the overview of every month.

    python benchmarks/prudential_intake.py --branches 50 --months 12 --out DIR [--db URL]

Prints the seconds of each step. Run heavy variants under ``flock /work/bench.lock``-style
locking if other benchmarks share the machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

from saqta.core.calendar import kazakhstan_calendar
from saqta.core.periods import Month
from saqta.prudential.compute import compute
from saqta.prudential.regulator import KAZAKHSTAN_TZ, intake, overview, register_branch
from saqta.prudential.render_json import report_json
from saqta.prudential.sample import generate_samples, make_bin
from saqta.store.db import make_engine, session_scope, upgrade


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--branches", type=int, default=50)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--db", default=None, help="database URL (default: SQLite in --out)")
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    url = args.db or f"sqlite:///{(out / 'bench.db').resolve()}"
    engine = make_engine(url)
    upgrade(engine)

    t0 = time.perf_counter()
    samples = generate_samples(seed=1, start="2024-01", months=args.months)
    reports = {(m.branch, m.period): compute(m.inputs, m.period) for m in samples.months_data}
    t1 = time.perf_counter()
    print(f"compute {len(reports)} sample reports: {t1 - t0:.1f} s")

    plans = samples.plans
    bins = [make_bin(Month(2020, 1 + i % 12), 100 + i) for i in range(args.branches)]
    with session_scope(engine) as session:
        for i, bin_ in enumerate(bins):
            profile = plans[i % len(plans)].profile
            register_branch(session, bin_, f"{profile.name} #{i}", profile.line, "2024-01")
    files = 0
    calendar = kazakhstan_calendar()
    intake_seconds = 0.0
    for offset in range(args.months):
        month = Month(2024, 1).shift(offset)
        folder = out / "inbox" / str(month)
        folder.mkdir(parents=True, exist_ok=True)
        for i, bin_ in enumerate(bins):
            plan = plans[i % len(plans)]
            base = reports[(plan.key, str(month))]
            branch = base.branch.model_copy(
                update={"bin": bin_, "name": f"{plan.profile.name} #{i}"}
            )
            report = base.model_copy(update={"branch": branch})
            (folder / f"{bin_}_{month}.json").write_text(report_json(report), encoding="utf-8")
            files += 1
        day = calendar.nth_working_day(month.next(), 5)
        at = dt.datetime.combine(day, dt.time(12), tzinfo=KAZAKHSTAN_TZ)
        start = time.perf_counter()
        result = intake(engine, [folder], received_at=at)
        intake_seconds += time.perf_counter() - start
        assert result.counts["accepted"] == len(bins), result.counts
    print(f"intake {files} files: {intake_seconds:.1f} s ({files / intake_seconds:.0f} files/s)")

    start = time.perf_counter()
    with session_scope(engine) as session:
        for offset in range(args.months):
            view = overview(
                session, Month(2024, 1).shift(offset), as_of=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
            )
            assert len(view.branches) == len(bins)
    seconds = time.perf_counter() - start
    print(f"overview of {args.months} months x {len(bins)} branches: {seconds:.1f} s")

    start = time.perf_counter()
    for offset in range(args.months):
        intake(engine, [out / "inbox" / str(Month(2024, 1).shift(offset))])
    print(f"re-intake of {files} files (all duplicates): {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
