"""One object that every interface asks: who is this, may they, not too often, and noted."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from saqta.access._audit import AuditEvent, AuditWriter, write_audit
from saqta.access._identities import AuthenticationError, Identity, user_identity
from saqta.access._permissions import Grants, Permission, load_grants
from saqta.access._ratelimit import RateLimiter
from saqta.access._tokens import OidcVerifier, TokenService, load_jwks, resolve_signing_key

GRANTS_REFRESH_SECONDS = 60.0


class AccessDenied(Exception):
    """A request refused: 401 (no valid identity), 403 (not permitted) or 429 (too many)."""

    def __init__(self, status: int, error: str, detail: str, retry_after: str | None = None):
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        if self.status == 401:
            return {"WWW-Authenticate": 'Bearer realm="saqta"'}
        if self.retry_after is not None:
            return {"Retry-After": self.retry_after}
        return {}

    def as_json(self) -> dict[str, Any]:
        return {"error": self.error, "detail": self.detail, "problems": []}


@dataclass(frozen=True)
class AccessSettings:
    """What :class:`AccessControl` needs from the settings (see ``saqta.core.settings``)."""

    environment: str = "development"
    home: Path = Path(".saqta")
    token_key: str | None = None
    token_key_file: Path | None = None
    token_ttl_seconds: int = 900
    oidc_issuer: str | None = None
    oidc_jwks: str | None = None
    oidc_jwks_file: Path | None = None
    oidc_audience: str | None = None
    oidc_username_claim: str = "preferred_username"
    rate_limit_client: float = 200.0
    rate_limit_user: float = 20.0
    rate_limit_burst_seconds: float = 2.0

    @classmethod
    def of(cls, settings: Any) -> AccessSettings:
        """From a ``saqta.core.settings.Settings`` object."""
        key = settings.token_key.get_secret_value() if settings.token_key is not None else None
        return cls(
            environment=settings.environment,
            home=settings.home,
            token_key=key,
            token_key_file=settings.token_key_file,
            token_ttl_seconds=settings.token_ttl_seconds,
            oidc_issuer=settings.oidc_issuer,
            oidc_jwks=settings.oidc_jwks,
            oidc_jwks_file=settings.oidc_jwks_file,
            oidc_audience=settings.oidc_audience,
            oidc_username_claim=settings.oidc_username_claim,
            rate_limit_client=settings.rate_limit_client,
            rate_limit_user=settings.rate_limit_user,
            rate_limit_burst_seconds=settings.rate_limit_burst_seconds,
        )


def token_service(engine: Engine, settings: AccessSettings) -> TokenService:
    """The token service the settings describe (OIDC included when configured)."""
    key, algorithm = resolve_signing_key(
        environment=settings.environment,
        home=settings.home,
        secret=settings.token_key,
        key_file=settings.token_key_file,
    )
    oidc = None
    jwks = load_jwks(settings.oidc_jwks, settings.oidc_jwks_file)
    if settings.oidc_issuer and jwks is not None:
        oidc = OidcVerifier(
            settings.oidc_issuer,
            jwks,
            audience=settings.oidc_audience,
            username_claim=settings.oidc_username_claim,
            resolve_user=lambda name: user_identity(engine, name),
        )
    return TokenService(key, algorithm, ttl_seconds=settings.token_ttl_seconds, oidc=oidc)


class AccessControl:
    """Authentication, deny-by-default authorisation, rate limits and the audit, for one
    process of an interface.

    Nothing on a request's path touches the database: tokens are verified with the key, the
    grants are a snapshot refreshed every minute by the audit thread, and audit records are
    queued for that thread (``audit_async``) or written at once (the command line).
    """

    def __init__(
        self,
        engine: Engine,
        settings: AccessSettings,
        *,
        audit_async: bool = True,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.tokens = token_service(engine, settings)
        self.grants: Grants = load_grants(engine)
        self._grants_loaded = time.monotonic()
        self.limiter = RateLimiter(
            client_rate=settings.rate_limit_client,
            user_rate=settings.rate_limit_user,
            burst_seconds=settings.rate_limit_burst_seconds,
        )
        self.writer = (
            AuditWriter(engine, every_turn=[self._refresh_grants]) if audit_async else None
        )

    def _refresh_grants(self) -> None:
        if time.monotonic() - self._grants_loaded >= GRANTS_REFRESH_SECONDS:
            self.grants = load_grants(self.engine)
            self._grants_loaded = time.monotonic()

    def authenticate(self, authorization: str | None) -> Identity:
        """The identity of an ``Authorization: Bearer ...`` header; 401 otherwise."""
        if not authorization:
            raise AccessDenied(401, "unauthenticated", "send Authorization: Bearer <token>")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AccessDenied(401, "unauthenticated", "send Authorization: Bearer <token>")
        try:
            return self.tokens.verify(token.strip())
        except AuthenticationError as exc:
            raise AccessDenied(401, "invalid_token", exc.reason) from None

    def admit(self, authorization: str | None, permission: Permission) -> Identity:
        """Authenticate, check ``permission`` (403) and the rate limit (429)."""
        identity = self.authenticate(authorization)
        self.require(identity, permission)
        wait = self.limiter.take(identity.kind, identity.name)
        if wait > 0:
            raise AccessDenied(
                429,
                "rate_limited",
                f"too many requests for {identity.principal}",
                retry_after=RateLimiter.retry_after(wait),
            )
        return identity

    def require(self, identity: Identity, permission: Permission) -> None:
        if not self.grants.allows(identity.role, permission):
            raise AccessDenied(
                403, "forbidden", f"the role {identity.role.value} may not {permission.value}"
            )

    def allows(self, identity: Identity, permission: Permission) -> bool:
        return self.grants.allows(identity.role, permission)

    def record(
        self,
        identity: Identity | None,
        interface: str,
        action: str,
        subject_iin: str | None,
        outcome: str,
        detail: str | None = None,
    ) -> None:
        event = AuditEvent(
            principal=identity.principal if identity is not None else "anonymous",
            role=identity.role.value if identity is not None else None,
            interface=interface,
            action=action,
            subject_iin=subject_iin,
            outcome=outcome,
            detail=detail,
        )
        if self.writer is not None:
            self.writer.add(event)
        else:
            write_audit(self.engine, [event])

    def close(self) -> None:
        """Write every queued audit record and stop the background thread."""
        if self.writer is not None:
            self.writer.close()
