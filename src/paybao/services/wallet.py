"""The wallet: top-up and withdrawal, and `WalletService`, the one object callers hold.

`WalletService` owns the wallet's parts and hands them the same collaborators: the frame of
every money operation (`operations`), the payout machinery (`payouts`), transfers between users
(`transfers`) and the statement (`statements`). Callers reach a part directly; the methods the
pages, the REST API and other features call most (`transfer`, `statement`, ...) delegate.

Each movement is a business row plus ledger transfers whose ids derive from the row id, in one
transaction. Bank calls happen outside transactions; their outcome is applied by
`_finish_topup_in` or `WalletPayouts.finish_in`, each idempotent (it acts only on a row still in
flight), so the immediate answer, the query job and a late answer can all arrive and the money
moves once.

- Top-up: row `processing` + a `wallet.bank_query` job -> bank debit -> credit the wallet
  (`topup:<id>`) or mark failed. UNKNOWN leaves it to the job.
- Withdrawal: amount and fee held (pending `withdraw:<id>`, `withdraw_fee:<id>`) -> at its due
  time the payouts sweep asks the bank to credit the card -> post or void. Withdrawals are the
  first table of the payout machinery (services/wallet_payouts.py), which other features send
  money to cards through with their own tables (services/card_payouts.py).
- Transfer (services/transfers.py): instant = one posted transfer `p2p:<id>`; delayed = a
  pending one, posted by the `wallet.transfer_land` job at due time, or voided by the sender's
  cancel before it.

The frame every operation goes through (confirmation, risk, idempotency marks and answers, bank
query jobs) and `Movement` are services/wallet_operations.py; the statement (codes, entry and
hold kinds, reads) is services/wallet_statement.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from paybao.domain.accounts import Purpose
from paybao.domain.errors import Forbidden, NotFound
from paybao.domain.ledger import Transfer
from paybao.domain.money import check_amount_fen
from paybao.domain.risk import Action
from paybao.domain.withdrawal import (
    WITHDRAWAL_DELAY_S,
    WITHDRAWAL_FEE_POLICY_DEFAULT,
    TransferArrival,
    WithdrawalArrival,
    WithdrawalFee,
    WithdrawalFeePolicy,
    withdrawal_fee,
)
from paybao.services.banking import BankChannel, BankOutcome, BankResult
from paybao.services.devices import PaymentProof
from paybao.services.jobs import Job, JobRunner
from paybao.services.ledger import LedgerService
from paybao.services.ports import Clock, Database, Tx
from paybao.services.registration import CardRecord, CardStore
from paybao.services.risk import Attempt
from paybao.services.transfers import WalletTransfers
from paybao.services.users import UserService
from paybao.services.wallet_operations import (
    JOB_BANK_QUERY,
    Movement,
    WalletOperations,
    by_device,
)
from paybao.services.wallet_payouts import PayoutStore, WalletPayouts
from paybao.services.wallet_statement import (
    CODE_TOPUP,
    CODE_WITHDRAWAL,
    CODE_WITHDRAWAL_FEE,
    Entry,
    Hold,
    StatementQuery,
    StatementStore,
    WalletStatement,
)


class WalletStore(PayoutStore, StatementStore, Protocol):
    """Money rows, payouts and statements: one store serves them all."""


@dataclass
class WalletService:
    db: Database
    store: WalletStore
    cards: CardStore
    users: UserService
    ledger: LedgerService
    jobs: JobRunner
    bank: BankChannel
    clock: Clock
    fee_policy: WithdrawalFeePolicy = WITHDRAWAL_FEE_POLICY_DEFAULT
    bank_query_delay_s: int = 30
    statement_page_size_max: int = 100

    def __post_init__(self) -> None:
        self.operations = WalletOperations(
            self.db,
            self.store,
            self.users,
            self.ledger,
            self.jobs,
            self.clock,
            self.bank_query_delay_s,
        )
        self.statements = WalletStatement(
            self.db, self.store, self.users, self.statement_page_size_max
        )
        self.payouts = WalletPayouts(
            self.db,
            self.store,
            self.users,
            self.ledger,
            self.jobs,
            self.bank,
            self.clock,
            self.operations,
        )
        self.transfers = WalletTransfers(
            self.db, self.store, self.users, self.ledger, self.jobs, self.clock, self.operations
        )
        self._withdrawals = _Withdrawals(self)
        self.payouts.register(self._withdrawals)

    def install_jobs(self) -> None:
        # Outside a transaction: a real bank may take its whole timeout to answer, and no lock
        # (on SQLite: no write at all) may wait on it.
        self.jobs.register_outside_tx(JOB_BANK_QUERY, self._on_bank_query)
        self.transfers.install_jobs()

    def balance(self, user_id: int) -> tuple[int, int]:
        """(balance_fen, available_fen) of the user's wallet."""
        with self.db.read() as tx:
            account_id = self.users.wallet_account_id_in(tx, user_id)
        balance = self.ledger.balance(account_id)
        return balance.balance_fen, balance.available_fen

    # Top-up ----------------------------------------------------------------------------

    def top_up(
        self, user_id: int, card_id: int, amount_fen: int, payment_password: PaymentProof
    ) -> Movement:
        check_amount_fen(amount_fen)
        self.operations.confirm_start(user_id, payment_password, amount_fen)

        def start(tx: Tx) -> tuple[int, CardRecord, int]:
            self.operations.confirm_in(tx, user_id, payment_password)
            wallet_id = self.users.wallet_account_id_in(tx, user_id)
            card = self._own_card_in(tx, user_id, card_id)
            topup_id = self.store.insert(
                tx,
                "topups",
                {
                    "user_id": user_id,
                    "card_id": card_id,
                    "amount_fen": amount_fen,
                    "status": "processing",
                    "created_at_us": self.clock.now_us(),
                },
            )
            self.operations.schedule_query_in(tx, f"topup:{topup_id}")
            self.operations.mark_in(tx, "topup", topup_id)
            return topup_id, card, wallet_id

        topup_id, card, wallet_id = self.db.run(start)
        result = self.bank.debit(f"topup:{topup_id}", card.card_number, amount_fen)
        answered = self.operations.apply_bank_result(
            result, lambda tx: self._topup_answered_in(tx, topup_id, result, wallet_id)
        )
        return answered or self.movement("topup", topup_id)

    def _topup_answered_in(
        self, tx: Tx, topup_id: int, result: BankResult, wallet_id: int
    ) -> Movement | None:
        self._finish_topup_in(tx, topup_id, result, wallet_id=wallet_id)
        return self.operations.answer_in(tx, "topup", topup_id)

    def _finish_topup_in(
        self,
        tx: Tx,
        topup_id: int,
        result: BankResult,
        *,
        from_job: bool = False,
        wallet_id: int | None = None,
    ) -> None:
        """`wallet_id`: the user's wallet account when the caller read it (it never changes
        once registration set it); None reads it.

        The row moves out of `processing` first, compare-and-set (its UPDATE takes the row
        lock a locking read took before, and a second answer finds it moved and does
        nothing); the store remembers the row it wrote, so reading it back costs nothing. Only
        that move credits `topup:<id>`, so the id is fresh: the ledger need not look it up
        (its unique key still refuses a duplicate). A refusal rolls the move back with it."""
        if result.outcome is BankOutcome.UNKNOWN:
            return
        values: dict[str, Any] = {"finished_at_us": self.clock.now_us()}
        succeeded = result.outcome is BankOutcome.SUCCEEDED
        if succeeded:
            values["status"] = "succeeded"
        else:
            values["status"] = "failed"
            values["failure_code"] = result.failure_code or "bank_not_received"
        if not self.store.finish(tx, "topups", topup_id, "processing", **values):
            return  # answered already (the request, the query job or a late answer)
        if succeeded:
            row = self.store.get(tx, "topups", topup_id)
            if wallet_id is None:
                wallet_id = self.users.wallet_account_id_in(tx, row.user_id)
            self.ledger.transfer_in(
                tx,
                [
                    Transfer(
                        f"topup:{topup_id}",
                        self.operations.platform_account_id_in(tx, Purpose.BANK_CLEARING),
                        wallet_id,
                        row.amount_fen,
                        code=CODE_TOPUP,
                        reference=f"topup:{topup_id}",
                    )
                ],
                fresh=True,
            )
        if not from_job:  # the runner finishes the job it is running itself
            self.jobs.store.cancel(tx, JOB_BANK_QUERY, f"topup:{topup_id}")

    # Withdrawal ------------------------------------------------------------------------

    def withdrawal_fee(self, user_id: int, amount_fen: int) -> WithdrawalFee:
        """The fee shown before confirming."""
        user = self.users.record(user_id)
        return withdrawal_fee(amount_fen, user.withdraw_quota_used_fen, self.fee_policy)

    def withdraw(
        self,
        user_id: int,
        card_id: int,
        amount_fen: int,
        payment_password: PaymentProof,
        arrival: WithdrawalArrival = WithdrawalArrival.INSTANT,
    ) -> Movement:
        check_amount_fen(amount_fen)
        attempt = Attempt(user_id, Action.WITHDRAWAL, amount_fen, by_device(payment_password))
        cards: list[CardRecord] = []  # the card the hold checked (the last attempt's)
        # A withdrawal passes or is refused, never delayed.
        withdrawal_id = self.payouts.start(
            attempt,
            payment_password,
            lambda tx, _: self._hold_withdrawal_in(
                tx, user_id, card_id, amount_fen, arrival, cards
            ),
            kind="withdrawal",
            lock_user=True,  # the hold locks the user's row (the free quota)
        )
        answered = None
        if arrival is WithdrawalArrival.INSTANT:
            # Sent to the card the hold checked: a card row's number never changes, so the
            # send need not read it again.
            answered = self.payouts.send(
                self._withdrawals, withdrawal_id, destination=(cards[-1].card_number, None)
            )
        return answered or self.movement("withdrawal", withdrawal_id)

    def _hold_withdrawal_in(
        self,
        tx: Tx,
        user_id: int,
        card_id: int,
        amount_fen: int,
        arrival: WithdrawalArrival,
        cards: list[CardRecord],
    ) -> int:
        user = self.users.record_in(tx, user_id, for_update=True)
        if user.status == "frozen":
            raise Forbidden("this account is frozen", code="account_frozen")
        cards.append(self._own_card_in(tx, user_id, card_id))
        fee = withdrawal_fee(amount_fen, user.withdraw_quota_used_fen, self.fee_policy)
        withdrawal_id = self.payouts.hold_in(
            tx,
            self._withdrawals,
            WITHDRAWAL_DELAY_S[arrival],
            {
                "user_id": user_id,
                "card_id": card_id,
                "amount_fen": amount_fen,
                "fee_fen": fee.fee_fen,
                "quota_used_fen": fee.quota_used_fen,
                "arrival": str(arrival),
            },
        )
        if fee.quota_used_after_fen != user.withdraw_quota_used_fen:  # else a write of nothing
            self.users.store.update(tx, user_id, withdraw_quota_used_fen=fee.quota_used_after_fen)
        return withdrawal_id

    def give_back_withdraw_quota_in(self, tx: Tx, user_id: int, quota_used_fen: int) -> None:
        """A failed withdrawal (or card transfer, which shares the quota) frees what it used
        of the user's lifetime free quota (if it used none, nothing is read or written)."""
        if not quota_used_fen:
            return
        user = self.users.record_in(tx, user_id, for_update=True)
        left_fen = max(user.withdraw_quota_used_fen - quota_used_fen, 0)
        self.users.store.update(tx, user_id, withdraw_quota_used_fen=left_fen)

    # Bank results ----------------------------------------------------------------------

    def _on_bank_query(self, job: Job) -> None:
        """Ask the bank how an unanswered request ended (no transaction open while it answers),
        then apply the answer in a transaction of its own; raise (retry later) while unknown.
        Applying is idempotent (only a row still waiting changes), so a crash between the
        two leaves a job that asks again and changes nothing twice."""
        kind, _, row_id = job.key.partition(":")
        result = self.bank.query(job.key)
        if result.outcome is BankOutcome.UNKNOWN:
            raise TimeoutError(f"bank still cannot say how {job.key} ended")
        if result.outcome is BankOutcome.NOT_FOUND:
            # The bank never received it; it never will (ids are not resent), so it failed.
            result = BankResult(BankOutcome.FAILED, "bank_not_received")
        answer = result

        def apply(tx: Tx) -> None:
            if kind == "topup":
                self._finish_topup_in(tx, int(row_id), answer, from_job=True)
            else:
                rows = self.payouts.rows[kind]
                self.payouts.finish_in(tx, rows, int(row_id), answer, from_job=True)

        self.db.run(apply)

    # Delegated to the parts (the pages, the REST API and payment codes call them here) ----

    def movement(self, kind: str, row_id: int) -> Movement:
        return self.operations.movement(kind, row_id)

    def preview_payee(self, payer_id: int, phone: str) -> tuple[int, str]:
        return self.transfers.preview_payee(payer_id, phone)

    def transfer(
        self,
        payer_id: int,
        payee_phone: str,
        amount_fen: int,
        payment_password: PaymentProof,
        *,
        arrival: TransferArrival = TransferArrival.INSTANT,
        memo: str = "",
    ) -> Movement:
        return self.transfers.transfer(
            payer_id, payee_phone, amount_fen, payment_password, arrival=arrival, memo=memo
        )

    def cancel_transfer(self, payer_id: int, transfer_id: int) -> Movement:
        return self.transfers.cancel_transfer(payer_id, transfer_id)

    def statement(self, user_id: int, query: StatementQuery) -> list[Entry]:
        return self.statements.statement(user_id, query)

    def holds(self, user_id: int, limit: int = 20, before_seq: int | None = None) -> list[Hold]:
        return self.statements.holds(user_id, limit, before_seq)

    # Helpers ---------------------------------------------------------------------------

    def _own_card_in(self, tx: Tx, user_id: int, card_id: int) -> CardRecord:
        card = self.cards.get(tx, card_id)
        if card is None or card.user_id != user_id or card.status != "bound":
            raise NotFound("no such bound card", code="card_not_found")
        return card


@dataclass(frozen=True, slots=True)
class _Withdrawals:
    """Withdrawals as payout rows: to the user's own bound card, the lifetime free quota."""

    wallet: WalletService
    table: str = "withdrawals"
    prefix: str = "withdraw"

    def codes(self, row: Any) -> tuple[int, int]:
        return CODE_WITHDRAWAL, CODE_WITHDRAWAL_FEE

    def destination_in(self, tx: Tx, row: Any) -> tuple[str, str | None]:
        card = self.wallet.cards.get(tx, row.card_id)
        assert card is not None, "a withdrawal's card row is never deleted"
        return card.card_number, None

    def failed_in(self, tx: Tx, row: Any) -> None:
        self.wallet.give_back_withdraw_quota_in(tx, row.user_id, row.quota_used_fen)

    def answer_in(self, tx: Tx, row_id: int) -> Movement | None:
        return self.wallet.operations.answer_in(tx, "withdrawal", row_id)
