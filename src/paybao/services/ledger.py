"""The ledger's one write path: load and lock, apply the pure rules, store, check.

Services call `apply_in(tx, ...)` inside their own transaction so that journal rows commit
together with the business rows they belong to. `apply(...)` opens its own transaction, and the
group-commit `Poster` batches many independent callers into one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from paybao.domain.accounts import PLATFORM_PURPOSES, AccountSpec, platform_account
from paybao.domain.errors import DomainError, InvariantViolation, NotFound, Retryable
from paybao.domain.ledger import (
    BATCH_SIZE_MAX,
    Account,
    BatchOutcome,
    Transfer,
    TransferOutcome,
    TransferRecord,
    TransferResult,
    account_ids_of,
    apply_batch,
    expire_batch,
    pending_ids_of,
)
from paybao.domain.money import CURRENCY_DEFAULT
from paybao.services.ports import Clock, Database, LedgerStore, Tx

EXPIRE_BATCH_SIZE_MAX = 1000


class _LookupNeeded(Exception):
    """The optimistic path cannot answer for this batch; it is redone with the lookup."""


class LedgerRejected(DomainError):
    """A transfer was refused; `code` is the ledger's result (exceeds_credits, ...)."""

    code = "ledger_rejected"


@dataclass(frozen=True, slots=True)
class Balance:
    account_id: int
    balance_fen: int
    available_fen: int
    pending_debits_fen: int
    pending_credits_fen: int


