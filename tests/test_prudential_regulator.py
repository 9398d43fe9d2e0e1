"""The National Bank's intake of branches' filings and its overview of the market."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text

from prudential_filing_samples import BIN_A, BIN_B, BIN_C, BIN_D, report
from saqta.core.errors import InputError, StoreError
from saqta.core.periods import Month
from saqta.prudential.filings import canonical_json
from saqta.prudential.models import Receipt, ReceiptStatus
from saqta.prudential.regulator import (
    PeriodStatus,
    import_branches,
    intake,
    list_branches,
    overview,
    receipts,
    register_branch,
    series,
    statuses_csv,
)
from saqta.prudential.report import Finding, ReportSet, Row
from saqta.store.db import session_scope

KZ = timedelta(hours=5)
UNREGISTERED = "990540000051"


def kz_time(*args: int) -> datetime:
    """A moment given in Kazakhstan's local time (UTC+5 in 2025)."""
    return datetime(*args, tzinfo=UTC) - KZ  # type: ignore[misc]


def cross_form(rs: ReportSet) -> Sequence[Finding]:
    """1-PN_S row 3 must equal 1-PN_O row 400 (NBRK No. 25, Annex 2, row 3)."""

    def value(form: str, code: str, column: str) -> object:
        rows = rs.forms[form].rows if form in rs.forms else ()  # type: ignore[index]
        return next((r.cells.get(column) for r in rows if r.code == code), None)

    s3, o400 = value("1-PN_S", "3", "3"), value("1-PN_O", "400", "4")
    if s3 != o400:
        return [
            Finding(
                rule_id="S-3-eq-O-400", severity="error", form="1-PN_S", row="3",
                message=f"1-PN_S row 3 {s3} differs from 1-PN_O row 400 {o400}",
            )
        ]  # fmt: skip
    return []


def inconsistent(rs: ReportSet) -> ReportSet:
    """The report with 1-PN_O row 400 changed and nothing else (its own findings say nothing)."""
    o = rs.forms["1-PN_O"]
    rows = tuple(
        Row(code="400", cells={"4": Decimal("3900000")}) if r.code == "400" else r for r in o.rows
    )
    return rs.model_copy(
        update={"forms": {**rs.forms, "1-PN_O": o.model_copy(update={"rows": rows})}}
    )


