"""MarketingService on an in-memory SQLite database (the real coupon and audit stores; merchants
and trades are fakes): pricing the buyer's pick or the best pair inside a payment's transaction,
a coupon redeemed once only (an automatic pick prices again instead of failing), the cashier's
table of what every pair costs, the payment-success gift (the best that fits, once per trade,
the next best when the user holds enough of the first), and stopped campaigns."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.pool import StaticPool
from tests.support.coupons import platform_terms_at, shop_discount_terms_at
from tests.support.trades import a_trade

from paybao.adapters.db.admin_store import SqlAdminStore
from paybao.adapters.db.coupon_store import SqlCouponStore
from paybao.adapters.db.database import SqlDatabase
from paybao.adapters.db.tables import metadata
from paybao.adapters.db.tables.coupons import coupons
from paybao.domain.coupons import (
    BEST_COUPONS,
    US_PER_DAY,
    CouponChoice,
    CouponStatus,
    Terms,
)
from paybao.domain.errors import DomainError, NotFound, Retryable
from paybao.domain.trades import TradeStatus
from paybao.services.audit import AuditTrail
from paybao.services.clock import ManualClock
from paybao.services.marketing import Creator, MarketingService
from paybao.services.trades import Trade

USER = 7
SHOP = 3
OPERATOR = Creator(operator_id=1)
NOW_US = 1_800_000_000 * 1_000_000


class Merchants:
    def merchant_in(self, _tx: Any, merchant_id: int) -> object:
        if merchant_id not in (SHOP, 4):
            raise NotFound("no such merchant", code="merchant_not_found")
        return object()


class Trades:
    def __init__(self) -> None:
        self.trades: dict[str, Trade] = {}

    def trade_by_no(self, _tx: Any, trade_no: str) -> Trade | None:
        return self.trades.get(trade_no)


def trade(trade_no: str, total_fen: int, **changes: Any) -> Trade:
    """An unpaid trade of the shop, open for a day."""
    shop_trade = {
        "merchant_id": SHOP,
        "created_at_us": NOW_US,
        "expires_at_us": NOW_US + US_PER_DAY,
    }
    return a_trade(trade_no, total_fen, subject="x", **{**shop_trade, **changes})


def terms(**changes: Any) -> Terms:
    return platform_terms_at(NOW_US, **changes)


def shop_terms(**changes: Any) -> Terms:
    return shop_discount_terms_at(NOW_US, SHOP, **changes)


@dataclass
class World:
    db: SqlDatabase
    clock: ManualClock
    service: MarketingService
    trades: Trades

    def coupon(self, made: Terms, creator: Creator = OPERATOR, user_id: int = USER) -> int:
        template = self.service.create_template(made, creator)
        return self.service.claim(user_id, template.id).id

    def quote(self, of: Trade, choice: CouponChoice) -> Any:
        with self.db.read() as tx:
            return self.service.quote_in(tx, of, USER, choice)

    def redeem(self, trade_no: str, quote: Any) -> None:
        self.db.run(lambda tx: self.service.redeem_in(tx, trade_no, quote), retries_max=0)


@pytest.fixture
def world() -> Iterator[World]:
    engine = create_engine(
        "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
    )
    metadata.create_all(engine)
    db = SqlDatabase(engine)
    clock = ManualClock(NOW_US)
    trades = Trades()
    service = MarketingService(
        db=db,
        store=SqlCouponStore(),
        clock=clock,
        audit=AuditTrail(db, SqlAdminStore(), clock),
        merchants=Merchants(),  # type: ignore[arg-type]
        trades=trades,
    )
    yield World(db, clock, service, trades)
    engine.dispose()


def code_of(call: Any) -> str:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value.code


def test_the_buyers_pick_is_redeemed_once(world: World) -> None:
    coupon = world.coupon(terms())
    order = trade("T1", 150_00)
    picked = world.quote(order, CouponChoice(coupon_ids=(coupon,)))
    assert (picked.discount_fen, picked.buyer_pay_fen, picked.auto) == (10_00, 140_00, False)
    world.redeem("T1", picked)
    assert code_of(lambda: world.redeem("T2", picked)) == "coupon_unavailable"
    assert code_of(lambda: world.quote(order, CouponChoice(coupon_ids=(coupon,)))) == (
        "coupon_unavailable"
    )
    (used,) = world.service.coupons_of(USER, CouponStatus.USED)
    assert (used.coupon.trade_no, used.coupon.discount_fen) == ("T1", 10_00)
    assert world.service.vouchers_of("T1")[0].amount_fen == 10_00
    # Someone else's coupon is not the buyer's to pick.
    theirs = world.coupon(terms(name="别人的"), user_id=8)
    assert code_of(lambda: world.quote(order, CouponChoice(coupon_ids=(theirs,)))) == (
        "coupon_unavailable"
    )


def test_an_automatic_pick_raced_by_another_payment_prices_again(world: World) -> None:
    world.coupon(terms(threshold_fen=0))
    order = trade("T1", 50_00)
    best = world.quote(order, BEST_COUPONS)
    assert best.auto and best.discount_fen == 10_00
    world.redeem("T1", best)
    with pytest.raises(Retryable):
        world.redeem("T2", best)  # the database layer runs the payment again
    assert world.quote(trade("T2", 50_00), BEST_COUPONS).vouchers == ()


def test_the_cashier_table_prices_every_pair_and_marks_those_that_do_not_stack(
    world: World,
) -> None:
    shop = world.coupon(shop_terms(), Creator(merchant_id=SHOP))
    platform = world.coupon(terms())  # 满100减10
    small = world.coupon(terms(name="立减3", face_fen=3_00, threshold_fen=0, per_user_max=1))
    world.coupon(terms(name="别家", face_fen=50_00, threshold_fen=0, merchant_id=4))
    offers = world.service.offers(trade("T1", 110_00), USER)
    assert [o.held.coupon.id for o in offers.merchant] == [shop]
    assert [(o.held.coupon.id, o.value_fen) for o in offers.platform] == [
        (platform, 10_00),
        (small, 3_00),
    ]
    assert [v.coupon_id for v in offers.best.vouchers] == [shop, small]  # 11.00 + 3.00
    assert offers.buyer_pay[f"{shop}:{small}"] == 96_00
    assert offers.buyer_pay[f"{shop}:{platform}"] is None  # 99.00 left: 满100 no longer applies
    assert offers.buyer_pay[f"0:{platform}"] == 100_00
    assert offers.buyer_pay["0:0"] == 110_00
    assert world.service.offers(trade("T2", 110_00, merchant_id=9), USER).merchant == ()


def test_the_payment_success_gift(world: World) -> None:
    service = world.service
    service.create_template(terms(name="返5元", face_fen=5_00, issue_min_fen=20_00), OPERATOR)
    better = service.create_template(
        terms(name="返8元", face_fen=8_00, threshold_fen=50_00, issue_min_fen=50_00), OPERATOR
    )
    world.trades.trades["P1"] = trade(
        "P1", 60_00, buyer_user_id=USER, status=TradeStatus.TRADE_SUCCESS, paid_at_us=NOW_US
    )
    world.trades.trades["P2"] = dataclasses.replace(world.trades.trades["P1"], trade_no="P2")
    world.trades.trades["P3"] = dataclasses.replace(world.trades.trades["P1"], trade_no="P3")
    first = service.issue_after_payment("P1", USER)
    assert first is not None and first.coupon.template_id == better.id
    again = service.issue_after_payment("P1", USER)
    assert again is not None and again.coupon.id == first.coupon.id  # once per payment
    assert service.issue_after_payment("P1", 8) is None  # not the buyer
    second = service.issue_after_payment("P2", USER)  # holds one 返8元 already: the next best
    assert second is not None and second.terms.name == "返5元"
    assert service.issue_after_payment("P3", USER) is None  # holds one of each
    assert service.issue_after_payment("missing", USER) is None
    assert code_of(lambda: service.claim(USER, better.id)) == "coupon_not_claimable"
    with world.db.read() as tx:
        sources = tx.execute(select(coupons.c.source_trade_no).order_by(coupons.c.id)).scalars()
        assert list(sources) == ["P1", "P2"]


def test_a_stopped_campaign_gives_no_more_but_its_coupons_still_pay(world: World) -> None:
    service = world.service
    template = service.create_template(terms(per_user_max=2, threshold_fen=0), OPERATOR)
    service.claim(USER, template.id)
    stopped = service.stop_template(template.id, OPERATOR)
    assert stopped.status.value == "stopped"
    assert service.stop_template(template.id, OPERATOR).status.value == "stopped"  # again: no-op
    assert code_of(lambda: service.claim(USER, template.id)) == "coupon_not_claimable"
    assert world.quote(trade("T1", 20_00), BEST_COUPONS).discount_fen == 10_00
    world.clock.advance(31 * 86_400)  # past the window: expired, not usable
    assert world.quote(trade("T1", 20_00), BEST_COUPONS).vouchers == ()
    (expired,) = service.coupons_of(USER, CouponStatus.EXPIRED)
    assert expired.coupon.template_id == template.id
