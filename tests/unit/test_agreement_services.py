"""AgreementService and WithholdingService on in-memory fakes: sign requests (same again, a
newer one, a signed number), signing (password, expiry, double submit), ending (by either side,
twice), the user's cap, and deductions: replay, every refusal and its order, totals across
agreements, cycle periods, and that a refusal leaves no trace (the unit of work rolls back)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any, ClassVar, TypeVar

import pytest
from tests.support.fakes import FakeDatabase, FakeTx

from paybao.domain.agreements import (
    AgreementStatus,
    PeriodRule,
    PeriodType,
    Product,
    WithholdingLimits,
)
from paybao.domain.coupons import NO_COUPONS, CouponChoice, Quote, VoucherUse
from paybao.domain.errors import DomainError, Forbidden
from paybao.domain.trades import BuyerBalanceNotEnough, DiscountFunder, TradeNotFound, TradeStatus
from paybao.services.agreements import (
    Agreement,
    AgreementPolicy,
    AgreementRef,
    AgreementService,
    Deduction,
    NewSignRequest,
)
from paybao.services.clock import US_PER_S, ManualClock, us_from_datetime
from paybao.services.trades import NewTrade, Trade, TradeRef
from paybao.services.withholding import DeductionRequest, WithholdingService

T = TypeVar("T")
PIN = "135790"
APP, OTHER_APP = "2021000000000001", "2021000000000002"
# 2026-05-01 08:00 Beijing time.
START_US = us_from_datetime(datetime.fromisoformat("2026-05-01T08:00:00+08:00"))
DAY_S = 86_400


class WrongPin(Forbidden):
    code = "payment_password_wrong"


class FakeStore:
    """AgreementStore over the fake transaction's state (rolled back with it)."""

    def _rows(self, tx: FakeTx) -> dict[int, Agreement]:
        return tx.state.setdefault("agreements", {})  # type: ignore[no-any-return]

    def _deductions(self, tx: FakeTx) -> list[Deduction]:
        return tx.state.setdefault("deductions", [])  # type: ignore[no-any-return]

    def insert(self, tx: FakeTx, agreement: Agreement) -> int:
        rows = self._rows(tx)
        live = {a.live_key for a in rows.values() if a.live_key}
        assert agreement.live_key is None or agreement.live_key not in live, "unique live_key"
        agreement_id = len(rows) + 1
        rows[agreement_id] = dataclasses.replace(agreement, id=agreement_id)
        return agreement_id

    def _where(self, tx: FakeTx, **match: object) -> Agreement | None:
        for row in self._rows(tx).values():
            if all(getattr(row, key) == value for key, value in match.items()):
                return row
        return None

    def by_no(self, tx: FakeTx, agreement_no: str, *, for_update: bool = False) -> Agreement | None:
        return self._where(tx, agreement_no=agreement_no)

    def by_token(self, tx: FakeTx, token: str, *, for_update: bool = False) -> Agreement | None:
        return self._where(tx, sign_token=token)

    def by_live_key(self, tx: FakeTx, live_key: str) -> Agreement | None:
        return self._where(tx, live_key=live_key)

    def find(self, tx: FakeTx, merchant_id: int, ref: AgreementRef) -> Agreement | None:
        if ref.agreement_no:
            return self._where(tx, agreement_no=ref.agreement_no, merchant_id=merchant_id)
        match: dict[str, object] = {
            "merchant_id": merchant_id,
            "product": ref.product,
            "status": AgreementStatus.NORMAL,
        }
        for key in ("user_id", "sign_scene", "external_agreement_no"):
            if getattr(ref, key):
                match[key] = getattr(ref, key)
        return self._where(tx, **match)

    def update(
        self, tx: FakeTx, agreement_id: int, expect: Mapping[str, Any], changes: Mapping[str, Any]
    ) -> bool:
        row = self._rows(tx)[agreement_id]
        if any(getattr(row, key) != value for key, value in expect.items()):
            return False
        self._rows(tx)[agreement_id] = dataclasses.replace(row, **changes)
        return True

    def of_user(self, tx: FakeTx, user_id: int, limit: int) -> list[Agreement]:
        return [a for a in self._rows(tx).values() if a.user_id == user_id][:limit]

    def insert_deduction(self, tx: FakeTx, deduction: Deduction) -> None:
        if deduction.period_index is not None:
            taken = {(d.agreement_id, d.period_index) for d in self._deductions(tx)}
            assert (deduction.agreement_id, deduction.period_index) not in taken, "unique period"
        self._deductions(tx).append(deduction)

    def deductions_of(self, tx: FakeTx, agreement_id: int, limit: int) -> list[Deduction]:
        return [d for d in self._deductions(tx) if d.agreement_id == agreement_id][:limit]

    def period_used(self, tx: FakeTx, agreement_id: int, period_index: int) -> bool:
        return any(
            (d.agreement_id, d.period_index) == (agreement_id, period_index)
            for d in self._deductions(tx)
        )

    def month_fen(self, tx: FakeTx, agreement_id: int, china_month: str) -> int:
        return sum(
            d.amount_fen
            for d in self._deductions(tx)
            if (d.agreement_id, d.china_month) == (agreement_id, china_month)
        )

    def add_usage(self, tx: FakeTx, user_id: int, period: str, amount_fen: int) -> int:
        usage: dict[tuple[int, str], int] = tx.state.setdefault("usage", {})
        usage[(user_id, period)] = usage.get((user_id, period), 0) + amount_fen
        return usage[(user_id, period)]


