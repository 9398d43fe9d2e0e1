"""The FastAPI application: eligibility in JSON and FHIR, prudential filings, the audit log,
token issue and a health check with provenance.

Every route declares a permission (``saqta.access``); callers send ``Authorization: Bearer``
with a token from ``POST /oauth/token``. 401 without a valid token, 403 when the role lacks the
permission, 429 (with ``Retry-After``) past the rate limit.

- ``POST /v1/eligibility`` with ``{"iin": ..., "date": "YYYY-MM-DD"}``: roles with
  ``eligibility.full`` get :class:`EligibilityAnswer` (404 for an IIN not in the register);
  roles with only ``eligibility.check`` (providers) get :class:`MinimalAnswer`, insured or not
  and until when, and a person not in the register is answered as not insured, so the answer
  does not reveal who is registered. 400 for an invalid IIN or date, 422 for a month the index
  does not hold. Without ``date``, today in Kazakhstan.
- ``GET /v1/eligibility/{iin}?date=``: the same, deprecated (the IIN sits in the URL and so in
  access logs); answers carry a ``Deprecation`` header.
- ``POST /fhir/CoverageEligibilityRequest/$check``: FHIR R4, same rules (minimal responses for
  providers; errors and refusals as ``OperationOutcome``).
- ``GET /v1/prudential/filings`` and ``/v1/prudential/filings/{id}``: a branch officer sees its
  own branch's filed versions, the regulator every branch's.
- ``POST /v1/audit/query``: the audit log ("who looked at this person?"), for administrators.
- ``POST /oauth/token``, ``GET /health`` and the documentation are public.
- ``GET /docs``, ``GET /redoc``: the documentation pages, with their assets served from Saqta
  itself (:mod:`saqta.api.docs`).

Every eligibility question is audited (who, when, interface, IIN, outcome).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

import saqta
from saqta.access import (
    AccessControl,
    AccessDenied,
    AccessSettings,
    Identity,
    Permission,
    install_iin_masking,
    query_audit,
)
from saqta.api import docs, fhir, schemas
from saqta.api.security import denied_response, public, require, token_endpoint
from saqta.core.i18n import negotiate
from saqta.core.version import code_version
from saqta.mshi.eligibility import (
    Eligibility,
    EligibilityIndex,
    EligibilityInputError,
    Outcome,
    open_index,
)

KAZAKHSTAN = ZoneInfo("Asia/Almaty")
"""The zone that decides "today" when a question gives no date."""


class EligibilityAnswer(BaseModel):
    """Whether a known person is insured on a day, why, until when, and what would change it."""

    iin: str = Field(description="The 12-digit IIN asked about")
    date: str = Field(description="The day asked about (YYYY-MM-DD)")
    month: str = Field(description="The status month that decided (YYYY-MM)")
    outcome: str = Field(description="insured or not_insured")
    insured: bool
    reason: str = Field(description="Why, in words of the language asked (Accept-Language)")
    reason_code: str = Field(
        description="Why, as a code: the basis (state_category, contributions, prepayment, none, "
        "deceased), or died (after the death date), no_status, ended (after valid_until) or "
        "not_yet (before valid_from)"
    )
    basis: str | None = Field(
        description="state_category, contributions, prepayment, none, deceased, or no_status "
        "(a known person for whom no status was computed for the month)"
    )
    category: str | None = Field(description="The preferential category, when the state pays")
    payment_type: str | None = Field(description="The payer type that counted, when by payments")
    paid_months: int | None = Field(description="Paid months in the look-back window")
    last_paid_period: str | None = Field(description="The last paid period (YYYY-MM)")
    valid_from: str | None = Field(
        description="First day of the month entitled (after the 1st: birth, the start of a "
        "category, the day of a prepayment); null when not entitled"
    )
    valid_until: str | None = Field(
        description="Last day entitled unless something changes; null when open or not insured"
    )
    change: str | None = Field(description="What would change the answer, in words")
    change_code: str | None = Field(
        description="What would change the answer, as a code (died, until_death, category_open, "
        "child_18, category_ends, prepaid, contributions, restore_one, restore_many)"
    )
    death_date: str | None
    run_id: int | None = Field(description="The status run that computed the answer")
    lang: str = Field(description="The language of the words: kk, ru or en")


class MinimalAnswer(BaseModel):
    """A provider's answer: insured or not on the day, and until when. Nothing more."""

    iin: str
    date: str = Field(description="The day asked about (YYYY-MM-DD)")
    insured: bool
    valid_until: str | None = Field(
        description="Last day entitled unless something changes; null when open or not insured"
    )


