"""Access control over HTTP: declared permissions, the role x route matrix, tokens, minimal
answers for providers, rate limits, the audit, and IIN masking in the live server's logs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from fhir.resources.R4B.coverageeligibilityresponse import CoverageEligibilityResponse
from joserfc import jwt
from joserfc.jwk import ECKey
from sqlalchemy import Engine, text

from prudential_filing_samples import BIN_A, BIN_B, report
from saqta.access import (
    DEFAULT_GRANTS,
    AccessConfigError,
    AccessControl,
    AccessSettings,
    Identity,
    Permission,
    Role,
    add_client,
    add_user,
    load_grants,
    query_audit,
    set_client_disabled,
)
from saqta.api.app import create_app, create_asgi
from saqta.api.security import declared_permission, documentation_routes
from saqta.core.errors import StoreError
from saqta.mshi.eligibility import build_index, default_index_root
from saqta.prudential.filings import file_version
from saqta.store.db import session_scope
from test_api_eligibility import _free_port, bearer, fhir_request, make_access
from test_mshi_eligibility import SampleLake

PROVIDER_BIN = "123456789012"
IDENTITIES = {
    role: Identity("user", role.value, role, BIN_A if role.scoped else None) for role in Role
}


@pytest.fixture
def sample(tmp_path: Path) -> SampleLake:
    lake = SampleLake(tmp_path / "lake").write()
    build_index(lake.root)
    return lake


@pytest.fixture
def control(engine: Engine, tmp_path: Path):
    access = make_access(engine, tmp_path)
    try:
        yield access
    finally:
        access.close()


@pytest.fixture
def app(sample: SampleLake, control: AccessControl):
    return create_app(default_index_root(sample.root), control)


def test_every_route_declares_a_permission(app) -> None:
    undeclared = []
    for route in app.routes:
        if isinstance(route, APIRoute):
            calls = [dep.call for dep in route.dependant.dependencies]
            permission = declared_permission(calls)
            documented = (route.openapi_extra or {}).get("x-permission")
            if permission is None or documented != permission:
                undeclared.append(route.path)
        elif getattr(route, "path", None) not in documentation_routes(app):
            undeclared.append(getattr(route, "path", repr(route)))
    assert undeclared == []


def test_seeded_grants_are_the_defaults(engine: Engine) -> None:
    grants = load_grants(engine)
    assert grants.by_permission == {p.value: roles for p, roles in DEFAULT_GRANTS.items()}
    for permission in Permission:  # every permission is granted to someone, and only by rows
        assert permission.value in grants.by_permission


def _requests(sample: SampleLake) -> dict[str, tuple[str, str, dict | None, Permission | None]]:
    body = {"iin": sample.pensioner, "date": "2022-02-14"}
    return {
        "eligibility_post": ("POST", "/v1/eligibility", body, Permission.ELIGIBILITY_CHECK),
        "eligibility_get": (
            "GET",
            f"/v1/eligibility/{sample.pensioner}?date=2022-02-14",
            None,
            Permission.ELIGIBILITY_CHECK,
        ),
        "fhir": (
            "POST",
            "/fhir/CoverageEligibilityRequest/$check",
            fhir_request(sample.pensioner),
            Permission.ELIGIBILITY_CHECK,
        ),
        "filings": ("GET", "/v1/prudential/filings", None, Permission.FILINGS_READ),
        "audit": ("POST", "/v1/audit/query", {"iin": sample.pensioner}, Permission.AUDIT_READ),
        "health": ("GET", "/health", None, None),
    }


@pytest.mark.parametrize("kind", ["fastapi", "fast-path"])
def test_role_by_route_matrix(sample, control, kind) -> None:
    make = create_app if kind == "fastapi" else create_asgi
    client = TestClient(make(default_index_root(sample.root), control))
    routes = (
        {r.path for r in client.app.routes if isinstance(r, APIRoute)}
        if kind == "fastapi"
        else set()
    )
    for name, (method, path, body, permission) in _requests(sample).items():
        anonymous = client.request(method, path, json=body)
        expected_anonymous = 200 if permission is None else 401
        assert anonymous.status_code == expected_anonymous, (name, anonymous.text)
        for role, identity in IDENTITIES.items():
            got = client.request(method, path, json=body, headers=bearer(control, identity))
            allowed = permission is None or role in DEFAULT_GRANTS[permission]
            assert got.status_code == (200 if allowed else 403), (name, role, got.text)
    if kind == "fastapi":  # the matrix covers every data route of the application
        covered = {path.split("?")[0] for _, path, _, _ in _requests(sample).values()}
        covered.add("/v1/eligibility/{iin}")
        assert routes - covered == {"/v1/prudential/filings/{version_id}", "/oauth/token"}


def test_bad_tokens_are_401(sample, control, tmp_path) -> None:
    client = TestClient(create_asgi(default_index_root(sample.root), control))
    body = {"iin": sample.pensioner, "date": "2022-02-14"}
    other = make_access(control.engine, tmp_path, token_key="z" * 40)
    expired = AccessControl(
        control.engine,
        AccessSettings(home=tmp_path, token_key="k" * 40, token_ttl_seconds=30),
        audit_async=False,
    )
    expired.tokens.clock = lambda: time.time() - 3600
    try:
        for headers in (
            {"Authorization": "Bearer not.a.token"},
            {"Authorization": "Basic abc"},
            bearer(other, IDENTITIES[Role.OPERATOR]),
            bearer(expired, IDENTITIES[Role.OPERATOR]),
        ):
            got = client.post("/v1/eligibility", json=body, headers=headers)
            assert got.status_code == 401, headers
            assert got.headers["www-authenticate"].startswith("Bearer")
    finally:
        other.close()


def test_provider_answer_is_minimal_and_unknown_looks_not_insured(sample, control) -> None:
    provider = Identity("client", "clinic", Role.PROVIDER, PROVIDER_BIN)
    for make in (create_app, create_asgi):
        client = TestClient(make(default_index_root(sample.root), control))
        client.headers.update(bearer(control, provider))
        insured = client.post(
            "/v1/eligibility", json={"iin": sample.employee, "date": "2022-01-31"}
        )
        assert insured.json() == {
            "iin": sample.employee, "date": "2022-01-31", "insured": True,
            "valid_until": "2022-03-31",
        }  # fmt: skip
        dead = client.post("/v1/eligibility", json={"iin": sample.deceased, "date": "2022-02-11"})
        unknown = client.post(
            "/v1/eligibility", json={"iin": sample.stranger, "date": "2022-02-11"}
        )
        assert dead.status_code == unknown.status_code == 200
        assert set(dead.json()) == set(unknown.json()) == {"iin", "date", "insured", "valid_until"}
        assert dead.json()["insured"] is unknown.json()["insured"] is False
        assert dead.json()["valid_until"] is unknown.json()["valid_until"] is None
    fhir_client = TestClient(create_app(default_index_root(sample.root), control))
    fhir_client.headers.update(bearer(control, provider))
    answers = []
    for iin in (sample.deceased, sample.stranger):
        got = fhir_client.post(
            "/fhir/CoverageEligibilityRequest/$check", json=fhir_request(iin, "2022-02-11")
        )
        assert got.status_code == 200
        resource = CoverageEligibilityResponse.model_validate_json(got.content)
        assert resource.disposition == "not insured"
        assert resource.insurance[0].coverage.display == "MSHI"
        assert resource.insurance[0].item[0].description is None
        answers.append(json.loads(got.content)["insurance"])
    assert answers[0] == answers[1]


def test_token_endpoint_grants(sample, control) -> None:
    _, secret = add_client(
        control.engine, "his-7", "Clinic HIS", Role.PROVIDER, scope_bin=PROVIDER_BIN
    )
    add_user(control.engine, "olga", Role.OPERATOR, password="correct horse battery")
    client = TestClient(create_asgi(default_index_root(sample.root), control))
    issued = client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=("his-7", secret)
    )
    assert issued.status_code == 200
    assert issued.headers["cache-control"] == "no-store"
    assert issued.json()["token_type"] == "Bearer"
    token = issued.json()["access_token"]
    assert control.tokens.verify(token) == Identity("client", "his-7", Role.PROVIDER, PROVIDER_BIN)
    wrong = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "his-7", "client_secret": "nope"},
    )
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    staff = client.post(
        "/oauth/token",
        data={"grant_type": "password", "username": "olga", "password": "correct horse battery"},
    )
    assert staff.status_code == 200
    bad = client.post(
        "/oauth/token", data={"grant_type": "password", "username": "olga", "password": "x"}
    )
    nobody = client.post(
        "/oauth/token", data={"grant_type": "password", "username": "nobody", "password": "x"}
    )
    assert bad.json() == nobody.json() == {
        "error": "invalid_grant", "error_description": "wrong username or password",
    }  # fmt: skip
    assert client.post("/oauth/token", data={"grant_type": "implicit"}).status_code == 400
    set_client_disabled(control.engine, "his-7")
    again = client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=("his-7", secret)
    )
    assert again.status_code == 401


def test_rate_limit_is_429_with_retry_after(sample, engine, tmp_path) -> None:
    limited = make_access(engine, tmp_path, rate_limit_client=1.0, rate_limit_burst_seconds=3.0)
    try:
        client = TestClient(create_asgi(default_index_root(sample.root), limited))
        headers = bearer(limited, Identity("client", "busy", Role.PROVIDER, PROVIDER_BIN))
        body = {"iin": sample.pensioner, "date": "2022-02-14"}
        codes = [client.post("/v1/eligibility", json=body, headers=headers) for _ in range(5)]
        assert [c.status_code for c in codes] == [200, 200, 200, 429, 429]
        assert codes[3].headers["retry-after"] == "1"
        # another client has its own bucket
        other = bearer(limited, Identity("client", "calm", Role.PROVIDER, PROVIDER_BIN))
        assert client.post("/v1/eligibility", json=body, headers=other).status_code == 200
    finally:
        limited.close()


def test_audit_records_every_question_and_is_append_only(sample, control) -> None:
    client = TestClient(create_asgi(default_index_root(sample.root), control))
    operator = Identity("user", "olga", Role.OPERATOR)
    provider = Identity("client", "clinic", Role.PROVIDER, PROVIDER_BIN)
    client.post("/v1/eligibility", json={"iin": sample.pensioner, "date": "2022-02-14"},
                headers=bearer(control, operator))  # fmt: skip
    client.post("/v1/eligibility", json={"iin": sample.stranger, "date": "2022-02-14"},
                headers=bearer(control, provider))  # fmt: skip
    client.post("/fhir/CoverageEligibilityRequest/$check", json=fhir_request(sample.pensioner),
                headers=bearer(control, provider))  # fmt: skip
    assert control.writer is not None
    control.writer.flush()
    mine = query_audit(control.engine, iin=sample.pensioner)
    assert [(r.principal, r.interface, r.outcome) for r in mine] == [
        ("client:clinic", "fhir", "insured"),
        ("user:olga", "api", "insured"),
    ]
    stranger = query_audit(control.engine, iin=sample.stranger)
    assert [(r.principal, r.role, r.outcome) for r in stranger] == [
        ("client:clinic", "provider", "unknown_person")
    ]
    admin = bearer(control, Identity("user", "root", Role.ADMIN))
    listed = client.post("/v1/audit/query", json={"iin": sample.pensioner}, headers=admin)
    assert [row["principal"] for row in listed.json()] == ["client:clinic", "user:olga"]
    for statement in ("UPDATE access_audit SET outcome = 'x'", "DELETE FROM access_audit"):
        with pytest.raises(StoreError, match="append-only"), session_scope(control.engine) as s:
            s.execute(text(statement))
    control.writer.flush()
    assert len(query_audit(control.engine)) == 4  # the audit query is audited too


def test_branch_officer_sees_only_its_branch_regulator_all(sample, control) -> None:
    t0 = datetime(2025, 2, 5, 10, 0, tzinfo=UTC)
    with session_scope(control.engine) as session:
        a = file_version(session, report(bin_=BIN_A), filed_at=t0).version.id
        b = file_version(session, report(bin_=BIN_B), filed_at=t0).version.id
    client = TestClient(create_app(default_index_root(sample.root), control))
    officer_a = bearer(control, Identity("user", "aigul", Role.BRANCH_OFFICER, BIN_A))
    regulator = bearer(control, Identity("user", "arfr", Role.REGULATOR))
    own = client.get("/v1/prudential/filings", headers=officer_a).json()
    assert [row["branch"] for row in own] == [BIN_A]
    assert (
        client.get(f"/v1/prudential/filings?branch={BIN_B}", headers=officer_a).status_code == 403
    )
    assert client.get(f"/v1/prudential/filings/{a}", headers=officer_a).status_code == 200
    assert client.get(f"/v1/prudential/filings/{b}", headers=officer_a).status_code == 404
    every = client.get("/v1/prudential/filings", headers=regulator).json()
    assert sorted(row["branch"] for row in every) == sorted([BIN_A, BIN_B])
    detail = client.get(f"/v1/prudential/filings/{b}", headers=regulator).json()
    assert detail["branch"] == BIN_B and detail["payload"]["branch"]["bin"] == BIN_B


def test_oidc_tokens_of_the_fund_map_to_a_saqta_user(sample, engine, tmp_path) -> None:
    add_user(engine, "dana", Role.EXPERT, password=None)
    fund_key = ECKey.generate_key("P-256", parameters={"kid": "fund-1"})
    jwks = json.dumps({"keys": [fund_key.as_dict(private=False)]})
    access = make_access(
        engine, tmp_path, oidc_issuer="https://idp.fund.kz", oidc_jwks=jwks, oidc_audience="saqta"
    )
    now = int(time.time())

    def oidc_token(key: ECKey = fund_key, **claims: object) -> dict[str, str]:
        payload = {"iss": "https://idp.fund.kz", "aud": "saqta", "exp": now + 300, "iat": now,
                   "preferred_username": "dana", **claims}  # fmt: skip
        token = jwt.encode({"alg": "ES256", "kid": "fund-1"}, payload, key)
        return {"Authorization": f"Bearer {token}"}

    try:
        client = TestClient(create_asgi(default_index_root(sample.root), access))
        body = {"iin": sample.pensioner, "date": "2022-02-14"}
        ok = client.post("/v1/eligibility", json=body, headers=oidc_token())
        assert ok.status_code == 200 and ok.json()["category"] == "pensioner"
        forged = oidc_token(ECKey.generate_key("P-256", parameters={"kid": "fund-1"}))
        assert client.post("/v1/eligibility", json=body, headers=forged).status_code == 401
        late = oidc_token(exp=now - 600)
        assert client.post("/v1/eligibility", json=body, headers=late).status_code == 401
        stranger = oidc_token(preferred_username="mallory")
        assert client.post("/v1/eligibility", json=body, headers=stranger).status_code == 401
        elsewhere = oidc_token(aud="another-app")
        assert client.post("/v1/eligibility", json=body, headers=elsewhere).status_code == 401
    finally:
        access.close()


def test_production_needs_a_key_and_development_makes_one_0600(engine, tmp_path) -> None:
    with pytest.raises(AccessConfigError, match="no token key"):
        AccessControl(engine, AccessSettings(environment="production", home=tmp_path))
    dev = AccessControl(engine, AccessSettings(home=tmp_path / "home"), audit_async=False)
    key = tmp_path / "home" / "token.key"
    assert key.stat().st_mode & 0o777 == 0o600
    again = AccessControl(engine, AccessSettings(home=tmp_path / "home"), audit_async=False)
    token = dev.tokens.issue(IDENTITIES[Role.OPERATOR]).access_token
    assert again.tokens.verify(token) == IDENTITIES[Role.OPERATOR]
    with pytest.raises(AccessConfigError, match="at least 32 bytes"):
        AccessControl(engine, AccessSettings(home=tmp_path, token_key="short"))
    key.chmod(0o644)
    with pytest.raises(AccessConfigError, match="readable by others"):
        AccessControl(engine, AccessSettings(home=tmp_path, token_key_file=key))


def test_live_server_logs_never_show_an_iin(sample, tmp_path) -> None:
    """uvicorn's access log and Saqta's own log lines, captured from ``saqta serve``."""
    from saqta.store.db import make_engine, upgrade

    database = f"sqlite:///{tmp_path / 'home' / 'saqta.db'}"
    engine = make_engine(database)
    upgrade(engine)
    _, secret = add_client(engine, "his-1", "HIS", Role.PROVIDER, scope_bin=PROVIDER_BIN)
    port = _free_port()
    env = {**os.environ, "SAQTA_HOME": str(tmp_path / "home"), "SAQTA_DATABASE_URL": database}
    server = subprocess.Popen(
        [sys.executable, "-m", "saqta", "serve", "--port", str(port), "--access-log",
         "--index", str(default_index_root(sample.root))],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/health", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        token = httpx.post(
            f"{url}/oauth/token", data={"grant_type": "client_credentials"}, auth=("his-1", secret)
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{url}/v1/eligibility/{sample.pensioner}?date=2022-02-14",
                         headers=headers).status_code == 200  # fmt: skip
        assert httpx.get(f"{url}/v1/eligibility/{sample.stranger}").status_code == 401
        assert httpx.get(f"{url}/nothing/{sample.deceased}").status_code == 404
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=20)
    engine.dispose()
    assert "GET /v1/eligibility/" in output  # the access log was on
    for iin in (sample.pensioner, sample.stranger, sample.deceased):
        assert iin not in output
        assert f"{iin[:4]}******{iin[-2:]}" in output