class FakeUsers:
    def __init__(self, db: FakeDatabase) -> None:
        self.db = db
        self.failures = 0
        self.registered = {1, 2}

    def run_paying(self, work: Callable[[FakeTx], T]) -> T:
        try:
            return self.db.run(work)
        except WrongPin:
            self.failures += 1
            raise

    def check_payment_password_in(self, tx: FakeTx, user_id: int, payment_password: str) -> None:
        if payment_password != PIN:
            raise WrongPin("wrong payment password")

    def wallet_account_id_in(self, tx: FakeTx, user_id: int) -> int:
        if user_id not in self.registered:
            raise Forbidden("registration is not complete", code="registration_incomplete")
        return 100 + user_id


class FakeMerchants:
    apps: ClassVar[dict[str, int]] = {APP: 7, OTHER_APP: 8}

    def app(self, app_id: str) -> Any:
        return SimpleNamespace(app_id=app_id, merchant_id=self.apps[app_id])

    def merchant_in(self, tx: FakeTx, merchant_id: int) -> Any:
        return SimpleNamespace(id=merchant_id)


class Events:
    """Announcements land in the fake state: a rolled-back change announces nothing."""

    def agreement_changed_in(self, tx: FakeTx, agreement: Agreement, notify_type: str) -> None:
        tx.state.setdefault("events", []).append((notify_type, agreement.agreement_no))


