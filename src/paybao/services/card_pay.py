"""The cashier's bound-card funding: a quick-pay debit of the buyer's card pays the trade.

Steps, like a wallet top-up (services/wallet.py), because the bank call must happen outside
any transaction:

1. One transaction checks the trade is still payable, the payment password (wrong tries are
   counted and lock, as for balance payments) and that the card is the buyer's and bound; it
   writes a `card_payments` row `processing` and schedules a bank query job `cardpay:<id>`.
   A unique index allows one card debit in flight per trade, so a double click charges once.
2. The bank is asked to debit the card with request id `cardpay:<id>` (a retry never charges
   twice: the bank answers a repeat from its record).
3. The answer is applied in ONE transaction: bank clearing -> buyer wallet (`cardpay:<id>`),
   then the ordinary payment (wallet -> merchant, fee -> platform, trade row, outbox row).
   If the trade can no longer be paid (closed, paid another way meanwhile), the charged money
   stays in the buyer's wallet and the row is `credited`. A refused debit marks it `failed`.
   UNKNOWN (timeout) leaves the trade WAIT_BUYER_PAY; the query job settles it later.

Coupons the buyer chose are priced in step 1 (the card is charged what the buyer pays after
them) and remembered on the row; step 3 pays the trade with exactly those coupons. If one was
used elsewhere meanwhile, or the price changed, the trade is not paid and the charged money
stays in the wallet (`credited`), as for a trade closed meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from paybao.domain.accounts import Purpose, platform_account
from paybao.domain.coupons import NO_COUPONS, CouponChoice
from paybao.domain.errors import DomainError, InvalidState, NotFound
from paybao.domain.ledger import Transfer
from paybao.domain.trades import TradeClosed, TradeEvent, TradeStatus, next_status
from paybao.services.banking import BankChannel, BankOutcome, BankResult
from paybao.services.clock import US_PER_S
from paybao.services.jobs import Job, JobRunner
from paybao.services.ledger import LedgerService
from paybao.services.ports import Clock, Database, Tx
from paybao.services.registration import CardRecord, CardStore
from paybao.services.trades import Trade, TradeService
from paybao.services.users import UserService
from paybao.services.wallet_statement import CODE_CARD_PAY

JOB_CARD_QUERY = "cashier.card_query"
# Ledger code of the card money landing in the buyer's wallet on its way to the merchant.
QUERY_RETRY_S = 60


class CardPaymentStore(Protocol):
    def insert_card_payment(self, tx: Tx, values: dict[str, Any]) -> int: ...

    def card_payment_in_flight(self, tx: Tx, trade_no: str) -> Any: ...

    def card_payment(self, tx: Tx, payment_id: int, *, for_update: bool = False) -> Any: ...

    def finish_card_payment(
        self, tx: Tx, payment_id: int, status: str, failure_code: str | None, now_us: int
    ) -> bool: ...


@dataclass(frozen=True, slots=True)
class CardPayment:
    id: int
    trade_no: str
    status: str  # processing | paid | credited | failed
    failure_code: str | None


class CardPaymentInFlight(InvalidState):
    code = "card_payment_in_flight"


class CardPaymentMismatch(InvalidState):
    """The card was charged for a price the trade no longer has (a coupon changed)."""

    code = "card_payment_mismatch"


def _coupons_of(coupon_ids: str | None) -> CouponChoice:
    if not coupon_ids:
        return NO_COUPONS
    return CouponChoice(coupon_ids=tuple(int(part) for part in coupon_ids.split(",")))


@dataclass
class CardPayService:
    db: Database
    store: CardPaymentStore
    trades: TradeService
    users: UserService
    cards: CardStore
    ledger: LedgerService
    jobs: JobRunner
    bank: BankChannel
    clock: Clock
    query_delay_s: int = 30

    def install_jobs(self) -> None:
        self.jobs.register_outside_tx(JOB_CARD_QUERY, self._on_query)

    def cards_of(self, user_id: int) -> list[CardRecord]:
        """The buyer's bound cards, to choose from."""
        with self.db.read() as tx:
            return [c for c in self.cards.of_user(tx, user_id) if c.status == "bound"]

    def pay(
        self,
        trade_no: str,
        user_id: int,
        card_id: int,
        payment_password: str,
        coupons: CouponChoice = NO_COUPONS,
    ) -> CardPayment:
        def start(tx: Tx) -> tuple[int, CardRecord, int]:
            trade = self._payable_in(tx, trade_no)
            self.users.check_payment_password_in(tx, user_id, payment_password)
            quote = self.trades.quote_in(tx, trade, user_id, coupons)
            amount_fen = quote.buyer_pay_fen
            self.users.check_can_pay_in(tx, user_id, amount_fen, funding="card")
            card = self._own_card_in(tx, user_id, card_id)
            if self.store.card_payment_in_flight(tx, trade_no) is not None:
                raise CardPaymentInFlight("a card payment of this trade is in progress")
            now_us = self.clock.now_us()
            payment_id = self.store.insert_card_payment(
                tx,
                {
                    "trade_no": trade_no,
                    "user_id": user_id,
                    "card_id": card_id,
                    "amount_fen": amount_fen,
                    "status": "processing",
                    "created_at_us": now_us,
                    "coupon_ids": ",".join(str(v.coupon_id) for v in quote.vouchers) or None,
                },
            )
            due_us = now_us + self.query_delay_s * US_PER_S
            self.jobs.schedule_in(tx, JOB_CARD_QUERY, f"cardpay:{payment_id}", due_us)
            return payment_id, card, amount_fen

        payment_id, card, amount_fen = self.users.run_paying(start)
        result = self.bank.debit(f"cardpay:{payment_id}", card.card_number, amount_fen)
        self._apply(payment_id, result)
        return self.payment(payment_id)

    def payment(self, payment_id: int) -> CardPayment:
        with self.db.read() as tx:
            row = self.store.card_payment(tx, payment_id)
        if row is None:
            raise NotFound("no such card payment", code="card_payment_not_found")
        return CardPayment(row.id, row.trade_no, row.status, row.failure_code)

    # Applying the bank's answer ------------------------------------------------------------

    def _apply(self, payment_id: int, result: BankResult) -> None:
        if result.outcome is BankOutcome.UNKNOWN:
            return  # the query job already waits for it
        try:
            self.db.run(lambda tx: self._finish_in(tx, payment_id, result, pay=True))
        except DomainError:
            # The trade cannot be paid any more (closed or paid meanwhile, the buyer frozen),
            # but the card was charged: the money lands in the buyer's wallet instead.
            self.db.run(lambda tx: self._finish_in(tx, payment_id, result, pay=False))

    def _finish_in(self, tx: Tx, payment_id: int, result: BankResult, *, pay: bool) -> None:
        row = self.store.card_payment(tx, payment_id, for_update=True)
        if row is None or row.status != "processing":
            return  # the other of (immediate answer, query job) got here first
        now_us = self.clock.now_us()
        if result.outcome is not BankOutcome.SUCCEEDED:
            code = result.failure_code or "bank_not_received"
            self.store.finish_card_payment(tx, payment_id, "failed", code, now_us)
            return
        self._credit_wallet_in(tx, row)
        status = "credited"
        if pay:
            trade = self._payable_in(tx, row.trade_no)
            coupons = _coupons_of(row.coupon_ids)
            paid = self.trades.pay_in(tx, trade, row.user_id, funding="card", coupons=coupons)
            assert paid.status is TradeStatus.TRADE_SUCCESS
            if paid.buyer_pay_fen != row.amount_fen:
                raise CardPaymentMismatch("the coupons now price the trade differently")
            status = "paid"
        assert self.store.finish_card_payment(tx, payment_id, status, None, now_us)

    def _credit_wallet_in(self, tx: Tx, row: Any) -> None:
        clearing = platform_account(Purpose.BANK_CLEARING)
        clearing_id = self.ledger.open_accounts_in(tx, [clearing])[clearing.key]
        wallet_id = self.users.wallet_account_id_in(tx, row.user_id)
        transfer = Transfer(
            f"cardpay:{row.id}",
            clearing_id,
            wallet_id,
            row.amount_fen,
            code=CODE_CARD_PAY,
            reference=row.trade_no,
        )
        self.ledger.transfer_in(tx, [transfer])

    def _on_query(self, job: Job) -> int | None:
        """Ask the bank how a lost debit ended (no transaction open while we wait for it)."""
        payment_id = int(job.key.partition(":")[2])
        if self.payment(payment_id).status != "processing":
            return None
        result = self.bank.query(job.key)
        if result.outcome is BankOutcome.UNKNOWN:
            return self.clock.now_us() + QUERY_RETRY_S * US_PER_S
        if result.outcome is BankOutcome.NOT_FOUND:
            # The bank never received it and never will (ids are not resent): it failed.
            result = BankResult(BankOutcome.FAILED, "bank_not_received")
        self._apply(payment_id, result)
        return None

    # Checks ----------------------------------------------------------------------------

    def _payable_in(self, tx: Tx, trade_no: str) -> Trade:
        found: Trade | None = self.trades.store.trade_by_no(tx, trade_no)
        if found is None:
            raise NotFound("no such trade", code="trade_not_found")
        trade = found
        next_status(trade.status, TradeEvent.PAY)
        if trade.expires_at_us <= self.clock.now_us():
            raise TradeClosed("the trade timed out")
        return trade

    def _own_card_in(self, tx: Tx, user_id: int, card_id: int) -> CardRecord:
        card = self.cards.get(tx, card_id)
        if card is None or card.user_id != user_id or card.status != "bound":
            raise NotFound("no such bound card", code="card_not_found")
        return card
