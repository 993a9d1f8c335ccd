"""City services' pages on the test database: the wallet's bill pages (city, category, biller
and account number, the inquiry, paying once on a double submit, the receipt, saved accounts,
errors in Chinese, English), mobile top-up, the reminders on the wallet's home, the statement's
link to the receipt; the operators' billers page (roles, audit); `paybao biller ...`."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.integration.admin_support import create_operator, csrf_of, sign_in, wallet_browser
from tests.integration.billpay_support import (
    UNKNOWN_ACCOUNT,
    WATER_ACCOUNT,
    City,
    assert_clean,
    billpay,
    make_billers,
    owed_fen,
    payer,
)
from tests.integration.gateway_support import LOGIN_PASSWORD, PAYMENT_PASSWORD, wallet_balance
from typer.testing import CliRunner

from paybao.adapters.db.tables.wallet import audit_log
from paybao.bootstrap import Platform
from paybao.cli import app as cli_app
from paybao.domain.money import format_yuan
from paybao.settings import Settings

PHONE = "13800138800"


@pytest.fixture
def city(platform: Platform) -> City:
    return make_billers(platform)


def signed_in(client: TestClient, phone: str = PHONE) -> TestClient:
    return wallet_browser(client, phone, LOGIN_PASSWORD)


def hidden_fields(html: str, form_id: str) -> dict[str, str]:
    form = re.search(rf'<form[^>]*id="{form_id}".*?</form>', html, re.S)
    assert form, f"no form {form_id}"
    return dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', form.group(0)))


def test_pick_inquire_pay_once_and_see_the_receipt(
    platform: Platform, client: TestClient, city: City
) -> None:
    user_id = payer(platform, PHONE)
    browser = signed_in(client)
    home = browser.get("/wallet").text
    assert 'id="nav-bills"' in home and "生活缴费" in home
    bills = browser.get("/wallet/bills").text
    assert 'data-city="beijing"' in bills  # the first city served, in the list's order
    assert 'data-category="gas"' in bills and 'data-category="water"' not in bills
    assert 'id="no-saved"' in bills and 'id="no-payments"' in bills
    shanghai = browser.get("/wallet/bills?city=shanghai").text
    assert 'data-category="water"' in shanghai and 'id="nav-topup"' in shanghai

    new = browser.get("/wallet/bills/new?city=shanghai&category=water").text
    assert "上海城投水务" in new and 'action="/wallet/bills/inquiry"' in new
    unknown = browser.get(
        f"/wallet/bills/inquiry?biller={city.water.id}&account_no={UNKNOWN_ACCOUNT}"
    )
    assert unknown.status_code == 404
    assert 'data-code="bill_account_not_found"' in unknown.text and "未查询到该户号" in unknown.text
    assert f'value="{UNKNOWN_ACCOUNT}"' in unknown.text  # the form again, with what was typed

    owed = owed_fen(platform, city.water, WATER_ACCOUNT)
    inquiry = browser.get(
        f"/wallet/bills/inquiry?biller={city.water.id}&account_no={WATER_ACCOUNT}"
    )
    assert f'id="bill-outstanding">{format_yuan(owed)}<' in inquiry.text
    assert re.search(r'id="bill-holder">\*\w+<', inquiry.text)
    assert "须足额缴纳账单金额" in inquiry.text and "可用余额 5000.00 元" in inquiry.text
    hidden = hidden_fields(inquiry.text, "pay-form")
    wrong = browser.post(
        "/wallet/bills/pay",
        data={**hidden, "amount": format_yuan(owed), "payment_password": "000000"},
    )
    assert wrong.status_code == 403 and "支付密码错误" in wrong.text
    assert 'id="pay-form"' in wrong.text  # the bill again, to try once more

    data = {
        **hidden,
        "amount": format_yuan(owed),
        "payment_password": PAYMENT_PASSWORD,
        "save": "1",
        "nickname": "家里水费",
    }
    paid = browser.post("/wallet/bills/pay", data=data, follow_redirects=False)
    assert paid.status_code == 303
    location = paid.headers["location"]
    assert re.fullmatch(r"/wallet/bills/receipt/\d+\?saved=1", location)
    twice = browser.post("/wallet/bills/pay", data=data, follow_redirects=False)
    assert twice.headers["location"] == location  # a double submit: the same payment
    assert wallet_balance(platform, user_id) == 5_000_00 - owed

    receipt = browser.get(location).text
    assert 'data-status="paid"' in receipt and "缴费成功" in receipt
    assert f'id="receipt-amount">{format_yuan(owed)}<' in receipt
    assert 'id="receipt-saved"' in receipt and "家里水费" in receipt
    bills = browser.get("/wallet/bills").text
    assert 'class="bp-account saved-account"' in bills and "暂无欠费" in bills
    assert 'data-status="paid"' in bills
    statement = browser.get("/wallet/statement?kind=bill_payment").text
    payment_id = location.split("/")[-1].split("?")[0]
    assert f'href="/wallet/bills/receipt/{payment_id}"' in statement and "生活缴费" in statement
    english = browser.get(location, headers={"Accept-Language": "en"}).text
    assert "Receipt" in english and ">Paid<" in english
    assert_clean(platform)


def test_saved_accounts_remind_on_the_wallet_home(
    platform: Platform, client: TestClient, city: City
) -> None:
    payer(platform, PHONE)
    browser = signed_in(client)
    receipt_page = browser.get("/wallet/bills")
    form = {"csrf_token": csrf_of(receipt_page.text), "biller": str(city.water.id)}
    saved = browser.post(
        "/wallet/bills/accounts",
        data={**form, "account_no": WATER_ACCOUNT, "nickname": "老家"},
        follow_redirects=False,
    )
    assert saved.headers["location"] == "/wallet/bills?saved=1"
    refused = browser.post(
        "/wallet/bills/accounts",
        data={**form, "account_no": UNKNOWN_ACCOUNT},
        follow_redirects=False,
    )
    assert refused.headers["location"] == "/wallet/bills?saved=bill_account_not_found"
    owed = owed_fen(platform, city.water, WATER_ACCOUNT)
    home = browser.get("/wallet").text
    assert 'id="bill-reminders"' in home and "待缴账单" in home
    assert "老家" in home and format_yuan(owed) in home
    pay_link = f"/wallet/bills/inquiry?biller={city.water.id}&amp;account_no={WATER_ACCOUNT}"
    assert pay_link in home
    page = browser.get("/wallet/bills").text
    [saved_id] = re.findall(r'class="bp-account saved-account" data-id="(\d+)"', page)
    deleted = browser.post(
        f"/wallet/bills/accounts/{saved_id}/delete",
        data={"csrf_token": csrf_of(page)},
        follow_redirects=False,
    )
    assert deleted.headers["location"] == "/wallet/bills"
    assert 'id="bill-reminders"' not in browser.get("/wallet").text


def test_mobile_top_up_page(platform: Platform, client: TestClient, city: City) -> None:
    user_id = payer(platform, PHONE)
    browser = signed_in(client)
    page = browser.get("/wallet/bills/topup").text
    assert 'data-carrier="cmcc"' in page and "138****8800" in page  # one's own number first
    assert page.count('name="amount"') == 8
    other = browser.get("/wallet/bills/topup?phone=17012345678")
    assert other.status_code == 400 and "暂不支持该号段" in other.text
    assert 'id="topup-form"' not in other.text
    telecom = browser.get("/wallet/bills/topup?phone=18912345678").text
    hidden = hidden_fields(telecom, "topup-form")
    data = {**hidden, "amount": "3000", "payment_password": PAYMENT_PASSWORD}
    done = browser.post("/wallet/bills/topup", data=data, follow_redirects=False)
    assert done.status_code == 303
    receipt = browser.get(done.headers["location"]).text
    assert "充值成功" in receipt and "189****5678" in receipt and "中国电信" in receipt
    reused = browser.post("/wallet/bills/topup", data={**data, "amount": "5000"})
    assert reused.status_code == 409  # the form's one-time key was spent on another amount
    fresh = hidden_fields(browser.get("/wallet/bills/topup?phone=18912345678").text, "topup-form")
    odd = browser.post("/wallet/bills/topup", data={**fresh, "amount": "4000"})
    assert odd.status_code == 400 and 'data-code="topup_amount_invalid"' in odd.text
    assert wallet_balance(platform, user_id) == 5_000_00 - 30_00


def test_a_receipt_is_the_payers_own(platform: Platform, client: TestClient, city: City) -> None:
    other = payer(platform, "13800138801")
    receipt = billpay(platform).top_up(other, "13800138801", 10_00, PAYMENT_PASSWORD)
    payer(platform, PHONE)
    browser = signed_in(client)
    page = browser.get(f"/wallet/bills/receipt/{receipt.payment.id}")
    assert page.status_code == 404 and "没有这笔缴费" in page.text
    assert browser.get("/wallet/bills/receipt/999999999999999999999").status_code == 404


# The operators' page ----------------------------------------------------------------------------


def test_operators_create_disable_and_enable_billers_audited(
    platform: Platform, client: TestClient
) -> None:
    operator_id, secret = create_operator(platform)
    assert sign_in(client, secret).status_code == 303  # type: ignore[attr-defined]
    page = client.get("/admin/billers")
    assert page.status_code == 200 and 'id="no-billers"' in page.text
    assert 'href="/admin/billers"' in page.text
    form = {"csrf_token": csrf_of(page.text)}
    created = client.post(
        "/admin/billers",
        data={
            **form,
            "code": "hz_water",
            "name": "杭州水务",
            "category": "water",
            "city": "hangzhou",
        },
        follow_redirects=False,
    )
    assert created.headers["location"] == "/admin/billers?done=created"
    taken = client.post(
        "/admin/billers",
        data={**form, "code": "hz_water", "name": "x", "category": "water", "city": "hangzhou"},
    )
    assert taken.status_code == 409 and "hz_water" in taken.text
    bad = client.post(
        "/admin/billers",
        data={**form, "code": "tc", "name": "x", "category": "mobile", "city": "national"},
    )
    assert bad.status_code == 400  # a carrier is cmcc, cucc or ctcc
    [biller] = platform.services["billers"].all()
    assert (biller.code, biller.city, biller.category) == ("hz_water", "hangzhou", "water")
    merchant = platform.services["merchants"].merchant(biller.merchant_id)
    assert (merchant.name, merchant.fee_rate_ppm) == ("杭州水务", 0)
    assert platform.services["merchants"].apps_of(merchant.id) == []
    disabled = client.post(
        f"/admin/billers/{biller.id}/status",
        data={**form, "status": "disabled"},
        follow_redirects=False,
    )
    assert disabled.headers["location"] == "/admin/billers?done=disabled"
    client.post(f"/admin/billers/{biller.id}/status", data={**form, "status": "active"})
    assert platform.services["billers"].get(biller.id).status == "active"
    with platform.engine.connect() as connection:
        rows = connection.execute(
            select(audit_log.c.action, audit_log.c.subject, audit_log.c.operator_id).order_by(
                audit_log.c.id
            )
        ).all()
    mine = [tuple(row) for row in rows if row.action.startswith("biller.")]
    subject = f"biller:{biller.id}"
    assert mine == [
        ("biller.create", subject, operator_id),
        ("biller.disable", subject, operator_id),
        ("biller.enable", subject, operator_id),
    ]


# The command ------------------------------------------------------------------------------------


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("PAYBAO_DATABASE_URL", settings.resolved_database_url())
    monkeypatch.setenv("PAYBAO_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PAYBAO_SANDBOX", "1")
    return settings


def test_biller_commands(platform: Platform, env: Settings) -> None:
    runner = CliRunner()
    shop = platform.services["billers"].merchants
    assert shop is not None
    made = runner.invoke(
        cli_app,
        ["biller", "create", "--code", "cucc", "--name", "中国联通", "--category", "mobile"],
    )
    assert made.exit_code == 0, made.output
    assert "cucc\tmobile\tnational\tactive" in made.output
    water: Any = runner.invoke(
        cli_app,
        [
            *("biller", "create", "--code", "sz_water", "--name", "深圳水务"),
            *("--category", "water", "--city", "shenzhen", "--merchant-id", "1"),
        ],
    )
    assert water.exit_code == 0, water.output  # the carrier's merchant (id 1) receives it too
    wrong = runner.invoke(
        cli_app,
        ["biller", "create", "--code", "x_water", "--name", "X", "--category", "water"],
    )
    assert (wrong.exit_code, "biller_city_invalid" in wrong.output) == (2, True)
    listed = runner.invoke(cli_app, ["biller", "list"])
    assert "cucc" in listed.output and "sz_water" in listed.output
    [cucc] = [b for b in platform.services["billers"].all() if b.code == "cucc"]
    off = runner.invoke(cli_app, ["biller", "disable", str(cucc.id)])
    assert off.exit_code == 0 and "disabled" in off.output
    missing = runner.invoke(cli_app, ["biller", "enable", "99999"])
    assert (missing.exit_code, "biller_not_found" in missing.output) == (2, True)
    with platform.engine.connect() as connection:
        actors = connection.execute(
            select(audit_log.c.action, audit_log.c.actor).where(audit_log.c.action.like("biller.%"))
        ).all()
    assert [tuple(a) for a in actors] == [
        ("biller.create", "cli"),
        ("biller.create", "cli"),
        ("biller.disable", "cli"),
    ]
