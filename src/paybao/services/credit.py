"""Huabei credit pay: grant a line, pay with credit, repayments, refunds back to the line. One
write path per change (rules: domain/credit.py). The 1st's bills and the daily penalties and
interest are `services/credit_billing.py`; bill installments `services/credit_installments.py`.

Every change locks the user's line row first (`line_in(for_update=True)`: a row lock on
PostgreSQL; SQLite serialises writers) and writes it back compare-and-set on its version
(`save_in`), in the same transaction as its journal. The line lock is always taken before any
ledger account lock, and after the trade row (payments and refunds update the trade first), so the
order is the same everywhere.

Ledger (accounts: domain/accounts.py): the user's `credit_loan` account holds what the user owes.

    purchase   credit_loan -> merchant settlement   `trade:<no>:pay` (the trade's own journal)
    penalty    credit_loan -> platform credit_income `credit:penalty:<bill>:<YYYYMMDD>`
    interest   credit_loan -> platform credit_income `credit:interest:<bill>:<YYYYMMDD>`
    fee        credit_loan -> platform credit_income `credit:fee:<plan>:<period number>`
    repayment  wallet -> credit_loan                 `credit:repay:<repayment id>`
    prepayment wallet -> credit_loan                 `credit:prepay:<plan id>`
    refund     (settlement -> wallet, the trade's refund) then wallet -> credit_loan
                                                     `trade:<no>:credit_refund:<refund id>`
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Protocol

from paybao.domain.accounts import Purpose, user_account
from paybao.domain.credit import (
    CREDIT_POLICY_DEFAULT,
    LEDGER_CODE_CREDIT_REFUND,
    LEDGER_CODE_CREDIT_REPAY,
    REASON_LENGTH_MAX,
    REPAYMENT_DAY_DEFAULT,
    ROLLS_FOLLOWED_MAX,
    UNPAID_BILLS_MAX,
    Bill,
    BillStatus,
    CreditIdentityRequired,
    CreditLine,
    CreditNotOpened,
    CreditPolicy,
    RepaymentPart,
    allocate_repayment,
    can_draw,
    check_draw,
    check_limit_fen,
    check_repayment_day,
    minimum_due_fen,
    period_of,
    refunded,
    repaid,
    split_refund,
    statement_at,
    still_overdue,
)
from paybao.domain.errors import InsufficientFunds, InvalidInput, Retryable
from paybao.domain.ledger import Transfer
from paybao.domain.money import check_amount_fen, format_yuan
from paybao.services.audit import AuditTrail
from paybao.services.clock import us_from_datetime
from paybao.services.devices import PaymentProof
from paybao.services.idempotency import IdempotencyService
from paybao.services.jobs import JobRunner
from paybao.services.ledger import LedgerRejected, LedgerService
from paybao.services.ports import Clock, Database, Tx
from paybao.services.users import STEP_ACTIVE, UserRecord

JOB_BILL = "credit.bill"
# The daily job of a bill: overdue penalties and revolving interest (its name predates interest).
JOB_PENALTY = "credit.penalty"
BILLS_SHOWN_MAX = 24
DRAWS_SHOWN_MAX = 50
REPAYMENTS_SHOWN_MAX = 20
REPAYMENT_REFERENCE = "credit_repayment"


@dataclass(frozen=True, slots=True)
class Draw:
    """One purchase paid with credit (a trade)."""

    id: int
    user_id: int
    trade_no: str
    amount_fen: int
    refunded_fen: int
    bill_id: int | None
    created_at_us: int
    subject: str = ""


@dataclass(frozen=True, slots=True)
class Repayment:
    id: int
    user_id: int
    amount_fen: int
    penalty_fen: int
    principal_fen: int
    outstanding_after_fen: int
    created_at_us: int
    interest_fen: int = 0
    fee_fen: int = 0


@dataclass(frozen=True, slots=True)
class CreditSummary:
    """What the wallet page and GET /api/v1/credit show."""

    line: CreditLine
    bills: list[Bill]  # newest first
    open_draws: list[Draw]  # this month's purchases, not billed yet, newest first
    repayments: list[Repayment]  # newest first
    due_fen: int  # what the bills owe now (repayable)
    next_due_date: date | None  # the earliest due date of a bill still owing
    # Overdue bills in full plus the minimum of bills not yet due: what keeps the line good.
    minimum_due_fen: int = 0


class CreditStore(Protocol):
    def line(self, tx: Tx, user_id: int, *, for_update: bool = False) -> CreditLine | None: ...

    def insert_line(self, tx: Tx, line: CreditLine, now_us: int) -> bool:
        """Insert unless the user has a line; True if inserted."""
        ...

    def update_line(self, tx: Tx, before: CreditLine, after: CreditLine, now_us: int) -> bool:
        """Compare-and-set on `before.version`; the stored version becomes before's + 1."""
        ...

    def insert_draw(
        self, tx: Tx, user_id: int, trade_no: str, amount_fen: int, now_us: int
    ) -> int: ...

    def draw_of_trade(self, tx: Tx, trade_no: str) -> Draw | None: ...

    def add_draw_refund(self, tx: Tx, draw_id: int, amount_fen: int) -> None: ...

    def unbilled_fen(self, tx: Tx, user_id: int, before_us: int) -> int:
        """What is left of the user's unbilled purchases made before `before_us`."""
        ...

    def insert_bill(self, tx: Tx, bill: Bill) -> int | None:
        """Insert unless the user has a bill of that period; the new id, or None."""
        ...

    def attach_draws(self, tx: Tx, user_id: int, before_us: int, bill_id: int) -> int: ...

    def bill(self, tx: Tx, bill_id: int) -> Bill | None: ...

    def update_bill(self, tx: Tx, bill: Bill) -> None: ...

    def unpaid_bills(self, tx: Tx, user_id: int, limit: int) -> list[Bill]: ...

    def bills(self, tx: Tx, user_id: int, limit: int) -> list[Bill]: ...

    def open_draws(self, tx: Tx, user_id: int, limit: int) -> list[Draw]: ...

    def insert_repayment(
        self, tx: Tx, repayment: Repayment, parts: Sequence[RepaymentPart]
    ) -> int: ...

    def repayment(self, tx: Tx, repayment_id: int) -> Repayment | None: ...

    def repayments(self, tx: Tx, user_id: int, limit: int) -> list[Repayment]: ...

    def insert_penalty(
        self, tx: Tx, bill_id: int, day: date, principal_fen: int, amount_fen: int, now_us: int
    ) -> bool:
        """Insert unless the bill has that day's penalty; True if inserted."""
        ...

    def insert_interest(
        self, tx: Tx, bill_id: int, day: date, principal_fen: int, amount_fen: int, now_us: int
    ) -> bool:
        """Insert unless the bill has that day's interest; True if inserted."""
        ...

    def insert_refund(self, tx: Tx, values: Mapping[str, Any]) -> None: ...


