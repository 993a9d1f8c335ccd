"""Escrow trades: one write path per arrow of `domain.escrow.TRANSITIONS`.

Every change runs in `db.run`: lock the escrow row (`SELECT ... FOR UPDATE`), check who acts and
the arrow, write the row as compare-and-set on (status, timer generation), move the timer, write
the audit message, the ledger journal and the notification outbox row, all in one transaction.
`db.run` may re-run the work after a conflict, so the work re-reads the row, and transfer ids
derive from the escrow number (`escrow:<no>:hold|post|void|release|fee`).

Money: payment is a pending transfer buyer wallet -> platform escrow account (the escrow account
shows everything held) with no ledger timeout, so only our timers and people resolve it. The end
posts the seller's part of the hold (the rest returns to the buyer by itself) and pays it on,
escrow -> payee, less the fee -> platform fees; or voids it when everything goes back.

Coupons (services/marketing.py, plugged in as `discounts`): the buyer may use platform-funded
coupons, priced and redeemed (by the escrow number) in the payment's transaction as at the
trade cashier. The hold is then the price less the discount, linked to a posted transfer of the
discount from the platform's marketing account into escrow (`escrow:<no>:subsidy`), so the
escrow holds the full price and the seller is paid as without a coupon. At the end the hold
posts the buyer's part of what the seller gets (domain/escrow.py `split_hold`: a refund pro
rata, as trade refunds) and the subsidy's refunded share goes back to the marketing account
(`escrow:<no>:subsidyback`). Used coupons are not given back, as for trades.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from paybao.domain.accounts import Purpose, platform_account
from paybao.domain.coupons import NO_COUPONS, CouponChoice, Quote
from paybao.domain.errors import InvalidInput, NotFound
from paybao.domain.escrow import (
    FINAL,
    LEDGER_CODE_ESCROW_FEE,
    LEDGER_CODE_ESCROW_HOLD,
    LEDGER_CODE_ESCROW_POST,
    LEDGER_CODE_ESCROW_RELEASE,
    LEDGER_CODE_ESCROW_SUBSIDY,
    LEDGER_CODE_ESCROW_SUBSIDY_BACK,
    LEDGER_CODE_ESCROW_VOID,
    MESSAGE_LENGTH_MAX,
    REASON_LENGTH_MAX,
    TITLE_LENGTH_MAX,
    ConfirmTimer,
    EscrowEvent,
    EscrowNotFound,
    EscrowNotParty,
    EscrowSelfPurchase,
    EscrowStatus,
    EscrowTimers,
    GoodsType,
    HoldSplit,
    check_price_fen,
    check_refund_fen,
    check_text,
    extend_timer,
    next_status,
    pause_timer,
    refund_event,
    resume_timer,
    split_hold,
    start_timer,
)
from paybao.domain.ledger import Transfer, TransferFlags
from paybao.domain.money import format_yuan
from paybao.domain.trades import BuyerBalanceNotEnough
from paybao.services.clock import US_PER_S
from paybao.services.jobs import Job, JobRunner
from paybao.services.ledger import LedgerRejected, LedgerService
from paybao.services.ports import Clock, Database, Tx

JOB_TIMER = "escrow_timer"
LIST_LIMIT_MAX = 200
IMAGE_BYTES_MAX = 512 * 1024
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
ESCROW_NO_PREFIX = "E"


@dataclass(frozen=True, slots=True)
class Listing:
    id: int
    seller_user_id: int
    title: str
    price_fen: int
    goods_type: GoodsType
    active: bool
    created_at_us: int


@dataclass(frozen=True, slots=True)
class Escrow:
    id: int
    escrow_no: str
    listing_id: int | None
    seller_user_id: int | None
    merchant_id: int | None
    app_id: str | None
    out_trade_no: str | None
    payee_account_id: int
    buyer_user_id: int | None
    request_key: str | None
    title: str
    goods_type: GoodsType
    total_fen: int
    fee_rate_ppm: int
    fee_fen: int
    refund_fen: int
    status: EscrowStatus
    resolution: str | None
    carrier: str | None
    tracking_no: str | None
    confirm_due_at_us: int | None
    confirm_remaining_us: int | None
    extended_s: int
    timer_seq: int
    timer_due_at_us: int | None
    refund_request_fen: int | None
    refund_reason: str | None
    notify_url: str | None
    created_at_us: int
    pay_expires_at_us: int
    paid_at_us: int | None = None
    shipped_at_us: int | None = None
    ended_at_us: int | None = None
    # Coupons: the platform-funded part of the price, and its share a refund sent back.
    discount_fen: int = 0
    discount_back_fen: int = 0
    # Opaque to this service: what the channel adapter needs to notify (an ISV's app).
    channel_context: str = "{}"

    @property
    def buyer_pay_fen(self) -> int:
        """What the buyer paid (the hold): the price less the platform's discount."""
        return self.total_fen - self.discount_fen

    @property
    def confirm_timer(self) -> ConfirmTimer | None:
        if self.confirm_due_at_us is None and self.confirm_remaining_us is None:
            return None
        return ConfirmTimer(self.confirm_due_at_us, self.confirm_remaining_us)

    @property
    def hold_id(self) -> str:
        return f"escrow:{self.escrow_no}:hold"


