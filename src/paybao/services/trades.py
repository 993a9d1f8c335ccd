"""Acquiring trades: create, pay, query, close, expire, finish. One write path per change.

Every change is a compare-and-set on the trade's status inside `db.run`, in the same
transaction as its journal (buyer wallet -> merchant settlement, the platform's marketing
account -> merchant settlement for a platform-funded discount, fee -> platform fees) and its
notification outbox row. Coupons (services/marketing.py, plugged in as `discounts`) are priced
before the payment and marked used in its transaction: a coupon pays for one trade only.
`db.run` may re-run the work after a conflict, so the work re-reads what it needs and keys every
write: transfer ids derive from the trade number.

A paid trade is finished (TRADE_SUCCESS -> TRADE_FINISHED, no more refunds) by a sweep,
`finish_due`, once its refund window has passed: not by a timer per trade, which cost every
payment one more INSERT and kept a pending job per trade of the last three months.

Names are the domain's; the Alipay adapter translates (`out_trade_no` is the merchant's order
number and keeps its name because it is the merchant's own key, not a wire detail).
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from paybao.domain.accounts import Purpose, platform_account
from paybao.domain.checkout_installments import InstallmentTerms
from paybao.domain.coupons import BEST_COUPONS, NO_COUPONS, CouponChoice, Quote
from paybao.domain.errors import InvalidInput, InvalidState
from paybao.domain.ledger import Transfer, TransferFlags
from paybao.domain.trades import (
    LEDGER_CODE_TRADE_FEE,
    LEDGER_CODE_TRADE_PAY,
    LEDGER_CODE_TRADE_SUBSIDY,
    OUT_TRADE_NO_LENGTH_MAX,
    PAY_TIMEOUT_S_DEFAULT,
    PAY_TIMEOUT_S_MAX,
    SUBJECT_LENGTH_MAX,
    AuthCodeInvalid,
    BuyerBalanceNotEnough,
    BuyerIsSeller,
    FundBill,
    Funding,
    TradeClosed,
    TradeContextInconsistent,
    TradeEvent,
    TradeNotFound,
    TradeStatus,
    TradeStatusError,
    fee_fen_for,
    fund_bills,
    next_status,
)
from paybao.services.clock import US_PER_S, datetime_from_us
from paybao.services.jobs import Job, JobRunner
from paybao.services.ledger import LedgerRejected, LedgerService
from paybao.services.merchants import Merchant, MerchantService
from paybao.services.ports import Clock, Database, Tx

T = TypeVar("T")
JOB_EXPIRE = "trade_expire"
# Trades paid before the finish sweep existed have a finish job scheduled in the jobs table;
# `_finish_job` stays registered under this kind so that those still run (no new ones).
JOB_FINISH = "trade_finish"
FINISH_BATCH_SIZE_MAX = 500
SEARCH_LIMIT_MAX = 200
WALLET_CACHE_SIZE_MAX = 100_000
AUTH_CODE_TTL_S = 5 * 60


@dataclass(frozen=True, slots=True)
class Trade:
    id: int
    trade_no: str
    app_id: str
    merchant_id: int
    out_trade_no: str
    product: str
    subject: str
    body: str | None
    total_fen: int
    fee_fen: int
    refunded_fen: int
    fee_refunded_fen: int
    status: TradeStatus
    buyer_user_id: int | None
    fingerprint: str
    notify_url: str | None
    return_url: str | None
    passback: str | None
    channel_context: str
    visible: bool
    store_id: str | None
    created_at_us: int
    expires_at_us: int
    paid_at_us: int | None = None
    closed_at_us: int | None = None
    finished_at_us: int | None = None
    operator_id: str | None = None
    terminal_id: str | None = None
    # How the buyer paid (None while unpaid): where refunds go back to, and the fund bills.
    funding: Funding | None = None
    # The funding split (domain/trades.py): what no coupon may take, the platform-funded and
    # the merchant-funded discounts (zero unless coupons paid part of it).
    undiscountable_fen: int = 0
    discount_fen: int = 0
    mdiscount_fen: int = 0
    # The one user who may pay it (alipay.trade.create's buyer_id), or None: anyone.
    designated_buyer_id: int | None = None

    @property
    def paid(self) -> bool:
        return self.paid_at_us is not None

    @property
    def receipt_fen(self) -> int:
        """What the merchant receives (before its fee): the total less its own discount."""
        return self.total_fen - self.mdiscount_fen

    @property
    def buyer_pay_fen(self) -> int:
        """What the buyer pays: the receipt less the platform-funded discount."""
        return self.receipt_fen - self.discount_fen

    def fund_bills(self) -> tuple[FundBill, ...]:
        """The payment per funding channel (a paid trade only)."""
        assert self.paid
        return fund_bills(self.funding, self.buyer_pay_fen, self.discount_fen, self.mdiscount_fen)


@dataclass(frozen=True, slots=True)
class NewTrade:
    """A merchant's order. `fingerprint` digests the business parameters (the adapter decides
    which): the same `out_trade_no` must always come back with the same fingerprint."""

    app_id: str
    out_trade_no: str
    product: str
    subject: str
    total_fen: int
    fingerprint: str
    body: str | None = None
    notify_url: str | None = None
    return_url: str | None = None
    passback: str | None = None
    channel_context: str = "{}"
    visible: bool = True
    store_id: str | None = None
    operator_id: str | None = None
    terminal_id: str | None = None
    timeout_s: int | None = None
    expires_at_us: int | None = None
    # The request's undiscountable_amount: the part of the total coupons leave alone.
    undiscountable_fen: int = 0
    # What the order says about Huabei and its installments (hb_fq_num, pay channels).
    installment_terms: InstallmentTerms | None = None
    # The one user who may pay it (alipay.trade.create's buyer_id); the caller checked that the
    # user exists. Part of the order: the same out_trade_no with another buyer is inconsistent.
    designated_buyer_id: int | None = None


@dataclass(frozen=True, slots=True)
class TradeRef:
    """A trade named by the merchant: by our trade number or by its own order number."""

    trade_no: str | None = None
    out_trade_no: str | None = None

    def __post_init__(self) -> None:
        if not self.trade_no and not self.out_trade_no:
            raise InvalidInput("name the trade by trade_no or out_trade_no", code="trade_ref")


@dataclass(frozen=True, slots=True)
class TradeSearch:
    merchant_id: int
    trade_no: str | None = None
    out_trade_no: str | None = None
    from_us: int | None = None
    until_us: int | None = None
    limit: int = 50


class TradeStore(Protocol):
    def insert_trade(self, tx: Tx, trade: Trade) -> bool:
        """Insert unless (app_id, out_trade_no) exists; True if inserted."""
        ...

    def insert_trade_id(self, tx: Tx, trade: Trade) -> int | None:
        """Insert unless (app_id, out_trade_no) exists; the new row's id, or None."""
        ...

    def trade_by_no(self, tx: Tx, trade_no: str) -> Trade | None: ...

    def trade_by_out_no(self, tx: Tx, app_id: str, out_trade_no: str) -> Trade | None: ...

    def update_trade(
        self, tx: Tx, trade_no: str, expect: Mapping[str, Any], changes: Mapping[str, Any]
    ) -> bool:
        """Compare-and-set: apply `changes` only if the row still holds `expect`."""
        ...

    def search(self, tx: Tx, search: TradeSearch) -> list[Trade]: ...

    def trade_ids_to_finish(self, tx: Tx, paid_until_us: int, limit: int) -> list[int]:
        """Ids of up to `limit` TRADE_SUCCESS trades paid at or before `paid_until_us`, oldest
        payment first (paid_at_us, id). May lock them, skipping trades another transaction
        holds (PostgreSQL)."""
        ...

    def finish_trades(self, tx: Tx, trade_ids: Sequence[int], finished_at_us: int) -> list[Trade]:
        """Compare-and-set of each TRADE_SUCCESS -> TRADE_FINISHED; the trades that changed,
        as they are now."""
        ...

    def insert_auth_code(
        self, tx: Tx, code: str, user_id: int, now_us: int, ttl_s: int
    ) -> None: ...

    def use_auth_code(self, tx: Tx, code: str, now_us: int) -> int | None:
        """Mark a live, unused code used; return its user id, or None."""
        ...