class CreditUsers(Protocol):
    """What credit needs of the wallet's users (UserService implements it)."""

    def record_in(self, tx: Tx, user_id: int, *, for_update: bool = False) -> UserRecord: ...

    def wallet_account_id_in(self, tx: Tx, user_id: int) -> int: ...


class PaymentConfirmer(Protocol):
    """The payment password or a registered device (DeviceService implements it)."""

    def confirm_payment(
        self, user_id: int, confirmation: PaymentProof, amount_fen: int
    ) -> None: ...


@dataclass
class CreditService:
    db: Database
    store: CreditStore
    ledger: LedgerService
    clock: Clock
    jobs: JobRunner
    users: CreditUsers
    confirmer: PaymentConfirmer
    audit: AuditTrail
    policy: CreditPolicy = CREDIT_POLICY_DEFAULT
    # Set by the wiring: REST repayments store their answer with the change (crash-safe replay).
    idempotency: IdempotencyService | None = None
    answer_of: Callable[[Repayment], tuple[int, str]] | None = None

    # The line ----------------------------------------------------------------------------

    def grant(
        self,
        user_id: int,
        limit_fen: int,
        *,
        reason: str = "",
        operator_id: int | None = None,
        actor: str | None = None,
    ) -> CreditLine:
        """Open a line, or change its limit (an operator's action, audited with the reason)."""
        check_limit_fen(limit_fen, self.policy)
        reason = " ".join(reason.split())[:REASON_LENGTH_MAX]

        def work(tx: Tx) -> CreditLine:
            _check_verified(self.users.record_in(tx, user_id))
            line = self.store.line(tx, user_id, for_update=True)
            before_fen = 0 if line is None else line.limit_fen
            if line is None:
                granted = self._open_in(tx, user_id, limit_fen)
            else:
                granted = self.save_in(tx, line, replace(line, limit_fen=limit_fen))
            detail = f"limit {format_yuan(before_fen)} -> {format_yuan(limit_fen)} CNY"
            self.audit.record_in(
                tx,
                "credit.grant",
                f"user:{user_id}",
                operator_id=operator_id,
                actor=actor,
                detail=f"{detail}; {reason}" if reason else detail,
            )
            return granted

        return self.db.run(work)

    def _open_in(self, tx: Tx, user_id: int, limit_fen: int) -> CreditLine:
        spec = user_account(user_id, Purpose.CREDIT_LOAN)
        account_id = self.ledger.open_accounts_in(tx, [spec])[spec.key]
        now_us = self.clock.now_us()
        line = CreditLine(
            user_id=user_id,
            account_id=account_id,
            limit_fen=limit_fen,
            open_fen=0,
            outstanding_fen=0,
            repayment_day=REPAYMENT_DAY_DEFAULT,
            overdue=False,
            version=0,
            granted_at_us=now_us,
        )
        if not self.store.insert_line(tx, line, now_us):
            raise Retryable("a concurrent grant opened the line; retry")
        return line

    def line(self, user_id: int) -> CreditLine:
        with self.db.read() as tx:
            return self.line_in(tx, user_id)

    def line_or_none(self, user_id: int) -> CreditLine | None:
        with self.db.read() as tx:
            return self.store.line(tx, user_id)

    def offer(self, user_id: int, amount_fen: int) -> CreditLine | None:
        """The line, if the cashier may offer it for a payment of `amount_fen`."""
        line = self.line_or_none(user_id)
        return line if can_draw(line, amount_fen) else None

    def set_repayment_day(self, user_id: int, day: int) -> CreditLine:
        """The user's choice (8, 9 or 10); bills closed from now on fall due on that day."""
        check_repayment_day(day)

        def work(tx: Tx) -> CreditLine:
            line = self.line_in(tx, user_id, for_update=True)
            if line.repayment_day == day:
                return line
            return self.save_in(tx, line, replace(line, repayment_day=day))

        return self.db.run(work)

    def summary(self, user_id: int) -> CreditSummary:
        with self.db.read() as tx:
            line = self.line_in(tx, user_id)
            unpaid = self.store.unpaid_bills(tx, user_id, UNPAID_BILLS_MAX)
            return CreditSummary(
                line=line,
                bills=self.store.bills(tx, user_id, BILLS_SHOWN_MAX),
                open_draws=self.store.open_draws(tx, user_id, DRAWS_SHOWN_MAX),
                repayments=self.store.repayments(tx, user_id, REPAYMENTS_SHOWN_MAX),
                due_fen=sum(bill.unpaid_fen for bill in unpaid),
                next_due_date=min((bill.due_date for bill in unpaid), default=None),
                minimum_due_fen=minimum_due_fen(unpaid, self.policy.minimum_rate_ppm),
            )

    def line_in(self, tx: Tx, user_id: int, *, for_update: bool = False) -> CreditLine:
        """The user's line (locked with `for_update`: do so before any other credit row)."""
        line = self.store.line(tx, user_id, for_update=for_update)
        if line is None:
            raise CreditNotOpened("no credit line")
        return line

    def save_in(self, tx: Tx, before: CreditLine, after: CreditLine) -> CreditLine:
        """Write the line compare-and-set on its version (a lost race is Retryable)."""
        assert after.user_id == before.user_id and after.version == before.version
        if not self.store.update_line(tx, before, after, self.clock.now_us()):
            raise Retryable("the credit line changed meanwhile; retry")
        return replace(after, version=before.version + 1)

    # Paying with credit --------------------------------------------------------------------

    def draw_in(self, tx: Tx, user_id: int, trade_no: str, amount_fen: int) -> int:
        """Inside a trade payment's transaction: take `amount_fen` from the line and return the
        ledger account the payment is debited to (the user's credit account)."""
        line = self.store.line(tx, user_id, for_update=True)
        after = check_draw(line, amount_fen)
        assert line is not None
        self.save_in(tx, line, after)
        now = self.clock.now()
        self.store.insert_draw(tx, user_id, trade_no, amount_fen, us_from_datetime(now))
        self.schedule_bill_in(tx, user_id, period_of(now))
        return line.account_id

    def schedule_bill_in(self, tx: Tx, user_id: int, period: str) -> None:
        """Close the user's `period` ("YYYY-MM") into a bill on the 1st after it (once: every
        purchase, installment period and revolving rest of the month asks for the same job)."""
        closes_us = us_from_datetime(statement_at(period))
        self.jobs.schedule_in(tx, JOB_BILL, f"{user_id}:{period}", closes_us)

    # Repaying --------------------------------------------------------------------------------

    def repay(self, user_id: int, amount_fen: int, proof: PaymentProof) -> Repayment:
        """Repay bills from the balance, in full or in part (oldest first, penalty first)."""
        check_amount_fen(amount_fen)
        self.line(user_id)  # no line: refused before the password is asked for
        self.confirmer.confirm_payment(user_id, proof, amount_fen)

        def work(tx: Tx) -> Repayment:
            repayment = self._repay_in(tx, user_id, amount_fen)
            if self.idempotency is not None:
                answer = self.answer_of(repayment) if self.answer_of is not None else None
                reference = f"{REPAYMENT_REFERENCE}:{repayment.id}"
                self.idempotency.mark_done_in(tx, reference, answer=answer)
            return repayment

        try:
            return self.db.run(work)
        except LedgerRejected as rejected:
            if rejected.code == "exceeds_credits":
                raise InsufficientFunds("not enough balance", code="insufficient_funds") from None
            raise

    def _repay_in(self, tx: Tx, user_id: int, amount_fen: int) -> Repayment:
        line = self.line_in(tx, user_id, for_update=True)
        bills = {b.id: b for b in self.store.unpaid_bills(tx, user_id, UNPAID_BILLS_MAX)}
        parts = allocate_repayment(list(bills.values()), amount_fen)
        now_us = self.clock.now_us()
        for part in parts:
            bills[part.bill_id] = repaid(bills[part.bill_id], part, now_us)
            self.store.update_bill(tx, bills[part.bill_id])
        after = replace(
            line,
            outstanding_fen=line.outstanding_fen - amount_fen,
            overdue=still_overdue(list(bills.values())),
        )
        self.save_in(tx, line, after)
        draft = Repayment(
            id=0,
            user_id=user_id,
            amount_fen=amount_fen,
            penalty_fen=sum(part.penalty_fen for part in parts),
            principal_fen=sum(part.principal_fen for part in parts),
            outstanding_after_fen=after.outstanding_fen,
            created_at_us=now_us,
            interest_fen=sum(part.interest_fen for part in parts),
            fee_fen=sum(part.fee_fen for part in parts),
        )
        repayment = replace(draft, id=self.store.insert_repayment(tx, draft, parts))
        wallet_id = self.users.wallet_account_id_in(tx, user_id)
        transfer = Transfer(
            f"credit:repay:{repayment.id}",
            wallet_id,
            line.account_id,
            amount_fen,
            code=LEDGER_CODE_CREDIT_REPAY,
            reference=f"{REPAYMENT_REFERENCE}:{repayment.id}",
        )
        self.ledger.transfer_in(tx, [transfer])
        return repayment

    def repayment(self, repayment_id: int) -> Repayment:
        with self.db.read() as tx:
            found = self.store.repayment(tx, repayment_id)
        if found is None:
            raise InvalidInput("no such repayment", code="credit_repayment_not_found")
        return found

    # Refunds of credit-paid trades -------------------------------------------------------

    def refund_in(
        self, tx: Tx, trade_no: str, refund_id: int, refund_fen: int, wallet_id: int
    ) -> Transfer | None:
        """Inside a refund's transaction (after the refund credited the wallet): send what the
        line takes back on from the wallet to the credit account (the transfer returned, to be
        linked after the refund), or None when all of it stays in the balance."""
        found = self.store.draw_of_trade(tx, trade_no)
        assert found is not None, f"credit-paid trade {trade_no} has no draw"
        line = self.line_in(tx, found.user_id, for_update=True)
        draw = self.store.draw_of_trade(tx, trade_no)  # again, now under the line's lock
        assert draw is not None
        bill = self._bill_owing_in(tx, draw.bill_id) if draw.bill_id is not None else None
        split = split_refund(refund_fen, draw.amount_fen - draw.refunded_fen, bill)
        self.store.add_draw_refund(tx, draw.id, refund_fen)
        self.store.insert_refund(
            tx,
            {
                "refund_id": refund_id,
                "trade_no": trade_no,
                "user_id": draw.user_id,
                "bill_id": None if bill is None else bill.id,
                "to_line_fen": split.to_line_fen,
                "to_balance_fen": split.to_balance_fen,
                "created_at_us": self.clock.now_us(),
            },
        )
        if split.to_line_fen == 0:
            return None
        self._take_back_in(tx, line, bill, split.to_line_fen)
        return Transfer(
            f"trade:{trade_no}:credit_refund:{refund_id}",
            wallet_id,
            line.account_id,
            split.to_line_fen,
            code=LEDGER_CODE_CREDIT_REFUND,
            reference=trade_no,
        )

    def _bill_owing_in(self, tx: Tx, bill_id: int) -> Bill:
        """The bill that owes a billed purchase now: its own, or the one its rest was carried
        into (and on, month after month)."""
        bill = self.store.bill(tx, bill_id)
        for _ in range(ROLLS_FOLLOWED_MAX):
            assert bill is not None
            if bill.status is not BillStatus.ROLLED:
                return bill
            assert bill.rolled_to_bill_id is not None
            bill = self.store.bill(tx, bill.rolled_to_bill_id)
        raise AssertionError(f"bill {bill_id} rolled more than {ROLLS_FOLLOWED_MAX} times")

    def _take_back_in(self, tx: Tx, line: CreditLine, bill: Bill | None, to_line_fen: int) -> None:
        outstanding_fen = line.outstanding_fen - to_line_fen
        if bill is None:
            after = replace(
                line, open_fen=line.open_fen - to_line_fen, outstanding_fen=outstanding_fen
            )
        else:
            self.store.update_bill(tx, refunded(bill, to_line_fen, self.clock.now_us()))
            unpaid = self.store.unpaid_bills(tx, line.user_id, UNPAID_BILLS_MAX)
            after = replace(line, outstanding_fen=outstanding_fen, overdue=still_overdue(unpaid))
        self.save_in(tx, line, after)


def _check_verified(user: UserRecord) -> None:
    """A line is for a real-name-verified user (any account class) whose wallet is open."""
    if user.account_class is None or user.step != STEP_ACTIVE or user.wallet_account_id is None:
        raise CreditIdentityRequired("a credit line needs a real-name-verified wallet")


__all__ = [
    "JOB_BILL",
    "JOB_PENALTY",
    "CreditService",
    "CreditStore",
    "CreditSummary",
    "Draw",
    "Repayment",
]
