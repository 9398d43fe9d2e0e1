"""``saqta status`` as a user runs it: the answer, and an exit code for each kind of answer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from access_helpers import sign_in
from saqta.access import Role, query_audit
from saqta.store.db import make_engine
from test_mshi_eligibility import SampleLake


@pytest.fixture
def lake(tmp_path: Path) -> SampleLake:
    return SampleLake(tmp_path / "lake").write()


def signed_in(lake: SampleLake, username: str, role: Role, scope: str | None = None) -> str:
    home = lake.root.parent / "home"
    return sign_in(home, f"sqlite:///{home / 'saqta.db'}", username, role, scope)


def saqta(
    lake: SampleLake, *args: str, token: str | None = "operator"
) -> subprocess.CompletedProcess[str]:
    """Run ``saqta`` as a contact-centre operator (``token="operator"``), with another token,
    or signed out (None)."""
    if token == "operator":
        token = signed_in(lake, "olga", Role.OPERATOR)
    env = {
        **os.environ,
        "SAQTA_HOME": str(lake.root.parent / "home"),
        "SAQTA_LAKE_DIR": str(lake.root),
        "COLUMNS": "200",
        "SAQTA_DATABASE_URL": "",
    }
    env.pop("SAQTA_TOKEN", None)
    if token is not None:
        env["SAQTA_TOKEN"] = token
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

    # Signed out: refused with its own exit code, nothing answered.
    anonymous = saqta(lake, "status", lake.pensioner, "--on", "2022-03-31", token=None)
    assert anonymous.returncode == 7
    assert "sign in first" in anonymous.stderr and "insured" not in anonymous.stdout
    # A provider gets the minimal answer; an unknown person looks like a not-insured one.
    provider = signed_in(lake, "clinic", Role.PROVIDER, "123456789012")
    minimal = saqta(lake, "status", lake.stranger, "--on", "2022-03-01", "--json", token=provider)
    assert minimal.returncode == 1
    assert json.loads(minimal.stdout) == {
        "iin": lake.stranger, "date": "2022-03-01", "insured": False, "valid_until": None,
    }  # fmt: skip
    # Every question was audited under its identity.
    engine = make_engine(f"sqlite:///{lake.root.parent / 'home' / 'saqta.db'}")
    audited = query_audit(engine, iin=lake.stranger)
    engine.dispose()
    assert [(r.principal, r.interface, r.outcome) for r in audited] == [
        ("user:clinic", "cli", "unknown_person"),
        ("user:olga", "cli", "unknown_person"),
    ]
    # A regulator may not ask at all.
    regulator = signed_in(lake, "arfr", Role.REGULATOR)
    refused = saqta(lake, "status", lake.pensioner, "--on", "2022-03-31", token=regulator)
    assert refused.returncode == 7 and "may not eligibility.check" in refused.stderr


def test_no_index_is_its_own_exit_code(lake):
    lake.root.parent.joinpath("home").mkdir(exist_ok=True)
    result = saqta(lake, "status", lake.pensioner, "--on", "2022-01-01")
    assert result.returncode == 6
    assert "build one with `saqta eligibility build-index`" in result.stderr