def write(folder: Path, name: str, rs: ReportSet | bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(rs if isinstance(rs, bytes) else canonical_json(rs))
    return path


@pytest.fixture
def registered(engine: Engine) -> Engine:
    with session_scope(engine) as session:
        for bin_ in (BIN_A, BIN_B, BIN_C, BIN_D):
            register_branch(
                session, bin_, f"Branch {bin_[-4:]} of Example Re SE", "general", "2024-10",
                now=kz_time(2024, 10, 1, 9),
            )  # fmt: skip
    return engine


def test_intake_records_accepts_rejects_and_the_overview_shows_each_status(
    registered: Engine, tmp_path: Path
) -> None:
    engine = registered
    day1 = tmp_path / "day1"
    write(day1, "a-2025-01.json", report("2025-01", bin_=BIN_A))
    write(day1, "b-2025-01.json", inconsistent(report("2025-01", bin_=BIN_B)))
    write(day1, "c-2025-01.json", b'{"period": "2025-01", "forms": ')
    write(day1, "notes.txt", b"cover letter")
    write(day1, "x-2025-01.json", report("2025-01", bin_=UNREGISTERED))
    write(day1, "a-2025-02.json", report("2025-02", bin_=BIN_A))
    first = intake(engine, [day1], received_at=kz_time(2025, 2, 7, 16), validator=cross_form)
    outcomes = {item.source: (item.outcome, item.version, item.days_late) for item in first.items}
    assert outcomes == {
        "a-2025-01.json": ("accepted", 1, 0),
        "b-2025-01.json": ("rejected", None, 0),
        "c-2025-01.json": ("rejected", None, None),
        "notes.txt": ("rejected", None, None),
        "x-2025-01.json": ("rejected", None, 0),
        "a-2025-02.json": ("rejected", None, None),
    }
    assert first.counts == {"accepted": 1, "rejected": 5, "duplicate": 0}
    rules = {item.source: [f.rule_id for f in item.findings] for item in first.items}
    assert rules == {
        "a-2025-01.json": [],
        "b-2025-01.json": ["S-3-eq-O-400"],
        "c-2025-01.json": ["intake.schema"],
        "notes.txt": ["intake.format"],
        "x-2025-01.json": ["intake.identity.unregistered"],
        "a-2025-02.json": ["intake.period.future"],
    }
    by_source = {item.source: item for item in first.items}
    assert by_source["b-2025-01.json"].findings[0].message == (
        "1-PN_S row 3 4000000 differs from 1-PN_O row 400 3900000"
    )
    assert by_source["a-2025-02.json"].findings[0].message == (
        "the reporting month 2025-02 ends on 2025-02-28; the file arrived on 2025-02-07"
    )
    assert str(by_source["c-2025-01.json"].findings[0].message).startswith(
        "c-2025-01.json: not valid JSON"
    )

    # The same folder again: every file is recognised, nothing is recorded twice.
    again = intake(engine, [day1], received_at=kz_time(2025, 2, 8, 9), validator=cross_form)
    assert again.counts == {"accepted": 0, "rejected": 0, "duplicate": 6}

    # Before the deadline (10 Feb 2025) the branch that has sent nothing is pending.
    with session_scope(engine) as session:
        early = overview(session, Month(2025, 1), as_of=kz_time(2025, 2, 8, 12))
    assert early.deadline == date(2025, 2, 10)
    assert {b.bin: b.status for b in early.branches} == {
        BIN_A: PeriodStatus.ON_TIME,
        BIN_B: PeriodStatus.REJECTED,
        BIN_C: PeriodStatus.PENDING,
        BIN_D: PeriodStatus.PENDING,
    }

    # Day 2, after the deadline: B's fixed report (late), A's correction (now in breach),
    # C's report that still does not add up.
    day2 = tmp_path / "day2"
    corrected = report(
        "2025-01", bin_=BIN_A, actual_margin=Decimal("3800000"),
        computed_at=datetime(2025, 2, 12, 9, tzinfo=UTC),
    )  # fmt: skip
    write(day2, "a-2025-01-correction.json", corrected)
    write(day2, "b-2025-01-fixed.json", report("2025-01", bin_=BIN_B))
    write(day2, "c-2025-01.json", inconsistent(report("2025-01", bin_=BIN_C)))
    second = intake(engine, [day2], received_at=kz_time(2025, 2, 14, 11), validator=cross_form)
    items = {item.source: item for item in second.items}
    assert second.counts == {"accepted": 2, "rejected": 1, "duplicate": 0}
    assert (items["b-2025-01-fixed.json"].version, items["b-2025-01-fixed.json"].days_late) == (
        1,
        4,
    )
    correction = items["a-2025-01-correction.json"]
    assert correction.version == 2
    assert correction.replaces_id == by_source["a-2025-01.json"].receipt_id
    assert correction.message == (
        f"accepted as version 2, correcting version 1 (#{correction.replaces_id}), 4 day(s) late"
    )

    with session_scope(engine) as session:
        view = overview(session, Month(2025, 1), as_of=kz_time(2025, 2, 20, 12))
        stored = session.scalars(select(Receipt).order_by(Receipt.id)).all()
        chain = receipts(session, branch=BIN_A, period="2025-01", status=ReceiptStatus.ACCEPTED)
    assert [(r.version, r.replaces_id) for r in chain] == [
        (1, None), (2, by_source["a-2025-01.json"].receipt_id)]  # fmt: skip
    assert len(stored) == 9  # 6 + 3, duplicates not recorded
    assert [r.status for r in stored].count(ReceiptStatus.ACCEPTED) == 3
    table = {
        b.bin: (b.status, b.days_late, b.versions, b.rejected, b.breaches) for b in view.branches
    }
    assert table == {
        BIN_A: (PeriodStatus.ON_TIME, 0, 2, 0,
                ("solvency margin adequacy ratio < 1", "solvency ratio flag: no")),
        BIN_B: (PeriodStatus.LATE, 4, 1, 1, ()),
        BIN_C: (PeriodStatus.REJECTED, None, 0, 1, ()),
        BIN_D: (PeriodStatus.MISSING, None, 0, 0, ()),
    }  # fmt: skip
    a = next(b for b in view.branches if b.bin == BIN_A)
    assert a.figures is not None
    assert a.figures.solvency_ratio == Decimal("0.95")
    assert a.figures.hla_ratio == Decimal("1.4")
    assert a.current_receipt == correction.receipt_id
    assert view.unregistered == (by_source["x-2025-01.json"].receipt_id,)
    assert view.as_dict()["counts"] == {
        "on_time": 1, "late": 1, "missing": 1, "rejected": 1, "pending": 0,
    }  # fmt: skip
    lines = statuses_csv(view.branches).splitlines()
    assert lines[0].startswith("bin,name,period,status,deadline,first_accepted_at,days_late")
    assert lines[1].split(",")[:4] == [BIN_A, "Branch 0017 of Example Re SE", "2025-01", "on_time"]

    # As of day 1 the correction and B's late report had not arrived.
    with session_scope(engine) as session:
        replay = overview(session, Month(2025, 1), as_of=kz_time(2025, 2, 7, 18))
    a_then = next(b for b in replay.branches if b.bin == BIN_A)
    assert a_then.figures is not None and a_then.figures.solvency_ratio == Decimal("1.3000001")
    assert a_then.versions == 1


def test_sender_findings_are_not_trusted(registered: Engine, tmp_path: Path) -> None:
    claims_clean = inconsistent(report("2025-01", bin_=BIN_A))
    claims_error = report(
        "2025-01", bin_=BIN_B,
        findings=(Finding(rule_id="S-3", severity="error", message="sender thinks so"),),
    )  # fmt: skip
    write(tmp_path / "in", "a.json", claims_clean)
    write(tmp_path / "in", "b.json", claims_error)
    result = intake(
        registered, [tmp_path / "in"], received_at=kz_time(2025, 2, 3, 9), validator=cross_form
    )
    assert {i.source: i.outcome for i in result.items} == {
        "a.json": "rejected",
        "b.json": "accepted",
    }
    with session_scope(registered) as session:
        b = session.get_one(
            Receipt, next(i.receipt_id for i in result.items if i.source == "b.json")
        )
        assert (b.sender_error_count, b.findings) == (1, [])


def test_identity_checks_line_period_and_name(registered: Engine, tmp_path: Path) -> None:
    with session_scope(registered) as session:
        register_branch(session, BIN_D, "Life Branch", "life", "2025-03", "2025-12", update=True)
    life_as_general = report("2025-04", bin_=BIN_D)
    too_early = report("2025-02", bin_=BIN_D)
    renamed = report("2025-01", bin_=BIN_A).model_copy(
        update={"branch": report().branch.model_copy(update={"name": "New name"})}
    )
    write(tmp_path / "in", "d-2025-04.json", life_as_general)
    write(tmp_path / "in", "d-2025-02.json", too_early)
    write(tmp_path / "in", "a-renamed.json", renamed)
    result = intake(
        registered, [tmp_path / "in"], received_at=kz_time(2025, 5, 5, 9), validator=cross_form
    )
    found = {i.source: [(f.rule_id, f.severity) for f in i.findings] for i in result.items}
    assert found["d-2025-04.json"] == [
        ("intake.identity.line", "error"),
        ("intake.identity.name", "warning"),
    ]
    assert found["d-2025-02.json"] == [
        ("intake.identity.not_expected", "error"),
        ("intake.identity.line", "error"),
        ("intake.identity.name", "warning"),
    ]
    assert found["a-renamed.json"] == [("intake.identity.name", "warning")]
    assert {i.source: i.outcome for i in result.items}["a-renamed.json"] == "accepted"
    assert next(i.days_late for i in result.items if i.source == "a-renamed.json") == 84


def test_unknown_senders_can_be_registered_from_their_first_filing(
    engine: Engine, tmp_path: Path
) -> None:
    write(tmp_path / "in", "x.json", report("2025-01", bin_=UNREGISTERED))
    result = intake(
        engine, [tmp_path / "in"], received_at=kz_time(2025, 2, 3, 9), validator=cross_form,
        register_unknown=True,
    )  # fmt: skip
    assert [i.outcome for i in result.items] == ["accepted"]
    with session_scope(engine) as session:
        [branch] = list_branches(session)
        assert (branch.bin, branch.expected_from, branch.registered_by.value) == (
            UNREGISTERED,
            "2025-01",
            "intake",
        )


def test_receipts_are_immutable_in_the_database(registered: Engine, tmp_path: Path) -> None:
    write(tmp_path / "in", "a.json", report("2025-01", bin_=BIN_A))
    intake(registered, [tmp_path / "in"], received_at=kz_time(2025, 2, 3, 9), validator=cross_form)
    for statement in (
        "UPDATE prudential_receipts SET status = 'rejected'",
        "DELETE FROM prudential_receipts",
    ):
        with pytest.raises(StoreError, match="immutable"), session_scope(registered) as session:
            session.execute(text(statement))
    with session_scope(registered) as session:
        assert [r.status for r in session.scalars(select(Receipt))] == [ReceiptStatus.ACCEPTED]


def test_series_of_a_branch_over_months(registered: Engine, tmp_path: Path) -> None:
    for month, margin in (("2024-11", "4400000"), ("2025-01", "3800000")):
        write(
            tmp_path / month,
            f"a-{month}.json",
            report(month, bin_=BIN_A, actual_margin=Decimal(margin)),
        )
    intake(
        registered,
        [tmp_path / "2024-11"],
        received_at=kz_time(2024, 12, 6, 9),
        validator=cross_form,
    )
    intake(
        registered,
        [tmp_path / "2025-01"],
        received_at=kz_time(2025, 2, 11, 9),
        validator=cross_form,
    )
    with session_scope(registered) as session:
        rows = series(session, BIN_A, months=5, until=Month(2025, 1), as_of=kz_time(2025, 3, 1, 0))
    assert [
        (r.period, r.status.value, r.figures.solvency_ratio if r.figures else None) for r in rows
    ] == [
        ("2024-10", "missing", None),
        ("2024-11", "on_time", Decimal("1.1")),
        ("2024-12", "missing", None),
        ("2025-01", "late", Decimal("0.95")),
    ]  # 2024-09 is before the branch was expected to file


def test_branch_register_import_is_idempotent_and_names_bad_rows(
    engine: Engine, tmp_path: Path
) -> None:
    good = tmp_path / "branches.csv"
    good.write_text(
        "bin,name,line,expected_from,expected_to\n"
        f"{BIN_A},Branch A,general,2024-01,\n"
        f"{BIN_B},Branch B,life,2024-06,2025-12\n",
        encoding="utf-8",
    )
    with session_scope(engine) as session:
        assert import_branches(session, good) == {"added": 2, "updated": 0, "unchanged": 0}
    with session_scope(engine) as session:
        assert import_branches(session, good) == {"added": 0, "updated": 0, "unchanged": 2}
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "bin,name,line,expected_from,expected_to\n"
        f"{BIN_C},Branch C,general,2024-01,\n"
        "990140000018,Branch X,general,2024-01,\n"
        f"{BIN_D},Branch D,marine,2024-13,\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as caught, session_scope(engine) as session:
        import_branches(session, bad)
    lines = str(caught.value).splitlines()
    assert lines[0].startswith(f"{bad}: row 3: branch 990140000018: bin: ")
    assert lines[1] == f"{bad}: row 4: branch {BIN_D}: line 'marine': expected general or life"
    with session_scope(engine) as session:
        assert [b.bin for b in list_branches(session)] == [BIN_A, BIN_B]  # nothing of bad.csv


def test_overview_json_is_exact(registered: Engine, tmp_path: Path) -> None:
    write(tmp_path / "in", "a.json", report("2025-01", bin_=BIN_A, reserves=Decimal("2100000")))
    intake(
        registered,
        [tmp_path / "in"],
        received_at=kz_time(2025, 2, 10, 23, 59),
        validator=cross_form,
    )
    with session_scope(registered) as session:
        data = overview(session, Month(2025, 1), as_of=kz_time(2025, 2, 11, 0, 1)).as_dict()
    a = next(b for b in data["branches"] if b["bin"] == BIN_A)
    assert (a["status"], a["days_late"]) == ("on_time", 0)  # 23:59 on the deadline, local time
    assert a["hla_ratio"] == str(Decimal("2800000") / Decimal("2100000"))
    assert json.loads(json.dumps(data)) == data


def test_xml_and_json_report_documents_are_received(registered: Engine, tmp_path: Path) -> None:
    from saqta.prudential.render_json import report_json
    from saqta.prudential.render_xml import filing_xml

    a, b = report("2025-01", bin_=BIN_A), report("2025-01", bin_=BIN_B)
    inbox = tmp_path / "in"
    write(inbox, "a.xml", filing_xml(a))
    write(inbox, "b.json", report_json(b).encode("utf-8"))
    broken = filing_xml(report("2025-01", bin_=BIN_C)).replace(b'period="2025-01"', b'period="25"')
    write(inbox, "c.xml", broken)
    result = intake(registered, [inbox], received_at=kz_time(2025, 2, 3, 9), validator=cross_form)
    items = {i.source: i for i in result.items}
    assert {k: v.outcome for k, v in items.items()} == {
        "a.xml": "accepted",
        "b.json": "accepted",
        "c.xml": "rejected",
    }
    assert [f.rule_id for f in items["c.xml"].findings] == ["intake.schema"]
    assert items["c.xml"].findings[0].message.startswith("c.xml: /filing")
    with session_scope(registered) as session:
        stored = {r.source_name: r for r in session.scalars(select(Receipt))}
    assert stored["a.xml"].payload == canonical_json(a).decode()  # the same report, exactly
    assert stored["b.json"].payload == canonical_json(b).decode()
    assert stored["c.xml"].content == broken  # kept as received


def test_a_market_of_sample_branches_filing_for_eight_months(
    engine: Engine, tmp_path: Path
) -> None:
    """The real chain: sample inputs -> computation -> the branch's filing history -> JSON files
    -> intake with the real cross-form validation -> the overview, against the filing script:
    one late filing, one correction, one breach, one month never filed."""
    from saqta.prudential.regulator import replay_filing_script
    from saqta.prudential.sample import generate_samples

    samples = generate_samples(seed=1, start="2024-01", months=8)
    events = replay_filing_script(engine, samples, tmp_path / "outbox")
    assert len(events) == len(samples.script) == 3 * 8 - 1 + 1  # one missing, one correction
    for event, planned in zip(events, samples.script, strict=True):
        assert event.intake.outcome == "accepted", event.intake.findings
        assert event.intake.deadline == date.fromisoformat(planned["deadline"])
        late = (event.submitted_at.date() - event.intake.deadline).days
        if planned["timeliness"] == "on_time":
            assert event.intake.days_late == 0
        else:
            assert event.intake.days_late == late > 0
    general, life, reinsurer = (plan.profile.bin for plan in samples.plans)
    as_of = kz_time(2024, 10, 1, 9)
    table: dict[str, dict[str, tuple[str, int | None, int, bool]]] = {}
    with session_scope(engine) as session:
        for month in range(1, 9):
            view = overview(session, Month(2024, month), as_of=as_of)
            table[view.period] = {
                b.bin: (b.status.value, b.days_late, b.versions, bool(b.breaches))
                for b in view.branches
            }
    ok = ("on_time", 0, 1, False)
    expected = {f"2024-{m:02d}": {general: ok, life: ok, reinsurer: ok} for m in range(1, 9)}
    expected["2024-02"][life] = ("on_time", 0, 2, False)  # corrected after the deadline
    expected["2024-03"][general] = ("late", 2, 1, False)  # two working days late
    expected["2024-07"][reinsurer] = ("on_time", 0, 1, True)  # solvency ratio below 1
    expected["2024-08"][reinsurer] = ("missing", None, 0, False)
    assert table == expected
    with session_scope(engine) as session:
        history = series(session, reinsurer, months=3, until=Month(2024, 8), as_of=as_of)
    assert [(r.period, r.status.value) for r in history] == [
        ("2024-06", "on_time"),
        ("2024-07", "on_time"),
        ("2024-08", "missing"),
    ]
    breach = history[1].figures
    assert breach is not None and breach.solvency_ratio is not None
    assert breach.solvency_ratio < 1 and breach.solvency_met is False
    # Playing the script again records nothing new on either side.
    again = replay_filing_script(engine, samples, tmp_path / "outbox")
    assert {e.intake.outcome for e in again} == {"duplicate"}
    assert all(e.filed.startswith("identical to version") for e in again)


def test_cli_register_intake_overview_series(tmp_path: Path) -> None:
    """The regulator's commands on real computed reports, with the real validation."""
    import csv
    import os
    import subprocess
    import sys

    from saqta.prudential.compute import compute
    from saqta.prudential.render_json import write_json
    from saqta.prudential.sample import generate_samples

    env = {**os.environ, "SAQTA_HOME": str(tmp_path / "home"), "SAQTA_DATABASE_URL": ""}

    def saqta(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "saqta", "regulator", *args],
            capture_output=True, text=True, env=env, check=False,
        )  # fmt: skip

    samples = generate_samples(seed=1, start="2024-01", months=3)
    general, life, reinsurer = samples.plans
    register = tmp_path / "branches.csv"
    with register.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["bin", "name", "line", "expected_from", "expected_to"])
        for plan in samples.plans:
            writer.writerow([plan.profile.bin, plan.profile.name, plan.profile.line, "2024-01", ""])
    imported = saqta("branches", "import", str(register))
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == "3 added, 0 updated, 0 unchanged"
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for item in samples.months_data:
        if item.period == "2024-01" and item.branch != reinsurer.key:
            write_json(compute(item.inputs, item.period), inbox)
    (inbox / "garbage.json").write_text("[1, 2", encoding="utf-8")
    result = saqta("intake", str(inbox), "--received-at", "2024-02-06T10:00", "--format", "json")
    assert result.returncode == 3, result.stderr  # one file was rejected
    outcomes = sorted(
        (i["source"], i["outcome"], i["days_late"]) for i in json.loads(result.stdout)
    )
    items = {i["source"]: i for i in json.loads(result.stdout)}
    assert items[f"{general.profile.bin}_2024-01_report.json"]["findings"] == [
        f
        for f in items[f"{general.profile.bin}_2024-01_report.json"]["findings"]
        if f["severity"] == "warning" and not f["rule_id"].startswith("intake.")
    ]  # no identity problem: the register has the same name and line
    assert outcomes == [
        (f"{general.profile.bin}_2024-01_report.json", "accepted", 0),
        (f"{life.profile.bin}_2024-01_report.json", "accepted", 0),
        ("garbage.json", "rejected", None),
    ]
    view = json.loads(
        saqta(
            "overview", "--period", "2024-01", "--as-of", "2024-02-20T12:00", "--format", "json"
        ).stdout
    )
    assert view["deadline"] == "2024-02-08"
    assert view["counts"] == {"on_time": 2, "late": 0, "missing": 1, "rejected": 0, "pending": 0}
    assert {b["bin"]: b["status"] for b in view["branches"]}[reinsurer.profile.bin] == "missing"
    table = saqta("overview", "--period", "2024-01", "--as-of", "2024-02-20T12:00")
    assert table.returncode == 0 and "3 branch(es): 2 on_time, 0 late, 1 missing" in table.stdout
    history = json.loads(saqta("receipts", "--status", "rejected", "--format", "json").stdout)
    assert [(r["source"], r["status"], r["branch"]) for r in history] == [
        ("garbage.json", "rejected", None)]  # fmt: skip
    assert history[0]["findings"][0]["rule_id"] == "intake.schema"
    listing = saqta("receipts", "--period", "2024-01", "--format", "csv").stdout.splitlines()
    assert len(listing) == 3 and listing[0].startswith("id,received_at,source,status,branch")
    rows = saqta("series", "--branch", general.profile.bin, "--until", "2024-02", "--months", "2",
                 "--as-of", "2024-03-20T00:00", "--format", "csv").stdout.splitlines()  # fmt: skip
    assert [r.split(",")[2:4] for r in rows[1:]] == [["2024-01", "on_time"], ["2024-02", "missing"]]
