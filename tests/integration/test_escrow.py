"""Escrow trades on a real database: every path's money, timers on the test clock, refusals
without side effects, the reconcile alarm, and the confirm-versus-timer race."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import text
from tests.conftest import database_kind
from tests.integration.gateway_support import PAYMENT_PASSWORD, make_buyer
from tests.support.snapshots import rows_of

from paybao.bootstrap import Platform
from paybao.domain.accounts import Purpose, platform_account
from paybao.domain.errors import DomainError
from paybao.domain.escrow import EscrowStatus, GoodsType
from paybao.domain.ledger import Transfer, TransferFlags
from paybao.services.escrow import Escrow, EscrowService, Evidence, Party

DAY_S = 86_400
PRICE_FEN = 100_00
FEE_FEN = 60  # 0.6 % of 100.00


class Market:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.escrow: EscrowService = platform.services["escrow"]
        self.buyer = make_buyer(platform, "13800138001", balance_fen=1000_00)
        self.seller = make_buyer(platform, "13800138002", balance_fen=0)
        self.counter = 0

    def buy(self, goods_type: GoodsType = GoodsType.EXPRESS, price_fen: int = PRICE_FEN) -> Escrow:
        listing = self.escrow.list_item(self.seller, "二手自行车", price_fen, goods_type)
        self.counter += 1
        return self.escrow.buy(listing.id, self.buyer, PAYMENT_PASSWORD, f"req-{self.counter}")

    def shipped(self, goods_type: GoodsType = GoodsType.EXPRESS) -> Escrow:
        bought = self.buy(goods_type)
        return self.escrow.ship(bought.escrow_no, Party.seller(self.seller), "SF", "SF1234567")

    def balance(self, user_id: int) -> int:
        account_id = self.platform.services["users"].record(user_id).wallet_account_id
        return int(self.platform.ledger.balance(account_id).balance_fen)

    def platform_balance(self, purpose: Purpose) -> tuple[int, int]:
        spec = platform_account(purpose)
        account_id = self.platform.ledger.open_accounts([spec])[spec.key]
        found = self.platform.ledger.balance(account_id)
        return found.balance_fen, found.pending_credits_fen

    def advance_days(self, days: float) -> None:
        self.platform.sandbox_clock.advance(int(days * DAY_S))

    def assert_clean(self) -> None:
        report = self.platform.reconcile.run()
        assert report.differences == []
        assert report.clean


def near(actual_us: int | None, expected_us: int) -> bool:
    """Equal but for the wall time that passes while the test runs (the clock is an offset)."""
    return actual_us is not None and abs(actual_us - expected_us) < 5 * 10**6


@pytest.fixture
def market(platform: Platform) -> Market:
    return Market(platform)


# What an escrow action writes: a refusal must leave every row of these as it was.
ESCROW_TABLES = ("ledger_accounts", "ledger_transfers", "escrow_trades", "escrow_messages", "jobs")


# Happy paths --------------------------------------------------------------------------------


def test_buy_holds_the_money_and_confirm_pays_the_seller_less_fee(market: Market) -> None:
    bought = market.buy()
    assert bought.status is EscrowStatus.WAIT_SELLER_SEND_GOODS
    assert market.balance(market.buyer) == 1000_00  # held, not yet moved
    assert market.platform_balance(Purpose.ESCROW) == (0, PRICE_FEN)
    market.assert_clean()
    shipped = market.escrow.ship(bought.escrow_no, Party.seller(market.seller), "SF", "SF1")
    assert shipped.status is EscrowStatus.WAIT_BUYER_CONFIRM_GOODS
    assert shipped.confirm_due_at_us == shipped.shipped_at_us + 10 * DAY_S * 1_000_000
    done = market.escrow.confirm(bought.escrow_no, market.buyer, PAYMENT_PASSWORD)
    assert done.status is EscrowStatus.TRADE_FINISHED
    assert (done.fee_fen, done.refund_fen) == (FEE_FEN, 0)
    assert market.balance(market.buyer) == 1000_00 - PRICE_FEN
    assert market.balance(market.seller) == PRICE_FEN - FEE_FEN
    assert market.platform_balance(Purpose.ESCROW) == (0, 0)
    market.assert_clean()


def test_cancel_before_shipment_gives_everything_back(market: Market) -> None:
    bought = market.buy()
    closed = market.escrow.cancel(bought.escrow_no, Party.buyer(market.buyer))
    assert closed.status is EscrowStatus.TRADE_CLOSED
    assert closed.refund_fen == PRICE_FEN
    assert market.balance(market.buyer) == 1000_00
    assert market.balance(market.seller) == 0
    market.assert_clean()


def test_recharge_goods_ship_on_payment_and_confirm_at_once(market: Market) -> None:
    bought = market.buy(GoodsType.AUTO_RECHARGE)
    assert bought.status is EscrowStatus.WAIT_BUYER_CONFIRM_GOODS
    market.advance_days(0.001)
    assert market.escrow.get(bought.escrow_no).status is EscrowStatus.TRADE_FINISHED
    market.assert_clean()


def test_the_clock_runs_several_timers_in_order_each_at_its_due_time(market: Market) -> None:
    kinds = [GoodsType.SURFACE_MAIL, GoodsType.EXPRESS, GoodsType.VIRTUAL, GoodsType.AUTO_DELIVERY]
    trades = [market.shipped(kind) for kind in kinds]
    market.advance_days(11)
    ended = [market.escrow.get(t.escrow_no) for t in trades]
    assert [e.status for e in ended] == [EscrowStatus.WAIT_BUYER_CONFIRM_GOODS] + [
        EscrowStatus.TRADE_FINISHED
    ] * 3
    for trade, after in zip(trades[1:], ended[1:], strict=True):
        # The sandbox clock stops at each due time in turn (wall time keeps ticking a little).
        assert trade.confirm_due_at_us is not None and after.ended_at_us is not None
        assert 0 <= after.ended_at_us - trade.confirm_due_at_us < 5 * 10**6
    assert ended[3].ended_at_us < ended[2].ended_at_us < ended[1].ended_at_us
    market.advance_days(20)
    assert market.escrow.get(trades[0].escrow_no).status is EscrowStatus.TRADE_FINISHED
    assert market.balance(market.seller) == 4 * (PRICE_FEN - FEE_FEN)
    market.assert_clean()


def test_a_refund_request_pauses_the_timer_and_a_lapse_resumes_it(market: Market) -> None:
    shipped = market.shipped()  # 10 days to confirm
    market.advance_days(3)
    asked = market.escrow.request_refund(shipped.escrow_no, market.buyer, 30_00, "broken")
    assert asked.status is EscrowStatus.REFUNDING
    assert asked.confirm_due_at_us is None
    assert near(asked.confirm_remaining_us, 7 * DAY_S * 10**6)
    market.advance_days(4)
    refused = market.escrow.refuse_refund(shipped.escrow_no, Party.seller(market.seller), "no")
    assert refused.status is EscrowStatus.REFUND_REFUSED
    market.assert_clean()
    market.advance_days(7)  # the buyer lets the escalation window pass
    lapsed = market.escrow.get(shipped.escrow_no)
    assert lapsed.status is EscrowStatus.WAIT_BUYER_CONFIRM_GOODS
    assert refused.timer_due_at_us is not None
    assert near(lapsed.confirm_due_at_us, refused.timer_due_at_us + 7 * DAY_S * 10**6)
    market.advance_days(6.9)
    assert market.escrow.get(shipped.escrow_no).status is EscrowStatus.WAIT_BUYER_CONFIRM_GOODS
    market.advance_days(0.2)
    assert market.escrow.get(shipped.escrow_no).status is EscrowStatus.TRADE_FINISHED
    market.assert_clean()


def test_withdrawing_a_request_resumes_with_the_time_left_and_extension_adds(
    market: Market,
) -> None:
    shipped = market.shipped(GoodsType.VIRTUAL)  # 3 days
    market.advance_days(1)
    market.escrow.request_refund(shipped.escrow_no, market.buyer, PRICE_FEN, "late")
    market.advance_days(2)
    resumed = market.escrow.withdraw_refund(shipped.escrow_no, market.buyer)
    now_us = market.platform.clock.now_us()
    assert near(resumed.confirm_due_at_us, now_us + 2 * DAY_S * 10**6)
    extended = market.escrow.extend(shipped.escrow_no, Party.seller(market.seller), DAY_S)
    assert extended.confirm_due_at_us == resumed.confirm_due_at_us + DAY_S * 10**6
    market.advance_days(2.5)
    assert market.escrow.get(shipped.escrow_no).status is EscrowStatus.WAIT_BUYER_CONFIRM_GOODS
    market.advance_days(0.6)
    assert market.escrow.get(shipped.escrow_no).status is EscrowStatus.TRADE_FINISHED
    market.assert_clean()


def test_a_silent_seller_agrees_a_partial_refund(market: Market) -> None:
    shipped = market.shipped()
    market.escrow.request_refund(shipped.escrow_no, market.buyer, 30_00, "one wheel missing")
    market.advance_days(5.01)
    ended = market.escrow.get(shipped.escrow_no)
    assert ended.status is EscrowStatus.TRADE_FINISHED
    assert (ended.refund_fen, ended.fee_fen) == (30_00, 42)
    assert market.balance(market.buyer) == 1000_00 - 70_00
    assert market.balance(market.seller) == 70_00 - 42
    market.assert_clean()


def test_seller_agrees_a_full_refund(market: Market) -> None:
    shipped = market.shipped()
    market.escrow.request_refund(shipped.escrow_no, market.buyer, PRICE_FEN, "never came")
    closed = market.escrow.agree_refund(shipped.escrow_no, Party.seller(market.seller))
    assert closed.status is EscrowStatus.TRADE_CLOSED
    assert market.balance(market.buyer) == 1000_00
    market.assert_clean()


def _longest_escrow_timer_s(platform: Platform) -> int:
    settings = platform.settings
    timers_s = [
        settings.escrow_confirm_s_auto_recharge,
        settings.escrow_confirm_s_auto_delivery,
        settings.escrow_confirm_s_virtual,
        settings.escrow_confirm_s_express,
        settings.escrow_confirm_s_surface_mail,
        settings.escrow_refund_response_s,
        settings.escrow_escalate_window_s,
        settings.escrow_pay_timeout_s,
    ]
    return max(timers_s)


@pytest.mark.parametrize(
    ("refund_fen", "buyer_spent", "seller_gets", "status"),
    [
        (PRICE_FEN, 0, 0, EscrowStatus.TRADE_CLOSED),
        (40_00, 60_00, 60_00 - 36, EscrowStatus.TRADE_FINISHED),
        (0, PRICE_FEN, PRICE_FEN - FEE_FEN, EscrowStatus.TRADE_FINISHED),
    ],
)
def test_dispute_and_each_ruling(
    market: Market, refund_fen: int, buyer_spent: int, seller_gets: int, status: EscrowStatus
) -> None:
    shipped = market.shipped()
    no = shipped.escrow_no
    market.escrow.request_refund(no, market.buyer, PRICE_FEN, "not as described")
    market.escrow.refuse_refund(no, Party.seller(market.seller), "it is as described")
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 100
    disputed = market.escrow.escalate(no, market.buyer, Evidence("photo", png, "image/png"))
    assert disputed.status is EscrowStatus.DISPUTE
    market.escrow.add_message(no, Party.seller(market.seller), Evidence("tracking shows delivered"))
    # No timer runs during a dispute: the clock passes every escrow timer's length (the longest,
    # surface mail's 30 days, plus a day) with each job and day close on the way. Not a fixed 60
    # days: each simulated day runs its day close (a reconcile), 50 ms apiece.
    market.advance_days(_longest_escrow_timer_s(market.platform) / DAY_S + 1)
    assert market.escrow.get(no).status is EscrowStatus.DISPUTE
    market.assert_clean()
    assert [d.escrow_no for d in market.escrow.disputes()] == [no]
    ruled = market.escrow.rule(no, Party.operator(1), refund_fen, "decided on the evidence")
    assert ruled.status is status
    assert market.balance(market.buyer) == 1000_00 - buyer_spent
    assert market.balance(market.seller) == seller_gets
    messages = market.escrow.messages(no, Party.operator(1))
    assert [m.author for m in messages if not m.author.startswith("system")] == [
        "buyer",
        "seller",
    ]
    image_message = next(m for m in messages if m.has_image)
    image, kind = market.escrow.image(no, image_message.id, Party.buyer(market.buyer))
    assert (image, kind) == (png, "image/png")
    market.assert_clean()


def test_unpaid_merchant_escrow_closes_after_its_timeout(market: Market) -> None:
    from paybao.services.escrow import NewEscrow

    escrow = market.escrow
    order = escrow.create_for_merchant(
        NewEscrow(
            merchant_id=9,
            app_id="2021000000000999",
            out_trade_no="o-1",
            payee_account_id=market.platform.services["users"]
            .record(market.seller)
            .wallet_account_id,
            fee_rate_ppm=6000,
            title="游戏点卡",
            goods_type=GoodsType.VIRTUAL,
            total_fen=PRICE_FEN,
        )
    )
    assert order.status is EscrowStatus.WAIT_BUYER_PAY
    market.assert_clean()
    market.advance_days(1.01)
    assert escrow.get(order.escrow_no).status is EscrowStatus.TRADE_CLOSED
    market.assert_clean()


# Refusals: the code, and nothing written -----------------------------------------------------


def _refused(platform: Platform, code: str, action: Any) -> None:
    before = rows_of(platform, ESCROW_TABLES)
    with pytest.raises(DomainError) as refused:
        action()
    assert refused.value.code == code
    assert rows_of(platform, ESCROW_TABLES) == before


def test_confirm_before_ship_is_refused_without_side_effect(market: Market) -> None:
    bought = market.buy()
    _refused(
        market.platform,
        "escrow_not_shipped",
        lambda: market.escrow.confirm(bought.escrow_no, market.buyer, PAYMENT_PASSWORD),
    )


def test_ship_after_refund_is_refused_without_side_effect(market: Market) -> None:
    bought = market.buy()
    market.escrow.cancel(bought.escrow_no, Party.buyer(market.buyer))
    _refused(
        market.platform,
        "escrow_closed",
        lambda: market.escrow.ship(bought.escrow_no, Party.seller(market.seller), "SF", "1"),
    )


def test_double_confirm_is_refused_without_side_effect(market: Market) -> None:
    shipped = market.shipped()
    market.escrow.confirm(shipped.escrow_no, market.buyer, PAYMENT_PASSWORD)
    _refused(
        market.platform,
        "escrow_already_finished",
        lambda: market.escrow.confirm(shipped.escrow_no, market.buyer, PAYMENT_PASSWORD),
    )


def test_refund_more_than_held_is_refused_without_side_effect(market: Market) -> None:
    shipped = market.shipped()
    _refused(
        market.platform,
        "escrow_refund_exceeds_held",
        lambda: market.escrow.request_refund(shipped.escrow_no, market.buyer, PRICE_FEN + 1, "x"),
    )


def test_other_parties_are_refused_without_side_effect(market: Market) -> None:
    shipped = market.shipped()
    stranger = make_buyer(market.platform, "13800138009", balance_fen=0)
    _refused(
        market.platform,
        "escrow_not_party",
        lambda: market.escrow.confirm(shipped.escrow_no, stranger, PAYMENT_PASSWORD),
    )
    _refused(
        market.platform,
        "escrow_not_party",
        lambda: market.escrow.ship(shipped.escrow_no, Party.buyer(market.buyer), "SF", "1"),
    )


def test_buying_beyond_the_balance_is_refused_without_side_effect(market: Market) -> None:
    listing = market.escrow.list_item(market.seller, "钢琴", 2000_00, GoodsType.EXPRESS)
    _refused(
        market.platform,
        "buyer_balance_not_enough",
        lambda: market.escrow.buy(listing.id, market.buyer, PAYMENT_PASSWORD, "big"),
    )


def test_a_replayed_purchase_returns_the_first(market: Market) -> None:
    listing = market.escrow.list_item(market.seller, "书", 10_00, GoodsType.EXPRESS)
    first = market.escrow.buy(listing.id, market.buyer, PAYMENT_PASSWORD, "same")
    again = market.escrow.buy(listing.id, market.buyer, PAYMENT_PASSWORD, "same")
    assert again.escrow_no == first.escrow_no
    assert market.balance(market.buyer) == 1000_00
    market.assert_clean()


# The reconcile alarm ------------------------------------------------------------------------


def test_an_orphaned_hold_is_an_alarm(market: Market) -> None:
    platform = market.platform
    escrow_spec = platform_account(Purpose.ESCROW)
    escrow_id = platform.ledger.open_accounts([escrow_spec])[escrow_spec.key]
    wallet_id = platform.services["users"].record(market.buyer).wallet_account_id
    hold = Transfer("escrow:E0000:hold", wallet_id, escrow_id, 5_00, flags=TransferFlags.PENDING)
    platform.ledger.apply([hold])
    kinds = [d.kind for d in platform.reconcile.run().differences]
    assert kinds == ["escrow_orphaned_hold"]


def test_a_held_trade_whose_timer_vanished_is_an_alarm(market: Market) -> None:
    shipped = market.shipped()
    with market.platform.engine.begin() as connection:
        connection.execute(text("UPDATE jobs SET status = 'cancelled' WHERE kind = 'escrow_timer'"))
    differences = market.platform.reconcile.run().differences
    assert [(d.kind, d.subject) for d in differences] == [
        ("escrow_stuck_hold", f"escrow {shipped.escrow_no}")
    ]


# Concurrency --------------------------------------------------------------------------------


def _move_clock_us(platform: Platform, delta_us: int) -> None:
    """Move time without running what falls due (the race runs it)."""
    platform.clock.set_offset_us(platform.clock.offset_us(fresh=True) + delta_us)


def _race_confirm_against_timer(market: Market, escrow_no: str) -> list[str]:
    """The buyer confirms while the worker runs the due timer; returns the buyer's refusals."""
    barrier = threading.Barrier(2)
    errors: list[str] = []

    def buyer() -> None:
        barrier.wait()
        try:
            market.escrow.confirm(escrow_no, market.buyer, PAYMENT_PASSWORD)
        except DomainError as error:
            errors.append(error.code)

    def worker() -> None:
        barrier.wait()
        market.platform.jobs.run_due()

    threads = [threading.Thread(target=buyer), threading.Thread(target=worker)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return errors


def test_buyer_confirm_racing_the_timer_pays_exactly_once(market: Market) -> None:
    if database_kind() != "postgresql":
        pytest.skip("the row-lock race is meaningful on PostgreSQL")
    platform = market.platform
    trades = []
    for _ in range(4):  # a day apart, so that each race has exactly one due timer
        trades.append(market.shipped())
        _move_clock_us(platform, DAY_S * 10**6)
    for trade in trades:
        assert trade.confirm_due_at_us is not None
        _move_clock_us(platform, trade.confirm_due_at_us + 10**6 - platform.clock.now_us())
        errors = _race_confirm_against_timer(market, trade.escrow_no)
        assert errors in ([], ["escrow_already_finished"])
        assert market.escrow.get(trade.escrow_no).status is EscrowStatus.TRADE_FINISHED
    assert market.balance(market.seller) == 4 * (PRICE_FEN - FEE_FEN)
    with platform.engine.connect() as connection:
        released = connection.execute(
            text("SELECT COUNT(*) FROM ledger_transfers WHERE id LIKE :pattern"),
            {"pattern": "escrow:%:release"},
        ).scalar()
    assert released == 4
    market.assert_clean()
