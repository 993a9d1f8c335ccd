"""Ledger persistence: lean batch statements on the raw driver, one class per database.

The rules live in `domain.ledger`; this module only loads (and on PostgreSQL locks, in a fixed
order: holds by id, then accounts by id) and stores. Raw DBAPI cursors are used because the
group-commit poster writes thousands of rows a second and SQLAlchemy's per-row work would cost
more than the database does.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from sqlalchemy import Connection

from paybao.domain.accounts import LOCK_RANKS, AccountSpec
from paybao.domain.errors import InvariantViolation
from paybao.domain.ledger import LOCK_RANK_MAX, Account, CounterDelta, LockKey, TransferRecord

_TRANSFER_COLUMNS = (
    "id, debit_account_id, credit_account_id, amount_fen, currency, code, flags, pending_id,"
    " timeout_s, reference, created_at_us, expires_at_us, pending_status"
)
# The last column is the account's place in the global lock order (domain.ledger.Account).
_LOCK_RANK = (
    "CASE owner_kind "
    + " ".join(f"WHEN '{kind}' THEN {rank}" for kind, rank in LOCK_RANKS.items())
    + f" ELSE {LOCK_RANK_MAX} END"
)
_ACCOUNT_COLUMNS = (
    "id, currency, flags, debits_pending, debits_posted, credits_pending, credits_posted,"
    f" {_LOCK_RANK}"
)
_CHUNK_SIZE_MAX = 500


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK_SIZE_MAX):
        yield items[start : start + _CHUNK_SIZE_MAX]


def _record(row: Sequence[Any]) -> TransferRecord:
    # The record's fields are in column order: a row is a record.
    return TransferRecord(*row)


def _account(row: Sequence[Any]) -> Account:
    return Account(*row)


def _record_tuple(record: TransferRecord) -> tuple[Any, ...]:
    # Status constants are StrEnum members; drivers must see plain strings.
    status = record.pending_status
    if status is None:
        return record
    return (*record[:12], str(status))


def _pg_array(values: Sequence[Any]) -> str:
    """A PostgreSQL array literal. Building the text ourselves is ~10x faster than having the
    driver adapt a list element by element, which dominated the batch path."""
    parts: list[str] = []
    for value in values:
        if value is None:
            parts.append("NULL")
        elif isinstance(value, int):
            parts.append(str(value))
        else:
            text = str(value).replace("\\", "\\\\").replace('"', '\\"')
            parts.append(f'"{text}"')
    return "{" + ",".join(parts) + "}"


def _pg_columns(rows: Sequence[Sequence[Any]]) -> list[str]:
    return [_pg_array(column) for column in zip(*rows, strict=True)]


def _cursor(tx: Connection) -> Any:
    return tx.connection.cursor()


_KNOWN_IDS_MAX = 100_000


class _KnownAccountIds:
    """Ids of accounts by key, for `open_accounts` of accounts that already exist (the
    platform's bank clearing and fee accounts, on every top-up and withdrawal): two statements
    saved per call.

    Only ids of rows committed before the transaction that read them are remembered: an
    account's id never changes and accounts are never deleted, so such an id stays right for
    every later transaction. An id this transaction inserted is not: the transaction may
    still roll back, and then the key gets another id (on SQLite possibly the same number for
    another account, which reuses the id of a rolled-back insert). So a call learns ids only
    if its INSERT ... ON CONFLICT DO NOTHING inserted nothing (every key already existed, or
    was committed by a concurrent insert it waited for) and no earlier call in the same
    transaction inserted an account (`_inserting`: the existing rows might be its own).
    A transaction we cannot track (not a weak-referenceable SQLAlchemy `Connection`) teaches
    nothing; it is still answered from what others learned.
    """

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._inserting: weakref.WeakSet[Connection] = weakref.WeakSet()

    def known(self, specs: Sequence[AccountSpec]) -> dict[str, int] | None:
        ids = self._ids
        try:
            return {spec.key: ids[spec.key] for spec in specs}
        except KeyError:
            return None

    def learn(self, tx: Connection, inserted: int, found: dict[str, int]) -> None:
        if not isinstance(tx, Connection):
            return
        if inserted:
            self._inserting.add(tx)
            return
        if tx in self._inserting:
            return
        if len(self._ids) + len(found) > _KNOWN_IDS_MAX:
            self._ids.clear()
        self._ids.update(found)


class SqliteLedgerStore:
    """SQLite: the IMMEDIATE transaction already holds the database write lock."""

    row_locks = False  # there is nothing finer to lock: every account is compare-and-set

    def __init__(self) -> None:
        self._known_ids = _KnownAccountIds()

    def lock_keys(self, tx: Connection, limit: int) -> dict[int, LockKey]:
        return {}

    def load_transfers(
        self, tx: Connection, transfer_ids: Sequence[str]
    ) -> dict[str, TransferRecord]:
        found: dict[str, TransferRecord] = {}
        cursor = _cursor(tx)
        for chunk in _chunks(sorted(set(transfer_ids))):
            marks = ",".join("?" * len(chunk))
            cursor.execute(
                f"SELECT {_TRANSFER_COLUMNS} FROM ledger_transfers WHERE id IN ({marks})", chunk
            )
            found.update((row[0], _record(row)) for row in cursor.fetchall())
        return found

    def load_accounts(self, tx: Connection, account_ids: Sequence[int]) -> dict[int, Account]:
        found: dict[int, Account] = {}
        cursor = _cursor(tx)
        for chunk in _chunks(sorted(set(account_ids))):
            marks = ",".join("?" * len(chunk))
            cursor.execute(
                f"SELECT {_ACCOUNT_COLUMNS} FROM ledger_accounts WHERE id IN ({marks})", chunk
            )
            found.update((row[0], _account(row)) for row in cursor.fetchall())
        return found

    def insert_transfers(self, tx: Connection, records: Sequence[TransferRecord]) -> None:
        if records:
            _cursor(tx).executemany(
                f"INSERT INTO ledger_transfers ({_TRANSFER_COLUMNS})"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [_record_tuple(r) for r in records],
            )

    def update_accounts(self, tx: Connection, changes: Sequence[tuple[Account, Account]]) -> int:
        if not changes:
            return 0
        cursor = _cursor(tx)
        cursor.executemany(
            "UPDATE ledger_accounts SET debits_pending=?, debits_posted=?,"
            " credits_pending=?, credits_posted=? WHERE id=? AND debits_pending=?"
            " AND debits_posted=? AND credits_pending=? AND credits_posted=?",
            [(*after.counters(), after.id, *before.counters()) for before, after in changes],
        )
        return int(cursor.rowcount)

    def update_pending_status(self, tx: Connection, status_by_id: dict[str, str]) -> None:
        if status_by_id:
            _cursor(tx).executemany(
                "UPDATE ledger_transfers SET pending_status=?"
                " WHERE id=? AND pending_status='pending'",
                [(str(status), transfer_id) for transfer_id, status in status_by_id.items()],
            )

    def add_deltas(self, tx: Connection, deltas: Sequence[CounterDelta]) -> None:
        if deltas:
            _cursor(tx).executemany(
                "UPDATE ledger_accounts SET debits_pending = debits_pending + ?,"
                " debits_posted = debits_posted + ?, credits_pending = credits_pending + ?,"
                " credits_posted = credits_posted + ? WHERE id = ?",
                [(*delta[2:], delta.account_id) for delta in deltas],
            )

    def load(
        self,
        tx: Connection,
        transfer_ids: Sequence[str],
        locked_ids: Sequence[int],
        unlocked_ids: Sequence[int],
    ) -> tuple[dict[str, TransferRecord], dict[int, Account]]:
        # The IMMEDIATE transaction holds the database's write lock: every read is locked.
        accounts = self.load_accounts(tx, [*locked_ids, *unlocked_ids])
        return self.load_transfers(tx, transfer_ids), accounts

    def write(
        self,
        tx: Connection,
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
        tx: Connection,
        records: Sequence[TransferRecord],
        changes: Sequence[tuple[Account, Account]],
        status_by_id: dict[str, str],
        deltas: Sequence[CounterDelta],
    ) -> None:
        """SQLite has no round trip to save: write, check, and leave the commit to the caller."""
        matched = self.write(tx, records, changes, status_by_id, deltas)
        if matched != len(changes):
            raise InvariantViolation(f"{len(changes) - matched} account row(s) changed under us")

    def due_pending(self, tx: Connection, now_us: int, limit: int) -> list[TransferRecord]:
        cursor = _cursor(tx)
        cursor.execute(
            f"SELECT {_TRANSFER_COLUMNS} FROM ledger_transfers WHERE pending_status='pending'"
            " AND expires_at_us <= ? ORDER BY expires_at_us, id LIMIT ?",
            (now_us, limit),
        )
        return [_record(row) for row in cursor.fetchall()]

    def open_accounts(
        self, tx: Connection, specs: Sequence[AccountSpec], now_us: int
    ) -> dict[str, int]:
        known = self._known_ids.known(specs)
        if known is not None:
            return known
        cursor = _cursor(tx)
        cursor.executemany(
            "INSERT INTO ledger_accounts (key, owner_kind, owner_id, purpose, currency, flags,"
            " created_at_us) VALUES (?,?,?,?,?,?,?) ON CONFLICT (key) DO NOTHING",
            [_spec_tuple(spec, now_us) for spec in specs],
        )
        inserted = int(cursor.rowcount)  # executemany: the sum over the rows
        keys = [spec.key for spec in specs]
        found: dict[str, int] = {}
        for chunk in _chunks(keys):
            marks = ",".join("?" * len(chunk))
            cursor.execute(f"SELECT key, id FROM ledger_accounts WHERE key IN ({marks})", chunk)
            found.update(cursor.fetchall())
        self._known_ids.learn(tx, inserted, found)
        return found


def _spec_tuple(spec: AccountSpec, now_us: int) -> tuple[Any, ...]:
    return (
        spec.key,
        str(spec.owner_kind),
        spec.owner_id,
        str(spec.purpose),
        spec.currency,
        int(spec.flags),
        now_us,
    )


_PG_LOAD_TRANSFERS = (
    f"SELECT {_TRANSFER_COLUMNS} FROM ledger_transfers WHERE id = ANY(%s::varchar[])"
    " ORDER BY id FOR UPDATE"
)
_PG_LOAD_ACCOUNTS = (
    f"SELECT {_ACCOUNT_COLUMNS} FROM ledger_accounts WHERE id = ANY(%s::bigint[])"
    f" ORDER BY {_LOCK_RANK}, id FOR UPDATE"
)
_PG_READ_ACCOUNTS = f"SELECT {_ACCOUNT_COLUMNS} FROM ledger_accounts WHERE id = ANY(%s::bigint[])"
_PG_INSERT_TRANSFERS = (
    f"INSERT INTO ledger_transfers ({_TRANSFER_COLUMNS}) SELECT * FROM unnest("
    "%s::varchar[], %s::bigint[], %s::bigint[], %s::bigint[], %s::varchar[],"
    " %s::int[], %s::int[], %s::varchar[], %s::int[], %s::varchar[], %s::bigint[],"
    " %s::bigint[], %s::varchar[])"
)
# Compare-and-set: a row is updated only if it still holds the counters that were read.
_PG_UPDATE_ACCOUNTS = (
    "UPDATE ledger_accounts AS a SET debits_pending = v.dp, debits_posted = v.dpo,"
    " credits_pending = v.cp, credits_posted = v.cpo"
    " FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[],"
    " %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[])"
    " AS v(id, dp, dpo, cp, cpo, odp, odpo, ocp, ocpo) WHERE a.id = v.id"
    " AND a.debits_pending = v.odp AND a.debits_posted = v.odpo"
    " AND a.credits_pending = v.ocp AND a.credits_posted = v.ocpo"
)
# The same, as a statement that fails (division by zero) unless every row matched: the check
# then happens inside the database, before a COMMIT queued behind it in the same pipeline.
_PG_UPDATE_ACCOUNTS_CHECKED = (
    f"WITH changed AS ({_PG_UPDATE_ACCOUNTS} RETURNING 1)"
    " SELECT 1 / (count(*) = %s)::int FROM changed"
)
_PG_LOCK_FOR_DELTAS = (
    "SELECT 1 FROM ledger_accounts WHERE id = ANY(%s::bigint[])"
    f" ORDER BY {_LOCK_RANK}, id FOR NO KEY UPDATE"
)
# Unlocked accounts: add what the batch moved. The row lock this takes lasts only to commit.
_PG_ADD_DELTAS = (
    "UPDATE ledger_accounts AS a SET debits_pending = a.debits_pending + v.dp,"
    " debits_posted = a.debits_posted + v.dpo, credits_pending = a.credits_pending + v.cp,"
    " credits_posted = a.credits_posted + v.cpo"
    " FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[])"
    " AS v(id, dp, dpo, cp, cpo) WHERE a.id = v.id"
)
_PG_UPDATE_STATUS = (
    "UPDATE ledger_transfers AS t SET pending_status = v.status"
    " FROM unnest(%s::varchar[], %s::varchar[]) AS v(id, status)"
    " WHERE t.id = v.id AND t.pending_status = 'pending'"
)


def _account_change_columns(changes: Sequence[tuple[Account, Account]]) -> list[str]:
    return _pg_columns(
        [(after.id, *after.counters(), *before.counters()) for before, after in changes]
    )


def _status_columns(status_by_id: dict[str, str]) -> tuple[str, str]:
    return _pg_array(list(status_by_id)), _pg_array(list(status_by_id.values()))


class PostgresLedgerStore:
    """PostgreSQL: row locks in a fixed order; whole batches as arrays through unnest."""

    row_locks = True

    def __init__(self) -> None:
        self._known_ids = _KnownAccountIds()

    def lock_keys(self, tx: Connection, limit: int) -> dict[int, LockKey]:
        """Flags and lock ranks of the newest `limit` accounts (they never change)."""
        cursor = _cursor(tx)
        cursor.execute(
            f"SELECT id, flags, {_LOCK_RANK} FROM ledger_accounts ORDER BY id DESC LIMIT %s",
            (limit,),
        )
        return {row[0]: LockKey(row[1], row[2]) for row in cursor.fetchall()}

    def load_transfers(
        self, tx: Connection, transfer_ids: Sequence[str]
    ) -> dict[str, TransferRecord]:
        if not transfer_ids:
            return {}
        cursor = _cursor(tx)
        cursor.execute(_PG_LOAD_TRANSFERS, (_pg_array(sorted(set(transfer_ids))),))
        return {row[0]: _record(row) for row in cursor.fetchall()}

    def load_accounts(self, tx: Connection, account_ids: Sequence[int]) -> dict[int, Account]:
        if not account_ids:
            return {}
        cursor = _cursor(tx)
        cursor.execute(_PG_LOAD_ACCOUNTS, (_pg_array(sorted(set(account_ids))),))
        return {row[0]: _account(row) for row in cursor.fetchall()}

    def load(
        self,
        tx: Connection,
        transfer_ids: Sequence[str],
        locked_ids: Sequence[int],
        unlocked_ids: Sequence[int],
    ) -> tuple[dict[str, TransferRecord], dict[int, Account]]:
        """BEGIN and the reads in one round trip (psycopg pipeline mode) when there is more
        than one; a lone query goes without the pipeline, whose bookkeeping costs more."""
        asked = (
            (_PG_LOAD_TRANSFERS, transfer_ids),
            (_PG_LOAD_ACCOUNTS, locked_ids),
            (_PG_READ_ACCOUNTS, unlocked_ids),
        )
        queries = [(sql, (_pg_array(sorted(set(ids))),)) for sql, ids in asked if ids]
        connection = tx.connection.dbapi_connection
        assert connection is not None
        cursors = [connection.cursor() for _ in queries]
        if len(queries) == 1:
            cursors[0].execute(*queries[0])
        else:
            with connection.pipeline():
                for cursor, query in zip(cursors, queries, strict=True):
                    cursor.execute(*query)
        results = iter(cursors)
        transfers: dict[str, TransferRecord] = {}
        if transfer_ids:
            transfers = {row[0]: _record(row) for row in next(results).fetchall()}
        accounts = {row[0]: _account(row) for cursor in results for row in cursor.fetchall()}
        return transfers, accounts

    def write(
        self,
        tx: Connection,
        records: Sequence[TransferRecord],
        changes: Sequence[tuple[Account, Account]],
        status_by_id: dict[str, str],
        deltas: Sequence[CounterDelta],
    ) -> int:
        """All writes of a batch in one round trip (psycopg pipeline mode)."""
        connection = tx.connection.dbapi_connection
        assert connection is not None
        with connection.pipeline():
            updated = self._send_writes(connection, records, changes, status_by_id, deltas)
        return int(updated.rowcount) if changes else 0

    def write_and_commit(
        self,
        tx: Connection,
        records: Sequence[TransferRecord],
        changes: Sequence[tuple[Account, Account]],
        status_by_id: dict[str, str],
        deltas: Sequence[CounterDelta],
    ) -> None:
        """Writes, the compare-and-set check and COMMIT in one round trip: a transaction that
        only applies transfers then costs two round trips in all (load, write+commit). The
        caller's own commit afterwards finds the connection idle and sends nothing."""
        connection = tx.connection.dbapi_connection
        assert connection is not None
        try:
            with connection.pipeline():
                self._send_writes(connection, records, changes, status_by_id, deltas, checked=True)
                # Not connection.commit(): that syncs at once, and leaving the pipeline syncs
                # again, which would cost the round trip this method exists to save.
                connection.cursor().execute("COMMIT")
        except psycopg.errors.DivisionByZero as error:
            raise InvariantViolation("account row(s) changed under us") from error

    @staticmethod
    def _send_writes(
        connection: Any,
        records: Sequence[TransferRecord],
        changes: Sequence[tuple[Account, Account]],
        status_by_id: dict[str, str],
        deltas: Sequence[CounterDelta],
        *,
        checked: bool = False,
    ) -> Any:
        """Queue the batch's statements on a pipelined connection; returns the cursor of the
        compare-and-set update (its rowcount: rows matched)."""
        if records:
            connection.cursor().execute(
                _PG_INSERT_TRANSFERS, _pg_columns([_record_tuple(r) for r in records])
            )
        updated = connection.cursor()
        if changes and checked:
            updated.execute(
                _PG_UPDATE_ACCOUNTS_CHECKED, [*_account_change_columns(changes), len(changes)]
            )
        elif changes:
            updated.execute(_PG_UPDATE_ACCOUNTS, _account_change_columns(changes))
        if deltas:
            # Lock first, in the global lock order (rank, id): an UPDATE locks rows in
            # whatever order its plan visits them, and two batches could deadlock. A lone
            # row has no order to keep: its UPDATE locks it at the same point the lock would.
            ordered = sorted(deltas)
            if len(ordered) > 1:
                ids = (_pg_array([delta.account_id for delta in ordered]),)
                connection.cursor().execute(_PG_LOCK_FOR_DELTAS, ids)
            connection.cursor().execute(
                _PG_ADD_DELTAS, _pg_columns([delta[1:] for delta in ordered])
            )
        if status_by_id:
            connection.cursor().execute(_PG_UPDATE_STATUS, _status_columns(status_by_id))
        return updated

    def due_pending(self, tx: Connection, now_us: int, limit: int) -> list[TransferRecord]:
        cursor = _cursor(tx)
        cursor.execute(
            f"SELECT {_TRANSFER_COLUMNS} FROM ledger_transfers WHERE pending_status = 'pending'"
            " AND expires_at_us <= %s ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
            (now_us, limit),
        )
        return [_record(row) for row in cursor.fetchall()]

    def open_accounts(
        self, tx: Connection, specs: Sequence[AccountSpec], now_us: int
    ) -> dict[str, int]:
        known = self._known_ids.known(specs)
        if known is not None:
            return known
        rows = [_spec_tuple(spec, now_us) for spec in specs]
        cursor = _cursor(tx)
        cursor.execute(
            "INSERT INTO ledger_accounts (key, owner_kind, owner_id, purpose, currency, flags,"
            " created_at_us) SELECT * FROM unnest(%s::varchar[], %s::varchar[], %s::varchar[],"
            " %s::varchar[], %s::varchar[], %s::int[], %s::bigint[])"
            " ON CONFLICT (key) DO NOTHING",
            _pg_columns(rows),
        )
        inserted = int(cursor.rowcount)
        cursor.execute(
            "SELECT key, id FROM ledger_accounts WHERE key = ANY(%s::varchar[])",
            (_pg_array([s.key for s in specs]),),
        )
        found = dict(cursor.fetchall())
        self._known_ids.learn(tx, inserted, found)
        return found


def ledger_store_for(dialect: str) -> SqliteLedgerStore | PostgresLedgerStore:
    return SqliteLedgerStore() if dialect == "sqlite" else PostgresLedgerStore()
