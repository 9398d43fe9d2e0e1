"""The OpenAPI schema against the live server, with Schemathesis.

``saqta serve`` runs as a process on a loopback port; Schemathesis reads its ``/openapi.json``,
generates requests from it and checks every answer:

- requests that satisfy the schema (positive data): no 5xx; an answer the schema documents, with
  the documented content type and body; and accepted: 2xx, or one of the refusals about the data
  rather than the request's form (404 a person not in the register, 422 a month the index lacks).
  A 400 for a request the schema allows means the schema is looser than the server.
- requests that break the schema (negative data): no 5xx.

IINs have the custom format ``kz-iin`` (``saqta.api.schemas``); generated ones are real IINs made
by ``saqta.core.iin.make_iin``. The sample index holds a few persons, so most generated IINs are
unknown (404); the schema's examples and the tests below reach the 200 answers.

Credentials: every request carries the headers of the ``api_headers`` fixture, a bearer token
of a contact-centre operator (full answers: 404 for a person not in the register). The
operations that role may not call (prudential filings, the audit log) and the token endpoint,
whose generated credentials are wrong by construction, are checked for no 5xx only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, BaseSchema, Case, GenerationMode
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from saqta.access import Role, add_client
from saqta.api.fhir import FHIR_JSON, IIN_SYSTEM
from saqta.api.schemas import IIN_FORMAT, IIN_PATTERN
from saqta.core.iin import Sex, make_iin
from saqta.mshi.eligibility import build_index, default_index_root
from saqta.store.db import make_engine, upgrade
from server_support import live_server
from test_mshi_eligibility import SampleLake

FHIR_PATH = "/fhir/CoverageEligibilityRequest/$check"
EXERCISED = {
    "GET /v1/eligibility/{iin}",
    "POST /v1/eligibility",
    f"POST {FHIR_PATH}",
    "GET /health",
}
"""The operations the operator's token may call: every check applies to them."""

ACCEPTED = ["2xx", "404", "422"]
"""What a request that satisfies the schema may get (see the module docstring)."""

POSITIVE_CHECKS: list[CheckFunction] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    positive_data_acceptance,
]
NEGATIVE_CHECKS: list[CheckFunction] = [not_a_server_error]

EXAMPLES_PER_OPERATION = 60
"""Generated requests per operation and generation mode (the whole module takes ~30 s)."""


def _iins() -> st.SearchStrategy[str]:
    """Valid IINs: a birth date up to today, a sex and a serial, with their check digit."""
    return st.builds(
        make_iin,
        st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date.today()),
        st.sampled_from(Sex),
        st.integers(min_value=0, max_value=9999),
    ).filter(lambda iin: iin is not None)


schemathesis.openapi.format(IIN_FORMAT, _iins())


@pytest.fixture(scope="module")
def sample_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, SampleLake]]:
    folder = tmp_path_factory.mktemp("schema-server")
    lake = SampleLake(folder / "lake").write()
    build_index(lake.root)
    home = folder / "home"
    database = f"sqlite:///{home / 'saqta.db'}"
    engine = make_engine(database)
    upgrade(engine)
    _, secret = add_client(engine, "schema-check", "Schemathesis", Role.OPERATOR)
    engine.dispose()
    settings = {"SAQTA_DATABASE_URL": database, "SAQTA_RATE_LIMIT_CLIENT": "100000"}
    with live_server(default_index_root(lake.root), home, env=settings) as live:
        token = httpx.post(
            f"{live.url}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=("schema-check", secret),
        ).json()["access_token"]
        _TOKENS[live.url] = token
        yield live.url, lake


_TOKENS: dict[str, str] = {}


@pytest.fixture(scope="module")
def api_headers(sample_server: tuple[str, SampleLake]) -> dict[str, str]:
    """The headers every generated request carries: an operator's bearer token."""
    return {"Authorization": f"Bearer {_TOKENS[sample_server[0]]}"}


