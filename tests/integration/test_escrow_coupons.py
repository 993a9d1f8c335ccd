"""Coupons on escrow payments (SQLite, or PostgreSQL with PAYBAO_TEST_DATABASE_URL): a buyer's
platform coupon pays part of a marketplace purchase or a merchant's escrow order; the escrow
still holds the full price and the seller is paid in full; every way out of escrow (confirm,
cancel, a partial or full refund, the timers, a ruling) leaves every ledger balance right to the
fen and the reconcile clean; an inapplicable coupon refuses with its code and writes nothing; and
one coupon raced by two escrow payments pays for exactly one of them."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from tests.integration.coupon_support import (
    claim,
    marketing_spent,
    merchant_discount_terms,
    operator_campaign,
)
from tests.integration.credit_support import reconcile_clean
from tests.integration.gateway_support import PAYMENT_PASSWORD, make_buyer, make_shop
from tests.integration.test_escrow import ESCROW_TABLES
from tests.integration.test_merchant_escrow_pages import merchant_escrow
from tests.integration.test_wallet_rules import code_of
from tests.support.races import race_outcomes
from tests.support.snapshots import rows_of

from paybao.bootstrap import Platform
from paybao.domain.accounts import Purpose, platform_account
from paybao.domain.coupons import BEST_COUPONS, NO_COUPONS, CouponChoice, CouponStatus
from paybao.domain.escrow import EscrowStatus, GoodsType
from paybao.services.escrow import Escrow, EscrowService, Evidence, Party
from paybao.services.marketing import Creator, MarketingService

DAY_S = 86_400
PRICE_FEN = 100_00  # reaches the 满100减10 threshold
OFF_FEN = 10_00
FEE_RATE_PPM = 6_000  # the market's 0.6 %
BUYER_START_FEN = 1000_00


class World:
    def __init__(self, platform: Platform, phone: str = "13800138501") -> None:
        self.platform = platform
        self.escrow: EscrowService = platform.services["escrow"]
        self.marketing: MarketingService = platform.services["marketing"]
        self.buyer = make_buyer(platform, phone, balance_fen=BUYER_START_FEN)
        self.seller = make_buyer(platform, phone[:-1] + "9", balance_fen=0)
        self.keys = 0
        self.fees_before = self.account(Purpose.FEES).balance_fen

    def coupon(self, **changes: Any) -> int:
        return claim(self.platform, self.buyer, operator_campaign(self.platform, **changes))

    def buy(
        self,
        coupons: CouponChoice = NO_COUPONS,
        price_fen: int = PRICE_FEN,
        goods_type: GoodsType = GoodsType.EXPRESS,
    ) -> Escrow:
        listing = self.escrow.list_item(self.seller, "二手相机", price_fen, goods_type)
        self.keys += 1
        return self.escrow.buy(
            listing.id, self.buyer, PAYMENT_PASSWORD, f"coupon-{self.keys}", coupons
        )

    def ship(self, escrow: Escrow) -> Escrow:
        return self.escrow.ship(escrow.escrow_no, Party.seller(self.seller), "SF", "SF1")

    def account(self, purpose: Purpose) -> Any:
        spec = platform_account(purpose)
        account_id = self.platform.ledger.open_accounts([spec])[spec.key]
        return self.platform.ledger.balance(account_id)

    def wallet(self, user_id: int) -> Any:
        with self.platform.db.read() as tx:
            account_id = self.platform.services["users"].wallet_account_id_in(tx, user_id)
        return self.platform.ledger.balance(account_id)

    def money(self) -> dict[str, int]:
        """Every balance an escrow with a coupon moves, to the fen."""
        escrow = self.account(Purpose.ESCROW)
        buyer = self.wallet(self.buyer)
        return {
            "buyer": buyer.balance_fen,
            "buyer_available": buyer.available_fen,
            "seller": self.wallet(self.seller).balance_fen,
            "escrow_posted": escrow.balance_fen,
            "escrow_pending": escrow.pending_credits_fen,
            "marketing_spent": marketing_spent(self.platform),
            "fees": self.account(Purpose.FEES).balance_fen - self.fees_before,
        }

    def coupon_row(self, coupon_id: int) -> Any:
        with self.platform.engine.connect() as connection:
            return connection.execute(
                text("SELECT status, trade_no, discount_fen FROM coupons WHERE id = :id"),
                {"id": coupon_id},
            ).one()

    def advance_days(self, days: float) -> None:
        self.platform.sandbox_clock.advance(int(days * DAY_S))


@pytest.fixture
def world(platform: Platform) -> World:
    return World(platform)


def expected(
    *,
    buyer_paid: int,
    seller: int = 0,
    escrow_posted: int = 0,
    escrow_pending: int = 0,
    held: int = 0,
    spent: int = 0,
    fees: int = 0,
) -> dict[str, int]:
    return {
        "buyer": BUYER_START_FEN - buyer_paid,
        "buyer_available": BUYER_START_FEN - buyer_paid - held,
        "seller": seller,
        "escrow_posted": escrow_posted,
        "escrow_pending": escrow_pending,
        "marketing_spent": spent,
        "fees": fees,
    }


def assert_clean(platform: Platform) -> None:
    assert reconcile_clean(platform) == []


# Paying ---------------------------------------------------------------------------------------


def test_a_coupon_pays_part_and_the_seller_is_paid_the_full_price(world: World) -> None:
    coupon_id = world.coupon()
    bought = world.buy(CouponChoice(coupon_ids=(coupon_id,)))
    assert bought.status is EscrowStatus.WAIT_SELLER_SEND_GOODS
    assert (bought.discount_fen, bought.buyer_pay_fen) == (OFF_FEN, PRICE_FEN - OFF_FEN)
    # The buyer's 90.00 is held, the platform's 10.00 already sits in escrow: 100.00 in all.
    assert world.money() == expected(
        buyer_paid=0, held=90_00, escrow_posted=OFF_FEN, escrow_pending=90_00, spent=OFF_FEN
    )
    status, trade_no, discount = world.coupon_row(coupon_id)
    assert (status, trade_no, discount) == ("used", bought.escrow_no, OFF_FEN)
    assert [v.amount_fen for v in world.marketing.vouchers_of(bought.escrow_no)] == [OFF_FEN]
    assert_clean(world.platform)

    world.ship(bought)
    done = world.escrow.confirm(bought.escrow_no, world.buyer, PAYMENT_PASSWORD)
    assert done.status is EscrowStatus.TRADE_FINISHED
    assert (done.fee_fen, done.refund_fen, done.discount_back_fen) == (60, 0, 0)
    assert world.money() == expected(
        buyer_paid=90_00, seller=PRICE_FEN - 60, spent=OFF_FEN, fees=60
    )
    assert_clean(world.platform)


def test_the_best_coupon_is_taken_when_asked(world: World) -> None:
    world.coupon(face_fen=5_00)
    world.coupon(face_fen=8_00)
    bought = world.buy(BEST_COUPONS)
    assert bought.discount_fen == 8_00
    assert world.money()["buyer_available"] == BUYER_START_FEN - 92_00
    assert_clean(world.platform)


def test_a_merchants_escrow_order_paid_with_its_own_platform_coupon(platform: Platform) -> None:
    world = World(platform, "13800138511")
    shop = make_shop(platform)
    # A platform coupon limited to this shop: fits its escrow, not the marketplace's.
    coupon_id = world.coupon(merchant_id=shop.merchant.id)
    assert code_of(lambda: world.buy(CouponChoice(coupon_ids=(coupon_id,)))) == (
        "coupon_not_applicable"
    )
    order = merchant_escrow(platform, shop, "ESC-COUPON-1")
    offers = world.marketing.escrow_offers(order.total_fen, shop.merchant.id, world.buyer)
    assert [o.held.coupon.id for o in offers.platform] == [coupon_id]
    assert world.marketing.escrow_offers(order.total_fen, None, world.buyer).platform == ()
    paid = world.escrow.pay(
        order.escrow_no, world.buyer, PAYMENT_PASSWORD, CouponChoice(coupon_ids=(coupon_id,))
    )
    assert (paid.status, paid.discount_fen) == (EscrowStatus.WAIT_SELLER_SEND_GOODS, OFF_FEN)
    world.escrow.ship(paid.escrow_no, Party.merchant(shop.merchant.id), "SF", "SF2")
    done = world.escrow.confirm(paid.escrow_no, world.buyer, PAYMENT_PASSWORD)
    fee_fen = done.fee_fen
    settlement = platform.ledger.balance(shop.merchant.settlement_account_id).balance_fen
    assert settlement == PRICE_FEN - fee_fen  # the merchant is paid as without a coupon
    assert world.money()["buyer"] == BUYER_START_FEN - 90_00
    assert marketing_spent(platform) == OFF_FEN
    assert_clean(platform)


# Refusals write nothing -----------------------------------------------------------------------


# What buying in escrow with a coupon writes (listings aside: a refused purchase keeps its own).
BUY_TABLES = (*ESCROW_TABLES, "coupons")


def test_inapplicable_coupons_refuse_with_their_code_and_write_nothing(world: World) -> None:
    platform = world.platform
    shop = make_shop(platform)
    threshold = world.coupon()  # 满100减10
    shops_own = world.marketing.create_template(
        merchant_discount_terms(platform, shop.merchant.id), Creator(merchant_id=shop.merchant.id)
    )
    merchant_funded = claim(platform, world.buyer, shops_own)
    someone_else = claim(platform, make_buyer(platform, "13800138599"), operator_campaign(platform))
    used = world.coupon(threshold_fen=0, face_fen=1_00)
    world.buy(CouponChoice(coupon_ids=(used,)))
    expiring = world.coupon(threshold_fen=0, face_fen=1_00, coupon_days=1)
    world.advance_days(2)
    order = merchant_escrow(platform, shop, "ESC-REFUSE-1")
    before = rows_of(platform, BUY_TABLES)

    cases = [
        (threshold, 99_99, "coupon_not_applicable"),  # the threshold is not reached
        (merchant_funded, PRICE_FEN, "coupon_not_applicable"),  # escrow takes platform coupons
        (someone_else, PRICE_FEN, "coupon_unavailable"),  # not the buyer's
        (used, PRICE_FEN, "coupon_unavailable"),
        (expiring, PRICE_FEN, "coupon_unavailable"),
    ]
    for coupon_id, price_fen, code in cases:
        choice = CouponChoice(coupon_ids=(coupon_id,))
        assert code_of(lambda c=choice, p=price_fen: world.buy(c, price_fen=p)) == code
    # The merchant's own coupon does not pay for its escrow either (it would cut what it gets).
    merchant_choice = CouponChoice(coupon_ids=(merchant_funded,))
    pay = world.escrow.pay
    assert code_of(
        lambda: pay(order.escrow_no, world.buyer, PAYMENT_PASSWORD, merchant_choice)
    ) == ("coupon_not_applicable")
    # Nothing moved, nothing was marked used (the refused purchases' listings aside).
    assert rows_of(platform, BUY_TABLES) == before
    assert_clean(platform)


# Every way out of escrow ----------------------------------------------------------------------


def paid_with_coupon(world: World, **buy: Any) -> Escrow:
    coupon_id = world.coupon()
    return world.buy(CouponChoice(coupon_ids=(coupon_id,)), **buy)


def test_cancel_before_shipment_gives_the_buyer_its_part_and_the_platform_its_subsidy(
    world: World,
) -> None:
    bought = paid_with_coupon(world)
    closed = world.escrow.cancel(bought.escrow_no, Party.buyer(world.buyer))
    assert closed.status is EscrowStatus.TRADE_CLOSED
    assert (closed.refund_fen, closed.discount_back_fen) == (PRICE_FEN, OFF_FEN)
    assert world.money() == expected(buyer_paid=0)
    # Used coupons are not given back, as for trade refunds.
    assert world.coupon_row(world.marketing.vouchers_of(bought.escrow_no)[0].coupon_id)[0] == "used"
    assert world.marketing.coupons_of(world.buyer, CouponStatus.AVAILABLE) == []
    assert_clean(world.platform)


def test_a_partial_refund_splits_pro_rata_as_trade_refunds_do(world: World) -> None:
    bought = world.ship(paid_with_coupon(world))
    world.escrow.request_refund(bought.escrow_no, world.buyer, 33_33, "少了配件")
    done = world.escrow.agree_refund(bought.escrow_no, Party.seller(world.seller))
    assert done.status is EscrowStatus.TRADE_FINISHED
    # 33.33 of 100.00 back: the subsidy's share 3.33 (rounded down), the buyer's 30.00; the
    # seller keeps 66.67 (60.00 of the buyer's, 6.67 of the subsidy) less the 0.40 fee.
    assert (done.refund_fen, done.discount_back_fen, done.fee_fen) == (33_33, 3_33, 40)
    assert world.money() == expected(
        buyer_paid=60_00, seller=66_67 - 40, spent=OFF_FEN - 3_33, fees=40
    )
    assert_clean(world.platform)


def test_a_full_refund_agreed_by_the_sellers_silence(world: World) -> None:
    bought = world.ship(paid_with_coupon(world))
    world.escrow.request_refund(bought.escrow_no, world.buyer, PRICE_FEN, "不想要了")
    world.advance_days(6)  # the seller does not answer in time: the refund is agreed
    closed = world.escrow.get(bought.escrow_no)
    assert closed.status is EscrowStatus.TRADE_CLOSED
    assert closed.discount_back_fen == OFF_FEN
    assert world.money() == expected(buyer_paid=0)
    assert_clean(world.platform)


def test_auto_confirm_pays_the_seller_in_full(world: World) -> None:
    bought = world.ship(paid_with_coupon(world))
    world.advance_days(11)
    done = world.escrow.get(bought.escrow_no)
    assert done.status is EscrowStatus.TRADE_FINISHED
    assert world.money() == expected(
        buyer_paid=90_00, seller=PRICE_FEN - 60, spent=OFF_FEN, fees=60
    )
    assert_clean(world.platform)


def test_an_unpaid_order_closes_by_its_timer_and_no_coupon_is_used(platform: Platform) -> None:
    world = World(platform, "13800138521")
    coupon_id = world.coupon()
    order = merchant_escrow(platform, make_shop(platform), "ESC-TIMEOUT-1")
    world.advance_days(2)
    closed = world.escrow.get(order.escrow_no)
    assert (closed.status, closed.discount_fen) == (EscrowStatus.TRADE_CLOSED, 0)
    assert world.coupon_row(coupon_id)[0] == "available"
    assert world.money() == expected(buyer_paid=0)
    assert_clean(platform)


def test_a_ruling_of_part_and_a_ruling_of_nothing(world: World) -> None:
    operator = Party.operator(1)
    rulings = []
    for refund_fen in (50_00, 0):
        bought = world.ship(paid_with_coupon(world))
        world.escrow.request_refund(bought.escrow_no, world.buyer, PRICE_FEN, "坏了")
        world.escrow.refuse_refund(bought.escrow_no, Party.seller(world.seller), "好的")
        world.escrow.escalate(bought.escrow_no, world.buyer, Evidence("看图"))
        rulings.append(world.escrow.rule(bought.escrow_no, operator, refund_fen, "裁决"))
    half, nothing = rulings
    assert (half.refund_fen, half.discount_back_fen, half.fee_fen) == (50_00, 5_00, 30)
    assert (nothing.refund_fen, nothing.discount_back_fen, nothing.fee_fen) == (0, 0, 60)
    # Buyer: 45.00 + 90.00; seller: 50.00 - 0.30 + 100.00 - 0.60; platform: 5.00 + 10.00.
    assert world.money() == expected(buyer_paid=135_00, seller=150_00 - 90, spent=15_00, fees=90)
    assert_clean(world.platform)


def test_a_coupon_that_pays_nearly_everything_voids_the_hold_on_a_half_refund(
    world: World,
) -> None:
    # 9.99 off a 10.00 item: the buyer's hold is 0.01; half back leaves the seller 5.00 of the
    # subsidy and nothing of the buyer's, so the hold is voided rather than posted.
    coupon_id = world.coupon(threshold_fen=0, face_fen=9_99)
    bought = world.ship(world.buy(CouponChoice(coupon_ids=(coupon_id,)), price_fen=10_00))
    assert bought.buyer_pay_fen == 1
    world.escrow.request_refund(bought.escrow_no, world.buyer, 5_00, "一半")
    done = world.escrow.agree_refund(bought.escrow_no, Party.seller(world.seller))
    assert (done.refund_fen, done.discount_back_fen, done.fee_fen) == (5_00, 4_99, 3)
    assert world.money() == expected(buyer_paid=0, seller=5_00 - 3, spent=5_00, fees=3)
    assert_clean(world.platform)


# The alarm and the race -----------------------------------------------------------------------


def test_reconcile_catches_a_discount_the_journal_does_not_show(world: World) -> None:
    bought = paid_with_coupon(world)
    world.escrow.cancel(bought.escrow_no, Party.buyer(world.buyer))
    with world.platform.engine.begin() as connection:
        connection.execute(
            text("UPDATE escrow_trades SET discount_back_fen = 900 WHERE escrow_no = :no"),
            {"no": bought.escrow_no},
        )
    found = reconcile_clean(world.platform)
    assert any("escrow_journal" in line for line in found)
    assert any("marketing_spend" in line for line in found)


def test_one_coupon_raced_by_two_escrow_payments_pays_for_exactly_one(world: World) -> None:
    coupon_id = world.coupon()
    listings = [
        world.escrow.list_item(world.seller, f"物品{i}", PRICE_FEN, GoodsType.EXPRESS)
        for i in range(2)
    ]
    choice = CouponChoice(coupon_ids=(coupon_id,))

    def buy(index: int) -> None:
        world.escrow.buy(listings[index].id, world.buyer, PAYMENT_PASSWORD, f"race-{index}", choice)

    assert race_outcomes(2, buy) == ["coupon_unavailable", "ok"]
    escrows = world.escrow.escrows_of(Party.buyer(world.buyer))
    assert [e.discount_fen for e in escrows] == [OFF_FEN]
    assert world.money() == expected(
        buyer_paid=0, held=90_00, escrow_posted=OFF_FEN, escrow_pending=90_00, spent=OFF_FEN
    )
    assert_clean(world.platform)
