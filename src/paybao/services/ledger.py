"""The ledger's one write path: load and lock, apply the pure rules, store, check.

Services call `apply_in(tx, ...)` inside their own transaction so that journal rows commit
together with the business rows they belong to. `apply(...)` opens its own transaction, and the
group-commit `Poster` batches many independent callers into one.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from paybao.domain.accounts import PLATFORM_PURPOSES, AccountSpec, platform_account
from paybao.domain.errors import DomainError, InvariantViolation, NotFound, Retryable
from paybao.domain.ledger import (
    BATCH_SIZE_MAX,
    Account,
    BatchOutcome,
    CounterDelta,
    LockKey,
    Transfer,
    TransferOutcome,
    TransferRecord,
    TransferResult,
    account_ids_of,
    accounts_to_lock,
    apply_batch,
    counter_delta,
    expire_batch,
    pending_ids_of,
)
from paybao.domain.money import CURRENCY_DEFAULT
from paybao.services.ports import Clock, Database, LedgerStore, Tx

EXPIRE_BATCH_SIZE_MAX = 1000
KNOWN_ACCOUNTS_MAX = 100_000


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
        self._known: dict[int, LockKey] = {}  # what `accounts_to_lock` needs, by account id
        self._prefilled = False
        self._prefill_lock = threading.Lock()

    # Accounts ---------------------------------------------------------------------------

    def open_accounts_in(self, tx: Tx, specs: Sequence[AccountSpec]) -> dict[str, int]:
        assert specs, "nothing to open"
        ids = self.store.open_accounts(tx, specs, self.clock.now_us())
        missing = {spec.key for spec in specs} - ids.keys()
        assert not missing, f"accounts not opened: {missing}"
        if self.store.row_locks:  # (SQLite may reuse the id of a rolled-back insert)
            self._remember({ids[spec.key]: spec.lock_key for spec in specs})
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
        decided = self._decide(tx, transfers)
        self._write_in(tx, decided, commit=False)
        return decided.outcome.outcomes

    def _write_in(self, tx: Tx, decided: _Decided, *, commit: bool) -> None:
        changes, deltas = decided.writes()
        outcome = decided.outcome
        if commit:
            self.store.write_and_commit(
                tx, outcome.created, changes, outcome.pending_status, deltas
            )
            return
        # Compare-and-set: every locked row must still hold what we read.
        matched = self.store.write(tx, outcome.created, changes, outcome.pending_status, deltas)
        if matched != len(changes):
            raise InvariantViolation(f"{len(changes) - matched} account row(s) changed under us")

    def apply(self, transfers: Sequence[Transfer]) -> list[TransferOutcome]:
        """Apply a batch in a transaction of its own (the poster's path), which the store
        commits together with its writes.

        A batch that posts or voids nothing is first tried without looking its ids up: the
        unique key on the transfer id decides. Only if an id already exists (a caller's
        retry) or a transfer is refused (its id might exist, and `exists*` takes precedence)
        is the batch redone with the lookup. Both are rare; the query saved is not.
        """

        def work(tx: Tx, *, lookup: bool) -> list[TransferOutcome]:
            decided = self._decide(tx, transfers, lookup=lookup)
            outcome = decided.outcome
            if not lookup and any(o.result is not TransferResult.OK for o in outcome.outcomes):
                # A refusal may hide an existing id, whose `exists*` result takes precedence.
                raise _LookupNeeded
            changes, deltas = decided.writes()
            self.store.write_and_commit(
                tx, outcome.created, changes, outcome.pending_status, deltas
            )
            return outcome.outcomes

        if not pending_ids_of(transfers):
            try:
                return self.db.run(lambda tx: work(tx, lookup=False), retries_max=0, driver=True)
            except (_LookupNeeded, Retryable):  # an id exists, a refusal, or a transient fault
                pass
        return self.db.run(lambda tx: work(tx, lookup=True), driver=True)

    def _decide(self, tx: Tx, transfers: Sequence[Transfer], *, lookup: bool = True) -> _Decided:
        """Load what the batch touches, locking the holds it resolves and the accounts whose
        limits it could break (in that order, each by id), then apply the rules; nothing is
        written yet. Without `lookup`, the batch's own ids are assumed new: only for batches
        with no post or void, whose writes a unique key then checks."""
        assert 0 < len(transfers) <= BATCH_SIZE_MAX
        pending_ids = pending_ids_of(transfers)
        # An id with control characters cannot be stored or even looked up in PostgreSQL;
        # such transfers are refused by the rules below without touching the database.
        transfer_ids = [t.id for t in transfers if t.id.isprintable()] if lookup else []
        stored: dict[str, TransferRecord] = {}
        if pending_ids:
            assert lookup, "holds must be loaded"
            # Holds first (their accounts are not known before), then accounts.
            stored = self.store.load_transfers(tx, transfer_ids + sorted(pending_ids))
            transfer_ids = []
        account_ids = account_ids_of(transfers, stored)
        locked = self._to_lock(tx, transfers, account_ids)
        found, accounts = self.store.load(
            tx, transfer_ids, sorted(locked), sorted(account_ids - locked)
        )
        stored.update(found)
        outcome = apply_batch(
            transfers, accounts=accounts, stored=stored, now_us=self.clock.now_us()
        )
        return _Decided(accounts, locked, outcome)

    def _to_lock(self, tx: Tx, transfers: Sequence[Transfer], account_ids: set[int]) -> set[int]:
        if not self.store.row_locks:
            return account_ids
        if not self._prefilled:  # first use in this process: the newest accounts at once
            with self._prefill_lock:  # one thread reads them; the others wait for it
                if not self._prefilled:
                    self._remember(self.store.lock_keys(tx, KNOWN_ACCOUNTS_MAX))
                    self._prefilled = True
        unknown = [a for a in account_ids if a not in self._known]
        if unknown:  # newer than that: learn them first, rather than lock everything
            found = self.store.load(tx, [], [], sorted(unknown))[1].values()
            self._remember({a.id: LockKey(a.flags, a.lock_rank) for a in found})
        return accounts_to_lock(transfers, self._known, account_ids)

    def _remember(self, keys: Mapping[int, LockKey]) -> None:
        """Flags and lock ranks never change once an account is opened: knowing them lets
        batches leave the accounts they cannot overdraw unlocked."""
        if len(self._known) + len(keys) > KNOWN_ACCOUNTS_MAX:
            self._known.clear()
        self._known.update(keys)

    def transfer_in(
        self, tx: Tx, transfers: Sequence[Transfer], *, commit: bool = False, fresh: bool = False
    ) -> list[TransferRecord]:
        """Apply and insist on success: any refusal raises `LedgerRejected` with its code,
        before anything is written. The caller's transaction then rolls back, so business
        rows and journal stay together.

        `commit=True` is for a caller that writes nothing after the money moves: the store
        may then commit the transaction together with the journal (on PostgreSQL, in the
        same round trip), so the hot accounts it touched stay locked for the shortest time.
        The caller's own commit afterwards finds nothing to do.

        `fresh=True` says the ids cannot exist yet (they derive from a row this transaction
        inserted under a unique key): they are not looked up, and the unique key on transfer
        ids still refuses a duplicate. Only for batches that post or void nothing.
        """
        decided = self._decide(tx, transfers, lookup=not fresh)
        outcomes = decided.outcome.outcomes
        for outcome in outcomes:
            if not outcome.result.succeeded:
                first = next(o for o in outcomes if o.result.value != "linked_event_failed")
                raise LedgerRejected(f"ledger refused: {first.result}", code=first.result.value)
        self._write_in(tx, decided, commit=commit)
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
        account_ids = _accounts_of(due)
        _, accounts = self.store.load(tx, [], sorted(account_ids), [])
        outcome = expire_batch(due, accounts=accounts, now_us=now_us)
        self._write_in(tx, _Decided(accounts, account_ids, outcome), commit=False)
        return len(outcome.pending_status)


@dataclass(frozen=True, slots=True)
class _Decided:
    before: dict[int, Account]
    locked: set[int]
    outcome: BatchOutcome

    def writes(self) -> tuple[list[tuple[Account, Account]], list[CounterDelta]]:
        """Locked accounts as (before, after) pairs to compare-and-set; the others as deltas
        to add, since their rows were read without a lock and may have moved since."""
        changes: list[tuple[Account, Account]] = []
        deltas: list[CounterDelta] = []
        for account_id, after in self.outcome.accounts.items():
            before = self.before[account_id]
            if after.counters() == before.counters():
                continue
            if account_id in self.locked:
                changes.append((before, after))
            else:
                deltas.append(counter_delta(before, after))
        return changes, deltas


def _accounts_of(records: Sequence[TransferRecord]) -> set[int]:
    ids: set[int] = set()
    for record in records:
        ids.update((record.debit_account_id, record.credit_account_id))
    return ids
