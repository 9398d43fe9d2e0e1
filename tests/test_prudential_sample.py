"""Sample branches: deterministic, realistic, with the breach, the late, corrected and missing
filings the filing side replays; and the whole path inputs -> forms -> files on them."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from saqta.cli.app import app
from saqta.core.calendar import kazakhstan_calendar
from saqta.core.errors import InputError
from saqta.core.periods import parse_month
from saqta.core.version import code_version
from saqta.prudential.compute import compute
from saqta.prudential.loaders import load_inputs
from saqta.prudential.outputs import write_outputs
from saqta.prudential.render_json import read_json
from saqta.prudential.render_xlsx import sheet_title
from saqta.prudential.render_xml import read_xml, schema_problems
from saqta.prudential.rendering import layouts_for
from saqta.prudential.sample import generate_samples, write_samples

runner = CliRunner()


@pytest.fixture(scope="module")
def samples_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("samples")
    write_samples(out, seed=7, months=12)
    return out


@pytest.fixture(scope="module")
def manifest(samples_dir: Path) -> dict:
    return json.loads((samples_dir / "manifest.json").read_text(encoding="utf-8"))


def test_the_same_seed_gives_the_same_samples_and_another_seed_others() -> None:
    first = generate_samples(seed=11, months=4)
    again = generate_samples(seed=11, months=4)
    other = generate_samples(seed=12, months=4)
    assert [m.inputs for m in first.months_data] == [m.inputs for m in again.months_data]
    assert first.script == again.script
    assert [m.inputs for m in first.months_data] != [m.inputs for m in other.months_data]


def test_three_branches_over_twelve_consecutive_months(manifest: dict) -> None:
    kinds = {b["kind"] for b in manifest["branches"]}
    assert kinds == {"general", "life", "reinsurer"}
    periods = sorted({i["period"] for i in manifest["inputs"]})
    assert periods == [f"2024-{m:02d}" for m in range(1, 13)]
    originals = [i for i in manifest["inputs"] if not i["correction"]]
    assert len(originals) == 36
    assert len({b["bin"] for b in manifest["branches"]}) == 3


def test_the_manifest_records_the_code_version(manifest: dict) -> None:
    assert manifest["code_version"] == code_version()


def test_the_holdings_and_treaties_are_realistic() -> None:
    samples = generate_samples(seed=1, months=12)
    general = samples.months_data[0].inputs
    types = {h.instrument_type for h in general.holdings}
    assert {"cash_in_hand", "current_account", "deposit", "debt_security", "share"} <= types
    issuers = {h.issuer_kind for h in general.holdings}
    assert {"kz_government", "kz_second_tier_bank", "foreign_state", "kz_legal_entity"} <= issuers
    assert any(h.exchange_category == "kase_main_debt" for h in general.holdings)
    blocks = {t.block for t in general.treaties}
    assert blocks == {"non_resident", "resident_kz", "eaeu"}
    every = [m.inputs for m in samples.months_data]
    assert all(h.carrying_amount > 0 for i in every for h in i.holdings)
    # amounts drift from month to month
    first, second = samples.months_data[0].inputs, samples.months_data[1].inputs
    assert first.figures.reserves_net != second.figures.reserves_net


def test_ratings_change_on_days_within_months_including_downgrades() -> None:
    samples = generate_samples(seed=1, months=12)
    events = samples.rating_events
    assert len(events) >= 5
    assert any(e["to"] == "WD" for e in events)
    last_day = [
        e for e in events if dt.date.fromisoformat(e["date"]) == parse_month(e["date"][:7]).last_day
    ]
    assert last_day, "a change on the last day of a month"
    # every month's workbook holds the history up to the end of that month, not after
    for month in samples.months_data:
        end = parse_month(month.period).last_day
        assert max(r.date for r in month.inputs.ratings) <= end


def test_the_reinsurer_breaches_the_solvency_ratio_in_one_month_only(
    samples_dir: Path, manifest: dict
) -> None:
    breach = manifest["expected"]["breach"]
    flags = {}
    for item in manifest["inputs"]:
        if item["branch"] != breach["branch"] or item["correction"]:
            continue
        report = compute(load_inputs(samples_dir / item["path"], today=dt.date(2025, 6, 1)))
        row = next(r for r in report.forms["1-PN_S"].rows if r.code == "4")
        flags[item["period"]] = row.cells["3"]
    assert [p for p, met in flags.items() if met is False] == [breach["period"]]


def test_the_filing_script_has_a_late_a_corrected_and_a_missing_filing(manifest: dict) -> None:
    script = manifest["filing_script"]
    calendar = kazakhstan_calendar()
    late = [e for e in script if e["timeliness"] == "late"]
    assert [(e["branch"], e["period"]) for e in late] == [
        (manifest["expected"]["late"]["branch"], manifest["expected"]["late"]["period"])
    ]
    for event in script:
        deadline = calendar.nth_working_day(parse_month(event["period"]).next(), 6)
        assert event["deadline"] == deadline.isoformat()
        submitted = dt.datetime.fromisoformat(event["submitted_at"]).date()
        assert (submitted > deadline) == (event["timeliness"] in ("late", "correction"))
        assert calendar.is_working_day(submitted)
    correction = [e for e in script if e["action"] == "correct"]
    assert len(correction) == 1
    change = correction[0]["changes"][0]
    assert change["sheet"] == "holdings" and change["was"] != change["now"]
    missing = manifest["expected"]["missing"]
    assert not [
        e for e in script if (e["branch"], e["period"]) == (missing["branch"], missing["period"])
    ]
    submitted = {(e["branch"], e["period"]) for e in script if e["action"] == "submit"}
    assert len(submitted) == 35


def test_the_correction_changes_exactly_what_the_script_says(
    samples_dir: Path, manifest: dict
) -> None:
    event = next(e for e in manifest["filing_script"] if e["action"] == "correct")
    original = next(
        e
        for e in manifest["filing_script"]
        if e["action"] == "submit"
        and (e["branch"], e["period"]) == (event["branch"], event["period"])
    )
    before = load_inputs(samples_dir / original["inputs"], today=dt.date(2025, 6, 1))
    after = load_inputs(samples_dir / event["inputs"], today=dt.date(2025, 6, 1))
    change = event["changes"][0]
    old = {h.instrument_id: h.carrying_amount for h in before.holdings}
    new = {h.instrument_id: h.carrying_amount for h in after.holdings}
    assert {k for k in old if old[k] != new[k]} == {change["key"]}
    assert (old[change["key"]], new[change["key"]]) == (
        Decimal(change["was"]),
        Decimal(change["now"]),
    )


def test_the_manifest_hashes_the_files(samples_dir: Path, manifest: dict) -> None:
    import hashlib

    item = manifest["inputs"][0]
    digest = hashlib.sha256((samples_dir / item["path"]).read_bytes()).hexdigest()
    assert digest == item["sha256"]


def test_samples_start_no_earlier_than_the_editions_of_the_forms() -> None:
    with pytest.raises(InputError, match="2024-01 or later"):
        generate_samples(start="2023-06")


def test_a_sample_month_renders_every_output_and_reads_back(
    tmp_path: Path, samples_dir: Path, manifest: dict
) -> None:
    item = next(
        i for i in manifest["inputs"] if i["branch"] == "nomad-life" and i["period"] == "2024-05"
    )
    report = compute(load_inputs(samples_dir / item["path"], today=dt.date(2025, 6, 1)))
    written = write_outputs(report, tmp_path, signed_on=dt.date(2024, 6, 7))
    assert len(written["xlsx"]) == 4  # S, M, Z, V for a life branch
    assert schema_problems(written["xml"][0], where="x") == []
    assert read_xml(written["xml"][0], layouts_for(report)) == report
    assert read_json(written["json"][0]) == report
    s_path = next(p for p in written["xlsx"] if "1-PN_S" in p.name)
    sheet = load_workbook(s_path)[sheet_title("1-PN_S", "kk")]
    values = {
        sheet.cell(row=r, column=1).value: sheet.cell(row=r, column=3).value
        for r in range(1, sheet.max_row + 1)
    }
    hla = next(r for r in report.forms["1-PN_S"].rows if r.code == "7").cells["3"]
    assert isinstance(hla, Decimal)
    assert values["7"] == int((hla / 1000).quantize(Decimal(1), rounding="ROUND_HALF_UP"))
    assert values["4"] == "иә"
    v_book = load_workbook(next(p for p in written["xlsx"] if "1-PN_V" in p.name))
    assert "1-PN_V детализация" in v_book.sheetnames
    html = written["html"][1].read_text(encoding="utf-8")
    assert "Отчет о минимальном размере маржи платежеспособности" in html


def test_cli_sample_template_compute_validate(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["prudential", "sample", "--out", str(tmp_path / "s"), "--months", "3", "--seed", "5"]
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text(encoding="utf-8"))
    item = manifest["inputs"][0]
    inputs = str(tmp_path / "s" / item["path"])
    out = tmp_path / "forms"
    result = runner.invoke(
        app,
        [
            "prudential",
            "compute",
            "--inputs",
            inputs,
            "--period",
            item["period"],
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "1-PN_S" in result.output
    assert len(list(out.glob("*.xlsx"))) == 4 and len(list(out.glob("*_filing.xml"))) == 1
    result = runner.invoke(
        app, ["prudential", "validate", "--inputs", inputs, "--period", item["period"]]
    )
    assert result.exit_code == 0, result.output
    assert "0 errors" in result.output
    filing = next(out.glob("*_filing.xml"))
    result = runner.invoke(app, ["prudential", "validate", "--filing", str(filing)])
    assert result.exit_code == 0, result.output
    broken = tmp_path / "broken.xml"
    broken.write_text(
        filing.read_text(encoding="utf-8").replace('line="', 'line="x', 1), encoding="utf-8"
    )
    result = runner.invoke(app, ["prudential", "validate", "--filing", str(broken)])
    assert result.exit_code == 1
    assert "attribute line" in result.output
    result = runner.invoke(app, ["prudential", "template", "--out", str(tmp_path / "t.xlsx")])
    assert result.exit_code == 0 and (tmp_path / "t.xlsx").is_file()


def test_cli_compute_refuses_bad_inputs_and_writes_nothing(tmp_path: Path) -> None:
    runner.invoke(app, ["prudential", "template", "--out", str(tmp_path / "t.xlsx")])
    out = tmp_path / "forms"
    result = runner.invoke(
        app,
        [
            "prudential",
            "compute",
            "--inputs",
            str(tmp_path / "t.xlsx"),
            "--period",
            "2024-01",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 1
    assert "sheet 'branch', field 'bin'" in result.output
    assert not out.exists()


def test_the_script_loads_in_replay_order_with_its_inputs(samples_dir: Path) -> None:
    from saqta.prudential.sample import load_script

    events = load_script(samples_dir / "manifest.json")
    assert [e.submitted_at for e in events] == sorted(e.submitted_at for e in events)
    assert all(e.inputs.is_file() for e in events)
    correction = next(e for e in events if e.action == "correct")
    assert correction.changes and correction.inputs.name == "inputs_correction_1.xlsx"
    with pytest.raises(InputError, match=r"not a saqta\.prudential\.sample manifest"):
        bad = samples_dir / "filing_script.json"
        load_script(bad)
