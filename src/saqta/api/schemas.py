"""The OpenAPI descriptions of what the API accepts: as strict as the server, no looser.

The handlers validate the inputs themselves (so that every error has the API's own body and the
fast path answers byte for byte like the route); these schemas only describe them. A request
that satisfies them gets an answer (200), or one of the documented refusals about the data rather
than the request's form: 404 for a person not in the register, 422 for a month the index lacks.

IINs carry the custom format :data:`IIN_FORMAT`: 12 digits whose first six are a birth date
(``YYMMDD``) not in the future, whose 7th is the century and sex (1-6), and whose 12th is the
check digit (``saqta.core.iin``). JSON Schema's ``pattern`` cannot say all of it; a client that
ignores the format gets a 400 naming what is wrong.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import WithJsonSchema

from saqta.api.fhir import FHIR_JSON, IIN_SYSTEM, INSURER_DISPLAY

IIN_PATTERN = "^[0-9]{12}$"
IIN_FORMAT = "kz-iin"
"""The custom OpenAPI format of an IIN (see the module docstring)."""

IIN_EXAMPLE = "900101300017"

IIN_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": IIN_PATTERN,
    "format": IIN_FORMAT,
    "minLength": 12,
    "maxLength": 12,
    "description": "The person's IIN: 12 digits, YYMMDD birth date, century and sex digit 1-6, "
    "four serial digits, and the check digit (mod 11, two passes)",
    "examples": [IIN_EXAMPLE],
}

DATE_SCHEMA: dict[str, Any] = {"type": "string", "format": "date", "examples": ["2022-06-15"]}
"""An ISO calendar date ``YYYY-MM-DD`` that exists (``2022-02-30`` does not: 400)."""

IinPath = Annotated[str, WithJsonSchema(IIN_SCHEMA)]
"""The ``{iin}`` path parameter: validated by the handler, described by :data:`IIN_SCHEMA`."""

OptionalDate = Annotated[str | None, WithJsonSchema(DATE_SCHEMA)]
"""An optional ``date`` query parameter, described by :data:`DATE_SCHEMA`."""


def _text(description: str) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "description": description}


FHIR_REQUEST_SCHEMA: dict[str, Any] = {
    "title": "CoverageEligibilityRequest",
    "description": "A FHIR R4 CoverageEligibilityRequest: the elements Saqta reads. The day asked "
    "about is servicedDate, else servicedPeriod.start, else created.",
    "type": "object",
    "required": ["resourceType", "status", "purpose", "patient", "created", "insurer"],
    "properties": {
        "resourceType": {"const": "CoverageEligibilityRequest"},
        "id": {
            "type": "string",
            "pattern": "^[A-Za-z0-9.-]{1,64}$",
            "description": "Echoed as CoverageEligibilityRequest/{id} in the response's request",
        },
        "status": {"enum": ["active", "cancelled", "draft", "entered-in-error"]},
        "purpose": {
            "type": "array",
            "minItems": 1,
            "items": {"enum": ["auth-requirements", "benefits", "discovery", "validation"]},
        },
        "patient": {
            "type": "object",
            "required": ["identifier"],
            "properties": {
                "identifier": {
                    "type": "object",
                    "required": ["value"],
                    "properties": {
                        "system": {
                            "const": IIN_SYSTEM,
                            "description": "The IIN's identifier system (may be left out)",
                        },
                        "value": IIN_SCHEMA,
                    },
                    "additionalProperties": False,
                },
                "display": _text("The patient's name, for people; not used"),
            },
            "additionalProperties": False,
        },
        "created": {**DATE_SCHEMA, "description": "When the request was made"},
        "servicedDate": {**DATE_SCHEMA, "description": "The day asked about"},
        "servicedPeriod": {
            "type": "object",
            "properties": {"start": DATE_SCHEMA, "end": DATE_SCHEMA},
            "additionalProperties": False,
            "description": "Its start is the day asked about, when there is no servicedDate",
        },
        "insurer": {
            "type": "object",
            "properties": {"display": _text("The insurer's name; not used")},
            "additionalProperties": False,
        },
    },
    "additionalProperties": False,
    "not": {
        "required": ["servicedDate", "servicedPeriod"],
        "description": "serviced[x] is one element: a date or a period, not both",
    },
    "examples": [
        {
            "resourceType": "CoverageEligibilityRequest",
            "status": "active",
            "purpose": ["validation"],
            "patient": {"identifier": {"system": IIN_SYSTEM, "value": IIN_EXAMPLE}},
            "servicedDate": "2022-06-15",
            "created": "2022-06-15",
            "insurer": {"display": INSURER_DISPLAY},
        }
    ],
}

FHIR_RESPONSE_SCHEMA: dict[str, Any] = {
    "title": "CoverageEligibilityResponse",
    "description": "A FHIR R4 CoverageEligibilityResponse: insurance[0].inforce says whether the "
    "person is insured; disposition says why and what would change it.",
    "type": "object",
    "required": [
        "resourceType",
        "status",
        "purpose",
        "patient",
        "created",
        "request",
        "outcome",
        "insurer",
        "insurance",
    ],
    "properties": {
        "resourceType": {"const": "CoverageEligibilityResponse"},
        "status": {"const": "active"},
        "outcome": {"const": "complete"},
        "disposition": {"type": "string"},
        "servicedDate": {"type": "string", "format": "date"},
        "insurance": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["inforce"],
                "properties": {
                    "inforce": {"type": "boolean"},
                    "benefitPeriod": {
                        "type": "object",
                        "properties": {
                            "start": {"type": "string", "format": "date"},
                            "end": {"type": "string", "format": "date"},
                        },
                    },
                },
            },
        },
    },
}

OPERATION_OUTCOME_SCHEMA: dict[str, Any] = {
    "title": "OperationOutcome",
    "description": "A FHIR R4 OperationOutcome with one error issue: its code, what is wrong "
    "(diagnostics) and where (expression)",
    "type": "object",
    "required": ["resourceType", "issue"],
    "properties": {
        "resourceType": {"const": "OperationOutcome"},
        "issue": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["severity", "code"],
                "properties": {
                    "severity": {"enum": ["fatal", "error", "warning", "information"]},
                    "code": {"type": "string"},
                    "diagnostics": {"type": "string"},
                    "expression": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}


def fhir_body(schema: dict[str, Any]) -> dict[str, Any]:
    """The ``content`` of a FHIR body: the same schema as FHIR JSON and as plain JSON."""
    return {FHIR_JSON: {"schema": schema}, "application/json": {"schema": schema}}


def fhir_outcome(description: str) -> dict[str, Any]:
    """An OpenAPI response whose body is an :data:`OPERATION_OUTCOME_SCHEMA`."""
    return {
        "description": description,
        "content": {FHIR_JSON: {"schema": OPERATION_OUTCOME_SCHEMA}},
    }
