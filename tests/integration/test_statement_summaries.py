"""Statements on the real database (SQLite, or PostgreSQL with PAYBAO_TEST_DATABASE_URL): a
user with top-ups, merchant payments, a refund and transfers over several China-time months and
a year boundary (23:30 UTC on Dec 31 is already Jan 1 in China); every summary is checked
against the wallet statement's own entries; REST, CSV, search and the SQL statement bound."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.integration.coupon_support import open_trade
from tests.integration.gateway_support import (
    LOGIN_PASSWORD,
    PAYMENT_PASSWORD,
    make_buyer,
    make_shop,
)
from tests.support.sql_log import sql_log, statements_in

from paybao.bootstrap import Platform
from paybao.domain.statement_summaries import Month, SearchFilter
from paybao.services.refunds import TradeRef
from paybao.services.wallet_statement import StatementQuery

BUYER = "13600136001"
FRIEND = "13600136002"


@dataclass
class Story:
    user_id: int
    friend_id: int
    months: list[Month]  # the months with entries, in order
    year: int  # the year of the first entries; Jan 1 of year + 1 has the last


def _advance_to(platform: Platform, at_us: int) -> None:
    now_us = platform.clock.now_us()
    assert at_us > now_us
    platform.sandbox_clock.advance((at_us - now_us + 999_999) // 1_000_000)


def _pay(platform: Platform, shop: Any, user_id: int, no: str, amount_fen: int) -> str:
    trade = open_trade(platform, shop, no, amount_fen)
    platform.services["trades"].pay_by_buyer(trade.trade_no, user_id, PAYMENT_PASSWORD)
    return str(trade.trade_no)


@pytest.fixture
def story(platform: Platform) -> Story:
    shop = make_shop(platform)  # named 测试商户
    user_id = make_buyer(platform, BUYER, balance_fen=1000_00)
    friend_id = make_buyer(platform, FRIEND, balance_fen=0)
    wallet = platform.services["wallet"]
    first = Month.of_us(platform.clock.now_us())
    paid = _pay(platform, shop, user_id, "o1", 30_00)
    _pay(platform, shop, user_id, "o2", 20_00)
    wallet.transfer(user_id, FRIEND, 100_00, PAYMENT_PASSWORD, memo="房租 November")
    platform.services["refunds"].refund(shop.app.app_id, TradeRef(trade_no=paid), "r1", 10_00)
    # Dec 31, 15:30 UTC = 23:30 in China: still December; 23:30 UTC is Jan 1 in China.
    year = datetime.fromtimestamp(platform.clock.now_us() // 10**6, UTC).year
    if first.month == 12:  # began in December: the boundary is the next year's
        year = first.year
    dec31 = int(datetime(year, 12, 31, 15, 30, tzinfo=UTC).timestamp()) * 10**6
    if dec31 > platform.clock.now_us():
        _advance_to(platform, dec31)
        _pay(platform, shop, user_id, "o3", 5_00)
    _advance_to(platform, dec31 + 8 * 3600 * 10**6)  # 23:30 UTC
    wallet.transfer(friend_id, BUYER, 1_00, PAYMENT_PASSWORD, memo="还你")
    _pay(platform, shop, user_id, "o4", 7_00)
    months = sorted({first, Month(year, 12), Month(year + 1, 1)})
    return Story(user_id, friend_id, months, year)


def _entries(platform: Platform, user_id: int, from_us: int, to_us: int) -> list[Any]:
    query = StatementQuery(from_us=from_us, to_us=to_us, limit=100)
    entries = platform.services["wallet"].statement(user_id, query)
    assert len(entries) < 100
    return list(entries)


def _balance_before(platform: Platform, user_id: int, at_us: int) -> int:
    query = StatementQuery(to_us=at_us, limit=1)
    entries = platform.services["wallet"].statement(user_id, query)
    return entries[0].balance_after_fen if entries else 0


def test_months_agree_with_the_statement_entries(platform: Platform, story: Story) -> None:
    statements = platform.services["statements"]
    for month in story.months:
        summary = statements.monthly(story.user_id, month)
        entries = _entries(platform, story.user_id, month.start_us, month.end_us)
        assert summary.totals.in_fen == sum(e.amount_fen for e in entries if e.amount_fen > 0)
        assert summary.totals.out_fen == -sum(e.amount_fen for e in entries if e.amount_fen < 0)
        assert summary.totals.in_count + summary.totals.out_count == len(entries)
        assert summary.opening_fen == _balance_before(platform, story.user_id, month.start_us)
        if entries:
            assert summary.closing_fen == entries[0].balance_after_fen  # newest first
        by_category = sum(c.totals.net_fen for c in summary.categories)
        assert by_category == summary.totals.net_fen
    first = statements.monthly(story.user_id, story.months[0])
    # The friend (masked phone) got 100.00, the shop 50.00 in two payments.
    payees = [(p.name, p.amount_fen, p.count) for p in first.top_payees]
    assert payees[:2] == [("136****6002", 100_00, 1), ("测试商户", 50_00, 2)]


def test_the_year_boundary_is_china_time(platform: Platform, story: Story) -> None:
    statements = platform.services["statements"]
    january = statements.monthly(story.user_id, Month(story.year + 1, 1))
    # 23:30 UTC on Dec 31: the friend's 1.00 and the 7.00 purchase are January's.
    assert january.totals.in_fen == 1_00 and january.totals.out_fen == 7_00
    assert january.previous == statements.monthly(story.user_id, Month(story.year, 12)).totals
    this_year = statements.annual(story.user_id, story.year)
    next_year = statements.annual(story.user_id, story.year + 1)
    assert next_year.totals.out_fen == 7_00 and next_year.opening_fen == this_year.closing_fen
    assert next_year.months[0].totals.in_fen == 1_00
    assert this_year.biggest_payment is not None
    assert -this_year.biggest_payment.amount_fen == 30_00
    assert this_year.biggest_payment.counterparty == "测试商户"
    assert this_year.top_merchant is not None and this_year.top_merchant.name == "测试商户"
    entries = _entries(
        platform, story.user_id, Month(story.year, 1).start_us, january.month.start_us
    )
    assert this_year.totals.net_fen == sum(e.amount_fen for e in entries)
    assert this_year.closing_fen == entries[0].balance_after_fen


def _token(client: TestClient, phone: str) -> dict[str, str]:
    response = client.post(
        "/api/v1/wallet/sessions", json={"phone": phone, "login_password": LOGIN_PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def test_rest_monthly_annual_search_and_csv(
    client: TestClient, platform: Platform, story: Story
) -> None:
    headers = _token(client, BUYER)
    base = "/api/v1/wallet/statements"
    month = story.months[0]
    body = client.get(f"{base}/monthly?month={month}", headers=headers).json()
    assert body["month"] == str(month) and body["totals"]["out_count"] >= 3
    assert body["closing_balance_fen"] - body["opening_balance_fen"] == body["totals"]["net_fen"]
    annual = client.get(f"{base}/annual?year={story.year + 1}", headers=headers).json()
    assert len(annual["months"]) == 12 and annual["top_merchant"]["name"] == "测试商户"
    found = client.get(f"{base}/search?q=房租", headers=headers).json()
    assert [e["amount_fen"] for e in found["entries"]] == [-100_00]
    assert found["entries"][0]["counterparty"].endswith(FRIEND[-4:])
    assert found["entries"][0]["memo"] == "房租 November"
    assert client.get(f"{base}/search?q=NOVEMBER", headers=headers).json()["entries"]
    ranged = client.get(f"{base}/search?min_fen=2000&max_fen=3000", headers=headers).json()
    assert sorted(e["amount_fen"] for e in ranged["entries"]) == [-30_00, -20_00]
    refunds = client.get(f"{base}/search?kind=refund", headers=headers).json()["entries"]
    assert [(e["amount_fen"], e["counterparty"]) for e in refunds] == [(10_00, "测试商户")]
    paged = client.get(f"{base}/search?limit=2", headers=headers).json()
    older = client.get(f"{base}/search?limit=2&before={paged['next_before']}", headers=headers)
    assert older.json()["entries"][0]["seq"] < paged["entries"][-1]["seq"]
    text = client.get(f"{base}/monthly.csv?month={month}", headers=headers).text
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:4] == ["time", "kind", "category", "amount"]
    entries = _entries(platform, story.user_id, month.start_us, month.end_us)
    assert len(rows) - 1 == len(entries)
    assert sum(round(float(r[3]) * 100) for r in rows[1:]) == sum(e.amount_fen for e in entries)


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("monthly?month=2026-13", "statement_month_invalid"),
        ("monthly?month=2999-01", "statement_month_not_started"),
        ("annual?year=2999", "statement_year_not_started"),
        ("annual?year=1999", "statement_year_invalid"),
        ("search?q=" + "x" * 33, "search_text_too_long"),
        ("search?min_fen=5&max_fen=4", "search_amount_invalid"),
        ("search?kind=nope", "search_kind_invalid"),
        ("search?date_from=2026-02-01&date_to=2026-01-01", "search_dates_invalid"),
    ],
)
def test_rest_refusals_are_400_with_their_code(
    client: TestClient, platform: Platform, path: str, code: str
) -> None:
    make_buyer(platform, BUYER, balance_fen=0)
    response = client.get(f"/api/v1/wallet/statements/{path}", headers=_token(client, BUYER))
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == code


def test_every_response_code_is_documented(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()["paths"]
    for name in ("monthly", "monthly.csv", "annual", "search"):
        documented = set(spec[f"/api/v1/wallet/statements/{name}"]["get"]["responses"])
        assert {"200", "400", "401", "403", "422"} <= documented, (name, documented)


__all__ = ["sql_log"]  # the fixture


def test_a_month_costs_a_fixed_number_of_indexed_reads(
    platform: Platform, story: Story, sql_log: list[str]
) -> None:
    statements = platform.services["statements"]
    sql_log.clear()
    statements.monthly(story.user_id, story.months[0])
    sql = statements_in(sql_log)
    transfers = [s for s in sql if "ledger_transfers" in s]
    # The month, the month before, the opening balance; plus the user and the counterparties
    # (trades, escrow, transfers): no statement per entry.
    assert len(transfers) == 3, "\n".join(transfers)
    assert len(sql) <= 8, "\n".join(sql)
    # Each read is bounded by the account and the time range (the 0034 indexes lead with both).
    for s in transfers:
        assert "debit_account_id =" in s and "credit_account_id =" in s
        assert "created_at_us >=" in s
    if platform.engine.dialect.name == "sqlite":
        with platform.engine.connect() as connection:
            plan = connection.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT seq FROM ledger_transfers"
                " WHERE debit_account_id = 1 AND created_at_us >= 0 AND created_at_us < 10"
            ).all()
        assert any("ix_ledger_transfers_debit_time" in str(row) for row in plan), plan


def test_search_finds_the_friend_only_for_its_own_user(platform: Platform, story: Story) -> None:
    statements = platform.services["statements"]
    mine = statements.search(story.friend_id, SearchFilter(text="还你"))
    assert [x.amount_fen for x in mine.lines] == [-1_00]
    assert mine.lines[0].counterparty.endswith(BUYER[-4:])
