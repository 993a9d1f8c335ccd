"""In-memory fakes of the ports, for service-level tests (Cosmic Python's "high gear")."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from paybao.domain.accounts import AccountSpec
from paybao.domain.errors import InvariantViolation, Retryable
from paybao.domain.ledger import Account, CounterDelta, LockKey, TransferRecord

T = TypeVar("T")


class FakeTx:
    """Holds a working copy of the store; committed on success, dropped on error."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state


class FakeDatabase:
    dialect = "fake"

    def __init__(self) -> None:
        self.state: dict[str, Any] = {"accounts": {}, "transfers": {}, "keys": {}, "next_id": 1}

    @contextmanager
    def write(self) -> Iterator[FakeTx]:
        working = copy.deepcopy(self.state)
        yield FakeTx(working)
        self.state = working

    @contextmanager
    def read(self) -> Iterator[FakeTx]:
        yield FakeTx(copy.deepcopy(self.state))

    def run(self, work: Callable[[FakeTx], T], *, retries_max: int = 3, driver: bool = False) -> T:
        with self.write() as tx:
            return work(tx)


class FakeLedgerStore:
    row_locks = True  # as PostgreSQL: the rules choose which accounts to lock

    def lock_keys(self, tx: FakeTx, limit: int) -> dict[int, LockKey]:
        accounts = sorted(tx.state["accounts"].values(), key=lambda a: -a.id)[:limit]
        return {a.id: LockKey(a.flags, a.lock_rank) for a in accounts}

    def load_transfers(self, tx: FakeTx, transfer_ids: Sequence[str]) -> dict[str, TransferRecord]:
        transfers = tx.state["transfers"]
        return {i: transfers[i] for i in transfer_ids if i in transfers}

    def load_accounts(self, tx: FakeTx, account_ids: Sequence[int]) -> dict[int, Account]:
        accounts = tx.state["accounts"]
        return {i: accounts[i].copy() for i in account_ids if i in accounts}

    def insert_transfers(self, tx: FakeTx, records: Sequence[TransferRecord]) -> None:
        for record in records:
            if record.id in tx.state["transfers"]:  # as SqlDatabase.run reports a unique race
                raise Retryable("conflicting concurrent write; retry")
            tx.state["transfers"][record.id] = record

    def update_accounts(self, tx: FakeTx, changes: Sequence[tuple[Account, Account]]) -> int:
        matched = 0
        for before, after in changes:
            stored = tx.state["accounts"][after.id]
            if stored.counters() == before.counters():
                tx.state["accounts"][after.id] = after.copy()
                matched += 1
        return matched

    def update_pending_status(self, tx: FakeTx, status_by_id: dict[str, str]) -> None:
        for transfer_id, status in status_by_id.items():
            record = tx.state["transfers"][transfer_id]
            if record.pending_status == "pending":
                tx.state["transfers"][transfer_id] = record._replace(pending_status=str(status))

    def add_deltas(self, tx: FakeTx, deltas: Sequence[CounterDelta]) -> None:
        for _rank, account_id, dp, dpo, cp, cpo in deltas:
            stored = tx.state["accounts"][account_id]
            stored.debits_pending += dp
            stored.debits_posted += dpo
            stored.credits_pending += cp
            stored.credits_posted += cpo
            stored.check_invariants()  # as the database's check constraints would

    def load(
        self,
        tx: FakeTx,
        transfer_ids: Sequence[str],
        locked_ids: Sequence[int],
        unlocked_ids: Sequence[int],
    ) -> tuple[dict[str, TransferRecord], dict[int, Account]]:
        accounts = self.load_accounts(tx, [*locked_ids, *unlocked_ids])
        return self.load_transfers(tx, transfer_ids), accounts

    def write(
        self,
        tx: FakeTx,
        records: Sequence[TransferRecord],
        changes: Sequence[tuple[Account, Account]],
        status_by_id: dict[str, str],
        deltas: Sequence[CounterDelta],
    ) -> int:
        self.insert_transfers(tx, records)
        matched = self.update_accounts(tx, changes)
        self.add_deltas(tx, deltas)
        self.update_pending_status(tx, status_by_id)
        return matched

    def write_and_commit(
        self,
        tx: FakeTx,
        records: Sequence[TransferRecord],
        changes: Sequence[tuple[Account, Account]],
        status_by_id: dict[str, str],
        deltas: Sequence[CounterDelta],
    ) -> None:
        matched = self.write(tx, records, changes, status_by_id, deltas)
        if matched != len(changes):
            raise InvariantViolation(f"{len(changes) - matched} account row(s) changed under us")

    def due_pending(self, tx: FakeTx, now_us: int, limit: int) -> list[TransferRecord]:
        due = [
            r
            for r in tx.state["transfers"].values()
            if r.pending_status == "pending"
            and r.expires_at_us is not None
            and r.expires_at_us <= now_us
        ]
        return sorted(due, key=lambda r: r.id)[:limit]

    def open_accounts(
        self, tx: FakeTx, specs: Sequence[AccountSpec], now_us: int
    ) -> dict[str, int]:
        keys = tx.state["keys"]
        for spec in specs:
            if spec.key not in keys:
                account_id = tx.state["next_id"]
                tx.state["next_id"] += 1
                keys[spec.key] = account_id
                tx.state["accounts"][account_id] = Account(
                    account_id, spec.currency, int(spec.flags), lock_rank=spec.lock_key.lock_rank
                )
        return {spec.key: keys[spec.key] for spec in specs}
