"""CreditService on an in-memory SQLite database (the real credit, ledger, job and audit stores;
the wallet's users and the payment-password check are fakes): granting, drawing within the
line, the 1st's bill with only the month's purchases, due dates, daily penalties charged once
per bill and day, the overdue freeze and its end, partial repayments, refunds back to the line
or the balance, and the line always equal to its ledger account."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.pool import StaticPool

from paybao.adapters.db.admin_store import SqlAdminStore
from paybao.adapters.db.credit_checks import bills_match_rows, lines_match_ledger, lines_match_rows
from paybao.adapters.db.credit_installment_store import SqlInstallmentStore
from paybao.adapters.db.credit_store import SqlCreditStore
from paybao.adapters.db.database import SqlDatabase
from paybao.adapters.db.job_store import SqlJobStore
from paybao.adapters.db.ledger_store import ledger_store_for
from paybao.adapters.db.tables import metadata
from paybao.adapters.db.tables.platform import jobs
from paybao.adapters.db.tables.wallet import audit_log
from paybao.domain.accounts import Purpose, merchant_account, platform_account, user_account
from paybao.domain.credit import BillStatus
from paybao.domain.errors import DomainError, Forbidden
from paybao.domain.ledger import Transfer, TransferFlags
from paybao.domain.trades import LEDGER_CODE_REFUND, LEDGER_CODE_TRADE_PAY
from paybao.services.audit import AuditTrail
from paybao.services.clock import ManualClock, us_from_datetime
from paybao.services.credit import JOB_BILL, JOB_PENALTY, CreditService
from paybao.services.credit_billing import CreditBilling
from paybao.services.jobs import Job, JobRunner
from paybao.services.ledger import LedgerService
from paybao.services.users import UserRecord

PIN = "135790"
USER = 7
STRANGER = 8  # registered, but no real name verified


def china(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    """Microseconds of a China-time wall clock reading."""
    at = datetime(year, month, day, hour, minute, tzinfo=UTC)
    return us_from_datetime(at) - 8 * 3600 * 1_000_000


class Users:
    def __init__(self, wallets: dict[int, int]) -> None:
        self.wallets = wallets

    def record_in(self, tx: Any, user_id: int, *, for_update: bool = False) -> UserRecord:
        verified = user_id == USER
        return UserRecord(
            id=user_id,
            phone="13800138000",
            login_password_hash="x",
            payment_password_hash="y",
            real_name="王小明" if verified else None,
            id_number=None,
            step="active" if verified else "identity_pending",
            status="active",
            account_class="II" if verified else None,
            channels="",
            wallet_account_id=self.wallets.get(user_id),
            login_failures=0,
            login_locked_until_us=None,
            pay_failures=0,
            pay_locked_until_us=None,
            withdraw_quota_used_fen=0,
            created_at_us=0,
        )

    def wallet_account_id_in(self, tx: Any, user_id: int) -> int:
        return self.wallets[user_id]


class Confirmer:
    def confirm_payment(self, user_id: int, confirmation: object, amount_fen: int) -> None:
        if confirmation != PIN:
            raise Forbidden("wrong payment password", code="payment_password_wrong")


@dataclass
class World:
    db: SqlDatabase
    clock: ManualClock
    ledger: LedgerService
    runner: JobRunner
    credit: CreditService
    billing: CreditBilling
    wallet_id: int
    merchant_id: int
    clearing_id: int

    def buy(self, trade_no: str, amount_fen: int) -> None:
        """What TradeService does for a credit payment: draw, then the trade's journal."""

        def work(tx: Any) -> None:
            source_id = self.credit.draw_in(tx, USER, trade_no, amount_fen)
            pay = Transfer(
                f"trade:{trade_no}:pay",
                source_id,
                self.merchant_id,
                amount_fen,
                code=LEDGER_CODE_TRADE_PAY,
            )
            self.ledger.transfer_in(tx, [pay])

        self.db.run(work)

    def refund(self, trade_no: str, refund_id: int, amount_fen: int) -> Transfer | None:
        """What RefundService does: merchant -> wallet, then on to the line (linked)."""

        def work(tx: Any) -> Transfer | None:
            onward = self.credit.refund_in(tx, trade_no, refund_id, amount_fen, self.wallet_id)
            back = Transfer(
                f"trade:{trade_no}:refund:{refund_id}",
                self.merchant_id,
                self.wallet_id,
                amount_fen,
                code=LEDGER_CODE_REFUND,
                flags=TransferFlags.LINKED if onward is not None else TransferFlags.NONE,
            )
            self.ledger.transfer_in(tx, [back] + ([onward] if onward is not None else []))
            return onward

        return self.db.run(work)

    def run_jobs_until(self, at_us: int) -> None:
        """Move time job by job up to `at_us` (as the sandbox clock does)."""
        for _ in range(1000):
            due_us = self.runner.next_due_at_us()
            if due_us is None or due_us > at_us:
                break
            self.clock.set_us(max(due_us, self.clock.now_us()))
            self.runner.run_due()
        self.clock.set_us(at_us)

    def balance(self, account_id: int) -> int:
        return self.ledger.balance(account_id).balance_fen

    def jobs_of(self, kind: str) -> list[tuple[str, str]]:
        with self.db.read() as tx:
            rows = tx.execute(select(jobs.c.key, jobs.c.status).where(jobs.c.kind == kind))
            return [(row.key, row.status) for row in rows]

    def clean(self) -> bool:
        with self.db.read() as tx:
            checks = (lines_match_ledger, lines_match_rows, bills_match_rows)
            return all(not check(tx, 0) for check in checks)


