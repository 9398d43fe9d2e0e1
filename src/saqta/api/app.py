"""The FastAPI application: eligibility in JSON and FHIR, and a health check with provenance.

Endpoints (all read-only):

- ``GET /v1/eligibility/{iin}?date=YYYY-MM-DD``: 200 with :class:`EligibilityAnswer` for a
  known person (insured or not), 404 for an IIN not in the register, 400 for an invalid IIN or a
  malformed date, 422 for a date in a month the index does not hold; every error body is a
  :class:`ProblemBody` naming the field and saying why. Without ``date``, today in Kazakhstan.
- ``POST /fhir/CoverageEligibilityRequest/$check``: a FHIR R4 ``CoverageEligibilityRequest`` in,
  a ``CoverageEligibilityResponse`` out (``application/fhir+json``); errors are
  ``OperationOutcome`` resources (400 invalid, 404 unknown person, 422 date not covered).
- ``GET /health``: the index's provenance (status runs, rule-set versions, months, counts).
- ``GET /docs``, ``GET /redoc``: the documentation pages, with their assets served from Saqta
  itself (:mod:`saqta.api.docs`).

The handlers only translate HTTP to :meth:`EligibilityIndex.check` and back.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

import saqta
from saqta.api import docs, fhir, schemas
from saqta.mshi.eligibility import (
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
    reason: str = Field(description="Why, in words")
    basis: str | None = Field(
        description="state_category, contributions, prepayment, none, deceased, or no_status "
        "(a known person for whom no status was computed for the month)"
    )
    category: str | None = Field(description="The preferential category, when the state pays")
    payment_type: str | None = Field(description="The payer type that counted, when by payments")
    paid_months: int | None = Field(description="Paid months in the look-back window")
    last_paid_period: str | None = Field(description="The last paid period (YYYY-MM)")
    valid_until: str | None = Field(
        description="Last day entitled unless something changes; null when open or not insured"
    )
    change: str | None = Field(description="What would change the answer")
    death_date: str | None
    run_id: int | None = Field(description="The status run that computed the answer")


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
    version: str
    index: dict[str, Any]


def today_in_kazakhstan() -> dt.date:
    return dt.datetime.now(KAZAKHSTAN).date()


def _input_status(exc: EligibilityInputError) -> tuple[int, str]:
    """400 for a malformed question, 422 for a well-formed date the index cannot answer."""
    if exc.field == "date" and exc.reason.startswith("no status has been computed"):
        return 422, "date_not_covered"
    return 400, "invalid_input"


def answer(index: EligibilityIndex, iin: str, date: str | None) -> tuple[int, dict[str, Any]]:
    """The HTTP status and JSON body of ``GET /v1/eligibility/{iin}?date=...``."""
    on: dt.date | str = date if date is not None else today_in_kazakhstan()
    try:
        found = index.check(iin, on)
    except EligibilityInputError as exc:
        status, error = _input_status(exc)
        return status, {
            "error": error,
            "detail": str(exc),
            "problems": [{"field": exc.field, "value": exc.value, "reason": exc.reason}],
        }
    if found.outcome is Outcome.UNKNOWN_PERSON:
        return 404, {
            "error": "unknown_person",
            "detail": f"no person with IIN {found.iin} in the register",
            "problems": [{"field": "iin", "value": found.iin, "reason": found.reason}],
        }
    return 200, found.as_json()


def _json(content: dict[str, Any]) -> bytes:
    """JSON exactly as :class:`JSONResponse` renders it."""
    return json.dumps(
        content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


_PREFIX = "/v1/eligibility/"


class EligibilityFastPath:
    """ASGI wrapper answering ``GET /v1/eligibility/{iin}`` without FastAPI's routing.

    The question is the hot path (providers ask it millions of times a month); Starlette's
    router, FastAPI's parameter handling and response classes cost more than the answer itself.
    This layer sends exactly what the documented FastAPI route sends (both call :func:`answer`
    and render JSON the same way) and passes every other request to the application.
    """

    def __init__(self, app: FastAPI, index: EligibilityIndex) -> None:
        self.app = app
        self.index = index

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and path.startswith(_PREFIX)
            and "/" not in path[len(_PREFIX) :]
            and len(path) > len(_PREFIX)
        ):
            date = None
            raw = scope.get("query_string", b"")
            if raw:
                values = parse_qs(raw.decode("latin-1"), keep_blank_values=True).get("date")
                if values:
                    date = values[-1]
            status, content = answer(self.index, path[len(_PREFIX) :], date)
            body = _json(content)
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-length", str(len(body)).encode()),
                        (b"content-type", b"application/json"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def create_app(index: EligibilityIndex | Path | str) -> FastAPI:
    """The application answering from ``index`` (an open index, or a path to open once).

    Serve :func:`create_asgi` in production: the same application with the fast path.
    """
    opened = index if isinstance(index, EligibilityIndex) else open_index(index)
    app = FastAPI(
        title="Saqta eligibility API",
        version=saqta.__version__,
        description=(
            "Is a person insured under Kazakhstan's compulsory social health insurance (MSHI) "
            "on a given day? Answers come from an index built from the status engine's results; "
            "`/health` says which runs and rule-set versions. FHIR R4 (R4B models) for "
            f"CoverageEligibilityRequest; patients are identified by IIN with system "
            f"`{fhir.IIN_SYSTEM}`."
        ),
        docs_url=None,
        redoc_url=None,
    )
    docs.install(app)
    app.state.index = opened
    fhir.warm_up()
    problem_responses: dict[int | str, dict[str, Any]] = {
        400: {"model": ProblemBody, "description": "Invalid IIN or malformed date"},
        404: {"model": ProblemBody, "description": "The IIN is not in the register"},
        422: {"model": ProblemBody, "description": "No status computed for the date's month"},
    }

    @app.get(
        "/v1/eligibility/{iin}",
        response_model=EligibilityAnswer,
        responses=problem_responses,
        summary="Is this person insured on this day?",
        tags=["eligibility"],
    )
    async def eligibility(
        iin: schemas.IinPath,
        date: Annotated[
            schemas.OptionalDate, Query(description="YYYY-MM-DD; default today in Kazakhstan")
        ] = None,
    ) -> Response:
        status, content = answer(opened, iin, date)
        return JSONResponse(content, status_code=status)

    @app.post(
        "/fhir/CoverageEligibilityRequest/$check",
        summary="FHIR R4: answer a CoverageEligibilityRequest",
        tags=["fhir"],
        response_class=Response,
        responses={
            200: {
                "description": "A CoverageEligibilityResponse",
                "content": {fhir.FHIR_JSON: {"schema": schemas.FHIR_RESPONSE_SCHEMA}},
            },
            400: schemas.fhir_outcome("Not a valid request, or an invalid IIN or date"),
            404: schemas.fhir_outcome("The IIN is not in the register"),
            422: schemas.fhir_outcome("No status computed for the date's month"),
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": schemas.fhir_body(schemas.FHIR_REQUEST_SCHEMA),
            }
        },
    )
    async def fhir_check(request: Request) -> Response:
        body = await request.body()
        try:
            resource, iin, day = fhir.parse_request(body)
            answer = opened.check(iin, day)
        except fhir.FhirRequestError as exc:
            outcome = fhir.operation_outcome(exc.code, exc.diagnostics, exc.expression)
            return Response(outcome, status_code=400, media_type=fhir.FHIR_JSON)
        except EligibilityInputError as exc:
            status, _ = _input_status(exc)
            return Response(fhir.input_outcome(exc), status_code=status, media_type=fhir.FHIR_JSON)
        if answer.outcome is Outcome.UNKNOWN_PERSON:
            return Response(
                fhir.not_found_outcome(answer), status_code=404, media_type=fhir.FHIR_JSON
            )
        return Response(fhir.eligibility_response(resource, answer), media_type=fhir.FHIR_JSON)

    @app.get("/health", response_model=Health, tags=["operations"])
    async def health() -> Health:
        """Up, and answering from which index (status runs, rule-set versions, months)."""
        return Health(status="ok", version=saqta.__version__, index=opened.info.as_json())

    return app


def create_asgi(index: EligibilityIndex | Path | str) -> EligibilityFastPath:
    """The application with the fast path for eligibility questions: what ``saqta serve`` runs."""
    opened = index if isinstance(index, EligibilityIndex) else open_index(index)
    return EligibilityFastPath(create_app(opened), opened)


INDEX_ENVIRONMENT = "SAQTA_ELIGIBILITY_INDEX"
"""The index path that :func:`asgi_from_environment` opens (for several worker processes)."""


def asgi_from_environment() -> EligibilityFastPath:
    """Uvicorn factory for worker processes: the index named by ``SAQTA_ELIGIBILITY_INDEX``."""
    return create_asgi(os.environ[INDEX_ENVIRONMENT])
