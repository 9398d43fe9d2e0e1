"""The system of record on SQLite and PostgreSQL: migrations, upserts, constraints, run audit."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.orm import Session

from saqta.core.errors import InputError, StoreError
from saqta.store.db import (
    current_revision,
    describe,
    head_revision,
    make_engine,
    session_scope,
    upgrade,
)
from saqta.store.models import Base, Ownership, Provider, Region, Run, RunStatus, load_all_models
from saqta.store.registry import finish_run, start_run, upsert_providers, upsert_regions

SHA_A = "a" * 64
SHA_B = "0123456789abcdef" * 4

REGIONS: list[dict[str, Any]] = [
    {"code": "ALA", "name_en": "Almaty", "name_kk": "Алматы", "name_ru": "Алматы"},
    {
        "code": "VKO",
        "name_en": "East Kazakhstan Region",
        "name_kk": "Шығыс Қазақстан облысы",
        "name_ru": "Восточно-Казахстанская область",
    },
    {
        "code": "ABA",
        "name_en": "Abai Region",
        "name_kk": "Абай облысы",
        "name_ru": "Абайская область",
        "established_on": date(2022, 6, 8),
        "reporting_region_code": "VKO",
    },
]

PROVIDERS: list[dict[str, Any]] = [
    {
        "bin": "990140000123",
        "name": "City Polyclinic No. 1",
        "region_code": "ALA",
        "ownership": Ownership.STATE,
        "primary_care": True,
        "included_on": date(2020, 1, 1),
    },
    {
        "bin": "051040005678",
        "name": "Semey Private Clinic",
        "region_code": "ABA",
        "ownership": "private",
        "primary_care": False,
        "included_on": "2022-07-01",
        "excluded_on": "2024-12-31",
    },
]


def _count(engine: Engine, model: type[Base]) -> int:
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


# --------------------------------------------------------------------------------------------
# Migrations


def test_upgrade_reaches_head_and_is_idempotent(engine: Engine) -> None:
    assert head_revision() == "0005_formats"
    assert current_revision(engine) == "0005_formats"
    upgrade(engine)
    upgrade(engine)
    assert current_revision(engine) == "0005_formats"
    assert set(inspect(engine).get_table_names()) >= {
        "alembic_version",
        "providers",
        "regions",
        "runs",
    }


def test_fresh_database_has_no_revision(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) is None
        upgrade(engine)
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_migration_creates_exactly_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), load_all_models())
    assert differences == []


def test_constraints_have_the_same_names_on_every_database(engine: Engine) -> None:
    inspector = inspect(engine)
    assert inspector.get_pk_constraint("providers")["name"] == "pk_providers"
    assert [fk["name"] for fk in inspector.get_foreign_keys("providers")] == [
        "fk_providers_region_code_regions"
    ]
    assert [fk["name"] for fk in inspector.get_foreign_keys("regions")] == [
        "fk_regions_reporting_region_code_regions"
    ]
    assert [uq["name"] for uq in inspector.get_unique_constraints("providers")] == [
        "uq_providers_bin"
    ]
    assert {ck["name"] for ck in inspector.get_check_constraints("providers")} == {
        "ck_providers_bin_length",
        "ck_providers_ownership",
        "ck_providers_period",
    }
    assert {ck["name"] for ck in inspector.get_check_constraints("runs")} == {
        "ck_runs_status",
        "ck_runs_finished_after_started",
        "ck_runs_finished_when_done",
    }
    indexes = inspector.get_indexes("providers")  # PostgreSQL also lists the unique index
    assert [ix["name"] for ix in indexes if not ix.get("duplicates_constraint")] == [
        "ix_providers_region_code"
    ]


def test_failed_migration_raises_store_error_and_keeps_nothing(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with engine.begin() as connection:  # a table in the way of the migration
            connection.execute(text("CREATE TABLE regions (code VARCHAR(3) PRIMARY KEY)"))
        with pytest.raises(StoreError, match="cannot migrate the database") as caught:
            upgrade(engine)
        assert str(caught.value).startswith(f"{describe(engine)}: cannot migrate the database: ")
        assert current_revision(engine) is None
        assert set(inspect(engine).get_table_names()) == {"regions"}
    finally:
        engine.dispose()


# --------------------------------------------------------------------------------------------
# Engine


def test_sqlite_connections_enforce_foreign_keys_and_use_wal(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'deep' / 'er' / 'saqta.db'}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert (tmp_path / "deep" / "er").is_dir()
    finally:
        engine.dispose()


def test_default_url_comes_from_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from saqta.core.settings import get_settings

    monkeypatch.setenv("SAQTA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SAQTA_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        engine = make_engine()
        assert engine.url.database == str((tmp_path / "home" / "saqta.db").resolve())
        engine.dispose()
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "database URL: not a valid database URL"),
        ("nosuchdb://host/db", "unknown database kind 'nosuchdb'"),
    ],
)
def test_bad_url_is_a_store_error(url: str, message: str) -> None:
    with pytest.raises(StoreError) as caught:
        make_engine(url)
    assert message in str(caught.value)


def test_bare_postgresql_url_uses_psycopg_and_unreachable_server_is_a_store_error() -> None:
    engine = make_engine("postgresql://saqta:secret@127.0.0.1:1/saqta")
    try:
        assert engine.url.drivername == "postgresql+psycopg"
        with pytest.raises(StoreError) as caught:
            upgrade(engine)
    finally:
        engine.dispose()
    message = str(caught.value)
    assert message.startswith(
        "postgresql+psycopg://saqta:***@127.0.0.1:1/saqta: cannot migrate the database: "
    )
    assert "secret" not in message
    assert "\n" not in message


def test_sqlite_folder_under_a_file_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    folder = blocker / "store"
    with pytest.raises(StoreError) as caught:
        make_engine(f"sqlite:///{folder / 'saqta.db'}")
    assert str(caught.value).startswith(f"cannot create the database folder {folder}: ")
    assert "\n" not in str(caught.value)


def _run_without_root_powers(code: str) -> subprocess.CompletedProcess[str]:
    """Run Python code in a child process that file permissions apply to, even as root."""
    command = [sys.executable, "-c", textwrap.dedent(code)]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.fail("running as root needs setpriv (util-linux) to drop DAC capabilities")
        command = [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--", *command]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)


def test_read_only_sqlite_folder_is_a_store_error(tmp_path: Path) -> None:
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        result = _run_without_root_powers(
            f"""
            from saqta.core.errors import StoreError
            from saqta.store.db import make_engine
            try:
                make_engine({f"sqlite:///{folder / 'sub' / 'saqta.db'}"!r})
            except StoreError as error:
                print(error)
            else:
                print("no error")
            """
        )
    finally:
        folder.chmod(0o755)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"cannot create the database folder {folder / 'sub'}: permission denied"
    )


def test_unwritable_existing_sqlite_folder_is_a_store_error(tmp_path: Path) -> None:
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        result = _run_without_root_powers(
            f"""
            from saqta.core.errors import StoreError
            from saqta.store.db import make_engine
            try:
                make_engine({f"sqlite:///{folder / 'saqta.db'}"!r})
            except StoreError as error:
                print(error)
            """
        )
    finally:
        folder.chmod(0o755)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"cannot write in the database folder {folder}: permission denied"
    )


# --------------------------------------------------------------------------------------------
# Upserts


def test_upsert_regions_is_idempotent_and_updates(engine: Engine) -> None:
    with session_scope(engine) as session:
        assert upsert_regions(session, REGIONS) == 3
    with session_scope(engine) as session:
        assert upsert_regions(session, REGIONS) == 3
    assert _count(engine, Region) == 3

    renamed = [dict(row) for row in REGIONS]
    renamed[0]["name_en"] = "Almaty City"
    with session_scope(engine) as session:
        assert upsert_regions(session, renamed[:1]) == 1
    with session_scope(engine) as session:
        regions = {region.code: region for region in session.scalars(select(Region))}
    assert sorted(regions) == ["ABA", "ALA", "VKO"]
    assert regions["ALA"].name_en == "Almaty City"
    assert regions["ALA"].name_kk == "Алматы"
    assert regions["ABA"].established_on == date(2022, 6, 8)
    assert regions["ABA"].reporting_region_code == "VKO"
    assert regions["VKO"].established_on is None


def test_upsert_shows_new_values_to_objects_already_loaded(engine: Engine) -> None:
    with session_scope(engine) as session:
        upsert_regions(session, REGIONS)
    with session_scope(engine) as session:
        almaty = session.get(Region, "ALA")
        assert almaty is not None and almaty.name_en == "Almaty"
        upsert_regions(session, [{**REGIONS[0], "name_en": "Almaty City"}])
        assert almaty.name_en == "Almaty City"


def test_objects_loaded_before_an_upsert_stay_usable_after_the_session(engine: Engine) -> None:
    with session_scope(engine) as session:
        upsert_regions(session, REGIONS)
    with session_scope(engine) as session:
        loaded = list(session.scalars(select(Region).order_by(Region.code)))
        upsert_regions(session, [{**REGIONS[1], "name_en": "East Kazakhstan"}])
    assert [(region.code, region.name_en) for region in loaded] == [
        ("ABA", "Abai Region"),
        ("ALA", "Almaty"),
        ("VKO", "East Kazakhstan"),
    ]


def test_upsert_providers_is_idempotent_and_keeps_ids(engine: Engine) -> None:
    with session_scope(engine) as session:
        upsert_regions(session, REGIONS)
        assert upsert_providers(session, PROVIDERS) == 2
    with session_scope(engine) as session:
        first_ids = dict(session.execute(select(Provider.bin, Provider.id)).all())
    with session_scope(engine) as session:
        assert upsert_providers(session, PROVIDERS) == 2
    assert _count(engine, Provider) == 2

    changed = [dict(row) for row in PROVIDERS]
    changed[0].update(name="City Polyclinic No. 1 named after Abai", excluded_on=date(2025, 1, 1))
    changed[1].update(ownership=Ownership.STATE, excluded_on=None)
    with session_scope(engine) as session:
        assert upsert_providers(session, changed) == 2
    with session_scope(engine) as session:
        providers = {p.bin: p for p in session.scalars(select(Provider))}
    assert {bin_: p.id for bin_, p in providers.items()} == first_ids
    clinic, semey = providers["990140000123"], providers["051040005678"]
    assert clinic.name == "City Polyclinic No. 1 named after Abai"
    assert clinic.excluded_on == date(2025, 1, 1)
    assert clinic.primary_care is True
    assert semey.ownership is Ownership.STATE
    assert semey.excluded_on is None
    assert semey.included_on == date(2022, 7, 1)
    assert semey.primary_care is False


def test_upsert_of_nothing_writes_nothing(engine: Engine) -> None:
    with session_scope(engine) as session:
        assert upsert_regions(session, []) == 0
        assert upsert_providers(session, iter(())) == 0
    assert _count(engine, Region) == 0


def test_enum_is_stored_as_its_value_and_read_back_as_the_enum(engine: Engine) -> None:
    with session_scope(engine) as session:
        upsert_regions(session, REGIONS)
        upsert_providers(session, PROVIDERS)
    with engine.connect() as connection:
        stored: dict[str, str] = dict(
            connection.execute(text("SELECT bin, ownership FROM providers")).all()
        )
    assert stored == {"990140000123": "state", "051040005678": "private"}
    with session_scope(engine) as session:
        ownerships = dict(session.execute(select(Provider.bin, Provider.ownership)).all())
    assert ownerships == {"990140000123": Ownership.STATE, "051040005678": Ownership.PRIVATE}


def test_database_refuses_a_value_outside_the_enum(engine: Engine) -> None:
    with session_scope(engine) as session:
        upsert_regions(session, REGIONS)
    with (
        pytest.raises(StoreError, match="transaction was rolled back"),
        session_scope(engine) as session,
    ):
        session.execute(
            text(
                "INSERT INTO providers (bin, name, region_code, ownership, primary_care,"
                " included_on) VALUES ('123456789012', 'X', 'ALA', 'mixed', true, '2024-01-01')"
            )
        )
    assert _count(engine, Provider) == 0


def test_foreign_key_violation_is_refused(engine: Engine) -> None:
    with session_scope(engine) as session:
        upsert_regions(session, REGIONS)
    unknown_region = {**PROVIDERS[0], "region_code": "ZZZ"}
    with pytest.raises(StoreError) as caught, session_scope(engine) as session:
        upsert_providers(session, [unknown_region])
    message = str(caught.value)
    assert "foreign key" in message.lower()
    assert "\n" not in message
    assert _count(engine, Provider) == 0

    with pytest.raises(StoreError, match=r"(?i)foreign key"), session_scope(engine) as session:
        session.add(
            Provider(
                bin="123456789012",
                name="Nowhere Clinic",
                region_code="NOPE",
                ownership=Ownership.PRIVATE,
                primary_care=False,
                included_on=date(2024, 1, 1),
            )
        )
    with pytest.raises(StoreError, match=r"(?i)foreign key"), session_scope(engine) as session:
        upsert_regions(session, [{**REGIONS[0], "code": "NEW", "reporting_region_code": "OLD"}])
    assert _count(engine, Provider) == 0
    assert _count(engine, Region) == 3


def test_bad_rows_are_refused_before_writing(engine: Engine) -> None:
    with session_scope(engine) as session:
        upsert_regions(session, REGIONS)
    bad = [
        {**PROVIDERS[0], "bin": "12345"},
        {**PROVIDERS[1], "ownership": "mixed", "primary_care": "yes"},
        {**PROVIDERS[0], "id": 7},
        PROVIDERS[1],
        {**PROVIDERS[1], "included_on": "2025-01-01"},
    ]
    with pytest.raises(InputError) as caught, session_scope(engine) as session:
        upsert_providers(session, bad)
    assert str(caught.value).splitlines() == [
        "providers row 1: bin '12345' is not a BIN of 12 digits",
        "providers row 2: ownership 'mixed' is not one of state, private",
        "providers row 2: primary_care must be true or false, got 'yes'",
        "providers row 3: unknown field(s) id (expected: bin, excluded_on, included_on, "
        "name, ownership, primary_care, region_code)",
        "providers row 5: excluded_on 2024-12-31 is before included_on 2025-01-01",
    ]
    duplicate = "providers row 2: bin '990140000123' already given in row 1"
    with pytest.raises(InputError, match=duplicate), session_scope(engine) as session:
        upsert_providers(session, [PROVIDERS[0], PROVIDERS[0]])
    assert _count(engine, Provider) == 0


def test_session_scope_rolls_back_on_error(engine: Engine) -> None:
    with pytest.raises(RuntimeError, match="boom"), session_scope(engine) as session:
        upsert_regions(session, REGIONS)
        raise RuntimeError("boom")
    assert _count(engine, Region) == 0


# --------------------------------------------------------------------------------------------
# Audit record of runs


def test_run_audit_round_trip(engine: Engine) -> None:
    before = datetime.now(UTC)
    with session_scope(engine) as session:
        run = start_run(
            session, "synth", {"population": SHA_A, "tariffs": SHA_B.upper()}, "r1", "c1"
        )
        run_id = run.id
    assert isinstance(run_id, int)

    with session_scope(engine) as session:
        loaded = session.get(Run, run_id)
        assert loaded is not None
        assert loaded.status is RunStatus.RUNNING
        assert loaded.finished_at is None
        assert loaded.inputs == {"population": SHA_A, "tariffs": SHA_B}
        assert loaded.started_at.tzinfo is not None
        assert loaded.started_at.utcoffset() == timedelta(0)
        assert before - timedelta(seconds=1) <= loaded.started_at <= datetime.now(UTC)

    summary = {"rows": 1234, "total": "5478.30", "regions": ["ALA", "ABA"], "ok": True}
    with session_scope(engine) as session:
        finish_run(session, run, RunStatus.SUCCEEDED, summary)
    assert run.status is RunStatus.SUCCEEDED  # the caller's object shows the outcome too

    with session_scope(engine) as session:
        finished = session.get(Run, run_id)
        assert finished is not None
        assert finished.kind == "synth"
        assert finished.rules_version == "r1"
        assert finished.code_version == "c1"
        assert finished.status is RunStatus.SUCCEEDED
        assert finished.summary == summary
        assert finished.finished_at is not None
        assert finished.finished_at.utcoffset() == timedelta(0)
        assert finished.finished_at >= finished.started_at
    with engine.connect() as connection:
        assert connection.execute(text("SELECT status FROM runs")).scalar_one() == "succeeded"


def test_run_is_finished_only_once_and_not_as_running(engine: Engine) -> None:
    with session_scope(engine) as session:
        run = start_run(session, "demo", {}, "r1", "c1")
        with pytest.raises(InputError, match=r"not <RunStatus\.RUNNING"):
            finish_run(session, run, RunStatus.RUNNING, None)
        with pytest.raises(InputError, match="not 'done'"):
            finish_run(session, run, "done", None)
        finish_run(session, run, "failed", {"error": "input missing"})
        with pytest.raises(InputError, match=rf"run {run.id}: already finished \(failed\)"):
            finish_run(session, run, RunStatus.SUCCEEDED, None)


def test_start_run_checks_the_input_digests(engine: Engine) -> None:
    not_a_digest = "run input census: 'abc' is not a SHA-256"
    with pytest.raises(InputError, match=not_a_digest), session_scope(engine) as session:
        start_run(session, "synth", {"census": "abc"}, "r1", "c1")
    assert _count(engine, Run) == 0


def test_naive_datetimes_are_refused(engine: Engine) -> None:
    with pytest.raises(StoreError, match="naive datetime"), session_scope(engine) as session:
        session.add(
            Run(
                kind="demo",
                started_at=datetime(2024, 1, 1, 12, 0),
                status=RunStatus.RUNNING,
                inputs={},
                rules_version="r1",
                code_version="c1",
            )
        )


def test_database_refuses_a_finished_run_without_end_time(engine: Engine) -> None:
    with (
        pytest.raises(StoreError, match="transaction was rolled back"),
        session_scope(engine) as session,
    ):
        session.add(
            Run(
                kind="demo",
                started_at=datetime.now(UTC),
                status=RunStatus.SUCCEEDED,
                inputs={},
                rules_version="r1",
                code_version="c1",
            )
        )


def test_sessions_do_not_share_state(engine: Engine) -> None:
    # each test gets an empty database: nothing from other tests is visible
    with Session(engine) as session:
        assert session.scalars(select(Region)).all() == []
        assert session.scalars(select(Run)).all() == []
