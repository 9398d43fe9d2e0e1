"""Short-lived signed access tokens (JWT), and the Fund's OpenID Connect tokens.

Saqta signs its own tokens with one key from the settings: an HS256 secret (``SAQTA_TOKEN_KEY``
or a file) or an EC P-256 private key in PEM (ES256). In production a missing key is an error;
in development a random secret is generated once into ``SAQTA_HOME/token.key`` (mode 0600).

Verifying a token needs only the key: no database round trip. A token says who (``sub``), the
role and the BIN it is bound to, and expires after ``SAQTA_TOKEN_TTL_SECONDS``; disabling a user
or client stops new tokens, and the ones already issued expire within that time.

When ``SAQTA_OIDC_ISSUER`` and a JWKS are configured, tokens of the Fund's OpenID Connect
provider are accepted too: signature by a key of the JWKS (no network at run time), issuer,
audience and expiry checked, and the claim ``SAQTA_OIDC_USERNAME_CLAIM`` names the Saqta user
whose role applies (an unknown or disabled user is refused).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, OctKey
from joserfc.jwt import JWTClaimsRegistry

from saqta.access._identities import AuthenticationError, Identity
from saqta.access._models import Role
from saqta.core.errors import SaqtaError

ISSUER = "saqta"
AUDIENCE = "saqta-api"
KEY_FILE_NAME = "token.key"
MIN_SECRET_BYTES = 32
_CACHE_SIZE = 50_000


class AccessConfigError(SaqtaError):
    """The access settings cannot work: no key in production, a weak or unreadable key, a
    malformed JWKS."""


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    token_type: str = "Bearer"

    def as_json(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
        }


def _secret_key(raw: bytes, where: str) -> OctKey:
    raw = raw.strip()
    if len(raw) < MIN_SECRET_BYTES:
        raise AccessConfigError(
            f"a token secret needs at least {MIN_SECRET_BYTES} bytes, this has {len(raw)}",
            where=where,
        )
    return OctKey.import_key(raw)


def _read_key_file(path: Path) -> tuple[OctKey | ECKey, str]:
    try:
        mode = path.stat().st_mode
        raw = path.read_bytes()
    except OSError as exc:
        raise AccessConfigError(
            f"cannot read the token key: {exc.strerror}", where=str(path)
        ) from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise AccessConfigError(
            f"the token key is readable by others (mode {stat.S_IMODE(mode):o}): chmod 600",
            where=str(path),
        )
    if raw.lstrip().startswith(b"-----BEGIN"):
        try:
            key = ECKey.import_key(raw)
        except (JoseError, ValueError) as exc:
            raise AccessConfigError(
                f"not an EC P-256 private key: {exc}", where=str(path)
            ) from exc
        if not key.is_private or key.curve_name != "P-256":
            raise AccessConfigError("ES256 needs an EC P-256 private key", where=str(path))
        return key, "ES256"
    return _secret_key(raw, str(path)), "HS256"


def development_key_file(home: Path) -> Path:
    """``SAQTA_HOME/token.key``: a random secret made once, readable by its owner only."""
    path = home / KEY_FILE_NAME
    if path.exists():
        return path
    home.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path
    with os.fdopen(fd, "wb") as out:
        out.write(secrets.token_urlsafe(48).encode("ascii") + b"\n")
    return path


def resolve_signing_key(
    *,
    environment: str,
    home: Path,
    secret: str | None,
    key_file: Path | None,
) -> tuple[OctKey | ECKey, str]:
    """The key that signs and verifies Saqta's tokens, and its algorithm."""
    if secret is not None:
        return _secret_key(secret.encode("utf-8"), "SAQTA_TOKEN_KEY"), "HS256"
    if key_file is not None:
        return _read_key_file(key_file)
    if environment == "production":
        raise AccessConfigError(
            "no token key: in production set SAQTA_TOKEN_KEY or SAQTA_TOKEN_KEY_FILE "
            "(nothing is generated)",
            where="settings",
        )
    return _read_key_file(development_key_file(home))