@pytest.fixture
def world() -> Iterator[World]:
    engine = create_engine(
        "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
    )
    metadata.create_all(engine)
    db = SqlDatabase(engine)
    clock = ManualClock(china(2026, 3, 5, 10))
    ledger = LedgerService(db, ledger_store_for("sqlite"), clock)
    runner = JobRunner(db, SqlJobStore("sqlite"), clock)
    specs = [user_account(USER), merchant_account(1), platform_account(Purpose.BANK_CLEARING)]
    ids = ledger.open_accounts(specs)
    wallet_id, merchant_id, clearing_id = (ids[spec.key] for spec in specs)
    ledger.apply([Transfer("topup:1", clearing_id, wallet_id, 5_000_00, code=301)])
    credit = CreditService(
        db=db,
        store=SqlCreditStore("sqlite"),
        ledger=ledger,
        clock=clock,
        jobs=runner,
        users=Users({USER: wallet_id}),
        confirmer=Confirmer(),
        audit=AuditTrail(db, SqlAdminStore(), clock),
    )
    billing = CreditBilling(credit, SqlInstallmentStore("sqlite"))
    billing.install_jobs()
    yield World(db, clock, ledger, runner, credit, billing, wallet_id, merchant_id, clearing_id)
    engine.dispose()


def code_of(call: Any) -> str:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value.code


# Granting ----------------------------------------------------------------------------------


def test_only_a_verified_user_gets_a_line_and_every_grant_is_audited(world: World) -> None:
    credit = world.credit
    assert code_of(lambda: credit.grant(STRANGER, 1_000_00)) == "credit_identity_required"
    assert code_of(lambda: credit.grant(USER, 499_99)) == "credit_limit_invalid"
    assert code_of(lambda: credit.grant(USER, 50_000_01)) == "credit_limit_invalid"
    assert code_of(lambda: credit.line(USER)) == "credit_not_opened"
    line = credit.grant(USER, 1_000_00, reason="  good   history ", operator_id=3)
    assert (line.limit_fen, line.available_fen, line.repayment_day) == (1_000_00, 1_000_00, 10)
    raised = credit.grant(USER, 2_000_00, reason="raise", actor="cli")
    assert (raised.limit_fen, raised.account_id) == (2_000_00, line.account_id)
    with world.db.read() as tx:
        rows = tx.execute(select(audit_log).order_by(audit_log.c.id)).all()
    assert [(r.operator_id, r.actor, r.action, r.subject, r.detail) for r in rows] == [
        (3, None, "credit.grant", "user:7", "limit 0.00 -> 1000.00 CNY; good history"),
        (None, "cli", "credit.grant", "user:7", "limit 1000.00 -> 2000.00 CNY; raise"),
    ]