@pytest.fixture(scope="module")
def api_schema(sample_server: tuple[str, SampleLake], api_headers: dict[str, str]) -> BaseSchema:
    url, _ = sample_server
    config = schemathesis.Config.from_dict(
        {
            "generation": {
                "mode": "all",
                "max-examples": EXAMPLES_PER_OPERATION,
                "database": "none",
            },
            "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED}},
        }
    )
    schema = schemathesis.openapi.from_url(
        f"{url}/openapi.json", config=config, headers=api_headers, timeout=10
    )
    return schema


def _operations(api_schema: BaseSchema) -> list[APIOperation]:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    labels = {operation.label for operation in operations}
    assert labels >= EXERCISED
    return operations


def _has_inputs(operation: APIOperation) -> bool:
    parameters = (operation.path_parameters, operation.query, operation.headers, operation.cookies)
    return any(len(values) > 0 for values in parameters) or len(operation.body) > 0


def _check(
    operation: APIOperation,
    mode: GenerationMode,
    url: str,
    headers: dict[str, str],
    checks: list[CheckFunction],
) -> None:
    """Run ``checks`` on generated requests of one operation."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Case) -> None:
        case.call_and_validate(base_url=url, headers=headers, checks=checks, timeout=10)

    run()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_server_keeps_the_schema(
    api_schema: BaseSchema, sample_server: tuple[str, SampleLake], api_headers: dict[str, str],
    mode: GenerationMode,
) -> None:
    url, _ = sample_server
    for operation in _operations(api_schema):
        if mode is GenerationMode.NEGATIVE and not _has_inputs(operation):
            continue  # nothing to break (GET /health)
        checks = (
            POSITIVE_CHECKS
            if mode is GenerationMode.POSITIVE and operation.label in EXERCISED
            else NEGATIVE_CHECKS
        )

        _check(operation, mode, url, api_headers, checks)


def test_known_persons_get_answers_that_keep_the_schema(
    api_schema: BaseSchema, sample_server: tuple[str, SampleLake], api_headers: dict[str, str]
) -> None:
    """The generated IINs are almost all unknown; these reach the 200 answers of both routes."""
    url, lake = sample_server
    eligibility = api_schema["/v1/eligibility/{iin}"]["GET"]
    fhir = api_schema[FHIR_PATH]["POST"]
    statuses = []
    for iin in (lake.pensioner, lake.employee, lake.deceased, lake.no_status, lake.stranger):
        for day in ("2022-01-31", "2022-02-14", "2022-03-01"):
            for case in (
                eligibility.Case(path_parameters={"iin": iin}, query={"date": day}),
                fhir.Case(
                    body={
                        "resourceType": "CoverageEligibilityRequest",
                        "status": "active",
                        "purpose": ["validation"],
                        "patient": {"identifier": {"system": IIN_SYSTEM, "value": iin}},
                        "created": day,
                        "insurer": {"display": "Fund"},
                    },
                    media_type=FHIR_JSON,
                ),
            ):
                response = case.call_and_validate(
                    base_url=url, headers=api_headers, checks=POSITIVE_CHECKS, timeout=10
                )
                statuses.append(response.status_code)
    assert statuses.count(200) == 24 and statuses.count(404) == 6


def test_the_schema_states_the_iin_pattern_and_the_fhir_body(sample_server) -> None:
    url, _ = sample_server
    document = httpx.get(f"{url}/openapi.json").json()
    (iin,) = [
        parameter
        for parameter in document["paths"]["/v1/eligibility/{iin}"]["get"]["parameters"]
        if parameter["name"] == "iin"
    ]
    assert iin["schema"]["pattern"] == IIN_PATTERN == "^[0-9]{12}$"
    assert iin["schema"]["format"] == IIN_FORMAT
    body = document["paths"][FHIR_PATH]["post"]["requestBody"]
    assert body["required"] is True
    assert set(body["content"]) == {FHIR_JSON, "application/json"}
    for content in body["content"].values():
        request = content["schema"]
        assert request["properties"]["resourceType"] == {"const": "CoverageEligibilityRequest"}
        value = request["properties"]["patient"]["properties"]["identifier"]["properties"]["value"]
        assert value["pattern"] == IIN_PATTERN
