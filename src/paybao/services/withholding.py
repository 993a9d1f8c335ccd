"""Deductions against a withholding agreement: password-free payments from the signer's balance.

`deduct` is `alipay.trade.pay` with a withholding product and an agreement number. It runs in one
transaction: lock the agreement row (`FOR UPDATE`; SQLite serialises writers), answer a replay
of the same `out_trade_no` with the first result, check the agreement and every limit, then
create and pay the trade through `TradeService.create_in` / `pay_in` (journal, notification
and timers are the trade's own), record the deduction and count it on the agreement.

Coupons: a deduction takes the signer's best coupon pair by itself (BEST_COUPONS), as a till's
payment code does: the user chose nothing at the moment of a password-free payment, and Alipay
applies marketing to merchant deductions (商家扣款) too. Every limit counts what is taken from
the user, `buyer_pay_fen` (the total less both discounts), not the order's total: the limits
protect the signer's money (Alipay's single-deduction and cumulative quotas, the cycle amounts and
the user's own monthly cap all bound what leaves the user), and a coupon spends none of it. So the
price is quoted before the limits are checked, the deduction row records that amount, and the
payment keeps that quote: if a concurrent payment used one of its coupons meanwhile, the
redemption fails and the whole deduction runs again (`Retryable`), priced without it.

Limits, cheapest first, each with its own refusal (domain/agreements.py): the agreement (exists,
is this merchant's, is NORMAL, is this product, has not expired), the per-deduction product cap,
the cycle rules (window, one per period, single amount, totals), the user's monthly cap on this
agreement, and the user's day and month withholding totals across all agreements. The user's
totals are counters added first and checked after (the upsert's row lock serialises the user's
concurrent deductions); a refusal rolls the addition back with everything else. One deduction
per cycle period is also a unique constraint, so a lost lock can never charge a period twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from paybao.domain.account_class import china_date
from paybao.domain.agreements import (
    AgreementExpired,
    AgreementNotFound,
    AgreementProductMismatch,
    AgreementStatus,
    AgreementStatusNotNormal,
    CycleState,
    Product,
    WithholdingLimits,
    check_cycle_deduction,
    check_single,
    check_user_cap,
    check_user_totals,
    period_index,
)
from paybao.domain.coupons import BEST_COUPONS, CouponChoice, Quote
from paybao.domain.trades import TradeContextInconsistent, TradeNotFound
from paybao.services.agreements import Agreement, AgreementStore, Deduction
from paybao.services.ports import Clock, Database, Tx
from paybao.services.trades import NewTrade, Trade, TradeRef

_S = AgreementStatus


class TradePayer(Protocol):
    """The public hooks of TradeService that a deduction uses."""

    def find_in(self, tx: Tx, app_id: str, ref: TradeRef) -> Trade: ...

    def create_in(self, tx: Tx, new: NewTrade, merchant: Any) -> Trade: ...

    def quote_in(self, tx: Tx, trade: Trade, buyer_user_id: int, choice: CouponChoice) -> Quote: ...

    def pay_in(
        self,
        tx: Tx,
        trade: Trade,
        buyer_user_id: int,
        *,
        funding: str = ...,
        quoted: Quote | None = ...,
    ) -> Trade: ...


class Merchants(Protocol):
    def app(self, app_id: str) -> Any: ...

    def merchant_in(self, tx: Tx, merchant_id: int) -> Any: ...


@dataclass(frozen=True, slots=True)
class DeductionRequest:
    """`new` is the merchant's order (its fingerprint covers the agreement and product)."""

    new: NewTrade
    agreement_no: str
    product: Product
    # The app holding the agreement when it is not the payee's: a platform service deducting
    # for its partners (parking auto-pay pays the lot's app under the platform's agreement).
    holder_app_id: str | None = None
    # The caller's own limit on what the user pays (the plate's password-free cap), given the
    # quoted buyer_pay_fen before the withholding limits: it raises to refuse. It sees the
    # very price that is paid (one quote, in the deduction's transaction).
    check_pay: Callable[[int], None] | None = None


