"""Refunds: request → check → approve or refuse → paid, every step recorded, paid ones in the
lake as outflows."""

from __future__ import annotations

import datetime as dt
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from saqta.core.errors import InputError
from saqta.mshi.contributions import import_payments
from saqta.mshi.contributions._refunds import (
    approve_refund,
    check_refund,
    list_refunds,
    pay_refund,
    refund_history,
    refuse_refund,
    request_refund,
)
from saqta.mshi.models import RefundStatus
from saqta.store.lake import FactsLake

sys.path.insert(0, str(Path(__file__).parent))
from test_mshi_ingest import (
    ALICE,
    BOLAT,
    PAYMENT_HEADER,
    TODAY,
    load_register,
    payment,
    write_csv,
)


@pytest.fixture
def paid_lake(engine: Engine, tmp_path: Path) -> FactsLake:
    lake = FactsLake(tmp_path / "lake")
    load_register(engine, lake, tmp_path)
    rows = [payment("F1", amount="5478.30"), payment("F2", person=BOLAT, amount="100.00")]
    path = write_csv(tmp_path / "payments.csv", PAYMENT_HEADER, rows)
    assert import_payments(engine, lake, path, today=TODAY).accepted == 2
    return lake


def test_a_refund_goes_through_its_lifecycle_and_is_paid_into_the_lake(
    engine: Engine, paid_lake: FactsLake
) -> None:
    refund = request_refund(engine, paid_lake, "F1", "2000.00", "paid twice", "operator-a")
    assert (refund.status, refund.amount, refund.person_iin) == (
        RefundStatus.REQUESTED,
        Decimal("2000.00"),
        ALICE,
    )
    assert refund.period == dt.date(2022, 3, 1)
    check_refund(engine, refund.id, "expert-b", note="matches the bank statement")
    with pytest.raises(InputError, match="operator-a requested or checked this refund"):
        approve_refund(engine, refund.id, "operator-a")
    with pytest.raises(InputError, match="expert-b requested or checked"):
        approve_refund(engine, refund.id, "expert-b")
    approve_refund(engine, refund.id, "head-c")
    paid = pay_refund(engine, paid_lake, refund.id, "cashier-d", paid_on=dt.date(2022, 6, 1))
    assert paid.status is RefundStatus.PAID and paid.paid_on == dt.date(2022, 6, 1)
    outflows = paid_lake.query("SELECT * FROM payment_outflows").to_pylist()
    assert outflows == [
        {
            "refund_id": refund.id,
            "reference": "F1",
            "person_iin": ALICE,
            "period": dt.date(2022, 3, 1),
            "amount": Decimal("2000.00"),
            "paid_on": dt.date(2022, 6, 1),
        }
    ]
    _, events = refund_history(engine, refund.id)
    assert [(e.from_status, e.to_status, e.actor) for e in events] == [
        (None, "requested", "operator-a"),
        ("requested", "checked", "expert-b"),
        ("checked", "approved", "head-c"),
        ("approved", "paid", "cashier-d"),
    ]
    assert all(e.at.tzinfo is not None for e in events)
    assert events[-1].lake_transaction is not None
    with pytest.raises(InputError, match="cannot go from paid to paid"):
        pay_refund(engine, paid_lake, refund.id, "cashier-d")
    with pytest.raises(InputError, match=r"cannot go from paid to refused \(allowed: none"):
        refuse_refund(engine, refund.id, "head-c", note="too late")
    assert paid_lake.count("payment_outflows") == 1


