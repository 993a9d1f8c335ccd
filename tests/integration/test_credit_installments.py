"""Huabei installments and the minimum repayment on the wired platform (SQLite, or PostgreSQL with
PAYBAO_TEST_DATABASE_URL): REST conversions are idempotent and proven, the sandbox clock bills the
periods through three months (fees earned by the platform), prepayment by REST, the wallet pages
(choose, see the schedule, confirm once, prepay), and a bill repaid only down to its minimum
revolving into the next. Reconciliation stays clean throughout."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.integration.admin_support import create_operator, csrf_of, sign_in
from tests.integration.credit_support import (
    advance_to,
    cashier_signed_in,
    credit_buyer,
    next_month,
    pay_with_credit,
    reconcile_clean,
    shop_trade,
)
from tests.integration.gateway_support import balance_fen, wallet_balance
from tests.integration.test_cli import env  # noqa: F401 (a fixture)
from tests.integration.test_credit import PHONE, api_token, wallet_browser
from tests.integration.test_wallet_rules import PIN
from typer.testing import CliRunner

from paybao.bootstrap import Platform
from paybao.cli import app as cli_app
from paybao.domain.accounts import Purpose, platform_account
from paybao.domain.credit import BillStatus
from paybao.settings import Settings

URL = "/api/v1/credit/installments"


def billed(platform: Platform, amount_fen: int, balance: int = 3_000_00) -> tuple[int, int]:
    """A buyer with a 5,000 CNY line who bought `amount_fen` this month, billed on the 1st
    (now 01:00 that day); (user id, bill id)."""
    user_id = credit_buyer(platform, limit_fen=5_000_00, balance_fen=balance)
    pay_with_credit(platform, user_id, "FQ-1", amount_fen)
    year, month = next_month(platform)
    advance_to(platform, year, month, 1, 1)
    [bill] = platform.services["credit"].summary(user_id).bills
    return user_id, bill.id


def income_fen(platform: Platform) -> int:
    spec = platform_account(Purpose.CREDIT_INCOME)
    return balance_fen(platform, platform.ledger.open_accounts([spec])[spec.key])


def post(client: TestClient, headers: dict[str, str], key: str, path: str, body: object) -> object:
    return client.post(path, json=body, headers={**headers, "Idempotency-Key": key})


def test_rest_converts_once_with_proof_and_the_clock_bills_three_months(
    platform: Platform, client: TestClient
) -> None:
    user_id, bill_id = billed(platform, 1_000_00)
    headers = api_token(client)
    credit = client.get("/api/v1/credit", headers=headers).json()
    assert (credit["minimum_due_fen"], credit["bills"][0]["minimum_fen"]) == (100_00, 100_00)
    quote = client.get(
        f"{URL}/quote",
        params={"bill_id": bill_id, "amount_fen": 100_000, "periods": 3},
        headers=headers,
    ).json()
    assert (quote["fee_fen"], quote["total_fen"]) == (25_00, 1_025_00)
    assert [p["amount_fen"] for p in quote["periods"]] == [341_68, 341_66, 341_66]
    body = {"bill_id": bill_id, "amount_fen": 1_000_00, "periods": 3, "payment_password": PIN}
    missing = client.post(URL, json=body, headers=headers)
    assert missing.json()["error"]["code"] == "idempotency_key_missing"
    unproven = post(client, headers, "c-0", URL, {**body, "payment_password": None})
    assert unproven.json()["error"]["code"] == "confirmation_required"  # type: ignore[attr-defined]
    wrong = post(client, headers, "c-1", URL, {**body, "payment_password": "000000"})
    assert wrong.json()["error"]["code"] == "payment_password_wrong"  # type: ignore[attr-defined]
    first = post(client, headers, "c-2", URL, body)
    assert first.status_code == 200, first.text  # type: ignore[attr-defined]
    plan = first.json()  # type: ignore[attr-defined]
    assert (plan["status"], plan["fee_fen"], plan["unbilled_principal_fen"]) == (
        "active",
        25_00,
        1_000_00,
    )
    assert post(client, headers, "c-2", URL, body).json() == plan  # type: ignore[attr-defined]
    reused = post(client, headers, "c-2", URL, {**body, "periods": 6})
    assert reused.json()["error"]["code"] == "idempotency_key_reused"  # type: ignore[attr-defined]
    again = post(client, headers, "c-3", URL, {**body, "amount_fen": 100_00})
    assert (again.status_code, again.json()["error"]["code"]) == (  # type: ignore[attr-defined]
        409,
        "credit_bill_already_converted",
    )
    assert client.get(URL, headers=headers).json()["plans"] == [plan]
    assert client.get(f"{URL}/{plan['id']}", headers=headers).json() == plan
    assert reconcile_clean(platform) == []

    # Three 1sts: each bills one period (principal + fee) into the month's bill; repay each.
    services = platform.services["credit"]
    for months, amount_fen in ((2, 333_34 + 8_34), (3, 333_33 + 8_33), (4, 333_33 + 8_33)):
        year, month = next_month(platform, 1)
        advance_to(platform, year, month, 1, 9)
        summary = services.summary(user_id)
        assert (summary.bills[0].unpaid_fen, summary.due_fen) == (amount_fen, amount_fen), months
        services.repay(user_id, amount_fen, PIN)
        assert reconcile_clean(platform) == []
    headers = api_token(client)  # months later: a new session
    done = client.get(f"{URL}/{plan['id']}", headers=headers).json()
    assert (done["status"], done["billed_count"]) == ("completed", 3)
    assert all(p["bill_id"] is not None for p in done["periods"])
    assert income_fen(platform) == 25_00
    assert wallet_balance(platform, user_id) == 3_000_00 - 1_025_00
    line = services.line(user_id)
    assert (line.outstanding_fen, line.installment_fen, line.available_fen) == (0, 0, 5_000_00)


def test_rest_prepayment_pays_once_and_waives_the_fees(
    platform: Platform, client: TestClient
) -> None:
    user_id, bill_id = billed(platform, 1_200_00, balance=1_500_00)
    headers = api_token(client)
    body = {"bill_id": bill_id, "amount_fen": 1_200_00, "periods": 12, "payment_password": PIN}
    plan = post(client, headers, "c-1", URL, body).json()  # type: ignore[attr-defined]
    year, month = next_month(platform, 1)
    advance_to(platform, year, month, 1, 9)  # the first period is billed (100.00 + 8.80)
    headers = api_token(client)  # a month later: a new session
    prepay_url = f"{URL}/{plan['id']}/prepayment"
    answer = post(client, headers, "p-1", prepay_url, {"payment_password": PIN})
    assert answer.status_code == 200, answer.text  # type: ignore[attr-defined]
    done = answer.json()  # type: ignore[attr-defined]
    assert (done["status"], done["prepaid_fen"], done["waived_fee_fen"]) == (
        "prepaid",
        1_100_00,
        11 * 8_80,
    )
    assert post(client, headers, "p-1", prepay_url, {"payment_password": PIN}).json() == done  # type: ignore[attr-defined]
    twice = post(client, headers, "p-2", prepay_url, {"payment_password": PIN})
    assert (twice.status_code, twice.json()["error"]["code"]) == (  # type: ignore[attr-defined]
        409,
        "credit_installment_not_active",
    )
    assert wallet_balance(platform, user_id) == 400_00  # paid once
    line = platform.services["credit"].line(user_id)
    assert (line.installment_fen, line.outstanding_fen) == (0, 108_80)
    statement = platform.services["wallet"].statement(user_id, _query())
    assert [(e.kind, e.amount_fen) for e in statement][:1] == [("credit_repayment", -1_100_00)]
    missing = client.get(f"{URL}/{plan['id'] + 1}", headers=headers)
    assert (missing.status_code, missing.json()["error"]["code"]) == (
        404,
        "credit_installment_not_found",
    )
    assert client.get(f"{URL}/0", headers=headers).status_code == 422
    assert reconcile_clean(platform) == []


def _query() -> object:
    from paybao.services.wallet_statement import StatementQuery

    return StatementQuery(limit=5)


def test_the_wallet_pages_show_the_schedule_before_confirming_once_and_prepay(
    platform: Platform, client: TestClient
) -> None:
    user_id, bill_id = billed(platform, 600_00)
    browser = wallet_browser(client)
    page = browser.get("/wallet/credit").text
    assert 'id="installment-link"' in page and 'id="credit-minimum">60.00' in page
    choose = browser.get(f"/wallet/credit/installments/new?bill={bill_id}").text
    assert 'id="option-6"' in choose and "首期 ¥104.50" in choose  # 100.00 + 4.50
    assert 'id="installment-schedule"' not in choose  # nothing to confirm before choosing
    shown = browser.get(f"/wallet/credit/installments/new?bill={bill_id}&amount=600.00&periods=6")
    assert 'id="schedule-sum">627.00' in shown.text and 'id="convert-form"' in shown.text
    too_little = browser.get(f"/wallet/credit/installments/new?bill={bill_id}&amount=99.99")
    assert too_little.status_code == 400 and "分期金额最少100元" in too_little.text
    form = {
        "csrf_token": csrf_of(shown.text),
        "idem": "form-fq-1",
        "bill": str(bill_id),
        "amount": "600.00",
        "periods": "6",
        "payment_password": "000000",
    }
    wrong = browser.post("/wallet/credit/installments", data=form, follow_redirects=False)
    assert wrong.status_code == 403 and "支付密码错误" in wrong.text
    form = {**form, "payment_password": PIN, "idem": "form-fq-2"}
    made = browser.post("/wallet/credit/installments", data=form, follow_redirects=False)
    assert made.status_code == 303, made.text
    again = browser.post("/wallet/credit/installments", data=form, follow_redirects=False)
    assert again.headers["location"] == made.headers["location"]  # the double submit: one plan
    [plan] = platform.services["credit_installments"].plans_of(user_id)
    assert made.headers["location"] == f"/wallet/credit/installments/{plan.id}?done=converted"
    shown_plan = browser.get(made.headers["location"]).text
    assert "分期成功" in shown_plan or "Installments set up" in shown_plan
    assert 'id="plan-left">600.00' in shown_plan
    home = browser.get("/wallet/credit").text
    assert f'data-plan="{plan.id}"' in home and 'id="credit-installment">600.00' in home
    assert 'id="installment-link"' not in home  # a bill converts once
    prepay = {"csrf_token": csrf_of(shown_plan), "idem": "form-pp-1", "payment_password": PIN}
    paid = browser.post(
        f"/wallet/credit/installments/{plan.id}/prepay", data=prepay, follow_redirects=False
    )
    assert paid.status_code == 303
    assert 'data-status="prepaid"' in browser.get(paid.headers["location"]).text
    assert wallet_balance(platform, user_id) == 3_000_00 - 600_00
    other = browser.get("/wallet/credit/installments/999999")
    assert other.status_code == 404
    assert reconcile_clean(platform) == []


def test_paying_only_the_minimum_revolves_without_freezing_and_rolls_into_the_next_bill(
    platform: Platform, client: TestClient
) -> None:
    user_id, bill_id = billed(platform, 500_00)
    headers = api_token(client)
    repay = {"amount_fen": 50_00, "payment_password": PIN}
    paid = post(client, headers, "m-1", "/api/v1/credit/repayments", repay)
    assert paid.status_code == 200, paid.text  # type: ignore[attr-defined]
    credit = platform.services["credit"]
    year, month = next_month(platform, 0)
    advance_to(platform, year, month, 13, 9)  # the 11th, 12th and 13th: interest, not penalty
    [bill] = credit.summary(user_id).bills
    assert (bill.status, bill.interest_fen, bill.penalty_fen) == (BillStatus.MIN_PAID, 3 * 22, 0)
    assert not credit.line(user_id).overdue
    trade = shop_trade(platform, "FQ-2", 10_00)
    assert 'value="credit"' in cashier_signed_in(client, trade.trade_no, PHONE)
    shown = client.get("/api/v1/credit", headers=headers).json()
    assert shown["bills"][0]["status"] == "min_paid"
    year, month = next_month(platform, 1)
    advance_to(platform, year, month, 1, 9)
    new, old = credit.summary(user_id).bills
    assert (old.id, old.status, old.rolled_to_bill_id) == (bill_id, BillStatus.ROLLED, new.id)
    assert new.carried_fen == 450_00 + old.interest_fen
    page = wallet_browser(client).get("/wallet/credit").text
    assert 'id="last-bill-carried">' in page and "已转入下期" in page
    assert reconcile_clean(platform) == []


def test_operators_and_the_cli_see_a_users_plans(
    platform: Platform,
    client: TestClient,
    env: Settings,  # noqa: F811
) -> None:
    user_id, bill_id = billed(platform, 300_00)
    platform.services["credit_installments"].convert(user_id, bill_id, 300_00, 3, PIN)
    _operator_id, secret = create_operator(platform)
    assert sign_in(client, secret).status_code == 303  # type: ignore[attr-defined]
    page = client.get(f"/admin/users/{user_id}/credit").text
    assert 'id="credit-plans"' in page and 'id="credit-installment">300.00' in page
    shown = CliRunner().invoke(cli_app, ["credit", "show", "--user", str(user_id)])
    assert shown.exit_code == 0, shown.output
    assert "active\t300.00 in 3, billed 0\tnot billed 300.00" in shown.output
