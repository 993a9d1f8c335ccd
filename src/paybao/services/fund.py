"""Yu'e Bao for wallet users: transfer in from the balance, transfer out (FAST or NORMAL),
holdings and records; the platform's published daily income per 10,000 CNY.

Every change runs in one transaction: lock the user's `fund_holdings` row (it serialises a
user's fund operations, the FAST quota included), write the order, move the money in the
ledger, update the holding. Transfer ids derive from the order id (`fund:in:<id>`, ...), and
under a REST request the transaction also marks the caller's idempotency claim.

Money (domain/fund.py for the codes):
- in:          wallet -> platform fund custody; confirmed on T+1 by the daily pass: custody ->
               the user's fund account (`Purpose.FUND`).
- out, FAST:   fund account -> wallet, at once (quota per user per China day).
- out, NORMAL: fund account -> custody now; custody -> wallet on T+1 (the daily pass).
- income:      platform fund income -> fund account, once per user and day (the daily pass,
               services/fund_days.py).
So custody holds exactly what is waiting for confirmation plus what is on its way back, and
each fund account exactly the confirmed shares: the reconcile checks prove both.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import TypeVar

from paybao.domain.accounts import Purpose, platform_account, user_account
from paybao.domain.errors import Forbidden, InsufficientFunds, InvalidInput, NotFound
from paybao.domain.fund import (
    LEDGER_CODE_FUND_IN,
    LEDGER_CODE_FUND_OUT,
    LEDGER_CODE_FUND_REDEEM,
    FundInsufficientShares,
    FundRateDateClosed,
    OrderKind,
    OrderStatus,
    RedeemSpeed,
    check_fast_redeem,
    check_fund_amount_fen,
    check_per_10k_e4,
    check_redeemable,
    china_day,
    fast_redeem_left_fen,
    format_per_10k,
    rates_for,
    seven_day_yield,
    yield_days,
)
from paybao.domain.ledger import Transfer
from paybao.services.audit import AuditTrail
from paybao.services.devices import DeviceService, PaymentProof
from paybao.services.fund_records import (
    FundIncome,
    FundOrder,
    FundPolicy,
    FundRate,
    FundStore,
    FundSummary,
    Holding,
)
from paybao.services.idempotency import IdempotencyService
from paybao.services.jobs import JobRunner
from paybao.services.ledger import LedgerRejected, LedgerService
from paybao.services.ports import Clock, Database, Tx
from paybao.services.users import UserService

T = TypeVar("T")

JOB_DAY = "fund.day"
LIST_LIMIT_MAX = 50
PENDING_LISTED_MAX = 20
RATES_LISTED_MAX = 100
# Figures may be published ahead, for up to a month.
RATE_AHEAD_DAYS_MAX = 31
PUBLISHER_LENGTH_MAX = 64
AUDIT_PUBLISH_RATE = "fund.publish_rate"
# The transfers an order makes when it is placed (the daily pass makes the others).
_STEP_CODES = {
    "in": LEDGER_CODE_FUND_IN,  # wallet -> custody
    "out": LEDGER_CODE_FUND_OUT,  # fund account -> wallet (FAST)
    "redeem": LEDGER_CODE_FUND_REDEEM,  # fund account -> custody (NORMAL)
}


class FundService:
    def __init__(
        self,
        *,
        db: Database,
        store: FundStore,
        ledger: LedgerService,
        users: UserService,
        clock: Clock,
        jobs: JobRunner,
        policy: FundPolicy,
        devices: DeviceService | None = None,
        idempotency: IdempotencyService | None = None,
        audit: AuditTrail | None = None,
    ) -> None:
        assert policy.fast_redeem_daily_fen >= 0
        check_per_10k_e4(policy.per_10k_default_e4)
        self.db = db
        self.store = store
        self.ledger = ledger
        self.users = users
        self.clock = clock
        self.jobs = jobs
        self.policy = policy
        self.devices = devices
        self.idempotency = idempotency
        self.audit = audit
        self._account_ids: dict[Purpose, int] = {}

    # Transfer in ------------------------------------------------------------------------------

    def transfer_in(self, user_id: int, amount_fen: int, proof: PaymentProof) -> FundOrder:
        """From the wallet balance; confirmed on T+1, earning from that day."""
        check_fund_amount_fen(amount_fen)
        self._confirm(user_id, proof, amount_fen)

        def work(tx: Tx) -> int:
            # Buying fund shares is no consumption or transfer: PBoC No. 43 does not count it
            # against the class limit. A frozen or unfinished account is refused all the same.
            self.users.check_can_pay_in(tx, user_id, amount_fen, funding="fund")
            wallet_id = self.users.wallet_account_id_in(tx, user_id)
            holding = self._holding_in(tx, user_id)
            now_us = self.clock.now_us()
            calendar = self.policy.calendar
            order = FundOrder(
                id=0,
                user_id=user_id,
                kind=OrderKind.IN,
                status=OrderStatus.PENDING,
                amount_fen=amount_fen,
                trade_date=calendar.trade_date(now_us),
                settle_date=calendar.settle_date(now_us),
                created_at_us=now_us,
            )
            order_id = self.store.insert_order(tx, order)
            custody_id = self.platform_account_in(tx, Purpose.FUND_CUSTODY)
            self._move_in(tx, "in", order_id, wallet_id, custody_id, amount_fen)
            pending_fen = holding.pending_fen + amount_fen
            self.store.update_holding(
                tx, user_id, {"pending_fen": pending_fen, "updated_at_us": now_us}
            )
            self.wake_in(tx)
            self._mark_in(tx, order_id)
            return order_id

        return self.order(self._run_money(work, "insufficient_funds"))

    # Transfer out -----------------------------------------------------------------------------

    def transfer_out(
        self, user_id: int, amount_fen: int, speed: RedeemSpeed, proof: PaymentProof
    ) -> FundOrder:
        """To the wallet balance: FAST at once (within today's quota), NORMAL on T+1."""
        check_fund_amount_fen(amount_fen)
        self._confirm(user_id, proof, amount_fen)

        def work(tx: Tx) -> int:
            wallet_id = self.users.wallet_account_id_in(tx, user_id)
            holding = self.store.holding(tx, user_id, for_update=True)
            if holding is None:
                raise FundInsufficientShares("nothing in the fund yet", confirmed_fen=0)
            check_redeemable(amount_fen, holding.confirmed_fen, holding.pending_fen)
            if speed is RedeemSpeed.FAST:
                return self._out_fast_in(tx, holding, wallet_id, amount_fen)
            return self._out_normal_in(tx, holding, amount_fen)

        return self.order(self._run_money(work, "fund_insufficient_shares"))

    def _out_fast_in(self, tx: Tx, holding: Holding, wallet_id: int, amount_fen: int) -> int:
        now_us = self.clock.now_us()
        today = china_day(now_us)
        quota_fen = self.policy.fast_redeem_daily_fen
        left_fen = fast_redeem_left_fen(quota_fen, holding.fast_day, holding.fast_used_fen, today)
        check_fast_redeem(amount_fen, left_fen, quota_fen)
        order_id = self.store.insert_order(
            tx,
            FundOrder(
                id=0,
                user_id=holding.user_id,
                kind=OrderKind.OUT_FAST,
                status=OrderStatus.SUCCEEDED,
                amount_fen=amount_fen,
                trade_date=today,
                settle_date=None,
                created_at_us=now_us,
                finished_at_us=now_us,
            ),
        )
        self._move_in(tx, "out", order_id, holding.account_id, wallet_id, amount_fen)
        used_fen = quota_fen - left_fen + amount_fen
        assert used_fen <= quota_fen
        self._mark_in(tx, order_id)
        self.store.update_holding(
            tx,
            holding.user_id,
            {
                "confirmed_fen": holding.confirmed_fen - amount_fen,
                "fast_day": today,
                "fast_used_fen": used_fen,
                "updated_at_us": now_us,
            },
        )
        return order_id

    def _out_normal_in(self, tx: Tx, holding: Holding, amount_fen: int) -> int:
        now_us = self.clock.now_us()
        calendar = self.policy.calendar
        order_id = self.store.insert_order(
            tx,
            FundOrder(
                id=0,
                user_id=holding.user_id,
                kind=OrderKind.OUT_NORMAL,
                status=OrderStatus.PENDING,
                amount_fen=amount_fen,
                trade_date=calendar.trade_date(now_us),
                settle_date=calendar.settle_date(now_us),
                created_at_us=now_us,
            ),
        )
        custody_id = self.platform_account_in(tx, Purpose.FUND_CUSTODY)
        self._move_in(tx, "redeem", order_id, holding.account_id, custody_id, amount_fen)
        self.store.update_holding(
            tx,
            holding.user_id,
            {
                "confirmed_fen": holding.confirmed_fen - amount_fen,
                "redeeming_fen": holding.redeeming_fen + amount_fen,
                "updated_at_us": now_us,
            },
        )
        self.wake_in(tx)
        self._mark_in(tx, order_id)
        return order_id

    # Reading ----------------------------------------------------------------------------------

    def summary(self, user_id: int) -> FundSummary:
        now_us = self.clock.now_us()
        today = china_day(now_us)
        yesterday = today - timedelta(days=1)
        with self.db.read() as tx:
            holding = self.store.holding(tx, user_id)
            pending = self.store.pending_orders(tx, user_id, PENDING_LISTED_MAX)
            income = self.store.income(tx, user_id, yesterday)
            figures = self._figures_in(tx, yesterday)
        quota_fen = self.policy.fast_redeem_daily_fen
        if holding is None:  # never transferred in: an empty fund, the whole quota
            holding = Holding(user_id, 0, 0, 0, 0, 0, None, 0, now_us, now_us)
        return FundSummary(
            confirmed_fen=holding.confirmed_fen,
            pending_fen=holding.pending_fen,
            redeeming_fen=holding.redeeming_fen,
            income_total_fen=holding.income_total_fen,
            yesterday=yesterday,
            income_yesterday_fen=income.income_fen if income is not None else 0,
            yield_7d_percent=seven_day_yield(figures),
            per_10k_e4=figures[-1],
            fast_quota_fen=quota_fen,
            fast_left_fen=fast_redeem_left_fen(
                quota_fen, holding.fast_day, holding.fast_used_fen, today
            ),
            pending=pending,
        )

    def yield_7d(self) -> tuple[Decimal, int]:
        """The 7-day annualised yield (percent) and yesterday's income per 10,000 (0.0001 CNY)."""
        yesterday = china_day(self.clock.now_us()) - timedelta(days=1)
        with self.db.read() as tx:
            figures = self._figures_in(tx, yesterday)
        return seven_day_yield(figures), figures[-1]

    def _figures_in(self, tx: Tx, yesterday: date) -> list[int]:
        """The figures of the seven days that end with `yesterday`, oldest first."""
        days = yield_days(yesterday)
        published = self.store.rates_between(tx, days[0], days[-1])
        return rates_for(days, published, self.policy.per_10k_default_e4)

    def order(self, order_id: int) -> FundOrder:
        with self.db.read() as tx:
            found = self.store.order(tx, order_id)
        if found is None:
            raise NotFound("no such fund order", code="fund_order_not_found")
        return found

    def orders(
        self, user_id: int, limit: int = 20, before_id: int | None = None
    ) -> list[FundOrder]:
        """The user's transfers in and out, newest first (`before_id`: the page cursor)."""
        _check_page(limit)
        with self.db.read() as tx:
            return self.store.orders_of(tx, user_id, limit, before_id)

    def incomes(
        self, user_id: int, limit: int = 20, before: date | None = None
    ) -> list[FundIncome]:
        """The user's daily income, newest day first (`before`: the page cursor)."""
        _check_page(limit)
        with self.db.read() as tx:
            return self.store.incomes_of(tx, user_id, limit, before)

    # The published figure ---------------------------------------------------------------------

    def publish_rate(
        self, day: date, per_10k_e4: int, *, by: str, operator_id: int | None = None
    ) -> FundRate:
        """The income per 10,000 CNY of `day` (today or a day ahead). A day that has ended is
        closed: its income is paid on the figure it had then. Publishing again replaces."""
        check_per_10k_e4(per_10k_e4)
        if not by or len(by) > PUBLISHER_LENGTH_MAX or not by.isprintable():
            raise InvalidInput("the publisher is a short printable name", code="invalid_input")
        now_us = self.clock.now_us()
        today = china_day(now_us)
        if day < today:
            raise FundRateDateClosed(f"{day} has ended; its income was paid on its figure")
        if day > today + timedelta(days=RATE_AHEAD_DAYS_MAX):
            raise InvalidInput(
                f"figures are published at most {RATE_AHEAD_DAYS_MAX} days ahead",
                code="fund_rate_date_too_far",
            )
        rate = FundRate(day, per_10k_e4, now_us, by)

        def work(tx: Tx) -> None:
            self.store.upsert_rate(tx, rate)
            if self.audit is not None:
                self.audit.record_in(
                    tx,
                    AUDIT_PUBLISH_RATE,
                    f"fund_rate:{day.isoformat()}",
                    operator_id=operator_id,
                    actor=None if operator_id is not None else by,
                    detail=f"{format_per_10k(per_10k_e4)} CNY per 10,000 CNY",
                )

        self.db.run(work)
        return rate

    def rates(self, limit: int = 30) -> list[FundRate]:
        assert 0 < limit <= RATES_LISTED_MAX
        with self.db.read() as tx:
            return self.store.rates(tx, limit)

    def totals(self) -> dict[str, int]:
        """For the operators' page: holders and amounts, and the two platform accounts."""
        with self.db.read() as tx:
            totals = dict(self.store.totals(tx))
        for purpose in (Purpose.FUND_CUSTODY, Purpose.FUND_INCOME):
            account_id = self._platform_account(purpose)
            totals[f"{purpose}_balance_fen"] = self.ledger.balance(account_id).balance_fen
        return totals

    # Shared -----------------------------------------------------------------------------------

    def wake_in(self, tx: Tx) -> None:
        """Make sure the daily pass runs today (it keeps itself going from then on): a fresh
        installation, or a worker that was down, must not leave orders unconfirmed."""
        now_us = self.clock.now_us()
        self.jobs.schedule_in(tx, JOB_DAY, f"start:{china_day(now_us).isoformat()}", now_us)

    def _platform_account(self, purpose: Purpose) -> int:
        return self.db.run(lambda tx: self.platform_account_in(tx, purpose))

    def platform_account_in(self, tx: Tx, purpose: Purpose) -> int:
        found = self._account_ids.get(purpose)
        if found is None:
            spec = platform_account(purpose)
            found = self.ledger.open_accounts_in(tx, [spec])[spec.key]
            self._account_ids[purpose] = found
        return found

    def _holding_in(self, tx: Tx, user_id: int) -> Holding:
        """The user's holding, locked; the first transfer in opens it and its fund account."""
        holding = self.store.holding(tx, user_id, for_update=True)
        if holding is not None:
            return holding
        spec = user_account(user_id, Purpose.FUND)
        account_id = self.ledger.open_accounts_in(tx, [spec])[spec.key]
        self.store.insert_holding(tx, user_id, account_id, self.clock.now_us())
        holding = self.store.holding(tx, user_id, for_update=True)
        assert holding is not None and holding.account_id == account_id
        return holding

    def _move_in(
        self, tx: Tx, step: str, order_id: int, debit_id: int, credit_id: int, fen: int
    ) -> None:
        """One posted transfer of an order: `fund:<step>:<order id>`, its code by the step."""
        transfer = Transfer(
            f"fund:{step}:{order_id}",
            debit_id,
            credit_id,
            fen,
            code=_STEP_CODES[step],
            reference=f"fund:{order_id}",
        )
        self.ledger.transfer_in(tx, [transfer])

    def _confirm(self, user_id: int, proof: PaymentProof, amount_fen: int) -> None:
        """The payment password or a registered device, before any transaction (argon2)."""
        if self.devices is not None:
            self.devices.confirm_payment(user_id, proof, amount_fen)
        elif isinstance(proof, str):
            self.users.verify_payment_password(user_id, proof)
        else:
            raise Forbidden("device confirmations are not enabled", code="device_not_registered")

    def _mark_in(self, tx: Tx, order_id: int) -> None:
        if self.idempotency is not None:
            self.idempotency.mark_done_in(tx, f"fund_order:{order_id}")

    def _run_money(self, work: Callable[[Tx], T], shortfall_code: str) -> T:
        """A money transaction; the ledger's refusal of an overdraft becomes `shortfall_code`."""
        try:
            return self.db.run(work)
        except LedgerRejected as rejected:
            if rejected.code != "exceeds_credits":
                raise
            if shortfall_code == "insufficient_funds":
                raise InsufficientFunds("not enough balance", code=shortfall_code) from None
            raise FundInsufficientShares("not enough confirmed shares") from None


def _check_page(limit: int) -> None:
    if not 1 <= limit <= LIST_LIMIT_MAX:
        raise InvalidInput(f"page size must be 1..{LIST_LIMIT_MAX}", code="page_size_invalid")


__all__ = ["JOB_DAY", "FundService"]