class Buyers(Protocol):
    """What trades need from the wallet (UserService implements it)."""

    def run_paying(self, work: Callable[[Tx], T]) -> T:
        """`db.run(work)` that counts a wrong payment password after the rollback."""
        ...

    def check_payment_password_in(self, tx: Tx, user_id: int, payment_password: str) -> None: ...

    def check_can_pay_in(
        self, tx: Tx, user_id: int, amount_fen: int, funding: str = ...
    ) -> Any: ...

    def wallet_account_id_in(self, tx: Tx, user_id: int) -> int: ...


class AuthCodeResolver(Protocol):
    def resolve_in(self, tx: Tx, auth_code: str, now_us: int) -> int | None:
        """The buyer a till's code names, or None if the code is not one of this resolver's."""
        ...


class CreditFunding(Protocol):
    """The buyer's credit line (services/credit.py), for trades paid with credit."""

    def draw_in(self, tx: Tx, user_id: int, trade_no: str, amount_fen: int) -> int:
        """Take the amount from the buyer's line (or refuse); the ledger account to debit."""
        ...


class InstallmentFunding(Protocol):
    """Huabei checkout installments (services/checkout_installments.py)."""

    def record_terms_in(self, tx: Tx, trade_no: str, terms: InstallmentTerms) -> None: ...

    def check_in(self, tx: Tx, trade: Trade, funding: Funding, count: int | None) -> None:
        """Refuse a funding (or a number of installments) the order does not allow."""
        ...

    def draw_in(
        self, tx: Tx, user_id: int, paid: Trade, count: int, settlement_id: int
    ) -> tuple[int, list[Transfer]]:
        """Owe the buyer's part in `count` periods on its line: the ledger account to debit, and
        transfers to link after the payment (the merchant's fee)."""
        ...