def test_illegal_steps_and_over_refunds_are_refused(engine: Engine, paid_lake: FactsLake) -> None:
    first = request_refund(engine, paid_lake, "F1", "5000.00", "wrong person", "operator-a")
    with pytest.raises(InputError, match=r"would total 5478\.31, more than the 5478\.30 paid"):
        request_refund(engine, paid_lake, "F1", "478.31", "again", "operator-a")
    with pytest.raises(InputError, match="cannot go from requested to approved"):
        approve_refund(engine, first.id, "head-c")
    with pytest.raises(InputError, match="only an approved refund is paid"):
        pay_refund(engine, paid_lake, first.id, "cashier-d")
    with pytest.raises(InputError, match="say why"):
        refuse_refund(engine, first.id, "head-c")
    refuse_refund(engine, first.id, "head-c", note="the payment was right")
    # a refused refund no longer counts against the payment
    second = request_refund(engine, paid_lake, "F1", "5478.30", "all of it", "operator-a")
    assert second.status is RefundStatus.REQUESTED
    with pytest.raises(InputError, match="no payment with this reference"):
        request_refund(engine, paid_lake, "NOPE", "1", "x", "operator-a")
    for amount in ("0", "-1", "0.001", "abc"):
        with pytest.raises(InputError):
            request_refund(engine, paid_lake, "F2", amount, "x", "operator-a")
    with pytest.raises(InputError, match="no such refund"):
        check_refund(engine, 999, "expert-b")
    assert [r.status for r in list_refunds(engine)] == [
        RefundStatus.REFUSED,
        RefundStatus.REQUESTED,
    ]
    assert [r.id for r in list_refunds(engine, status="refused")] == [first.id]
    assert "payment_outflows" not in paid_lake.datasets()


def test_the_refund_commands(
    db_url: str, engine: Engine, paid_lake: FactsLake, monkeypatch: pytest.MonkeyPatch
) -> None:
    from access_helpers import sign_in
    from saqta.access import Role
    from saqta.cli.app import app
    from saqta.core.settings import get_settings

    key = "t" * 40
    monkeypatch.setenv("SAQTA_DATABASE_URL", db_url)
    monkeypatch.setenv("SAQTA_LAKE_DIR", str(paid_lake.root))
    monkeypatch.setenv("SAQTA_TOKEN_KEY", key)
    get_settings.cache_clear()
    tokens = {
        name: sign_in(paid_lake.root.parent, db_url, name, role, token_key=key)
        for name, role in [
            ("aida", Role.OPERATOR),
            ("bolat", Role.EXPERT),
            ("chingis", Role.HEAD_EXPERT),
            ("dana", Role.FUND_ANALYST),
        ]
    }
    runner = CliRunner()
    try:
        steps = [
            ("aida", ["request", "--reference", "F2", "--amount", "40", "--reason", "overpaid"]),
            ("bolat", ["check", "1"]),
            ("chingis", ["approve", "1"]),
            ("dana", ["pay", "1", "--paid-on", "2022-07-01"]),
        ]
        outputs = []
        for who, step in steps:
            monkeypatch.setenv("SAQTA_TOKEN", tokens[who])
            result = runner.invoke(app, ["payments", "refund", *step])
            assert result.exit_code == 0, result.output
            outputs.append(result.output.strip())
        assert outputs[0].startswith("refund 1: requested, 40.00 KZT for payment F2")
        assert outputs[-1].startswith("refund 1: paid, 40.00 KZT")
        illegal = runner.invoke(app, ["payments", "refund", "approve", "1"])
        assert illegal.exit_code == 1
        shown = runner.invoke(app, ["payments", "refund", "show", "1"])
        assert "approved -> paid by user:dana" in shown.output
        quarantine = runner.invoke(app, ["payments", "quarantine"])
        assert quarantine.exit_code == 0
        # Four eyes through identities: who checked cannot also approve, an operator cannot
        # approve at all, and nobody acts without signing in.
        monkeypatch.setenv("SAQTA_TOKEN", tokens["bolat"])
        again = runner.invoke(
            app,
            ["payments", "refund", "request", "--reference", "F2", "--amount", "1",
             "--reason", "x"],
        )  # fmt: skip
        assert again.exit_code == 0, again.output
        monkeypatch.setenv("SAQTA_TOKEN", tokens["chingis"])
        assert runner.invoke(app, ["payments", "refund", "check", "2"]).exit_code == 0
        own = runner.invoke(app, ["payments", "refund", "approve", "2"])
        assert own.exit_code == 1 and "user:chingis requested or checked" in own.output
        monkeypatch.setenv("SAQTA_TOKEN", tokens["aida"])
        assert runner.invoke(app, ["payments", "refund", "approve", "2"]).exit_code == 1
        monkeypatch.delenv("SAQTA_TOKEN")
        anonymous = runner.invoke(app, ["payments", "refund", "check", "2"])
        assert anonymous.exit_code == 1 and "sign in first" in anonymous.output
    finally:
        get_settings.cache_clear()
    assert paid_lake.query("SELECT sum(amount) AS s FROM payment_outflows").to_pylist() == [
        {"s": Decimal("40.00")}
    ]
