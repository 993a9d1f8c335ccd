"""Huabei bill installments (账单分期): quote a schedule, convert a bill, prepay a plan, list plans.
Rules: domain/credit_installments.py. The 1st bills the periods (services/credit_billing.py).

A conversion moves no money: the principal goes from the bill into the plan (`Bill.converted_fen`,
`CreditLine.installment_fen`), so what the user owes is the same. It is a decision about money
(it costs fees), so it takes the payment password or a registered device, as a repayment. Both
changes lock the user's credit line first (CreditService.line_in), so two conversions of one bill
at once make one plan (the plan's unique bill id backs it), and two prepayments pay once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol

from paybao.domain.account_class import china_date
from paybao.domain.credit import LEDGER_CODE_CREDIT_REPAY, Bill, due_date_of, period_of
from paybao.domain.credit_installments import (
    INSTALLMENT_POLICY_DEFAULT,
    CreditBillAlreadyConverted,
    CreditBillNotFound,
    CreditInstallmentNotFound,
    InstallmentPolicy,
    Period,
    Plan,
    check_conversion,
    check_prepayment,
    converted,
    convertible_on,
    new_plan,
    prepaid,
)
from paybao.domain.errors import InsufficientFunds
from paybao.domain.ledger import Transfer
from paybao.domain.money import check_amount_fen
from paybao.services.devices import PaymentProof
from paybao.services.ledger import LedgerRejected
from paybao.services.ports import Tx

if TYPE_CHECKING:
    from paybao.services.credit import CreditService

PLANS_SHOWN_MAX = 24
INSTALLMENT_REFERENCE = "credit_installment"
PREPAYMENT_REFERENCE = "credit_prepayment"


class InstallmentStore(Protocol):
    def insert_plan(self, tx: Tx, plan: Plan) -> int | None:
        """Insert unless the bill (or the trade) has a plan; the new id, or None."""
        ...

    def plan(self, tx: Tx, plan_id: int) -> Plan | None: ...

    def plan_of_bill(self, tx: Tx, bill_id: int) -> Plan | None: ...

    def plan_of_trade(self, tx: Tx, trade_no: str) -> Plan | None:
        """A checkout plan: the trade paid in installments (services/checkout_installments.py)."""
        ...

    def plans(self, tx: Tx, user_id: int, limit: int) -> list[Plan]:
        """Newest first."""
        ...

    def due_plans(self, tx: Tx, user_id: int, period: str, limit: int) -> list[Plan]:
        """Active plans with a period scheduled in `period` or before."""
        ...

    def save_plan(self, tx: Tx, before: Plan, after: Plan, now_us: int) -> None: ...


@dataclass(frozen=True, slots=True)
class Quote:
    """A schedule shown before the user confirms: what each period bills, and when it is due
    (at the user's repayment day now)."""

    bill: Bill
    amount_fen: int
    count: int
    fee_rate_bp: int
    fee_fen: int
    periods: tuple[Period, ...]
    due_dates: tuple[date, ...]

    @property
    def total_fen(self) -> int:
        return self.amount_fen + self.fee_fen


def plan_answer(plan: Plan) -> dict[str, Any]:
    """A plan as the REST API answers it (also rendered again after a crash: wiring)."""
    answer = dataclasses.asdict(plan)
    answer.update(
        billed_count=plan.billed_count,
        unbilled_principal_fen=plan.unbilled_principal_fen,
        unbilled_fee_fen=plan.unbilled_fee_fen,
        prepaid_fen=plan.prepaid_fen,
        waived_fee_fen=plan.waived_fee_fen,
    )
    return answer


@dataclass
class InstallmentService:
    credit: CreditService
    plans: InstallmentStore
    policy: InstallmentPolicy = INSTALLMENT_POLICY_DEFAULT
    # Set by the wiring: REST calls store their answer with the change (crash-safe replay).
    answer_of: Callable[[Plan], tuple[int, str]] | None = None

    # Reading ---------------------------------------------------------------------------------

    def quote(self, user_id: int, bill_id: int, amount_fen: int, count: int) -> Quote:
        """The schedule a conversion would make now (refused as the conversion would be)."""
        check_amount_fen(amount_fen)
        with self.credit.db.read() as tx:
            line = self.credit.line_in(tx, user_id)
            bill = self._bill_in(tx, user_id, bill_id)
        check_conversion(bill, amount_fen, count, self._today(), self.policy)
        draft = new_plan(
            bill, amount_fen, count, period_of(self.credit.clock.now()), 0, self.policy
        )
        dues = tuple(due_date_of(p.period, line.repayment_day) for p in draft.periods)
        return Quote(bill, amount_fen, count, draft.fee_rate_bp, draft.fee_fen, draft.periods, dues)

    def bill_of(self, user_id: int, bill_id: int) -> Bill:
        with self.credit.db.read() as tx:
            return self._bill_in(tx, user_id, bill_id)

    def convertible(self, user_id: int, bill_id: int) -> int:
        """The most of the bill a plan may take now (0 when it cannot be converted)."""
        with self.credit.db.read() as tx:
            bill = self._bill_in(tx, user_id, bill_id)
        return convertible_on(bill, self._today(), self.policy)

    def plans_of(self, user_id: int) -> list[Plan]:
        with self.credit.db.read() as tx:
            return self.plans.plans(tx, user_id, PLANS_SHOWN_MAX)

    def plan(self, user_id: int, plan_id: int) -> Plan:
        with self.credit.db.read() as tx:
            return self._plan_in(tx, user_id, plan_id)

    def plan_by_id(self, plan_id: int) -> Plan:
        """For the idempotency renderer (the key's scope already proved the user)."""
        with self.credit.db.read() as tx:
            found = self.plans.plan(tx, plan_id)
        if found is None:
            raise CreditInstallmentNotFound("no such installment plan")
        return found

    # Converting ------------------------------------------------------------------------------

    def convert(
        self, user_id: int, bill_id: int, amount_fen: int, count: int, proof: PaymentProof
    ) -> Plan:
        """Turn `amount_fen` of a bill into a plan of `count` monthly periods."""
        check_amount_fen(amount_fen)
        self.policy.fee_rate_bp(count)
        self.credit.line(user_id)  # no line: refused before the password is asked for
        self.credit.confirmer.confirm_payment(user_id, proof, amount_fen)

        def work(tx: Tx) -> Plan:
            plan = self._convert_in(tx, user_id, bill_id, amount_fen, count)
            self._mark_done_in(tx, f"{INSTALLMENT_REFERENCE}:{plan.id}", plan)
            return plan

        return self.credit.db.run(work)

    def _convert_in(self, tx: Tx, user_id: int, bill_id: int, amount_fen: int, count: int) -> Plan:
        credit = self.credit
        line = credit.line_in(tx, user_id, for_update=True)
        bill = self._bill_in(tx, user_id, bill_id)
        if self.plans.plan_of_bill(tx, bill_id) is not None:
            raise CreditBillAlreadyConverted("this bill is in installments already")
        check_conversion(bill, amount_fen, count, self._today(), self.policy)
        now = credit.clock.now()
        now_us = credit.clock.now_us()
        credit.store.update_bill(tx, converted(bill, amount_fen, now_us))
        draft = new_plan(bill, amount_fen, count, period_of(now), now_us, self.policy)
        plan_id = self.plans.insert_plan(tx, draft)
        if plan_id is None:
            raise CreditBillAlreadyConverted("this bill is in installments already")
        after = replace(line, installment_fen=line.installment_fen + amount_fen)
        credit.save_in(tx, line, after)
        for period in draft.periods:
            credit.schedule_bill_in(tx, user_id, period.period)
        return replace(draft, id=plan_id)

    # Prepaying ---------------------------------------------------------------------------------

    def prepay(self, user_id: int, plan_id: int, proof: PaymentProof) -> Plan:
        """Repay every period not billed yet from the balance now; their fees are waived."""
        amount_fen = check_prepayment(self.plan(user_id, plan_id))
        self.credit.confirmer.confirm_payment(user_id, proof, amount_fen)

        def work(tx: Tx) -> Plan:
            plan = self._prepay_in(tx, user_id, plan_id)
            self._mark_done_in(tx, f"{PREPAYMENT_REFERENCE}:{plan.id}", plan)
            return plan

        try:
            return self.credit.db.run(work)
        except LedgerRejected as rejected:
            if rejected.code == "exceeds_credits":
                raise InsufficientFunds("not enough balance", code="insufficient_funds") from None
            raise

    def _prepay_in(self, tx: Tx, user_id: int, plan_id: int) -> Plan:
        credit = self.credit
        line = credit.line_in(tx, user_id, for_update=True)
        plan = self._plan_in(tx, user_id, plan_id)  # under the line's lock: one prepayment wins
        amount_fen = check_prepayment(plan)
        now_us = credit.clock.now_us()
        after = prepaid(plan, now_us)
        self.plans.save_plan(tx, plan, after, now_us)
        credit.save_in(
            tx,
            line,
            replace(
                line,
                installment_fen=line.installment_fen - amount_fen,
                outstanding_fen=line.outstanding_fen - amount_fen,
            ),
        )
        transfer = Transfer(
            f"credit:prepay:{plan_id}",
            credit.users.wallet_account_id_in(tx, user_id),
            line.account_id,
            amount_fen,
            code=LEDGER_CODE_CREDIT_REPAY,  # a repayment to the wallet's statement
            reference=f"{PREPAYMENT_REFERENCE}:{plan_id}",
        )
        credit.ledger.transfer_in(tx, [transfer])
        return after

    # Helpers -----------------------------------------------------------------------------------

    def _today(self) -> date:
        return china_date(self.credit.clock.now())

    def _bill_in(self, tx: Tx, user_id: int, bill_id: int) -> Bill:
        bill = self.credit.store.bill(tx, bill_id)
        if bill is None or bill.user_id != user_id:
            raise CreditBillNotFound("no such bill")
        return bill

    def _plan_in(self, tx: Tx, user_id: int, plan_id: int) -> Plan:
        plan = self.plans.plan(tx, plan_id)
        if plan is None or plan.user_id != user_id:
            raise CreditInstallmentNotFound("no such installment plan")
        return plan

    def _mark_done_in(self, tx: Tx, reference: str, plan: Plan) -> None:
        idempotency = self.credit.idempotency
        if idempotency is not None:
            answer = self.answer_of(plan) if self.answer_of is not None else None
            idempotency.mark_done_in(tx, reference, answer=answer)


__all__ = [
    "INSTALLMENT_REFERENCE",
    "PREPAYMENT_REFERENCE",
    "InstallmentService",
    "InstallmentStore",
    "Quote",
    "plan_answer",
]
