"""The `Database` port over SQLAlchemy: write/read transactions and retry of transient faults."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from paybao.domain.errors import InvalidInput, Retryable

T = TypeVar("T")
log = logging.getLogger(__name__)

# PostgreSQL SQLSTATEs that mean "try the whole transaction again".
_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01", "55P03", "57014", "08006", "08003", "57P01"})


class SqlDatabase:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with _translated_errors(), self.engine.connect() as connection:
            try:
                with connection.begin():
                    yield connection
            except Exception as error:
                if classify(error) == "transient" and not connection.invalidated:
                    # A raw driver error bypasses SQLAlchemy's disconnect detection: make
                    # sure a possibly broken connection never goes back to the pool.
                    connection.invalidate()
                raise

    @contextmanager
    def write_on_driver(self) -> Iterator[DriverTx]:
        """A write transaction on the pooled driver connection, without SQLAlchemy's
        Connection and Transaction objects: for the ledger's own transactions, whose store
        talks to the driver anyway, the objects cost ~7% of a single-transfer commit."""
        with _translated_errors():
            pooled = self.engine.raw_connection()
            try:
                if self.dialect == "sqlite":
                    pooled.cursor().execute("BEGIN IMMEDIATE")  # as the begin hook does
                yield DriverTx(pooled)
                pooled.commit()
            except BaseException as error:
                if classify(error) == "transient":
                    pooled.invalidate()  # never back to the pool
                else:
                    pooled.rollback()
                raise
            finally:
                pooled.close()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only unit of work. SQLite: a deferred transaction (one snapshot for all its
        statements). PostgreSQL: autocommit, which at READ COMMITTED (every statement takes
        its own snapshot either way) sees exactly what a transaction would, and saves the
        BEGIN and COMMIT round trips: two of the three on a one-look-up read."""
        options = (
            {"sqlite_begin": "DEFERRED"}
            if self.dialect == "sqlite"
            else {"isolation_level": "AUTOCOMMIT"}
        )
        with _translated_errors(), self.engine.connect() as connection:
            connection = connection.execution_options(**options)
            with connection.begin():
                yield connection

    def run(
        self, work: Callable[[Connection], T], *, retries_max: int = 3, driver: bool = False
    ) -> T:
        """Run `work` in a write transaction; retry unique races and transient faults.

        `work` must be safe to repeat: it re-reads what it needs, and its writes are keyed by
        idempotency keys, so a retry sees the winner's row and answers from it. With
        `driver`, `work` gets a `DriverTx` (see `write_on_driver`).
        """
        assert 0 <= retries_max <= 10
        begin: Callable[[], AbstractContextManager[Any]] = (
            self.write_on_driver if driver else self.write
        )
        for attempt in range(retries_max + 1):
            try:
                with begin() as tx:
                    return work(tx)
            except (Retryable, UniqueConflict) as error:
                if attempt == retries_max:
                    if isinstance(error, UniqueConflict):
                        raise Retryable("conflicting concurrent write; retry") from error
                    raise
                log.info(
                    "retrying transaction after %s (attempt %d)", type(error).__name__, attempt
                )
                time.sleep(0.002 * (2**attempt))
        raise AssertionError("unreachable")


class DriverTx:
    """What the ledger store needs of a transaction: `.connection`, the pooled driver
    connection (`.cursor()`, `.dbapi_connection`), as on a SQLAlchemy Connection."""

    __slots__ = ("connection",)

    def __init__(self, connection: Any) -> None:
        self.connection = connection


def driver_rows(tx: Any, sql: str, params: Any) -> list[Any]:
    """The rows of one prebuilt statement run on the transaction's driver connection (a
    DriverTx or a SQLAlchemy Connection): no SQLAlchemy compilation on hot paths."""
    cursor = tx.connection.cursor()
    try:
        cursor.execute(sql, params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


@contextmanager
def _translated_errors() -> Iterator[None]:
    try:
        yield
    except Exception as error:
        if _is_nul_in_text(error):
            # PostgreSQL's text cannot hold U+0000 (SQLite's can): input that carries one is
            # refused as input, before anything is written, not answered as a server error.
            raise InvalidInput(
                "text must not contain the NUL character (U+0000)", code="text_has_nul"
            ) from error
        kind = classify(error)
        if kind == "transient":
            raise Retryable("database busy or connection lost; retry") from error
        if kind == "conflict":
            raise UniqueConflict("a concurrent write took the same key") from error
        raise


def _is_nul_in_text(error: BaseException) -> bool:
    raw = error.orig if isinstance(error, DBAPIError) else error
    return type(raw).__name__ == "DataError" and "NUL (0x00)" in str(raw)


class UniqueConflict(Exception):
    """A unique constraint refused a row that a concurrent transaction inserted first."""


def classify(error: BaseException) -> str | None:
    """'transient' (retry the transaction), 'conflict' (unique race: retry, the re-read sees
    the winner) or None. Handles SQLAlchemy-wrapped and raw driver errors alike, since the
    ledger's batch path talks to the driver directly."""
    if isinstance(error, OperationalError) and error.connection_invalidated:
        return "transient"
    raw = error.orig if isinstance(error, DBAPIError) else error
    sqlstate = getattr(raw, "sqlstate", None)
    if sqlstate in _RETRYABLE_SQLSTATES:
        return "transient"
    if sqlstate == "23505" or isinstance(error, IntegrityError):
        return "conflict" if _is_unique_violation(raw) else None
    name = type(raw).__name__
    message = str(raw).lower()
    if name == "IntegrityError" and "unique" in message:
        return "conflict"
    transient_words = ("database is locked", "server closed the connection", "connection")
    if name in ("OperationalError", "InterfaceError") and any(
        w in message for w in transient_words
    ):
        return "transient"
    return None


def _is_unique_violation(raw: object) -> bool:
    return getattr(raw, "sqlstate", None) == "23505" or "unique" in str(raw).lower()