@dataclass(frozen=True, slots=True)
class Message:
    id: int
    escrow_id: int
    author: str
    author_id: int | None
    text: str
    image_type: str | None
    has_image: bool
    created_at_us: int


@dataclass(frozen=True, slots=True)
class Party:
    """Who acts: the buyer or seller (a wallet user), a merchant, an operator or a timer."""

    role: str  # buyer | seller | merchant | operator | system
    id: int | None = None

    @staticmethod
    def buyer(user_id: int) -> Party:
        return Party("buyer", user_id)

    @staticmethod
    def seller(user_id: int) -> Party:
        return Party("seller", user_id)

    @staticmethod
    def merchant(merchant_id: int) -> Party:
        return Party("merchant", merchant_id)

    @staticmethod
    def operator(operator_id: int | None = None) -> Party:
        return Party("operator", operator_id)


SYSTEM = Party("system")


@dataclass(frozen=True, slots=True)
class Evidence:
    text: str
    image: bytes | None = None
    image_type: str | None = None


class EscrowStore(Protocol):
    def insert_listing(self, tx: Tx, listing: Listing) -> int: ...

    def listing(self, tx: Tx, listing_id: int) -> Listing | None: ...

    def listings(self, tx: Tx, seller_user_id: int | None, limit: int) -> list[Listing]: ...

    def insert_escrow(self, tx: Tx, escrow: Escrow) -> bool:
        """Insert unless its idempotency key exists; True if inserted."""
        ...

    def escrow_by_no(
        self, tx: Tx, escrow_no: str, *, for_update: bool = False
    ) -> Escrow | None: ...

    def escrow_by_request(self, tx: Tx, buyer_user_id: int, request_key: str) -> Escrow | None: ...

    def escrow_by_out_no(self, tx: Tx, app_id: str, out_trade_no: str) -> Escrow | None: ...

    def update_escrow(
        self, tx: Tx, escrow_no: str, expect: Mapping[str, Any], changes: Mapping[str, Any]
    ) -> bool: ...

    def escrows_of(self, tx: Tx, role: str, party_id: int, limit: int) -> list[Escrow]: ...

    def escrows_in(self, tx: Tx, statuses: Sequence[str], limit: int) -> list[Escrow]: ...

    def insert_message(
        self, tx: Tx, escrow_id: int, party: Party, evidence: Evidence, at: int
    ) -> int: ...

    def messages(self, tx: Tx, escrow_id: int) -> list[Message]: ...

    def image(self, tx: Tx, message_id: int) -> tuple[int, bytes, str] | None: ...


class Wallets(Protocol):
    """What escrow needs from the wallet (UserService implements it)."""

    def run_paying(self, work: Any) -> Any: ...

    def check_payment_password_in(self, tx: Tx, user_id: int, payment_password: str) -> None: ...

    def check_can_pay_in(self, tx: Tx, user_id: int, amount_fen: int, *, funding: str) -> None: ...

    def wallet_account_id_in(self, tx: Tx, user_id: int) -> int: ...


class EscrowDiscounts(Protocol):
    """Coupons (services/marketing.py): priced before an escrow payment, used up inside it."""

    def escrow_quote_in(
        self,
        tx: Tx,
        total_fen: int,
        merchant_id: int | None,
        buyer_user_id: int,
        choice: CouponChoice,
    ) -> Quote:
        """What the chosen (or the best) platform-funded coupons take off; reads only."""
        ...

    def redeem_in(self, tx: Tx, trade_no: str, quote: Quote) -> None:
        """Mark the quote's coupons used by the escrow, or refuse if one was used meanwhile."""
        ...


class EscrowEvents(Protocol):
    """Where escrow changes are announced (merchant notifications for gateway trades)."""

    def escrow_changed_in(self, tx: Tx, escrow: Escrow, event: str) -> None: ...


class NoEvents:
    def escrow_changed_in(self, tx: Tx, escrow: Escrow, event: str) -> None:
        return None


@dataclass(frozen=True, slots=True)
class EscrowPolicy:
    timers: EscrowTimers
    market_fee_rate_ppm: int
    pay_timeout_s: int


@dataclass(frozen=True, slots=True)
class NewEscrow:
    """An escrow order from a merchant (gateway); the buyer pays it later."""

    merchant_id: int
    app_id: str
    out_trade_no: str
    payee_account_id: int
    fee_rate_ppm: int
    title: str
    goods_type: GoodsType
    total_fen: int
    notify_url: str | None = None
    channel_context: str = "{}"  # opaque: the gateway's (who made the order, on_behalf.py)


