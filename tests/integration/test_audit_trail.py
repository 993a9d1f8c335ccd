"""Audit rows for the actions that move where money goes or vouch for the books: binding a
merchant's settlement card (done and refused) and an operator's reconciliation run."""

from __future__ import annotations

import random
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.integration import admin_support
from tests.integration.admin_support import create_operator, csrf_of
from tests.integration.gateway_support import Shop, make_buyer
from tests.integration.merchant_portal_support import (
    MERCHANT_PASSWORD,
    portal_shop,
    post_form,
    sign_in,
)

from paybao.adapters.db.tables.wallet import audit_log
from paybao.bootstrap import Platform
from paybao.domain.bills import last_closed_day
from paybao.domain.cards import generate_card_number
from paybao.domain.errors import Retryable

ID_NUMBER = "110101199003071234"
PHONE = "13900000000"


def _rows(platform: Platform, action: str) -> list[Any]:
    with platform.engine.connect() as connection:
        query = select(audit_log).where(audit_log.c.action == action).order_by(audit_log.c.id)
        return list(connection.execute(query).all())


def _card(seed: int) -> str:
    return generate_card_number(random.Random(seed), "ICBC")


def _bind(client: TestClient, card: str, **changes: str) -> Any:
    data = {
        "card_number": card,
        "holder_name": "测试商户",
        "id_number": ID_NUMBER,
        "reserved_phone": PHONE,
        "password": MERCHANT_PASSWORD,
        **changes,
    }
    return post_form(client, "/merchant/settlements", "/merchant/settlements/card", data)


@pytest.fixture
def shop(platform: Platform) -> Shop:
    return portal_shop(platform)  # named 测试商户, the holder on the cards below


def _operator_client(platform: Platform, client: TestClient) -> tuple[int, TestClient]:
    operator_id, secret = create_operator(platform)
    signed_in: Any = admin_support.sign_in(client, secret)
    assert signed_in.status_code == 303
    return operator_id, client


def test_binding_a_settlement_card_writes_an_audit_row_with_the_merchant_and_masked_cards(
    platform: Platform, shop: Shop, client: TestClient
) -> None:
    bank = platform.services["bank"]
    first, second = _card(1), _card(2)
    for card in (first, second):
        bank.open_card(card, "ICBC", "测试商户", ID_NUMBER, PHONE, 0)
    assert sign_in(client, shop.merchant.id).status_code == 303
    assert _bind(client, first).status_code == 200
    assert _bind(client, second).status_code == 200

    rows = _rows(platform, "merchant.settlement_card.bind")
    assert [(r.operator_id, r.actor, r.subject, r.outcome) for r in rows] == [
        (None, f"merchant:{shop.merchant.id}", f"merchant:{shop.merchant.id}", "ok"),
        (None, f"merchant:{shop.merchant.id}", f"merchant:{shop.merchant.id}", "ok"),
    ]
    assert rows[0].detail == f"{first[:4]} **** **** {first[-4:]}"
    assert rows[1].detail == (
        f"{second[:4]} **** **** {second[-4:]} (was {first[:4]} **** **** {first[-4:]})"
    )
    assert all(first not in r.detail and second not in r.detail for r in rows)
    assert rows[0].created_at_us <= rows[1].created_at_us <= platform.clock.now_us()


def test_a_refused_binding_is_audited_with_its_code_and_binds_nothing(
    platform: Platform, shop: Shop, client: TestClient
) -> None:
    card = _card(3)
    platform.services["bank"].open_card(card, "ICBC", "测试商户", ID_NUMBER, PHONE, 0)
    assert sign_in(client, shop.merchant.id).status_code == 303
    wrong_password = _bind(client, card, password="not-the-pass-1")
    assert wrong_password.status_code == 401
    wrong_phone = _bind(client, card, reserved_phone="13911112222")
    assert wrong_phone.status_code == 400
    assert platform.services["settlement"].card_of(shop.merchant.id) is None

    rows = _rows(platform, "merchant.settlement_card.bind")
    refused_by_bank = _error_code(wrong_phone.text)
    assert refused_by_bank != "bad_credentials"
    assert [r.outcome for r in rows] == ["bad_credentials", refused_by_bank]
    assert all(r.actor == f"merchant:{shop.merchant.id}" for r in rows)
    assert rows[0].detail == f"{card[:4]} **** **** {card[-4:]}"


def _error_code(html: str) -> str:
    return html.split('data-code="', 1)[1].split('"', 1)[0]


def test_an_operators_reconciliation_run_is_audited_and_shown_on_the_audit_page(
    platform: Platform, client: TestClient
) -> None:
    operator_id, admin = _operator_client(platform, client)
    make_buyer(platform, balance_fen=12_34)
    day = (last_closed_day(platform.clock.now_us())).isoformat()
    page = admin.get("/admin/reconcile")
    answer = admin.post(
        "/admin/reconcile/run",
        data={"csrf_token": csrf_of(page.text), "day": day},
        follow_redirects=False,
    )
    assert answer.status_code == 303

    (row,) = _rows(platform, "reconcile.run")
    assert (row.operator_id, row.actor, row.subject) == (operator_id, None, f"reconcile:{day}")
    assert (row.outcome, row.detail) == ("clean", "no differences")
    audit_page = admin.get("/admin/audit", headers={"Accept-Language": "en"})
    assert 'data-action="reconcile.run" data-outcome="clean"' in audit_page.text
    assert admin_support.OPERATOR_NAME in audit_page.text
    assert "Outcome" in audit_page.text


def test_a_reconciliation_run_that_fails_is_audited_with_the_error(
    platform: Platform, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    operator_id, _ = _operator_client(platform, client)
    day_close = platform.services["day_close"]

    def broken(_day: object) -> object:
        raise Retryable("database went away")

    monkeypatch.setattr(day_close.reconcile, "run", broken)
    with pytest.raises(Retryable):
        day_close.run_and_save(last_closed_day(platform.clock.now_us()), operator_id=operator_id)
    (row,) = _rows(platform, "reconcile.run")
    assert (row.operator_id, row.outcome) == (operator_id, "error:temporarily_unavailable")
    assert day_close.recent_runs() == []


def test_the_scheduled_reconciliation_writes_no_operator_audit_row(platform: Platform) -> None:
    platform.services["day_close"].run_and_save(last_closed_day(platform.clock.now_us()))
    assert _rows(platform, "reconcile.run") == []
