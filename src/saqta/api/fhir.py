"""FHIR R4 eligibility: ``CoverageEligibilityRequest`` in, ``CoverageEligibilityResponse`` out.

The models are those of ``fhir.resources.R4B``: R4B (4.3.0) is the backward-compatible update of
R4 (4.0.1) and ``fhir.resources`` 8 ships no separate R4 package; the two resources used here
did not change between R4 and R4B, so an R4 client's request is accepted as it is.

The patient is identified by IIN: ``patient.identifier`` with ``system`` = :data:`IIN_SYSTEM`
(or no system, taken as an IIN) and ``value`` the 12 digits. No public FHIR naming system for
Kazakhstan's IIN is known (HL7 terminology has only passport-KAZ), so this URI is Saqta's own;
the Fund can replace it by registering an official one.

The day asked about is ``servicedDate``, else the start of ``servicedPeriod``, else the
request's ``created`` date.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import ValidationError

from saqta.core.errors import InputError
from saqta.mshi.eligibility import Eligibility, EligibilityInputError, Outcome

IIN_SYSTEM = "urn:saqta:sid:kz-iin"
"""The identifier system of Kazakhstan's IIN in Saqta's FHIR resources."""

INSURER_DISPLAY = "Social Health Insurance Fund of Kazakhstan (MSHI)"
FHIR_JSON = "application/fhir+json"


class FhirRequestError(InputError):
    """A request that is not a usable ``CoverageEligibilityRequest``: ``expression`` says where."""

    def __init__(self, code: str, expression: str, diagnostics: str) -> None:
        super().__init__(diagnostics, where=expression)
        self.code = code
        self.expression = expression
        self.diagnostics = diagnostics


def warm_up() -> None:
    """Import the FHIR models now, so that the first request does not pay for it (~0.5 s)."""
    import fhir.resources.R4B.coverageeligibilityrequest
    import fhir.resources.R4B.coverageeligibilityresponse
    import fhir.resources.R4B.operationoutcome  # noqa: F401


def operation_outcome(code: str, diagnostics: str, expression: str | None = None) -> str:
    """An ``OperationOutcome`` with one error issue, as FHIR JSON text."""
    from fhir.resources.R4B.operationoutcome import OperationOutcome

    issue: dict[str, Any] = {"severity": "error", "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = [expression]
    document = {"resourceType": "OperationOutcome", "issue": [issue]}
    outcome = OperationOutcome.model_validate(document)
    return str(outcome.model_dump_json(exclude_none=True))


def parse_request(body: bytes) -> tuple[Any, str, dt.date]:
    """Validate a request; return it, the IIN and the day asked about.

    Raises :class:`FhirRequestError` saying which element is wrong.
    """
    from fhir.resources.R4B.coverageeligibilityrequest import CoverageEligibilityRequest

    try:
        request = CoverageEligibilityRequest.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        location = ".".join(str(part) for part in first["loc"])
        path = "CoverageEligibilityRequest" + (f".{location}" if location else "")
        raise FhirRequestError(
            "structure", path, f"not a valid R4 CoverageEligibilityRequest: {first['msg']}"
        ) from None
    except ValueError as exc:
        raise FhirRequestError("structure", "CoverageEligibilityRequest", str(exc)) from None
    identifier = request.patient.identifier if request.patient is not None else None
    where = "CoverageEligibilityRequest.patient.identifier"
    if identifier is None or not identifier.value:
        raise FhirRequestError(
            "required", where, f"identify the patient by an identifier with system {IIN_SYSTEM}"
        )
    if identifier.system not in (None, IIN_SYSTEM):
        raise FhirRequestError(
            "not-supported",
            f"{where}.system",
            f"identifier system {identifier.system!r} is not supported: use {IIN_SYSTEM}",
        )
    day: dt.date | dt.datetime | None
    if request.servicedDate is not None:
        day = request.servicedDate
    elif request.servicedPeriod is not None and request.servicedPeriod.start is not None:
        day = request.servicedPeriod.start
    else:
        day = request.created
    if isinstance(day, dt.datetime):
        day = day.date()
    if day is None:
        raise FhirRequestError("required", "CoverageEligibilityRequest.created", "no date given")
    return request, str(identifier.value), day


def input_outcome(error: EligibilityInputError) -> str:
    """The ``OperationOutcome`` of an invalid IIN or date."""
    expression = (
        "CoverageEligibilityRequest.patient.identifier.value"
        if error.field == "iin"
        else "CoverageEligibilityRequest.serviced"
    )
    diagnostics = f"{error.field} {error.value!r}: {error.reason}"
    return operation_outcome("invalid", diagnostics, expression)


def eligibility_response(request: Any, answer: Eligibility, *, minimal: bool = False) -> str:
    """The ``CoverageEligibilityResponse`` for a person, as FHIR JSON text.

    ``minimal`` (a provider's answer): in force or not, and until when; no basis, category,
    payments or reason. A person not in the register is then answered as not insured.
    """
    from fhir.resources.R4B.coverageeligibilityresponse import CoverageEligibilityResponse

    if request.id:
        request_reference: dict[str, Any] = {
            "reference": f"CoverageEligibilityRequest/{request.id}"
        }
    elif request.identifier:
        first = request.identifier[0]
        request_reference = {
            "identifier": first.model_dump(mode="json", exclude_none=True),
            "display": "the submitted CoverageEligibilityRequest",
        }
    else:
        request_reference = {"display": "the submitted CoverageEligibilityRequest"}
    # the day status starts in the month (birth, a category's start, a prepayment) is not told
    # to a provider: it would reveal the basis
    start = (None if minimal else answer.valid_from) or answer.on.replace(day=1)
    benefit_period: dict[str, str] = {"start": start.isoformat()}
    if answer.valid_until is not None:
        benefit_period["end"] = answer.valid_until.isoformat()
    item: dict[str, Any] = {
        "category": {"text": "MSHI benefit package (МӘМС)"},
        "excluded": not answer.insured,
    }
    if not minimal:
        item["description"] = answer.reason[:1000]
    insurance: dict[str, Any] = {
        "coverage": {"display": "MSHI" if minimal else f"MSHI status: {answer.basis or 'none'}"},
        "inforce": answer.insured,
        "item": [item],
    }
    if answer.insured:
        insurance["benefitPeriod"] = benefit_period
    if minimal:
        disposition = answer.verdict
    else:
        disposition = f"{answer.verdict}: {answer.reason}"
        if answer.change:
            disposition += f". {answer.change_sentence()}"
    response = CoverageEligibilityResponse.model_validate(
        {
            "resourceType": "CoverageEligibilityResponse",
            "status": "active",
            "purpose": ["validation"],
            "patient": {"identifier": {"system": IIN_SYSTEM, "value": answer.iin}},
            "servicedDate": answer.on.isoformat(),
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "request": request_reference,
            "outcome": "complete",
            "disposition": disposition,
            "insurer": {"display": INSURER_DISPLAY},
            "insurance": [insurance],
        }
    )
    return str(response.model_dump_json(exclude_none=True))


def not_found_outcome(answer: Eligibility) -> str:
    assert answer.outcome is Outcome.UNKNOWN_PERSON
    return operation_outcome(
        "not-found",
        f"no person with IIN {answer.iin} in the register",
        "CoverageEligibilityRequest.patient.identifier.value",
    )
