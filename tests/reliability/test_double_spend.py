"""Double-spend storms: many concurrent clients go for the same money at once, and exactly the
allowed amount moves. Runs on SQLite and PostgreSQL (the fixtures decide)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from paybao.bootstrap import Platform
from paybao.domain.escrow import GoodsType
from paybao.services.escrow import Party
from paybao.services.trades import NewTrade, TradeRef
from tests.integration.gateway_support import (
    APP_ID,
    PAYMENT_PASSWORD,
    make_buyer,
    make_shop,
    wallet_balance,
)

CLIENTS = 12


def storm(attempts: list[Callable[[], Any]]) -> Counter[str]:
    """Start every attempt at the same instant; count outcomes by result or error code."""
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    barrier = threading.Barrier(len(attempts))

    def run(attempt: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            attempt()
            result = "ok"
        except Exception as error:  # a refusal is an outcome to count, not a failure
            result = getattr(error, "code", type(error).__name__)
        with lock:
            outcomes[result] += 1

    threads = [threading.Thread(target=run, args=(attempt,)) for attempt in attempts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert sum(outcomes.values()) == len(attempts), "an attempt hung"
    return outcomes


def test_one_balance_spent_by_payments_and_transfers_at_once(platform: Platform) -> None:
    make_shop(platform)
    payer = make_buyer(platform, phone="13900000001", balance_fen=100_00)
    payee = make_buyer(platform, phone="13900000002", balance_fen=0)
    trades, wallet = platform.services["trades"], platform.services["wallet"]
    codes = [trades.issue_auth_code(payer) for _ in range(CLIENTS // 2)]

    def pay(number: int, code: str) -> Callable[[], Any]:
        new = NewTrade(
            APP_ID, f"storm-{number}", "bar_code", "storm", 20_00, fingerprint=f"f{number}"
        )
        return lambda: trades.pay_with_code(new, code)

    def send() -> Callable[[], Any]:
        return lambda: wallet.transfer(payer, "13900000002", 20_00, PAYMENT_PASSWORD)

    attempts = [pay(n, code) for n, code in enumerate(codes)] + [send() for _ in codes]
    outcomes = storm(attempts)
    assert outcomes["ok"] == 5, outcomes  # 100.00 in steps of 20.00
    assert wallet_balance(platform, payer) == 0
    moved_to_payee = wallet_balance(platform, payee)
    assert moved_to_payee % 20_00 == 0
    assert platform.reconcile.run().clean


def test_one_trade_refunded_by_many_requests_at_once(platform: Platform) -> None:
    make_shop(platform)
    buyer = make_buyer(platform, phone="13900000003", balance_fen=100_00)
    trades, refunds = platform.services["trades"], platform.services["refunds"]
    new = NewTrade(APP_ID, "storm-refund", "bar_code", "storm", 100_00, fingerprint="r")
    trades.pay_with_code(new, trades.issue_auth_code(buyer))
    ref = TradeRef(out_trade_no="storm-refund")
    distinct = storm(
        [lambda n=n: refunds.refund(APP_ID, ref, f"req-{n}", 30_00) for n in range(CLIENTS)]
    )
    assert distinct["ok"] == 3, distinct  # 3 x 30.00 fit in 100.00, the 4th does not
    assert wallet_balance(platform, buyer) == 90_00
    same = storm([lambda: refunds.refund(APP_ID, ref, "req-same", 10_00) for _ in range(CLIENTS)])
    assert same == Counter({"ok": CLIENTS}), same  # one refund, answered to every repeat
    assert wallet_balance(platform, buyer) == 100_00
    assert platform.reconcile.run().clean


def test_one_escrow_confirmed_many_times_at_once(platform: Platform) -> None:
    escrow = platform.services["escrow"]
    seller = make_buyer(platform, phone="13900000004", balance_fen=0)
    buyer = make_buyer(platform, phone="13900000005", balance_fen=50_00)
    listing = escrow.list_item(seller, "书", 50_00, GoodsType.EXPRESS)
    bought = escrow.buy(listing.id, buyer, PAYMENT_PASSWORD, "storm-key")
    escrow.ship(bought.escrow_no, Party.seller(seller), "SF", "SF123")
    outcomes = storm(
        [lambda: escrow.confirm(bought.escrow_no, buyer, PAYMENT_PASSWORD) for _ in range(CLIENTS)]
    )
    assert outcomes["ok"] >= 1, outcomes
    assert set(outcomes) <= {"ok", "escrow_already_finished"}, outcomes
    seller_balance = wallet_balance(platform, seller)
    assert 0 < seller_balance <= 50_00
    platform.sandbox_clock.advance(31 * 86_400)  # the confirm timer, had it survived, fires now
    assert wallet_balance(platform, seller) == seller_balance  # paid exactly once
    assert wallet_balance(platform, buyer) == 0
    assert platform.reconcile.run().clean
