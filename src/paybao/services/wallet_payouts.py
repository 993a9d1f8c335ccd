"""The wallet's payout machinery: money held out of a wallet, then sent to a bank card.

Withdrawals (services/wallet.py) are its first table; other features send money to cards
through it with their own tables (card transfers and credit-card repayments,
services/card_payouts.py), each described by a `PayoutRows` and registered here. A payout is
held (row `held` + pending ledger transfers) in the payer's transaction; at its due time the
sweep (`send_due`) or the request itself claims it (`held` -> `sent`, with the bank query job
scheduled in the same transaction) and asks the bank outside any transaction; the bank's
answer posts or voids the holds through `finish_in`, which acts only on a row still `sent`, so
the immediate answer, the query job and a late answer can all arrive and the money moves once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Protocol

from paybao.domain.accounts import Purpose
from paybao.domain.ledger import Transfer, TransferFlags
from paybao.domain.risk import Assessment
from paybao.services.banking import BankChannel, BankOutcome, BankResult
from paybao.services.clock import US_PER_S
from paybao.services.devices import PaymentProof
from paybao.services.jobs import JobRunner
from paybao.services.ledger import LedgerService
from paybao.services.ports import Clock, Database, Tx
from paybao.services.risk import Attempt
from paybao.services.users import UserService
from paybao.services.wallet_operations import (
    HOLD_MARGIN_S,
    JOB_BANK_QUERY,
    RowStore,
    WalletOperations,
)

SEND_BATCH_MAX = 100


class PayoutStore(RowStore, Protocol):
    def due_payouts(self, tx: Tx, table: str, now_us: int, limit: int) -> list[int]:
        """Ids of the table's payouts still `held` whose due time has come, oldest due first."""
        ...


class PayoutRows(Protocol):
    """A table of payouts: money held out of a wallet, then sent to a bank card.

    Its rows have `id`, `user_id`, `amount_fen`, `fee_fen`, `status` (held -> sent ->
    succeeded | failed; held -> cancelled), `due_at_us`, `created_at_us`, `finished_at_us` and
    `failure_code`. The amount is held towards bank clearing as the pending transfer
    `<prefix>:<id>` and the fee towards the fees account as `<prefix>_fee:<id>`; at the due time
    the bank is asked to credit the card under request id `<prefix>:<id>` (also the key of the
    query job that settles a lost answer), and its answer posts both holds or voids them.
    Withdrawals are the first such table; features add theirs with `WalletPayouts.register`.
    """

    @property
    def table(self) -> str:
        """The store's name of the table."""
        ...

    @property
    def prefix(self) -> str: ...

    def codes(self, row: Any) -> tuple[int, int]:
        """Ledger codes of the row's amount and fee (statements name entries by them). `row`
        is a stored row, or the values it is being inserted with, read the same way."""
        ...

    def destination_in(self, tx: Tx, row: Any) -> tuple[str, str | None]:
        """The card number to credit, and the holder name the bank must find on the card
        (None: the bank checks no name)."""
        ...

    def failed_in(self, tx: Tx, row: Any) -> None:
        """The payout failed or was cancelled, its holds voided in this transaction: give back
        what else it used (a free fee quota)."""
        ...

    def answer_in(self, tx: Tx, row_id: int) -> Any:
        """In the transaction that applied the bank's answer: what the request that sent the
        payout answers (stored with the change under a REST request)."""
        ...


