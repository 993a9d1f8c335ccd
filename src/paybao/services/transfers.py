"""Transfers between users (转账): from one wallet to another, by the payee's phone number.

An instant transfer is one posted ledger transfer `p2p:<id>` with its `wallet_transfers` row,
in one transaction. A delayed one (the payer asked for 2 or 24 hours, or risk control held it
for 2 hours) is a pending transfer the `wallet.transfer_land` job posts at its due time; the
payer's cancel before it (within the rules of domain/withdrawal.py) or an operator's review
(`resolve_held_in`, called by risk control) voids or posts it first. Every path ends a row
still `pending`, so a delayed transfer lands or returns exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from paybao.domain.errors import InvalidInput, InvalidState, NotFound
from paybao.domain.identity import normalize_phone
from paybao.domain.ledger import Transfer, TransferFlags
from paybao.domain.money import check_amount_fen
from paybao.domain.risk import Action, Decision
from paybao.domain.withdrawal import (
    TRANSFER_DELAY_S,
    TransferArrival,
    check_transfer_cancellable,
)
from paybao.services.clock import US_PER_S, datetime_from_us
from paybao.services.devices import PaymentProof
from paybao.services.jobs import Job, JobRunner
from paybao.services.ledger import LedgerService
from paybao.services.ports import Clock, Database, Tx
from paybao.services.risk import Attempt
from paybao.services.users import UserService, UserView
from paybao.services.wallet_operations import (
    HOLD_MARGIN_S,
    Movement,
    RowStore,
    WalletOperations,
    by_device,
)
from paybao.services.wallet_statement import CODE_TRANSFER

JOB_TRANSFER_LAND = "wallet.transfer_land"
MEMO_LENGTH_MAX = 64


@dataclass
class WalletTransfers:
    db: Database
    store: RowStore
    users: UserService
    ledger: LedgerService
    jobs: JobRunner
    clock: Clock
    operations: WalletOperations

    def install_jobs(self) -> None:
        self.jobs.register(JOB_TRANSFER_LAND, self._on_transfer_land)

    def preview_payee(self, payer_id: int, phone: str) -> tuple[int, str]:
        """(payee user id, masked real name) to show before paying."""
        payee = self._payee(payer_id, phone)
        return payee.id, payee.real_name_masked

    def _payee(self, payer_id: int, phone: str) -> UserView:
        payee = self.users.find_by_phone(normalize_phone(phone))
        if payee is None or payee.wallet_account_id is None:
            raise NotFound("no paybao account with this phone number", code="payee_not_found")
        if payee.id == payer_id:
            raise InvalidInput("you cannot transfer to yourself", code="payee_is_payer")
        return payee

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
        check_amount_fen(amount_fen)
        if len(memo) > MEMO_LENGTH_MAX:
            raise InvalidInput(
                f"memo is at most {MEMO_LENGTH_MAX} characters", code="memo_too_long"
            )
        if not memo.isprintable():  # control characters; a NUL byte would break PostgreSQL
            raise InvalidInput("memo must be printable text", code="invalid_memo")
        payee = self._payee(payer_id, payee_phone)
        payee_id = payee.id
        # Credited by the account id the look-up found: a user's wallet account is set once,
        # when registration completes, and never changes, so reading the payee's row again
        # in the money transaction would only repeat it (a frozen payee still receives).
        payee_wallet = payee.wallet_account_id
        assert payee_wallet is not None
        self.operations.confirm_start(payer_id, payment_password, amount_fen)
        attempt = Attempt(
            payer_id,
            Action.TRANSFER,
            amount_fen,
            by_device(payment_password),
            payee_id,
            delayed_already=arrival is not TransferArrival.INSTANT,
        )

        def work(tx: Tx) -> Movement:
            self.operations.confirm_in(tx, payer_id, payment_password)
            assessment = self.operations.assess_in(tx, attempt)
            held = assessment.decision is Decision.DELAY  # lands in 2 hours, cancellable
            landing = TransferArrival.DELAY_2H if held else arrival
            transfer_id, row = self._write_transfer_in(
                tx, payer_id, payee_id, amount_fen, landing, memo, payee_wallet=payee_wallet
            )
            if held:
                risk = self.operations.risk
                assert risk is not None
                risk.record_in(tx, attempt, assessment, f"p2p:{transfer_id}")
            # Answered from the row as written, not read back; risk control holds it iff it
            # was held just now, so it need not be asked either.
            answered = self.operations.answer_in(
                tx, "transfer", transfer_id, row=row, risk_hold=held
            )
            if answered is None:  # not under a REST request: mark as any movement does
                self.operations.mark_in(tx, "transfer", transfer_id)
                return self.operations.movement_in(
                    tx, "transfer", transfer_id, row=row, risk_hold=held
                )
            return answered

        return self.operations.guarded(lambda: self.operations.run_ledger(work))

    def _transfer_in(
        self,
        tx: Tx,
        payer_id: int,
        payee_id: int,
        amount_fen: int,
        arrival: TransferArrival,
        memo: str,
        *,
        payee_wallet: int | None = None,
    ) -> int:
        return self._write_transfer_in(
            tx, payer_id, payee_id, amount_fen, arrival, memo, payee_wallet=payee_wallet
        )[0]

    def _write_transfer_in(
        self,
        tx: Tx,
        payer_id: int,
        payee_id: int,
        amount_fen: int,
        arrival: TransferArrival,
        memo: str,
        *,
        payee_wallet: int | None = None,
    ) -> tuple[int, SimpleNamespace]:
        """The transfer's id and its row as written (every column). `payee_wallet`: the
        payee's wallet account when the caller found it; None reads it."""
        self.users.check_can_pay_in(tx, payer_id, amount_fen, funding="balance")
        payer_wallet = self.users.wallet_account_id_in(tx, payer_id)
        if payee_wallet is None:
            payee_wallet = self.users.wallet_account_id_in(tx, payee_id)
        now_us = self.clock.now_us()
        delay_s = TRANSFER_DELAY_S[arrival]
        values: dict[str, Any] = {
            "payer_user_id": payer_id,
            "payee_user_id": payee_id,
            "amount_fen": amount_fen,
            "arrival": str(arrival),
            "status": "succeeded" if delay_s == 0 else "pending",
            "memo": memo,
            "due_at_us": now_us + delay_s * US_PER_S,
            "created_at_us": now_us,
            "finished_at_us": now_us if delay_s == 0 else None,
        }
        transfer_id = self.store.insert(tx, "wallet_transfers", values)
        flags = TransferFlags.PENDING if delay_s else TransferFlags.NONE
        self.ledger.transfer_in(
            tx,
            [
                Transfer(
                    f"p2p:{transfer_id}",
                    payer_wallet,
                    payee_wallet,
                    amount_fen,
                    code=CODE_TRANSFER,
                    flags=flags,
                    timeout_s=delay_s + HOLD_MARGIN_S if delay_s else 0,
                    reference=f"p2p:{transfer_id}",
                )
            ],
        )
        if delay_s:
            self.jobs.schedule_in(
                tx, JOB_TRANSFER_LAND, str(transfer_id), now_us + delay_s * US_PER_S
            )
        return transfer_id, SimpleNamespace(id=transfer_id, **values)

    def cancel_transfer(self, payer_id: int, transfer_id: int) -> Movement:
        def work(tx: Tx) -> None:
            row = self.store.get(tx, "wallet_transfers", transfer_id, for_update=True)
            if row is None or row.payer_user_id != payer_id:
                raise NotFound("no such transfer", code="transfer_not_found")
            if row.status != "pending":
                raise InvalidState(
                    "this transfer has already landed or been cancelled",
                    code="transfer_not_cancellable",
                )
            check_transfer_cancellable(
                TransferArrival(row.arrival), datetime_from_us(row.created_at_us), self.clock.now()
            )
            self._resolve_transfer_in(tx, transfer_id, land=False)
            self.jobs.store.cancel(tx, JOB_TRANSFER_LAND, str(transfer_id))

        self.db.run(work)
        return self.operations.movement("transfer", transfer_id)

    def resolve_held_in(self, tx: Tx, transfer_id: int, *, land: bool) -> bool:
        """Risk review: land a held (pending) transfer now, or return it to the payer. False if
        it is no longer pending (it landed at its time, or the payer cancelled it)."""
        row = self.store.get(tx, "wallet_transfers", transfer_id, for_update=True)
        if row is None or row.status != "pending":
            return False
        self._resolve_transfer_in(tx, transfer_id, land=land)
        self.jobs.store.cancel(tx, JOB_TRANSFER_LAND, str(transfer_id))
        return True

    def _on_transfer_land(self, tx: Tx, job: Job) -> None:
        row = self.store.get(tx, "wallet_transfers", int(job.key), for_update=True)
        if row is not None and row.status == "pending":
            self._resolve_transfer_in(tx, row.id, land=True)

    def _resolve_transfer_in(self, tx: Tx, transfer_id: int, *, land: bool) -> None:
        verb = "post" if land else "void"
        self.ledger.transfer_in(
            tx,
            [
                Transfer(
                    f"{verb}:p2p:{transfer_id}",
                    0,
                    0,
                    None,
                    code=CODE_TRANSFER,
                    flags=TransferFlags.POST_PENDING if land else TransferFlags.VOID_PENDING,
                    pending_id=f"p2p:{transfer_id}",
                    reference=f"p2p:{transfer_id}",
                )
            ],
        )
        self.store.finish(
            tx,
            "wallet_transfers",
            transfer_id,
            "pending",
            status="succeeded" if land else "cancelled",
            finished_at_us=self.clock.now_us(),
        )
