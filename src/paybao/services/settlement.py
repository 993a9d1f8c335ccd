"""Merchant settlement: T+1 payouts and manual withdrawals to the bound settlement card.

One write path per change, each idempotent under `db.run` re-runs:
- `open_daily_in` / `withdraw` insert the settlement row (unique `request_key`) and schedule
  its `settlement.pay` job in the same transaction;
- the job (outside any transaction: it waits on the bank) starts an attempt (hold
  `<key>:<n>`, status sent), asks the bank to credit the card with the same id, and applies
  the answer (post or void the hold). An unknown answer is asked about again later; a refusal
  is retried on the domain's backoff, then marked failed and shown on the portal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from paybao.domain.accounts import Purpose, platform_account
from paybao.domain.bills import day_period
from paybao.domain.cards import mask_card_number
from paybao.domain.ledger import Transfer, TransferFlags
from paybao.domain.money import check_amount_fen
from paybao.domain.settlement import (
    HOLD_TIMEOUT_S,
    LEDGER_CODE_SETTLEMENT,
    QUERY_DELAY_S,
    NoSettlementCard,
    SettlementKind,
    SettlementNotFound,
    SettlementStatus,
    WithdrawalExceedsBalance,
    attempt_request_id,
    daily_request_key,
    manual_request_key,
    retry_delay_s,
    settlement_amount_fen,
)
from paybao.services.audit import AuditTrail
from paybao.services.banking import BankChannel, BankOutcome, BankResult
from paybao.services.clock import US_PER_S
from paybao.services.jobs import Job, JobRunner
from paybao.services.ledger import LedgerRejected, LedgerService
from paybao.services.ports import Clock, Database, Tx

JOB_PAY = "settlement.pay"
AUDIT_BIND_CARD = "merchant.settlement_card.bind"
MERCHANTS_PER_DAY_MAX = 100_000
LIST_LIMIT_MAX = 200

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Settlement:
    id: int
    request_key: str
    merchant_id: int
    kind: SettlementKind
    settle_date: str | None
    amount_fen: int
    card_number: str
    status: SettlementStatus
    attempts: int
    request_id: str | None
    failure_code: str | None
    created_at_us: int
    updated_at_us: int
    paid_at_us: int | None


class SettlementStore(Protocol):
    def bind_card(self, tx: Tx, merchant_id: int, card_number: str, now_us: int) -> None: ...

    def card_of(self, tx: Tx, merchant_id: int) -> str | None: ...

    def insert(self, tx: Tx, values: dict[str, Any]) -> int | None:
        """Insert unless the request_key exists; the new id, or None."""
        ...

    def get(self, tx: Tx, settlement_id: int, *, for_update: bool = False) -> Settlement: ...

    def by_key(self, tx: Tx, request_key: str) -> Settlement | None: ...

    def update(self, tx: Tx, settlement_id: int, expect_status: str, **values: Any) -> bool: ...

    def of_merchant(self, tx: Tx, merchant_id: int, limit: int) -> list[Settlement]: ...

    def merchant_accounts(self, tx: Tx, limit: int) -> list[tuple[int, int]]:
        """(merchant id, settlement account id) of every active merchant."""
        ...

    def account_of(self, tx: Tx, merchant_id: int) -> int | None: ...

    def net_fen(
        self, tx: Tx, account_id: int, codes: tuple[int, ...], start_us: int, end_us: int
    ) -> int:
        """Credits less debits of posted transfers with these codes on the account."""
        ...


class SettlementService:
    def __init__(
        self,
        db: Database,
        store: SettlementStore,
        ledger: LedgerService,
        jobs: JobRunner,
        bank: BankChannel,
        clock: Clock,
        settled_codes: tuple[int, ...],
        audit: AuditTrail,
    ) -> None:
        self.db = db
        self.store = store
        self.ledger = ledger
        self.jobs = jobs
        self.bank = bank
        self.clock = clock
        self.settled_codes = settled_codes
        self.audit = audit
        self._clearing_id: int | None = None

    def install_jobs(self) -> None:
        self.jobs.register_outside_tx(JOB_PAY, self._pay_job)

    # Cards and requests -----------------------------------------------------------------

    def bind_card(self, merchant_id: int, card_number: str, *, actor: str = "system") -> None:
        """Bind the card payouts go to (the caller has checked it is the owner's card).

        It decides where the merchant's money goes, so the audit row (the masked card, and the
        card it replaces) commits with it."""
        assert card_number.isdigit() and 12 <= len(card_number) <= 19

        def work(tx: Tx) -> None:
            earlier = self.store.card_of(tx, merchant_id)
            self.store.bind_card(tx, merchant_id, card_number, self.clock.now_us())
            detail = mask_card_number(card_number)
            if earlier is not None and earlier != card_number:
                detail += f" (was {mask_card_number(earlier)})"
            self.audit.record_in(
                tx, AUDIT_BIND_CARD, f"merchant:{merchant_id}", actor=actor, detail=detail
            )

        self.db.run(work)

    def bind_refused(
        self, merchant_id: int, card_typed: str, code: str, *, actor: str = "system"
    ) -> None:
        """Audit a refused binding (wrong password, card not the holder's, bank said no): an
        attempt to redirect payouts is worth seeing even when it failed."""
        digits = "".join(c for c in card_typed if c.isdigit())[:19]
        detail = mask_card_number(digits) if len(digits) >= 12 else ""
        try:
            self.audit.record(
                AUDIT_BIND_CARD, f"merchant:{merchant_id}", actor=actor, detail=detail, outcome=code
            )
        except Exception:  # the refusal itself must still reach the merchant
            log.warning("could not audit a refused card binding of %s", merchant_id, exc_info=True)

    def card_of(self, merchant_id: int) -> str | None:
        with self.db.read() as tx:
            return self.store.card_of(tx, merchant_id)

    def open_daily_in(self, tx: Tx, day: date) -> int:
        """Open day `day`'s T+1 payout of every merchant with money to settle and a card."""
        period = day_period(day)
        opened = 0
        for merchant_id, account_id in self.store.merchant_accounts(tx, MERCHANTS_PER_DAY_MAX):
            card = self.store.card_of(tx, merchant_id)
            if card is None:
                continue  # the money waits on the account; the portal asks for a card
            net_fen = self.store.net_fen(
                tx, account_id, self.settled_codes, period.start_us, period.end_us
            )
            available_fen = self.ledger.account_in(tx, account_id).available_fen
            amount_fen = settlement_amount_fen(net_fen, available_fen)
            if amount_fen == 0:
                continue
            key = daily_request_key(merchant_id, day)
            opened += self._open_in(
                tx, key, merchant_id, SettlementKind.DAILY, day, amount_fen, card
            )
        return opened

    def withdraw(
        self, merchant_id: int, account_id: int, amount_fen: int, out_no: str
    ) -> Settlement:
        """A manual withdrawal of part of the available balance, paid out right away."""
        check_amount_fen(amount_fen)
        key = manual_request_key(merchant_id, out_no)

        def work(tx: Tx) -> int:
            earlier = self.store.by_key(tx, key)
            if earlier is not None:
                return earlier.id
            card = self.store.card_of(tx, merchant_id)
            if card is None:
                raise NoSettlementCard("bind a settlement card first")
            if self.ledger.account_in(tx, account_id).available_fen < amount_fen:
                raise WithdrawalExceedsBalance("the available balance is not enough")
            self._open_in(tx, key, merchant_id, SettlementKind.MANUAL, None, amount_fen, card)
            found = self.store.by_key(tx, key)
            assert found is not None
            return found.id

        settlement_id = self.db.run(work)
        self._attempt(settlement_id)
        return self.get(settlement_id)

    def _open_in(
        self,
        tx: Tx,
        key: str,
        merchant_id: int,
        kind: SettlementKind,
        day: date | None,
        amount_fen: int,
        card: str,
    ) -> int:
        now_us = self.clock.now_us()
        settlement_id = self.store.insert(
            tx,
            {
                "request_key": key,
                "merchant_id": merchant_id,
                "kind": kind.value,
                "settle_date": day.isoformat() if day else None,
                "amount_fen": amount_fen,
                "card_number": card,
                "status": SettlementStatus.PENDING.value,
                "attempts": 0,
                "created_at_us": now_us,
                "updated_at_us": now_us,
            },
        )
        if settlement_id is None:
            return 0  # opened before (a re-run job): nothing new
        # A daily payout waits for the job; a manual one is tried at once and the job is the
        # safety net if this process dies before the bank answers.
        due_us = now_us if kind is SettlementKind.DAILY else now_us + QUERY_DELAY_S * US_PER_S
        self.jobs.schedule_in(tx, JOB_PAY, str(settlement_id), due_us)
        return 1

    # Looking ---------------------------------------------------------------------------

    def get(self, settlement_id: int) -> Settlement:
        with self.db.read() as tx:
            return self.store.get(tx, settlement_id)

    def of_merchant(self, merchant_id: int, limit: int = 50) -> list[Settlement]:
        assert 0 < limit <= LIST_LIMIT_MAX
        with self.db.read() as tx:
            return self.store.of_merchant(tx, merchant_id, limit)

    # Paying ----------------------------------------------------------------------------

    def _pay_job(self, job: Job) -> int | None:
        return self._attempt(int(job.key))

    def _attempt(self, settlement_id: int) -> int | None:
        """One step of a payout. None when it is final; else when to come back (us)."""
        row = self.get(settlement_id)
        if row.status in (SettlementStatus.PAID, SettlementStatus.FAILED):
            return None
        if row.status is SettlementStatus.SENT:
            assert row.request_id is not None
            result = self.bank.query(row.request_id)
            if result.outcome is BankOutcome.NOT_FOUND:
                # The bank never got it and never will (ids are not resent): a refusal.
                result = BankResult(BankOutcome.FAILED, "bank_not_received")
        else:
            started = self.db.run(lambda tx: self._start_in(tx, settlement_id))
            if started is None:
                return None
            row = started
            assert row.request_id is not None
            result = self.bank.credit(row.request_id, row.card_number, row.amount_fen)
        if result.outcome is BankOutcome.UNKNOWN:
            return self.clock.now_us() + QUERY_DELAY_S * US_PER_S
        return self.db.run(lambda tx: self._finish_in(tx, settlement_id, row.request_id, result))

    def _start_in(self, tx: Tx, settlement_id: int) -> Settlement | None:
        row = self.store.get(tx, settlement_id, for_update=True)
        if row.status is not SettlementStatus.PENDING:
            return row if row.status is SettlementStatus.SENT else None
        attempt = row.attempts + 1
        request_id = attempt_request_id(row.request_key, attempt)
        hold = Transfer(
            request_id,
            self._account_of_in(tx, row.merchant_id),
            self._clearing_id_in(tx),
            row.amount_fen,
            code=LEDGER_CODE_SETTLEMENT,
            flags=TransferFlags.PENDING,
            timeout_s=HOLD_TIMEOUT_S,
            reference=row.request_key,
        )
        try:
            self.ledger.transfer_in(tx, [hold])
        except LedgerRejected as error:
            if error.code != "exceeds_credits":
                raise
            # The money was spent meanwhile (payouts, refunds): nothing to pay, say so.
            self._mark(tx, row, SettlementStatus.FAILED, failure_code="balance_not_enough")
            return None
        self._mark(tx, row, SettlementStatus.SENT, attempts=attempt, request_id=request_id)
        started = self.store.get(tx, settlement_id)
        assert started.status is SettlementStatus.SENT and started.request_id == request_id
        return started

    def _finish_in(
        self, tx: Tx, settlement_id: int, request_id: str | None, result: BankResult
    ) -> int | None:
        row = self.store.get(tx, settlement_id, for_update=True)
        if row.status is not SettlementStatus.SENT or row.request_id != request_id:
            return None  # another worker applied this answer already
        assert request_id is not None
        succeeded = result.outcome is BankOutcome.SUCCEEDED
        verb = "post" if succeeded else "void"
        flag = TransferFlags.POST_PENDING if succeeded else TransferFlags.VOID_PENDING
        resolve = Transfer(
            f"{verb}:{request_id}",
            0,
            0,
            None,
            code=LEDGER_CODE_SETTLEMENT,
            flags=flag,
            pending_id=request_id,
            reference=row.request_key,
        )
        self.ledger.transfer_in(tx, [resolve])
        now_us = self.clock.now_us()
        if succeeded:
            self._mark(tx, row, SettlementStatus.PAID, paid_at_us=now_us, failure_code=None)
            return None
        failure = result.failure_code or "bank_declined"
        delay_s = retry_delay_s(row.attempts)
        status = SettlementStatus.FAILED if delay_s is None else SettlementStatus.PENDING
        self._mark(tx, row, status, failure_code=failure)
        return None if delay_s is None else now_us + delay_s * US_PER_S

    def _mark(self, tx: Tx, row: Settlement, status: SettlementStatus, **values: Any) -> None:
        changed = self.store.update(
            tx,
            row.id,
            row.status.value,
            status=status.value,
            updated_at_us=self.clock.now_us(),
            **values,
        )
        assert changed, "the row is locked for update: its status cannot change under us"

    def _account_of_in(self, tx: Tx, merchant_id: int) -> int:
        account_id = self.store.account_of(tx, merchant_id)
        if account_id is None:
            raise SettlementNotFound(f"merchant {merchant_id} has no settlement account")
        return account_id

    def _clearing_id_in(self, tx: Tx) -> int:
        if self._clearing_id is None:
            spec = platform_account(Purpose.BANK_CLEARING)
            self._clearing_id = self.ledger.open_accounts_in(tx, [spec])[spec.key]
        return self._clearing_id