class TradeDiscounts(Protocol):
    """Coupons (services/marketing.py): priced before a payment, used up inside it."""

    def quote_in(self, tx: Tx, trade: Trade, buyer_user_id: int, choice: CouponChoice) -> Quote:
        """What the chosen (or the best) coupons take off this trade; reads only."""
        ...

    def redeem_in(self, tx: Tx, trade_no: str, quote: Quote) -> None:
        """Mark the quote's coupons used by the trade, or refuse if one was used meanwhile."""
        ...


class TradeEvents(Protocol):
    """Where trade changes are announced (the merchant notification outbox)."""

    def trade_changed_in(self, tx: Tx, trade: Trade, event: str, refund: Any = None) -> None: ...


class TradeBuyerNotMatch(InvalidState):
    """Another user than the order's designated buyer tried to pay it (Alipay's
    ACQ.TRADE_BUYER_NOT_MATCH, 交易买家不匹配)."""

    code = "trade_buyer_not_match"


def check_designated_buyer(trade: Trade, buyer_user_id: int) -> None:
    """Refuse a payer the order was not made for; every payment path comes through here (the
    designated buyer is a column of the row the payer already read: no query)."""
    if trade.designated_buyer_id is not None and trade.designated_buyer_id != buyer_user_id:
        raise TradeBuyerNotMatch("this order is for another buyer")


@dataclass(frozen=True, slots=True)
class TradeSettings:
    refund_window_s: int
    notify_on_close: bool = False
    notify_on_finish: bool = False