# Drawing and billing -------------------------------------------------------------------------


def test_purchases_draw_within_the_line_and_the_merchant_is_paid(world: World) -> None:
    line = world.credit.grant(USER, 1_000_00)
    world.buy("T1", 600_00)
    assert code_of(lambda: world.buy("T2", 400_01)) == "credit_limit_exceeded"
    world.buy("T3", 400_00)
    after = world.credit.line(USER)
    assert (after.open_fen, after.outstanding_fen, after.available_fen) == (1_000_00, 1_000_00, 0)
    assert world.balance(world.merchant_id) == 1_000_00
    assert world.balance(line.account_id) == -1_000_00  # owed: debits over credits
    assert world.jobs_of(JOB_BILL) == [("7:2026-03", "pending")]
    assert world.clean()


def test_the_first_bills_only_the_months_purchases_due_on_the_repayment_day(world: World) -> None:
    world.credit.grant(USER, 2_000_00)
    world.credit.set_repayment_day(USER, 8)
    world.clock.set_us(china(2026, 3, 31, 23, 59))
    world.buy("MARCH", 300_00)
    world.clock.set_us(china(2026, 4, 1, 0, 1))  # April now, but the bill job has not run yet
    world.buy("APRIL", 50_00)
    world.runner.run_due()
    summary = world.credit.summary(USER)
    assert [(b.period, b.principal_fen, b.due_date, b.status) for b in summary.bills] == [
        ("2026-03", 300_00, date(2026, 4, 8), BillStatus.BILLED)
    ]
    assert (summary.line.open_fen, summary.line.outstanding_fen) == (50_00, 350_00)
    assert (summary.due_fen, summary.next_due_date) == (300_00, date(2026, 4, 8))
    assert [d.trade_no for d in summary.open_draws] == ["APRIL"]
    assert world.clean()


def test_a_month_whose_purchases_were_all_refunded_has_no_bill(world: World) -> None:
    world.credit.grant(USER, 1_000_00)
    world.buy("T1", 100_00)
    assert world.refund("T1", 1, 100_00) is not None
    world.run_jobs_until(china(2026, 4, 2))
    assert world.credit.summary(USER).bills == []
    assert world.credit.line(USER).outstanding_fen == 0


# Repaying ----------------------------------------------------------------------------------


def test_repayments_need_the_password_a_bill_and_money(world: World) -> None:
    credit = world.credit
    credit.grant(USER, 1_000_00)
    world.buy("T1", 200_00)
    assert code_of(lambda: credit.repay(USER, 10_00, PIN)) == "credit_nothing_due"
    world.run_jobs_until(china(2026, 4, 1, 9))
    assert code_of(lambda: credit.repay(USER, 10_00, "000000")) == "payment_password_wrong"
    assert code_of(lambda: credit.repay(USER, 200_01, PIN)) == "credit_repayment_exceeds_due"
    partly = credit.repay(USER, 50_00, PIN)
    assert (partly.principal_fen, partly.penalty_fen, partly.outstanding_after_fen) == (
        50_00,
        0,
        150_00,
    )
    assert world.balance(world.wallet_id) == 4_950_00
    rest = credit.repay(USER, 150_00, PIN)
    assert rest.outstanding_after_fen == 0
    [paid] = credit.summary(USER).bills
    assert (paid.status, paid.unpaid_fen) == (BillStatus.PAID, 0)
    assert world.credit.line(USER).available_fen == 1_000_00
    assert world.clean()


def test_a_repayment_beyond_the_balance_is_insufficient_funds(world: World) -> None:
    world.credit.grant(USER, 50_000_00)
    world.buy("T1", 6_000_00)
    world.run_jobs_until(china(2026, 4, 1, 9))
    assert code_of(lambda: world.credit.repay(USER, 6_000_00, PIN)) == "insufficient_funds"
    assert world.credit.line(USER).outstanding_fen == 6_000_00  # nothing changed
    assert world.clean()


