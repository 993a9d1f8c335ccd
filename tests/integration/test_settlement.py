"""Settlement, bills and the three-way reconciliation on a real database and the sandbox bank."""

from __future__ import annotations

import csv
import io
import random
import zipfile
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import text
from tests.integration.gateway_support import (
    APP_ID,
    PAYMENT_PASSWORD,
    balance_fen,
    call,
    make_buyer,
    make_shop,
)

from paybao.bootstrap import Platform
from paybao.domain.bills import day_period, last_closed_day
from paybao.domain.cards import generate_card_number
from paybao.domain.settlement import SettlementStatus
from paybao.services.banking import StatementLine
from paybao.services.trades import NewTrade, TradeRef
from paybao.settings import Settings

US_PER_S = 1_000_000


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Gateway calls here carry wall-clock timestamps while the sandbox clock runs a day ahead.
    return settings.model_copy(update={"gateway_timestamp_window_s": 86_400})


def _card(platform: Platform, merchant_id: int) -> str:
    card = generate_card_number(random.Random(merchant_id), "ICBC")
    platform.services["bank"].open_card(
        card, "ICBC", "商户", "110101199003071234", "13900000000", 0
    )
    platform.services["settlement"].bind_card(merchant_id, card)
    return card


def _pay(platform: Platform, buyer: int, n: int, amount_fen: int) -> str:
    trades = platform.services["trades"]
    new = NewTrade(
        APP_ID,
        f"o{n}",
        "create",
        f"商品{n}",
        amount_fen,
        f"fp{n}",
        store_id="S1",
        operator_id="op7",
        terminal_id="T9",
    )
    trade = trades.create(new)
    return str(trades.pay_by_buyer(trade.trade_no, buyer, PAYMENT_PASSWORD).trade_no)


def _business_day(platform: Platform) -> tuple[list[str], int]:
    """N=3 payments and M=2 refunds today; returns trade numbers and the expected net."""
    buyer = make_buyer(platform, balance_fen=1_000_00)
    amounts = [100_00, 3_33, 50_01]
    trade_nos = [_pay(platform, buyer, n, a) for n, a in enumerate(amounts)]
    refunds = platform.services["refunds"]
    refunds.refund(APP_ID, TradeRef(trade_no=trade_nos[0]), "r1", 40_00)
    refunds.refund(APP_ID, TradeRef(trade_no=trade_nos[2]), "r2", 50_01)
    return trade_nos, 0


def _close_today(platform: Platform) -> Any:
    """Advance the sandbox clock past the next China midnight: the day-close job runs."""
    today_end_us = day_period(last_closed_day(platform.clock.now_us()))
    next_midnight_us = today_end_us.end_us + 86_400 * US_PER_S
    seconds = (next_midnight_us - platform.clock.now_us()) // US_PER_S + 5
    # A running worker sweeps every poll; do one sweep before midnight as it would have.
    platform.services["day_close"].ensure_scheduled()
    return platform.sandbox_clock.advance(seconds)


def _merchant_account(platform: Platform) -> int:
    shop_merchant = platform.services["merchants"].app(APP_ID).merchant_id
    return int(platform.services["merchants"].merchant(shop_merchant).settlement_account_id)


def _detail_rows(content: bytes) -> tuple[list[dict[str, str]], list[str]]:
    with zipfile.ZipFile(io.BytesIO(content), metadata_encoding="gbk") as archive:
        name = next(n for n in archive.namelist() if n.endswith("_业务明细.csv"))
        lines = archive.read(name).decode("gbk").splitlines()
    body = [line for line in lines if not line.startswith("#")]
    return list(csv.DictReader(body)), [line for line in lines if line.startswith("#")]


def _fen(cell: str) -> int:
    return int(Decimal(cell.strip()) * 100)


def test_day_bill_matches_the_ledger_to_the_fen_and_settles_t_plus_1(platform: Platform) -> None:
    shop = make_shop(platform)
    card = _card(platform, shop.merchant.id)
    account_id = _merchant_account(platform)
    _business_day(platform)
    day = last_closed_day(platform.clock.now_us() + 86_400 * US_PER_S)
    ledger_net = balance_fen(platform, account_id)
    _close_today(platform)

    name, content = _download(platform, "trade", day.isoformat())
    assert name.endswith(".csv.zip")
    rows, comments = _detail_rows(content)
    assert len([r for r in rows if "交易" in r["业务类型"]]) == 3
    assert len([r for r in rows if "退款" in r["业务类型"]]) == 2
    assert all(_fen(r["商家实收（元）"]) < 0 for r in rows if "退款" in r["业务类型"])
    net = sum(_fen(r["商家实收（元）"]) + _fen(r["服务费（元）"]) for r in rows)
    assert net == ledger_net
    assert {r["操作员"].strip() for r in rows} == {"op7"}
    assert {r["终端号"].strip() for r in rows} == {"T9"}
    trades_total = sum(_fen(r["商家实收（元）"]) for r in rows if "交易" in r["业务类型"])
    assert f"商家实收共{Decimal(trades_total) / 100:.2f}元" in comments[5]

    settled = platform.services["settlement"].of_merchant(shop.merchant.id)
    assert [(s.status, s.amount_fen) for s in settled] == [(SettlementStatus.PAID, ledger_net)]
    assert balance_fen(platform, account_id) == 0
    assert platform.services["bank"].card_balance_fen(card) == ledger_net


