"""City services for wallet users: inquire a bill, pay it from the balance, top up a mobile
number; receipts.

A payment runs in two steps around the biller's confirmation, never holding a transaction
while the biller is asked:
1. one transaction: the payment row (`processing`), a pending transfer `billpay:<id>` from the
   user's wallet to the biller merchant's settlement account (the money is held), and a
   `billpay.confirm` job in case the answer gets lost;
2. the biller is told (`pay`, with the request id `billpay:<id>`), and its answer is applied
   in one transaction: confirmed -> the hold is posted (`paid`); declined -> the hold is voided
   (`failed`: the money is back in the balance at once). A lost answer leaves the job to ask
   again with the same request id (the biller answers a repeat from its record), at doubling
   waits, until `answer_wait_s`; then the hold goes back as `biller_no_answer`.
So every paid payment has exactly its posted transfer, and a failed one a voided hold (the
reconcile checks prove it).

A bill (biller, account number, month) has one payment in progress or paid at most: the
payment row's unique `bill_key`. A second payment of the same bill by the same user for the
same amount (a double submit) answers the first; anyone else's is `bill_already_paid`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

from paybao.domain.billpay import (
    BILLPAY_ENTRY_KINDS,
    LEDGER_CODE_BILL_PAYMENT,
    LEDGER_CODE_MOBILE_TOPUP,
    BillAlreadyPaid,
    BillerNotFound,
    Category,
    PaymentKind,
    PaymentStatus,
    amount_rule,
    bill_key,
    carrier_of,
    check_account_no,
    check_bill_amount,
    check_topup_amount,
    china_month,
)
from paybao.domain.errors import Forbidden, InsufficientFunds, InvalidInput, NotFound
from paybao.domain.identity import mask_phone, mask_real_name, normalize_phone
from paybao.domain.ledger import Transfer, TransferFlags
from paybao.domain.money import check_amount_fen
from paybao.services.billpay_billers import BillerService
from paybao.services.billpay_records import (
    Biller,
    BillerAnswer,
    BillerChannel,
    BillerOutcome,
    BillpayPolicy,
    BillpayStore,
    Inquiry,
    Payment,
    Receipt,
    Statement,
)
from paybao.services.clock import US_PER_S
from paybao.services.devices import DeviceService, PaymentProof
from paybao.services.idempotency import IdempotencyService
from paybao.services.jobs import Job, JobRunner
from paybao.services.ledger import LedgerRejected, LedgerService
from paybao.services.ports import Clock, Database, Tx
from paybao.services.users import UserService

T = TypeVar("T")

JOB_CONFIRM = "billpay.confirm"
REFERENCE_PREFIX = "billpay"
LIST_LIMIT_MAX = 50
RETRY_WAIT_S_MAX = 3600
# The hold outlives the wait for an answer by a day: the platform voids it itself first.
HOLD_MARGIN_S = 86_400
_CODES = {PaymentKind.BILL: LEDGER_CODE_BILL_PAYMENT, PaymentKind.TOPUP: LEDGER_CODE_MOBILE_TOPUP}
assert set(_CODES.values()) == set(BILLPAY_ENTRY_KINDS)
# A hold that lapsed by itself (the worker was down past its time) cannot be posted or voided.
_HOLD_GONE = frozenset({"pending_transfer_expired", "pending_transfer_already_voided"})


@dataclass
class BillpayService:
    db: Database
    store: BillpayStore
    billers: BillerService
    channel: BillerChannel
    ledger: LedgerService
    users: UserService
    jobs: JobRunner
    clock: Clock
    policy: BillpayPolicy = field(default_factory=BillpayPolicy)
    devices: DeviceService | None = None
    # Marks the caller's idempotency claim inside the payment's first transaction.
    idempotency: IdempotencyService | None = None

    def install_jobs(self) -> None:
        self.jobs.register_outside_tx(JOB_CONFIRM, self._on_confirm)

    # Inquiry ----------------------------------------------------------------------------------

    def inquire(self, biller_id: int, account_no: str) -> Inquiry:
        """The bill of an account number now, from the biller (with its timeout). Saved copies
        of the account are brought up to date with it (the wallet's reminders read them)."""
        number = check_account_no(account_no)
        biller = self._utility(biller_id)
        inquiry = self._inquiry(biller, number, self._statement(biller, number))
        now_us = self.clock.now_us()
        self.db.run(lambda tx: self.store.note_statement(tx, biller.id, number, inquiry, now_us))
        return inquiry

    def _statement(self, biller: Biller, number: str) -> Statement:
        statement = self.channel.inquire(biller.code, biller.category, number)
        assert statement.outstanding_fen >= 0
        return statement

    def _inquiry(self, biller: Biller, number: str, statement: Statement) -> Inquiry:
        rule = amount_rule(
            biller.category, statement.outstanding_fen, self.policy.prepay_over_fen_max
        )
        return Inquiry(
            biller=biller,
            account_no=number,
            holder_masked=mask_real_name(statement.holder_name),
            outstanding_fen=statement.outstanding_fen,
            period=statement.period,
            min_fen=rule.min_fen,
            max_fen=rule.max_fen,
            exact=rule.exact,
        )

    # Paying -----------------------------------------------------------------------------------

    def pay_bill(
        self, user_id: int, biller_id: int, account_no: str, amount_fen: int, proof: PaymentProof
    ) -> Receipt:
        """Pay a bill from the balance: the amount is checked against the biller's bill now."""
        check_amount_fen(amount_fen)
        number = check_account_no(account_no)
        biller = self._utility(biller_id)
        self._confirm(user_id, proof, amount_fen)
        statement = self._statement(biller, number)
        owed_fen = statement.outstanding_fen
        check_bill_amount(biller.category, amount_fen, owed_fen, self.policy.prepay_over_fen_max)
        key = bill_key(biller.id, number, statement.period) if owed_fen > 0 else None
        draft = self._draft(user_id, PaymentKind.BILL, biller, number, statement.period, key)
        draft = replace(
            draft,
            amount_fen=amount_fen,
            outstanding_fen=owed_fen,
            holder_masked=mask_real_name(statement.holder_name),
        )
        return self._pay(draft, biller)

    def top_up(self, user_id: int, phone: str, amount_fen: int, proof: PaymentProof) -> Receipt:
        """Top a mainland mobile number up by a fixed denomination, from the balance."""
        number = normalize_phone(phone)
        check_topup_amount(amount_fen)
        biller = self.billers.carrier(carrier_of(number))
        self._confirm(user_id, proof, amount_fen)
        period = china_month(self.clock.now())
        draft = self._draft(user_id, PaymentKind.TOPUP, biller, number, period, None)
        return self._pay(
            replace(draft, amount_fen=amount_fen, holder_masked=mask_phone(number)), biller
        )

    def _draft(
        self,
        user_id: int,
        kind: PaymentKind,
        biller: Biller,
        number: str,
        period: str,
        key: str | None,
    ) -> Payment:
        return Payment(
            id=0,
            user_id=user_id,
            kind=kind,
            biller_id=biller.id,
            account_no=number,
            period=period,
            bill_key=key,
            amount_fen=0,
            outstanding_fen=None,
            holder_masked="",
            status=PaymentStatus.PROCESSING,
            failure_code=None,
            created_at_us=0,
        )

    def _pay(self, draft: Payment, biller: Biller) -> Receipt:
        assert draft.amount_fen > 0
        payment_id, started = self._run_money(lambda tx: self._start_in(tx, draft, biller))
        if started:
            self._ask_biller(payment_id, from_job=False)
        return self.receipt(draft.user_id, payment_id)

    def _start_in(self, tx: Tx, draft: Payment, biller: Biller) -> tuple[int, bool]:
        """The payment row and its hold; (id, False) for the payment already made of this bill."""
        if draft.bill_key is not None:
            earlier = self.store.payment_by_bill_key(tx, draft.bill_key)
            if earlier is not None:
                same = earlier.user_id == draft.user_id and earlier.amount_fen == draft.amount_fen
                if not same:
                    raise BillAlreadyPaid("this bill is being paid or was paid already")
                self._mark_in(tx, earlier.id)
                return earlier.id, False
        self.users.check_can_pay_in(tx, draft.user_id, draft.amount_fen, funding="balance")
        wallet_id = self.users.wallet_account_id_in(tx, draft.user_id)
        settlement_id = self.billers.settlement_account_in(tx, biller)
        now_us = self.clock.now_us()
        payment_id = self.store.insert_payment(tx, replace(draft, created_at_us=now_us))
        hold = Transfer(
            f"{REFERENCE_PREFIX}:{payment_id}",
            wallet_id,
            settlement_id,
            draft.amount_fen,
            code=_CODES[draft.kind],
            flags=TransferFlags.PENDING,
            timeout_s=self.policy.answer_wait_s + HOLD_MARGIN_S,
            reference=f"{REFERENCE_PREFIX}:{payment_id}",
        )
        self.ledger.transfer_in(tx, [hold])
        due_us = now_us + self.policy.retry_delay_s * US_PER_S
        self.jobs.schedule_in(tx, JOB_CONFIRM, str(payment_id), due_us)
        self._mark_in(tx, payment_id)
        return payment_id, True

    # The biller's answer ----------------------------------------------------------------------

    def _ask_biller(self, payment_id: int, *, from_job: bool) -> BillerAnswer:
        with self.db.read() as tx:
            payment = self.store.payment(tx, payment_id)
            assert payment is not None
            biller = self.store.biller(tx, payment.biller_id)
            assert biller is not None
        answer = self.channel.pay(
            payment.transfer_id,
            biller.code,
            biller.category,
            payment.account_no,
            payment.period,
            payment.amount_fen,
        )
        if answer.outcome is not BillerOutcome.UNKNOWN:
            self.db.run(lambda tx: self._finish_in(tx, payment_id, answer, from_job=from_job))
        return answer

    def _finish_in(self, tx: Tx, payment_id: int, answer: BillerAnswer, *, from_job: bool) -> None:
        """Post (confirmed) or void (declined) the hold; only a payment still processing."""
        payment = self.store.payment(tx, payment_id, for_update=True)
        if payment is None or payment.status is not PaymentStatus.PROCESSING:
            return
        confirmed = answer.outcome is BillerOutcome.CONFIRMED
        verb = "post" if confirmed else "void"
        resolve = Transfer(
            f"{verb}:{payment.transfer_id}",
            0,
            0,
            None,
            code=_CODES[payment.kind],
            flags=TransferFlags.POST_PENDING if confirmed else TransferFlags.VOID_PENDING,
            pending_id=payment.transfer_id,
            reference=payment.transfer_id,
        )
        failure_code = None if confirmed else answer.failure_code or "biller_declined"
        try:
            self.ledger.transfer_in(tx, [resolve])
        except LedgerRejected as rejected:
            if rejected.code not in _HOLD_GONE:
                raise
            # The hold lapsed by itself: the money is back with the user whatever was said.
            failure_code = "biller_no_answer"
        status = PaymentStatus.FAILED if failure_code else PaymentStatus.PAID
        now_us = self.clock.now_us()
        finished = self.store.finish_payment(tx, payment_id, status, failure_code, now_us)
        assert finished, f"payment {payment_id} left processing under its lock"
        if status is PaymentStatus.PAID and payment.kind is PaymentKind.BILL:
            # Saved copies of the account owe that much less now (the reminders read them).
            self.store.note_paid(
                tx, payment.biller_id, payment.account_no, payment.period, payment.amount_fen
            )
        if not from_job:  # the runner finishes the job it is running itself
            self.jobs.store.cancel(tx, JOB_CONFIRM, str(payment_id))

    def _on_confirm(self, job: Job) -> int | None:
        """Ask again about a payment whose answer got lost; None when it is settled."""
        payment_id = int(job.key)
        with self.db.read() as tx:
            payment = self.store.payment(tx, payment_id)
        if payment is None or payment.status is not PaymentStatus.PROCESSING:
            return None
        now_us = self.clock.now_us()
        if now_us - payment.created_at_us >= self.policy.answer_wait_s * US_PER_S:
            gave_up = BillerAnswer(BillerOutcome.DECLINED, "biller_no_answer")
            self.db.run(lambda tx: self._finish_in(tx, payment_id, gave_up, from_job=True))
            return None
        if self._ask_biller(payment_id, from_job=True).outcome is not BillerOutcome.UNKNOWN:
            return None
        doubled_s = self.policy.retry_delay_s << min(job.attempts + 1, 16)
        wait_s = min(RETRY_WAIT_S_MAX, doubled_s)
        return now_us + wait_s * US_PER_S

    # Reading ----------------------------------------------------------------------------------

    def receipt(self, user_id: int, payment_id: int) -> Receipt:
        """One of the user's payments with its biller (someone else's is not found)."""
        with self.db.read() as tx:
            payment = self.store.payment(tx, payment_id)
            if payment is None or payment.user_id != user_id:
                raise NotFound("no such payment", code="billpay_payment_not_found")
            biller = self.store.biller(tx, payment.biller_id)
        assert biller is not None
        return Receipt(payment, biller)

    def payment_of(self, payment_id: int) -> Receipt:
        """Any payment (the answer a REST retry renders after a crash)."""
        with self.db.read() as tx:
            payment = self.store.payment(tx, payment_id)
        if payment is None:
            raise NotFound("no such payment", code="billpay_payment_not_found")
        return self.receipt(payment.user_id, payment_id)

    def payments(
        self, user_id: int, limit: int = 20, before_id: int | None = None
    ) -> list[Receipt]:
        """The user's bill payments and top-ups, newest first (`before_id`: the page cursor)."""
        if not 1 <= limit <= LIST_LIMIT_MAX:
            raise InvalidInput(f"page size must be 1..{LIST_LIMIT_MAX}", code="page_size_invalid")
        with self.db.read() as tx:
            payments = self.store.payments_of(tx, user_id, limit, before_id)
            billers = self.store.billers_by_ids(tx, sorted({p.biller_id for p in payments}))
        return [Receipt(p, billers[p.biller_id]) for p in payments]

    # Inside -----------------------------------------------------------------------------------

    def _utility(self, biller_id: int) -> Biller:
        biller = self.billers.active(biller_id)
        if biller.category is Category.MOBILE:
            raise BillerNotFound(f"biller {biller_id} tops up phones; it has no bills")
        return biller

    def _confirm(self, user_id: int, proof: PaymentProof, amount_fen: int) -> None:
        """The payment password or a registered device, before any transaction (argon2)."""
        if self.devices is not None:
            self.devices.confirm_payment(user_id, proof, amount_fen)
        elif isinstance(proof, str):
            self.users.verify_payment_password(user_id, proof)
        else:
            raise Forbidden("device confirmations are not enabled", code="device_not_registered")

    def _mark_in(self, tx: Tx, payment_id: int) -> None:
        if self.idempotency is not None:
            self.idempotency.mark_done_in(tx, f"{REFERENCE_PREFIX}:{payment_id}")

    def _run_money(self, work: Callable[[Tx], T]) -> T:
        """A money transaction; the ledger's refusal of an overdraft is `insufficient_funds`."""
        try:
            return self.db.run(work)
        except LedgerRejected as rejected:
            if rejected.code != "exceeds_credits":
                raise
            raise InsufficientFunds("not enough balance", code="insufficient_funds") from None


__all__ = ["JOB_CONFIRM", "REFERENCE_PREFIX", "BillpayService"]
