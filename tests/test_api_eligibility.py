"""The eligibility API over real HTTP: FastAPI's TestClient, and ``saqta serve`` as a process."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.coverageeligibilityresponse import CoverageEligibilityResponse
from fhir.resources.R4B.operationoutcome import OperationOutcome

from saqta.access import AccessControl, AccessSettings, Identity, Role
from saqta.api.app import create_app, create_asgi
from saqta.api.fhir import IIN_SYSTEM
from saqta.mshi.eligibility import build_index, default_index_root
from saqta.store.db import make_engine, upgrade
from test_mshi_eligibility import SampleLake

OPERATOR = Identity("user", "olga", Role.OPERATOR)
PROVIDER = Identity("client", "clinic-1", Role.PROVIDER, "123456789012")


@pytest.fixture
def sample(tmp_path: Path) -> SampleLake:
    lake = SampleLake(tmp_path / "lake").write()
    build_index(lake.root)
    return lake


def make_access(engine, home: Path, **settings) -> AccessControl:
    """Access control on ``engine`` with a fixed test key in ``home`` (high rate limits unless
    given)."""
    settings = {
        "rate_limit_user": 100_000.0,
        "rate_limit_client": 100_000.0,
        "token_key": "k" * 40,
        **settings,
    }
    return AccessControl(engine, AccessSettings(home=home, **settings), audit_async=True)


@pytest.fixture
def access(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'access.db'}")
    upgrade(engine)
    control = make_access(engine, tmp_path)
    try:
        yield control
    finally:
        control.close()
        engine.dispose()


def bearer(access: AccessControl, identity: Identity) -> dict[str, str]:
    return {"Authorization": f"Bearer {access.tokens.issue(identity).access_token}"}


@pytest.fixture(params=["fastapi", "fast-path"])
def client(request, sample: SampleLake, access: AccessControl):
    """Every test runs against the FastAPI routes and against what ``saqta serve`` runs, as a
    contact-centre operator (full answers)."""
    make = create_app if request.param == "fastapi" else create_asgi
    with TestClient(make(default_index_root(sample.root), access)) as test_client:
        test_client.headers.update(bearer(access, OPERATOR))
        yield test_client


@pytest.mark.parametrize("who", [OPERATOR, PROVIDER, None])
def test_fast_path_answers_exactly_like_the_route(sample, access, who):
    routes = TestClient(create_app(default_index_root(sample.root), access))
    fast = TestClient(create_asgi(default_index_root(sample.root), access))
    headers = bearer(access, who) if who is not None else {}
    bad = sample.pensioner[:11] + str((int(sample.pensioner[11]) + 1) % 10)
    queries = [
        f"/v1/eligibility/{iin}?date={day}"
        for iin in (sample.pensioner, sample.employee, sample.deceased, sample.stranger, bad, "x")
        for day in ("2022-01-31", "2022-03-01", "2022-02-30", "2023-01-01", "")
    ] + [f"/v1/eligibility/{sample.pensioner}?date=2022-01-01&date=2022-02-01"]
    for query in queries:
        expected, got = routes.get(query, headers=headers), fast.get(query, headers=headers)
        assert (got.status_code, got.content) == (expected.status_code, expected.content), query
        assert got.headers["content-type"] == expected.headers["content-type"]
        assert got.headers.get("www-authenticate") == expected.headers.get("www-authenticate")
        if who is not None:
            assert got.headers["deprecation"] == expected.headers["deprecation"] == "true"
    bodies: list[bytes] = [
        b'{"iin": "%s", "date": "2022-01-31"}' % iin.encode()
        for iin in (sample.pensioner, sample.deceased, sample.stranger, bad)
    ] + [b"{not json", b"[]", b'{"iin": 900101300017}', b'{"iin": "x", "date": 5}']
    for body in bodies:
        expected = routes.post("/v1/eligibility", content=body, headers=headers)
        got = fast.post("/v1/eligibility", content=body, headers=headers)
        assert (got.status_code, got.content) == (expected.status_code, expected.content), body
        assert "deprecation" not in got.headers


def fhir_request(iin: str, day: str | None = "2022-02-14", **extra) -> dict:
    body = {
        "resourceType": "CoverageEligibilityRequest",
        "id": "req-1",
        "status": "active",
        "purpose": ["validation"],
        "patient": {"identifier": {"system": IIN_SYSTEM, "value": iin}},
        "created": "2022-02-14",
        "insurer": {"display": "Social Health Insurance Fund"},
    }
    if day is not None:
        body["servicedDate"] = day
    body.update(extra)
    return body


def test_insured_by_category(client, sample):
    response = client.get(f"/v1/eligibility/{sample.pensioner}", params={"date": "2022-02-14"})
    assert response.status_code == 200
    body = response.json()
    assert body["insured"] is True
    assert body["outcome"] == "insured"
    assert (body["basis"], body["category"], body["valid_until"]) == (
        "state_category",
        "pensioner",
        None,
    )
    assert body["month"] == "2022-02"
    assert body["run_id"] == 1


def test_insured_by_payments_with_valid_until(client, sample):
    body = client.get(f"/v1/eligibility/{sample.employee}?date=2022-01-31").json()
    assert body["insured"] is True
    assert body["payment_type"] == "employer_deduction"
    assert body["paid_months"] == 9
    assert body["last_paid_period"] == "2021-12"
    assert body["valid_until"] == "2022-03-31"


def test_not_insured_and_deceased(client, sample):
    lapsed = client.get(f"/v1/eligibility/{sample.employee}?date=2022-03-01").json()
    assert (lapsed["insured"], lapsed["outcome"], lapsed["basis"]) == (False, "not_insured", "none")
    assert lapsed["change"] == (
        "a payment for 2022-02 would restore entitlement; a self-payer's prepayment of 12 "
        "months ahead would give status at once, from the day of payment"
    )
    assert (lapsed["change_code"], lapsed["reason_code"], lapsed["lang"]) == (
        "restore_one",
        "none",
        "en",
    )
    dead = client.get(f"/v1/eligibility/{sample.deceased}?date=2022-02-11")
    assert dead.status_code == 200
    assert dead.json()["basis"] == "deceased"
    assert dead.json()["death_date"] == "2022-02-10"


def test_unknown_person_is_404(client, sample):
    response = client.get(f"/v1/eligibility/{sample.stranger}?date=2022-02-14")
    assert response.status_code == 404
    body = response.json()
    assert body["error"] == "unknown_person"
    assert body["problems"] == [
        {"field": "iin", "value": sample.stranger, "reason": "the IIN is not in the register"}
    ]


def test_invalid_checksum_is_400_naming_the_field(client, sample):
    bad = sample.pensioner[:11] + str((int(sample.pensioner[11]) + 1) % 10)
    response = client.get(f"/v1/eligibility/{bad}?date=2022-02-14")
    assert response.status_code == 400
    problem = response.json()["problems"][0]
    assert problem["field"] == "iin"
    assert problem["value"] == bad
    assert problem["reason"].startswith("check digit is")


def test_bad_date_and_date_outside_the_index(client, sample):
    malformed = client.get(f"/v1/eligibility/{sample.pensioner}?date=14.02.2022")
    assert malformed.status_code == 400
    assert malformed.json()["problems"][0] == {
        "field": "date",
        "value": "14.02.2022",
        "reason": "expected an ISO date YYYY-MM-DD",
    }
    outside = client.get(f"/v1/eligibility/{sample.pensioner}?date=2023-01-01")
    assert outside.status_code == 422
    assert outside.json()["error"] == "date_not_covered"
    assert "the index covers 2022-01 to 2022-03" in outside.json()["problems"][0]["reason"]


def test_without_a_date_today_is_asked(client, sample):
    # Today is outside the sample's 2022 months: the answer says so for today's date.
    response = client.get(f"/v1/eligibility/{sample.pensioner}")
    assert response.status_code == 422
    today = response.json()["problems"][0]["value"]
    assert abs((dt.date.fromisoformat(today) - dt.date.today()).days) <= 1


def test_health_gives_provenance(client):
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["index"]["months"] == ["2022-01", "2022-02", "2022-03"]
    assert body["index"]["persons"] == 9
    assert [run["run_id"] for run in body["index"]["runs"]] == [1, 2]


def test_openapi_and_docs_are_published(client):
    schema = client.get("/openapi.json").json()
    assert "/v1/eligibility/{iin}" in schema["paths"]
    assert "/fhir/CoverageEligibilityRequest/$check" in schema["paths"]
    responses = schema["paths"]["/v1/eligibility/{iin}"]["get"]["responses"]
    assert {"200", "400", "404", "422"} <= set(responses)
    assert client.get("/docs").status_code == 200


def test_fhir_insured(client, sample):
    response = client.post(
        "/fhir/CoverageEligibilityRequest/$check",
        json=fhir_request(sample.employee, "2022-02-14"),
        headers={"content-type": "application/fhir+json"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    resource = CoverageEligibilityResponse.model_validate_json(response.content)
    assert resource.outcome == "complete"
    assert resource.request.reference == "CoverageEligibilityRequest/req-1"
    assert resource.patient.identifier.value == sample.employee
    assert resource.servicedDate == dt.date(2022, 2, 14)
    insurance = resource.insurance[0]
    assert insurance.inforce is True
    assert insurance.benefitPeriod.end == dt.date(2022, 3, 31)
    assert insurance.item[0].excluded is False
    assert "employer deductions" in resource.disposition


def test_fhir_not_insured_uses_the_period_start(client, sample):
    body = fhir_request(
        sample.student, None, servicedPeriod={"start": "2022-02-16", "end": "2022-02-20"}
    )
    response = client.post("/fhir/CoverageEligibilityRequest/$check", json=body)
    assert response.status_code == 200
    resource = CoverageEligibilityResponse.model_validate_json(response.content)
    assert resource.insurance[0].inforce is False
    assert resource.disposition.startswith("not insured: entitlement ended on 2022-02-15")


def test_fhir_unknown_person_is_404_operation_outcome(client, sample):
    response = client.post(
        "/fhir/CoverageEligibilityRequest/$check", json=fhir_request(sample.stranger)
    )
    assert response.status_code == 404
    outcome = OperationOutcome.model_validate_json(response.content)
    assert outcome.issue[0].code == "not-found"
    assert outcome.issue[0].expression == ["CoverageEligibilityRequest.patient.identifier.value"]


def test_fhir_invalid_requests_are_400_operation_outcomes(client, sample):
    bad_iin = sample.pensioner[:11] + str((int(sample.pensioner[11]) + 1) % 10)
    checks = [
        (fhir_request(bad_iin), "invalid", "check digit"),
        ({"resourceType": "CoverageEligibilityRequest", "status": "active"}, "structure", ""),
        (
            fhir_request(sample.pensioner) | {"patient": {"reference": "Patient/1"}},
            "required",
            IIN_SYSTEM,
        ),
        (
            fhir_request(sample.pensioner)
            | {"patient": {"identifier": {"system": "urn:other", "value": sample.pensioner}}},
            "not-supported",
            "urn:other",
        ),
    ]
    for body, code, words in checks:
        response = client.post("/fhir/CoverageEligibilityRequest/$check", json=body)
        assert response.status_code == 400, body
        outcome = OperationOutcome.model_validate_json(response.content)
        assert outcome.issue[0].code == code
        assert words in outcome.issue[0].diagnostics
    broken = client.post("/fhir/CoverageEligibilityRequest/$check", content=b"{not json")
    assert broken.status_code == 400
    assert OperationOutcome.model_validate_json(broken.content).issue[0].code == "structure"
    outside = client.post(
        "/fhir/CoverageEligibilityRequest/$check", json=fhir_request(sample.pensioner, "2021-06-01")
    )
    assert outside.status_code == 422
    assert OperationOutcome.model_validate_json(outside.content).issue[0].code == "invalid"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("workers", [1, 2])
def test_saqta_serve_answers_over_loopback(sample, tmp_path, workers):
    from saqta.access import add_client, query_audit

    port = _free_port()
    database = f"sqlite:///{tmp_path / 'home' / 'saqta.db'}"
    engine = make_engine(database)
    upgrade(engine)
    _, secret = add_client(engine, "his-1", "A hospital system", Role.OPERATOR)
    env = {
        **os.environ,
        "SAQTA_HOME": str(tmp_path / "home"),
        "SAQTA_DATABASE_URL": database,
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "saqta",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--index",
            str(default_index_root(sample.root)),
            "--workers",
            str(workers),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while True:
            try:
                health = httpx.get(f"{url}/health", timeout=2)
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    server.kill()  # workers hold stderr open: never wait on them
                    pytest.fail(f"saqta serve did not start: {server.communicate(timeout=30)[1]}")
                time.sleep(0.1)
        assert health.json()["index"]["persons"] == 9
        with httpx.Client(base_url=url) as http:
            assert http.get(f"/v1/eligibility/{sample.prepaid}").status_code == 401
            token = http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=("his-1", secret),
            )
            assert token.status_code == 200, token.text
            http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
            insured = http.get(f"/v1/eligibility/{sample.prepaid}", params={"date": "2022-03-31"})
            assert insured.status_code == 200
            assert insured.json()["basis"] == "prepayment"
            assert http.get(f"/v1/eligibility/{sample.stranger}?date=2022-03-01").status_code == 404
            assert http.get("/v1/eligibility/123?date=2022-03-01").status_code == 400
            fhir = http.post(
                "/fhir/CoverageEligibilityRequest/$check", json=fhir_request(sample.pensioner)
            )
            assert (
                CoverageEligibilityResponse.model_validate_json(fhir.content).insurance[0].inforce
            )
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=60)
    assert "eligibility index" in errors
    # A clean shutdown wrote every queued audit record (the FHIR check audits the pensioner).
    audited = query_audit(engine)
    assert len(audited) == 4
    assert {r.subject_iin for r in audited} == {
        sample.prepaid,
        sample.stranger,
        sample.pensioner,
        None,  # "123" is no IIN: not kept
    }
    engine.dispose()


def test_the_answer_speaks_the_language_asked(client, sample):
    """Accept-Language picks Kazakh, Russian or English (weights as in HTTP); codes stay."""
    url = f"/v1/eligibility/{sample.employee}?date=2022-03-01"
    english = client.get(url)
    assert english.headers["content-language"] == "en"
    kazakh = client.get(url, headers={"Accept-Language": "kk-KZ, ru;q=0.8"})
    assert kazakh.headers["content-language"] == "kk"
    assert kazakh.json()["lang"] == "kk"
    assert kazakh.json()["change"].startswith("2022-02 үшін төлем құқықты қалпына келтірер еді")
    russian = client.get(url, headers={"Accept-Language": "kk;q=0.5, ru"})
    assert russian.json()["change"].startswith("платёж за 2022-02 восстановил бы право")
    assert russian.json()["change_code"] == english.json()["change_code"] == "restore_one"
    other = client.get(url, headers={"Accept-Language": "de, fr;q=0.9"})
    assert other.json()["lang"] == "en"
    insured = client.get(
        f"/v1/eligibility/{sample.pensioner}?date=2022-02-14", headers={"Accept-Language": "ru"}
    ).json()
    assert insured["reason"] == (
        "за лицо платит государство как за льготную категорию («пенсионер»)"
    )
    body = fhir_request(sample.pensioner, "2022-02-14")
    response = client.post(
        "/fhir/CoverageEligibilityRequest/$check", json=body, headers={"Accept-Language": "kk"}
    )
    resource = CoverageEligibilityResponse.model_validate_json(response.content)
    assert resource.disposition.startswith("МӘМС жүйесінде сақтандырылған: ")
    posted = client.post(
        "/v1/eligibility",
        json={"iin": sample.employee, "date": "2022-03-01"},
        headers={"Accept-Language": "ru"},
    )
    assert posted.headers["content-language"] == "ru"
    assert posted.json()["change"].startswith("платёж за 2022-02 восстановил бы право")
