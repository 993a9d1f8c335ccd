"""The ports services depend on. Adapters implement them; tests pass fakes.

A `Tx` is an open database transaction: services hand it to repositories and to the ledger so
that business rows and journal rows commit together (rule 2 of the rules of money).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol, TypeVar

from paybao.domain.accounts import AccountSpec
from paybao.domain.ledger import Account, CounterDelta, LockKey, TransferRecord

T = TypeVar("T")

# Opaque to services: only adapters look inside (it is a SQLAlchemy Connection there).
Tx = Any


class Clock(Protocol):
    def now(self) -> datetime:
        """Aware UTC datetime of platform time."""
        ...

    def now_us(self) -> int:
        """Platform time in microseconds since the Unix epoch."""
        ...


class Database(Protocol):
    dialect: str

    def write(self) -> AbstractContextManager[Tx]:
        """A read-write transaction; commits on normal exit, rolls back on an exception."""
        ...

    def read(self) -> AbstractContextManager[Tx]:
        """A read-only snapshot."""
        ...

    def run(self, work: Callable[[Tx], T], *, retries_max: int = 3, driver: bool = False) -> T:
        """Run `work` in a write transaction, retrying transient conflicts (unique race,
        serialization failure, deadlock) up to retries_max times; a unique race still lost
        after that raises `Retryable`. `driver`: the transaction is only good for talking
        to the driver (what the ledger store does), and cheaper."""
        ...


class LedgerStore(Protocol):
    """Loads and stores ledger state inside a transaction; locks rows it loads for update."""

    # False where the database has no row locks (SQLite locks the whole file): then every
    # account a batch touches is loaded as locked and written compare-and-set.
    row_locks: bool

    def lock_keys(self, tx: Tx, limit: int) -> dict[int, LockKey]:
        """Flags and lock ranks of up to `limit` accounts, the newest first."""
        ...

    def load_transfers(self, tx: Tx, transfer_ids: Sequence[str]) -> dict[str, TransferRecord]: ...

    def load_accounts(self, tx: Tx, account_ids: Sequence[int]) -> dict[int, Account]: ...

    def load(
        self,
        tx: Tx,
        transfer_ids: Sequence[str],
        locked_ids: Sequence[int],
        unlocked_ids: Sequence[int],
    ) -> tuple[dict[str, TransferRecord], dict[int, Account]]:
        """Transfers by id (locked), accounts `locked_ids` under a row lock and accounts
        `unlocked_ids` without one, all at once (one round trip where the database allows)."""
        ...

    def write(
        self,
        tx: Tx,
        records: Sequence[TransferRecord],
        changes: Sequence[tuple[Account, Account]],
        status_by_id: dict[str, str],
        deltas: Sequence[CounterDelta],
    ) -> int:
        """Insert transfers, update locked accounts as compare-and-set on their (before,
        after) pairs, add `deltas` to unlocked ones, and set hold statuses. Returns how many
        compare-and-set rows matched their `before`."""
        ...

    def write_and_commit(
        self,
        tx: Tx,
        records: Sequence[TransferRecord],
        changes: Sequence[tuple[Account, Account]],
        status_by_id: dict[str, str],
        deltas: Sequence[CounterDelta],
    ) -> None:
        """`write` for a transaction that does nothing else: raises `InvariantViolation`
        (and nothing is kept) unless every compare-and-set matched; may commit the
        transaction itself where that saves a round trip."""
        ...

    def due_pending(self, tx: Tx, now_us: int, limit: int) -> list[TransferRecord]: ...

    def open_accounts(self, tx: Tx, specs: Sequence[AccountSpec], now_us: int) -> dict[str, int]:
        """Create missing accounts (idempotent by key); return key -> id for all."""
        ...
