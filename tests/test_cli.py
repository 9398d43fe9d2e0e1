"""The command line as a user types it: exit codes and one clear line per problem."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def saqta(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "saqta", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        check=False,
    )


def test_iin_check_valid():
    result = saqta("iin", "check", "900101300017")
    assert result.returncode == 0
    assert "born 1990-01-01, male" in result.stdout


def test_iin_check_invalid_says_why_without_traceback():
    result = saqta("iin", "check", "900101300010")
    assert result.returncode == 1
    assert result.stderr.strip() == "error IIN '900101300010': check digit is 0, expected 7"


def test_calendar_answers():
    assert saqta("calendar", "working-day", "2022-03-05").stdout.strip() == "yes"
    assert saqta("calendar", "working-day", "2022-03-07").stdout.strip() == "no"
    assert saqta("calendar", "next-working-day", "2022-03-21").stdout.strip() == "2022-03-24"
    assert (
        saqta("calendar", "deadline", "--month", "2022-05", "--working-day", "6").stdout.strip()
        == "2022-06-08"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("calendar", "working-day", "2031-01-01"), "out of range"),
        (("calendar", "working-day", "yesterday"), "expected an ISO date"),
        (("calendar", "deadline", "--month", "2022-13", "--working-day", "6"), "2022-13"),
        (("rules", "show", "economy.mrpp", "--on", "2022-01-01"), "unknown rule"),
        (("rules", "show", "economy.mrp", "--on", "2016-01-01"), "no value in force"),
        (("synth", "--scale", "5"), "must be between 0.001 and 1.0"),
        (("synth", "--workers", "0"), "workers 0: must be 1 or more"),
    ],
)
def test_bad_input_is_one_clear_line(args, message):
    result = saqta(*args)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_a_missing_overrides_folder_is_named(tmp_path):
    env = {**os.environ, "SAQTA_RULES_OVERRIDES": str(tmp_path / "nowhere")}
    result = subprocess.run(
        [sys.executable, "-m", "saqta", "rules", "check"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "SAQTA_RULES_OVERRIDES" in result.stderr and "nowhere" in result.stderr


def test_rules_show_prints_value_and_source():
    result = saqta(
        "rules", "show", "mshi.contributions.employer_deduction_rate", "--on", "2022-05-01"
    )
    assert result.returncode == 0
    assert "0.03 ratio" in result.stdout
    assert "Fund annual report 2022" in result.stdout


def test_rules_show_marks_unverified_values():
    result = saqta(
        "rules", "show", "mshi.contributions.state_contribution_rate", "--on", "2022-05-01"
    )
    assert "not given by the source" in result.stdout and "unverified" in result.stdout


def test_rules_check_passes_on_shipped_rules_and_names_problems_in_a_broken_folder(tmp_path):
    assert saqta("rules", "check").returncode == 0
    (tmp_path / "bad.yaml").write_text(
        "kind: parameters\nnamespace: t\ndescription: x\nparameters:\n  r:\n    description: r\n"
        "    type: decimal\n    values:\n"
        "      - {from: 2022-01-01, value: x, source: law, extra: 1}\n",
        encoding="utf-8",
    )
    result = saqta("rules", "check", "--dir", str(tmp_path))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad.yaml: parameters.r.values[0].extra: unknown key" in lines[0]


def test_synth_into_an_unwritable_folder_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    result = saqta("synth", "--out", str(tmp_path / "file" / "out"))
    assert result.returncode == 1
    assert "cannot write" in result.stderr and "Traceback" not in result.stderr


def test_demo_runs_end_to_end_and_twice_without_doubling(tmp_path):
    first = saqta("demo", "--out", str(tmp_path / "demo"))
    assert first.returncode == 0, first.stderr
    assert "59 of 59 figures pass" in first.stdout
    manifest = json.loads((tmp_path / "demo" / "country" / "manifest.json").read_text())
    payments = manifest["counts"]["payments"]
    assert payments > 200_000
    assert f"{payments:,} payment rows in the lake" in first.stdout
    assert "already imported, nothing done" in first.stdout
    assert "requested (operator) → checked (expert)" in first.stdout
    assert "unknown_person" in first.stdout and "check digit" in first.stdout
    assert "36 filings replayed: 36 accepted by the regulator" in first.stdout
    # Access: the operator's full answer, the provider's minimal one, a refusal without a token.
    assert "operator (password grant), a registered person → 200" in first.stdout
    assert '"category"' in first.stdout.split("operator (password grant)")[1].split("\n")[1]
    minimal = first.stdout.split("provider's system (client credentials), the same person → 200")
    assert set(json.loads(minimal[1].split("\n")[1])) == {"iin", "date", "insured", "valid_until"}
    assert "provider's system, an IIN not in the register → 200" in first.stdout
    assert "operator, the same unregistered IIN → 404" in first.stdout
    assert "no token → 401" in first.stdout
    second = saqta("demo", "--out", str(tmp_path / "demo"))
    assert second.returncode == 0, second.stderr
    assert f"{payments:,} payment rows in the lake" in second.stdout


def test_bad_markup_like_input_is_printed_as_text():
    result = saqta("iin", "check", "[/x]")
    assert result.returncode == 1
    assert "[/x]" in result.stderr and "Traceback" not in result.stderr


def test_demo_with_a_bad_option_leaves_the_previous_demo_alone(tmp_path):
    demo = tmp_path / "demo"
    demo.mkdir()
    (demo / ".saqta-demo").write_text("saqta demo\n")
    (demo / "earlier.txt").write_text("earlier run")
    result = saqta("demo", "--out", str(demo), "--scale", "5")
    assert result.returncode == 1 and "scale 5" in result.stderr
    assert (demo / "earlier.txt").exists()


def test_demo_refuses_a_folder_it_does_not_own(tmp_path):
    (tmp_path / "mine.txt").write_text("keep")
    result = saqta("demo", "--out", str(tmp_path))
    assert result.returncode == 1 and "not a previous demo" in result.stderr
    assert (tmp_path / "mine.txt").exists()


def test_elapsed_time_counts_from_the_start_of_the_process_not_from_the_import() -> None:
    """The demo's summary reports the real total: start-up and imports included."""
    code = (
        "import time; time.sleep(1.5)\n"
        "from saqta.cli.common import seconds_since_process_start\n"
        "print(seconds_since_process_start())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    elapsed = float(done.stdout.strip())
    assert 1.5 <= elapsed < 30
