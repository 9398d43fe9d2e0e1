"""Small registers and payments files written as a user would, for tests that drive the
command line or a lake at an awkward path."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

from saqta.core.iin import Sex, make_iin

EMPLOYER = "990140000126"


def _iin(birth: dt.date, serial: int) -> str:
    while (value := make_iin(birth, Sex.FEMALE if serial % 2 else Sex.MALE, serial)) is None:
        serial += 1
    return value


PEOPLE = [_iin(dt.date(1960 + n % 40, 1 + n % 12, 1 + n % 28), 100 + n) for n in range(40)]


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def persons_file(folder: Path, people: list[str] = PEOPLE, name: str = "persons.csv") -> Path:
    rows = []
    for iin in people:
        birth = dt.date(int(iin[:2]) + 1900, int(iin[2:4]), int(iin[4:6]))
        sex = "M" if iin[6] in "35" else "F"
        rows.append([iin, sex, birth.isoformat(), "ALA", "true", "", ""])
    header = ["iin", "sex", "birth_date", "region", "urban", "attached_provider_id", "death_date"]
    return _write_csv(folder / name, header, rows)


def payments_file(folder: Path, name: str, prefix: str, rows_per_person: int = 6) -> Path:
    """Payments for January to June 2022 of every person: one file per month partition."""
    rows = []
    for n, iin in enumerate(PEOPLE):
        for k in range(rows_per_person):
            month = 1 + k % 6
            rows.append(
                [
                    f"{prefix}-{n}-{k}",
                    EMPLOYER,
                    iin,
                    "employer_deduction",
                    f"2022-{month:02d}",
                    "4250.00",
                    f"2022-{month:02d}-20",
                ]
            )
    header = [
        "reference",
        "payer_id",
        "person_iin",
        "payment_type",
        "period",
        "amount",
        "payment_date",
    ]
    return _write_csv(folder / name, header, rows)
