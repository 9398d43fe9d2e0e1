"""Benchmark: compute and validate one branch's monthly forms for a large portfolio.

    .venv/bin/python benchmarks/prudential_compute.py [--holdings N] [--treaties N] [--seed 1]

Builds a random but valid portfolio (holdings of every kind, a daily-like rating history of
several records per subject, treaties in every block), then times parse_inputs, compute (which
includes validation) and a second validate of the result. Prints the timings and the counts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time
from decimal import Decimal
from typing import Any

from saqta.prudential.compute import compute
from saqta.prudential.inputs import parse_inputs
from saqta.prudential.validate import validate

KINDS = [
    ("current_account", "kz_second_tier_bank", "resident_kz", None),
    ("deposit", "kz_second_tier_bank", "resident_kz", None),
    ("deposit", "nonresident_bank", "non_resident", None),
    ("debt_security", "kz_government", "resident_kz", None),
    ("debt_security", "kz_legal_entity", "resident_kz", "kase_main_debt"),
    ("debt_security", "foreign_state", "non_resident", None),
    ("debt_security", "foreign_legal_entity", "non_resident", None),
    ("share", "kz_legal_entity", "resident_kz", "kase_main_shares_standard"),
    ("islamic_instrument", "kz_legal_entity", "resident_kz", None),
    ("cash_in_hand", "other", "resident_kz", None),
    ("precious_metal", "other", "resident_kz", None),
]
GRADES = ["AA", "A+", "A-", "BBB+", "BBB-", "BB+", "BB", "B+", "B-", "CCC"]


def portfolio(holdings: int, treaties: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    issuers = [f"I{i}" for i in range(max(holdings // 20, 1))]
    rows = []
    for i in range(holdings):
        kind, issuer_kind, residency, category = rng.choice(KINDS)
        rows.append(
            {
                "instrument_id": f"H{i}", "instrument_type": kind,
                "issuer_id": rng.choice(issuers), "issuer_kind": issuer_kind,
                "issuer_residency": residency, "exchange_category": category,
                "carrying_amount": str(Decimal(rng.randrange(10**10)) / 100),
            }
        )  # fmt: skip
    ratings = []
    reinsurers = [f"R{j}" for j in range(max(treaties // 3, 1))]
    for subject in issuers + reinsurers:
        for month in range(1, 4):
            ratings.append(
                {"subject": subject, "agency": rng.choice(["sp", "fitch"]),
                 "scale": "international", "grade": rng.choice(GRADES),
                 "date": dt.date(2024, month, rng.randint(1, 28)).isoformat()}
            )  # fmt: skip
    blocks = ["non_resident", "resident_kz", "eaeu"]
    treaty_rows = []
    for j in range(treaties):
        reinsurer = rng.choice(reinsurers)
        treaty_rows.append(
            {"treaty_id": f"T{j}", "reinsurer_id": reinsurer, "reinsurer_name": f"{reinsurer} Re",
             "block": blocks[int(reinsurer[1:]) % 3],
             "solvency_ratio": str(Decimal(50 + int(reinsurer[1:]) % 200) / 100),
             "ceded_liabilities": str(Decimal(rng.randrange(10**11)) / 100)}
        )  # fmt: skip
    return {
        "branch": {"bin": "123456789012", "name": "Bench branch", "address": "Almaty",
                   "phone": "0", "email": "b@b.kz", "signer": "S", "executor": "E",
                   "line": "general"},
        "period": "2024-03", "holdings": rows, "ratings": ratings, "treaties": treaty_rows,
        "figures": {"reserves_net": "1e12", "repo_liabilities": "0",
                    "minimum_reserve_assets": "1e9", "assets_net_of_reinsurance": "5e12"},
        "methodology": {"actual_margin": "1e11", "premium_method": "5e10", "claims_method": "4e10"},
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--holdings", type=int, default=20000)
    parser.add_argument("--treaties", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    raw = portfolio(args.holdings, args.treaties, args.seed)
    t0 = time.perf_counter()
    inputs = parse_inputs(raw, today=dt.date(2024, 4, 30))
    t1 = time.perf_counter()
    report = compute(inputs)
    t2 = time.perf_counter()
    findings = validate(report, inputs=inputs)
    t3 = time.perf_counter()
    rows = sum(len(f.rows) for f in report.forms.values())
    print(
        f"holdings {args.holdings}, ratings {len(raw['ratings'])}, treaties {args.treaties}: "
        f"parse {t1 - t0:.2f} s, compute+validate {t2 - t1:.2f} s, validate {t3 - t2:.2f} s; "
        f"{rows} rows, {len(report.findings)} findings ({len(findings)} form findings)"
    )


if __name__ == "__main__":
    main()