def _download(platform: Platform, bill_type: str, period: str) -> tuple[str, bytes]:
    bills = platform.services["bills"]
    url = bills.download_url(APP_ID, bill_type, period)
    token = urlsplit(url).query.removeprefix("token=")
    from urllib.parse import unquote

    return bills.open_download(unquote(token))  # type: ignore[no-any-return]


def test_settlement_survives_a_bank_failure_and_retries(platform: Platform) -> None:
    shop = make_shop(platform)
    card = _card(platform, shop.merchant.id)
    buyer = make_buyer(platform)
    _pay(platform, buyer, 1, 20_00)
    platform.services["bank"].script.append("fail")
    _close_today(platform)
    (settlement,) = platform.services["settlement"].of_merchant(shop.merchant.id)
    assert settlement.status is SettlementStatus.PENDING
    assert settlement.failure_code == "bank_declined" and settlement.attempts == 1
    assert platform.services["bank"].card_balance_fen(card) == 0
    platform.sandbox_clock.advance(3600)
    (settlement,) = platform.services["settlement"].of_merchant(shop.merchant.id)
    assert settlement.status is SettlementStatus.PAID and settlement.attempts == 2
    assert platform.services["bank"].card_balance_fen(card) == settlement.amount_fen
    report = platform.reconcile.run()
    assert report.differences == []
    assert report.clean


def test_manual_withdrawal_pays_the_card(platform: Platform) -> None:
    shop = make_shop(platform)
    card = _card(platform, shop.merchant.id)
    buyer = make_buyer(platform)
    _pay(platform, buyer, 1, 20_00)
    account_id = _merchant_account(platform)
    done = platform.services["settlement"].withdraw(shop.merchant.id, account_id, 10_00, "w1")
    assert done.status is SettlementStatus.PAID
    assert platform.services["bank"].card_balance_fen(card) == 10_00


def test_reconcile_reports_each_kind_of_difference(platform: Platform) -> None:
    shop = make_shop(platform)
    card = _card(platform, shop.merchant.id)
    account_id = _merchant_account(platform)
    buyer = make_buyer(platform)
    _pay(platform, buyer, 1, 20_00)
    for n in (1, 2, 3):
        platform.services["settlement"].withdraw(shop.merchant.id, account_id, n * 1_00, f"w{n}")
    day = last_closed_day(platform.clock.now_us() + 86_400 * US_PER_S)
    clean = platform.reconcile.run(day)
    assert clean.differences == []
    assert clean.clean
    bank = platform.services["bank"]
    ids = [f"mwd:{shop.merchant.id}:w{n}:1" for n in (1, 2, 3)]
    with platform.engine.begin() as tx:
        tx.execute(text("DELETE FROM bank_requests WHERE request_id = :r"), {"r": ids[0]})
        tx.execute(
            text("UPDATE bank_requests SET amount_fen = 999 WHERE request_id = :r"), {"r": ids[1]}
        )
    real_statement = bank.statement

    def doubled(day_asked: Any) -> list[StatementLine]:
        lines = real_statement(day_asked)
        return lines + [line for line in lines if line.request_id == ids[2]]

    bank.statement = doubled
    bank.credit("ghost:1", card, 5_00)
    report = platform.reconcile.run(day)
    kinds = {(d.kind, d.subject) for d in report.differences}
    assert ("missing_at_bank", ids[0]) in kinds
    assert ("amount_differs", ids[1]) in kinds
    assert ("duplicated", ids[2]) in kinds
    assert ("missing_in_ledger", "ghost:1") in kinds
    assert report.class_totals["bank.credits_fen"] == 999 + 3_00 * 2 + 5_00
    assert not report.clean


def test_bill_download_through_the_gateway_expires_after_30_s(
    platform: Platform, client: Any
) -> None:
    make_shop(platform)
    buyer = make_buyer(platform)
    _pay(platform, buyer, 1, 12_34)
    day = last_closed_day(platform.clock.now_us() + 86_400 * US_PER_S)
    early = call(
        client,
        "alipay.data.dataservice.bill.downloadurl.query",
        {"bill_type": "trade", "bill_date": day.isoformat()},
    )
    assert early["sub_code"] == "isp.bill_not_exist"
    _close_today(platform)
    answer = call(
        client,
        "alipay.data.dataservice.bill.downloadurl.query",
        {"bill_type": "trade", "bill_date": day.isoformat()},
    )
    assert answer["code"] == "10000"
    url = urlsplit(answer["bill_download_url"])
    response = client.get(f"{url.path}?{url.query}")
    assert response.status_code == 200
    rows, _ = _detail_rows(response.content)
    assert [_fen(r["订单金额（元）"]) for r in rows] == [12_34]
    platform.sandbox_clock.advance(31)
    assert client.get(f"{url.path}?{url.query}").status_code == 400
