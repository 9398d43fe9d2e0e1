"""The calibration report: the generated country against the Fund's published 2022 figures.

Each check shows the published value, the generated value, the tolerance and whether it passes.
Published figures are the annual report's table 2 (unique persons by category), diagram 4 (employees
by months paid) and the average deduction and its base (all in Section 1, 1.1), and table 4
(providers by region, Section 2, 2.2). Payments are compared for the periods of the reported year
only: the look-back months before it (``payments/lookback-*.parquet``) never enter a figure.
The rows "entitled" and "uninsured" of table 2 depend on the insured-status rules and are not
checked here.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from dataclasses import asdict, dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb

from saqta.core.errors import InputError
from saqta.store.sql import sql_literal
from saqta.synth.profile import published_dir

TABLE2_ROWS = {
    "state_paid_exempt": "state_paid",
    "employees": "employee",
    "individual_entrepreneurs_private_practice": "individual_entrepreneur",
    "civil_law_contract_workers": "civil_law_contract",
    "single_payment_payers": "single_payment",
    "self_payers": "self_payer",
}


@dataclass(frozen=True)
class Check:
    figure: str
    published: Decimal
    generated: Decimal
    tolerance: str
    passed: bool
    unit: str


def _pp_check(figure: str, published: Decimal, generated: Decimal, tol_pp: Decimal) -> Check:
    return Check(
        figure=figure,
        published=published,
        generated=generated,
        tolerance=f"±{tol_pp} pp",
        passed=abs(generated - published) <= tol_pp,
        unit="% ",
    )


def _rel_check(
    figure: str, published: Decimal, generated: Decimal, tol_pct: Decimal, unit: str
) -> Check:
    limit = abs(published) * tol_pct / 100
    return Check(
        figure=figure,
        published=published,
        generated=generated,
        tolerance=f"±{tol_pct}%",
        passed=abs(generated - published) <= limit,
        unit=unit,
    )


def _pct(part: int, whole: int) -> Decimal:
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def _read(name: str) -> list[dict[str, str]]:
    with (published_dir() / name).open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def calibrate(out: Path) -> list[Check]:
    """Compare the synthetic country in ``out`` with the published 2022 figures."""
    manifest_path = out / "manifest.json"
    if not manifest_path.exists():
        raise InputError("holds no synthetic country (no manifest.json)", where=f"folder {out}")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    scale = Decimal(str(manifest["scale"]))
    con = duckdb.connect()
    persons = f"read_parquet({sql_literal(out.as_posix() + '/persons/*.parquet')})"
    payments = f"read_parquet({sql_literal(out.as_posix() + '/payments/*.parquet')})"
    checks: list[Check] = []

    # Table 2: persons by category, as shares of the population
    table2 = {row["category"]: row for row in _read("insurance_status.csv")}
    population = int(table2["population"]["persons_2022"])
    counts = dict(con.execute(f"SELECT category, count(*) FROM {persons} GROUP BY 1").fetchall())
    generated_population = sum(counts.values())
    checks.append(
        _rel_check(
            "Table 2: population (scaled)",
            (Decimal(population) * scale).quantize(Decimal(1)),
            Decimal(generated_population),
            Decimal("0.01"),
            "persons",
        )
    )
    for row_name, category in TABLE2_ROWS.items():
        checks.append(
            _pp_check(
                f"Table 2: {row_name.replace('_', ' ')} share",
                Decimal(table2[row_name]["share_2022_pct"]),
                _pct(counts.get(category, 0), generated_population),
                Decimal("0.3") if category in ("state_paid", "employee") else Decimal("0.15"),
            )
        )
    paid_for = con.execute(
        f"SELECT count(DISTINCT person_iin) FROM {payments} WHERE year(period) = {manifest['year']}"
    ).fetchone()
    assert paid_for is not None
    checks.append(
        _pp_check(
            "Table 2: paid for (any payment in the year) share",
            Decimal(table2["paid_for"]["share_2022_pct"]),
            _pct(int(paid_for[0]), generated_population),
            Decimal("0.5"),
        )
    )

    # Diagram 4: employees by number of months with deductions paid
    freq = _read("payment_frequency_2022.csv")
    published_total = sum(Decimal(r["employees_thousand"]) for r in freq)
    months = dict(
        con.execute(
            f"""
            SELECT months, count(*) FROM (
                SELECT person_iin, count(DISTINCT period) AS months FROM {payments}
                WHERE payment_type = 'employer_deduction' AND year(period) = {manifest["year"]}
                GROUP BY 1) GROUP BY 1
            """
        ).fetchall()
    )
    employees = sum(months.values())
    for row in freq:
        m = int(row["months_paid_in_year"])
        checks.append(
            _pp_check(
                f"Diagram 4: employees paid {m} month{'s' if m > 1 else ''}",
                (Decimal(row["employees_thousand"]) * 100 / published_total).quantize(
                    Decimal("0.01"), ROUND_HALF_UP
                ),
                _pct(months.get(m, 0), employees),
                Decimal("0.75"),
            )
        )
    published_mean = (
        sum(
            (Decimal(r["months_paid_in_year"]) * Decimal(r["employees_thousand"]) for r in freq),
            Decimal(0),
        )
        / published_total
    ).quantize(Decimal("0.01"), ROUND_HALF_UP)
    generated_mean = (
        Decimal(sum(m * c for m, c in months.items())) / Decimal(max(employees, 1))
    ).quantize(Decimal("0.01"), ROUND_HALF_UP)
    checks.append(
        Check(
            "Diagram 4: mean payments a year",
            published_mean,
            generated_mean,
            "±0.15",
            abs(generated_mean - published_mean) <= Decimal("0.15"),
            "months",
        )
    )
    checks.append(
        _rel_check(
            "Diagram 4: employees with deductions (scaled)",
            (published_total * 1000 * scale).quantize(Decimal(1)),
            Decimal(employees),
            Decimal("3"),
            "persons",
        )
    )

    # Section 1, 1.1: average base of employer deductions (average deduction / the rate in force)
    from saqta.core.rules import load_rules

    rate = load_rules().decimal(
        "mshi.contributions.employer_deduction_rate", dt.date(int(manifest["year"]), 7, 1)
    )
    average = con.execute(
        f"""SELECT sum(amount), count(*) FROM {payments}
            WHERE payment_type = 'employer_deduction' AND year(period) = {manifest["year"]}"""
    ).fetchone()
    assert average is not None
    mean = Decimal(average[0]) / Decimal(max(average[1], 1))  # exact: a DECIMAL sum, no float
    average_deduction = mean.quantize(Decimal("0.1"), ROUND_HALF_UP)
    checks.append(
        _rel_check(
            "Section 1.1: average monthly deduction",
            Decimal("5478.3"),
            average_deduction,
            Decimal("2"),
            "KZT",
        )
    )
    checks.append(
        _rel_check(
            "Section 1.1: average base of deductions",
            Decimal("182600"),
            (mean / rate).quantize(Decimal(100), ROUND_HALF_UP),
            Decimal("2"),
            "KZT",
        )
    )

    # Table 4: providers by region and ownership (exact)
    providers = {
        (region, ownership): count
        for region, ownership, count in con.execute(
            "SELECT region, ownership, count(*) FROM read_parquet(?) GROUP BY 1, 2",
            [str(out / "providers.parquet")],
        ).fetchall()
    }
    from saqta.core.reference import region_by_name

    for row in _read("providers_by_region_2022.csv"):
        if row["region"] == "TOTAL":
            total = sum(providers.values())
            checks.append(
                Check(
                    "Table 4: providers, total",
                    Decimal(row["total_2022"]),
                    Decimal(total),
                    "exact",
                    total == int(row["total_2022"]),
                    "providers",
                )
            )
            continue
        code = region_by_name(row["region"]).code
        for ownership in ("state", "private"):
            got = providers.get((code, ownership), 0)
            want = int(row[f"{ownership}_2022"])
            checks.append(
                Check(
                    f"Table 4: {row['region']}, {ownership}",
                    Decimal(want),
                    Decimal(got),
                    "exact",
                    got == want,
                    "providers",
                )
            )
    return checks


def write_report(out: Path, checks: list[Check]) -> Path:
    path = out / "calibration.json"
    payload = [
        {k: (str(v) if isinstance(v, Decimal) else v) for k, v in asdict(c).items()} for c in checks
    ]
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")
    return path