def _unverified_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT before any check, only to choose the verifier by its issuer."""
    try:
        part = token.split(".")[1]
        value = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (IndexError, ValueError):
        raise AuthenticationError("malformed token") from None
    if not isinstance(value, dict):
        raise AuthenticationError("malformed token")
    return value


class OidcVerifier:
    """Checks tokens of the Fund's OpenID Connect provider against its JWKS (no network)."""

    ALGORITHMS = ("RS256", "PS256", "ES256")

    def __init__(
        self,
        issuer: str,
        jwks: dict[str, Any],
        *,
        audience: str | None,
        username_claim: str,
        resolve_user: Callable[[str], Identity],
        cache_seconds: float = 60.0,
    ) -> None:
        try:
            self.keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise AccessConfigError(f"not a usable JWKS: {exc}", where="SAQTA_OIDC_JWKS") from exc
        self.issuer = issuer
        options: dict[str, Any] = {"iss": {"essential": True, "value": issuer}}
        if audience:
            options["aud"] = {"essential": True, "value": audience}
        options["exp"] = {"essential": True}
        self.claims = JWTClaimsRegistry(leeway=30, **options)
        self.username_claim = username_claim
        self.resolve_user = resolve_user
        self.cache_seconds = cache_seconds
        self._users: dict[str, tuple[float, Identity]] = {}

    def verify(self, token: str) -> Identity:
        try:
            decoded = jwt.decode(token, self.keys, algorithms=list(self.ALGORITHMS))
            self.claims.validate(decoded.claims)
        except JoseError as exc:
            raise AuthenticationError(f"OpenID Connect token refused: {exc.error}") from None
        username = decoded.claims.get(self.username_claim)
        if not isinstance(username, str) or not username:
            raise AuthenticationError(f"the OpenID Connect token has no {self.username_claim}")
        now = time.monotonic()
        cached = self._users.get(username)
        if cached is not None and now - cached[0] < self.cache_seconds:
            return cached[1]
        identity = self.resolve_user(username)
        self._users[username] = (now, identity)
        return identity


class TokenService:
    """Issues Saqta's access tokens and verifies them (and OIDC ones, when configured).

    Verified tokens are remembered until they expire (a bounded cache), so a client repeating
    its token costs one dictionary look-up, not a signature check.
    """

    def __init__(
        self,
        key: OctKey | ECKey,
        algorithm: str,
        *,
        ttl_seconds: int = 900,
        oidc: OidcVerifier | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.key = key
        self.algorithm = algorithm
        self.ttl_seconds = ttl_seconds
        self.oidc = oidc
        self.clock = clock
        self._claims = JWTClaimsRegistry(
            leeway=5,
            iss={"essential": True, "value": ISSUER},
            aud={"essential": True, "value": AUDIENCE},
            exp={"essential": True},
            sub={"essential": True},
        )
        self._cache: dict[str, tuple[float, Identity]] = {}
        self._lock = threading.Lock()

    def issue(self, identity: Identity) -> IssuedToken:
        now = int(self.clock())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": identity.principal,
            "role": identity.role.value,
            "iat": now,
            "exp": now + self.ttl_seconds,
            "jti": secrets.token_urlsafe(12),
        }
        if identity.scope_bin is not None:
            claims["bin"] = identity.scope_bin
        token = jwt.encode({"alg": self.algorithm, "typ": "JWT"}, claims, self.key)
        return IssuedToken(token, self.ttl_seconds)

    def verify(self, token: str) -> Identity:
        """The identity a bearer token stands for; :class:`AuthenticationError` when it is not
        valid (bad signature, expired, another issuer, unknown role)."""
        now = self.clock()
        cached = self._cache.get(token)
        if cached is not None:
            if now < cached[0]:
                return cached[1]
            self._cache.pop(token, None)
        issuer = _unverified_claims(token).get("iss")
        if issuer != ISSUER:
            if self.oidc is not None and issuer == self.oidc.issuer:
                return self.oidc.verify(token)
            raise AuthenticationError("token of an unknown issuer")
        try:
            decoded = jwt.decode(token, self.key, algorithms=[self.algorithm])
            self._claims.validate(decoded.claims)
        except JoseError as exc:
            raise AuthenticationError(f"token refused: {exc.error}") from None
        claims = decoded.claims
        kind, _, name = str(claims["sub"]).partition(":")
        try:
            role = Role(claims.get("role"))
        except ValueError:
            raise AuthenticationError("token with an unknown role") from None
        if kind not in ("user", "client") or not name:
            raise AuthenticationError("token with an unknown subject")
        identity = Identity(kind, name, role, claims.get("bin"))
        with self._lock:
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()
            self._cache[token] = (float(claims["exp"]), identity)
        return identity


def load_jwks(inline: str | None, path: Path | None) -> dict[str, Any] | None:
    """The OIDC provider's JWKS from the settings (inline JSON or a file), or None."""
    if inline is not None:
        text, where = inline, "SAQTA_OIDC_JWKS"
    elif path is not None:
        try:
            text, where = path.read_text(encoding="utf-8"), str(path)
        except OSError as exc:
            raise AccessConfigError(
                f"cannot read the JWKS: {exc.strerror}", where=str(path)
            ) from exc
    else:
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise AccessConfigError(f"the JWKS is not JSON: {exc}", where=where) from exc
    if not isinstance(value, dict) or not isinstance(value.get("keys"), list):
        raise AccessConfigError('a JWKS is an object with a "keys" list', where=where)
    return value