class EscrowService:
    def __init__(
        self,
        *,
        db: Database,
        store: EscrowStore,
        ledger: LedgerService,
        clock: Clock,
        jobs: JobRunner,
        wallets: Wallets,
        policy: EscrowPolicy,
        events: EscrowEvents | None = None,
        discounts: EscrowDiscounts | None = None,
    ) -> None:
        self.db = db
        self.store = store
        self.ledger = ledger
        self.clock = clock
        self.jobs = jobs
        self.wallets = wallets
        self.policy = policy
        self.events: EscrowEvents = events or NoEvents()
        # Without the coupons feature no escrow is discounted.
        self.discounts = discounts
        self._account_ids: dict[Purpose, int] = {}

    def install_jobs(self) -> None:
        self.jobs.register(JOB_TIMER, self._timer_job)

    # Listings -------------------------------------------------------------------------------

    def list_item(
        self, seller_user_id: int, title: str, price_fen: int, goods_type: GoodsType
    ) -> Listing:
        listing = Listing(
            id=0,
            seller_user_id=seller_user_id,
            title=check_text(title, field="title", length_max=TITLE_LENGTH_MAX),
            price_fen=check_price_fen(price_fen),
            goods_type=goods_type,
            active=True,
            created_at_us=self.clock.now_us(),
        )

        def work(tx: Tx) -> Listing:
            self.wallets.wallet_account_id_in(tx, seller_user_id)  # sellers need a wallet
            return replace(listing, id=self.store.insert_listing(tx, listing))

        return self.db.run(work)

    def listing(self, listing_id: int) -> Listing:
        """An active listing (the checkout page's)."""
        with self.db.read() as tx:
            listing = self.store.listing(tx, listing_id)
        if listing is None or not listing.active:
            raise NotFound("no such listing", code="listing_not_found")
        return listing

    def listings(self, seller_user_id: int | None = None, limit: int = 50) -> list[Listing]:
        assert 0 < limit <= LIST_LIMIT_MAX
        with self.db.read() as tx:
            return self.store.listings(tx, seller_user_id, limit)

    # Create and pay -------------------------------------------------------------------------

    def buy(
        self,
        listing_id: int,
        buyer_user_id: int,
        payment_password: str,
        request_key: str,
        coupons: CouponChoice = NO_COUPONS,
    ) -> Escrow:
        """A buyer buys a listing and pays at once, with the coupons chosen; the same request
        key returns the first."""
        key = check_text(request_key, field="request_key", length_max=64)

        def work(tx: Tx) -> Escrow:
            existing = self.store.escrow_by_request(tx, buyer_user_id, key)
            if existing is not None:
                return existing
            listing = self.store.listing(tx, listing_id)
            if listing is None or not listing.active:
                raise NotFound("no such listing", code="listing_not_found")
            if listing.seller_user_id == buyer_user_id:
                raise EscrowSelfPurchase("you cannot buy your own listing")
            draft = self._market_draft(tx, listing, buyer_user_id, key)
            if not self.store.insert_escrow(tx, draft):
                raise AssertionError("a new escrow number collided")  # a retry draws anew
            self.wallets.check_payment_password_in(tx, buyer_user_id, payment_password)
            return self._pay_in(tx, self._lock_in(tx, draft.escrow_no), buyer_user_id, coupons)

        escrow: Escrow = self.wallets.run_paying(work)
        return escrow

    def _market_draft(self, tx: Tx, listing: Listing, buyer_user_id: int, key: str) -> Escrow:
        now_us = self.clock.now_us()
        return Escrow(
            id=0,
            escrow_no=new_escrow_no(),
            listing_id=listing.id,
            seller_user_id=listing.seller_user_id,
            merchant_id=None,
            app_id=None,
            out_trade_no=None,
            payee_account_id=self.wallets.wallet_account_id_in(tx, listing.seller_user_id),
            buyer_user_id=buyer_user_id,
            request_key=key,
            title=listing.title,
            goods_type=listing.goods_type,
            total_fen=listing.price_fen,
            fee_rate_ppm=self.policy.market_fee_rate_ppm,
            fee_fen=0,
            refund_fen=0,
            status=EscrowStatus.WAIT_BUYER_PAY,
            resolution=None,
            carrier=None,
            tracking_no=None,
            confirm_due_at_us=None,
            confirm_remaining_us=None,
            extended_s=0,
            timer_seq=0,
            timer_due_at_us=None,
            refund_request_fen=None,
            refund_reason=None,
            notify_url=None,
            created_at_us=now_us,
            pay_expires_at_us=now_us + self.policy.pay_timeout_s * US_PER_S,
        )

    def create_for_merchant(self, new: NewEscrow) -> Escrow:
        """An unpaid escrow order from a merchant; the same out_trade_no returns it."""
        check_price_fen(new.total_fen)
        check_text(new.title, field="title", length_max=TITLE_LENGTH_MAX)

        def work(tx: Tx) -> Escrow:
            existing = self.store.escrow_by_out_no(tx, new.app_id, new.out_trade_no)
            if existing is not None:
                _check_same_order(existing, new)
                return existing
            draft = self._merchant_draft(new)
            if not self.store.insert_escrow(tx, draft):
                existing = self.store.escrow_by_out_no(tx, new.app_id, new.out_trade_no)
                assert existing is not None
                _check_same_order(existing, new)
                return existing
            escrow = self._lock_in(tx, draft.escrow_no)
            # The payment timeout is the first timer.
            changes = self._timer_changes(tx, escrow, escrow.pay_expires_at_us)
            self._write(tx, escrow, escrow.status, changes)
            return self._get_in(tx, escrow.escrow_no)

        return self.db.run(work)

    def _merchant_draft(self, new: NewEscrow) -> Escrow:
        now_us = self.clock.now_us()
        return Escrow(
            id=0,
            escrow_no=new_escrow_no(),
            listing_id=None,
            seller_user_id=None,
            merchant_id=new.merchant_id,
            app_id=new.app_id,
            out_trade_no=new.out_trade_no,
            payee_account_id=new.payee_account_id,
            buyer_user_id=None,
            request_key=None,
            title=new.title,
            goods_type=new.goods_type,
            total_fen=new.total_fen,
            fee_rate_ppm=new.fee_rate_ppm,
            fee_fen=0,
            refund_fen=0,
            status=EscrowStatus.WAIT_BUYER_PAY,
            resolution=None,
            carrier=None,
            tracking_no=None,
            confirm_due_at_us=None,
            confirm_remaining_us=None,
            extended_s=0,
            timer_seq=0,
            timer_due_at_us=None,
            refund_request_fen=None,
            refund_reason=None,
            notify_url=new.notify_url,
            created_at_us=now_us,
            pay_expires_at_us=now_us + self.policy.pay_timeout_s * US_PER_S,
            channel_context=new.channel_context,
        )

    def pay(
        self,
        escrow_no: str,
        buyer_user_id: int,
        payment_password: str,
        coupons: CouponChoice = NO_COUPONS,
    ) -> Escrow:
        """A signed-in buyer pays an open escrow order with the wallet balance (and coupons)."""

        def work(tx: Tx) -> Escrow:
            escrow = self._lock_in(tx, escrow_no)
            next_status(escrow.status, EscrowEvent.PAY)  # before asking for the password
            if escrow.seller_user_id == buyer_user_id:
                raise EscrowSelfPurchase("you cannot buy from yourself")
            self.wallets.check_payment_password_in(tx, buyer_user_id, payment_password)
            return self._pay_in(tx, escrow, buyer_user_id, coupons)

        escrow: Escrow = self.wallets.run_paying(work)
        return escrow

    def _pay_in(self, tx: Tx, escrow: Escrow, buyer_user_id: int, coupons: CouponChoice) -> Escrow:
        now_us = self.clock.now_us()
        status = next_status(escrow.status, EscrowEvent.PAY)
        if escrow.pay_expires_at_us <= now_us:
            raise InvalidInput("the payment time is over", code="escrow_pay_timeout")
        quote = self._quote_in(tx, escrow, buyer_user_id, coupons)
        self.wallets.check_can_pay_in(tx, buyer_user_id, quote.buyer_pay_fen, funding="balance")
        changes: dict[str, Any] = {
            "buyer_user_id": buyer_user_id,
            "paid_at_us": now_us,
            "discount_fen": quote.discount_fen,
        }
        # No timer while waiting for shipment: the buyer may cancel whenever they like.
        changes.update(self._timer_changes(tx, escrow, None))
        note = "paid into escrow"
        if quote.discount_fen:
            off = format_yuan(quote.discount_fen)
            note = f"paid into escrow; platform coupons paid {off} of it"
        paid = self._write(tx, escrow, status, changes, SYSTEM, note)
        # After the compare-and-set, so that a second payment fails on the state first.
        if quote.vouchers:
            assert self.discounts is not None
            self.discounts.redeem_in(tx, escrow.escrow_no, quote)
        wallet_id = self.wallets.wallet_account_id_in(tx, buyer_user_id)
        self._hold_in(tx, paid, wallet_id)
        self.events.escrow_changed_in(tx, paid, "pay")
        if paid.goods_type.ships_on_payment:
            return self._ship_in(tx, paid, SYSTEM, "auto", "")
        return paid

    def _quote_in(self, tx: Tx, escrow: Escrow, buyer_user_id: int, coupons: CouponChoice) -> Quote:
        if self.discounts is None or coupons == NO_COUPONS:
            return Quote(escrow.total_fen)
        quote = self.discounts.escrow_quote_in(
            tx, escrow.total_fen, escrow.merchant_id, buyer_user_id, coupons
        )
        # Only the platform's coupons apply: the seller is paid the full price.
        assert quote.total_fen == escrow.total_fen and quote.mdiscount_fen == 0
        return quote

    # Close and cancel -----------------------------------------------------------------------

    def cancel(self, escrow_no: str, party: Party) -> Escrow:
        """Before shipment the buyer takes it all back at once; unpaid, the order closes."""

        def work(tx: Tx) -> Escrow:
            escrow = self._lock_in(tx, escrow_no)
            if escrow.status is EscrowStatus.WAIT_BUYER_PAY:
                self._check_party(escrow, party, "buyer", "merchant")
                return self._close_unpaid_in(tx, escrow, party)
            self._check_party(escrow, party, "buyer")
            return self._end_in(tx, escrow, EscrowEvent.CANCEL, escrow.total_fen, party, "cancel")

        return self.db.run(work)

    def _close_unpaid_in(self, tx: Tx, escrow: Escrow, party: Party) -> Escrow:
        status = next_status(escrow.status, EscrowEvent.CLOSE)
        changes = self._timer_changes(tx, escrow, None)
        changes.update(ended_at_us=self.clock.now_us(), resolution="unpaid")
        closed = self._write(tx, escrow, status, changes, party, "closed unpaid")
        self.events.escrow_changed_in(tx, closed, "close")
        return closed

    # Ship, extend, confirm ------------------------------------------------------------------

    def ship(self, escrow_no: str, party: Party, carrier: str, tracking_no: str) -> Escrow:
        carrier = check_text(carrier, field="carrier", length_max=32)
        tracking_no = check_text(tracking_no, field="tracking_no", length_max=64)

        def work(tx: Tx) -> Escrow:
            escrow = self._lock_in(tx, escrow_no)
            self._check_party(escrow, party, "seller", "merchant")
            return self._ship_in(tx, escrow, party, carrier, tracking_no)

        return self.db.run(work)

    def _ship_in(
        self, tx: Tx, escrow: Escrow, party: Party, carrier: str, tracking_no: str
    ) -> Escrow:
        status = next_status(escrow.status, EscrowEvent.SHIP)
        now_us = self.clock.now_us()
        timer = start_timer(now_us, self.policy.timers.confirm_s_for(escrow.goods_type))
        changes: dict[str, Any] = {
            "carrier": carrier,
            "tracking_no": tracking_no or None,
            "shipped_at_us": now_us,
        }
        changes.update(_timer_columns(timer))
        changes.update(self._timer_changes(tx, escrow, timer.due_at_us))
        note = f"shipped: {carrier} {tracking_no}".strip()
        shipped = self._write(tx, escrow, status, changes, party, note)
        self.events.escrow_changed_in(tx, shipped, "ship")
        return shipped

    def extend(self, escrow_no: str, party: Party, extra_s: int) -> Escrow:
        def work(tx: Tx) -> Escrow:
            escrow = self._lock_in(tx, escrow_no)
            self._check_party(escrow, party, "seller", "merchant")
            status = next_status(escrow.status, EscrowEvent.EXTEND)
            timer = escrow.confirm_timer
            assert timer is not None and timer.running
            extended = extend_timer(timer, extra_s, escrow.extended_s)
            changes: dict[str, Any] = {"extended_s": escrow.extended_s + extra_s}
            changes.update(_timer_columns(extended))
            changes.update(self._timer_changes(tx, escrow, extended.due_at_us))
            return self._write(tx, escrow, status, changes, party, f"extended by {extra_s} s")

        return self.db.run(work)

    def confirm(self, escrow_no: str, buyer_user_id: int, payment_password: str) -> Escrow:
        """The buyer confirms receipt with the payment password: the seller is paid."""

        def work(tx: Tx) -> Escrow:
            escrow = self._lock_in(tx, escrow_no)
            self._check_party(escrow, Party.buyer(buyer_user_id), "buyer")
            next_status(escrow.status, EscrowEvent.CONFIRM)  # before asking for the password
            self.wallets.check_payment_password_in(tx, buyer_user_id, payment_password)
            party = Party.buyer(buyer_user_id)
            return self._end_in(tx, escrow, EscrowEvent.CONFIRM, 0, party, "confirmed")

        escrow: Escrow = self.wallets.run_paying(work)
        return escrow

    def confirm_by_merchant_test(self, escrow_no: str, merchant_id: int) -> Escrow:
        """Sandbox only (the gateway checks): an integrator's test confirms for its buyer."""

        def work(tx: Tx) -> Escrow:
            escrow = self._lock_in(tx, escrow_no)
            party = Party.merchant(merchant_id)
            self._check_party(escrow, party, "merchant")
            return self._end_in(tx, escrow, EscrowEvent.CONFIRM, 0, party, "confirmed")

        return self.db.run(work)

    # Refund dialogue ------------------------------------------------------------------------

    def request_refund(
        self, escrow_no: str, buyer_user_id: int, refund_fen: int, reason: str
    ) -> Escrow:
        reason = check_text(reason, field="reason", length_max=REASON_LENGTH_MAX)

        def work(tx: Tx) -> Escrow:
            escrow = self._lock_in(tx, escrow_no)
            party = Party.buyer(buyer_user_id)
            self._check_party(escrow, party, "buyer")
            status = next_status(escrow.status, EscrowEvent.REQUEST_REFUND)
            check_refund_fen(escrow.total_fen, refund_fen)
            timer = escrow.confirm_timer
            assert timer is not None and timer.running
            # The auto-confirm clock stops; the seller's time to answer starts.
            changes: dict[str, Any] = _timer_columns(pause_timer(timer, self.clock.now_us()))
            changes.update(refund_request_fen=refund_fen, refund_reason=reason)
            due_us = self.clock.now_us() + self.policy.timers.refund_response_s * US_PER_S
            changes.update(self._timer_changes(tx, escrow, due_us))
            note = f"refund requested: {refund_fen} fen, {reason}"
            return self._write(tx, escrow, status, changes, party, note)

        return self.db.run(work)

    def withdraw_refund(self, escrow_no: str, buyer_user_id: int) -> Escrow:
        def work(tx: Tx) -> Escrow:
            escrow = self._lock_in(tx, escrow_no)
            party = Party.buyer(buyer_user_id)
            self._check_party(escrow, party, "buyer")
            return self._resume_in(tx, escrow, EscrowEvent.WITHDRAW_REFUND, party)

        return self.db.run(work)

    def _resume_in(self, tx: Tx, escrow: Escrow, event: EscrowEvent, party: Party) -> Escrow:
        status = next_status(escrow.status, event)
        timer = escrow.confirm_timer
        assert timer is not None and not timer.running
        resumed = resume_timer(timer, self.clock.now_us())
        changes: dict[str, Any] = _timer_columns(resumed)
        changes.update(refund_request_fen=None, refund_reason=None)
        changes.update(self._timer_changes(tx, escrow, resumed.due_at_us))
        return self._write(tx, escrow, status, changes, party, f"refund request {event}")

    def agree_refund(self, escrow_no: str, party: Party) -> Escrow:
        def work(tx: Tx) -> Escrow:
            escrow = self._lock_in(tx, escrow_no)
            self._check_party(escrow, party, "seller", "merchant")
            return self._agree_in(tx, escrow, party)

        return self.db.run(work)

    def _agree_in(self, tx: Tx, escrow: Escrow, party: Party) -> Escrow:
        refund_fen = escrow.refund_request_fen
        if refund_fen is None:
            next_status(escrow.status, EscrowEvent.AGREE_REFUND_ALL)  # raises the state's refusal
            raise AssertionError("a refund request without an amount")
        event = refund_event(escrow.total_fen, refund_fen, ruling=False)
        return self._end_in(tx, escrow, event, refund_fen, party, "refund agreed")

    def refuse_refund(self, escrow_no: str, party: Party, reason: str) -> Escrow:
        reason = check_text(reason, field="reason", length_max=REASON_LENGTH_MAX)

        def work(tx: Tx) -> Escrow:
            escrow = self._lock_in(tx, escrow_no)
            self._check_party(escrow, party, "seller", "merchant")
            status = next_status(escrow.status, EscrowEvent.REFUSE_REFUND)
            due_us = self.clock.now_us() + self.policy.timers.escalate_window_s * US_PER_S
            changes = self._timer_changes(tx, escrow, due_us)
            return self._write(tx, escrow, status, changes, party, f"refund refused: {reason}")

        return self.db.run(work)

    def escalate(self, escrow_no: str, buyer_user_id: int, evidence: Evidence) -> Escrow:
        """The refused buyer asks the platform to decide; no timer runs until it does."""
        evidence = check_evidence(evidence)

        def work(tx: Tx) -> Escrow:
            escrow = self._lock_in(tx, escrow_no)
            party = Party.buyer(buyer_user_id)
            self._check_party(escrow, party, "buyer")
            status = next_status(escrow.status, EscrowEvent.ESCALATE)
            changes = self._timer_changes(tx, escrow, None)
            disputed = self._write(tx, escrow, status, changes, party, "escalated to a dispute")
            self.store.insert_message(tx, escrow.id, party, evidence, self.clock.now_us())
            return disputed

        return self.db.run(work)

    def add_message(self, escrow_no: str, party: Party, evidence: Evidence) -> Message:
        """Either side (or an operator) adds words or an image to an escrow's case file."""
        evidence = check_evidence(evidence)

        def work(tx: Tx) -> Message:
            escrow = self._lock_in(tx, escrow_no)
            self._check_party(escrow, party, "buyer", "seller", "merchant", "operator")
            message_id = self.store.insert_message(
                tx, escrow.id, party, evidence, self.clock.now_us()
            )
            found = [m for m in self.store.messages(tx, escrow.id) if m.id == message_id]
            assert len(found) == 1
            return found[0]

        return self.db.run(work)

    def rule(self, escrow_no: str, operator: Party, refund_fen: int, note: str) -> Escrow:
        """An operator decides a dispute: all back, part back, or everything to the seller."""
        assert operator.role == "operator"
        note = check_text(note, field="note", length_max=REASON_LENGTH_MAX)

        def work(tx: Tx) -> Escrow:
            escrow = self._lock_in(tx, escrow_no)
            if refund_fen == 0:
                event = EscrowEvent.RULE_RELEASE
            else:
                event = refund_event(escrow.total_fen, refund_fen, ruling=True)
            next_status(escrow.status, event)
            return self._end_in(tx, escrow, event, refund_fen, operator, f"ruling: {note}")

        return self.db.run(work)

    # The end of a hold ----------------------------------------------------------------------

    def _end_in(
        self,
        tx: Tx,
        escrow: Escrow,
        event: EscrowEvent,
        refund_fen: int,
        party: Party,
        note: str,
    ) -> Escrow:
        status = next_status(escrow.status, event)
        assert status in FINAL
        split = split_hold(escrow.total_fen, escrow.discount_fen, refund_fen, escrow.fee_rate_ppm)
        resolution = split.resolution
        changes: dict[str, Any] = {
            "refund_fen": resolution.refund_fen,
            "fee_fen": resolution.fee_fen,
            "discount_back_fen": split.discount_back_fen,
            "ended_at_us": self.clock.now_us(),
            "resolution": str(event),
            "confirm_due_at_us": None,
            "confirm_remaining_us": None,
        }
        changes.update(self._timer_changes(tx, escrow, None))
        ended = self._write(tx, escrow, status, changes, party, note)
        self._settle_in(tx, ended, split)
        self.events.escrow_changed_in(tx, ended, "finish" if resolution.seller_fen else "close")
        return ended

    def _hold_in(self, tx: Tx, escrow: Escrow, wallet_id: int) -> None:
        """The buyer's part held, and the platform's discount paid into escrow with it."""
        no = escrow.escrow_no
        escrow_id = self._account_in(tx, Purpose.ESCROW)
        transfers = [
            Transfer(
                escrow.hold_id,
                wallet_id,
                escrow_id,
                escrow.buyer_pay_fen,
                code=LEDGER_CODE_ESCROW_HOLD,
                flags=TransferFlags.PENDING,
                reference=no,
            )
        ]
        if escrow.discount_fen:
            transfers.append(
                Transfer(
                    f"escrow:{no}:subsidy",
                    self._account_in(tx, Purpose.MARKETING),
                    escrow_id,
                    escrow.discount_fen,
                    code=LEDGER_CODE_ESCROW_SUBSIDY,
                    reference=no,
                )
            )
        try:
            self.ledger.transfer_in(tx, _chain(transfers))
        except LedgerRejected as error:
            if error.code == "exceeds_credits":
                raise BuyerBalanceNotEnough("the buyer's balance is not enough") from None
            raise

    def _settle_in(self, tx: Tx, escrow: Escrow, split: HoldSplit) -> None:
        """Post the buyer's part of the seller's money (or void the hold when none of it is),
        give the subsidy's refunded share back, pay the seller and take the fee: all or none."""
        no = escrow.escrow_no
        seller_fen, fee_fen = split.resolution.seller_fen, split.resolution.fee_fen
        escrow_id = self._account_in(tx, Purpose.ESCROW)
        if split.post_fen == 0:
            end = Transfer(
                f"escrow:{no}:void",
                0,
                0,
                None,
                code=LEDGER_CODE_ESCROW_VOID,
                flags=TransferFlags.VOID_PENDING,
                pending_id=escrow.hold_id,
                reference=no,
            )
        else:
            end = Transfer(
                f"escrow:{no}:post",
                0,
                0,
                split.post_fen,
                code=LEDGER_CODE_ESCROW_POST,
                flags=TransferFlags.POST_PENDING,
                pending_id=escrow.hold_id,
                reference=no,
            )
        transfers = [end]
        if split.discount_back_fen:
            transfers.append(
                Transfer(
                    f"escrow:{no}:subsidyback",
                    escrow_id,
                    self._account_in(tx, Purpose.MARKETING),
                    split.discount_back_fen,
                    code=LEDGER_CODE_ESCROW_SUBSIDY_BACK,
                    reference=no,
                )
            )
        if seller_fen:
            transfers.append(
                Transfer(
                    f"escrow:{no}:release",
                    escrow_id,
                    escrow.payee_account_id,
                    seller_fen,
                    code=LEDGER_CODE_ESCROW_RELEASE,
                    reference=no,
                )
            )
        if fee_fen:
            transfers.append(
                Transfer(
                    f"escrow:{no}:fee",
                    escrow.payee_account_id,
                    self._account_in(tx, Purpose.FEES),
                    fee_fen,
                    code=LEDGER_CODE_ESCROW_FEE,
                    reference=no,
                )
            )
        self.ledger.transfer_in(tx, _chain(transfers))

    def _account_in(self, tx: Tx, purpose: Purpose) -> int:
        found = self._account_ids.get(purpose)
        if found is None:
            spec = platform_account(purpose)
            found = self._account_ids[purpose] = self.ledger.open_accounts_in(tx, [spec])[spec.key]
        return found

    # Timers ---------------------------------------------------------------------------------

    def _timer_changes(self, tx: Tx, escrow: Escrow, due_at_us: int | None) -> dict[str, Any]:
        """Retire the live timer (if any) and start the next generation (if `due_at_us`)."""
        if escrow.timer_due_at_us is not None:
            self.jobs.store.cancel(tx, JOB_TIMER, timer_key(escrow.escrow_no, escrow.timer_seq))
        if due_at_us is None:
            return {"timer_due_at_us": None}
        seq = escrow.timer_seq + 1
        key = timer_key(escrow.escrow_no, seq)
        scheduled = self.jobs.schedule_in(tx, JOB_TIMER, key, due_at_us, {"seq": seq})
        assert scheduled, f"timer {key} scheduled twice"
        return {"timer_seq": seq, "timer_due_at_us": due_at_us}

    def _timer_job(self, tx: Tx, job: Job) -> None:
        escrow_no, _ = job.key.rsplit(":", 1)
        escrow = self.store.escrow_by_no(tx, escrow_no, for_update=True)
        if escrow is None or escrow.timer_seq != job.payload.get("seq"):
            return  # a retired generation: the timer moved or the trade ended meanwhile
        if escrow.timer_due_at_us is None:
            return
        # This job is the live timer and the runner marks it done: it must not be cancelled.
        escrow = replace(escrow, timer_due_at_us=None)
        status = escrow.status
        if status is EscrowStatus.WAIT_BUYER_PAY:
            self._close_unpaid_in(tx, escrow, SYSTEM)
        elif status is EscrowStatus.WAIT_BUYER_CONFIRM_GOODS:
            self._end_in(tx, escrow, EscrowEvent.CONFIRM, 0, SYSTEM, "auto-confirmed")
        elif status is EscrowStatus.REFUNDING:
            self._agree_in(tx, escrow, SYSTEM)
        elif status is EscrowStatus.REFUND_REFUSED:
            self._resume_in(tx, escrow, EscrowEvent.LAPSE, SYSTEM)
        else:
            raise AssertionError(f"a live timer in state {status}")

    # Reads ----------------------------------------------------------------------------------

    def get(self, escrow_no: str) -> Escrow:
        with self.db.read() as tx:
            return self._get_in(tx, escrow_no)

    def get_for(self, escrow_no: str, party: Party) -> Escrow:
        escrow = self.get(escrow_no)
        self._check_party(escrow, party, "buyer", "seller", "merchant", "operator")
        return escrow

    def find_for_merchant(self, app_id: str, out_trade_no: str) -> Escrow:
        with self.db.read() as tx:
            escrow = self.store.escrow_by_out_no(tx, app_id, out_trade_no)
        if escrow is None:
            raise EscrowNotFound("no such escrow trade")
        return escrow

    def escrows_of(self, party: Party, limit: int = 50) -> list[Escrow]:
        assert 0 < limit <= LIST_LIMIT_MAX and party.id is not None
        with self.db.read() as tx:
            return self.store.escrows_of(tx, party.role, party.id, limit)

    def disputes(self, limit: int = 100) -> list[Escrow]:
        assert 0 < limit <= LIST_LIMIT_MAX
        with self.db.read() as tx:
            return self.store.escrows_in(tx, [EscrowStatus.DISPUTE], limit)

    def messages(self, escrow_no: str, party: Party) -> list[Message]:
        escrow = self.get_for(escrow_no, party)
        with self.db.read() as tx:
            return self.store.messages(tx, escrow.id)

    def image(self, escrow_no: str, message_id: int, party: Party) -> tuple[bytes, str]:
        escrow = self.get_for(escrow_no, party)
        with self.db.read() as tx:
            found = self.store.image(tx, message_id)
        if found is None or found[0] != escrow.id:
            raise NotFound("no such image", code="image_not_found")
        return found[1], found[2]

    # Shared ---------------------------------------------------------------------------------

    def _lock_in(self, tx: Tx, escrow_no: str) -> Escrow:
        escrow = self.store.escrow_by_no(tx, escrow_no, for_update=True)
        if escrow is None:
            raise EscrowNotFound("no such escrow trade")
        return escrow

    def _get_in(self, tx: Tx, escrow_no: str) -> Escrow:
        escrow = self.store.escrow_by_no(tx, escrow_no)
        if escrow is None:
            raise EscrowNotFound("no such escrow trade")
        return escrow

    def _write(
        self,
        tx: Tx,
        escrow: Escrow,
        status: EscrowStatus,
        changes: Mapping[str, Any],
        party: Party = SYSTEM,
        note: str = "",
    ) -> Escrow:
        """Compare-and-set on (status, timer generation): the row is locked, so a miss is a bug."""
        expect = {"status": escrow.status, "timer_seq": escrow.timer_seq}
        values = dict(changes, status=status)
        if not self.store.update_escrow(tx, escrow.escrow_no, expect, values):
            raise AssertionError(f"escrow {escrow.escrow_no} changed under its row lock")
        if note:
            evidence = Evidence(note[:MESSAGE_LENGTH_MAX])
            self.store.insert_message(tx, escrow.id, _audit(party), evidence, self.clock.now_us())
        written = self._get_in(tx, escrow.escrow_no)
        assert written.status is status
        return written

    @staticmethod
    def _check_party(escrow: Escrow, party: Party, *roles: str) -> None:
        if party.role not in roles:
            raise EscrowNotParty(f"a {party.role} cannot do this")
        owners = {
            "buyer": escrow.buyer_user_id,
            "seller": escrow.seller_user_id,
            "merchant": escrow.merchant_id,
        }
        if party.role in owners and (party.id is None or owners[party.role] != party.id):
            raise EscrowNotParty("this is not your trade")


