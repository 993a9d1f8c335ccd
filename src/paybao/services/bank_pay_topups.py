"""Online-banking top-up (网银充值, bankPay): no bound card needed; the user pays on the bank's
own pages and the bank tells paybao.

1. `start`: with the user's class room checked (domain/topup_channels.py), one transaction
   writes the top-up `pending` (expiring in 30 min) and its query job; the answer is the
   signed URL of the bank's page for order `bankpay:<id>`.
2. The user pays there. The bank then (a) calls paybao back server to server with a signed
   notice (`on_notice`), and (b) sends the browser back (`check`, the return page).
3. Whichever of the notice, the return or the query job arrives first credits the wallet:
   `_credit_in` acts only on a row still `pending`, under its row lock, and the ledger transfer
   `bankpay:<id>` (bank clearing -> wallet) has that id, so the money moves exactly once.

Trust: the notice is believed only with a good signature (the channel verifies it), within
`NOTICE_SKEW_S` of now, never seen before (its notify id is recorded: a replay is refused and
changes nothing), and for the top-up's exact amount. The browser's return is never believed:
it only makes paybao ask the bank itself (`query`), server to server.

Expiry: the query job asks the bank after `bank_pay_query_delay_s`, then again at that
interval. Once the top-up's time is up it CLOSES the order at the bank first (so it can never
be paid later) and only then marks it `expired`; if the bank says it was paid meanwhile, the
wallet is credited instead. Every bank call is bounded in time (UNKNOWN: ask again later).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from paybao.domain.accounts import Purpose, platform_account
from paybao.domain.bills import day_period
from paybao.domain.errors import Conflict, InvalidInput, NotFound
from paybao.domain.ledger import Transfer
from paybao.domain.topup_channels import (
    CHANNEL_POLICY_DEFAULT,
    LEDGER_CODE_BANK_PAY_TOPUP,
    BankPayStatus,
    ChannelPolicy,
    check_amount,
    check_bank,
)
from paybao.services.clock import US_PER_S
from paybao.services.idempotency import IdempotencyService
from paybao.services.jobs import Job, JobRunner
from paybao.services.ledger import LedgerService
from paybao.services.ports import Clock, Database, Tx
from paybao.services.reconcile import Difference
from paybao.services.topup_channel_records import (
    BANK_PAY_IDEMPOTENCY_PREFIX,
    BANK_PAY_PREFIX,
    PAGE_SIZE_MAX,
    BankPayAnswer,
    BankPayChannel,
    BankPayOrder,
    BankPayState,
    BankPayTopup,
    TopupChannelStore,
    bank_pay_answer,
    bank_pay_view,
    check_room_in,
)
from paybao.services.users import UserService

log = logging.getLogger(__name__)

JOB_QUERY = "bank_pay.query"
NOTICE_SKEW_S = 600  # a notice older (or newer) than this is refused as stale
POLL_BACKOFF_S_MAX = 3600
# How long after its expiry a top-up may still be waiting for the bank's word before the
# daily file check calls a paid order "not credited".
RECONCILE_GRACE_S = 3600
DIFFERENCES_MAX = 1000
LINES_MAX = 100_000


@dataclass
class BankPayService:
    db: Database
    store: TopupChannelStore
    users: UserService
    ledger: LedgerService
    jobs: JobRunner
    channel: BankPayChannel
    clock: Clock
    base_url: str = "http://127.0.0.1:8000"
    policy: ChannelPolicy = field(default_factory=lambda: CHANNEL_POLICY_DEFAULT)
    # Marks a claimed request (REST Idempotency-Key, a page's form key) with the top-up it made,
    # in the same transaction: a retry after a crash answers it instead of making another.
    idempotency: IdempotencyService | None = None

    def install_jobs(self) -> None:
        # The job calls the bank: it runs with no transaction open.
        self.jobs.register_outside_tx(JOB_QUERY, self._on_query)

    # Starting ---------------------------------------------------------------------------------

    def start(self, user_id: int, bank_code: str, amount_fen: int) -> tuple[BankPayTopup, str]:
        """A pending top-up and the URL of the bank's page to pay it on."""
        bank = check_bank(bank_code)
        policy = self.policy
        check_amount(amount_fen, policy.bank_pay_amount_min_fen, policy.bank_pay_amount_max_fen)

        def work(tx: Tx) -> int:
            check_room_in(
                tx, self.users, self.ledger, policy, user_id, amount_fen, self.clock.now()
            )
            now_us = self.clock.now_us()
            topup_id = self.store.insert_bank_pay(
                tx,
                {
                    "user_id": user_id,
                    "bank_code": bank,
                    "amount_fen": amount_fen,
                    "status": str(BankPayStatus.PENDING),
                    "created_at_us": now_us,
                    "expires_at_us": now_us + policy.bank_pay_ttl_s * US_PER_S,
                },
            )
            due_us = now_us + policy.bank_pay_query_delay_s * US_PER_S
            self.jobs.schedule_in(tx, JOB_QUERY, str(topup_id), due_us)
            if self.idempotency is not None:
                self.idempotency.mark_done_in(tx, f"{BANK_PAY_IDEMPOTENCY_PREFIX}:{topup_id}")
            return topup_id

        topup = self.topup(user_id, self.db.run(work))
        return topup, self.channel.payment_url(self._order(topup))

    def payment_url(self, user_id: int, topup_id: int) -> str:
        """Back to the bank's page for a top-up still pending (the user left it)."""
        topup = self.topup(user_id, topup_id)
        if topup.status != BankPayStatus.PENDING or topup.expires_at_us <= self.clock.now_us():
            raise Conflict("this top-up can no longer be paid", code="bank_pay_not_pending")
        return self.channel.payment_url(self._order(topup))

    def payable_url(self, topup: BankPayTopup) -> str | None:
        """The bank's page while the top-up can still be paid there; None once it cannot."""
        if topup.status != BankPayStatus.PENDING or topup.expires_at_us <= self.clock.now_us():
            return None
        return self.channel.payment_url(self._order(topup))

    def answer(self, topup_id: int) -> dict[str, Any]:
        """The REST answer of a top-up as it is now (the idempotency renderer's too)."""
        with self.db.read() as tx:
            row = self.store.bank_pay(tx, topup_id)
        assert row is not None, f"bank-pay top-up {topup_id} is referenced but missing"
        topup = bank_pay_view(row)
        return bank_pay_answer(topup, self.payable_url(topup))

    def _order(self, topup: BankPayTopup) -> BankPayOrder:
        base = self.base_url.rstrip("/")
        return BankPayOrder(
            order_no=f"{BANK_PAY_PREFIX}:{topup.id}",
            bank_code=topup.bank_code,
            amount_fen=topup.amount_fen,
            ordered_at_us=topup.created_at_us,
            expires_at_us=topup.expires_at_us,
            return_url=f"{base}/wallet/topup/bank-pay/{topup.id}/return",
            notify_url=f"{base}/bank-pay/notify",
        )

    # The bank's word --------------------------------------------------------------------------

    def on_notice(self, form: Mapping[str, str]) -> BankPayTopup:
        """The bank's signed server-to-server notice. Refused (nothing changes): a forged
        signature, a stale or replayed notice, a notice for another amount."""
        notice = self.channel.verify_notice(form)
        now_us = self.clock.now_us()
        if abs(now_us - notice.notify_time_us) > NOTICE_SKEW_S * US_PER_S:
            raise InvalidInput("the notice is too old", code="bank_pay_notice_stale")
        topup_id = _topup_id(notice.order_no)

        def work(tx: Tx) -> Any:
            row = self.store.bank_pay(tx, topup_id, for_update=True)
            if row is None:
                raise NotFound("no such top-up", code="bank_pay_topup_not_found")
            if notice.amount_fen != int(row.amount_fen):
                raise InvalidInput(
                    "the notice names another amount", code="bank_pay_notice_mismatch"
                )
            if not self.store.add_notice(tx, notice.notify_id, topup_id, now_us):
                raise Conflict("this notice was received before", code="bank_pay_notice_replayed")
            if notice.paid:
                self._credit_in(tx, row, "notice")
            else:
                self._fail_in(tx, row, "bank_declined")
            return self.store.bank_pay(tx, topup_id)

        return bank_pay_view(self.db.run(work))

    def check(self, user_id: int, topup_id: int) -> BankPayTopup:
        """The browser came back from the bank: ask the bank (never the browser) how it went.
        The answer may credit the wallet; a bank that cannot say leaves it to the notice and
        the query job."""
        topup = self.topup(user_id, topup_id)
        if topup.status != BankPayStatus.PENDING:
            return topup
        answer = self.channel.query(f"{BANK_PAY_PREFIX}:{topup_id}")
        self._apply(topup_id, answer, "return")
        return self.topup(user_id, topup_id)

    def _on_query(self, job: Job) -> int | None:
        """Poll the bank for a top-up nobody confirmed; close and expire it when its time is
        up. Returns when to ask again (None: done)."""
        topup_id = int(job.key)
        with self.db.read() as tx:
            row = self.store.bank_pay(tx, topup_id)
        if row is None or row.status != BankPayStatus.PENDING:
            return None
        order_no = f"{BANK_PAY_PREFIX}:{topup_id}"
        now_us = self.clock.now_us()
        answer = self.channel.query(order_no)
        if answer.state is BankPayState.UNPAID and now_us >= int(row.expires_at_us):
            answer = self.channel.close(order_no)  # after this the bank never takes it
            if answer.state is BankPayState.CLOSED:
                self.db.run(lambda tx: self._expire_in(tx, topup_id))
                return None
        if self._apply(topup_id, answer, "query"):
            return None
        poll_us = self.policy.bank_pay_query_delay_s * US_PER_S
        if answer.state is BankPayState.UNKNOWN:  # the bank is not answering: back off
            backoff_s = min(
                self.policy.bank_pay_query_delay_s << min(job.attempts, 10), POLL_BACKOFF_S_MAX
            )
            return now_us + backoff_s * US_PER_S
        expires_at_us = int(row.expires_at_us)
        return min(now_us + poll_us, max(expires_at_us, now_us + US_PER_S))

    def _apply(self, topup_id: int, answer: BankPayAnswer, by: str) -> bool:
        """Apply a PAID or CLOSED answer of the bank; True if the top-up is settled."""
        if answer.state not in (BankPayState.PAID, BankPayState.CLOSED):
            return False

        def work(tx: Tx) -> bool:
            row = self.store.bank_pay(tx, topup_id, for_update=True)
            if row.status != BankPayStatus.PENDING:
                return True
            if answer.state is BankPayState.CLOSED:
                return self._fail_in(tx, row, "bank_closed")
            if answer.amount_fen != int(row.amount_fen):
                # Never credit what the bank did not take: the daily file check reports it.
                log.error(
                    "bank says %s paid %s, not %s", topup_id, answer.amount_fen, row.amount_fen
                )
                return False
            return self._credit_in(tx, row, by)

        return self.db.run(work)

    # The one write path of each end -----------------------------------------------------------

    def _credit_in(self, tx: Tx, row: Any, by: str) -> bool:
        """Credit the wallet for a top-up still pending (its row locked by the caller)."""
        if row.status != BankPayStatus.PENDING:
            return False  # credited (or ended) by whoever came first
        topup_id = int(row.id)
        wallet_id = self.users.wallet_account_id_in(tx, int(row.user_id))
        spec = platform_account(Purpose.BANK_CLEARING)
        clearing_id = self.ledger.open_accounts_in(tx, [spec])[spec.key]
        reference = f"{BANK_PAY_PREFIX}:{topup_id}"
        self.ledger.transfer_in(
            tx,
            [
                Transfer(
                    reference,
                    clearing_id,
                    wallet_id,
                    int(row.amount_fen),
                    code=LEDGER_CODE_BANK_PAY_TOPUP,
                    reference=reference,
                )
            ],
        )
        moved = self.store.finish_bank_pay(
            tx,
            topup_id,
            status=str(BankPayStatus.SUCCEEDED),
            confirmed_by=by,
            finished_at_us=self.clock.now_us(),
        )
        assert moved, "the row is locked and was pending"
        return True

    def _fail_in(self, tx: Tx, row: Any, failure_code: str) -> bool:
        if row.status != BankPayStatus.PENDING:
            return False
        return self.store.finish_bank_pay(
            tx,
            int(row.id),
            status=str(BankPayStatus.FAILED),
            failure_code=failure_code,
            finished_at_us=self.clock.now_us(),
        )

    def _expire_in(self, tx: Tx, topup_id: int) -> None:
        self.store.finish_bank_pay(
            tx,
            topup_id,
            status=str(BankPayStatus.EXPIRED),
            failure_code="expired",
            finished_at_us=self.clock.now_us(),
        )

    # Reading ----------------------------------------------------------------------------------

    def topup(self, user_id: int, topup_id: int) -> BankPayTopup:
        with self.db.read() as tx:
            row = self.store.bank_pay(tx, topup_id)
        if row is None or int(row.user_id) != user_id:
            raise NotFound("no such top-up", code="bank_pay_topup_not_found")
        return bank_pay_view(row)

    def topups(
        self, user_id: int, limit: int = 20, before_id: int | None = None
    ) -> list[BankPayTopup]:
        """Newest first; `before_id` pages on (the last id of the page before)."""
        if not 1 <= limit <= PAGE_SIZE_MAX:
            raise InvalidInput(f"page size must be 1..{PAGE_SIZE_MAX}", code="page_size_invalid")
        with self.db.read() as tx:
            rows = self.store.bank_pays(tx, user_id, limit, before_id)
            return [bank_pay_view(row) for row in rows]

    # Reconciliation against the bank's daily file ---------------------------------------------

    def file_differences(self, tx: Tx, now_us: int, day: date) -> list[Difference]:
        """Orders of one China day: every credited top-up has a paid order at the bank of its
        amount, and every paid order a credited top-up (one still waiting within its time,
        plus a grace, is in flight, not a difference)."""
        period = day_period(day)
        lines = self.channel.paid_lines(period.start_us, period.end_us)
        bank = {line.order_no: line.amount_fen for line in lines[:LINES_MAX]}
        ours = {
            f"{BANK_PAY_PREFIX}:{row.id}": row
            for row in self.store.succeeded_bank_pays(tx, period.start_us, period.end_us, LINES_MAX)
        }
        found: list[Difference] = []
        for order_no in sorted(bank.keys() | ours.keys()):
            row, paid_fen = ours.get(order_no), bank.get(order_no)
            if row is not None and row.status == BankPayStatus.PENDING:
                grace_us = int(row.expires_at_us) + RECONCILE_GRACE_S * US_PER_S
                if paid_fen is None or now_us < grace_us:
                    continue  # not paid, or paid and its credit is still on its way
            if row is None or row.status == BankPayStatus.PENDING:
                found.append(
                    Difference("bank_pay_not_credited", order_no, f"{paid_fen} credited", "none")
                )
            elif paid_fen is None:
                found.append(
                    Difference(
                        "bank_pay_not_at_bank",
                        order_no,
                        f"{row.amount_fen} paid at the bank",
                        "no paid order",
                    )
                )
            elif paid_fen != int(row.amount_fen):
                found.append(
                    Difference(
                        "bank_pay_amount_differs", order_no, f"{row.amount_fen}", f"{paid_fen}"
                    )
                )
        return found[:DIFFERENCES_MAX]


def _topup_id(order_no: str) -> int:
    prefix, _, number = order_no.partition(":")
    if prefix != BANK_PAY_PREFIX or not number.isdigit() or len(number) > 18:
        raise NotFound("no such top-up", code="bank_pay_topup_not_found")
    return int(number)