class TradeService:
    def __init__(
        self,
        *,
        db: Database,
        store: TradeStore,
        ledger: LedgerService,
        clock: Clock,
        jobs: JobRunner,
        merchants: MerchantService,
        buyers: Buyers,
        events: TradeEvents,
        settings: TradeSettings,
    ) -> None:
        self.db = db
        self.store = store
        self.ledger = ledger
        self.clock = clock
        self.jobs = jobs
        self.merchants = merchants
        self.buyers = buyers
        self.events = events
        self.settings = settings
        # Extra resolvers of till codes (the payment-code feature adds its own).
        self.code_resolvers: list[AuthCodeResolver] = []
        # The credit feature plugs its line in; without it no trade can be paid with credit.
        self.credit: CreditFunding | None = None
        # The coupons feature plugs in; without it no trade is discounted.
        self.discounts: TradeDiscounts | None = None
        # Checkout installments plug in; without them no trade is paid in installments.
        self.installments: InstallmentFunding | None = None
        self._fees_account_id: int | None = None
        self._marketing_account_id: int | None = None
        # A user's wallet account never changes once opened: asked once per user, not per pay.
        self._wallet_ids: dict[int, int] = {}

    def install_jobs(self) -> None:
        self.jobs.register(JOB_EXPIRE, self._expire_job)
        # No payment schedules a finish job any more (the `finish_due` sweep finishes trades),
        # but an existing database may hold pending ones from before: they still run, and are
        # no-ops once the sweep has finished their trade.
        self.jobs.register(JOB_FINISH, self._finish_job)

    # Create -------------------------------------------------------------------------------

    def create(self, new: NewTrade) -> Trade:
        """Create an unpaid trade; the same order again returns it (idempotent)."""
        merchant = self._merchant_of_app(new.app_id)
        check_new_trade(new)
        return self.db.run(lambda tx: self.create_in(tx, new, merchant))

    def create_in(self, tx: Tx, new: NewTrade, merchant: Merchant) -> Trade:
        buyer_id = new.designated_buyer_id
        if buyer_id is not None and buyer_id == merchant.owner_user_id:
            raise BuyerIsSeller("a merchant cannot pay itself")
        existing = self.store.trade_by_out_no(tx, new.app_id, new.out_trade_no)
        if existing is None:
            trade = self._draft(new, merchant)
            if self.store.insert_trade(tx, trade):
                self.jobs.schedule_in(tx, JOB_EXPIRE, trade.trade_no, trade.expires_at_us)
                if new.installment_terms is not None and self.installments is not None:
                    self.installments.record_terms_in(tx, trade.trade_no, new.installment_terms)
                stored = self.store.trade_by_no(tx, trade.trade_no)
                assert stored is not None
                return stored
            # Lost a race for the same order number: the winner's row is there now.
            existing = self.store.trade_by_out_no(tx, new.app_id, new.out_trade_no)
            assert existing is not None
        _check_same_order(existing, new)
        if existing.status is not TradeStatus.WAIT_BUYER_PAY:
            next_status(existing.status, TradeEvent.PAY)  # raises the state's own error
        return existing

    def _draft(self, new: NewTrade, merchant: Merchant) -> Trade:
        now_us = self.clock.now_us()
        timeout_s = new.timeout_s or PAY_TIMEOUT_S_DEFAULT
        expires_at_us = new.expires_at_us or now_us + timeout_s * US_PER_S
        return Trade(
            id=0,
            trade_no=new_trade_no(now_us),
            app_id=new.app_id,
            merchant_id=merchant.id,
            out_trade_no=new.out_trade_no,
            product=new.product,
            subject=new.subject,
            body=new.body,
            total_fen=new.total_fen,
            fee_fen=0,
            refunded_fen=0,
            fee_refunded_fen=0,
            status=TradeStatus.WAIT_BUYER_PAY,
            buyer_user_id=None,
            fingerprint=new.fingerprint,
            notify_url=new.notify_url or merchant.notify_url,
            return_url=new.return_url,
            passback=new.passback,
            channel_context=new.channel_context,
            visible=new.visible,
            store_id=new.store_id,
            operator_id=new.operator_id,
            terminal_id=new.terminal_id,
            created_at_us=now_us,
            expires_at_us=expires_at_us,
            undiscountable_fen=new.undiscountable_fen,
            designated_buyer_id=new.designated_buyer_id,
        )

    # Pay ----------------------------------------------------------------------------------

    def pay_with_code(self, new: NewTrade, auth_code: str, *, known_absent: bool = False) -> Trade:
        """A till scans the buyer's code: create (or find) the order and pay it at once.

        `known_absent`: the caller has just read that no trade has this order number, so the
        transaction skips its own look-up; if a trade appeared meanwhile (the insert finds the
        number taken) it rolls back, spending no code, and runs again with the look-up."""
        merchant = self._merchant_of_app(new.app_id)
        check_new_trade(new)

        def work(tx: Tx, look_up: bool) -> Trade:
            existing = (
                self.store.trade_by_out_no(tx, new.app_id, new.out_trade_no) if look_up else None
            )
            if existing is not None:
                _check_same_order(existing, new)
                if existing.paid:
                    return existing  # a replay gets the first result, and spends no code
            buyer_user_id = self._resolve_code_in(tx, auth_code)
            if existing is None:
                paid = self._create_paid_in(tx, new, merchant, buyer_user_id)
                if paid is not None:
                    return paid
                if not look_up:
                    raise _TakenMeanwhile
            trade = existing or self.create_in(tx, new, merchant)
            return self._pay_in(tx, trade, merchant, buyer_user_id, coupons=BEST_COUPONS)

        if known_absent:
            try:
                return self.db.run(lambda tx: work(tx, look_up=False))
            except _TakenMeanwhile:
                pass
        return self.db.run(lambda tx: work(tx, look_up=True))

    def _create_paid_in(
        self, tx: Tx, new: NewTrade, merchant: Merchant, buyer_user_id: int
    ) -> Trade | None:
        """A new order paid at once: the trade row is born paid, so there is no open row to
        re-read, update and re-read again, and no expiry to schedule. None if the order
        number was taken meanwhile (the caller then pays, or refuses, the winner's row)."""
        if merchant.owner_user_id is not None and merchant.owner_user_id == buyer_user_id:
            raise BuyerIsSeller("a merchant cannot pay itself")
        draft = self._draft(new, merchant)
        check_designated_buyer(draft, buyer_user_id)
        now_us = draft.created_at_us
        if draft.expires_at_us <= now_us:
            raise TradeClosed("the trade timed out")
        # A till's payment takes the buyer's best coupons (priced now, used once inserted).
        quote = self._quote_in(tx, draft, buyer_user_id, BEST_COUPONS)
        paid = dataclasses.replace(
            draft,
            status=next_status(draft.status, TradeEvent.PAY),
            buyer_user_id=buyer_user_id,
            paid_at_us=now_us,
            fee_fen=fee_fen_for(quote.receipt_fen, merchant.fee_rate_ppm),
            visible=True,
            funding=Funding.BALANCE,
            discount_fen=quote.discount_fen,
            mdiscount_fen=quote.mdiscount_fen,
        )
        trade_id = self.store.insert_trade_id(tx, paid)
        if trade_id is None:
            return None
        paid = dataclasses.replace(paid, id=trade_id)
        self._redeem_in(tx, paid.trade_no, quote)
        self.buyers.check_can_pay_in(tx, buyer_user_id, paid.buyer_pay_fen, funding="balance")
        # The journal's ids derive from the trade number this transaction just inserted.
        self._paid_in(tx, paid, merchant, buyer_user_id, last=True, fresh=True)
        return paid

    def pay_by_buyer(
        self,
        trade_no: str,
        buyer_user_id: int,
        payment_password: str,
        *,
        funding: Funding = Funding.BALANCE,
        coupons: CouponChoice = NO_COUPONS,
        installments: int | None = None,
    ) -> Trade:
        """The cashier: a signed-in buyer pays an open trade with the wallet balance, or with
        the credit line (`Funding.CREDIT`: Huabei; the same payment password), with the
        coupons the buyer chose; with credit in `installments` periods (花呗分期) if given."""
        if funding not in (Funding.BALANCE, Funding.CREDIT):
            raise InvalidInput("pay from the balance or with credit", code="funding_invalid")
        if installments is not None and self.installments is None:
            raise InvalidInput("installments are not available", code="funding_invalid")

        def work(tx: Tx) -> Trade:
            trade = self._trade_in(tx, trade_no)
            merchant = self.merchants.merchant_in(tx, trade.merchant_id)
            next_status(trade.status, TradeEvent.PAY)  # before asking for the password
            check_designated_buyer(trade, buyer_user_id)  # nor counting a wrong one
            self.buyers.check_payment_password_in(tx, buyer_user_id, payment_password)
            return self._pay_in(
                tx,
                trade,
                merchant,
                buyer_user_id,
                funding=funding,
                coupons=coupons,
                installments=installments,
            )

        return self.buyers.run_paying(work)

    def pay_in(
        self,
        tx: Tx,
        trade: Trade,
        buyer_user_id: int,
        *,
        funding: str = "balance",
        reserved_in: int | None = None,
        coupons: CouponChoice = NO_COUPONS,
        quoted: Quote | None = None,
    ) -> Trade:
        """Pay an open trade for a buyer already authenticated by the caller (a payment code,
        a confirmed password) inside the caller's transaction. `funding="card"`: the money came
        from the buyer's card just now, so it does not count against balance-payment limits, and
        the trade records it (its refunds go back to the card). `funding="credit"`: the buyer's
        credit line pays (not counted against balance limits either; refunds go back to the
        line). `reserved_in`: the buyer's money for this payment was set aside beforehand and
        is in that ledger account now (a pre-authorisation posted its part there,
        services/preauth.py): the payment moves from it, and the buyer's checks and limits,
        passed when the money was set aside, are not run again; the caller set aside what the
        buyer owes after the coupons (`quoted`). `coupons`: none (static codes), the best (a
        till's payment code, a withholding deduction), or the buyer's own pick (a card payment
        at the cashier). `quoted`: the caller priced the coupons in this transaction already
        (`quote_in`) and checked its own limits against that price: the payment keeps it (a
        coupon used meanwhile fails the redemption, and an automatic pick is then retried)."""
        assert reserved_in is None or coupons == NO_COUPONS or quoted is not None
        assert quoted is None or quoted.total_fen == trade.total_fen
        merchant = self.merchants.merchant_in(tx, trade.merchant_id)
        return self._pay_in(
            tx,
            trade,
            merchant,
            buyer_user_id,
            funding=funding,
            reserved_in=reserved_in,
            coupons=coupons,
            quoted=quoted,
        )

    def quote(self, trade_no: str, buyer_user_id: int, choice: CouponChoice) -> Quote:
        """What coupons would take off an open trade for this buyer (the cashier's preview)."""
        with self.db.read() as tx:
            return self.quote_in(tx, self._trade_in(tx, trade_no), buyer_user_id, choice)

    def quote_in(self, tx: Tx, trade: Trade, buyer_user_id: int, choice: CouponChoice) -> Quote:
        """The price of a payment about to be made: refused for a buyer the order is not for
        (a card payment prices before its bank debit, so it fails before any money moves)."""
        check_designated_buyer(trade, buyer_user_id)
        return self._quote_in(tx, trade, buyer_user_id, choice)

    def _pay_in(
        self,
        tx: Tx,
        trade: Trade,
        merchant: Merchant,
        buyer_user_id: int,
        *,
        funding: str = "balance",
        reserved_in: int | None = None,
        coupons: CouponChoice = NO_COUPONS,
        installments: int | None = None,
        quoted: Quote | None = None,
    ) -> Trade:
        check_designated_buyer(trade, buyer_user_id)
        paid_by = Funding(funding)  # the balance, a card or the credit line, nothing else
        if paid_by is Funding.CREDIT and self.credit is None:
            raise InvalidInput("credit pay is not available", code="funding_invalid")
        if self.installments is not None and reserved_in is None:
            # The order's Huabei terms (pay channels, hb_fq_num) before anything is written.
            self.installments.check_in(tx, trade, paid_by, installments)
        if merchant.owner_user_id is not None and merchant.owner_user_id == buyer_user_id:
            raise BuyerIsSeller("a merchant cannot pay itself")
        now_us = self.clock.now_us()
        next_status(trade.status, TradeEvent.PAY)
        if trade.expires_at_us <= now_us:
            raise TradeClosed("the trade timed out")
        quote = quoted if quoted is not None else self._quote_in(tx, trade, buyer_user_id, coupons)
        if reserved_in is None:
            self.buyers.check_can_pay_in(tx, buyer_user_id, quote.buyer_pay_fen, funding=funding)
        # The fee is charged on what the merchant receives (platform subsidy included).
        fee_fen = fee_fen_for(quote.receipt_fen, merchant.fee_rate_ppm)
        changes = {
            "status": TradeStatus.TRADE_SUCCESS,
            "buyer_user_id": buyer_user_id,
            "paid_at_us": now_us,
            "fee_fen": fee_fen,
            "visible": 1,
            "funding": paid_by,
            "discount_fen": quote.discount_fen,
            "mdiscount_fen": quote.mdiscount_fen,
        }
        expect = {"status": TradeStatus.WAIT_BUYER_PAY}
        if not self.store.update_trade(tx, trade.trade_no, expect, changes):
            current = self._trade_in(tx, trade.trade_no)
            next_status(current.status, TradeEvent.PAY)
            raise AssertionError("trade changed but is still unpaid")
        # After the compare-and-set, so that a second payment of the trade fails on its state.
        self._redeem_in(tx, trade.trade_no, quote)
        # The row matched WAIT_BUYER_PAY, and an open trade's other columns do not change
        # (only `visible`, which this update sets): the paid row is known without a re-read.
        paid = dataclasses.replace(
            trade,
            status=TradeStatus.TRADE_SUCCESS,
            buyer_user_id=buyer_user_id,
            paid_at_us=now_us,
            fee_fen=fee_fen,
            visible=True,
            funding=paid_by,
            discount_fen=quote.discount_fen,
            mdiscount_fen=quote.mdiscount_fen,
        )
        self._paid_in(
            tx, paid, merchant, buyer_user_id, reserved_in=reserved_in, installments=installments
        )
        return paid

    def _quote_in(self, tx: Tx, trade: Trade, buyer_user_id: int, choice: CouponChoice) -> Quote:
        if self.discounts is None or choice == NO_COUPONS:
            return Quote(trade.total_fen)
        return self.discounts.quote_in(tx, trade, buyer_user_id, choice)

    def _redeem_in(self, tx: Tx, trade_no: str, quote: Quote) -> None:
        if quote.vouchers:
            assert self.discounts is not None
            self.discounts.redeem_in(tx, trade_no, quote)

    def _paid_in(
        self,
        tx: Tx,
        paid: Trade,
        merchant: Merchant,
        buyer_user_id: int,
        *,
        last: bool = False,
        fresh: bool = False,
        reserved_in: int | None = None,
        installments: int | None = None,
    ) -> None:
        """What follows every payment in its transaction: the merchant's notification and the
        journal (no finish timer: the `finish_due` sweep finds the trade by its paid_at_us).
        `last`: the transaction writes nothing after this, so the journal may commit it;
        `fresh`: the trade row is this transaction's own, so its journal ids are new (see
        `LedgerService.transfer_in`)."""
        assert paid.paid_at_us is not None
        extra: list[Transfer] = []
        if reserved_in is not None:
            source_id = reserved_in
        elif installments is not None:
            # Huabei in installments: the line's row lock, as a credit payment's, comes first.
            assert self.installments is not None and paid.funding is Funding.CREDIT
            source_id, extra = self.installments.draw_in(
                tx, buyer_user_id, paid, installments, merchant.settlement_account_id
            )
        elif paid.funding is Funding.CREDIT:
            # The line's row lock comes before any ledger account's (services/credit.py).
            assert self.credit is not None
            source_id = self.credit.draw_in(tx, buyer_user_id, paid.trade_no, paid.buyer_pay_fen)
        else:
            source_id = self._wallet_id_in(tx, buyer_user_id)
        self.events.trade_changed_in(tx, paid, "pay")
        # Money moves last: the merchant's and the fee account's rows are hot (every payment
        # credits them), so their locks are taken as late, and held as briefly, as possible.
        self._move_payment_in(
            tx, paid, merchant, source_id, paid.fee_fen, last=last, fresh=fresh, extra=extra
        )

    def _wallet_id_in(self, tx: Tx, user_id: int) -> int:
        wallet_id = self._wallet_ids.get(user_id)
        if wallet_id is None:
            wallet_id = self.buyers.wallet_account_id_in(tx, user_id)
            if len(self._wallet_ids) >= WALLET_CACHE_SIZE_MAX:
                self._wallet_ids.clear()
            self._wallet_ids[user_id] = wallet_id
        return wallet_id

    def _move_payment_in(
        self,
        tx: Tx,
        trade: Trade,
        merchant: Merchant,
        source_id: int,
        fee_fen: int,
        *,
        last: bool = False,
        fresh: bool = False,
        extra: Sequence[Transfer] = (),
    ) -> None:
        """`source_id`: the buyer's wallet, or its credit account for a credit payment. The
        buyer pays its part, the platform's marketing account the platform-funded discount,
        and the fee is taken from what the merchant received, then `extra` (a merchant-paid
        installment fee): all or none."""
        settlement_id = merchant.settlement_account_id
        transfers = [
            Transfer(
                f"trade:{trade.trade_no}:pay",
                source_id,
                settlement_id,
                trade.buyer_pay_fen,
                code=LEDGER_CODE_TRADE_PAY,
                reference=trade.trade_no,
            )
        ]
        if trade.discount_fen:
            transfers.append(
                Transfer(
                    f"trade:{trade.trade_no}:subsidy",
                    self.marketing_account_id_in(tx),
                    settlement_id,
                    trade.discount_fen,
                    code=LEDGER_CODE_TRADE_SUBSIDY,
                    reference=trade.trade_no,
                )
            )
        if fee_fen:
            transfers.append(
                Transfer(
                    f"trade:{trade.trade_no}:fee",
                    settlement_id,
                    self.fees_account_id_in(tx),
                    fee_fen,
                    code=LEDGER_CODE_TRADE_FEE,
                    reference=trade.trade_no,
                )
            )
        transfers.extend(extra)
        try:
            self.ledger.transfer_in(tx, linked(transfers), commit=last, fresh=fresh)
        except LedgerRejected as error:
            if error.code == "exceeds_credits":
                raise BuyerBalanceNotEnough("the buyer's balance is not enough") from None
            raise

    def fees_account_id_in(self, tx: Tx) -> int:
        if self._fees_account_id is None:
            spec = platform_account(Purpose.FEES)
            self._fees_account_id = self.ledger.open_accounts_in(tx, [spec])[spec.key]
        return self._fees_account_id

    def marketing_account_id_in(self, tx: Tx) -> int:
        """The platform's marketing account: pays platform-funded discounts (it goes negative
        as it spends; adapters/db/coupon_checks.py reconciles it with the trades)."""
        if self._marketing_account_id is None:
            spec = platform_account(Purpose.MARKETING)
            self._marketing_account_id = self.ledger.open_accounts_in(tx, [spec])[spec.key]
        return self._marketing_account_id

    def resolve_code_in(self, tx: Tx, auth_code: str) -> int:
        """The buyer a till's one-time code names (the code is spent with the transaction), or
        AuthCodeInvalid: for features that take a payment code without paying a trade at once
        (a pre-authorisation freeze, services/preauth.py)."""
        return self._resolve_code_in(tx, auth_code)

    def _resolve_code_in(self, tx: Tx, auth_code: str) -> int:
        now_us = self.clock.now_us()
        user_id = self.store.use_auth_code(tx, auth_code, now_us)
        for resolver in self.code_resolvers:
            if user_id is not None:
                break
            user_id = resolver.resolve_in(tx, auth_code, now_us)
        if user_id is None:
            raise AuthCodeInvalid("the payment code is invalid or expired")
        return user_id

    def issue_auth_code(self, user_id: int) -> str:
        """A one-time code a buyer shows at a till, valid for five minutes."""
        assert user_id > 0
        code = "28" + "".join(secrets.choice("0123456789") for _ in range(16))
        now_us = self.clock.now_us()
        self.db.run(
            lambda tx: self.store.insert_auth_code(tx, code, user_id, now_us, AUTH_CODE_TTL_S)
        )
        return code

    # Read ---------------------------------------------------------------------------------

    def find(self, app_id: str, ref: TradeRef) -> Trade:
        with self.db.read() as tx:
            return self.find_in(tx, app_id, ref)

    def out_no_taken_in(self, tx: Tx, app_id: str, out_trade_no: str) -> bool:
        """Whether a trade of this app has this number, shown to the merchant or not yet (a
        QR order before it is scanned)."""
        return self.store.trade_by_out_no(tx, app_id, out_trade_no) is not None

    def find_in(self, tx: Tx, app_id: str, ref: TradeRef) -> Trade:
        """A trade of this app, as the merchant may see it (a QR trade once scanned)."""
        trade = None
        if ref.trade_no:
            trade = self.store.trade_by_no(tx, ref.trade_no)
            if trade is not None and ref.out_trade_no and trade.out_trade_no != ref.out_trade_no:
                trade = None
        elif ref.out_trade_no:
            trade = self.store.trade_by_out_no(tx, app_id, ref.out_trade_no)
        if trade is None or trade.app_id != app_id or not trade.visible:
            raise TradeNotFound("no such trade")
        return trade

    def get(self, trade_no: str) -> Trade:
        with self.db.read() as tx:
            return self._trade_in(tx, trade_no)

    def _trade_in(self, tx: Tx, trade_no: str) -> Trade:
        trade = self.store.trade_by_no(tx, trade_no)
        if trade is None:
            raise TradeNotFound("no such trade")
        return trade

    def search(self, search: TradeSearch) -> list[Trade]:
        assert 0 < search.limit <= SEARCH_LIMIT_MAX
        with self.db.read() as tx:
            return self.store.search(tx, search)

    def mark_scanned(self, trade_no: str) -> Trade:
        """A buyer opened a precreated (QR) trade: from now on the merchant can see it."""

        def work(tx: Tx) -> Trade:
            trade = self._trade_in(tx, trade_no)
            if not trade.visible:
                self.store.update_trade(tx, trade_no, {"visible": 0}, {"visible": 1})
            return self._trade_in(tx, trade_no)

        return self.db.run(work)

    # Close, expire, finish ----------------------------------------------------------------

    def close(self, app_id: str, ref: TradeRef) -> Trade:
        def work(tx: Tx) -> Trade:
            trade = self.find_in(tx, app_id, ref)
            return self.close_in(tx, trade)

        try:
            return self.db.run(work)
        except TradeStatusError:
            raise
        except InvalidState as error:
            # Alipay answers every non-open state of a close with TRADE_STATUS_ERROR.
            raise TradeStatusError(error.message) from None

    def close_in(self, tx: Tx, trade: Trade) -> Trade:
        next_status(trade.status, TradeEvent.CLOSE)
        changes = {"status": TradeStatus.TRADE_CLOSED, "closed_at_us": self.clock.now_us()}
        expect = {"status": TradeStatus.WAIT_BUYER_PAY}
        if not self.store.update_trade(tx, trade.trade_no, expect, changes):
            current = self._trade_in(tx, trade.trade_no)
            next_status(current.status, TradeEvent.CLOSE)
            raise AssertionError("trade changed but is still open")
        closed = self._trade_in(tx, trade.trade_no)
        if self.settings.notify_on_close:
            self.events.trade_changed_in(tx, closed, "close")
        return closed

    def _expire_job(self, tx: Tx, job: Job) -> None:
        trade = self.store.trade_by_no(tx, job.key)
        if trade is None or trade.status is not TradeStatus.WAIT_BUYER_PAY:
            return  # paid or closed meanwhile: nothing to expire
        if trade.expires_at_us > self.clock.now_us():
            return  # the deadline moved; its own job will come
        self.close_in(tx, trade)

    # Finish -------------------------------------------------------------------------------

    def finish_due(self, batch_size: int = FINISH_BATCH_SIZE_MAX) -> int:
        """Sweep: finish every paid trade whose refund window has passed, oldest payment first,
        each batch in its own transaction; returns how many it finished. Safe beside another
        sweeper (or an old finish job): each finish is a compare-and-set on TRADE_SUCCESS, so
        a trade is finished, and announced, once; the loser of a race changes nothing."""
        assert 0 < batch_size <= FINISH_BATCH_SIZE_MAX
        # Due when the window has closed: the moment `refund_window_open` turns false.
        paid_until_us = self.clock.now_us() - self.settings.refund_window_s * US_PER_S
        finished = 0
        while True:
            done, seen = self.db.run(
                lambda tx: self._finish_batch_in(tx, paid_until_us, batch_size)
            )
            finished += done
            # A short batch was the last; a full one that changed nothing (every trade taken
            # by another sweeper) leaves the rest to the next pass rather than spin.
            if seen < batch_size or done == 0:
                return finished

    def _finish_batch_in(self, tx: Tx, paid_until_us: int, limit: int) -> tuple[int, int]:
        """(trades finished, trades found due) of one batch."""
        trade_ids = self.store.trade_ids_to_finish(tx, paid_until_us, limit)
        return len(self._finish_in(tx, trade_ids)), len(trade_ids)

    def _finish_in(self, tx: Tx, trade_ids: Sequence[int]) -> list[Trade]:
        finished = self.store.finish_trades(tx, trade_ids, self.clock.now_us())
        if self.settings.notify_on_finish:
            for trade in sorted(finished, key=lambda t: t.id):
                self.events.trade_changed_in(tx, trade, "finish")
        return finished

    def _finish_job(self, tx: Tx, job: Job) -> None:
        """A finish job scheduled before the sweep existed: finishes its trade as the sweep
        would, or nothing if the sweep (or a refund that closed it) came first."""
        trade = self.store.trade_by_no(tx, job.key)
        if trade is None or trade.status is not TradeStatus.TRADE_SUCCESS:
            return  # finished by the sweep, or fully refunded (closed) in the window
        if self.refund_window_open(trade):
            return  # the window was lengthened since the job was scheduled: the sweep's turn
        self._finish_in(tx, [trade.id])

    def refund_window_open(self, trade: Trade) -> bool:
        if trade.paid_at_us is None:
            return False
        deadline_us = trade.paid_at_us + self.settings.refund_window_s * US_PER_S
        return self.clock.now_us() < deadline_us

    def _merchant_of_app(self, app_id: str) -> Merchant:
        app = self.merchants.app(app_id)
        return self.merchants.merchant(app.merchant_id)