class EligibilityQuestion(BaseModel):
    """The body of ``POST /v1/eligibility``."""

    iin: str = Field(pattern=r"^[0-9]{12}$", examples=["900101300017"])
    date: str | None = Field(
        None, description="YYYY-MM-DD; default today in Kazakhstan", examples=["2022-06-15"]
    )


class AuditQuery(BaseModel):
    """The body of ``POST /v1/audit/query``: every filter optional."""

    iin: str | None = Field(None, pattern=r"^[0-9]{12}$")
    who: str | None = Field(None, description="user:NAME, client:ID or a bare name")
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    limit: int = Field(1000, ge=1, le=10000)


class Problem(BaseModel):
    field: str = Field(description="The input at fault: iin or date")
    value: str
    reason: str


class ProblemBody(BaseModel):
    """The body of every 4xx answer of the JSON API."""

    error: str = Field(description="invalid_input, date_not_covered or unknown_person")
    detail: str
    problems: list[Problem] = Field(default_factory=list)


class Health(BaseModel):
    status: str
    version: str = Field(description="The package version")
    code_version: str = Field(description="The git commit, or the version and a source hash")
    index: dict[str, Any]


def today_in_kazakhstan() -> dt.date:
    return dt.datetime.now(KAZAKHSTAN).date()


def _input_status(exc: EligibilityInputError) -> tuple[int, str]:
    """400 for a malformed question, 422 for a well-formed date the index cannot answer."""
    if exc.field == "date" and exc.reason.startswith("no status has been computed"):
        return 422, "date_not_covered"
    return 400, "invalid_input"


def _invalid(field: str, value: str, reason: str) -> tuple[int, dict[str, Any]]:
    return 400, {
        "error": "invalid_input",
        "detail": f"{field} {value!r}: {reason}",
        "problems": [{"field": field, "value": value, "reason": reason}],
    }


def minimal_json(found: Eligibility) -> dict[str, Any]:
    """A provider's answer: nothing but insured and until when (unknown = not insured)."""
    return {
        "iin": found.iin,
        "date": found.on.isoformat(),
        "insured": found.insured,
        "valid_until": found.valid_until.isoformat() if found.valid_until else None,
    }


AcceptLanguage = Annotated[
    str | None,
    Header(description="kk, ru or en (weights as in HTTP); default en", examples=["kk, ru;q=0.8"]),
]
"""The ``Accept-Language`` header of the eligibility routes: the language of the words."""


def _language_headers(accept_language: str | None) -> dict[str, str]:
    """``Content-Language`` (the language chosen) and ``Vary`` of an eligibility answer."""
    return {"Content-Language": negotiate(accept_language), "Vary": "Accept-Language"}


def answer(
    access: AccessControl,
    index: EligibilityIndex,
    identity: Identity,
    iin: str,
    date: str | None,
    *,
    interface: str = "api",
    action: str = "eligibility.check",
    accept_language: str | None = None,
) -> tuple[int, dict[str, Any]]:
    """The HTTP status and JSON body of an eligibility question, audited.

    Full answers for roles with ``eligibility.full``; minimal ones otherwise, with an unknown
    person answered exactly as a known person who is not insured. The words are in the best
    language of ``accept_language`` (an ``Accept-Language`` value) among Kazakh, Russian and
    English (default English).
    """
    full = access.allows(identity, Permission.ELIGIBILITY_FULL)
    on: dt.date | str = date if date is not None else today_in_kazakhstan()
    try:
        found = index.check(iin, on, negotiate(accept_language))
    except EligibilityInputError as exc:
        status, error = _input_status(exc)
        access.record(identity, interface, action, iin if isinstance(iin, str) else None, error)
        return status, {
            "error": error,
            "detail": str(exc),
            "problems": [{"field": exc.field, "value": exc.value, "reason": exc.reason}],
        }
    access.record(identity, interface, action, found.iin, found.outcome.value)
    if not full:
        return 200, minimal_json(found)
    if found.outcome is Outcome.UNKNOWN_PERSON:
        return 404, {
            "error": "unknown_person",
            "detail": f"no person with IIN {found.iin} in the register",
            "problems": [{"field": "iin", "value": found.iin, "reason": found.reason}],
        }
    return 200, found.as_json()


