"""The frame every wallet money operation goes through, and what it answers (`Movement`).

A top-up, a withdrawal (or any payout to a card) and a transfer share the steps around their
money: the payer's confirmation, the payment password before any transaction
(`confirm_start`), a registered device's signature first thing in the money transaction
(`confirm_in`, where the payer's row it reads is the one the operation reads anyway); risk
control's assessment inside it, a refusal recorded on its own after the
rollback; the ledger's overdraft refusal answered as `insufficient_funds`; the caller's
idempotency claim marked in the money transaction, with the REST answer stored alongside when
a request is being answered; and, around a bank call, the query job that settles a lost
answer. The collaborators the wiring sets after construction (devices, risk, idempotency,
answer_of) live here only, so every operation sees the same ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from paybao.domain.accounts import Purpose, platform_account
from paybao.domain.errors import Forbidden, InsufficientFunds, NotFound
from paybao.domain.risk import PASSED, Assessment
from paybao.services.banking import BankOutcome, BankResult
from paybao.services.clock import US_PER_S
from paybao.services.devices import DeviceService, PaymentProof
from paybao.services.idempotency import IdempotencyService
from paybao.services.jobs import JobRunner
from paybao.services.ledger import LedgerRejected, LedgerService
from paybao.services.ports import Clock, Database, Tx
from paybao.services.risk import Attempt, RiskRefused, RiskService
from paybao.services.users import UserService

T = TypeVar("T")

# A hold outlives its business timer by a week: it only expires if every retry failed, and
# expiry returns the money to the payer, the safe side.
HOLD_MARGIN_S = 7 * 86_400
JOB_BANK_QUERY = "wallet.bank_query"
# The wallet's own movements by kind (also the prefix of their idempotency marks).
MOVEMENT_TABLES = {"topup": "topups", "withdrawal": "withdrawals", "transfer": "wallet_transfers"}


class RowStore(Protocol):
    """Money rows (a top-up, a payout, a transfer) by table name."""

    def insert(self, tx: Tx, table: str, values: dict[str, Any]) -> int: ...

    def get(self, tx: Tx, table: str, row_id: int, *, for_update: bool = False) -> Any: ...

    def finish(self, tx: Tx, table: str, row_id: int, from_status: str, **values: Any) -> bool:
        """Move a row out of `from_status` (compare-and-set); False if it was not in it."""
        ...


@dataclass(frozen=True, slots=True)
class Movement:
    """What the API and pages show of a top-up, withdrawal or transfer."""

    kind: str
    id: int
    status: str
    amount_fen: int
    fee_fen: int = 0
    due_at_us: int | None = None
    failure_code: str | None = None
    # A pending transfer that risk control held for 2 hours (the payer asked for it instant).
    risk_hold: bool = False


@dataclass
class WalletOperations:
    db: Database
    store: RowStore
    users: UserService
    ledger: LedgerService
    jobs: JobRunner
    clock: Clock
    bank_query_delay_s: int = 30
    # Marks the caller's idempotency claim inside each money transaction (crash safety).
    idempotency: IdempotencyService | None = None
    # Device confirmations (fingerprint pay); without it only the payment password confirms.
    devices: DeviceService | None = None
    # The REST answer of a movement, byte for byte (set by the wiring): the request's last
    # transaction stores it with the change, which saves a write transaction per request.
    answer_of: Callable[[Movement], tuple[int, str]] | None = None
    # Real-time risk control of transfers and withdrawals; None: every operation passes.
    risk: RiskService | None = None

    # Before and around the money transaction ----------------------------------------------

    def confirm(self, user_id: int, confirmation: PaymentProof, amount_fen: int) -> None:
        """The payment password, or a registered device's signature; before any transaction."""
        if self.devices is not None:
            self.devices.confirm_payment(user_id, confirmation, amount_fen)
        elif isinstance(confirmation, str):
            self.users.verify_payment_password(user_id, confirmation)
        else:
            raise Forbidden("device confirmations are not enabled", code="device_not_registered")

    def confirm_start(self, user_id: int, confirmation: PaymentProof, amount_fen: int) -> None:
        """`confirm` in two halves, the second of which (`confirm_in`) MUST start the money
        transaction: before any transaction the payment password (argon2 takes tens of
        milliseconds, no transaction may wait on it), or what of a device's confirmation needs
        no read (the amount, the signature's age)."""
        if isinstance(confirmation, str):
            self.users.verify_payment_password(user_id, confirmation)
        elif self.devices is not None:
            self.devices.check_request(confirmation, amount_fen)
        else:
            raise Forbidden("device confirmations are not enabled", code="device_not_registered")

    def confirm_in(
        self, tx: Tx, user_id: int, confirmation: PaymentProof, *, lock_user: bool = False
    ) -> None:
        """First in the money transaction, after `confirm_start`: the rest of a device's
        confirmation (the device row, the user's payment lock, the signature: ~0.1 ms of
        CPU). In the operation's transaction the user's row it reads is the one the
        operation's checks read anyway (`confirm`'s read of its own cost a statement and a
        transaction); `lock_user` reads it locked, for an operation that locks it next. A
        password was checked by `confirm_start`."""
        if self.devices is not None and not isinstance(confirmation, str):
            self.devices.confirm_in(tx, user_id, confirmation, lock_user=lock_user)

    def assess_in(self, tx: Tx, attempt: Attempt) -> Assessment:
        return PASSED if self.risk is None else self.risk.assess_in(tx, attempt)

    def guarded(self, operation: Callable[[], T]) -> T:
        """Run a money operation that risk control may refuse: the refusal (rolled back with
        everything else) is then recorded on its own, and answered."""
        try:
            return operation()
        except RiskRefused as refused:
            assert self.risk is not None
            raise self.risk.record_refusal(refused) from None

    def run_money(self, work: Callable[[Tx], int], kind: str) -> int:
        """A money transaction writing one `kind` row; the caller's claim marked with it."""

        def work_and_mark(tx: Tx) -> int:
            row_id = work(tx)
            self.mark_in(tx, kind, row_id)
            return row_id

        return self.run_ledger(work_and_mark)

    def run_ledger(self, work: Callable[[Tx], T]) -> T:
        """A money transaction; the ledger's refusal of an overdraft is `insufficient_funds`."""
        try:
            return self.db.run(work)
        except LedgerRejected as rejected:
            if rejected.code == "exceeds_credits":
                raise InsufficientFunds("not enough balance", code="insufficient_funds") from None
            raise

    def platform_account_id_in(self, tx: Tx, purpose: Purpose) -> int:
        spec = platform_account(purpose)
        return self.ledger.open_accounts_in(tx, [spec])[spec.key]

    # Idempotency marks and answers --------------------------------------------------------

    def mark_in(self, tx: Tx, kind: str, row_id: int) -> None:
        if self.idempotency is not None:
            self.idempotency.mark_done_in(tx, f"{kind}:{row_id}")

    def answer_in(
        self,
        tx: Tx,
        kind: str,
        row_id: int,
        *,
        row: Any = None,
        risk_hold: bool | None = None,
    ) -> Movement | None:
        """In the last transaction of a REST request: store its answer with the change and
        return the movement answered. None (nothing read) when no request is being answered.
        `row` and `risk_hold`: see `movement_in`."""
        if self.idempotency is None or self.answer_of is None or not self.idempotency.claiming():
            return None
        movement = self.movement_in(tx, kind, row_id, row=row, risk_hold=risk_hold)
        self.idempotency.mark_done_in(tx, f"{kind}:{row_id}", answer=self.answer_of(movement))
        return movement

    def movement(self, kind: str, row_id: int) -> Movement:
        with self.db.read() as tx:
            return self.movement_in(tx, kind, row_id)

    def movement_in(
        self,
        tx: Tx,
        kind: str,
        row_id: int,
        *,
        row: Any = None,
        risk_hold: bool | None = None,
    ) -> Movement:
        """`row`: the row as this transaction wrote it (its columns as attributes), when the
        caller has just inserted it; None reads it. `risk_hold`: whether risk control holds
        the (transfer) row, when the caller knows (it has just decided); None asks risk
        control (a statement)."""
        if row is None:
            row = self.store.get(tx, MOVEMENT_TABLES[kind], row_id)
        if row is None:
            raise NotFound(f"no such {kind}", code=f"{kind}_not_found")
        return Movement(
            kind=kind,
            id=row.id,
            status=row.status,
            amount_fen=row.amount_fen,
            fee_fen=getattr(row, "fee_fen", 0),
            due_at_us=getattr(row, "due_at_us", None),
            failure_code=getattr(row, "failure_code", None),
            risk_hold=kind == "transfer"
            and row.status == "pending"
            and self.risk is not None
            and (self.risk.holds_in(tx, f"p2p:{row.id}") if risk_hold is None else risk_hold),
        )

    # Bank calls ---------------------------------------------------------------------------

    def schedule_query_in(self, tx: Tx, key: str) -> None:
        """Before a bank call: the job that asks the bank how request `key` ended, should its
        answer be lost (the answer's transaction cancels it)."""
        due_us = self.clock.now_us() + self.bank_query_delay_s * US_PER_S
        self.jobs.schedule_in(tx, JOB_BANK_QUERY, key, due_us)

    def apply_bank_result(self, result: BankResult, work: Callable[[Tx], T]) -> T | None:
        """Apply the bank's answer with `work`, which returns the request's answer. None: the
        bank could not say, the query job will. Under a REST request the answer commits with
        the change."""
        if result.outcome is BankOutcome.UNKNOWN:
            return None  # the query job already waits for it
        return self.db.run(work)


def by_device(proof: PaymentProof) -> bool:
    """Whether a registered device confirmed the operation (not the payment password)."""
    return not isinstance(proof, str)
