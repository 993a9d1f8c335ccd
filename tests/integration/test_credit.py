"""Huabei end to end on the wired platform (SQLite, or PostgreSQL with PAYBAO_TEST_DATABASE_URL):
the cashier offers credit only when it can pay, with the payment password; credit is not a
balance payment; the 1st bills the month (sandbox clock); REST repayments are idempotent and
proven; an overdue bill freezes the line until it is repaid; refunds go back to the line or the
balance; the operator's page and the CLI grant lines, audited; reconciliation stays clean."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.integration.admin_support import create_operator, csrf_of, sign_in
from tests.integration.admin_support import wallet_browser as signed_in_wallet
from tests.integration.credit_support import (
    LOGIN_PASSWORD,
    RETURN_URL,
    advance_to,
    cashier_pay,
    cashier_signed_in,
    credit_buyer,
    next_month,
    pay_with_credit,
    reconcile_clean,
    shop_trade,
)
from tests.integration.gateway_support import balance_fen, wallet_balance
from tests.integration.test_cli import env  # noqa: F401 (a fixture)
from tests.integration.test_device_confirm import add_device
from tests.integration.test_wallet_rules import PIN, code_of, open_user
from typer.testing import CliRunner

from paybao.adapters.db.tables.wallet import audit_log
from paybao.bootstrap import Platform
from paybao.cli import app as cli_app
from paybao.domain.credit import BillStatus
from paybao.domain.devices import (
    HEADER_DEVICE_ID,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    request_digest,
    signed_message,
)
from paybao.domain.trades import Funding, TradeStatus
from paybao.services.trades import TradeRef
from paybao.services.wallet_statement import StatementQuery
from paybao.settings import Settings

PHONE = "13900000201"


def api_token(client: TestClient, phone: str = PHONE) -> dict[str, str]:
    answer = client.post(
        "/api/v1/wallet/sessions", json={"phone": phone, "login_password": LOGIN_PASSWORD}
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


# The cashier -------------------------------------------------------------------------------


def test_the_cashier_offers_huabei_only_when_the_line_can_pay(
    platform: Platform, client: TestClient
) -> None:
    user_id = credit_buyer(platform, limit_fen=0)
    small = shop_trade(platform, "C-1", 300_00)
    assert 'value="credit"' not in cashier_signed_in(client, small.trade_no, PHONE)
    platform.services["credit"].grant(user_id, 500_00, reason="new", actor="test")
    page = client.get(f"/cashier/{small.trade_no}").text
    assert 'value="credit"' in page and "可用 ¥500.00" in page
    large = shop_trade(platform, "C-2", 500_01)
    assert 'value="credit"' not in client.get(f"/cashier/{large.trade_no}").text
    # A forged form for too much is refused by the service all the same.
    refused = cashier_pay(client, large.trade_no, "credit")
    assert refused.status_code == 400  # type: ignore[attr-defined]
    assert "花呗可用额度不足" in refused.text  # type: ignore[attr-defined]


def test_paying_with_huabei_takes_the_password_and_not_the_balance_limit(
    platform: Platform, client: TestClient
) -> None:
    user_id = credit_buyer(platform, limit_fen=2_000_00, balance_fen=10_00)
    trade = shop_trade(platform, "C-3", 1_500_00)  # above class I's 1,000 CNY of balance payments
    cashier_signed_in(client, trade.trade_no, PHONE)
    wrong = cashier_pay(client, trade.trade_no, "credit", "000000")
    assert wrong.status_code == 400 and "支付密码错误" in wrong.text  # type: ignore[attr-defined]
    assert platform.services["credit"].line(user_id).outstanding_fen == 0
    paid = cashier_pay(client, trade.trade_no, "credit")
    assert paid.status_code == 303  # type: ignore[attr-defined]
    assert paid.headers["location"].startswith(RETURN_URL)  # type: ignore[attr-defined]
    after = platform.services["trades"].get(trade.trade_no)
    assert (after.status, after.funding) == (TradeStatus.TRADE_SUCCESS, Funding.CREDIT)
    line = platform.services["credit"].line(user_id)
    assert (line.open_fen, line.available_fen) == (1_500_00, 500_00)
    assert wallet_balance(platform, user_id) == 10_00  # the balance paid nothing
    limits = platform.services["users"].limits(user_id)
    assert (limits.account_class, limits.used_fen) == ("I", 0)  # not a balance payment
    merchant = platform.services["merchants"].merchant(after.merchant_id)
    assert balance_fen(platform, merchant.settlement_account_id) == 1_500_00 - after.fee_fen
    assert reconcile_clean(platform) == []


# Bills, repayments and the overdue freeze ------------------------------------------------------


def test_the_first_bills_the_month_and_rest_repayments_are_idempotent_and_proven(
    platform: Platform, client: TestClient
) -> None:
    user_id = credit_buyer(platform, balance_fen=500_00)
    headers = api_token(client)
    pay_with_credit(platform, user_id, "R-1", 120_00)
    opened = client.get("/api/v1/credit", headers=headers).json()
    assert (opened["line"]["open_fen"], opened["due_fen"], opened["bills"]) == (120_00, 0, [])
    assert [p["subject"] for p in opened["open_purchases"]] == ["商品 R-1"]
    year, month = next_month(platform)
    advance_to(platform, year, month, 1, 1)
    billed = client.get("/api/v1/credit", headers=headers).json()
    [bill] = billed["bills"]
    assert (bill["status"], bill["principal_fen"], bill["unpaid_fen"]) == ("billed", 120_00, 120_00)
    assert bill["due_date"] == f"{year:04d}-{month:02d}-10"
    assert (billed["line"]["open_fen"], billed["due_fen"]) == (0, 120_00)

    url = "/api/v1/credit/repayments"
    body = {"amount_fen": 20_00, "payment_password": PIN}
    missing = client.post(url, json=body, headers=headers)
    assert missing.json()["error"]["code"] == "idempotency_key_missing"
    keyed = {**headers, "Idempotency-Key": "repay-1"}
    unproven = client.post(url, json={"amount_fen": 20_00}, headers=keyed)
    assert (unproven.status_code, unproven.json()["error"]["code"]) == (
        400,
        "confirmation_required",
    )
    first = client.post(url, json=body, headers=keyed)
    assert first.status_code == 200, first.text
    assert (first.json()["amount_fen"], first.json()["outstanding_after_fen"]) == (20_00, 100_00)
    again = client.post(url, json=body, headers=keyed)
    assert again.json() == first.json()
    other = client.post(url, json={**body, "amount_fen": 30_00}, headers=keyed)
    assert (other.status_code, other.json()["error"]["code"]) == (409, "idempotency_key_reused")
    too_much = client.post(
        url, json={**body, "amount_fen": 100_01}, headers={**headers, "Idempotency-Key": "r-2"}
    )
    assert too_much.json()["error"]["code"] == "credit_repayment_exceeds_due"
    assert wallet_balance(platform, user_id) == 480_00  # repaid once
    assert platform.services["credit"].line(user_id).outstanding_fen == 100_00
    assert reconcile_clean(platform) == []


def device_repayment(
    client: TestClient,
    platform: Platform,
    headers: dict[str, str],
    device: tuple[str, Ed25519PrivateKey],
    body: dict[str, int],
    signed_body: dict[str, int],
) -> Any:
    """POST a repayment confirmed by the device's signature over `signed_body`'s bytes."""
    device_id, key = device
    path, idempotency_key = "/api/v1/credit/repayments", uuid.uuid4().hex
    timestamp_s = platform.clock.now_us() // 1_000_000
    digest = request_digest("POST", path, idempotency_key, json.dumps(signed_body).encode())
    signature = key.sign(signed_message(device_id, timestamp_s, digest))
    proof = {
        "Idempotency-Key": idempotency_key,
        "Content-Type": "application/json",
        HEADER_DEVICE_ID: device_id,
        HEADER_TIMESTAMP: str(timestamp_s),
        HEADER_SIGNATURE: base64.b64encode(signature).decode(),
    }
    return client.post(path, content=json.dumps(body).encode(), headers={**headers, **proof})


def test_a_registered_device_confirms_a_repayment_of_exactly_what_it_signed(
    platform: Platform, client: TestClient
) -> None:
    user_id = credit_buyer(platform, balance_fen=100_00)
    pay_with_credit(platform, user_id, "D-1", 50_00)
    year, month = next_month(platform)
    advance_to(platform, year, month, 1, 1)
    headers = api_token(client)
    key = Ed25519PrivateKey.generate()
    added = add_device(client, headers["Authorization"].split()[1], key, pin=PIN)
    assert added.status_code == 201, added.text
    device = (added.json()["device_id"], key)
    forged = device_repayment(
        client, platform, headers, device, {"amount_fen": 50_00}, {"amount_fen": 1}
    )
    assert forged.json()["error"]["code"] == "device_signature_wrong"
    assert wallet_balance(platform, user_id) == 100_00
    body = {"amount_fen": 50_00}
    confirmed = device_repayment(client, platform, headers, device, body, body)
    assert confirmed.status_code == 200, confirmed.text
    assert (wallet_balance(platform, user_id), confirmed.json()["outstanding_after_fen"]) == (
        50_00,
        0,
    )


def test_an_overdue_bill_freezes_huabei_until_everything_is_repaid(
    platform: Platform, client: TestClient
) -> None:
    user_id = credit_buyer(platform, balance_fen=500_00)
    credit = platform.services["credit"]
    credit.set_repayment_day(user_id, 8)
    pay_with_credit(platform, user_id, "O-1", 200_00)
    year, month = next_month(platform)
    advance_to(platform, year, month, 11, 12)  # three overdue days: the 9th, 10th and 11th
    line = credit.line(user_id)
    [bill] = credit.summary(user_id).bills
    assert (bill.due_date.day, bill.status, bill.penalty_fen) == (8, BillStatus.OVERDUE, 3 * 10)
    assert (line.overdue, line.outstanding_fen) == (True, 200_30)
    assert code_of(lambda: pay_with_credit(platform, user_id, "O-2", 1_00)) == (
        "credit_overdue_frozen"
    )
    trade = shop_trade(platform, "O-3", 1_00)
    assert 'value="credit"' not in cashier_signed_in(client, trade.trade_no, PHONE)
    frozen = client.get("/api/v1/credit", headers=api_token(client)).json()
    assert (frozen["line"]["frozen"], frozen["due_fen"]) == (True, 200_30)
    credit.repay(user_id, 200_00, PIN)  # the penalty first: 0.30 still owed
    assert credit.line(user_id).overdue
    credit.repay(user_id, 30, PIN)
    assert not credit.line(user_id).overdue
    assert 'value="credit"' in client.get(f"/cashier/{trade.trade_no}").text
    assert reconcile_clean(platform) == []


# Refunds ---------------------------------------------------------------------------------


def test_refunds_go_back_to_the_line_or_once_repaid_to_the_balance(platform: Platform) -> None:
    user_id = credit_buyer(platform, balance_fen=500_00)
    credit, refunds = platform.services["credit"], platform.services["refunds"]
    unbilled = pay_with_credit(platform, user_id, "F-1", 100_00)
    refunds.refund(unbilled.app_id, TradeRef(trade_no=unbilled.trade_no), "r1", 40_00)
    assert credit.line(user_id).open_fen == 60_00
    assert wallet_balance(platform, user_id) == 500_00  # nothing came to the balance
    year, month = next_month(platform)
    advance_to(platform, year, month, 2)
    credit.repay(user_id, 60_00, PIN)  # the bill is repaid in full
    refunds.refund(unbilled.app_id, TradeRef(trade_no=unbilled.trade_no), "r2", 60_00)
    assert wallet_balance(platform, user_id) == 500_00  # 500 - 60 repaid + 60 refunded
    line = credit.line(user_id)
    assert (line.outstanding_fen, line.available_fen) == (0, 1_000_00)
    # The wallet's statement: the first refund went on to the line, the repayment left the
    # balance, the second refund (of a repaid bill) stayed in it.
    entries = platform.services["wallet"].statement(user_id, StatementQuery(limit=10))
    assert [(e.kind, e.amount_fen) for e in entries][:4] == [
        ("refund", 60_00),
        ("credit_repayment", -60_00),
        ("credit_refund", -40_00),
        ("refund", 40_00),
    ]
    assert reconcile_clean(platform) == []


# The operator's page and the CLI -------------------------------------------------------------


def test_an_operator_grants_a_line_on_the_users_page_audited_by_role(
    platform: Platform, client: TestClient
) -> None:
    user_id, _ = open_user(platform, PHONE)
    unverified = platform.services["registration"].start("13900000299", LOGIN_PASSWORD)
    _operator_id, secret = create_operator(platform)
    assert sign_in(client, secret).status_code == 303  # type: ignore[attr-defined]
    assert f"/admin/users/{user_id}/credit" in client.get(f"/admin/users/{user_id}").text
    page = client.get(f"/admin/users/{user_id}/credit")
    assert page.status_code == 200 and 'id="credit-none"' in page.text
    form = {"csrf_token": csrf_of(page.text), "limit": "3000", "reason": ""}
    no_reason = client.post(f"/admin/users/{user_id}/credit", data=form)
    assert no_reason.status_code == 400
    too_big = client.post(
        f"/admin/users/{user_id}/credit", data={**form, "limit": "50000.01", "reason": "x"}
    )
    assert too_big.status_code == 400 and "花呗额度须在500至50000元之间" in too_big.text
    granted = client.post(
        f"/admin/users/{user_id}/credit", data={**form, "reason": "good customer"}
    )
    assert granted.status_code == 200 and 'id="credit-limit">3000.00' in granted.text
    refused = client.post(
        f"/admin/users/{unverified}/credit", data={**form, "reason": "not verified"}
    )
    assert refused.status_code == 403 and "开通花呗需先完成实名认证" in refused.text
    assert platform.services["credit"].line(user_id).limit_fen == 3_000_00
    with platform.engine.connect() as connection:
        rows = connection.execute(
            select(audit_log.c.action, audit_log.c.subject, audit_log.c.detail).where(
                audit_log.c.action == "credit.grant"
            )
        ).all()
    assert [tuple(row) for row in rows] == [
        ("credit.grant", f"user:{user_id}", "limit 0.00 -> 3000.00 CNY; good customer")
    ]


def test_a_viewer_may_look_but_not_grant(platform: Platform, client: TestClient) -> None:
    user_id, _ = open_user(platform, PHONE)
    operators = platform.services["operators"]
    operators.create("ops.root", "correct horse 42")  # the first operator is the admin
    viewer = operators.create("ops.viewer", "correct horse 42")
    assert viewer.role == "viewer"
    sign_in(client, viewer.totp_secret, name="ops.viewer")
    page = client.get(f"/admin/users/{user_id}/credit")
    assert page.status_code == 200 and 'id="grant-form"' not in page.text
    form = {"csrf_token": csrf_of(page.text), "limit": "3000", "reason": "try"}
    refused = client.post(f"/admin/users/{user_id}/credit", data=form)
    assert refused.status_code == 403
    assert code_of(lambda: platform.services["credit"].line(user_id)) == "credit_not_opened"


def test_the_cli_grants_and_shows_a_line(platform: Platform, env: Settings) -> None:  # noqa: F811
    user_id, _ = open_user(platform, PHONE)
    runner = CliRunner()
    granted = runner.invoke(
        cli_app, ["credit", "grant", "--user", str(user_id), "--limit-fen", "200000"]
    )
    assert granted.exit_code == 0, granted.output
    assert "credit limit 2000.00 available 2000.00" in granted.output
    bad = runner.invoke(cli_app, ["credit", "grant", "--user", str(user_id), "--limit-fen", "1"])
    assert bad.exit_code == 1 and "credit_limit_invalid" in bad.output
    shown = runner.invoke(cli_app, ["credit", "show", "--user", str(user_id)])
    assert shown.exit_code == 0 and "limit 2000.00" in shown.output
    with platform.engine.connect() as connection:
        actors = connection.execute(
            select(audit_log.c.actor).where(audit_log.c.action == "credit.grant")
        ).scalars()
        assert list(actors) == ["cli"]


# The wallet's page and REST reads ------------------------------------------------------------


def wallet_browser(client: TestClient, phone: str = PHONE) -> TestClient:
    return signed_in_wallet(client, phone, LOGIN_PASSWORD)


def test_the_wallet_page_shows_the_line_repays_and_sets_the_day(
    platform: Platform, client: TestClient
) -> None:
    user_id = credit_buyer(platform, balance_fen=300_00)
    pay_with_credit(platform, user_id, "W-1", 88_00)
    browser = wallet_browser(client)
    assert 'id="nav-credit"' in browser.get("/wallet").text
    page = browser.get("/wallet/credit").text
    assert 'id="credit-available">912.00' in page and 'id="credit-open">88.00' in page
    assert 'id="nothing-due"' in page and "商品 W-1" in page
    day = browser.post(
        "/wallet/credit/day", data={"csrf_token": csrf_of(page), "day": "9"}, follow_redirects=False
    )
    assert day.status_code == 303
    assert platform.services["credit"].line(user_id).repayment_day == 9
    year, month = next_month(platform)
    advance_to(platform, year, month, 1, 9)
    page = browser.get("/wallet/credit").text
    assert f'id="last-bill-due">{year:04d}-{month:02d}-09' in page
    form = {
        "csrf_token": csrf_of(page),
        "idem": "form-1",
        "amount": "88.00",
        "payment_password": PIN,
    }
    repaid = browser.post("/wallet/credit/repay", data=form, follow_redirects=False)
    assert repaid.status_code == 303
    twice = browser.post("/wallet/credit/repay", data=form, follow_redirects=False)
    assert twice.status_code == 303  # the same form again: answered, not repaid twice
    assert wallet_balance(platform, user_id) == 212_00
    done = browser.get("/wallet/credit").text
    assert 'id="last-bill-status">已还清' in done or 'id="last-bill-status">Repaid' in done
    bad_day = browser.post("/wallet/credit/day", data={"csrf_token": csrf_of(done), "day": "11"})
    assert bad_day.status_code == 400 and "credit_repayment_day_invalid" in bad_day.text


def test_rest_answers_without_a_line_and_for_a_bad_day(
    platform: Platform, client: TestClient
) -> None:
    open_user(platform, PHONE)
    headers = api_token(client)
    missing = client.get("/api/v1/credit", headers=headers)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "credit_not_opened")
    repay = client.post(
        "/api/v1/credit/repayments",
        json={"amount_fen": 1, "payment_password": PIN},
        headers={**headers, "Idempotency-Key": "k"},
    )
    assert (repay.status_code, repay.json()["error"]["code"]) == (404, "credit_not_opened")
    assert client.get("/api/v1/credit").status_code == 401


@pytest.mark.parametrize("day", [7, 11])
def test_the_repayment_day_is_8_9_or_10(platform: Platform, client: TestClient, day: int) -> None:
    credit_buyer(platform)
    answer = client.post(
        "/api/v1/credit/repayment-day", json={"day": day}, headers=api_token(client)
    )
    assert (answer.status_code, answer.json()["error"]["code"]) == (
        400,
        "credit_repayment_day_invalid",
    )
    ok = client.post("/api/v1/credit/repayment-day", json={"day": 8}, headers=api_token(client))
    assert (ok.status_code, ok.json()["repayment_day"]) == (200, 8)