@dataclass
class WalletPayouts:
    db: Database
    store: PayoutStore
    users: UserService
    ledger: LedgerService
    jobs: JobRunner
    bank: BankChannel
    clock: Clock
    operations: WalletOperations
    # Payout tables by prefix (withdrawals, and those features register).
    rows: dict[str, PayoutRows] = field(default_factory=dict)

    def register(self, rows: PayoutRows) -> None:
        assert rows.prefix not in self.rows and rows.prefix != "topup", rows.prefix
        self.rows[rows.prefix] = rows

    def start(
        self,
        attempt: Attempt,
        proof: PaymentProof,
        hold: Callable[[Tx, Assessment], int],
        *,
        kind: str,
        lock_user: bool = False,
    ) -> int:
        """The common start of a payout: the proof checked (a password before any
        transaction, a device first in it), then in one transaction risk control's assessment
        and `hold` (which writes the row and its holds with `hold_in`; it may act on a
        DELAY), the caller's idempotency claim marked `<kind>:<id>`. A risk refusal is
        recorded and raised; an overdraft is `insufficient_funds`. Returns the row id.
        `lock_user`: `hold` locks the user's row, so the device check reads it locked."""
        self.operations.confirm_start(attempt.user_id, proof, attempt.amount_fen)

        def work(tx: Tx) -> int:
            self.operations.confirm_in(tx, attempt.user_id, proof, lock_user=lock_user)
            return hold(tx, self.operations.assess_in(tx, attempt))

        return self.operations.guarded(lambda: self.operations.run_money(work, kind))

    def hold_in(self, tx: Tx, rows: PayoutRows, delay_s: int, values: dict[str, Any]) -> int:
        """Insert a payout row `held`, due in `delay_s` (`values`: its own columns, with
        `user_id`, `amount_fen` and `fee_fen`), and hold its amount and fee out of the user's
        wallet. An overdraft raises `LedgerRejected` and rolls it all back."""
        now_us = self.clock.now_us()
        row = {
            **values,
            "status": "held",
            "due_at_us": now_us + delay_s * US_PER_S,
            "created_at_us": now_us,
        }
        wallet_id = self.users.wallet_account_id_in(tx, row["user_id"])
        row_id = self.store.insert(tx, rows.table, row)
        code, fee_code = rows.codes(SimpleNamespace(**row))
        reference = f"{rows.prefix}:{row_id}"
        timeout_s = delay_s + HOLD_MARGIN_S
        holds = [
            Transfer(
                reference,
                wallet_id,
                self.operations.platform_account_id_in(tx, Purpose.BANK_CLEARING),
                row["amount_fen"],
                code=code,
                flags=TransferFlags.PENDING,
                timeout_s=timeout_s,
                reference=reference,
            )
        ]
        if row["fee_fen"]:
            holds.append(
                Transfer(
                    f"{rows.prefix}_fee:{row_id}",
                    wallet_id,
                    self.operations.platform_account_id_in(tx, Purpose.FEES),
                    row["fee_fen"],
                    code=fee_code,
                    flags=TransferFlags.PENDING,
                    timeout_s=timeout_s,
                    reference=reference,
                )
            )
        # The ids derive from the row just inserted: fresh, not looked up (see transfer_in).
        self.ledger.transfer_in(tx, holds, fresh=True)
        return row_id

    def send_due(self) -> int:
        """Sweep: send every payout whose time has come. Runs outside any transaction."""
        sent = 0
        for rows in list(self.rows.values()):
            with self.db.read() as tx:
                due = self.store.due_payouts(tx, rows.table, self.clock.now_us(), SEND_BATCH_MAX)
            for row_id in due:
                self.send(rows, row_id)
            sent += len(due)
        return sent

    def send(
        self, rows: PayoutRows, row_id: int, *, destination: tuple[str, str | None] | None = None
    ) -> Any:
        """Ask the bank to credit the card: what the request answers once the bank answered
        (`rows.answer_in`), or None (another worker sent it, it was cancelled, or the answer
        was lost and the query job will settle it). `destination`: what
        `rows.destination_in` answers, when the caller already read it (the request that
        held the payout); None asks it."""
        request_id = f"{rows.prefix}:{row_id}"

        def claim(tx: Tx) -> Any:
            if not self.store.finish(tx, rows.table, row_id, "held", status="sent"):
                return None  # another worker sent it, or it was cancelled
            self.operations.schedule_query_in(tx, request_id)
            row = self.store.get(tx, rows.table, row_id)
            return row, destination or rows.destination_in(tx, row)

        claimed = self.db.run(claim)
        if claimed is None:
            return None
        row, (card_number, holder_name) = claimed
        result = self.bank.credit(request_id, card_number, row.amount_fen, holder_name=holder_name)

        def work(tx: Tx) -> Any:
            self.finish_in(tx, rows, row_id, result)
            return rows.answer_in(tx, row_id)

        return self.operations.apply_bank_result(result, work)

    def cancel_in(self, tx: Tx, rows: PayoutRows, row_id: int) -> bool:
        """Cancel a payout not sent yet: holds voided, what it used given back. False if it
        was already sent or ended."""
        row = self.store.get(tx, rows.table, row_id, for_update=True)
        if row is None or row.status != "held":
            return False
        self._resolve_in(tx, rows, row, post=False)
        assert self.store.finish(
            tx, rows.table, row_id, "held", status="cancelled", finished_at_us=self.clock.now_us()
        )
        return True

    def finish_in(
        self, tx: Tx, rows: PayoutRows, row_id: int, result: BankResult, *, from_job: bool = False
    ) -> None:
        """Apply the bank's answer to a sent payout: post or void its holds. Acts only on a
        row still `sent` (an answer that arrives twice moves the money once); UNKNOWN waits.
        The row moves out of `sent` first, compare-and-set: its UPDATE takes the row lock
        (a second answer waits for it, then finds the row moved), and the store remembers
        the row it wrote, which the holds are resolved from; the ledger's refusal rolls the
        move back with it."""
        if result.outcome is BankOutcome.UNKNOWN:
            return
        succeeded = result.outcome is BankOutcome.SUCCEEDED
        values: dict[str, Any] = {
            "status": "succeeded" if succeeded else "failed",
            "finished_at_us": self.clock.now_us(),
        }
        if not succeeded:
            values["failure_code"] = result.failure_code or "bank_not_received"
        if not self.store.finish(tx, rows.table, row_id, "sent", **values):
            return
        self._resolve_in(tx, rows, self.store.get(tx, rows.table, row_id), post=succeeded)
        if not from_job:  # the runner finishes the job it is running itself
            self.jobs.store.cancel(tx, JOB_BANK_QUERY, f"{rows.prefix}:{row_id}")

    def _resolve_in(self, tx: Tx, rows: PayoutRows, row: Any, *, post: bool) -> None:
        """Post both holds (the card was paid) or void them (the money stays in the wallet,
        and the payout gives back what else it used)."""
        code, fee_code = rows.codes(row)
        flag = TransferFlags.POST_PENDING if post else TransferFlags.VOID_PENDING
        verb = "post" if post else "void"
        held = [(rows.prefix, code, row.amount_fen), (f"{rows.prefix}_fee", fee_code, row.fee_fen)]
        self.ledger.transfer_in(
            tx,
            [
                Transfer(
                    f"{verb}:{name}:{row.id}",
                    0,
                    0,
                    None,
                    code=hold_code,
                    flags=flag,
                    pending_id=f"{name}:{row.id}",
                    reference=f"{rows.prefix}:{row.id}",
                )
                for name, hold_code, amount_fen in held
                if amount_fen
            ],
        )
        if not post:
            rows.failed_in(tx, row)