class WithholdingService:
    def __init__(
        self,
        *,
        db: Database,
        store: AgreementStore,
        trades: TradePayer,
        merchants: Merchants,
        clock: Clock,
        limits: WithholdingLimits,
    ) -> None:
        self.db = db
        self.store = store
        self.trades = trades
        self.merchants = merchants
        self.clock = clock
        self.limits = limits

    def deduct(self, request: DeductionRequest) -> Trade:
        return self.db.run(lambda tx: self.deduct_in(tx, request))

    def deduct_in(self, tx: Tx, request: DeductionRequest) -> Trade:
        """`deduct` in the caller's transaction (with the caller's own state change)."""
        new = request.new
        assert new.total_fen > 0, "amounts are checked at the edge"
        payee_id = int(self.merchants.app(new.app_id).merchant_id)
        holder_id = payee_id
        if request.holder_app_id is not None:
            holder_id = int(self.merchants.app(request.holder_app_id).merchant_id)
        # The lock first: a concurrent twin of this order waits here, then finds it paid.
        agreement = self.store.by_no(tx, request.agreement_no, for_update=True)
        replay = self._replay_in(tx, new)
        if replay is not None:
            return replay
        agreement = _usable(agreement, holder_id, request.product, self.clock.now_us())
        return self._deduct_in(tx, agreement, request, payee_id)

    def _replay_in(self, tx: Tx, new: NewTrade) -> Trade | None:
        """The first result of this out_trade_no, if it was paid; other parameters refused."""
        try:
            existing = self.trades.find_in(tx, new.app_id, TradeRef(out_trade_no=new.out_trade_no))
        except TradeNotFound:
            return None
        if existing.fingerprint != new.fingerprint:
            raise TradeContextInconsistent("this out_trade_no was used with other parameters")
        return existing if existing.paid else None

    def _deduct_in(
        self, tx: Tx, agreement: Agreement, request: DeductionRequest, payee_id: int
    ) -> Trade:
        new = request.new
        user_id = agreement.user_id
        assert user_id is not None, "a NORMAL agreement has its signer"
        merchant = self.merchants.merchant_in(tx, payee_id)
        # The open trade first, to price the user's best coupons on it (a refusal below rolls
        # it back with everything else).
        trade = self.trades.create_in(tx, new, merchant)
        quote = self.trades.quote_in(tx, trade, user_id, BEST_COUPONS)
        amount_fen = quote.buyer_pay_fen
        if request.check_pay is not None:
            request.check_pay(amount_fen)
        today = china_date(self.clock.now())
        month = f"{today:%Y-%m}"
        check_single(amount_fen, self.limits)
        index = self._check_cycle_in(tx, agreement, amount_fen, today)
        check_user_cap(
            agreement.user_cap_fen, self.store.month_fen(tx, agreement.id, month), amount_fen
        )
        day_fen = self.store.add_usage(tx, user_id, f"d:{today.isoformat()}", amount_fen)
        month_fen = self.store.add_usage(tx, user_id, f"m:{month}", amount_fen)
        check_user_totals(day_fen, month_fen, amount_fen, self.limits)
        # The price the limits passed is the price paid: a coupon of it used by another
        # payment meanwhile fails the redemption, and the deduction runs again (`Retryable`).
        paid = self.trades.pay_in(tx, trade, user_id, quoted=quote)
        assert paid.buyer_pay_fen == amount_fen
        now_us = self.clock.now_us()
        deduction = Deduction(
            agreement.id,
            paid.trade_no,
            user_id,
            amount_fen,
            index,
            today.isoformat(),
            month,
            now_us,
        )
        self.store.insert_deduction(tx, deduction)
        self._count_in(tx, agreement, amount_fen, now_us)
        return paid

    def _check_cycle_in(
        self, tx: Tx, agreement: Agreement, amount_fen: int, today: date
    ) -> int | None:
        rule = agreement.rule
        if rule is None:
            return None
        index = period_index(rule, today)
        used = index is not None and self.store.period_used(tx, agreement.id, index)
        state = CycleState(agreement.paid_count, agreement.paid_fen)
        return check_cycle_deduction(rule, state, amount_fen, today, period_used=used)

    def _count_in(self, tx: Tx, agreement: Agreement, amount_fen: int, now_us: int) -> None:
        expect = {"status": _S.NORMAL, "paid_count": agreement.paid_count}
        changes = {
            "paid_count": agreement.paid_count + 1,
            "paid_fen": agreement.paid_fen + amount_fen,
            "last_deduct_at_us": now_us,
        }
        changed = self.store.update(tx, agreement.id, expect, changes)
        assert changed, "the agreement row was read for update"


def _usable(
    agreement: Agreement | None, merchant_id: int, product: Product, now_us: int
) -> Agreement:
    """The agreement, if this merchant may deduct under it now with this product."""
    if agreement is None or agreement.merchant_id != merchant_id:
        raise AgreementNotFound("no such agreement")
    if agreement.status is _S.UNSIGN:
        raise AgreementNotFound("the agreement has been unsigned")
    if agreement.status is not _S.NORMAL:
        raise AgreementStatusNotNormal(f"the agreement is {agreement.status}, not NORMAL")
    if agreement.product is not product:
        raise AgreementProductMismatch(f"the agreement is for {agreement.product}, not {product}")
    if agreement.invalid_at_us <= now_us:
        raise AgreementExpired("the agreement has expired")
    return agreement


__all__ = ["DeductionRequest", "TradePayer", "WithholdingService"]