# Overdue -----------------------------------------------------------------------------------


def test_overdue_bills_freeze_the_line_and_charge_each_day_once(world: World) -> None:
    credit = world.credit
    credit.grant(USER, 1_000_00)
    world.buy("T1", 500_00)
    world.run_jobs_until(china(2026, 4, 10, 23, 59))  # the due date itself: no penalty yet
    assert not credit.line(USER).overdue
    world.run_jobs_until(china(2026, 4, 13, 12))  # the 11th, 12th and 13th are overdue days
    line = credit.line(USER)
    [bill] = credit.summary(USER).bills
    assert (bill.status, bill.penalty_fen) == (BillStatus.OVERDUE, 3 * 25)  # 0.05 % of 500.00
    assert (line.overdue, line.outstanding_fen) == (True, 500_75)
    assert code_of(lambda: world.buy("T2", 1_00)) == "credit_overdue_frozen"
    # The same day's job again (a replay) charges nothing more.
    with world.db.read() as tx:
        job_id = tx.execute(
            text("SELECT id FROM jobs WHERE key = :k"), {"k": f"{bill.id}:2026-04-12"}
        ).scalar_one()
    replay = Job(job_id, JOB_PENALTY, f"{bill.id}:2026-04-12", {}, 0, 0)
    world.db.run(lambda tx: world.billing._daily_job(tx, replay))
    assert credit.line(USER).outstanding_fen == 500_75
    # Repaying part: the penalty first, then 0.05 % of the principal still unpaid.
    credit.repay(USER, 300_75, PIN)
    world.run_jobs_until(china(2026, 4, 14, 12))
    [bill] = credit.summary(USER).bills
    assert (bill.penalty_fen, bill.unpaid_principal_fen, bill.unpaid_penalty_fen) == (
        85,
        200_00,
        10,
    )
    assert credit.line(USER).overdue
    credit.repay(USER, 200_10, PIN)
    line = credit.line(USER)
    assert (line.overdue, line.outstanding_fen, line.available_fen) == (False, 0, 1_000_00)
    world.run_jobs_until(china(2026, 4, 20))
    assert credit.summary(USER).bills[0].penalty_fen == 85  # nothing after repaying
    world.buy("T3", 1_00)  # unfrozen
    assert [s for _, s in world.jobs_of(JOB_PENALTY)] == ["done"] * 5
    assert world.balance(line.account_id) == -1_00
    assert world.clean()


# Refunds -----------------------------------------------------------------------------------


def test_refunds_go_back_to_the_line_and_what_was_repaid_to_the_balance(world: World) -> None:
    credit = world.credit
    credit.grant(USER, 1_000_00)
    world.buy("OPEN", 100_00)
    world.buy("BILLED", 300_00)
    world.run_jobs_until(china(2026, 4, 1, 9))
    world.buy("APRIL", 40_00)
    # Unbilled: the whole refund lowers the open amount.
    assert world.refund("APRIL", 1, 15_00) is not None
    assert credit.line(USER).open_fen == 25_00
    # Billed, unpaid: the bill's principal goes down.
    credit.repay(USER, 350_00, PIN)  # 400.00 billed: 50.00 left
    wallet_before = world.balance(world.wallet_id)
    onward = world.refund("BILLED", 2, 80_00)
    assert onward is not None and onward.amount_fen == 50_00  # the bill still owed 50.00
    assert world.balance(world.wallet_id) == wallet_before + 30_00  # repaid part comes back
    [bill] = credit.summary(USER).bills
    assert (bill.refunded_fen, bill.unpaid_fen, bill.status) == (50_00, 0, BillStatus.PAID)
    # Billed and repaid: all of it to the balance.
    assert world.refund("OPEN", 3, 100_00) is None
    assert world.balance(world.wallet_id) == wallet_before + 130_00
    line = credit.line(USER)
    assert (line.open_fen, line.outstanding_fen) == (25_00, 25_00)
    assert world.clean()
