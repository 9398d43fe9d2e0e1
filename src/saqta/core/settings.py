"""One settings object configures both stores and the rules.

Values come from the environment (prefix ``SAQTA_``) or a ``.env`` file in the working folder:

- ``SAQTA_HOME``: the local folder for the embedded stores (default ``./.saqta``);
- ``SAQTA_DATABASE_URL``: the system of record; default a SQLite file in ``SAQTA_HOME``.
  A PostgreSQL URL (``postgresql+psycopg://user@host:port/db``) switches to PostgreSQL;
- ``SAQTA_LAKE_DIR``: the facts lake (default ``SAQTA_HOME/lake``);
- ``SAQTA_RULES_OVERRIDES``: an optional folder of rule files that the Fund or a branch maintains;
  its values take precedence over the shipped ones for the same parameter;
- ``SAQTA_ENVIRONMENT``: ``development`` (default) or ``production``; in production the token
  key must be configured (nothing is generated);
- ``SAQTA_TOKEN_KEY`` / ``SAQTA_TOKEN_KEY_FILE``: the key that signs access tokens (a secret of
  at least 32 bytes for HS256, or a file with a secret or an EC P-256 private key in PEM for
  ES256); ``SAQTA_TOKEN_TTL_SECONDS`` their lifetime (default 900);
- ``SAQTA_OIDC_ISSUER``, ``SAQTA_OIDC_JWKS`` (inline JSON) or ``SAQTA_OIDC_JWKS_FILE``,
  ``SAQTA_OIDC_AUDIENCE``, ``SAQTA_OIDC_USERNAME_CLAIM``: the Fund's OpenID Connect provider,
  whose tokens are then accepted for the Saqta user named by the claim;
- ``SAQTA_RATE_LIMIT_CLIENT`` / ``SAQTA_RATE_LIMIT_USER``: requests per second allowed to one
  client / one user (token bucket, ``SAQTA_RATE_LIMIT_BURST_SECONDS`` seconds' worth of burst);
- ``SAQTA_ELIGIBILITY_INDEX_KEEP``: how many eligibility index builds to keep (default 3; the
  current one is never deleted, older ones beyond this number are).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SAQTA_", env_file=".env", extra="ignore")

    home: Path = Field(default=Path(".saqta"), description="Folder of the embedded stores")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL of the record store")
    lake_dir: Path | None = Field(default=None, description="Root folder of the facts lake")
    rules_overrides: Path | None = Field(default=None, description="Folder of overriding rules")
    environment: str = Field(default="development", pattern="^(development|production)$")
    token_key: SecretStr | None = Field(default=None, description="HS256 secret for tokens")
    token_key_file: Path | None = Field(default=None, description="Token key file (secret/PEM)")
    token_ttl_seconds: int = Field(default=900, ge=30, le=86400)
    oidc_issuer: str | None = Field(default=None, description="The Fund's OIDC issuer")
    oidc_jwks: str | None = Field(default=None, description="The issuer's JWKS, inline JSON")
    oidc_jwks_file: Path | None = Field(default=None, description="The issuer's JWKS file")
    oidc_audience: str | None = Field(default=None, description="Required aud of OIDC tokens")
    oidc_username_claim: str = Field(default="preferred_username")
    rate_limit_client: float = Field(default=200.0, gt=0, description="Requests/s per client")
    rate_limit_user: float = Field(default=20.0, gt=0, description="Requests/s per user")
    rate_limit_burst_seconds: float = Field(default=2.0, gt=0)
    eligibility_index_keep: int = Field(
        default=3, ge=1, description="Eligibility index builds kept (the current one included)"
    )

    @field_validator(
        "database_url",
        "lake_dir",
        "rules_overrides",
        "token_key",
        "token_key_file",
        "oidc_issuer",
        "oidc_jwks",
        "oidc_jwks_file",
        "oidc_audience",
        mode="before",
    )
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
