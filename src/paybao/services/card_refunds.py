"""Refunds of card-funded trades go back to the card (原路退回), as Alipay's do.

A trade the buyer paid with a bound card (services/card_pay.py: bank clearing -> wallet ->
merchant) is refunded the same way back. In the refund's own transaction
(services/refunds.py) the refund lands in the buyer's wallet as any refund does, and in the same
linked chain the same amount is held out of the wallet towards bank clearing (pending transfer
`cardrefund:<refund id>`); a `card_refunds` row `processing` and a retry job are written with
it. Then, with no transaction open:

1. The bank is asked to credit the card with request id `cardrefund:<refund id>`. A bank
   answers a repeated id from its record, so asking again never pays twice.
2. Its answer is applied in one transaction: paid -> the hold is posted (the money has left
   for the card; the buyer's statement shows the refund coming in and going out to the card);
   refused -> the hold is voided, so the money stays in the buyer's balance (what Alipay does
   when a card can no longer take a refund) and the row is `failed` with the bank's code.
3. No answer (timeout, lost request) -> nothing changes: the job asks again, with the same id,
   until the bank answers. The hold never expires by itself, so money cannot be both on the
   card and in the balance; while it waits it shows among the buyer's holds.

For the merchant the refund is done when its transaction commits, whatever the bank says.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from paybao.domain.accounts import Purpose, platform_account
from paybao.domain.ledger import Transfer, TransferFlags
from paybao.domain.trades import LEDGER_CODE_CARD_REFUND
from paybao.services.banking import BankChannel, BankOutcome, BankResult
from paybao.services.clock import US_PER_S
from paybao.services.jobs import Job, JobRunner
from paybao.services.ledger import LedgerService
from paybao.services.ports import Clock, Database, Tx
from paybao.services.refunds import Refund
from paybao.services.registration import CardStore
from paybao.services.trades import Trade

log = logging.getLogger(__name__)

JOB_CARD_REFUND = "cashier.card_refund"
# How long the job waits before asking the bank again after no answer.
RETRY_S = 60
# Trades whose paying card's type is remembered (a card's type never changes).
CARD_TYPES_CACHED_MAX = 10_000
# What an operator watches: refunds the bank refused (the money stayed in the buyer's balance)
# and refunds still waiting for the bank's answer.
UNSETTLED = ("processing", "failed")
PAGE_SIZE_MAX = 200


class CardRefundStore(Protocol):
    def insert_card_refund(self, tx: Tx, values: dict[str, Any]) -> None: ...

    def card_refund(self, tx: Tx, refund_id: int, *, for_update: bool = False) -> Any: ...

    def card_refunds_of(self, tx: Tx, trade_no: str) -> list[Any]: ...

    def unsettled_card_refunds(
        self, tx: Tx, statuses: tuple[str, ...], before_refund_id: int | None, limit: int
    ) -> list[Any]:
        """Rows in `statuses` (of UNSETTLED), newest first, below the cursor."""
        ...

    def count_card_refund_attempt(self, tx: Tx, refund_id: int) -> None: ...

    def finish_card_refund(
        self, tx: Tx, refund_id: int, status: str, failure_code: str | None, now_us: int
    ) -> bool:
        """Move the row out of `processing` (compare-and-set); False if it was not in it."""
        ...


class PaidCardPayments(Protocol):
    def paid_card_payment(self, tx: Tx, trade_no: str) -> Any:
        """The card payment that paid the trade, or None."""
        ...


@dataclass(frozen=True, slots=True)
class CardRefund:
    """What the pages show of a refund on its way back to a card."""

    refund_id: int
    trade_no: str
    amount_fen: int
    status: str  # processing | succeeded | failed (the money stayed in the buyer's balance)
    failure_code: str | None
    attempts: int
    card_tail: str
    user_id: int = 0
    bank_code: str = ""
    created_at_us: int = 0
    finished_at_us: int | None = None


def request_id(refund_id: int) -> str:
    """The bank request id, also the id of the ledger hold."""
    return f"cardrefund:{refund_id}"


@dataclass
class CardRefundService:
    db: Database
    store: CardRefundStore
    payments: PaidCardPayments
    cards: CardStore
    ledger: LedgerService
    jobs: JobRunner
    bank: BankChannel
    clock: Clock
    retry_delay_s: int = 30
    _card_types: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    def install_jobs(self) -> None:
        self.jobs.register_outside_tx(JOB_CARD_REFUND, self._on_job)

    def paying_card_type(self, trade_no: str) -> str | None:
        """The type of the card that paid a card-funded trade (and takes its refunds back):
        'DC' debit or 'CC' credit (domain.bins.CardType); None if no card payment paid it."""
        cached = self._card_types.get(trade_no)
        if cached is not None:
            return cached
        with self.db.read() as tx:
            payment = self.payments.paid_card_payment(tx, trade_no)
            card = self.cards.get(tx, payment.card_id) if payment is not None else None
        if card is None:
            return None
        if len(self._card_types) >= CARD_TYPES_CACHED_MAX:
            self._card_types.clear()
        self._card_types[trade_no] = card.card_type
        return card.card_type

    # Inside the refund's transaction -------------------------------------------------------

    def start_in(self, tx: Tx, trade: Trade, refund: Refund, wallet_id: int) -> Transfer | None:
        """Record the way back to the card and return the hold that sends the refunded money
        from the buyer's wallet towards the card; the caller links it after the refund's own
        transfer (settlement -> wallet). None if no card payment paid this trade: the refund
        then stays in the balance."""
        payment = self.payments.paid_card_payment(tx, trade.trade_no)
        if payment is None:
            log.warning("trade %s is card-funded but has no paid card payment", trade.trade_no)
            return None
        now_us = self.clock.now_us()
        self.store.insert_card_refund(
            tx,
            {
                "refund_id": refund.id,
                "trade_no": trade.trade_no,
                "user_id": payment.user_id,
                "card_id": payment.card_id,
                # What the buyer gets back (a coupon's share of a discounted trade stays).
                "amount_fen": refund.buyer_fen,
                "status": "processing",
                "created_at_us": now_us,
            },
        )
        key = request_id(refund.id)
        # The safety net: if this process stops before `send`, the job asks the bank.
        self.jobs.schedule_in(tx, JOB_CARD_REFUND, key, now_us + self.retry_delay_s * US_PER_S)
        clearing = platform_account(Purpose.BANK_CLEARING)
        clearing_id = self.ledger.open_accounts_in(tx, [clearing])[clearing.key]
        return Transfer(
            key,
            wallet_id,
            clearing_id,
            refund.buyer_fen,
            code=LEDGER_CODE_CARD_REFUND,
            flags=TransferFlags.PENDING,
            reference=trade.trade_no,
        )

    # After it committed --------------------------------------------------------------------

    def send(self, refund_id: int) -> None:
        """Ask the bank to credit the card now and apply its answer. Never raises: whatever
        goes wrong here, the refund is committed and the job asks again."""
        try:
            self._attempt(refund_id)
        except Exception:  # the merchant's refund succeeded; the job retries the card part
            log.exception("card refund %s: sending to the bank failed; the job retries", refund_id)

    def _attempt(self, refund_id: int) -> BankOutcome | None:
        """One try: None if there was nothing to do (already settled), else the outcome."""
        with self.db.read() as tx:
            row = self.store.card_refund(tx, refund_id)
            card = self.cards.get(tx, row.card_id) if row is not None else None
        if row is None or row.status != "processing":
            return None
        if card is None:  # cards are never deleted, only unbound; keep it visible, retrying
            log.error("card refund %s: card %s not found", refund_id, row.card_id)
            return BankOutcome.UNKNOWN
        # The card is credited even if the buyer has unbound it since: the bank decides.
        self.db.run(lambda tx: self.store.count_card_refund_attempt(tx, refund_id))
        result = self.bank.credit(request_id(refund_id), card.card_number, row.amount_fen)
        if result.outcome is BankOutcome.NOT_FOUND:  # only `query` says so; be safe anyway
            result = BankResult(BankOutcome.UNKNOWN)
        if result.outcome is not BankOutcome.UNKNOWN:
            self.db.run(lambda tx: self._finish_in(tx, refund_id, result))
        return result.outcome

    def _finish_in(self, tx: Tx, refund_id: int, result: BankResult) -> None:
        row = self.store.card_refund(tx, refund_id, for_update=True)
        if row is None or row.status != "processing":
            return  # the other of (immediate answer, retry job) got here first
        succeeded = result.outcome is BankOutcome.SUCCEEDED
        verb = "post" if succeeded else "void"
        key = request_id(refund_id)
        resolve = Transfer(
            f"{verb}:{key}",
            0,
            0,
            None,
            code=LEDGER_CODE_CARD_REFUND,
            flags=TransferFlags.POST_PENDING if succeeded else TransferFlags.VOID_PENDING,
            pending_id=key,
            reference=row.trade_no,
        )
        self.ledger.transfer_in(tx, [resolve])
        status = "succeeded" if succeeded else "failed"
        code = None if succeeded else result.failure_code or "bank_declined"
        assert self.store.finish_card_refund(tx, refund_id, status, code, self.clock.now_us())

    def _on_job(self, job: Job) -> int | None:
        """Ask the bank again (same request id) until it answers."""
        refund_id = int(job.key.partition(":")[2])
        if self._attempt(refund_id) is BankOutcome.UNKNOWN:
            return self.clock.now_us() + RETRY_S * US_PER_S
        return None

    # Reading -------------------------------------------------------------------------------

    def card_refunds_of(self, trade_no: str) -> list[CardRefund]:
        with self.db.read() as tx:
            return self._views_in(tx, self.store.card_refunds_of(tx, trade_no))

    def unsettled(
        self, status: str | None = None, *, before_refund_id: int | None = None, limit: int = 50
    ) -> list[CardRefund]:
        """For the operator: card refunds refused by the bank (`failed`) or still waiting for
        it (`processing`), or both (status None), newest first; page on with the last
        refund_id as `before_refund_id`."""
        assert 0 < limit <= PAGE_SIZE_MAX
        statuses = UNSETTLED if status is None else (status,)
        assert status is None or status in UNSETTLED, status
        with self.db.read() as tx:
            rows = self.store.unsettled_card_refunds(tx, statuses, before_refund_id, limit)
            return self._views_in(tx, rows)

    def _views_in(self, tx: Tx, rows: list[Any]) -> list[CardRefund]:
        cards = {card_id: self.cards.get(tx, card_id) for card_id in {r.card_id for r in rows}}
        found = []
        for row in rows:
            card = cards[row.card_id]
            found.append(
                CardRefund(
                    refund_id=row.refund_id,
                    trade_no=row.trade_no,
                    amount_fen=row.amount_fen,
                    status=row.status,
                    failure_code=row.failure_code,
                    attempts=row.attempts,
                    card_tail=card.card_number[-4:] if card is not None else "",
                    user_id=row.user_id,
                    bank_code=card.bank_code if card is not None else "",
                    created_at_us=row.created_at_us,
                    finished_at_us=row.finished_at_us,
                )
            )
        return found
