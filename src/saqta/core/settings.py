"""One settings object configures both stores and the rules.

Values come from the environment (prefix ``SAQTA_``) or a ``.env`` file in the working folder:

- ``SAQTA_HOME``: the local folder for the embedded stores (default ``./.saqta``);
- ``SAQTA_DATABASE_URL``: the system of record; default a SQLite file in ``SAQTA_HOME``.
  A PostgreSQL URL (``postgresql+psycopg://user@host:port/db``) switches to PostgreSQL;
- ``SAQTA_LAKE_DIR``: the facts lake (default ``SAQTA_HOME/lake``);
- ``SAQTA_RULES_OVERRIDES``: an optional folder of rule files that the Fund or a branch maintains;
  its values take precedence over the shipped ones for the same parameter;
- ``SAQTA_ELIGIBILITY_INDEX_KEEP``: how many eligibility index builds to keep (default 3; the
  current one is never deleted, older ones beyond this number are).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SAQTA_", env_file=".env", extra="ignore")

    home: Path = Field(default=Path(".saqta"), description="Folder of the embedded stores")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL of the record store")
    lake_dir: Path | None = Field(default=None, description="Root folder of the facts lake")
    rules_overrides: Path | None = Field(default=None, description="Folder of overriding rules")
    eligibility_index_keep: int = Field(
        default=3, ge=1, description="Eligibility index builds kept (the current one included)"
    )

    @field_validator("database_url", "lake_dir", "rules_overrides", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """An empty variable (``SAQTA_RULES_OVERRIDES=``) means "not set", not "this folder"."""
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'saqta.db').resolve()}"

    @property
    def resolved_lake_dir(self) -> Path:
        return self.lake_dir if self.lake_dir is not None else self.home / "lake"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