class LedgerService:
    def __init__(self, db: Database, store: LedgerStore, clock: Clock) -> None:
        self.db = db
        self.store = store
        self.clock = clock

    # Accounts ---------------------------------------------------------------------------

    def open_accounts_in(self, tx: Tx, specs: Sequence[AccountSpec]) -> dict[str, int]:
        assert specs, "nothing to open"
        ids = self.store.open_accounts(tx, specs, self.clock.now_us())
        missing = {spec.key for spec in specs} - ids.keys()
        assert not missing, f"accounts not opened: {missing}"
        return ids

    def open_accounts(self, specs: Sequence[AccountSpec]) -> dict[str, int]:
        return self.db.run(lambda tx: self.open_accounts_in(tx, specs))

    def open_platform_accounts(self, currency: str = CURRENCY_DEFAULT) -> dict[str, int]:
        return self.open_accounts([platform_account(p, currency) for p in PLATFORM_PURPOSES])

    def account_in(self, tx: Tx, account_id: int) -> Account:
        found = self.store.load_accounts(tx, [account_id])
        if account_id not in found:
            raise NotFound(f"account {account_id} not found", code="account_not_found")
        return found[account_id]

    def balance(self, account_id: int) -> Balance:
        with self.db.read() as tx:
            account = self.account_in(tx, account_id)
        return Balance(
            account_id=account.id,
            balance_fen=account.balance_fen,
            available_fen=account.available_fen,
            pending_debits_fen=account.debits_pending,
            pending_credits_fen=account.credits_pending,
        )

    # Transfers --------------------------------------------------------------------------

    def apply_in(self, tx: Tx, transfers: Sequence[Transfer]) -> list[TransferOutcome]:
        """Apply a batch inside the caller's transaction. Failed transfers write nothing."""
        accounts, outcome = self._decide(tx, transfers)
        self._store_outcome(tx, accounts, outcome)
        return outcome.outcomes

    def apply(self, transfers: Sequence[Transfer]) -> list[TransferOutcome]:
        """Apply a batch in a transaction of its own (the poster's path), which the store
        commits together with its writes.

        A batch that posts or voids nothing is first tried without looking its ids up: the
        unique key on the transfer id decides. Only if an id already exists (a caller's
        retry) or a transfer is refused (its id might exist, and `exists*` takes precedence)
        is the batch redone with the lookup. Both are rare; the query saved is not.
        """

        def work(tx: Tx, *, lookup: bool) -> list[TransferOutcome]:
            accounts, outcome = self._decide(tx, transfers, lookup=lookup)
            if not lookup and any(o.result is not TransferResult.OK for o in outcome.outcomes):
                # A refusal may hide an existing id, whose `exists*` result takes precedence.
                raise _LookupNeeded
            changes = _changes(accounts, outcome)
            self.store.write_and_commit(tx, outcome.created, changes, outcome.pending_status)
            return outcome.outcomes

        if not pending_ids_of(transfers):
            try:
                return self.db.run(lambda tx: work(tx, lookup=False), retries_max=0, driver=True)
            except (_LookupNeeded, Retryable):  # an id exists, a refusal, or a transient fault
                pass
        return self.db.run(lambda tx: work(tx, lookup=True), driver=True)

    def _decide(
        self, tx: Tx, transfers: Sequence[Transfer], *, lookup: bool = True
    ) -> tuple[dict[int, Account], BatchOutcome]:
        """Load and lock what the batch touches, then apply the rules (nothing written yet).
        Without `lookup`, the batch's own ids are assumed new: only for batches with no
        post or void, whose writes a unique key then checks."""
        assert 0 < len(transfers) <= BATCH_SIZE_MAX
        pending_ids = pending_ids_of(transfers)
        # An id with control characters cannot be stored or even looked up in PostgreSQL;
        # such transfers are refused by the rules below without touching the database.
        transfer_ids = [t.id for t in transfers if t.id.isprintable()]
        if not lookup:
            assert not pending_ids, "holds must be loaded"
            stored: dict[str, TransferRecord] = {}
            accounts = self.store.load_accounts(tx, sorted(account_ids_of(transfers, {})))
        elif pending_ids:
            # Holds first (their accounts are not known before), then accounts: a fixed order.
            stored = self.store.load_transfers(tx, transfer_ids + sorted(pending_ids))
            accounts = self.store.load_accounts(tx, sorted(account_ids_of(transfers, stored)))
        else:
            account_ids = sorted(account_ids_of(transfers, {}))
            stored, accounts = self.store.load(tx, transfer_ids, account_ids)
        outcome = apply_batch(
            transfers, accounts=accounts, stored=stored, now_us=self.clock.now_us()
        )
        return accounts, outcome

    def transfer_in(self, tx: Tx, transfers: Sequence[Transfer]) -> list[TransferRecord]:
        """Apply and insist on success: any refusal raises `LedgerRejected` with its code.

        The caller's transaction then rolls back, so business rows and journal stay together.
        """
        outcomes = self.apply_in(tx, transfers)
        for outcome in outcomes:
            if not outcome.result.succeeded:
                first = next(o for o in outcomes if o.result.value != "linked_event_failed")
                raise LedgerRejected(f"ledger refused: {first.result}", code=first.result.value)
        records = [o.record for o in outcomes]
        assert all(r is not None for r in records)
        return [r for r in records if r is not None]

    def expire_due(self, limit: int = EXPIRE_BATCH_SIZE_MAX) -> int:
        """Release holds whose timeout has passed; returns how many expired."""
        assert 0 < limit <= EXPIRE_BATCH_SIZE_MAX
        return self.db.run(lambda tx: self.expire_due_in(tx, limit))

    def expire_due_in(self, tx: Tx, limit: int = EXPIRE_BATCH_SIZE_MAX) -> int:
        now_us = self.clock.now_us()
        due = self.store.due_pending(tx, now_us, limit)
        if not due:
            return 0
        accounts = self.store.load_accounts(tx, sorted(_accounts_of(due)))
        outcome = expire_batch(due, accounts=accounts, now_us=now_us)
        self._store_outcome(tx, accounts, outcome)
        return len(outcome.pending_status)

    def _store_outcome(self, tx: Tx, before: dict[int, Account], outcome: BatchOutcome) -> None:
        changes = _changes(before, outcome)
        # Compare-and-set: every row must still hold what we read, or an update was lost.
        matched = self.store.write(tx, outcome.created, changes, outcome.pending_status)
        if matched != len(changes):
            raise InvariantViolation(f"{len(changes) - matched} account row(s) changed under us")


def _changes(before: dict[int, Account], outcome: BatchOutcome) -> list[tuple[Account, Account]]:
    """(before, after) of every account whose counters the batch changed."""
    return [
        (before[account_id], after)
        for account_id, after in outcome.accounts.items()
        if after.counters() != before[account_id].counters()
    ]


def _accounts_of(records: Sequence[TransferRecord]) -> set[int]:
    ids: set[int] = set()
    for record in records:
        ids.update((record.debit_account_id, record.credit_account_id))
    return ids
