"""How the HTTP interface applies ``saqta.access``: a declared permission on every route, the
OAuth2 token endpoint, and refusals as JSON (or FHIR ``OperationOutcome``) with the right
headers.

Every route depends on :func:`require` (or :func:`public`), whose callable carries the
permission it checks: a test walks ``app.routes`` and fails on a route that declares none.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import Depends, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from saqta.access import (
    PUBLIC,
    AccessControl,
    AccessDenied,
    AuthenticationError,
    Identity,
    Permission,
    authenticate_client,
    authenticate_user,
)

log = logging.getLogger("saqta.api.access")

def documentation_routes(app: Any) -> frozenset[str]:
    """The documentation's routes (OpenAPI document, pages, assets): public, they hold no data."""
    from saqta.api import docs

    return docs.routes(app) | {app.openapi_url}

_bearer = HTTPBearer(auto_error=False, description="An access token from POST /oauth/token")


class FhirAccessDenied(AccessDenied):
    """A refusal on a FHIR route: rendered as an ``OperationOutcome``."""


def require(permission: Permission, *, fhir: bool = False) -> Callable[..., Identity]:
    """The dependency of a route that needs ``permission``: the caller's identity, or 401, 403
    or 429."""

    def dependency(
        request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> Identity:
        access: AccessControl = request.app.state.access
        try:
            return access.admit(request.headers.get("authorization"), permission)
        except AccessDenied as exc:
            if fhir:
                raise FhirAccessDenied(exc.status, exc.error, exc.detail, exc.retry_after) from None
            raise

    dependency.permission = permission  # type: ignore[attr-defined]
    return dependency


def public() -> None:
    """The dependency of a route anyone may call."""


public.permission = PUBLIC  # type: ignore[attr-defined]


def declared_permission(dependant_calls: list[Any]) -> str | None:
    """The permission declared by the first of ``dependant_calls`` that carries one."""
    for call in dependant_calls:
        permission = getattr(call, "permission", None)
        if permission is not None:
            return str(permission)
    return None


_FHIR_CODES = {401: "login", 403: "forbidden", 429: "throttled"}


def denied_response(exc: AccessDenied) -> Response:
    if isinstance(exc, FhirAccessDenied):
        from saqta.api import fhir

        body = fhir.operation_outcome(_FHIR_CODES.get(exc.status, "security"), exc.detail)
        return Response(
            body, status_code=exc.status, media_type=fhir.FHIR_JSON, headers=exc.headers()
        )
    return JSONResponse(exc.as_json(), status_code=exc.status, headers=exc.headers())


def _token_error(status: int, error: str, description: str) -> JSONResponse:
    headers = {"Cache-Control": "no-store"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="saqta"'
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=status, headers=headers
    )


def _form(body: bytes, content_type: str) -> dict[str, str]:
    if content_type.startswith("application/json"):
        value = json.loads(body or b"{}")
        if not isinstance(value, dict):
            raise ValueError("a JSON object")
        return {str(k): str(v) for k, v in value.items() if v is not None}
    fields = parse_qs(body.decode("utf-8"), keep_blank_values=False, strict_parsing=False)
    return {key: values[-1] for key, values in fields.items()}


def _basic(authorization: str | None) -> tuple[str, str] | None:
    if not authorization or not authorization.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    name, sep, secret = decoded.partition(":")
    return (name, secret) if sep else None


async def token_endpoint(request: Request) -> Response:
    """``POST /oauth/token`` (RFC 6749): ``client_credentials`` for providers' systems (client id
    and secret in HTTP Basic or in the form) and ``password`` for staff."""
    access: AccessControl = request.app.state.access
    try:
        form = _form(await request.body(), request.headers.get("content-type", ""))
    except (ValueError, UnicodeDecodeError):
        return _token_error(400, "invalid_request", "send a form (or JSON) with grant_type")
    grant = form.get("grant_type")
    if grant == "client_credentials":
        basic = _basic(request.headers.get("authorization"))
        if basic is None:
            basic = (form.get("client_id", ""), form.get("client_secret", ""))
        name, secret = basic
        if not name or not secret:
            return _token_error(401, "invalid_client", "client_id and client_secret are needed")
        check: Callable[[], Identity] = lambda: authenticate_client(  # noqa: E731
            access.engine, name, secret
        )
        failure = (401, "invalid_client", "client authentication failed")
        kind = "client"
    elif grant == "password":
        name, password = form.get("username", ""), form.get("password", "")
        if not name or not password:
            return _token_error(400, "invalid_request", "username and password are needed")
        check = lambda: authenticate_user(access.engine, name, password)  # noqa: E731
        failure = (400, "invalid_grant", "wrong username or password")
        kind = "user"
    else:
        return _token_error(
            400, "unsupported_grant_type", "grant_type is client_credentials or password"
        )
    wait = access.limiter.take(kind, f"token:{name}")
    if wait > 0:
        return JSONResponse(
            {"error": "rate_limited", "error_description": "too many attempts"},
            status_code=429,
            headers={"Retry-After": access.limiter.retry_after(wait), "Cache-Control": "no-store"},
        )
    try:
        identity = await run_in_threadpool(check)
    except AuthenticationError:
        log.warning("token refused for %s %s", kind, name)
        return _token_error(*failure)
    issued = access.tokens.issue(identity)
    return JSONResponse(
        issued.as_json(), headers={"Cache-Control": "no-store", "Pragma": "no-cache"}
    )
