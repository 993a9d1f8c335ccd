"""Huabei's timers: the 1st's bill and each bill's daily job (rules: domain/credit.py, periods:
domain/credit_installments.py). Jobs, so the sandbox clock runs them.

`credit.bill` `<user>:<YYYY-MM>` at 00:00 China time on the 1st closes the month into a bill: the
month's purchases, the installment periods of the month (each with its fee, charged to the line
and earned by the platform now), and the rest of a bill that revolved (paid only down to its
minimum), carried in with its interest. Purchases, conversions and a bill that starts revolving
each schedule the job of their month; one job closes everything of the month.

`credit.penalty` `<bill>:<YYYY-MM-DD>` at the start of a day: the day after the due date judges
the bill (minimum repaid: revolving; else overdue: the line freezes); an overdue bill is charged
the day's penalty, a revolving one (and a bill carrying a revolving rest, from the day it closes)
the day's interest, each once per bill and day; then the next day is scheduled while something
is charged.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from paybao.domain.accounts import Purpose, platform_account
from paybao.domain.credit import (
    LEDGER_CODE_CREDIT_FEE,
    LEDGER_CODE_CREDIT_INTEREST,
    LEDGER_CODE_CREDIT_PENALTY,
    UNPAID_BILLS_MAX,
    Bill,
    BillStatus,
    ChargeKind,
    CreditLine,
    DayCharge,
    NewBill,
    charged,
    charges_start,
    day_start,
    day_started,
    new_bill,
    rolled,
    statement_at,
)
from paybao.domain.credit_installments import Period, PeriodStatus, Plan, period_billed
from paybao.domain.ledger import Transfer
from paybao.services.clock import us_from_datetime
from paybao.services.credit import JOB_BILL, JOB_PENALTY, CreditService
from paybao.services.credit_installments import InstallmentStore
from paybao.services.jobs import Job
from paybao.services.ports import Tx

# Plans of one user billed on one 1st: a bound on the rows read, not a rule (a plan a month for
# ten years).
DUE_PLANS_MAX = 120
_CODES = {
    ChargeKind.PENALTY: LEDGER_CODE_CREDIT_PENALTY,
    ChargeKind.INTEREST: LEDGER_CODE_CREDIT_INTEREST,
}


@dataclass
class CreditBilling:
    credit: CreditService
    plans: InstallmentStore

    def install_jobs(self) -> None:
        self.credit.jobs.register(JOB_BILL, self._bill_job)
        self.credit.jobs.register(JOB_PENALTY, self._daily_job)

    # The 1st ---------------------------------------------------------------------------------

    def _bill_job(self, tx: Tx, job: Job) -> None:
        """Close the month into a bill (nothing to bill: no bill)."""
        user_text, _, period = job.key.partition(":")
        user_id = int(user_text)
        credit = self.credit
        line = credit.line_in(tx, user_id, for_update=True)
        closes_us = us_from_datetime(statement_at(period))
        now_us = credit.clock.now_us()
        assert now_us >= closes_us, "a bill closes on the 1st, not before"
        plans = self.plans.due_plans(tx, user_id, period, DUE_PLANS_MAX)
        periods = [p for plan in plans for p in _due(plan, period)]
        unpaid = credit.store.unpaid_bills(tx, user_id, UNPAID_BILLS_MAX)
        revolving = [bill for bill in unpaid if bill.status is BillStatus.MIN_PAID]
        parts = NewBill(
            purchases_fen=credit.store.unbilled_fen(tx, user_id, closes_us),
            periods_principal_fen=sum(p.principal_fen for p in periods),
            periods_fee_fen=sum(p.fee_fen for p in periods),
            carried_fen=sum(bill.unpaid_fen for bill in revolving),
        )
        draft = new_bill(user_id, period, line.repayment_day, parts, now_us)
        if draft is None:
            return
        bill_id = credit.store.insert_bill(tx, draft)
        if bill_id is None:
            return  # this month's bill exists already (a replay)
        credit.store.attach_draws(tx, user_id, closes_us, bill_id)
        for bill in revolving:
            credit.store.update_bill(tx, rolled(bill, bill_id))
        self._bill_periods_in(tx, line, plans, period, bill_id)
        after = replace(
            line,
            open_fen=line.open_fen - parts.purchases_fen,
            installment_fen=line.installment_fen - parts.periods_principal_fen,
            outstanding_fen=line.outstanding_fen + parts.periods_fee_fen,
        )
        credit.save_in(tx, line, after)
        self._schedule_day_in(tx, bill_id, charges_start(replace(draft, id=bill_id)))

    def _bill_periods_in(
        self, tx: Tx, line: CreditLine, plans: list[Plan], period: str, bill_id: int
    ) -> None:
        """Each due period goes into the bill; its fee moves to the platform's income now."""
        now_us = self.credit.clock.now_us()
        fees: list[Transfer] = []
        for plan in plans:
            after = plan
            for due in _due(plan, period):
                after = period_billed(after, due.number, bill_id, now_us)
                if due.fee_fen > 0:
                    fees.append(
                        Transfer(
                            f"credit:fee:{plan.id}:{due.number}",
                            line.account_id,
                            self._income_id_in(tx),
                            due.fee_fen,
                            code=LEDGER_CODE_CREDIT_FEE,
                            reference=f"credit_bill:{bill_id}",
                        )
                    )
            self.plans.save_plan(tx, plan, after, now_us)
        if fees:
            self.credit.ledger.transfer_in(tx, fees)

    # Each day of a bill --------------------------------------------------------------------------

    def _schedule_day_in(self, tx: Tx, bill_id: int, day: date) -> None:
        at_us = us_from_datetime(day_start(day))
        self.credit.jobs.schedule_in(tx, JOB_PENALTY, f"{bill_id}:{day.isoformat()}", at_us)

    def _daily_job(self, tx: Tx, job: Job) -> None:
        """The start of a day: judge the bill after its due date, charge the day's penalty or
        interest (once per bill and day), look again tomorrow while it is charged."""
        bill_text, _, day_text = job.key.partition(":")
        day = date.fromisoformat(day_text)
        credit = self.credit
        found = credit.store.bill(tx, int(bill_text))
        assert found is not None
        line = credit.line_in(tx, found.user_id, for_update=True)
        bill = credit.store.bill(tx, found.id)  # again, now under the line's lock
        assert bill is not None
        charge = day_started(bill, day, credit.policy)
        if charge.bill.status is not bill.status and charge.bill.status is BillStatus.MIN_PAID:
            # The bill revolves: the 1st after its due date carries its rest into a new bill.
            due = bill.due_date
            credit.schedule_bill_in(tx, bill.user_id, f"{due.year:04d}-{due.month:02d}")
        after_bill, charged_fen = self._charge_in(tx, line, charge, day)
        if after_bill != bill:
            credit.store.update_bill(tx, after_bill)
        after = replace(
            line,
            outstanding_fen=line.outstanding_fen + charged_fen,
            overdue=line.overdue or after_bill.status is BillStatus.OVERDUE,
        )
        if after != line:
            credit.save_in(tx, line, after)
        if charge.next_day is not None:
            self._schedule_day_in(tx, bill.id, charge.next_day)

    def _charge_in(
        self, tx: Tx, line: CreditLine, charge: DayCharge, day: date
    ) -> tuple[Bill, int]:
        """Record and journal the day's charge unless that day was charged already (a replay):
        the bill after it, and what it charged."""
        if charge.amount_fen == 0:
            return charge.bill, 0
        store, bill = self.credit.store, charge.bill
        insert = (
            store.insert_penalty if charge.kind is ChargeKind.PENALTY else store.insert_interest
        )
        now_us = self.credit.clock.now_us()
        if not insert(tx, bill.id, day, charge.base_fen, charge.amount_fen, now_us):
            return bill, 0
        transfer = Transfer(
            f"credit:{charge.kind.value}:{bill.id}:{day.strftime('%Y%m%d')}",
            line.account_id,
            self._income_id_in(tx),
            charge.amount_fen,
            code=_CODES[charge.kind],
            reference=f"credit_bill:{bill.id}",
        )
        self.credit.ledger.transfer_in(tx, [transfer])
        return charged(charge), charge.amount_fen

    def _income_id_in(self, tx: Tx) -> int:
        income = platform_account(Purpose.CREDIT_INCOME)
        return self.credit.ledger.open_accounts_in(tx, [income])[income.key]


def _due(plan: Plan, period: str) -> list[Period]:
    """The plan's periods still scheduled in `period` or before (normally exactly one)."""
    return [p for p in plan.periods if p.status is PeriodStatus.SCHEDULED and p.period <= period]
