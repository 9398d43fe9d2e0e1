"""Settings configure both stores; the shipped published figures are the Fund's."""

import filecmp
from pathlib import Path

import pytest

from saqta.core.settings import Settings
from saqta.synth.profile import published_dir

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "domain" / "data"


def test_the_embedded_default_is_a_sqlite_file_in_the_home_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("SAQTA_DATABASE_URL", raising=False)
    monkeypatch.setenv("SAQTA_HOME", str(tmp_path))
    settings = Settings()
    assert settings.resolved_database_url == f"sqlite:///{tmp_path.resolve() / 'saqta.db'}"
    assert settings.resolved_lake_dir == tmp_path / "lake"


def test_an_empty_variable_means_not_set(monkeypatch):
    monkeypatch.setenv("SAQTA_RULES_OVERRIDES", "")
    monkeypatch.setenv("SAQTA_DATABASE_URL", " ")
    settings = Settings()
    assert settings.rules_overrides is None
    assert settings.database_url is None


def test_the_database_url_switches_to_postgresql(monkeypatch):
    monkeypatch.setenv("SAQTA_DATABASE_URL", "postgresql+psycopg://u@127.0.0.1:5999/saqta")
    monkeypatch.setenv("SAQTA_LAKE_DIR", "/data/lake")
    settings = Settings()
    assert settings.resolved_database_url.startswith("postgresql+psycopg://")
    assert settings.resolved_lake_dir == Path("/data/lake")


@pytest.mark.parametrize(
    "name", ["insurance_status.csv", "payment_frequency_2022.csv", "providers_by_region_2022.csv"]
)
def test_shipped_published_figures_are_the_reference_copies(name):
    if not SHARED_DATA.exists():
        pytest.skip("the reference data folder is not beside this checkout")
    assert filecmp.cmp(published_dir() / name, SHARED_DATA / name, shallow=False)