def parse_question(body: bytes) -> tuple[str, str | None] | tuple[int, dict[str, Any]]:
    """``(iin, date)`` from a ``POST /v1/eligibility`` body, or an error ``(400, body)``."""
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return _invalid("body", body[:80].decode("utf-8", "replace"), "not JSON")
    if not isinstance(value, dict):
        return _invalid("body", str(value)[:80], 'expected {"iin": ..., "date": ...}')
    iin, date = value.get("iin"), value.get("date")
    if not isinstance(iin, str):
        return _invalid("iin", str(iin), "give the IIN as a string of 12 digits")
    if date is not None and not isinstance(date, str):
        return _invalid("date", str(date), "expected an ISO date YYYY-MM-DD")
    return iin, date


def _json(content: dict[str, Any]) -> bytes:
    """JSON exactly as :class:`JSONResponse` renders it."""
    return json.dumps(
        content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


_PREFIX = "/v1/eligibility/"
_POST_PATH = "/v1/eligibility"
_MAX_BODY = 4096
DEPRECATION_HEADERS = {
    "Deprecation": "true",
    "Link": '</v1/eligibility>; rel="successor-version"',
}
"""Sent with every answer of ``GET /v1/eligibility/{iin}``: the IIN belongs in a POST body."""


class EligibilityFastPath:
    """ASGI wrapper answering eligibility questions without FastAPI's routing.

    The question is the hot path (providers ask it millions of times a month); Starlette's
    router, FastAPI's parameter handling and response classes cost more than the answer itself.
    This layer applies the same access control (token signature, permission, rate limit, audit
    queued for the background writer: no database round trip) and sends exactly what the
    documented FastAPI routes send (both call :func:`answer` and render JSON the same way); it
    passes every other request, and the lifespan, to the application.
    """

    def __init__(self, app: FastAPI, index: EligibilityIndex) -> None:
        self.app = app
        self.index = index
        self.access: AccessControl = app.state.access

    async def _send(
        self, send: Any, status: int, content: dict[str, Any], extra: dict[str, str]
    ) -> None:
        body = _json(content)
        headers = [
            (b"content-length", str(len(body)).encode()),
            (b"content-type", b"application/json"),
        ]
        headers += [(k.lower().encode(), v.encode("latin-1")) for k, v in extra.items()]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        method = scope["method"]
        if method == "POST" and path == _POST_PATH:
            deprecated = False
        elif (
            method == "GET"
            and path.startswith(_PREFIX)
            and "/" not in path[len(_PREFIX) :]
            and len(path) > len(_PREFIX)
        ):
            deprecated = True
        else:
            await self.app(scope, receive, send)
            return
        extra = dict(DEPRECATION_HEADERS) if deprecated else {}
        authorization = None
        accept_language = None
        for key, value in scope.get("headers", ()):
            if key == b"authorization":
                authorization = value.decode("latin-1")
            elif key == b"accept-language":
                accept_language = value.decode("latin-1")
        extra.update(_language_headers(accept_language))
        try:
            identity = self.access.admit(authorization, Permission.ELIGIBILITY_CHECK)
        except AccessDenied as exc:
            await self._send(send, exc.status, exc.as_json(), exc.headers())
            return
        if deprecated:
            iin: str = path[len(_PREFIX) :]
            date = None
            raw = scope.get("query_string", b"")
            if raw:
                values = parse_qs(raw.decode("latin-1"), keep_blank_values=True).get("date")
                if values:
                    date = values[-1]
        else:
            chunks: list[bytes] = []
            size = 0
            more = True
            while more:
                message = await receive()
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > _MAX_BODY:
                    await self._send(send, *_invalid("body", "", "too large"), extra)
                    return
                chunks.append(chunk)
                more = message.get("more_body", False)
            parsed = parse_question(b"".join(chunks))
            if isinstance(parsed[0], int):
                status, content = parsed
                await self._send(send, status, content, extra)
                return
            iin, date = parsed
        status, content = answer(
            self.access, self.index, identity, iin, date, accept_language=accept_language
        )
        await self._send(send, status, content, extra)


CHECK = require(Permission.ELIGIBILITY_CHECK)
FHIR_CHECK = require(Permission.ELIGIBILITY_CHECK, fhir=True)
FILINGS_READ = require(Permission.FILINGS_READ)
AUDIT_READ = require(Permission.AUDIT_READ)


def default_access() -> AccessControl:
    """Access control from the settings, on the system of record of the settings."""
    from saqta.core.settings import get_settings
    from saqta.store.db import make_engine

    settings = get_settings()
    return AccessControl(make_engine(), AccessSettings.of(settings))


def create_app(
    index: EligibilityIndex | Path | str, access: AccessControl | None = None
) -> FastAPI:
    """The application answering from ``index`` (an open index, or a path to open once), with
    ``access`` (default: from the settings). Its lifespan's end writes the queued audit.

    Serve :func:`create_asgi` in production: the same application with the fast path.
    """
    opened = index if isinstance(index, EligibilityIndex) else open_index(index)
    control = access if access is not None else default_access()
    install_iin_masking()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            control.close()

    app = FastAPI(
        title="Saqta eligibility API",
        version=saqta.__version__,
        lifespan=lifespan,
        description=(
            "Is a person insured under Kazakhstan's compulsory social health insurance (MSHI) "
            "on a given day? Answers come from an index built from the status engine's results; "
            "`/health` says which runs and rule-set versions. FHIR R4 (R4B models) for "
            f"CoverageEligibilityRequest; patients are identified by IIN with system "
            f"`{fhir.IIN_SYSTEM}`. Every route but `/health`, `/oauth/token` and the "
            "documentation needs `Authorization: Bearer <token>` (see `x-permission` on each "
            "operation); providers get a minimal answer."
        ),
        docs_url=None,
        redoc_url=None,
    )
    docs.install(app)
    app.state.index = opened
    app.state.access = control
    app.add_exception_handler(AccessDenied, lambda _r, exc: denied_response(exc))
    fhir.warm_up()
    refusals: dict[int | str, dict[str, Any]] = {
        401: {"model": ProblemBody, "description": "No valid access token"},
        403: {"model": ProblemBody, "description": "The role lacks the permission"},
        429: {"model": ProblemBody, "description": "Rate limit; see Retry-After"},
    }
    problem_responses: dict[int | str, dict[str, Any]] = {
        400: {"model": ProblemBody, "description": "Invalid IIN or malformed date"},
        404: {
            "model": ProblemBody,
            "description": "The IIN is not in the register (only for roles with register access)",
        },
        422: {"model": ProblemBody, "description": "No status computed for the date's month"},
        **refusals,
    }

    def permission_extra(permission: str) -> dict[str, Any]:
        return {"x-permission": permission}

    @app.post(
        "/v1/eligibility",
        response_model=EligibilityAnswer | MinimalAnswer,
        responses=problem_responses,
        summary="Is this person insured on this day?",
        tags=["eligibility"],
        openapi_extra={
            **permission_extra(Permission.ELIGIBILITY_CHECK),
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["iin"],
                            "properties": {
                                "iin": schemas.IIN_SCHEMA,
                                "date": schemas.DATE_SCHEMA,
                            },
                        }
                    }
                },
            },
        },
    )
    async def eligibility(
        request: Request,
        who: Annotated[Identity, Depends(CHECK)],
        accept_language: AcceptLanguage = None,
    ) -> Response:
        parsed = parse_question(await request.body())
        if isinstance(parsed[0], int):
            status, content = parsed
        else:
            iin, date = parsed
            status, content = answer(
                control, opened, who, iin, date, accept_language=accept_language
            )
        return JSONResponse(
            content, status_code=status, headers=_language_headers(accept_language)
        )

    @app.get(
        "/v1/eligibility/{iin}",
        response_model=EligibilityAnswer | MinimalAnswer,
        responses=problem_responses,
        summary="Deprecated: the IIN in the URL ends up in logs; POST /v1/eligibility",
        tags=["eligibility"],
        deprecated=True,
        openapi_extra=permission_extra(Permission.ELIGIBILITY_CHECK),
    )
    async def eligibility_get(
        iin: schemas.IinPath,
        who: Annotated[Identity, Depends(CHECK)],
        date: Annotated[
            schemas.OptionalDate, Query(description="YYYY-MM-DD; default today in Kazakhstan")
        ] = None,
        accept_language: AcceptLanguage = None,
    ) -> Response:
        status, content = answer(
            control, opened, who, iin, date, accept_language=accept_language
        )
        return JSONResponse(
            content,
            status_code=status,
            headers={**DEPRECATION_HEADERS, **_language_headers(accept_language)},
        )

    @app.post(
        "/fhir/CoverageEligibilityRequest/$check",
        summary="FHIR R4: answer a CoverageEligibilityRequest",
        tags=["fhir"],
        response_class=Response,
        responses={
            200: {
                "description": "A CoverageEligibilityResponse (minimal for providers)",
                "content": {fhir.FHIR_JSON: {"schema": schemas.FHIR_RESPONSE_SCHEMA}},
            },
            400: schemas.fhir_outcome("Not a valid request, or an invalid IIN or date"),
            401: schemas.fhir_outcome("No valid access token"),
            403: schemas.fhir_outcome("The role lacks the permission"),
            404: schemas.fhir_outcome(
                "The IIN is not in the register (only for roles with register access)"
            ),
            422: schemas.fhir_outcome("No status computed for the date's month"),
            429: schemas.fhir_outcome("Rate limit; see Retry-After"),
        },
        openapi_extra={
            **permission_extra(Permission.ELIGIBILITY_CHECK),
            "requestBody": {
                "required": True,
                "content": schemas.fhir_body(schemas.FHIR_REQUEST_SCHEMA),
            }
        },
    )
    async def fhir_check(
        request: Request,
        who: Annotated[Identity, Depends(FHIR_CHECK)],
    ) -> Response:
        body = await request.body()
        action = "eligibility.check"
        try:
            resource, iin, day = fhir.parse_request(body)
            found = opened.check(iin, day, negotiate(request.headers.get("accept-language")))
        except fhir.FhirRequestError as exc:
            control.record(who, "fhir", action, None, "invalid_input")
            outcome = fhir.operation_outcome(exc.code, exc.diagnostics, exc.expression)
            return Response(outcome, status_code=400, media_type=fhir.FHIR_JSON)
        except EligibilityInputError as exc:
            status, error = _input_status(exc)
            control.record(who, "fhir", action, iin, error)
            return Response(fhir.input_outcome(exc), status_code=status, media_type=fhir.FHIR_JSON)
        control.record(who, "fhir", action, found.iin, found.outcome.value)
        full = control.allows(who, Permission.ELIGIBILITY_FULL)
        if full and found.outcome is Outcome.UNKNOWN_PERSON:
            return Response(
                fhir.not_found_outcome(found), status_code=404, media_type=fhir.FHIR_JSON
            )
        return Response(
            fhir.eligibility_response(resource, found, minimal=not full),
            media_type=fhir.FHIR_JSON,
        )

    @app.get(
        "/v1/prudential/filings",
        tags=["prudential"],
        responses=refusals,
        openapi_extra=permission_extra(Permission.FILINGS_READ),
    )
    def filings(
        who: Annotated[Identity, Depends(FILINGS_READ)],
        branch: str | None = Query(None, pattern=r"^[0-9]{12}$", description="A branch's BIN"),
        period: str | None = Query(None, pattern=r"^[0-9]{4}-[0-9]{2}$"),
    ) -> list[dict[str, Any]]:
        """Filed versions of prudential reports: a branch officer sees only its own branch's,
        the regulator every branch's."""
        from saqta.prudential.filings import current_ids, history
        from saqta.store.db import session_scope

        if who.scope_bin is not None:
            if branch is not None and branch != who.scope_bin:
                raise AccessDenied(403, "forbidden", "a branch sees only its own filings")
            branch = who.scope_bin
        with session_scope(control.engine) as session:
            versions = history(session, branch=branch, period=period)
        current = current_ids(versions)
        return [_filing_json(v, v.id in current) for v in versions]

    @app.get(
        "/v1/prudential/filings/{version_id}",
        tags=["prudential"],
        responses={**refusals, 404: {"model": ProblemBody, "description": "No such filing"}},
        openapi_extra=permission_extra(Permission.FILINGS_READ),
    )
    def filing(
        version_id: int, who: Annotated[Identity, Depends(FILINGS_READ)]
    ) -> Response:
        """One filed version with its findings and canonical payload (another branch's filing
        is answered as not found)."""
        from saqta.prudential.models import FiledVersion
        from saqta.store.db import session_scope

        with session_scope(control.engine) as session:
            found = session.get(FiledVersion, version_id)
        if found is None or (who.scope_bin is not None and found.branch_bin != who.scope_bin):
            return JSONResponse(
                {"error": "not_found", "detail": f"no filed version {version_id}", "problems": []},
                status_code=404,
            )
        document = _filing_json(found, None)
        document["findings"] = found.findings
        document["payload"] = json.loads(found.payload)
        return JSONResponse(document)

    @app.post(
        "/v1/audit/query",
        tags=["audit"],
        responses=refusals,
        openapi_extra=permission_extra(Permission.AUDIT_READ),
    )
    def audit_query(
        query: AuditQuery, who: Annotated[Identity, Depends(AUDIT_READ)]
    ) -> list[dict[str, Any]]:
        """Who accessed whose personal data, when, through which interface, with what outcome
        (newest first). The query itself is audited."""
        records = query_audit(
            control.engine,
            iin=query.iin,
            who=query.who,
            since=query.since,
            until=query.until,
            limit=query.limit,
        )
        control.record(who, "api", "audit.query", query.iin, "answered", f"{len(records)} rows")
        return [
            {
                "id": r.id,
                "at": r.at.isoformat(),
                "principal": r.principal,
                "role": r.role,
                "interface": r.interface,
                "action": r.action,
                "iin": r.subject_iin,
                "outcome": r.outcome,
                "detail": r.detail,
            }
            for r in records
        ]

    app.post(
        "/oauth/token",
        tags=["access"],
        summary="OAuth2 token: client_credentials (providers' systems) or password (staff)",
        dependencies=[Depends(public)],
        openapi_extra={
            "x-permission": "public",
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-www-form-urlencoded": {
                        "schema": {
                            "type": "object",
                            "required": ["grant_type"],
                            "properties": {
                                "grant_type": {
                                    "type": "string",
                                    "enum": ["client_credentials", "password"],
                                },
                                "client_id": {"type": "string"},
                                "client_secret": {"type": "string"},
                                "username": {"type": "string"},
                                "password": {"type": "string"},
                            },
                        }
                    }
                },
            },
        },
    )(token_endpoint)

    @app.get(
        "/health",
        response_model=Health,
        tags=["operations"],
        dependencies=[Depends(public)],
        openapi_extra={"x-permission": "public"},
    )
    async def health() -> Health:
        """Up, and answering from which index (status runs, rule-set versions, months)."""
        return Health(
            status="ok",
            version=saqta.__version__,
            code_version=code_version(),
            index=opened.info.as_json(),
        )

    return app


