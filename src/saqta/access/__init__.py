"""Access control and privacy, the same for every interface (HTTP API, FHIR, command line,
and the web application to come).

- **Identities**: staff users (Argon2-hashed passwords, or the Fund's OpenID Connect) and
  clients of providers' information systems (OAuth2 client credentials, hashed secrets), each
  with one :class:`Role`; providers and branch officers are bound to a BIN.
- **Tokens**: short-lived signed JWTs (:class:`TokenService`), verified with the key alone.
- **Permissions as data**: the ``access_grants`` table gives a :class:`Permission` to roles;
  what no grant gives is denied.
- **Audit**: append-only records of every access to personal data (:func:`query_audit`
  answers "who looked at me?").
- **Rate limits** per client and per user (:class:`RateLimiter`), and **IIN masking** in logs
  (:func:`install_iin_masking`).

:class:`AccessControl` puts these together for an interface.
"""

from __future__ import annotations

from typing import Any

from saqta.access._audit import AuditEvent, AuditWriter, query_audit, write_audit
from saqta.access._control import AccessControl, AccessDenied, AccessSettings, token_service
from saqta.access._identities import (
    AuthenticationError,
    Identity,
    add_client,
    add_user,
    authenticate_client,
    authenticate_user,
    list_clients,
    list_users,
    rotate_client_secret,
    set_client_disabled,
    set_password,
    set_role,
    set_user_disabled,
    user_identity,
)
from saqta.access._masking import IinMaskingFilter, install_iin_masking, mask_iins
from saqta.access._models import AuditRecord, Client, Grant, Role, User
from saqta.access._permissions import (
    DEFAULT_GRANTS,
    PUBLIC,
    Grants,
    Permission,
    grant,
    load_grants,
    revoke,
)
from saqta.access._ratelimit import RateLimiter
from saqta.access._tokens import AccessConfigError, IssuedToken, TokenService

__all__ = [
    "DEFAULT_GRANTS",
    "PUBLIC",
    "AccessConfigError",
    "AccessControl",
    "AccessDenied",
    "AccessSettings",
    "AuditEvent",
    "AuditRecord",
    "AuditWriter",
    "AuthenticationError",
    "Client",
    "Grant",
    "Grants",
    "Identity",
    "IinMaskingFilter",
    "IssuedToken",
    "Permission",
    "RateLimiter",
    "Role",
    "TokenService",
    "User",
    "add_client",
    "add_user",
    "authenticate_client",
    "authenticate_user",
    "grant",
    "install_iin_masking",
    "list_clients",
    "list_users",
    "load_grants",
    "mask_iins",
    "query_audit",
    "revoke",
    "rotate_client_secret",
    "set_client_disabled",
    "set_password",
    "set_role",
    "set_user_disabled",
    "token_service",
    "user_identity",
    "uvicorn_log_config",
    "write_audit",
]


def uvicorn_log_config() -> dict[str, Any]:
    """Uvicorn's logging configuration with the IIN masking filter on every handler (uvicorn
    applies it in each worker process, access log included)."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["mask_iins"] = {"()": IinMaskingFilter}
    for handler in config.get("handlers", {}).values():
        handler.setdefault("filters", []).append("mask_iins")
    return config