class FakeTrades:
    """The trade hooks a deduction uses; balances in the fake state, refused when short."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.coupon_fen = 0

    def out_no_taken_in(self, tx: FakeTx, app_id: str, out_trade_no: str) -> bool:
        return (app_id, out_trade_no) in tx.state.setdefault("trades", {})

    def find_in(self, tx: FakeTx, app_id: str, ref: TradeRef) -> Trade:
        trade = tx.state.setdefault("trades", {}).get((app_id, ref.out_trade_no))
        if trade is None:
            raise TradeNotFound("no such trade")
        return trade  # type: ignore[no-any-return]

    def create_in(self, tx: FakeTx, new: NewTrade, merchant: Any) -> Trade:
        trade = Trade(
            id=len(tx.state.setdefault("trades", {})) + 1,
            trade_no=f"T{len(tx.state['trades']) + 1:027d}",
            app_id=new.app_id,
            merchant_id=merchant.id,
            out_trade_no=new.out_trade_no,
            product=new.product,
            subject=new.subject,
            body=None,
            total_fen=new.total_fen,
            fee_fen=0,
            refunded_fen=0,
            fee_refunded_fen=0,
            status=TradeStatus.WAIT_BUYER_PAY,
            buyer_user_id=None,
            fingerprint=new.fingerprint,
            notify_url=None,
            return_url=None,
            passback=None,
            channel_context="{}",
            visible=True,
            store_id=None,
            created_at_us=self.clock.now_us(),
            expires_at_us=self.clock.now_us() + 60 * US_PER_S,
        )
        tx.state["trades"][(new.app_id, new.out_trade_no)] = trade
        return trade

    def quote_in(self, tx: FakeTx, trade: Trade, buyer_user_id: int, choice: CouponChoice) -> Quote:
        """The best coupons: one platform-funded `coupon_fen` off, leaving at least 0.01."""
        off_fen = min(self.coupon_fen, trade.total_fen - 1) if choice.auto else 0
        vouchers = (VoucherUse(7, DiscountFunder.PLATFORM, off_fen),) if off_fen else ()
        return Quote(trade.total_fen, vouchers, auto=choice.auto)

    def pay_in(
        self,
        tx: FakeTx,
        trade: Trade,
        buyer_user_id: int,
        *,
        funding: str = "",
        coupons: CouponChoice = NO_COUPONS,
        quoted: Quote | None = None,
    ) -> Trade:
        quote = quoted or self.quote_in(tx, trade, buyer_user_id, coupons)
        balances: dict[int, int] = tx.state.setdefault("balances", {1: 5_000_00, 2: 5_000_00})
        if balances[buyer_user_id] < quote.buyer_pay_fen:
            raise BuyerBalanceNotEnough("the buyer's balance is not enough")
        balances[buyer_user_id] -= quote.buyer_pay_fen
        paid = dataclasses.replace(
            trade,
            status=TradeStatus.TRADE_SUCCESS,
            buyer_user_id=buyer_user_id,
            paid_at_us=self.clock.now_us(),
            discount_fen=quote.discount_fen,
        )
        tx.state["trades"][(trade.app_id, trade.out_trade_no)] = paid
        return paid


class World:
    def __init__(self) -> None:
        self.db = FakeDatabase()
        self.clock = ManualClock(START_US)
        self.users = FakeUsers(self.db)
        store = FakeStore()
        self.agreements = AgreementService(
            db=self.db,
            store=store,
            clock=self.clock,
            users=self.users,
            apps=FakeMerchants(),
            events=Events(),
            policy=AgreementPolicy(WithholdingLimits(), sign_request_valid_s=1800),
        )
        self.fake_trades = FakeTrades(self.clock)
        self.withholding = WithholdingService(
            db=self.db,
            store=store,
            trades=self.fake_trades,
            merchants=FakeMerchants(),
            clock=self.clock,
            limits=WithholdingLimits(),
        )

    def state(self, key: str) -> Any:
        return self.db.state.get(key)

    def signed(self, user_id: int = 1, **extra: Any) -> Agreement:
        request = self.agreements.request_sign(sign_request(**extra))
        return self.agreements.sign(request.sign_token, user_id, PIN)

    def deduct(self, agreement: Agreement, out: str, amount_fen: int, app_id: str = APP) -> Trade:
        new = NewTrade(
            app_id=app_id,
            out_trade_no=out,
            product=agreement.product.value,
            subject="停车费",
            total_fen=amount_fen,
            fingerprint=f"{agreement.agreement_no}:{amount_fen}",
        )
        request = DeductionRequest(new, agreement.agreement_no, agreement.product)
        return self.withholding.deduct(request)

    def refused(self, call: Callable[[], object]) -> str:
        before = dict(self.db.state)
        with pytest.raises(DomainError) as raised:
            call()
        assert self.db.state == before, "a refusal must leave no trace"
        return raised.value.code


def sign_request(**extra: Any) -> NewSignRequest:
    values: dict[str, Any] = {
        "app_id": APP,
        "product": Product.GENERAL_WITHHOLDING,
        "sign_scene": "INDUSTRY|PARKING",
        "fingerprint": "f1",
        "external_agreement_no": "plate-1",
        "notify_url": "https://shop.example/notify",
    }
    values.update(extra)
    return NewSignRequest(**values)


def cycle_rule(**extra: Any) -> PeriodRule:
    values: dict[str, Any] = {
        "period_type": PeriodType.MONTH,
        "period": 1,
        "execute_date": date(2026, 5, 3),
        "single_amount_fen": 30_00,
        "total_payments": 3,
    }
    values.update(extra)
    return PeriodRule(**values)


@pytest.fixture
def world() -> World:
    return World()


# Sign requests and signing ------------------------------------------------------------------


def test_the_same_request_again_returns_the_open_one_and_a_new_one_supersedes_it(
    world: World,
) -> None:
    first = world.agreements.request_sign(sign_request())
    again = world.agreements.request_sign(sign_request())
    assert again.sign_token == first.sign_token
    newer = world.agreements.request_sign(sign_request(fingerprint="f2"))
    assert newer.sign_token != first.sign_token
    assert world.agreements.sign_request(first.sign_token).status is AgreementStatus.VOID
    code = world.refused(lambda: world.agreements.sign(first.sign_token, 1, PIN))
    assert code == "agreement_sign_expired"


def test_signing_needs_the_payment_password_and_an_open_request(world: World) -> None:
    request = world.agreements.request_sign(sign_request())
    code = world.refused(lambda: world.agreements.sign(request.sign_token, 1, "000000"))
    assert code == "payment_password_wrong"
    assert world.users.failures == 1
    code = world.refused(lambda: world.agreements.sign(request.sign_token, 3, PIN))
    assert code == "registration_incomplete"
    signed = world.agreements.sign(request.sign_token, 1, PIN)
    assert (signed.status, signed.user_id, signed.signed_at_us) == (
        AgreementStatus.NORMAL,
        1,
        START_US,
    )
    assert world.agreements.sign(request.sign_token, 1, PIN) == signed  # a double submit
    code = world.refused(lambda: world.agreements.sign(request.sign_token, 2, PIN))
    assert code == "agreement_sign_expired"
    assert world.state("events") == [("dut_user_sign", signed.agreement_no)]


def test_a_sign_request_expires_and_a_signed_number_refuses_a_new_request(world: World) -> None:
    request = world.agreements.request_sign(sign_request())
    world.clock.advance(1800)
    code = world.refused(lambda: world.agreements.sign(request.sign_token, 1, PIN))
    assert code == "agreement_sign_expired"
    fresh = world.agreements.request_sign(sign_request())  # an expired one is replaced
    world.agreements.sign(fresh.sign_token, 1, PIN)
    code = world.refused(lambda: world.agreements.request_sign(sign_request(fingerprint="f9")))
    assert code == "agreement_exists"


def test_an_expired_agreement_frees_its_external_number(world: World) -> None:
    old = world.signed(validity="30d")
    world.clock.advance(30 * DAY_S)
    assert world.refused(lambda: world.deduct(old, "late", 1_00)) == "agreement_invalid"
    fresh = world.signed(fingerprint="f2")
    assert fresh.agreement_no != old.agreement_no
    kept = world.agreements.view(1, old.agreement_no).agreement
    assert (kept.status, kept.live_key) == (AgreementStatus.NORMAL, None)
    assert world.agreements.expired(kept) and not world.agreements.expired(fresh)
    world.deduct(fresh, "new", 1_00)


def test_cycle_rules_and_products_are_checked_at_the_request(world: World) -> None:
    missing = sign_request(product=Product.CYCLE_PAY_AUTH)
    assert world.refused(lambda: world.agreements.request_sign(missing)) == "invalid_period_rule"
    bad = sign_request(product=Product.CYCLE_PAY_AUTH, rule=cycle_rule(period=0))
    assert world.refused(lambda: world.agreements.request_sign(bad)) == "invalid_period_rule"
    extra = sign_request(rule=cycle_rule())
    assert world.refused(lambda: world.agreements.request_sign(extra)) == "invalid_period_rule"


# Ending, caps, the merchant's view ----------------------------------------------------------


def test_either_side_ends_an_agreement_once(world: World) -> None:
    mine = world.signed()
    theirs = world.signed(external_agreement_no="plate-2")
    world.agreements.unsign_by_user(1, mine.agreement_no)
    code = world.refused(lambda: world.agreements.unsign_by_user(1, mine.agreement_no))
    assert code == "agreement_already_unsigned"
    code = world.refused(lambda: world.agreements.unsign_by_user(2, theirs.agreement_no))
    assert code == "agreement_not_found"
    ref = AgreementRef(
        product=Product.GENERAL_WITHHOLDING,
        sign_scene="INDUSTRY|PARKING",
        external_agreement_no="plate-2",
    )
    assert world.agreements.query(APP, ref).agreement_no == theirs.agreement_no
    code = world.refused(lambda: world.agreements.query(OTHER_APP, ref))
    assert code == "agreement_not_found"
    ended = world.agreements.unsign_by_merchant(APP, ref)
    assert (ended.status, ended.unsigned_by) == (AgreementStatus.UNSIGN, "merchant")
    code = world.refused(lambda: world.agreements.query(APP, ref))
    assert code == "agreement_not_found"
    events = [event for event, _ in world.state("events")]
    assert events == ["dut_user_sign", "dut_user_sign", "dut_user_unsign", "dut_user_unsign"]


def test_the_users_cap_needs_the_payment_password_and_stops_deductions(world: World) -> None:
    agreement = world.signed()
    code = world.refused(
        lambda: world.agreements.set_user_cap(1, agreement.agreement_no, 50_00, "000000")
    )
    assert code == "payment_password_wrong"
    world.agreements.set_user_cap(1, agreement.agreement_no, 50_00, PIN)
    world.deduct(agreement, "o1", 40_00)
    code = world.refused(lambda: world.deduct(agreement, "o2", 10_01))
    assert code == "agreement_user_cap_exceeded"
    world.agreements.set_user_cap(1, agreement.agreement_no, None, PIN)
    world.deduct(agreement, "o2", 10_01)
    assert world.agreements.view(1, agreement.agreement_no).month_deducted_fen == 50_01


# Deductions ---------------------------------------------------------------------------------


def test_a_deduction_pays_once_and_a_replay_gets_the_first_answer(world: World) -> None:
    agreement = world.signed()
    paid = world.deduct(agreement, "o1", 12_50)
    assert paid.paid and paid.buyer_user_id == 1
    assert world.deduct(agreement, "o1", 12_50) == paid
    assert world.state("balances")[1] == 5_000_00 - 12_50
    code = world.refused(lambda: world.deduct(agreement, "o1", 12_51))
    assert code == "trade_context_inconsistent"
    world.agreements.unsign_by_user(1, agreement.agreement_no)
    assert world.deduct(agreement, "o1", 12_50) == paid  # still the first answer
    view = world.agreements.view(1, agreement.agreement_no)
    assert (view.agreement.paid_count, view.agreement.paid_fen) == (1, 12_50)


def test_who_may_deduct_under_which_agreement(world: World) -> None:
    agreement = world.signed()
    missing = dataclasses.replace(agreement, agreement_no="20260501000000000000")
    assert world.refused(lambda: world.deduct(missing, "o1", 1_00)) == "agreement_not_found"
    other = world.refused(lambda: world.deduct(agreement, "o1", 1_00, app_id=OTHER_APP))
    assert other == "agreement_not_found"
    as_cycle = dataclasses.replace(agreement, product=Product.CYCLE_PAY_AUTH)
    assert world.refused(lambda: world.deduct(as_cycle, "o1", 1_00)) == "agreement_product_mismatch"
    temp = world.agreements.request_sign(sign_request(external_agreement_no="plate-9"))
    assert world.refused(lambda: world.deduct(temp, "o1", 1_00)) == "agreement_status_not_normal"
    short = world.signed(external_agreement_no="plate-3", validity="1d")
    world.clock.advance(DAY_S)
    assert world.refused(lambda: world.deduct(short, "o1", 1_00)) == "agreement_invalid"
    world.agreements.unsign_by_user(1, agreement.agreement_no)
    assert world.refused(lambda: world.deduct(agreement, "o1", 1_00)) == "agreement_not_found"


def test_product_caps_across_all_of_a_users_agreements(world: World) -> None:
    parking = world.signed()
    transit = world.signed(external_agreement_no="card-1", sign_scene="INDUSTRY|TRANSIT")
    assert world.refused(lambda: world.deduct(parking, "big", 100_01)) == "withholding_single_limit"
    for n in range(5):
        world.deduct(parking, f"p{n}", 100_00)
        world.deduct(transit, f"t{n}", 100_00)
    code = world.refused(lambda: world.deduct(transit, "t-more", 1))
    assert code == "withholding_day_limit"
    world.clock.advance(DAY_S)  # a new day, the same month
    world.deduct(transit, "next-day", 1_00)
    assert world.state("usage")[(1, "m:2026-05")] == 1_000_00 + 1_00


def test_the_monthly_product_cap(world: World) -> None:
    policy = AgreementPolicy(WithholdingLimits(100_00, 1_000_00, 1_500_00))
    world.withholding.limits = policy.limits
    agreement = world.signed()
    for day in range(15):
        world.deduct(agreement, f"d{day}", 100_00)
        world.clock.advance(DAY_S)
    assert world.refused(lambda: world.deduct(agreement, "over", 1)) == "withholding_month_limit"


def test_the_limits_count_what_the_coupons_leave_the_user_to_pay(world: World) -> None:
    agreement = world.signed()
    world.fake_trades.coupon_fen = 10_00
    # 110.00 less the 10.00 coupon: the user pays 100.00, within the 100.00 single cap.
    paid = world.deduct(agreement, "o1", 110_00)
    assert (paid.total_fen, paid.discount_fen, paid.buyer_pay_fen) == (110_00, 10_00, 100_00)
    assert world.state("balances")[1] == 5_000_00 - 100_00
    assert world.state("usage")[(1, "d:2026-05-01")] == 100_00
    view = world.agreements.view(1, agreement.agreement_no)
    assert (view.agreement.paid_fen, view.month_deducted_fen) == (100_00, 100_00)
    assert [d.amount_fen for d in view.deductions] == [100_00]
    code = world.refused(lambda: world.deduct(agreement, "o2", 110_01))
    assert code == "withholding_single_limit"


def test_a_short_balance_refuses_and_counts_nothing(world: World) -> None:
    agreement = world.signed()
    world.db.state["balances"] = {1: 5_00, 2: 0}
    code = world.refused(lambda: world.deduct(agreement, "o1", 5_01))
    assert code == "buyer_balance_not_enough"
    assert world.state("usage") is None


def test_cycle_pay_once_per_period_within_its_rule(world: World) -> None:
    agreement = world.signed(
        product=Product.CYCLE_PAY_AUTH, rule=cycle_rule(), external_agreement_no="gym-1"
    )
    assert world.agreements.next_deduct_date(agreement) == date(2026, 5, 3)
    world.deduct(agreement, "may", 30_00)  # 2026-05-01: inside the window of 05-03
    assert world.refused(lambda: world.deduct(agreement, "may-2", 1_00)) == "cycle_pay_period_used"
    current = world.agreements.view(1, agreement.agreement_no).agreement
    assert world.agreements.next_deduct_date(current) == date(2026, 6, 3)
    world.clock.advance(30 * DAY_S)  # 2026-05-31: the June window is open
    code = world.refused(lambda: world.deduct(agreement, "june", 30_01))
    assert code == "cycle_pay_single_fee_exceed"
    world.deduct(agreement, "june", 30_00)
    world.clock.advance(31 * DAY_S)
    world.deduct(agreement, "july", 10_00)
    world.clock.advance(31 * DAY_S)
    code = world.refused(lambda: world.deduct(agreement, "august", 10_00))
    assert code == "cycle_pay_total_times_exceed"
    assert [d.period_index for d in world.state("deductions")] == [0, 1, 2]