def _filing_json(version: Any, current: bool | None) -> dict[str, Any]:
    document = {
        "id": version.id,
        "branch": version.branch_bin,
        "branch_name": version.branch_name,
        "period": version.period,
        "version": version.version,
        "replaces": version.replaces_id,
        "filed_at": version.filed_at.isoformat(),
        "signer": version.signer,
        "errors": version.error_count,
        "warnings": version.warning_count,
        "rules_version": version.rules_version,
        "sha256": version.payload_sha256,
        "reason": version.reason,
    }
    if current is not None:
        document["current"] = current
    return document


def create_asgi(
    index: EligibilityIndex | Path | str, access: AccessControl | None = None
) -> EligibilityFastPath:
    """The application with the fast path for eligibility questions: what ``saqta serve`` runs."""
    opened = index if isinstance(index, EligibilityIndex) else open_index(index)
    return EligibilityFastPath(create_app(opened, access), opened)


INDEX_ENVIRONMENT = "SAQTA_ELIGIBILITY_INDEX"
"""The index path that :func:`asgi_from_environment` opens (for several worker processes)."""


def asgi_from_environment() -> EligibilityFastPath:
    """Uvicorn factory for worker processes: the index named by ``SAQTA_ELIGIBILITY_INDEX``."""
    return create_asgi(os.environ[INDEX_ENVIRONMENT])
