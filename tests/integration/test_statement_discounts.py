"""A trade paid partly with coupons in the user's statement, on the real database (SQLite, or
PostgreSQL with PAYBAO_TEST_DATABASE_URL): the payment entry is what the buyer paid, and beside
it the order's total and the discount (platform- and merchant-funded), in the wallet statement
(service, REST, page, CSV) and the statements' search (REST, page) and monthly CSV; one read
per page, not one per entry; the monthly summary keeps counting what was paid."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from tests.integration.admin_support import csrf_of
from tests.integration.coupon_support import claim, open_trade, operator_campaign, shop_campaign
from tests.integration.gateway_support import (
    LOGIN_PASSWORD,
    PAYMENT_PASSWORD,
    make_buyer,
    make_shop,
)

from paybao.bootstrap import Platform
from paybao.domain.coupons import CouponChoice, CouponKind
from paybao.domain.statement_summaries import Month, SearchFilter
from paybao.services.wallet_statement import StatementQuery

BUYER = "13600136101"


@dataclass
class Paid:
    user_id: int
    discounted: str  # trade_no: 100.00 less 10.00 (platform) and 3.00 (the shop's)
    plain: str  # trade_no: 20.00, no coupon
    shop: Any


@pytest.fixture
def paid(platform: Platform) -> Paid:
    shop = make_shop(platform)
    user_id = make_buyer(platform, BUYER, balance_fen=300_00)
    ten_off = claim(platform, user_id, operator_campaign(platform, threshold_fen=50_00))
    three_off = {"name": "立减3元", "kind": CouponKind.FIXED, "face_fen": 3_00}
    three_off.update(rate_permille=0, cap_fen=0)
    shops = claim(platform, user_id, shop_campaign(platform, shop, **three_off))
    trades = platform.services["trades"]
    discounted = open_trade(platform, shop, "D-1", 100_00)
    coupons = CouponChoice(coupon_ids=(ten_off, shops))
    done = trades.pay_by_buyer(discounted.trade_no, user_id, PAYMENT_PASSWORD, coupons=coupons)
    assert done.buyer_pay_fen == 87_00
    plain = open_trade(platform, shop, "P-1", 20_00)
    trades.pay_by_buyer(plain.trade_no, user_id, PAYMENT_PASSWORD)
    return Paid(user_id, discounted.trade_no, plain.trade_no, shop)


def _by_reference(rows: list[Any], key: str = "reference") -> dict[str, Any]:
    return {(r[key] if isinstance(r, dict) else getattr(r, key)): r for r in rows}


def test_the_statement_entry_carries_the_total_and_the_discount(
    platform: Platform, paid: Paid
) -> None:
    entries = platform.services["wallet"].statement(paid.user_id, StatementQuery(limit=20))

    found = _by_reference([e for e in entries if e.kind == "payment"])
    discounted, plain = found[paid.discounted], found[paid.plain]
    assert (discounted.amount_fen, discounted.order_total_fen, discounted.discount_fen) == (
        -87_00,
        100_00,
        13_00,
    )
    assert (plain.amount_fen, plain.order_total_fen, plain.discount_fen) == (-20_00, None, None)
    assert entries[0].balance_after_fen == 300_00 - 87_00 - 20_00


def test_rest_statement_and_search_entries_have_the_fields(
    client: TestClient, platform: Platform, paid: Paid
) -> None:
    token = client.post(
        "/api/v1/wallet/sessions", json={"phone": BUYER, "login_password": LOGIN_PASSWORD}
    ).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}

    statement = client.get("/api/v1/wallet/statement", headers=headers).json()["entries"]
    search = client.get("/api/v1/wallet/statements/search", headers=headers).json()["entries"]

    for rows in (statement, search):
        payments = _by_reference([r for r in rows if r["kind"] == "payment"])
        discounted, plain = payments[paid.discounted], payments[paid.plain]
        assert discounted["amount_fen"] == -87_00
        assert (discounted["order_total_fen"], discounted["discount_fen"]) == (100_00, 13_00)
        assert (plain["order_total_fen"], plain["discount_fen"]) == (None, None)
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    for page in ("StatementOut", "SearchOut"):
        entry = schemas[page]["properties"]["entries"]["items"]["$ref"].rsplit("/", 1)[-1]
        assert {"order_total_fen", "discount_fen"} <= set(schemas[entry]["properties"]), page


def test_the_pages_show_the_total_and_the_discount_beside_what_was_paid(
    client: TestClient, paid: Paid
) -> None:
    browser = TestClient(client.app)
    form = {"csrf_token": csrf_of(browser.get("/login").text), "phone": BUYER}
    form["password"] = LOGIN_PASSWORD
    assert browser.post("/login", data=form, follow_redirects=False).status_code == 303

    statement = browser.get("/wallet/statement").text
    search = browser.get("/wallet/statements?view=search&kind=payment").text

    for page in (statement, search):
        assert page.count("entry-discount") == 1, page
        assert "订单金额 ¥100.00 · 优惠 -¥13.00" in page
        assert "-87.00" in page and "-20.00" in page
    browser.headers["Accept-Language"] = "en"
    assert "Order ¥100.00 · Discount -¥13.00" in browser.get("/wallet/statement").text


def test_the_monthly_summary_counts_what_was_paid(platform: Platform, paid: Paid) -> None:
    month = Month.of_us(platform.clock.now_us())

    summary = platform.services["statements"].monthly(paid.user_id, month)

    purchases = {c.category.key: c.totals for c in summary.categories}["purchase"]
    assert (purchases.out_fen, purchases.out_count) == (87_00 + 20_00, 2)
    assert summary.totals.out_fen == 87_00 + 20_00
    [payee] = summary.top_payees
    assert payee.amount_fen == 87_00 + 20_00


@pytest.fixture
def sql_log(platform: Platform) -> Iterator[list[str]]:
    log: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        log.append(statement)

    event.listen(platform.engine, "before_cursor_execute", record)
    yield log
    event.remove(platform.engine, "before_cursor_execute", record)


def test_a_page_reads_the_trades_once_however_many_entries(
    platform: Platform, paid: Paid, sql_log: list[str]
) -> None:
    shop_trades = platform.services["trades"]
    for n in range(3):  # more payments, none with a coupon left
        trade = open_trade(platform, paid.shop, f"M-{n}", 1_00)
        shop_trades.pay_by_buyer(trade.trade_no, paid.user_id, PAYMENT_PASSWORD)
    sql_log.clear()

    entries = platform.services["wallet"].statement(paid.user_id, StatementQuery(limit=20))
    page = platform.services["statements"].search(paid.user_id, SearchFilter(), None, 20)

    assert len([e for e in entries if e.kind == "payment"]) == 5
    assert len([x for x in page.lines if x.kind == "payment"]) == 5
    trade_reads = [s for s in sql_log if "FROM trades" in s or "JOIN trades" in s]
    assert len(trade_reads) == 2, "\n".join(trade_reads)  # one per page


def test_the_csv_exports_carry_the_total_and_the_discount(
    client: TestClient, platform: Platform, paid: Paid
) -> None:
    token = platform.services["operators"].issue_token(paid.user_id)
    headers = {"Authorization": f"Bearer {token}"}
    month = Month.of_us(platform.clock.now_us())

    statement = client.get("/api/v1/wallet/statement.csv", headers=headers)
    monthly = client.get(f"/api/v1/wallet/statements/monthly.csv?month={month}", headers=headers)

    for response in (statement, monthly):
        assert response.status_code == 200, response.text
        head, *rows = list(csv.reader(io.StringIO(response.text)))
        assert head[-2:] == ["order_total", "discount"]
        by_reference = {row[head.index("reference")]: row for row in rows}
        assert by_reference[paid.discounted][-2:] == ["100.00", "13.00"]
        assert by_reference[paid.discounted][head.index("amount")] == "-87.00"
        assert by_reference[paid.plain][-2:] == ["", ""]
