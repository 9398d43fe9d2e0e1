"""``saqta status`` as a user runs it: the answer, and an exit code for each kind of answer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from test_mshi_eligibility import SampleLake


@pytest.fixture
def lake(tmp_path: Path) -> SampleLake:
    return SampleLake(tmp_path / "lake").write()


def saqta(lake: SampleLake, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SAQTA_HOME": str(lake.root.parent / "home"),
        "SAQTA_LAKE_DIR": str(lake.root),
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "saqta", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_build_then_answer_with_exit_codes(lake):
    built = saqta(lake, "eligibility", "build-index")
    assert built.returncode == 0, built.stderr
    assert "2022-01 to 2022-03 (3)" in built.stdout

    insured = saqta(lake, "status", lake.employee, "--on", "2022-02-01")
    assert insured.returncode == 0
    assert insured.stdout.splitlines()[:3] == [
        "insured on 2022-02-01",
        "  reason: contributions by employer deductions: 10 paid months in the look-back "
        "window, last paid period 2022-01",
        "  valid until: 2022-03-31",
    ]
    assert "what would change it: entitled until 2022-03-31 unless a payment" in insured.stdout

    kazakh = saqta(lake, "status", lake.employee, "--on", "2022-02-01", "--lang", "kk")
    assert kazakh.returncode == 0
    assert kazakh.stdout.splitlines()[:3] == [
        "2022-02-01 күні: МӘМС жүйесінде сақтандырылған",
        "  негіздеме: жарналар (жұмыс берушінің аударымдары): есепке алу кезеңінде 10 "
        "төленген ай, соңғы төленген кезең 2022-01",
        "  мерзімі: 2022-03-31 дейін",
    ]
    russian = saqta(lake, "status", lake.employee, "--on", "2022-03-01", "--lang", "ru-RU")
    assert russian.returncode == 1
    assert russian.stdout.splitlines()[0] == "не застрахован в системе ОСМС на 2022-03-01"
    assert saqta(lake, "status", lake.employee, "--lang", "de").returncode == 2

    category = saqta(lake, "status", lake.pensioner, "--on", "2022-03-31")
    assert category.returncode == 0
    assert "preferential category (pensioner)" in category.stdout
    assert "valid until: open-ended" in category.stdout

    lapsed = saqta(lake, "status", lake.employee, "--on", "2022-03-01", "--json")
    assert lapsed.returncode == 1
    assert json.loads(lapsed.stdout)["basis"] == "none"

    unknown = saqta(lake, "status", lake.stranger, "--on", "2022-03-01")
    assert unknown.returncode == 3
    assert "not in the register" in unknown.stdout

    bad = lake.pensioner[:11] + str((int(lake.pensioner[11]) + 1) % 10)
    invalid = saqta(lake, "status", bad, "--on", "2022-03-01")
    assert invalid.returncode == 4
    assert invalid.stderr.startswith(f"error iin '{bad}': check digit is")

    assert saqta(lake, "status", lake.pensioner, "--on", "2022-13-01").returncode == 5
    outside = saqta(lake, "status", lake.pensioner, "--on", "2022-04-01")
    assert outside.returncode == 5
    assert "the index covers 2022-01 to 2022-03" in outside.stderr

    info = saqta(lake, "eligibility", "info")
    assert info.returncode == 0
    assert json.loads(info.stdout)["persons"] == 9


def test_no_index_is_its_own_exit_code(lake):
    result = saqta(lake, "status", lake.pensioner, "--on", "2022-01-01")
    assert result.returncode == 6
    assert "build one with `saqta eligibility build-index`" in result.stderr