def _chain(transfers: list[Transfer]) -> list[Transfer]:
    """Transfers that apply all or none: every one but the last links to the next."""
    last = len(transfers) - 1
    return [
        t._replace(flags=t.flags | TransferFlags.LINKED) if i < last else t
        for i, t in enumerate(transfers)
    ]


def _audit(party: Party) -> Party:
    """Audit lines are written by the system on behalf of whoever acted."""
    return Party(f"system:{party.role}"[:16], party.id)


def _timer_columns(timer: ConfirmTimer) -> dict[str, Any]:
    return {"confirm_due_at_us": timer.due_at_us, "confirm_remaining_us": timer.remaining_us}


def _check_same_order(existing: Escrow, new: NewEscrow) -> None:
    same = (existing.total_fen, existing.title, existing.goods_type) == (
        new.total_fen,
        new.title,
        new.goods_type,
    )
    if not same:
        raise InvalidInput(
            "this out_trade_no was used with other parameters", code="trade_context_inconsistent"
        )


def check_evidence(evidence: Evidence) -> Evidence:
    text = check_text(evidence.text, field="message", length_max=MESSAGE_LENGTH_MAX)
    if evidence.image is None:
        return Evidence(text)
    if len(evidence.image) > IMAGE_BYTES_MAX:
        raise InvalidInput("images may be 512 KiB at most", code="image_too_large")
    if evidence.image_type not in IMAGE_TYPES:
        raise InvalidInput("images must be PNG, JPEG, GIF or WebP", code="image_type")
    return Evidence(text, evidence.image, evidence.image_type)


def timer_key(escrow_no: str, seq: int) -> str:
    return f"{escrow_no}:{seq}"


def new_escrow_no() -> str:
    number = ESCROW_NO_PREFIX + "".join(secrets.choice("0123456789") for _ in range(23))
    assert len(number) == 24
    return number