def check_new_trade(new: NewTrade) -> None:
    if not new.out_trade_no or len(new.out_trade_no) > OUT_TRADE_NO_LENGTH_MAX:
        raise InvalidInput("out_trade_no must be 1..64 characters", code="invalid_out_trade_no")
    if not new.subject or len(new.subject) > SUBJECT_LENGTH_MAX:
        raise InvalidInput("subject must be 1..256 characters", code="invalid_subject")
    if new.timeout_s is not None and not 0 < new.timeout_s <= PAY_TIMEOUT_S_MAX:
        raise InvalidInput("timeout must be 1 minute .. 15 days", code="invalid_timeout")
    assert new.total_fen > 0, "amounts are checked at the edge"
    assert 0 <= new.undiscountable_fen <= new.total_fen, "checked at the edge"


def linked(transfers: list[Transfer]) -> list[Transfer]:
    """A chain that applies all or none: every transfer but the last links to the next."""
    last = len(transfers) - 1
    return [
        t._replace(flags=t.flags | TransferFlags.LINKED) if i < last else t
        for i, t in enumerate(transfers)
    ]


class _TakenMeanwhile(Exception):
    """The order number was free when read outside the transaction, taken when inserted."""


def _check_same_order(existing: Trade, new: NewTrade) -> None:
    # The buyer is compared as a column, not folded into the fingerprint: the fingerprints of
    # the orders stored before it existed stay valid.
    if (
        existing.fingerprint != new.fingerprint
        or existing.designated_buyer_id != new.designated_buyer_id
    ):
        raise TradeContextInconsistent("this out_trade_no was used with other parameters")


def new_trade_no(now_us: int) -> str:
    """28 digits like Alipay's: the Beijing date, a fixed channel mark, 16 random digits."""
    day = datetime_from_us(now_us + 8 * 3600 * US_PER_S).strftime("%Y%m%d")
    number = f"{day}2200{secrets.randbelow(10**16):016d}"
    assert len(number) == 28
    return number


__all__: Sequence[str] = [
    "AuthCodeResolver",
    "Buyers",
    "CreditFunding",
    "InstallmentFunding",
    "NewTrade",
    "Trade",
    "TradeBuyerNotMatch",
    "TradeDiscounts",
    "TradeRef",
    "TradeSearch",
    "TradeService",
    "TradeSettings",
    "TradeStore",
]
