"""A branch's filing history: versions, corrections, immutability, identical refiles, diffs."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from prudential_filing_samples import BIN_A, BIN_B, report
from saqta.core.errors import InputError, StoreError
from saqta.prudential.filings import (
    canonical_json,
    current_ids,
    decimal_text,
    diff_versions,
    file_version,
    get_version,
    history,
    parse_report_json,
    payload_sha256,
    stored_report,
)
from saqta.prudential.models import FiledVersion
from saqta.prudential.report import Finding, ReportSet
from saqta.store.db import session_scope

T0 = datetime(2025, 2, 5, 10, 0, tzinfo=UTC)


def _file(engine: Engine, rs: ReportSet, **kwargs: object) -> tuple[int, bool, str]:
    with session_scope(engine) as session:
        outcome = file_version(session, rs, **kwargs)  # type: ignore[arg-type]
        return outcome.version.id, outcome.created, outcome.message


# --- canonical payload ---------------------------------------------------------------------


def test_canonical_payload_round_trips_exactly() -> None:
    rs = report(actual_margin=Decimal("123456789012345678901234.5678901234"))
    back = parse_report_json(canonical_json(rs), "payload")
    assert back == rs
    cells = {row.code: row.cells for row in back.forms["1-PN_S"].rows}
    assert cells["2"]["3"] == Decimal("123456789012345678901234.5678901234")
    assert cells["4"]["3"] is True


def test_json_numbers_are_read_exactly_not_through_a_float() -> None:
    document = json.loads(canonical_json(report()))
    document["forms"]["1-PN_S"]["rows"][1]["cells"]["3"] = "PLACEHOLDER"
    raw = json.dumps(document).replace('"PLACEHOLDER"', "12345678901234567890.123456789")
    rs = parse_report_json(raw.encode(), "upload.json")
    value = next(r.cells["3"] for r in rs.forms["1-PN_S"].rows if r.code == "2")
    assert value == Decimal("12345678901234567890.123456789")


def test_a_broken_report_names_the_file_and_field() -> None:
    document = json.loads(canonical_json(report()))
    document["period"] = "2025-13"
    with pytest.raises(InputError) as caught:
        parse_report_json(json.dumps(document), "upload.json")
    assert str(caught.value).startswith("upload.json: period: String should match pattern")
    with pytest.raises(InputError, match=r"^upload.json: not valid JSON"):
        parse_report_json(b"{", "upload.json")
    with pytest.raises(InputError, match=r"^upload.json: not UTF-8 text \(byte 0\)"):
        parse_report_json(b"\xff{}", "upload.json")


def test_decimal_text_is_exact_and_plain() -> None:
    assert decimal_text(Decimal("1.50")) == "1.5"
    assert decimal_text(Decimal("1E+3")) == "1000"
    assert decimal_text(Decimal("-0.00")) == "0"
    assert decimal_text(Decimal("0.000000000000000000000000000001")) == (
        "0.000000000000000000000000000001"
    )


_findings = st.lists(
    st.builds(
        Finding,
        rule_id=st.sampled_from(["S-3-eq-row400", "V-11-ratio", "M-total"]),
        severity=st.sampled_from(["error", "warning"]),
        message=st.text(max_size=20),
        form=st.sampled_from([None, "1-PN_S", "1-PN_V"]),
        row=st.sampled_from([None, "3", "11"]),
    ),
    max_size=5,
)
_amounts = st.decimals(min_value=1, max_value=10**12, places=2, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(findings=_findings, margin=_amounts, reserves=_amounts, zeros=st.integers(0, 4))
def test_payload_hash_does_not_depend_on_order_or_notation(
    findings: list[Finding], margin: Decimal, reserves: Decimal, zeros: int
) -> None:
    """The same report with rows, forms and findings listed in another order, and its amounts
    written with extra trailing zeros, has the same canonical payload and SHA-256."""
    one = report(actual_margin=margin, reserves=reserves, findings=tuple(findings))
    padded = Decimal(f"{margin:f}" + ("" if "." in f"{margin:f}" else ".") + "0" * zeros)
    other = report(actual_margin=padded, reserves=reserves, findings=tuple(findings), reverse=True)
    assert canonical_json(one) == canonical_json(other)
    assert payload_sha256(one) == payload_sha256(other)
    changed = report(actual_margin=margin + Decimal("0.01"), reserves=reserves)
    assert payload_sha256(changed) != payload_sha256(
        report(actual_margin=margin, reserves=reserves)
    )


# --- history and corrections ----------------------------------------------------------------


def test_first_filing_then_a_correction_linked_to_it(engine: Engine) -> None:
    first_id, created, message = _file(engine, report(), filed_at=T0)
    assert created and message == f"filed version 1 (#{first_id}), first"
    corrected = report(minimum_margin=Decimal("4100000"))
    second_id, created, message = _file(
        engine,
        corrected,
        filed_at=T0 + timedelta(days=3),
        reason="treaty omitted",
        signer="C. Deputy",
    )
    assert created
    assert message == f"filed version 2 (#{second_id}), correction of version 1 (#{first_id})"
    with session_scope(engine) as session:
        versions = history(session, branch=BIN_A, period="2025-01")
        assert [(v.version, v.replaces_id) for v in versions] == [(1, None), (2, first_id)]
        assert current_ids(versions) == {second_id}
        second = get_version(session, second_id)
        assert second.signer == "C. Deputy" and second.reason == "treaty omitted"
        assert second.filed_at == T0 + timedelta(days=3)
        assert second.payload_sha256 == hashlib.sha256(second.payload.encode()).hexdigest()
        assert second.payload_sha256 == payload_sha256(corrected)
        assert stored_report(second) == corrected
        first = get_version(session, first_id)
        assert first.signer == "A. Head"  # the report's own signer by default
        assert first.rules_version == "test-rules-1"


def test_identical_refile_is_a_no_op_that_says_so(engine: Engine) -> None:
    first_id, _, _ = _file(engine, report(), filed_at=T0)
    again_id, created, message = _file(engine, report(reverse=True), filed_at=T0 + timedelta(1))
    assert (again_id, created) == (first_id, False)
    assert message == (
        f"identical to version 1 (#{first_id}, the current version) filed {T0.isoformat()}: "
        "nothing recorded"
    )
    second_id, _, _ = _file(engine, report(repo=Decimal("1")), filed_at=T0 + timedelta(2))
    # the very first report sent again after its correction is still the same report
    again_id, created, message = _file(engine, report(), filed_at=T0 + timedelta(3))
    assert (again_id, created) == (first_id, False)
    assert f"(#{first_id}, an earlier version)" in message
    with session_scope(engine) as session:
        assert [v.id for v in history(session)] == [first_id, second_id]


def test_history_filters_by_branch_and_period(engine: Engine) -> None:
    _file(engine, report("2025-01"), filed_at=T0)
    _file(engine, report("2025-02"), filed_at=T0 + timedelta(days=30))
    _file(engine, report("2025-01", bin_=BIN_B), filed_at=T0)
    with session_scope(engine) as session:
        assert [(v.branch_bin, v.period) for v in history(session)] == [
            (BIN_A, "2025-01"),
            (BIN_A, "2025-02"),
            (BIN_B, "2025-01"),
        ]
        assert [v.period for v in history(session, branch=BIN_A)] == ["2025-01", "2025-02"]
        assert [v.branch_bin for v in history(session, period="2025-01")] == [BIN_A, BIN_B]


def test_a_correction_must_replace_the_current_version(engine: Engine) -> None:
    first_id, _, _ = _file(engine, report(), filed_at=T0)
    second_id, _, _ = _file(engine, report(repo=Decimal("1")), filed_at=T0 + timedelta(1))
    with pytest.raises(InputError, match=f"version {second_id} is current, not {first_id}"):
        _file(engine, report(repo=Decimal("2")), filed_at=T0 + timedelta(2), replaces=first_id)
    with pytest.raises(InputError, match="cannot be filed before the version it replaces"):
        _file(engine, report(repo=Decimal("3")), filed_at=T0)


def test_a_report_with_errors_is_refused_unless_allowed(engine: Engine) -> None:
    bad = report(findings=(Finding(rule_id="S-3", severity="error", message="3 != 400"),))
    with pytest.raises(InputError, match="1 error finding"):
        _file(engine, bad, filed_at=T0)
    version_id, _, _ = _file(engine, bad, filed_at=T0, allow_errors=True)
    with session_scope(engine) as session:
        version = get_version(session, version_id)
        assert (version.error_count, version.warning_count) == (1, 0)
        assert version.findings == [
            {
                "rule_id": "S-3",
                "severity": "error",
                "message": "3 != 400",
                "form": None,
                "row": None,
                "column": None,
            }
        ]


def test_naive_filing_time_is_refused(engine: Engine) -> None:
    with pytest.raises(InputError, match="time zone"):
        _file(engine, report(), filed_at=datetime(2025, 2, 5))


# --- immutability ---------------------------------------------------------------------------


def test_filed_versions_cannot_be_changed_through_the_orm(engine: Engine) -> None:
    version_id, _, _ = _file(engine, report(), filed_at=T0)
    with pytest.raises(StoreError, match="immutable"), session_scope(engine) as session:
        session.get_one(FiledVersion, version_id).signer = "someone else"
    with pytest.raises(StoreError, match="immutable"), session_scope(engine) as session:
        session.delete(session.get_one(FiledVersion, version_id))
    with session_scope(engine) as session:
        assert get_version(session, version_id).signer == "A. Head"


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE prudential_filed_versions SET signer = 'x'",
        "UPDATE prudential_filed_versions SET payload = '{}'",
        "DELETE FROM prudential_filed_versions",
    ],
)
def test_the_database_refuses_to_change_a_filed_version(engine: Engine, statement: str) -> None:
    version_id, _, _ = _file(engine, report(), filed_at=T0)
    with pytest.raises(StoreError, match="immutable"), session_scope(engine) as session:
        session.execute(text(statement))
    with session_scope(engine) as session:
        assert get_version(session, version_id).signer == "A. Head"
        assert len(history(session)) == 1


# --- diff ------------------------------------------------------------------------------------


def test_diff_lists_every_changed_cell_rounded_and_exact(engine: Engine) -> None:
    old_id, _, _ = _file(engine, report(), filed_at=T0)
    # minimum margin 4,000,000 -> 4,000,499.99: the ratio moves, the rounded amount does not;
    # REPO 200,000 -> 201,500: HLA net and the HLA ratio move visibly.
    new = report(minimum_margin=Decimal("4000499.99"), repo=Decimal("201500"))
    new_id, _, _ = _file(engine, new, filed_at=T0 + timedelta(days=1))
    with session_scope(engine) as session:
        _, _, changes = diff_versions(session, old_id, new_id)
    table = [
        (c.form, c.row, c.column, c.old_exact, c.new_exact, c.old_rendered, c.new_rendered)
        for c in changes
    ]
    ratio = Decimal("5200000.40") / Decimal("4000499.99")
    assert table == [
        ("1-PN_S", "1", "3", "1.3000001", str(ratio), "1.30", "1.30"),
        ("1-PN_S", "3", "3", "4000000", "4000499.99", "4000", "4000"),
        ("1-PN_S", "6", "3", "1.4", "1.39925", "1.40", "1.40"),
        ("1-PN_S", "7", "3", "2800000", "2798500", "2800", "2799"),
        ("1-PN_S", "8", "3", "200000", "201500", "200", "202"),
        ("1-PN_O", "400", "4", "4000000", "4000499.99", "4000", "4000"),
        ("1-PN_O", "500", "4", "1.3000001", str(ratio), "1.30", "1.30"),
        ("1-PN_V", "9", "5", "200000", "201500", "200", "202"),
        ("1-PN_V", "11", "5", "1.4", "1.39925", "1.40", "1.40"),
    ]
    assert [c.visible for c in changes] == [
        False,
        False,
        False,
        True,
        True,
        False,
        False,
        True,
        False,
    ]


def test_diff_of_a_reinsurer_row_names_the_reinsurer(engine: Engine) -> None:
    old = report()
    m = old.forms["1-PN_M"]
    rows = tuple(
        row.model_copy(update={"cells": {**row.cells, "2": "BB+"}})
        if row.label == "Example Re AG"
        else row
        for row in m.rows
    )
    new = old.model_copy(
        update={"forms": {**old.forms, "1-PN_M": m.model_copy(update={"rows": rows})}}
    )
    old_id, _, _ = _file(engine, old, filed_at=T0)
    new_id, _, _ = _file(engine, new, filed_at=T0 + timedelta(1))
    with session_scope(engine) as session:
        _, _, changes = diff_versions(session, old_id, new_id)
    assert [(c.form, c.row, c.column, c.old_rendered, c.new_rendered, c.kind) for c in changes] == [
        ("1-PN_M", "3 [group 3] Example Re AG", "2", "BBB", "BB+", "text")
    ]


def test_diff_of_identical_versions_is_empty(engine: Engine) -> None:
    old_id, _, _ = _file(engine, report("2025-01"), filed_at=T0)
    new_id, _, _ = _file(engine, report("2025-02"), filed_at=T0)
    with session_scope(engine) as session:
        assert diff_versions(session, old_id, new_id)[2] == []
        with pytest.raises(InputError, match="no such filed version"):
            diff_versions(session, old_id, 999)


def test_cli_file_history_and_diff(tmp_path: Path) -> None:
    from access_helpers import sign_in
    from saqta.access import Role
    from saqta.prudential.render_json import write_json

    home = tmp_path / "home"
    token = sign_in(home, f"sqlite:///{home / 'saqta.db'}", "aigul", Role.BRANCH_OFFICER, BIN_A)
    env = {**os.environ, "SAQTA_HOME": str(home), "SAQTA_DATABASE_URL": "", "SAQTA_TOKEN": token}

    def saqta(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "saqta", "prudential", *args],
            capture_output=True, text=True, env=env, check=False,
        )  # fmt: skip

    first = write_json(report(), tmp_path / "first.json")
    second = write_json(report(repo=Decimal("201500")), tmp_path / "second.json")
    result = saqta("file", str(first), "--filed-at", "2025-02-05T10:00")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "filed version 1 (#1), first"
    again = saqta("file", str(first))
    assert again.stdout.splitlines()[0] == (
        "identical to version 1 (#1, the current version) filed 2025-02-05T05:00:00+00:00: "
        "nothing recorded"
    )
    corrected = saqta("file", str(second), "--reason", "REPO revalued", "--replaces", "1")
    assert corrected.stdout.splitlines()[0] == "filed version 2 (#2), correction of version 1 (#1)"
    listed = json.loads(saqta("history", "--branch", BIN_A, "--format", "json").stdout)
    assert [(v["id"], v["version"], v["replaces"], v["current"]) for v in listed] == [
        (1, 1, None, False), (2, 2, 1, True)]  # fmt: skip
    assert listed[1]["reason"] == "REPO revalued"
    diff = saqta("diff", "1", "2", "--format", "csv").stdout.splitlines()
    assert diff == [
        "form,row,column,kind,old,new,old_rendered,new_rendered,visible",
        "1-PN_S,6,3,ratio,1.4,1.39925,1.40,1.40,False",
        "1-PN_S,7,3,amount,2800000,2798500,2800,2799,True",
        "1-PN_S,8,3,amount,200000,201500,200,202,True",
        "1-PN_V,9,5,amount,200000,201500,200,202,True",
        "1-PN_V,11,5,ratio,1.4,1.39925,1.40,1.40,False",
    ]
    missing = saqta("diff", "1", "7")
    assert (
        missing.returncode == 1
        and missing.stderr.strip() == "error version 7: no such filed version"
    )
